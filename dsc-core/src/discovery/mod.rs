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

mod filter;

pub use crate::resource::{Adapted, Resource};
use filter::wildcard_match_lowered;
pub use filter::{ResourceFilter, sort_by_type, wildcard_match};

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

/// Evaluates a manifest's `condition` (like `[not(equals(tryWhich('pwsh'), null()))]`) with
/// no parameters or variables: true means the resource is usable on this machine.
fn manifest_condition(cond: &str) -> std::result::Result<bool, String> {
    match crate::expr::evaluate_string(cond, &crate::expr::Standalone) {
        Ok(serde_json::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("must evaluate to a boolean, got {other}")),
        Err(e) => Err(format!("cannot be evaluated: {e}")),
    }
}

#[cfg(test)]
mod tests;
