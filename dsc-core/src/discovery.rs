//! Finding resources: which directories are searched, which files in them are manifests,
//! and which manifest wins when several declare the same type.
//!
//! Rules (matching Microsoft's `dsc` where users can see them):
//! - the directories of `DSC_RESOURCE_PATH` when it is set (and only those), else of `PATH`;
//! - only the top level of each directory; within a directory, files in name order, so the
//!   result is the same on every run;
//! - a manifest that fails to load is skipped with a warning naming the file and the reason;
//!   discovery never aborts;
//! - two manifests with the same type and version: the first in search order wins, with a
//!   warning;
//! - no process is spawned.

use crate::error::{Error, Result};
use crate::manifest::{
    Kind, ManifestLoader, ResourceManifest, ResourceVersion, VersionReq, manifest_file_kind,
};
use crate::trace::{Level, Message, MessageSink};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::resource::{Adapted, Resource};

/// The group resources configuration runs handle themselves, with their descriptions.
pub const BUILTIN_GROUP_TYPES: [(&str, &str); 3] = [
    (
        "Microsoft.DSC/Assertion",
        "Tests nested resources; what depends on a failed assertion is skipped",
    ),
    ("Microsoft.DSC/Group", "Runs nested resources as one"),
    (
        "Microsoft.DSC/Include",
        "Runs another configuration document, with its parameters",
    ),
];

/// Whether `type_name` is one of [`BUILTIN_GROUP_TYPES`] (ASCII case-insensitively).
pub fn is_builtin_type(type_name: &str) -> bool {
    BUILTIN_GROUP_TYPES
        .iter()
        .any(|(t, _)| t.eq_ignore_ascii_case(type_name))
}

impl Resource {
    /// Where the resource comes from, for messages: its manifest file, or traek itself.
    fn origin(&self) -> String {
        if self.builtin {
            "traek itself".to_string()
        } else {
            format!("'{}'", self.path.display())
        }
    }

    /// What `resource list` prints for a resource (one JSON object).
    pub fn summary(&self) -> ResourceSummary<'_> {
        let m = &self.manifest;
        ResourceSummary {
            type_name: &self.type_name,
            kind: self.kind.as_str(),
            version: self.version.to_string(),
            capabilities: if self.builtin {
                vec!["get", "set", "test", "export"]
            } else {
                m.capabilities()
            },
            description: m.description.as_deref(),
            tags: m.tags.as_deref(),
            path: &self.path,
            directory: &self.directory,
            require_adapter: self.adapted.as_ref().map(|a| a.adapter.as_str()),
            deprecation_message: m.deprecation_message.as_deref(),
        }
    }
}

/// One resource as `resource list` prints it; serialized directly, without an intermediate
/// JSON value.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSummary<'a> {
    #[serde(rename = "type")]
    pub type_name: &'a str,
    pub kind: &'static str,
    pub version: String,
    pub capabilities: Vec<&'static str>,
    pub description: Option<&'a str>,
    pub tags: Option<&'a [String]>,
    #[serde(serialize_with = "lossy_path")]
    pub path: &'a Path,
    #[serde(serialize_with = "lossy_path")]
    pub directory: &'a Path,
    pub require_adapter: Option<&'a str>,
    pub deprecation_message: Option<&'a str>,
}

/// A path as a string, with any bytes that are not UTF-8 replaced.
fn lossy_path<S: serde::Serializer>(path: &&Path, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

impl ResourceSummary<'_> {
    /// The summary as a JSON value (for callers that add members).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Where to look for manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPath {
    pub dirs: Vec<PathBuf>,
}

impl SearchPath {
    /// The directories from the values of `DSC_RESOURCE_PATH` and `PATH`: the former's when it
    /// is set (even to an empty list), else the latter's. Repeated directories are searched once.
    pub fn from_env_values(dsc_resource_path: Option<OsString>, path: Option<OsString>) -> Self {
        let source = dsc_resource_path.or(path).unwrap_or_default();
        let mut dirs: Vec<PathBuf> = Vec::new();
        for dir in std::env::split_paths(&source) {
            if dir.as_os_str().is_empty() {
                continue;
            }
            // Commands run with the manifest's directory as their working directory, so a
            // relative directory must be made absolute first.
            let dir = std::path::absolute(&dir).unwrap_or(dir);
            if dirs.contains(&dir) {
                continue;
            }
            dirs.push(dir);
        }
        SearchPath { dirs }
    }

    /// Reads `DSC_RESOURCE_PATH` and `PATH` from this process's environment.
    pub fn from_process_env() -> Self {
        Self::from_env_values(
            std::env::var_os("DSC_RESOURCE_PATH"),
            std::env::var_os("PATH"),
        )
    }
}

/// The resources found on a search path.
#[derive(Debug, Default)]
pub struct Registry {
    /// In search order; one entry per (type, version).
    resources: Vec<Arc<Resource>>,
    /// Lowercased type name → indexes into `resources`.
    by_type: HashMap<String, Vec<usize>>,
    /// Adapted resources of manifest lists, resolved once every adapter is known.
    pending_adapted: Vec<(PathBuf, serde_json::Value)>,
}

/// Reads and parses a manifest file, without touching a registry; `None` when the name is not
/// a manifest's.
fn read_manifest(
    path: &Path,
    loader: &ManifestLoader,
) -> Option<Result<crate::manifest::ParsedFile, String>> {
    let name = path.file_name()?.to_string_lossy();
    let kind = manifest_file_kind(&name)?;
    Some(
        crate::text::read_bounded(path, crate::manifest::MAX_MANIFEST_BYTES)
            .and_then(|bytes| loader.parse_file(&bytes, kind)),
    )
}

/// Files read in one directory before reading is spread over threads.
const PARALLEL_FROM: usize = 64;

/// [`read_manifest`] of every path, in order. Many files are read and parsed on several
/// threads (reading is mostly waiting for system calls).
#[allow(clippy::type_complexity)]
fn read_all(
    paths: &[PathBuf],
    loader: &ManifestLoader,
) -> Vec<Option<Result<crate::manifest::ParsedFile, String>>> {
    if paths.len() < PARALLEL_FROM {
        return paths.iter().map(|p| read_manifest(p, loader)).collect();
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    if threads < 2 {
        return paths.iter().map(|p| read_manifest(p, loader)).collect();
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let running: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                let handle = scope.spawn(move || {
                    part.iter()
                        .map(|p| read_manifest(p, loader))
                        .collect::<Vec<_>>()
                });
                (part.len(), handle)
            })
            .collect();
        running
            .into_iter()
            .flat_map(|(len, handle)| {
                handle.join().unwrap_or_else(|_| {
                    vec![Some(Err("reading the manifest failed".to_string())); len]
                })
            })
            .collect()
    })
}

/// Whether a manifest's resource is used on this machine: not a type traek runs itself, and
/// its `condition` holds (a condition that cannot be evaluated is a warning).
fn usable_here(
    manifest: &crate::manifest::ResourceManifest,
    path: &Path,
    sink: &mut dyn MessageSink,
) -> bool {
    let warn =
        |sink: &mut dyn MessageSink, text: String| sink.message(Message::engine(Level::Warn, text));
    if is_builtin_type(&manifest.type_name) {
        sink.message(Message::engine(
            Level::Debug,
            format!(
                "traek runs '{}' itself; the manifest in '{}' is not used",
                manifest.type_name,
                path.display()
            ),
        ));
        return false;
    }
    if let Some(cond) = &manifest.condition {
        match manifest_condition(cond) {
            Ok(true) => {}
            Ok(false) => {
                sink.message(Message::engine(
                    Level::Debug,
                    format!(
                        "resource '{}' is not usable here: its condition {cond} is false",
                        manifest.type_name
                    ),
                ));
                return false;
            }
            Err(e) => {
                warn(
                    sink,
                    format!(
                        "skipping resource '{}' in '{}': its condition {e}",
                        manifest.type_name,
                        path.display()
                    ),
                );
                return false;
            }
        }
    }
    true
}

impl Registry {
    /// Scans the directories and loads every manifest found. Warnings (skipped files,
    /// duplicates, date versions) go to `sink`.
    pub fn discover(
        search: &SearchPath,
        loader: &ManifestLoader,
        sink: &mut dyn MessageSink,
    ) -> Self {
        let mut registry = Registry::default();
        registry.add_builtins(sink);
        let mut adapted_files = Vec::new();
        for dir in &search.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue; // PATH routinely names directories that do not exist
            };
            let mut files: Vec<(OsString, PathBuf)> = Vec::new();
            for e in entries.filter_map(|e| e.ok()) {
                let name = e.file_name();
                let text = name.to_string_lossy();
                if manifest_file_kind(&text).is_some() {
                    files.push((name, e.path()));
                } else if crate::adapter::is_adapted_manifest_file(&text) {
                    adapted_files.push(e.path());
                }
            }
            files.sort();
            let paths: Vec<PathBuf> = files.into_iter().map(|(_, p)| p).collect();
            registry.resources.reserve(paths.len());
            registry.by_type.reserve(paths.len());
            for (path, parsed) in paths.iter().zip(read_all(&paths, loader)) {
                if let Some(parsed) = parsed {
                    registry.add_parsed(path, parsed, sink);
                }
            }
        }
        adapted_files.sort();
        for path in adapted_files {
            match crate::adapter::read_adapted_file(&path) {
                Ok(value) => registry.add_adapted(&path, value, sink),
                Err(reason) => sink.message(Message::engine(
                    Level::Warn,
                    format!(
                        "skipping adapted resource manifest '{}': {reason}",
                        path.display()
                    ),
                )),
            }
        }
        for (path, value) in std::mem::take(&mut registry.pending_adapted) {
            registry.add_adapted(&path, value, sink);
        }
        registry
    }

    /// Adds an adapted resource described in `origin` (its `path` is relative to that file's
    /// directory) when its adapter is known and its condition holds; else a warning.
    fn add_adapted(&mut self, origin: &Path, value: serde_json::Value, sink: &mut dyn MessageSink) {
        let name = value
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("(no type)")
            .to_string();
        let added = crate::adapter::adapted_description(value).and_then(|desc| {
            if let Some(cond) = &desc.condition {
                match manifest_condition(cond) {
                    Ok(true) => {}
                    Ok(false) => return Ok(None),
                    Err(e) => return Err(format!("its condition {e}")),
                }
            }
            let adapter_type = desc.require_adapter.clone().unwrap_or_default();
            let adapter = self
                .find(&adapter_type, None)
                .map_err(|_| format!("its adapter '{adapter_type}' was not found"))?;
            let dir = origin.parent().unwrap_or(Path::new(""));
            crate::adapter::synthesize(desc, origin, dir, &adapter).map(Some)
        });
        match added {
            Ok(Some(r)) => self.add(r, sink),
            Ok(None) => sink.message(Message::engine(
                Level::Debug,
                format!("adapted resource '{name}' is not usable here: its condition is false"),
            )),
            Err(reason) => sink.message(Message::engine(
                Level::Warn,
                format!(
                    "skipping adapted resource '{name}' in '{}': {reason}",
                    origin.display()
                ),
            )),
        }
    }

    /// The built-in group types. They come before every manifest: dsc's own manifests for
    /// these types (next to `dsc`, often on PATH) run `dsc`, which traek replaces.
    fn add_builtins(&mut self, sink: &mut dyn MessageSink) {
        for (type_name, description) in BUILTIN_GROUP_TYPES {
            let version = env!("CARGO_PKG_VERSION");
            let Ok(parsed) = ResourceVersion::parse(version) else {
                continue;
            };
            let manifest = ResourceManifest {
                schema_uri: String::new(),
                type_name: type_name.to_string(),
                version: version.to_string(),
                kind: Some(Kind::Group),
                description: Some(description.to_string()),
                tags: None,
                condition: None,
                deprecation_message: None,
                metadata: None,
                get: None,
                set: None,
                what_if: None,
                test: None,
                delete: None,
                export: None,
                validate: None,
                resolve: None,
                adapter: None,
                exit_codes: None,
                schema: None,
            };
            self.add(
                Resource {
                    type_name: type_name.to_string(),
                    version: parsed,
                    kind: Kind::Group,
                    path: PathBuf::new(),
                    directory: PathBuf::new(),
                    manifest,
                    adapted: None,
                    builtin: true,
                },
                sink,
            );
        }
    }

    /// Adds a resource unless one of the same type and version is already known.
    pub fn add(&mut self, r: Resource, sink: &mut dyn MessageSink) {
        let indexes = self.by_type.entry(r.type_name.to_lowercase()).or_default();
        if let Some(&first) = indexes
            .iter()
            .find(|&&i| self.resources[i].version == r.version)
        {
            sink.message(Message::engine(
                Level::Warn,
                format!(
                    "resource '{}' version {} in '{}' is also declared in {}, which comes first and is used",
                    r.type_name,
                    r.version,
                    r.path.display(),
                    self.resources[first].origin()
                ),
            ));
            return;
        }
        indexes.push(self.resources.len());
        self.resources.push(Arc::new(r));
    }

    /// Loads one manifest file into the registry (used by discovery and by packages).
    pub fn load_file(&mut self, path: &Path, loader: &ManifestLoader, sink: &mut dyn MessageSink) {
        if let Some(parsed) = read_manifest(path, loader) {
            self.add_parsed(path, parsed, sink);
        }
    }

    /// Adds what a manifest file held (or warns why it could not be read).
    fn add_parsed(
        &mut self,
        path: &Path,
        parsed: Result<crate::manifest::ParsedFile, String>,
        sink: &mut dyn MessageSink,
    ) {
        let warn = |sink: &mut dyn MessageSink, text: String| {
            sink.message(Message::engine(Level::Warn, text))
        };
        let parsed = match parsed {
            Ok(p) => p,
            Err(reason) => {
                warn(
                    sink,
                    format!("skipping manifest '{}': {reason}", path.display()),
                );
                return;
            }
        };
        for w in parsed.warnings {
            warn(sink, format!("manifest list '{}': {w}", path.display()));
        }
        self.pending_adapted
            .extend(parsed.adapted.into_iter().map(|v| (path.to_path_buf(), v)));
        let loaded = parsed.manifests;
        let directory = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for lm in loaded {
            for w in lm.warnings {
                warn(sink, format!("{w} (in '{}')", path.display()));
            }
            if !usable_here(&lm.manifest, path, sink) {
                continue;
            }
            let key = lm.manifest.type_name.to_lowercase();
            let indexes = self.by_type.entry(key).or_default();
            if let Some(&first) = indexes
                .iter()
                .find(|&&i| self.resources[i].version == lm.version)
            {
                warn(
                    sink,
                    format!(
                        "resource '{}' version {} in '{}' is also declared in '{}', which comes first in the search path and is used",
                        lm.manifest.type_name,
                        lm.version,
                        path.display(),
                        self.resources[first].path.display()
                    ),
                );
                continue;
            }
            indexes.push(self.resources.len());
            self.resources.push(Arc::new(Resource {
                type_name: lm.manifest.type_name.clone(),
                version: lm.version,
                kind: lm.manifest.effective_kind(),
                path: path.to_path_buf(),
                directory: directory.clone(),
                manifest: lm.manifest,
                adapted: None,
                builtin: false,
            }));
        }
    }

    /// Every resource, in search order.
    pub fn resources(&self) -> &[Arc<Resource>] {
        &self.resources
    }

    /// Resources whose type matches `filter` (case-insensitive, `*` and `?` wildcards; `None`
    /// matches all), sorted by type name, newest version first.
    pub fn list(&self, filter: Option<&str>) -> Vec<Arc<Resource>> {
        let filter = filter.map(str::to_lowercase);
        let mut out: Vec<Arc<Resource>> = self
            .resources
            .iter()
            .filter(|r| match &filter {
                Some(f) => wildcard_match_lowered(f, &r.type_name),
                None => true,
            })
            .cloned()
            .collect();
        sort_by_type(&mut out);
        out
    }

    /// The resource of a type (case-insensitive): the newest version, or the newest that
    /// satisfies `req`.
    pub fn find(&self, type_name: &str, req: Option<&VersionReq>) -> Result<Arc<Resource>> {
        let Some(indexes) = self.by_type.get(&type_name.to_lowercase()) else {
            return Err(Error::ResourceNotFound(format!(
                "resource type '{type_name}' was not found; run 'traek resource list' to see the available types, and check DSC_RESOURCE_PATH or PATH"
            )));
        };
        let best = indexes
            .iter()
            .map(|&i| &self.resources[i])
            .filter(|r| req.is_none_or(|q| r.version.matches(q)))
            .max_by(|a, b| a.version.cmp(&b.version));
        match best {
            Some(r) => Ok(Arc::clone(r)),
            None => {
                let mut versions: Vec<String> = indexes
                    .iter()
                    .map(|&i| self.resources[i].version.to_string())
                    .collect();
                versions.sort();
                Err(Error::ResourceNotFound(format!(
                    "no version of resource '{type_name}' matches '{}' (available: {})",
                    req.map(ToString::to_string).unwrap_or_default(),
                    versions.join(", ")
                )))
            }
        }
    }
}

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

/// Evaluates a manifest's `condition` (like `[not(equals(tryWhich('pwsh'), null()))]`) with
/// no parameters or variables: true means the resource is usable on this machine.
fn manifest_condition(cond: &str) -> std::result::Result<bool, String> {
    match crate::expr::evaluate_string(cond, &crate::expr::Standalone) {
        Ok(serde_json::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("must evaluate to a boolean, got {other}")),
        Err(e) => Err(format!("cannot be evaluated: {e}")),
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
fn wildcard_match_lowered(pattern: &str, text: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_manifests_load_in_search_order_and_the_first_declaration_wins() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = |ty: &str, exe: &str| {
            format!(
                r#"{{"$schema": "x", "type": "{ty}", "version": "1.0.0", "get": {{"executable": "{exe}"}}}}"#
            )
        };
        // More files than are read on one thread, one type declared twice, one file broken.
        for i in 0..(PARALLEL_FROM * 3) {
            let name = format!("r{i:04}.dsc.resource.json");
            std::fs::write(dir.path().join(name), manifest(&format!("T/R{i:04}"), "a")).unwrap();
        }
        std::fs::write(
            dir.path().join("r0000z.dsc.resource.json"),
            manifest("T/R0000", "b"),
        )
        .unwrap();
        std::fs::write(dir.path().join("r0100z.dsc.resource.json"), "{").unwrap();
        let search = SearchPath {
            dirs: vec![dir.path().to_path_buf()],
        };
        let mut messages: Vec<Message> = Vec::new();
        let registry = Registry::discover(&search, &ManifestLoader::new(), &mut messages);
        let found: Vec<&str> = registry
            .resources()
            .iter()
            .filter(|r| !r.builtin)
            .map(|r| r.type_name.as_str())
            .collect();
        let want: Vec<String> = (0..PARALLEL_FROM * 3)
            .map(|i| format!("T/R{i:04}"))
            .collect();
        assert_eq!(found, want);
        let first = registry.find("t/r0000", None).unwrap();
        assert_eq!(
            first.manifest.get.as_ref().map(|g| g.executable.as_str()),
            Some("a")
        );
        let text: Vec<&str> = messages.iter().map(|m| m.message.as_str()).collect();
        assert!(
            text.iter().any(|m| m.contains("r0000z.dsc.resource.json")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|m| m.contains("skipping manifest") && m.contains("r0100z")),
            "{text:?}"
        );
    }

    #[test]
    fn a_fifo_or_an_oversized_file_named_like_a_manifest_is_skipped_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.dsc.resource.json");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) with a valid NUL-terminated path; no memory is shared.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let big = std::fs::File::create(dir.path().join("big.dsc.resource.json")).unwrap();
        big.set_len(crate::manifest::MAX_MANIFEST_BYTES + 1)
            .unwrap();
        std::fs::write(
            dir.path().join("ok.dsc.resource.json"),
            r#"{"$schema": "x", "type": "T/Ok", "version": "1.0.0", "get": {"executable": "a"}}"#,
        )
        .unwrap();
        let search = SearchPath {
            dirs: vec![dir.path().to_path_buf()],
        };
        let mut messages: Vec<Message> = Vec::new();
        let registry = Registry::discover(&search, &ManifestLoader::new(), &mut messages);
        assert!(registry.find("T/Ok", None).is_ok());
        let text: Vec<&str> = messages.iter().map(|m| m.message.as_str()).collect();
        assert!(
            text.iter()
                .any(|m| m.contains("pipe.dsc.resource.json") && m.contains("not a regular file")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|m| m.contains("big.dsc.resource.json") && m.contains("bytes allowed")),
            "{text:?}"
        );
    }

    #[test]
    fn dsc_resource_path_replaces_path_entirely() {
        let s = SearchPath::from_env_values(Some("/a:/b".into()), Some("/c".into()));
        assert_eq!(s.dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        let s = SearchPath::from_env_values(None, Some("/c:/c::/d".into()));
        assert_eq!(s.dirs, vec![PathBuf::from("/c"), PathBuf::from("/d")]);
    }

    #[test]
    fn wildcards_match_like_a_shell() {
        assert!(wildcard_match("test/*", "test/echo"));
        assert!(wildcard_match("*echo", "test/echo"));
        assert!(wildcard_match("t?st/e*o", "test/echo"));
        assert!(!wildcard_match("test/x*", "test/echo"));
        assert!(wildcard_match("*", ""));
    }
}
