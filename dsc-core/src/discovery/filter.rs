//! What `resource list` shows: its filters (type pattern, description, tags), glob matching of
//! type names, and the order resources are listed in.

use crate::resource::Resource;
use std::sync::Arc;

/// The filters of `resource list`: type pattern, description text, tags.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    /// Case-insensitive, `*` and `?` wildcards.
    pub type_pattern: Option<String>,
    /// Case-insensitive substring of the description.
    pub description: Option<String>,
    /// Any of these tags (case-insensitive); empty: no tag filter.
    pub tags: Vec<String>,
}

impl ResourceFilter {
    pub fn matches(&self, r: &Resource) -> bool {
        self.lowered().matches_lowered(r)
    }

    /// The filter with its pattern and description lowercased, for [`Self::matches_lowered`]:
    /// lowercase once, then match many resources.
    pub fn lowered(&self) -> ResourceFilter {
        ResourceFilter {
            type_pattern: self.type_pattern.as_deref().map(str::to_lowercase),
            description: self.description.as_deref().map(str::to_lowercase),
            tags: self.tags.clone(),
        }
    }

    /// [`Self::matches`] for a filter that [`Self::lowered`] made.
    pub fn matches_lowered(&self, r: &Resource) -> bool {
        let type_ok = self
            .type_pattern
            .as_deref()
            .is_none_or(|p| wildcard_match_lowered(p, &r.type_name));
        let description_ok = self.description.as_deref().is_none_or(|d| {
            r.manifest
                .description
                .as_deref()
                .is_some_and(|text| text.to_lowercase().contains(d))
        });
        let tags_ok = self.tags.is_empty()
            || r.manifest
                .tags
                .iter()
                .flatten()
                .any(|t| self.tags.iter().any(|want| want.eq_ignore_ascii_case(t)));
        type_ok && description_ok && tags_ok
    }
}

/// Sorts resources by type name (case-insensitive), newest version first.
pub fn sort_by_type(resources: &mut [Arc<Resource>]) {
    resources.sort_by_cached_key(|r| {
        (
            r.type_name.to_lowercase(),
            std::cmp::Reverse(r.version.clone()),
        )
    });
}

/// [`wildcard_match`] of a lowercased pattern against `text` in any case. Type names are
/// ASCII, and are compared without building a lowercased copy.
pub(super) fn wildcard_match_lowered(pattern: &str, text: &str) -> bool {
    if text.is_ascii() {
        wildcard_match_by(pattern.as_bytes(), text.as_bytes(), |p, t| {
            p == t.to_ascii_lowercase()
        })
    } else {
        wildcard_match(pattern, &text.to_lowercase())
    }
}

/// Glob matching with `*` (any run) and `?` (any one character); the caller lowercases both
/// for a case-insensitive match.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    wildcard_match_by(pattern.as_bytes(), text.as_bytes(), |p, t| p == t)
}

fn wildcard_match_by(pattern: &[u8], text: &[u8], same: impl Fn(u8, u8) -> bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || same(pattern[p], text[t])) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}
