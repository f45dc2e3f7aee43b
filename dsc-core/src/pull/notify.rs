//! Notifications: which changes of a node or of content are events, which rules an event
//! matches, the JSON a receiver gets and how it is signed, when a failed delivery is tried
//! again, and the delivery itself (an HTTP POST).
//!
//! Events are derived from state, not from single reports: a node's *notified* status (the one
//! the last event, or the first report, was computed from) is compared with its status now
//! ([`node_event`]). Every event has an id computed from what caused it ([`event_id`]), so
//! that two replicas that see the same change make the same event, and a receiver that gets a
//! delivery twice (a replica died after sending it, before recording that it had) can drop the
//! repeat by its `id`.

use crate::pull::compliance::ComplianceStatus;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// What a rule can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    /// A node's latest run left resources out of their desired state.
    NodeNonCompliant,
    /// A node's latest run failed.
    NodeFailed,
    /// A node has not reported within the stale threshold.
    NodeStale,
    /// A node that was non-compliant, failed or stale is compliant again.
    NodeRecovered,
    /// A configuration (MOF) or package was published or replaced.
    ConfigurationPublished,
    /// A staged rollout halted: a ring's nodes failed its criteria.
    RolloutHalted,
    /// A staged rollout passed its last ring: the candidate is current.
    RolloutDone,
}

impl Event {
    pub const ALL: [Event; 7] = [
        Event::NodeNonCompliant,
        Event::NodeFailed,
        Event::NodeStale,
        Event::NodeRecovered,
        Event::ConfigurationPublished,
        Event::RolloutHalted,
        Event::RolloutDone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::NodeNonCompliant => "node.noncompliant",
            Event::NodeFailed => "node.failed",
            Event::NodeStale => "node.stale",
            Event::NodeRecovered => "node.recovered",
            Event::ConfigurationPublished => "configuration.published",
            Event::RolloutHalted => "rollout.halted",
            Event::RolloutDone => "rollout.done",
        }
    }

    pub fn parse(text: &str) -> Option<Event> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }

    /// The event is about a configuration rather than a node.
    pub fn is_about_content(self) -> bool {
        matches!(
            self,
            Event::ConfigurationPublished | Event::RolloutHalted | Event::RolloutDone
        )
    }
}

/// The event a node's change of status is, if any. `before` is the status notifications were
/// last computed from (`None` for a node never seen by them). A node's first status is an
/// event only when it is a problem; coming back to compliant is one only after a problem.
pub fn node_event(before: Option<ComplianceStatus>, after: ComplianceStatus) -> Option<Event> {
    use ComplianceStatus::*;
    if before == Some(after) {
        return None;
    }
    match after {
        NonCompliant => Some(Event::NodeNonCompliant),
        Failed => Some(Event::NodeFailed),
        Stale => Some(Event::NodeStale),
        Compliant => {
            matches!(before, Some(NonCompliant | Failed | Stale)).then_some(Event::NodeRecovered)
        }
        Pending => None,
    }
}

/// A deterministic event id (32 hex digits) from what caused it: the same change seen by two
/// replicas, or twice by one, has the same id.
pub fn event_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    crate::text::upper_hex(&h.finalize()[..16]).to_ascii_lowercase()
}

/// Limits of a rule, so that one request cannot make an unbounded one.
pub const MAX_FILTERS: usize = 100;
pub const MAX_URL: usize = 2048;
pub const MIN_SECRET: usize = 16;
pub const MAX_SECRET: usize = 512;

/// A notification rule as the API receives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRule {
    pub name: String,
    pub url: String,
    /// The HMAC key of `X-Traek-Signature`.
    pub secret: String,
    /// Events the rule wants; empty: all of them.
    #[serde(default)]
    pub events: Vec<String>,
    /// Only nodes with one of these tags; empty: any node.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Only nodes that get one of these configurations (or, for `configuration.published`,
    /// only these configurations); empty: any.
    #[serde(default)]
    pub configurations: Vec<String>,
}

/// A stored rule (its secret is never shown again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub name: String,
    pub url: String,
    pub events: Vec<Event>,
    pub tags: Vec<String>,
    pub configurations: Vec<String>,
    pub created_at: i64,
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Event::parse(&text).ok_or_else(|| serde::de::Error::custom(unknown_event(&text)))
    }
}

fn unknown_event(text: &str) -> String {
    let known: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
    format!(
        "unknown event '{}'; events are {}",
        text.escape_debug(),
        known.join(", ")
    )
}

/// Why a new rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

impl NewRule {
    /// Checks every field and returns the rule to store (events parsed, filters deduplicated).
    pub fn validate(&self, now: i64) -> Result<Rule, RuleError> {
        let bad = |m: String| Err(RuleError(m));
        crate::pull::path::check_name("notification name", &self.name)
            .map_err(|e| RuleError(e.to_string()))?;
        if self.name.chars().count() > 100 {
            return bad("a notification name has at most 100 characters".into());
        }
        check_url(&self.url)?;
        let secret = self.secret.chars().count();
        if !(MIN_SECRET..=MAX_SECRET).contains(&secret) {
            return bad(format!(
                "the secret must be {MIN_SECRET} to {MAX_SECRET} characters (it keys the HMAC of X-Traek-Signature)"
            ));
        }
        if self.events.len() > Event::ALL.len() {
            return bad(format!("at most {} events", Event::ALL.len()));
        }
        let mut events = Vec::new();
        for e in &self.events {
            let event = Event::parse(e).ok_or_else(|| RuleError(unknown_event(e)))?;
            if !events.contains(&event) {
                events.push(event);
            }
        }
        Ok(Rule {
            name: self.name.clone(),
            url: self.url.clone(),
            events,
            tags: filter_list("tags", &self.tags, crate::pull::path::check_tag)?,
            configurations: filter_list("configurations", &self.configurations, |c| {
                crate::pull::path::check_name("configuration name", c).map_err(|e| e.to_string())
            })?,
            created_at: now,
        })
    }
}

fn filter_list(
    what: &str,
    items: &[String],
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Vec<String>, RuleError> {
    if items.len() > MAX_FILTERS {
        return Err(RuleError(format!("at most {MAX_FILTERS} {what}")));
    }
    let mut out: Vec<String> = Vec::new();
    for item in items {
        check(item).map_err(RuleError)?;
        if !out.iter().any(|o| o.eq_ignore_ascii_case(item)) {
            out.push(item.clone());
        }
    }
    Ok(out)
}

/// A receiver URL: `http://` or `https://`, a host name or IPv4 address (letters, digits,
/// dots, hyphens) with an optional port, then an optional path and query without a fragment,
/// spaces or control characters (the API's schema says the same).
pub fn check_url(url: &str) -> Result<(), RuleError> {
    let bad = |why: &str| {
        Err(RuleError(format!(
            "invalid url '{}': {why}",
            url.escape_debug()
        )))
    };
    if url.chars().count() > MAX_URL {
        return bad("longer than 2048 characters");
    }
    let rest = match url.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        _ => return bad("it must start with http:// or https://"),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if authority.contains('@') {
        return bad("credentials do not belong in the URL; use the secret");
    }
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if !host_ok || !port_ok {
        return bad(
            "the host must be a name or IPv4 address (letters, digits, dots, hyphens) with an optional port",
        );
    }
    let odd = |c: char| c.is_whitespace() || c.is_control() || c == '\u{feff}' || c == '#';
    if tail.chars().any(odd) {
        return bad("no fragment, spaces or control characters");
    }
    Ok(())
}

impl Rule {
    /// Whether the rule wants this event about a node with these tags and configurations
    /// (for `configuration.published` and `rollout.*`, `configurations` is the configuration
    /// and tags do not apply).
    pub fn matches(&self, event: Event, tags: &[String], configurations: &[String]) -> bool {
        let any = |want: &[String], have: &[String]| {
            want.is_empty()
                || want
                    .iter()
                    .any(|w| have.iter().any(|h| h.eq_ignore_ascii_case(w)))
        };
        let tags_match = event.is_about_content() || any(&self.tags, tags);
        (self.events.is_empty() || self.events.contains(&event))
            && tags_match
            && any(&self.configurations, configurations)
    }
}

/// The JSON body a receiver gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// Unique per event: a receiver drops a delivery whose id it has seen.
    pub id: String,
    pub event: Event,
    /// The node (node events).
    pub agent_id: Option<String>,
    pub node_name: Option<String>,
    /// The configuration (`configuration.published`, `rollout.*`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub configuration: Option<String>,
    /// Status (node events), checksum (`configuration.published`) or the rollout's state and
    /// why (`rollout.*`) before and after.
    pub before: Option<String>,
    pub after: String,
    /// When the change was seen (RFC 3339, UTC).
    pub time: String,
    /// The dashboard page of the node or configuration.
    pub url: String,
}

/// `X-Traek-Signature`: `sha256=` and the hex HMAC-SHA256 of the body with the rule's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(body);
    let hex = crate::text::upper_hex(&mac.finalize().into_bytes()).to_ascii_lowercase();
    format!("sha256={hex}")
}

/// Whether a signature header is right for a body (constant time), for receivers written in
/// Rust and for tests.
pub fn verify_signature(secret: &str, body: &[u8], header: &str) -> bool {
    let expected = signature(secret, body);
    expected.len() == header.len()
        && expected
            .bytes()
            .zip(header.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Deliveries are retried until this long after the event, then given up.
pub const RETRY_FOR: Duration = Duration::from_secs(25 * 3600);
/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(15 * 60);

/// The wait after the `attempts`-th failed attempt: 1 s, 2 s, 4 s, … up to
/// [`MAX_RETRY_DELAY`].
pub fn retry_delay(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    Duration::from_secs(1u64 << exp).min(MAX_RETRY_DELAY)
}

/// When to try a delivery again after its `attempts`-th failed attempt (Unix milliseconds),
/// or `None` when it has been retried for [`RETRY_FOR`] since the event and is given up.
pub fn next_attempt_ms(attempts: u32, created_ms: i64, now_ms: i64) -> Option<i64> {
    let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let next = now_ms.saturating_add(millis(retry_delay(attempts)));
    (next <= created_ms.saturating_add(millis(RETRY_FOR))).then_some(next)
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered(u16),
    /// It answered something else (retried).
    Refused(u16),
    /// No answer: connection refused, TLS failure, timeout (retried).
    Unreachable(String),
}

/// How long one delivery may take.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends deliveries: one HTTP client (with the system's root certificates, read once) for
/// every POST.
pub struct Sender {
    agent: ureq::Agent,
}

impl Default for Sender {
    fn default() -> Self {
        let roots = rustls_native_certs::load_native_certs();
        let certs: Vec<ureq::tls::Certificate<'static>> = roots
            .certs
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(DELIVERY_TIMEOUT))
            .tls_config(tls)
            .user_agent(concat!("traek-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Sender { agent }
    }
}

impl Sender {
    /// POSTs a payload (blocking): `Content-Type: application/json`, `X-Traek-Event`,
    /// `X-Traek-Delivery` (the event id) and `X-Traek-Signature`. Redirects are not followed;
    /// the answer's body is not read.
    pub fn deliver(&self, url: &str, secret: &str, payload: &Payload) -> Outcome {
        let body = match serde_json::to_vec(payload) {
            Ok(b) => b,
            Err(e) => return Outcome::Unreachable(e.to_string()),
        };
        let sent = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-Traek-Event", payload.event.as_str())
            .header("X-Traek-Delivery", &payload.id)
            .header("X-Traek-Signature", &signature(secret, &body))
            .send(&body[..]);
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if (200..300).contains(&status) {
                    Outcome::Delivered(status)
                } else {
                    Outcome::Refused(status)
                }
            }
            Err(e) => Outcome::Unreachable(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComplianceStatus::*;

    #[test]
    fn only_changes_into_a_problem_or_out_of_one_are_events() {
        assert_eq!(node_event(None, Compliant), None);
        assert_eq!(node_event(None, Failed), Some(Event::NodeFailed));
        assert_eq!(
            node_event(Some(Compliant), NonCompliant),
            Some(Event::NodeNonCompliant)
        );
        assert_eq!(node_event(Some(NonCompliant), NonCompliant), None);
        assert_eq!(
            node_event(Some(Failed), Compliant),
            Some(Event::NodeRecovered)
        );
        assert_eq!(
            node_event(Some(Stale), Compliant),
            Some(Event::NodeRecovered)
        );
        assert_eq!(node_event(Some(Compliant), Stale), Some(Event::NodeStale));
        assert_eq!(node_event(Some(Pending), Compliant), None);
    }

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let sig = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_signature(
            "Jefe",
            b"what do ya want for nothing?",
            &sig
        ));
        assert!(!verify_signature(
            "Jefe",
            b"what do ya want for nothing!",
            &sig
        ));
    }

    #[test]
    fn retries_back_off_from_one_second_and_go_on_for_a_day() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(5), Duration::from_secs(16));
        assert_eq!(retry_delay(400), MAX_RETRY_DELAY);
        assert!(RETRY_FOR >= Duration::from_secs(24 * 3600));
        assert_eq!(next_attempt_ms(1, 0, 10_000), Some(11_000));
        let a_day_later = 24 * 3600 * 1000;
        assert!(
            next_attempt_ms(90, 0, a_day_later).is_some(),
            "still retried after 24 h"
        );
        assert_eq!(
            next_attempt_ms(100, 0, 25 * 3600 * 1000),
            None,
            "given up after 25 h"
        );
    }

    #[test]
    fn rules_match_on_events_tags_and_configurations() {
        let rule = NewRule {
            name: "ops".into(),
            url: "https://hooks.example/x".into(),
            secret: "0123456789abcdef".into(),
            events: vec!["node.failed".into()],
            tags: vec!["Web".into()],
            configurations: vec![],
        }
        .validate(0)
        .unwrap();
        let web = vec!["web".to_string()];
        assert!(rule.matches(Event::NodeFailed, &web, &[]));
        assert!(!rule.matches(Event::NodeStale, &web, &[]));
        assert!(!rule.matches(Event::NodeFailed, &["db".to_string()], &[]));
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        let base = NewRule {
            name: "ops".into(),
            url: "https://hooks.example/x".into(),
            secret: "0123456789abcdef".into(),
            events: vec![],
            tags: vec![],
            configurations: vec![],
        };
        let bad = |r: NewRule| r.validate(0).unwrap_err().0;
        assert!(
            bad(NewRule {
                url: "ftp://x".into(),
                ..base.clone()
            })
            .contains("http://")
        );
        assert!(
            bad(NewRule {
                url: "https://u:p@x/".into(),
                ..base.clone()
            })
            .contains("credentials")
        );
        assert!(
            bad(NewRule {
                secret: "short".into(),
                ..base.clone()
            })
            .contains("16")
        );
        assert!(
            bad(NewRule {
                events: vec!["node.exploded".into()],
                ..base.clone()
            })
            .contains("node.failed")
        );
        assert!(event_id(&["a", "b"]) != event_id(&["ab", ""]));
    }
}
