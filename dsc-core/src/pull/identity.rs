//! Which certificate an agent is, and when a registration may change that.
//!
//! An agent is pinned to one client certificate (its SHA-1 thumbprint): the one its first
//! accepted registration described. The rules a server applies to every registration:
//!
//! - The described thumbprint, when present, is 40 hexadecimal characters.
//! - Over a transport that authenticates client certificates (HTTPS, or a trusted proxy that
//!   forwards the certificate), the registration must come with the certificate it describes.
//! - A registration for an agent that is already pinned must describe the pinned certificate.
//!   The one exception is renewal: when the pinned certificate expires within
//!   [`RENEWAL_WINDOW`] (or has expired), a registration signed with a valid key may pin a new
//!   certificate, as WMF LCMs do about once a year. Anything else is refused; an operator can
//!   release the pin, after which the next registration pins anew.
//!
//! Holding a registration key therefore lets a caller register new agents, never take over an
//! agent that is already registered outside its certificate's renewal window.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long before its pinned certificate expires an agent may re-register with a new one.
pub const RENEWAL_WINDOW: time::Duration = time::Duration::days(30);

/// The certificate an agent is pinned to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pin {
    /// Uppercase SHA-1 thumbprint.
    pub thumbprint: String,
    /// The certificate's `NotAfter`, as the registration described it (RFC 3339).
    pub not_after: Option<String>,
}

/// What the transport proved about the caller's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A client certificate with this SHA-1 thumbprint was presented (directly over TLS, or
    /// forwarded by a trusted proxy).
    Presented(String),
    /// The transport authenticates client certificates, but none was presented.
    Missing,
    /// Plain HTTP: no certificate can be presented.
    Unavailable,
}

/// A certificate a registration describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Described<'a> {
    pub thumbprint: &'a str,
    pub not_after: &'a str,
}

/// An accepted registration: what the agent is pinned to afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Not pinned before; now pinned to this certificate (or to none, when none was described).
    New(Option<Pin>),
    /// The pinned certificate again.
    Same,
    /// A new certificate replaces the pinned one, which is within its renewal window.
    Renewal { old: String, new: Pin },
}

impl Accepted {
    /// The pin to store, when it changes.
    pub fn new_pin(&self) -> Option<&Pin> {
        match self {
            Accepted::New(pin) => pin.as_ref(),
            Accepted::Same => None,
            Accepted::Renewal { new, .. } => Some(new),
        }
    }
}

/// Why a registration's certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the certificate thumbprint '{0}' is not 40 hexadecimal characters")]
    MalformedThumbprint(String),
    #[error(
        "registration over HTTPS needs the client certificate it describes; none was presented"
    )]
    CertificateRequired,
    #[error("the registration's certificate thumbprint does not match the client certificate")]
    NotPresented,
    #[error(
        "this agent is registered with another certificate ({pinned}); re-registering with a new one is allowed within {window_days} days of the old one's expiry, or after an operator releases the pin"
    )]
    PinnedToOther { pinned: String, window_days: i64 },
}

/// True for a 40-character hexadecimal thumbprint.
pub fn is_thumbprint(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The expiry of a pinned certificate, when its `NotAfter` can be read.
fn expiry(pin: &Pin) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(pin.not_after.as_deref()?.trim(), &Rfc3339).ok()
}

/// Decides whether a registration describing `described` may proceed for an agent pinned to
/// `pinned`, given what the transport proved.
pub fn check_registration(
    pinned: Option<&Pin>,
    described: Option<Described<'_>>,
    proof: &Proof,
    now: OffsetDateTime,
) -> Result<Accepted, IdentityError> {
    if let Some(d) = described
        && !is_thumbprint(d.thumbprint)
    {
        let shown: String = d.thumbprint.chars().take(64).collect();
        return Err(IdentityError::MalformedThumbprint(shown));
    }
    match proof {
        Proof::Missing => return Err(IdentityError::CertificateRequired),
        Proof::Presented(p) if !described.is_some_and(|d| d.thumbprint.eq_ignore_ascii_case(p)) => {
            return Err(IdentityError::NotPresented);
        }
        _ => {}
    }
    let new_pin = described.map(|d| Pin {
        thumbprint: d.thumbprint.to_ascii_uppercase(),
        not_after: Some(d.not_after.to_string()).filter(|s| !s.is_empty()),
    });
    let Some(pin) = pinned.filter(|p| !p.thumbprint.is_empty()) else {
        return Ok(Accepted::New(new_pin));
    };
    match new_pin {
        Some(new) if new.thumbprint.eq_ignore_ascii_case(&pin.thumbprint) => Ok(Accepted::Same),
        Some(new) if expiry(pin).is_some_and(|end| end - RENEWAL_WINDOW <= now) => {
            Ok(Accepted::Renewal {
                old: pin.thumbprint.clone(),
                new,
            })
        }
        _ => Err(IdentityError::PinnedToOther {
            pinned: pin.thumbprint.clone(),
            window_days: RENEWAL_WINDOW.whole_days(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "8351F16C2B06634279F2C0287B5430452DA1CD94";
    const B: &str = "0123456789ABCDEF0123456789ABCDEF01234567";

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-06-01T00:00:00Z", &Rfc3339).unwrap()
    }

    fn pin(t: &str, not_after: &str) -> Pin {
        Pin {
            thumbprint: t.into(),
            not_after: Some(not_after.into()),
        }
    }

    fn d<'a>(t: &'a str) -> Option<Described<'a>> {
        Some(Described {
            thumbprint: t,
            not_after: "2027-06-01T00:00:00.0000000+02:00",
        })
    }

    #[test]
    fn a_first_registration_pins_what_it_describes() {
        let got = check_registration(None, d(A), &Proof::Unavailable, now()).unwrap();
        assert_eq!(got.new_pin().unwrap().thumbprint, A);
        let lower = A.to_lowercase();
        let got = check_registration(None, d(&lower), &Proof::Presented(A.into()), now());
        assert_eq!(got.unwrap().new_pin().unwrap().thumbprint, A);
    }

    #[test]
    fn over_https_the_described_certificate_must_be_presented() {
        assert_eq!(
            check_registration(None, d(A), &Proof::Missing, now()),
            Err(IdentityError::CertificateRequired)
        );
        assert_eq!(
            check_registration(None, d(A), &Proof::Presented(B.into()), now()),
            Err(IdentityError::NotPresented)
        );
        assert_eq!(
            check_registration(None, None, &Proof::Presented(B.into()), now()),
            Err(IdentityError::NotPresented)
        );
    }

    #[test]
    fn a_pinned_agent_keeps_its_certificate_outside_the_renewal_window() {
        let p = pin(A, "2027-01-01T00:00:00.0000000+00:00");
        assert_eq!(
            check_registration(Some(&p), d(A), &Proof::Presented(A.into()), now()),
            Ok(Accepted::Same)
        );
        for proof in [Proof::Presented(B.into()), Proof::Unavailable] {
            assert!(matches!(
                check_registration(Some(&p), d(B), &proof, now()),
                Err(IdentityError::PinnedToOther { .. })
            ));
        }
        assert!(matches!(
            check_registration(Some(&p), None, &Proof::Unavailable, now()),
            Err(IdentityError::PinnedToOther { .. })
        ));
        // An unreadable NotAfter never opens the window.
        let unreadable = pin(A, "next year");
        assert!(check_registration(Some(&unreadable), d(B), &Proof::Unavailable, now()).is_err());
    }

    #[test]
    fn a_certificate_near_its_expiry_can_be_renewed() {
        let p = pin(A, "2026-06-20T00:00:00.0000000-07:00");
        let got = check_registration(Some(&p), d(B), &Proof::Presented(B.into()), now()).unwrap();
        assert_eq!(
            got,
            Accepted::Renewal {
                old: A.into(),
                new: Pin {
                    thumbprint: B.into(),
                    not_after: Some("2027-06-01T00:00:00.0000000+02:00".into())
                }
            }
        );
        let expired = pin(A, "2025-01-01T00:00:00Z");
        assert!(check_registration(Some(&expired), d(B), &Proof::Unavailable, now()).is_ok());
    }

    #[test]
    fn malformed_thumbprints_are_refused() {
        for bad in ["000", "Z351F16C2B06634279F2C0287B5430452DA1CD94", ""] {
            assert!(matches!(
                check_registration(None, d(bad), &Proof::Unavailable, now()),
                Err(IdentityError::MalformedThumbprint(_))
            ));
        }
    }
}
