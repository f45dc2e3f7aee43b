//! Requests that come through a TLS-terminating reverse proxy or Kubernetes ingress.
//!
//! Only when the connection comes from an address in `--trusted-proxy` are the forwarding
//! headers believed: the client address from `X-Forwarded-For` (the right-most address that is
//! not itself a trusted proxy), the scheme from `X-Forwarded-Proto`, and the client certificate
//! from the header named by `--client-cert-header`, holding either the URL-escaped PEM that
//! nginx's `$ssl_client_escaped_cert` gives or the base64 DER that IIS ARR sends as
//! `X-ARR-ClientCert`. From any other address those headers are ignored, so a client cannot
//! claim a certificate, an address or HTTPS by sending them.

use base64::Engine as _;
use hyper::HeaderMap;
use ipnet::IpNet;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::net::{IpAddr, SocketAddr};

/// What is known about the connection a request came on.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// The connection is HTTPS.
    pub tls: bool,
    /// Thumbprint of the client certificate, when one was presented.
    pub thumbprint: Option<String>,
    /// The client's address (recorded in the audit trail).
    pub addr: Option<std::net::SocketAddr>,
}

/// The default header a proxy puts the client certificate in.
pub const DEFAULT_CERT_HEADER: &str = "X-SSL-Client-Cert";

/// Longest forwarded certificate header accepted (a certificate is a few KiB).
const MAX_CERT_HEADER: usize = 32 * 1024;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    pub nets: Vec<IpNet>,
    /// Lowercase name of the client-certificate header.
    pub cert_header: String,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>, cert_header: &str) -> Self {
        TrustedProxies {
            nets,
            cert_header: cert_header.to_ascii_lowercase(),
        }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// What is known about the caller of one request: the connection's facts, replaced by the
    /// forwarding headers when the connection comes from a trusted proxy.
    pub fn resolve(&self, conn: &Peer, headers: &HeaderMap) -> Peer {
        let Some(addr) = conn.addr.filter(|a| self.trusts(a.ip())) else {
            return conn.clone();
        };
        let client = self.forwarded_for(headers).unwrap_or(addr.ip());
        let tls = match last_value(headers, "x-forwarded-proto").as_deref() {
            Some(p) if p.eq_ignore_ascii_case("https") => true,
            Some(p) if p.eq_ignore_ascii_case("http") => false,
            _ => conn.tls,
        };
        let thumbprint = match headers.get(self.cert_header.as_str()) {
            Some(v) => forwarded_thumbprint(v.as_bytes()),
            None => conn.thumbprint.clone(),
        };
        Peer {
            tls,
            thumbprint,
            addr: Some(SocketAddr::new(client, 0)),
        }
    }

    /// The right-most address of `X-Forwarded-For` that is not a trusted proxy.
    fn forwarded_for(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let mut hops: Vec<IpAddr> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let text = value.to_str().ok()?;
            for part in text.split(',').take(64) {
                hops.push(parse_hop(part.trim())?);
            }
        }
        hops.into_iter().rev().find(|ip| !self.trusts(*ip))
    }
}

/// An IPv4-mapped IPv6 address as IPv4, so that `10.0.0.0/8` matches `::ffff:10.1.2.3`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, `[v6]:port` or `v4:port`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    text.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

fn last_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    value.rsplit(',').next().map(|v| v.trim().to_string())
}

/// The SHA-1 thumbprint of a forwarded client certificate, or `None` when the header is empty
/// (no certificate) or holds no certificate that can be read.
pub fn forwarded_thumbprint(raw: &[u8]) -> Option<String> {
    if raw.len() > MAX_CERT_HEADER {
        tracing::warn!("the forwarded client certificate header is too long; ignored");
        return None;
    }
    let text = std::str::from_utf8(raw).ok()?.trim();
    if text.is_empty() || text == "(null)" {
        return None;
    }
    let der = certificate_der(text);
    if der.is_none() {
        tracing::warn!("the forwarded client certificate header holds no certificate; ignored");
    }
    der.map(|d| crate::tls::thumbprint(&d))
}

fn certificate_der(text: &str) -> Option<CertificateDer<'static>> {
    let decoded = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()?;
    if decoded.contains("-----BEGIN") {
        return CertificateDer::from_pem_slice(decoded.as_bytes()).ok();
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
        .filter(|d| d.first() == Some(&0x30))
        .map(CertificateDer::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(
            vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
            DEFAULT_CERT_HEADER,
        )
    }

    fn peer(addr: &str) -> Peer {
        Peer {
            tls: false,
            thumbprint: None,
            addr: Some(addr.parse().unwrap()),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarding_headers_from_an_untrusted_address_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("x-ssl-client-cert", "MIIB"),
        ]);
        let got = proxies().resolve(&peer("192.0.2.7:5000"), &h);
        assert_eq!(got.addr.unwrap().ip().to_string(), "192.0.2.7");
        assert!(!got.tls);
        assert!(got.thumbprint.is_none());
    }

    #[test]
    fn a_trusted_proxy_gives_the_client_address_and_scheme() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9, 10.1.1.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let got = proxies().resolve(&peer("10.0.0.5:443"), &h);
        assert_eq!(got.addr.unwrap().ip().to_string(), "203.0.113.9");
        assert!(got.tls);
        // A client cannot hide behind a forged left-most entry.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 198.51.100.1, 10.1.1.1")]);
        let got = proxies().resolve(&peer("[::1]:443"), &h);
        assert_eq!(got.addr.unwrap().ip().to_string(), "198.51.100.1");
    }

    #[test]
    fn garbage_certificate_headers_mean_no_certificate() {
        for bad in [
            "",
            "(null)",
            "not a certificate",
            "%2D%2D%2D%2D%2DBEGIN",
            "AAAA",
        ] {
            assert_eq!(forwarded_thumbprint(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(forwarded_thumbprint(&vec![b'A'; MAX_CERT_HEADER + 1]), None);
    }
}
