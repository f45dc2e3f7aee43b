//! Settings and policy files, with dsc's semantics under traek's own names.
//!
//! Read in this order, each overriding the one before, member by member at the top level:
//! 1. `traek_default.settings.json` next to the `traek` binary (its value under the key `"1"`);
//! 2. `traek.settings.json` next to the binary;
//! 3. the machine policy `/etc/traek/traek.settings.json` (`%ProgramData%\traek\...` on
//!    Windows), used only when its folder is owned by root and writable by no one else;
//!    otherwise it is ignored with a warning.
//!
//! `DSC_IGNORE_SETTINGS_FILE` (or `TRAEK_IGNORE_SETTINGS_FILE`, or `--ignore-settings-file`)
//! skips all three.
//!
//! ```json
//! {"resourcePath": {"allowEnvOverride": true, "appendEnvPath": true, "directories": []},
//!  "tracing": {"level": "WARN", "format": "Default", "allowOverride": true}}
//! ```
//!
//! The search path: with `allowEnvOverride`, `DSC_RESTRICTED_PATH` (only those directories;
//! resources also get it as their `PATH`), else `DSC_RESOURCE_PATH`; otherwise `directories`,
//! then `PATH` when `appendEnvPath`, then the binary's own directory. The trace level: the
//! command line, else `DSC_TRACE_LEVEL`, when `allowOverride`; else the settings; else `warn`.

use crate::discovery::SearchPath;
use crate::trace::Level;
use serde::Deserialize;
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The shipped defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    pub resource_path: ResourcePathSettings,
    pub tracing: TracingSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            resource_path: ResourcePathSettings {
                allow_env_override: true,
                append_env_path: true,
                directories: Vec::new(),
            },
            tracing: TracingSettings {
                level: None,
                format: None,
                allow_override: true,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePathSettings {
    #[serde(default = "yes")]
    pub allow_env_override: bool,
    #[serde(default = "yes")]
    pub append_env_path: bool,
    #[serde(default)]
    pub directories: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TracingSettings {
    /// `ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE` (any case).
    #[serde(default)]
    pub level: Option<String>,
    /// `Default`, `Plaintext` or `Json` (any case).
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default = "yes")]
    pub allow_override: bool,
}

fn yes() -> bool {
    true
}

/// Where the files are looked for.
#[derive(Debug, Clone)]
pub struct SettingsLocations {
    /// The directory of the `traek` binary.
    pub binary_dir: Option<PathBuf>,
    /// The machine policy file.
    pub policy_file: PathBuf,
}

impl SettingsLocations {
    /// Next to this process's executable (symlinks resolved), and the system policy path.
    pub fn for_this_process() -> Self {
        // On Linux the executable's path comes from /proc/self/exe, with symlinks resolved.
        let resolve = |e: PathBuf| {
            if cfg!(any(target_os = "linux", target_os = "android")) {
                e
            } else {
                std::fs::canonicalize(&e).unwrap_or(e)
            }
        };
        let binary_dir = std::env::current_exe()
            .ok()
            .map(resolve)
            .and_then(|e| e.parent().map(Path::to_path_buf));
        Self::system(binary_dir)
    }

    /// traek's own directory `binary_dir` (where `traek_default.settings.json` and the core
    /// resources are; `None` when there is none, as for a library loaded into another program),
    /// and the system policy path.
    pub fn system(binary_dir: Option<PathBuf>) -> Self {
        let policy_file = if cfg!(windows) {
            PathBuf::from(
                std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into()),
            )
            .join("traek")
            .join("traek.settings.json")
        } else {
            PathBuf::from("/etc/traek/traek.settings.json")
        };
        SettingsLocations {
            binary_dir,
            policy_file,
        }
    }
}

/// Settings after reading the files, with what reading them had to say.
#[derive(Debug, Clone, Default)]
pub struct LoadedSettings {
    pub settings: Settings,
    /// Files that were read, in order.
    pub files: Vec<PathBuf>,
    /// Problems: unreadable or malformed files, an insecure policy folder.
    pub warnings: Vec<String>,
}

/// Reads the settings files (none when `ignore` is set).
pub fn load(locations: &SettingsLocations, ignore: bool) -> LoadedSettings {
    let mut out = LoadedSettings::default();
    if ignore {
        return out;
    }
    let mut merged = serde_json::Map::new();
    if let Some(dir) = &locations.binary_dir {
        let defaults = dir.join("traek_default.settings.json");
        if let Some(v) = read(&defaults, &mut out) {
            match v.get("1") {
                Some(Value::Object(m)) => merged.extend(m.clone()),
                _ => out.warnings.push(format!(
                    "settings file '{}' has no object under the key \"1\"; it is ignored",
                    defaults.display()
                )),
            }
        }
        if let Some(Value::Object(m)) = read(&dir.join("traek.settings.json"), &mut out) {
            merged.extend(m);
        }
    }
    let policy = &locations.policy_file;
    if policy.exists() {
        match policy_folder_problem(policy) {
            Some(problem) => out.warnings.push(format!(
                "policy folder of '{}' is not secure ({problem}); the policy file is not used",
                policy.display()
            )),
            None => {
                if let Some(Value::Object(m)) = read(policy, &mut out) {
                    merged.extend(m);
                }
            }
        }
    }
    match serde_json::from_value::<Settings>(Value::Object(merged)) {
        Ok(s) => out.settings = s,
        Err(e) => out.warnings.push(format!(
            "settings ({}) are not valid: {e}; the defaults are used",
            out.files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    out
}

fn read(path: &Path, out: &mut LoadedSettings) -> Option<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            out.warnings.push(format!(
                "cannot read settings file '{}': {e}",
                path.display()
            ));
            return None;
        }
    };
    match crate::text::parse_json(&text) {
        Ok(v @ Value::Object(_)) => {
            out.files.push(path.to_path_buf());
            Some(v)
        }
        Ok(_) => {
            out.warnings.push(format!(
                "settings file '{}' is not a JSON object; it is ignored",
                path.display()
            ));
            None
        }
        Err(e) => {
            out.warnings.push(format!(
                "settings file '{}' is not valid JSON ({}); it is ignored",
                path.display(),
                e.message
            ));
            None
        }
    }
}

/// Why the policy file's folder is not trusted: it must be owned by root and writable by no
/// one else.
#[cfg(unix)]
fn policy_folder_problem(policy: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let dir = policy.parent()?;
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) => return Some(e.to_string()),
    };
    if meta.uid() != 0 {
        return Some(format!("owned by uid {}, not root", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Some(format!(
            "writable by group or others (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    None
}

#[cfg(not(unix))]
fn policy_folder_problem(_policy: &Path) -> Option<String> {
    None
}

/// The environment values settings resolution reads.
#[derive(Debug, Clone, Default)]
pub struct EnvValues {
    pub dsc_restricted_path: Option<OsString>,
    pub dsc_resource_path: Option<OsString>,
    pub path: Option<OsString>,
    pub dsc_trace_level: Option<String>,
    /// `DSC_IGNORE_SETTINGS_FILE` (or `TRAEK_IGNORE_SETTINGS_FILE`) is `1` or `true`.
    pub ignore_settings_file: bool,
}

impl EnvValues {
    pub fn from_process() -> Self {
        EnvValues {
            dsc_restricted_path: std::env::var_os("DSC_RESTRICTED_PATH"),
            dsc_resource_path: std::env::var_os("DSC_RESOURCE_PATH"),
            path: std::env::var_os("PATH"),
            dsc_trace_level: std::env::var("DSC_TRACE_LEVEL").ok(),
            ignore_settings_file: ["DSC_IGNORE_SETTINGS_FILE", "TRAEK_IGNORE_SETTINGS_FILE"]
                .iter()
                .any(|name| {
                    std::env::var(name)
                        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true"))
                }),
        }
    }
}

/// Where resources are found, and the `PATH` resources get when it is restricted.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPath {
    pub search_path: SearchPath,
    /// `Some` with `DSC_RESTRICTED_PATH`: the `PATH` of every resource process.
    pub process_path: Option<OsString>,
}

impl Settings {
    /// The search path, per the rules in the module documentation.
    pub fn search_path(&self, env: &EnvValues, binary_dir: Option<&Path>) -> ResolvedPath {
        let rp = &self.resource_path;
        let nonempty = |v: &Option<OsString>| v.clone().filter(|v| !v.is_empty());
        if rp.allow_env_override {
            if let Some(restricted) = nonempty(&env.dsc_restricted_path) {
                return ResolvedPath {
                    search_path: SearchPath::from_env_values(Some(restricted.clone()), None),
                    process_path: Some(restricted),
                };
            }
            if let Some(resource_path) = env.dsc_resource_path.clone() {
                return ResolvedPath {
                    search_path: SearchPath::from_env_values(Some(resource_path), None),
                    process_path: None,
                };
            }
        }
        let mut dirs: Vec<PathBuf> = rp.directories.clone();
        if rp.append_env_path
            && let Some(p) = &env.path
        {
            dirs.extend(std::env::split_paths(p));
        }
        dirs.extend(binary_dir.map(Path::to_path_buf));
        let joined = std::env::join_paths(dirs.iter().filter(|d| !d.as_os_str().is_empty()))
            .unwrap_or_default();
        ResolvedPath {
            search_path: SearchPath::from_env_values(Some(joined), None),
            process_path: None,
        }
    }

    /// The trace level: `cli` (when given), else `DSC_TRACE_LEVEL`, if overriding is allowed;
    /// else the settings' level; else `warn`. An unusable level in a file is a warning.
    pub fn trace_level(
        &self,
        cli: Option<Level>,
        env: &EnvValues,
        warnings: &mut Vec<String>,
    ) -> Level {
        if self.tracing.allow_override {
            if let Some(l) = cli {
                return l;
            }
            if let Some(l) = env.dsc_trace_level.as_deref().and_then(|s| s.parse().ok()) {
                return l;
            }
        }
        match self.tracing.level.as_deref().map(str::parse::<Level>) {
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                warnings.push(format!("settings tracing.level: {e}"));
                Level::Warn
            }
            None => Level::Warn,
        }
    }

    /// The trace format name (`default`, `plaintext`, `json`): `cli` when given and allowed,
    /// else the settings' format, else `default`.
    pub fn trace_format(&self, cli: Option<&str>) -> String {
        match (cli, self.tracing.allow_override) {
            (Some(f), true) => f.to_ascii_lowercase(),
            _ => self
                .tracing
                .format
                .as_deref()
                .unwrap_or("default")
                .to_ascii_lowercase(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locations(dir: &Path, policy: &Path) -> SettingsLocations {
        SettingsLocations {
            binary_dir: Some(dir.to_path_buf()),
            policy_file: policy.to_path_buf(),
        }
    }

    #[test]
    fn defaults_then_settings_then_policy_each_override_the_one_before() {
        let bin = tempfile::tempdir().unwrap();
        let policy_dir = tempfile::tempdir().unwrap();
        std::fs::write(
            bin.path().join("traek_default.settings.json"),
            r#"{"1": {"tracing": {"level": "ERROR"}, "resourcePath": {"directories": ["/d"]}}}"#,
        )
        .unwrap();
        std::fs::write(
            bin.path().join("traek.settings.json"),
            r#"{"tracing": {"level": "INFO", "allowOverride": true}}"#,
        )
        .unwrap();
        let policy = policy_dir.path().join("traek.settings.json");
        let l = load(&locations(bin.path(), &policy), false);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.settings.tracing.level.as_deref(), Some("INFO"));
        assert_eq!(
            l.settings.resource_path.directories,
            vec![PathBuf::from("/d")]
        );
        assert_eq!(l.files.len(), 2);

        std::fs::write(
            &policy,
            r#"{"tracing": {"level": "DEBUG", "allowOverride": false}}"#,
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(policy_dir.path(), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        let l = load(&locations(bin.path(), &policy), false);
        if is_root() {
            assert!(l.warnings.is_empty(), "{:?}", l.warnings);
            assert_eq!(l.settings.tracing.level.as_deref(), Some("DEBUG"));
            let mut w = Vec::new();
            let env = EnvValues {
                dsc_trace_level: Some("trace".into()),
                ..EnvValues::default()
            };
            // A policy that forbids overriding wins over the command line and the environment.
            assert_eq!(
                l.settings.trace_level(Some(Level::Error), &env, &mut w),
                Level::Debug
            );
        } else {
            assert!(l.warnings[0].contains("not secure"), "{:?}", l.warnings);
        }
        assert!(load(&locations(bin.path(), &policy), true).files.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_policy_in_a_folder_others_can_write_is_ignored_with_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let policy_dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(policy_dir.path(), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        let policy = policy_dir.path().join("traek.settings.json");
        std::fs::write(&policy, r#"{"tracing": {"level": "TRACE"}}"#).unwrap();
        let l = load(
            &SettingsLocations {
                binary_dir: None,
                policy_file: policy,
            },
            false,
        );
        assert!(l.warnings[0].contains("not secure"), "{:?}", l.warnings);
        assert_eq!(l.settings, Settings::default());
    }

    #[test]
    fn malformed_files_are_warnings_and_the_defaults_stay() {
        let bin = tempfile::tempdir().unwrap();
        std::fs::write(bin.path().join("traek.settings.json"), "{not json").unwrap();
        let l = load(
            &locations(bin.path(), Path::new("/nonexistent/p.json")),
            false,
        );
        assert!(l.warnings[0].contains("not valid JSON"), "{:?}", l.warnings);
        std::fs::write(
            bin.path().join("traek.settings.json"),
            r#"{"resourcePath": {"directories": 5}}"#,
        )
        .unwrap();
        let l = load(
            &locations(bin.path(), Path::new("/nonexistent/p.json")),
            false,
        );
        assert!(l.warnings[0].contains("not valid"), "{:?}", l.warnings);
        assert_eq!(l.settings, Settings::default());
    }

    #[test]
    fn the_search_path_follows_restricted_then_resource_path_then_directories() {
        let env = EnvValues {
            dsc_restricted_path: Some("/r1:/r2".into()),
            dsc_resource_path: Some("/rp".into()),
            path: Some("/p".into()),
            dsc_trace_level: None,
            ignore_settings_file: false,
        };
        let s = Settings::default();
        let r = s.search_path(&env, Some(Path::new("/bin")));
        assert_eq!(
            r.search_path.dirs,
            vec![PathBuf::from("/r1"), PathBuf::from("/r2")]
        );
        assert_eq!(r.process_path, Some("/r1:/r2".into()));
        let env2 = EnvValues {
            dsc_restricted_path: None,
            ..env.clone()
        };
        assert_eq!(
            s.search_path(&env2, None).search_path.dirs,
            vec![PathBuf::from("/rp")]
        );
        let mut locked = Settings::default();
        locked.resource_path.allow_env_override = false;
        locked.resource_path.directories = vec!["/d".into()];
        let r = locked.search_path(&env, Some(Path::new("/bin")));
        assert_eq!(
            r.search_path.dirs,
            vec![
                PathBuf::from("/d"),
                PathBuf::from("/p"),
                PathBuf::from("/bin")
            ]
        );
        assert_eq!(r.process_path, None);
        locked.resource_path.append_env_path = false;
        assert_eq!(
            locked.search_path(&env, None).search_path.dirs,
            vec![PathBuf::from("/d")]
        );
    }

    #[test]
    fn trace_level_and_format_follow_allow_override() {
        let mut w = Vec::new();
        let env = EnvValues {
            dsc_trace_level: Some("info".into()),
            ..EnvValues::default()
        };
        let mut s = Settings::default();
        assert_eq!(
            s.trace_level(None, &EnvValues::default(), &mut w),
            Level::Warn
        );
        assert_eq!(s.trace_level(None, &env, &mut w), Level::Info);
        assert_eq!(
            s.trace_level(Some(Level::Trace), &env, &mut w),
            Level::Trace
        );
        s.tracing.level = Some("ERROR".into());
        s.tracing.format = Some("Json".into());
        s.tracing.allow_override = false;
        assert_eq!(
            s.trace_level(Some(Level::Trace), &env, &mut w),
            Level::Error
        );
        assert_eq!(s.trace_format(Some("plaintext")), "json");
        s.tracing.allow_override = true;
        assert_eq!(s.trace_format(Some("plaintext")), "plaintext");
        assert_eq!(s.trace_format(None), "json");
        s.tracing.level = Some("LOUD".into());
        assert_eq!(
            s.trace_level(None, &EnvValues::default(), &mut w),
            Level::Warn
        );
        assert!(w[0].contains("LOUD"), "{w:?}");
    }

    fn is_root() -> bool {
        crate::expr::functions::system::process_security_context() == "elevated"
    }
}
