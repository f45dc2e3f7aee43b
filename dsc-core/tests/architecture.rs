//! The module graph of dsc-core has no circles between its top-level modules: imports run one
//! way (docs/architecture.md). A module's own submodules may use each other and their parent;
//! between `crate::a` and `crate::b`, at most one may name the other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `crate::NAME` references in code (comments and test modules left out).
fn references(text: &str) -> BTreeSet<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

fn walk(dir: &Path, top: Option<&str>, graph: &mut BTreeMap<String, BTreeSet<String>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let module = top.map(str::to_string).unwrap_or(name.clone());
        if path.is_dir() {
            walk(&path, Some(&module), graph);
        } else if path.extension().is_some_and(|e| e == "rs") && module != "lib" {
            let refs = references(&std::fs::read_to_string(&path).unwrap());
            let deps = graph.entry(module.clone()).or_default();
            deps.extend(refs.into_iter().filter(|r| *r != module));
        }
    }
}

#[test]
fn top_level_modules_import_each_other_one_way_only() {
    let mut graph = BTreeMap::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        None,
        &mut graph,
    );
    assert!(graph.len() > 10, "the scan found the modules: {graph:?}");
    let mut circles = Vec::new();
    for (a, deps) in &graph {
        for b in deps {
            if a < b && graph.get(b).is_some_and(|d| d.contains(a)) {
                circles.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles in dsc-core: {circles:?}"
    );
}
