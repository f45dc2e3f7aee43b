//! Engine options for a frontend: settings and policy files, environment, explicit choices.

use super::FrontendError;
use crate::discovery::SearchPath;
use crate::engine::EngineOptions;
use crate::settings::{self, EnvValues, SettingsLocations};
use crate::trace::Level;
use std::path::PathBuf;
use std::time::Duration;

/// How messages are written where a frontend writes them (the CLI's stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceFormat {
    /// `LEVEL [type] text` lines.
    #[default]
    Default,
    /// The same lines (dsc's name for them without colour).
    Plaintext,
    /// One JSON object per message.
    Json,
}

/// What the caller chose explicitly; anything left `None` comes from settings and environment.
#[derive(Debug, Clone)]
pub struct SetupRequest {
    /// Read no settings or policy file (also when the environment says so).
    pub ignore_settings_file: bool,
    /// The trace level (used only where the settings allow overriding).
    pub trace_level: Option<Level>,
    /// The trace format name: `default`, `plaintext` or `json` (case-insensitive).
    pub trace_format: Option<String>,
    /// Where traek's own files are (defaults file, core resources) and the policy file.
    pub locations: SettingsLocations,
    /// Search exactly these directories for manifests, whatever the settings say.
    pub resource_path: Option<Vec<PathBuf>>,
    /// Kill a resource after this many seconds (must be positive).
    pub timeout_seconds: Option<f64>,
}

impl SetupRequest {
    /// Nothing chosen: everything from settings and environment, for a process whose
    /// executable lives in traek's directory (the CLI).
    pub fn for_this_process() -> Self {
        SetupRequest {
            ignore_settings_file: false,
            trace_level: None,
            trace_format: None,
            locations: SettingsLocations::for_this_process(),
            resource_path: None,
            timeout_seconds: None,
        }
    }
}

/// The result of [`setup`].
#[derive(Debug, Clone)]
pub struct Setup {
    pub options: EngineOptions,
    pub trace_format: TraceFormat,
    /// Directories of core resources for packages that allow them (see [`core_dirs`]).
    pub core_dirs: Vec<PathBuf>,
    /// Problems with the settings files, for the frontend to show as warnings.
    pub warnings: Vec<String>,
}

/// A timeout given in seconds, checked: a positive, finite number.
pub fn timeout(seconds: f64) -> Result<Duration, FrontendError> {
    if seconds.is_finite() && seconds > 0.0 {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err(FrontendError::Usage(format!(
            "the timeout must be a positive number of seconds, not {seconds}"
        )))
    }
}

/// Directories of core resources a package that allows them may use: traek's own directory,
/// then `DSC_RESOURCE_PATH`. Never the host `PATH`.
pub fn core_dirs(binary_dir: Option<&std::path::Path>, env: &EnvValues) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = binary_dir.map(PathBuf::from).into_iter().collect();
    if let Some(p) = &env.dsc_resource_path {
        dirs.extend(std::env::split_paths(p).filter(|d| !d.as_os_str().is_empty()));
    }
    dirs
}

/// Engine options from the settings files (unless ignored), `env` and the request.
pub fn setup(request: &SetupRequest, env: &EnvValues) -> Result<Setup, FrontendError> {
    let ignore = request.ignore_settings_file || env.ignore_settings_file;
    let loaded = settings::load(&request.locations, ignore);
    let mut warnings = loaded.warnings;
    let s = &loaded.settings;
    let trace_format = match s.trace_format(request.trace_format.as_deref()).as_str() {
        "json" => TraceFormat::Json,
        "plaintext" => TraceFormat::Plaintext,
        "default" => TraceFormat::Default,
        other => {
            warnings.push(format!(
                "settings tracing.format '{other}' is not Default, Plaintext or Json"
            ));
            TraceFormat::Default
        }
    };
    let binary_dir = request.locations.binary_dir.as_deref();
    let mut options = EngineOptions::from_process_env();
    options.trace_level = s.trace_level(request.trace_level, env, &mut warnings);
    let resolved = s.search_path(env, binary_dir);
    options.search_path = resolved.search_path;
    if let Some(path) = resolved.process_path {
        options.env.push(("PATH".into(), path));
    }
    if let Some(dirs) = &request.resource_path {
        options.search_path = SearchPath {
            dirs: dirs
                .iter()
                .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone()))
                .collect(),
        };
    }
    options.timeout = request.timeout_seconds.map(timeout).transpose()?;
    Ok(Setup {
        options,
        trace_format,
        core_dirs: core_dirs(binary_dir, env),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dir: &std::path::Path) -> SetupRequest {
        SetupRequest {
            locations: SettingsLocations {
                binary_dir: Some(dir.to_path_buf()),
                policy_file: dir.join("policy.json"),
            },
            ..SetupRequest::for_this_process()
        }
    }

    #[test]
    fn settings_that_forbid_overriding_decide_over_the_callers_trace_level() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("traek.settings.json"),
            r#"{"tracing": {"level": "debug", "allowOverride": false}}"#,
        )
        .unwrap();
        let mut req = request(dir.path());
        req.trace_level = Some(Level::Error);
        let s = setup(&req, &EnvValues::default()).unwrap();
        assert_eq!(s.options.trace_level, Level::Debug);
        req.ignore_settings_file = true;
        let s = setup(&req, &EnvValues::default()).unwrap();
        assert_eq!(s.options.trace_level, Level::Error);
    }

    #[test]
    fn core_dirs_are_traeks_directory_then_dsc_resource_path_never_path() {
        let env = EnvValues {
            dsc_resource_path: Some(std::env::join_paths(["/a", "", "/b"]).unwrap()),
            path: Some("/usr/bin".into()),
            ..EnvValues::default()
        };
        let dirs = core_dirs(Some(std::path::Path::new("/opt/traek")), &env);
        assert_eq!(dirs, ["/opt/traek", "/a", "/b"].map(PathBuf::from));
        assert!(core_dirs(None, &EnvValues::default()).is_empty());
    }

    #[test]
    fn a_timeout_must_be_a_positive_number() {
        assert_eq!(timeout(1.5).unwrap(), Duration::from_millis(1500));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = timeout(bad).unwrap_err();
            assert_eq!(e.class(), crate::ErrorClass::Usage, "{bad}");
        }
    }

    #[test]
    fn explicit_resource_directories_replace_the_search_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut req = request(dir.path());
        req.resource_path = Some(vec![dir.path().join("r")]);
        let s = setup(&req, &EnvValues::default()).unwrap();
        assert_eq!(s.options.search_path.dirs, vec![dir.path().join("r")]);
    }
}
