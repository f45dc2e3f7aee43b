//! Resource versions: semantic versions, and the `YYYY-MM-DD` date versions some older
//! resources use (accepted with a warning).

use std::cmp::Ordering;
use std::fmt;

/// The version of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceVersion {
    Semver(semver::Version),
    /// A `YYYY-MM-DD` date; sorts below every semantic version, dates in date order.
    Date(String),
}

/// A version string that is neither semver nor a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version '{0}' is neither a semantic version (like 1.2.3) nor a date (YYYY-MM-DD)")]
pub struct BadVersion(pub String);

impl ResourceVersion {
    /// Parses a version.
    pub fn parse(text: &str) -> Result<Self, BadVersion> {
        if let Ok(v) = semver::Version::parse(text) {
            return Ok(ResourceVersion::Semver(v));
        }
        if is_date(text) {
            return Ok(ResourceVersion::Date(text.to_string()));
        }
        Err(BadVersion(text.to_string()))
    }

    /// Whether the version satisfies a requirement. Date versions match only an exact
    /// `=DATE` (or bare `DATE`) requirement.
    pub fn matches(&self, req: &VersionReq) -> bool {
        match (self, req) {
            (ResourceVersion::Semver(v), VersionReq::Semver(r)) => r.matches(v),
            (ResourceVersion::Date(d), VersionReq::Date(r)) => d == r,
            _ => false,
        }
    }
}

impl Ord for ResourceVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (ResourceVersion::Semver(a), ResourceVersion::Semver(b)) => a.cmp(b),
            (ResourceVersion::Date(a), ResourceVersion::Date(b)) => a.cmp(b),
            (ResourceVersion::Semver(_), ResourceVersion::Date(_)) => Ordering::Greater,
            (ResourceVersion::Date(_), ResourceVersion::Semver(_)) => Ordering::Less,
        }
    }
}

impl PartialOrd for ResourceVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ResourceVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceVersion::Semver(v) => v.fmt(f),
            ResourceVersion::Date(d) => f.write_str(d),
        }
    }
}

/// A version requirement given by the user (`-v`): `=1.1.2`, `>=1.1,<2`, `^2`, `1.1.2`
/// (which, as in Microsoft's dsc, means exactly that version), or a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionReq {
    Semver(semver::VersionReq),
    Date(String),
}

impl VersionReq {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let bare = t.strip_prefix('=').unwrap_or(t).trim();
        if is_date(bare) {
            return Ok(VersionReq::Date(bare.to_string()));
        }
        // A full bare version is an exact match (dsc semantics), not semver's caret default.
        if semver::Version::parse(t).is_ok() {
            return semver::VersionReq::parse(&format!("={t}"))
                .map(VersionReq::Semver)
                .map_err(|e| format!("invalid version requirement '{text}': {e}"));
        }
        semver::VersionReq::parse(t)
            .map(VersionReq::Semver)
            .map_err(|e| format!("invalid version requirement '{text}': {e}"))
    }
}

impl fmt::Display for VersionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionReq::Semver(r) => r.fmt(f),
            VersionReq::Date(d) => write!(f, "={d}"),
        }
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && digits(5..7) && digits(8..10)) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ResourceVersion {
        ResourceVersion::parse(s).unwrap()
    }

    #[test]
    fn semver_and_dates_parse_and_junk_does_not() {
        assert!(matches!(v("1.2.3"), ResourceVersion::Semver(_)));
        assert!(matches!(v("2024-02-29"), ResourceVersion::Date(_)));
        assert!(ResourceVersion::parse("1.2").is_err());
        assert!(ResourceVersion::parse("2024-13-01").is_err());
    }

    #[test]
    fn requirements_select_as_users_expect() {
        let req = |s: &str| VersionReq::parse(s).unwrap();
        assert!(v("1.1.2").matches(&req("=1.1.2")));
        assert!(v("1.1.2").matches(&req("1.1.2")));
        assert!(!v("1.1.3").matches(&req("1.1.2")));
        assert!(v("1.5.0").matches(&req(">=1.1,<2")));
        assert!(!v("2.0.0").matches(&req(">=1.1,<2")));
        assert!(v("2.9.0").matches(&req("^2")));
        assert!(v("2024-01-01").matches(&req("2024-01-01")));
        assert!(VersionReq::parse("not a version").is_err());
    }

    #[test]
    fn semver_sorts_above_dates() {
        assert!(v("0.0.1") > v("2030-01-01"));
        assert!(v("2030-01-01") > v("2020-01-01"));
        assert!(v("1.10.0") > v("1.9.0"));
    }
}
