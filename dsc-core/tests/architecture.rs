//! The module graphs of dsc-core and of dsc-pull-server follow the layer orders written in
//! docs/architecture.md: a top-level module imports only modules of lower layers, so imports
//! run one way and there is no circle. A module's own submodules may use each other and their
//! parent.

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
    let skip = ["lib", "main", "bin"];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let module = top.map(str::to_string).unwrap_or(name.clone());
        if skip.contains(&module.as_str()) {
            continue;
        }
        if path.is_dir() {
            walk(&path, Some(&module), graph);
        } else if path.extension().is_some_and(|e| e == "rs") {
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

/// A layer order written in docs/architecture.md (after `marker`: "`a`, `b`, ...").
fn documented_layers(marker: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/architecture.md"),
    )
    .unwrap();
    let start = doc
        .find(marker)
        .unwrap_or_else(|| panic!("docs/architecture.md says '{marker}'"));
    let rest = &doc[start..];
    let end = rest.find(".\n").unwrap_or(rest.len());
    rest[..end]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Checks the crate whose sources are in `src` against the layer order after `marker`.
fn check_layers(src: &str, marker: &str) {
    let mut graph = BTreeMap::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(src),
        None,
        &mut graph,
    );
    assert!(graph.len() > 10, "the scan found the modules: {graph:?}");
    let layers = documented_layers(marker);
    let rank = |m: &str| layers.iter().position(|l| l == m);
    let unlisted: Vec<&String> = graph.keys().filter(|m| rank(m).is_none()).collect();
    assert!(
        unlisted.is_empty(),
        "{src}: modules missing from the layer order in docs/architecture.md: {unlisted:?}"
    );
    let mut upward = Vec::new();
    for (module, deps) in &graph {
        for dep in deps {
            if let (Some(a), Some(b)) = (rank(module), rank(dep))
                && b > a
            {
                upward.push(format!("{module} -> {dep}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "{src}: imports of a higher layer (fix the code, or the order in docs/architecture.md): {upward:?}"
    );
}

#[test]
fn every_dsc_core_module_imports_only_the_layers_below_it() {
    check_layers("src", "Lower layers first:");
}

#[test]
fn every_pull_server_module_imports_only_the_layers_below_it() {
    check_layers("../dsc-pull-server/src", "Server layers, lower first:");
}
