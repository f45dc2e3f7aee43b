//! What a node gets: which configuration names (assignment, then tags, then its registration),
//! and which module version is "the newest" when a node asks for a module without a version.

/// Configuration names given to tags (lowercased tag → names).
pub type TagNames = std::collections::HashMap<String, Vec<String>>;

/// The names a node gets: the administrator's assignment when set, else the names given to its
/// tags (in tag order, without repeats) when any of its tags has some, else the names it
/// registered.
pub fn effective_names(
    assigned: Option<&[String]>,
    tags: &[String],
    registered: &[String],
    tag_names: &TagNames,
) -> Vec<String> {
    effective_name_refs(assigned, tags, registered, tag_names)
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// [`effective_names`] without copying the names.
pub fn effective_name_refs<'a>(
    assigned: Option<&'a [String]>,
    tags: &[String],
    registered: &'a [String],
    tag_names: &'a TagNames,
) -> Vec<&'a str> {
    if let Some(a) = assigned {
        return a.iter().map(String::as_str).collect();
    }
    let mut from_tags: Vec<&str> = Vec::new();
    for tag in tags {
        for name in tag_names.get(&tag.to_lowercase()).into_iter().flatten() {
            if !from_tags.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                from_tags.push(name);
            }
        }
    }
    if from_tags.is_empty() {
        registered.iter().map(String::as_str).collect()
    } else {
        from_tags
    }
}

/// Orders module versions as the server picks the newest: dotted numbers compared part by
/// part ("1.10.0.0" > "1.9"); a part that is not a number counts as 0.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    parse(a).cmp(&parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_assignment_wins_over_tags_and_tags_over_the_registered_names() {
        let mut tags = TagNames::new();
        tags.insert("web".into(), names(&["WebServer", "Base"]));
        tags.insert("db".into(), names(&["base", "Sql"]));
        let registered = names(&["Registered"]);
        let node_tags = names(&["Web", "db", "none"]);
        assert_eq!(
            effective_names(Some(&names(&["Pinned"])), &node_tags, &registered, &tags),
            ["Pinned"]
        );
        // Tags in order, a name repeated in another case given once.
        assert_eq!(
            effective_names(None, &node_tags, &registered, &tags),
            ["WebServer", "Base", "Sql"]
        );
        assert_eq!(
            effective_names(None, &names(&["none"]), &registered, &tags),
            ["Registered"]
        );
        // An empty assignment is an assignment: the node gets nothing.
        assert!(effective_names(Some(&[]), &node_tags, &registered, &tags).is_empty());
    }

    #[test]
    fn module_versions_compare_as_numbers_part_by_part() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("1.10.0.0", "1.9"), Greater);
        assert_eq!(version_cmp("2.0", "2.0"), Equal);
        assert_eq!(version_cmp("1.0", "1.0.1"), Less);
        assert_eq!(version_cmp("1.x", "1.0"), Equal);
    }
}
