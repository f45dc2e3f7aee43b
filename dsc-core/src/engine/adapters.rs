//! Adapters' `list` operation: which resources an adapter provides, run at most once per
//! engine and cached on disk (see [`crate::adapter::cache_file`]).

use super::*;
use crate::adapter::{self, AdaptedDescription};

impl Engine {
    /// What `resource list` shows: the resources found (or, with `adapter`, the adapted
    /// resources of the adapters matching that pattern) that pass `filter`.
    pub fn list_resources(
        &self,
        adapter: Option<&str>,
        filter: &crate::discovery::ResourceFilter,
        sink: &mut dyn MessageSink,
    ) -> Vec<Arc<Resource>> {
        let mut resources = match adapter {
            Some(a) => self.adapted_resources(Some(a), sink),
            None => self.registry(sink).list(None),
        };
        let filter = filter.lowered();
        resources.retain(|r| filter.matches_lowered(r));
        resources
    }

    /// Adapted resources listed by the adapters whose type matches `filter` (case-insensitive,
    /// `*` and `?` wildcards; `None`: every adapter with a `list` method), plus those from
    /// `.dsc.adaptedResource.json` files of those adapters.
    pub fn adapted_resources(
        &self,
        filter: Option<&str>,
        sink: &mut dyn MessageSink,
    ) -> Vec<Arc<Resource>> {
        let pattern = filter.map(str::to_lowercase);
        let matches = |t: &str| {
            pattern
                .as_deref()
                .is_none_or(|p| crate::discovery::wildcard_match(p, &t.to_lowercase()))
        };
        let registry = self.registry(sink);
        let mut out: Vec<Arc<Resource>> = registry
            .resources()
            .iter()
            .filter(|r| r.adapted.as_ref().is_some_and(|a| matches(&a.adapter)))
            .cloned()
            .collect();
        let adapters: Vec<Arc<Resource>> = registry
            .resources()
            .iter()
            .filter(|r| r.kind == Kind::Adapter && matches(&r.type_name))
            .filter(|r| {
                r.manifest
                    .adapter
                    .as_ref()
                    .is_some_and(|a| a.list.is_some())
            })
            .cloned()
            .collect();
        for a in adapters {
            match self.list_adapter(&a, sink) {
                Ok(list) => out.extend(list.iter().cloned()),
                // The error names the adapter already.
                Err(e) => self.emit(
                    sink,
                    Message::engine(Level::Warn, format!("listing adapted resources: {e}")),
                ),
            }
        }
        crate::discovery::sort_by_type(&mut out);
        out
    }

    /// The resources one adapter lists.
    fn list_adapter(
        &self,
        a: &Arc<Resource>,
        sink: &mut dyn MessageSink,
    ) -> Result<Arc<Vec<Arc<Resource>>>> {
        let key = a.path.join(a.type_name.to_lowercase());
        if let Some(list) = lock(&self.listed).get(&key) {
            return Ok(Arc::clone(list));
        }
        let cache = adapter::cache_file(a);
        let stdout = match cache.as_ref().and_then(|c| std::fs::read_to_string(c).ok()) {
            Some(text) => text,
            None => {
                let stdout = self.run_list(a, sink)?;
                if let Some(c) = &cache {
                    write_cache(c, &stdout);
                }
                stdout
            }
        };
        let mut list = Vec::new();
        for item in serde_json::Deserializer::from_str(&stdout).into_iter::<Value>() {
            let v = item.map_err(|e| bad_output(a, "list", format!("not JSON Lines: {e}")))?;
            let described = serde_json::from_value::<AdaptedDescription>(v)
                .map_err(|e| e.to_string())
                .and_then(|d| adapter::synthesize(d, &a.path, &a.directory, a));
            match described {
                Ok(r) => list.push(Arc::new(r)),
                Err(e) => self.emit(
                    sink,
                    Message::engine(
                        Level::Warn,
                        format!(
                            "adapter '{}' listed a resource traek skips: {e}",
                            a.type_name
                        ),
                    ),
                ),
            }
        }
        let list = Arc::new(list);
        lock(&self.listed).insert(key, Arc::clone(&list));
        Ok(list)
    }

    fn run_list(&self, a: &Resource, sink: &mut dyn MessageSink) -> Result<String> {
        let Some(list) = a.manifest.adapter.as_ref().and_then(|s| s.list.as_ref()) else {
            return Ok(String::new());
        };
        let m = MethodRef {
            operation: "list",
            executable: &list.executable,
            args: list.args.as_deref(),
            input: None,
        };
        Ok(self.invoke(a, &m, None, false, sink)?.stdout)
    }

    /// An adapted resource of this type listed by any adapter (the newest, or the newest
    /// matching `req`).
    pub(super) fn find_listed(
        &self,
        type_name: &str,
        req: Option<&VersionReq>,
        sink: &mut dyn MessageSink,
    ) -> Option<Arc<Resource>> {
        self.adapted_resources(None, sink)
            .into_iter()
            .filter(|r| r.type_name.eq_ignore_ascii_case(type_name))
            .filter(|r| req.is_none_or(|q| r.version.matches(q)))
            .max_by(|a, b| a.version.cmp(&b.version))
    }
}

/// Writes the cache file atomically; a cache that cannot be written is only slower.
fn write_cache(path: &Path, text: &str) {
    let Some(dir) = path.parent() else {
        return;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let _ = crate::atomic::write(path, text.as_bytes());
}
