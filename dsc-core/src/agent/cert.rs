//! The agent's client certificate: self-signed, valid for a year, created at registration. Its
//! SHA-1 thumbprint goes into the registration (as an LCM's does), so an HTTPS pull server pins
//! the agent to it.

use super::AgentError;
use crate::text::upper_hex;
use sha1::{Digest, Sha1};

/// A new certificate and key, and what the registration says about them.
pub struct ClientCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    pub info: crate::pull::messages::CertificateInformation,
}

/// The thumbprint of a DER certificate: uppercase hex SHA-1, as Windows shows it.
pub fn thumbprint(der: &[u8]) -> String {
    upper_hex(&Sha1::digest(der))
}

/// Windows' certificate date format in registrations (`2017-08-14T09:49:31.0000000-07:00`).
fn lcm_date(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].0000000+00:00"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

/// Creates a certificate for `agent_id`.
pub fn create(agent_id: uuid::Uuid) -> Result<ClientCertificate, AgentError> {
    let fail = |e: rcgen::Error| AgentError::Certificate(e.to_string());
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    let subject = format!("traek-agent {agent_id}");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, subject.clone());
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(365);
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let cert = params.self_signed(&key).map_err(fail)?;
    use base64::Engine as _;
    let info = crate::pull::messages::CertificateInformation {
        friendly_name: "traek agent client authentication".into(),
        issuer: format!("CN={subject}"),
        not_after: lcm_date(params.not_after),
        not_before: lcm_date(params.not_before),
        subject: format!("CN={subject}"),
        public_key: base64::engine::general_purpose::STANDARD.encode(key.public_key_raw()),
        thumbprint: thumbprint(cert.der()),
        version: 3,
    };
    Ok(ClientCertificate {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        info,
    })
}
