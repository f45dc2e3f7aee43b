//! Preparing a package to run: verify it, unpack it into a fresh private directory, and say
//! where its configuration and resources are. The directory is removed when the
//! [`PreparedPackage`] is dropped (frontends also remove it on Ctrl-C: see `temp_dir()`).

use super::archive::{self, Extract, Limits, OpenedPackage, PackageError};
use super::manifest::{RemovePackage, check_inside};
use crate::discovery::SearchPath;
use ed25519_dalek::VerifyingKey;
use std::path::{Path, PathBuf};

/// A private temporary directory (mode 0700), removed on drop.
#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Creates `traek-pkg-<random>` in the system temporary directory.
    pub fn new() -> Result<Self, PackageError> {
        let base = std::env::temp_dir();
        for _ in 0..16 {
            let path = base.join(format!("traek-pkg-{}", uuid::Uuid::new_v4().simple()));
            let mut b = std::fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            match b.create(&path) {
                Ok(()) => return Ok(PrivateDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(PackageError::Io(format!(
                        "creating a temporary directory in {}: {e}",
                        base.display()
                    )));
                }
            }
        }
        Err(PackageError::Io(
            "could not create a unique temporary directory".into(),
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Trust settings for running a package.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub keys: Vec<VerifyingKey>,
    /// Run unsigned or untrusted packages too.
    pub allow_unsigned: bool,
}

/// A verified, unpacked package.
#[derive(Debug)]
pub struct PreparedPackage {
    pub dir: PrivateDir,
    pub opened: OpenedPackage,
    /// The configuration document (its directory is DSC_CONFIG_ROOT).
    pub configuration: PathBuf,
    /// Where resources are searched: the package's `resourcePath`, then (only with
    /// `allowCoreResources`) the core directories given to [`prepare`].
    pub search_path: SearchPath,
}

/// Verifies and unpacks a package. `core_dirs` are traek's own directory and the
/// DSC_RESOURCE_PATH entries, searched after the package when it allows core resources; the host
/// PATH is never searched.
pub fn prepare(
    package: &Path,
    trust: &Trust,
    core_dirs: &[PathBuf],
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PreparedPackage, PackageError> {
    let dir = PrivateDir::new()?;
    let opened = archive::open(
        package,
        &trust.keys,
        Limits::default(),
        Some(Extract { root: dir.path() }),
        progress,
    )?;
    if !trust.allow_unsigned {
        archive::require_trusted(&opened)?;
    }
    let m = &opened.manifest;
    let config_rel = check_inside(&m.configuration_file).map_err(PackageError::Build)?;
    let configuration = dir.path().join(&config_rel);
    if !configuration.is_file() {
        return Err(PackageError::BadManifest {
            path: opened.manifest_path.clone(),
            reason: format!("configurationFile '{config_rel}' is not in the package"),
        });
    }
    let mut dirs = Vec::new();
    for p in &m.resource_path {
        let rel = check_inside(p).map_err(PackageError::Build)?;
        dirs.push(if rel.is_empty() {
            dir.path().to_path_buf()
        } else {
            dir.path().join(rel)
        });
    }
    if m.allow_core_resources == Some(true) {
        dirs.extend(core_dirs.iter().cloned());
    }
    Ok(PreparedPackage {
        dir,
        opened,
        configuration,
        search_path: SearchPath { dirs },
    })
}

/// Applies `removePackage` after a run.
pub fn apply_remove_policy(
    package: &Path,
    policy: RemovePackage,
    succeeded: bool,
) -> std::io::Result<bool> {
    let remove = match policy {
        RemovePackage::Always => true,
        RemovePackage::OnSuccess => succeeded,
        RemovePackage::Never => false,
    };
    if remove {
        std::fs::remove_file(package)?;
    }
    Ok(remove)
}

/// Whether a path names a package (by extension, or by the zip signature).
pub fn is_package(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dscpkg"))
    {
        return true;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

/// Why a package could not be run (resource failures are reported in the result instead).
#[derive(Debug, thiserror::Error)]
pub enum PackageRunError {
    /// Verification, trust or unpacking failed.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The package's configuration could not run (document, parameters, expressions).
    #[error(transparent)]
    Run(#[from] crate::config::run::RunError),
}

impl PackageRunError {
    pub fn class(&self) -> crate::ErrorClass {
        match self {
            PackageRunError::Package(p) => p.class(),
            PackageRunError::Run(r) => r.class(),
        }
    }
}

/// A finished package run.
#[derive(Debug)]
pub struct PackageRun {
    pub result: crate::config::run::ConfigResult,
    /// Whether `removePackage` deleted the `.dscpkg`, or why deleting it failed.
    pub removed: Result<bool, String>,
}

/// Runs a package like a configuration document: [`prepare`] it, call `unpacked` with the
/// private directory (so a frontend can remove it on Ctrl-C), run its configuration with an
/// engine that searches only the package (and `core_dirs` when it allows core resources) and sees
/// `DSC_CONFIG_ROOT`, remove the unpacked files, then apply `removePackage` (the package counts
/// as succeeded when no resource failed).
#[allow(clippy::too_many_arguments)]
pub fn run_package(
    options: &crate::engine::EngineOptions,
    package: &Path,
    trust: &Trust,
    core_dirs: &[PathBuf],
    parameters: &serde_json::Map<String, serde_json::Value>,
    operation: crate::config::run::Operation,
    progress: &mut dyn FnMut(u64, u64),
    unpacked: &mut dyn FnMut(&Path),
) -> Result<PackageRun, PackageRunError> {
    let prepared = prepare(package, trust, core_dirs, progress)?;
    unpacked(prepared.dir.path());
    let result = run_prepared(options, &prepared, parameters, operation)?;
    let policy = prepared.opened.manifest.remove_package();
    drop(prepared); // removes the unpacked files
    let removed = apply_remove_policy(package, policy, !result.had_errors)
        .map_err(|e| format!("removing {} (removePackage): {e}", package.display()));
    Ok(PackageRun { result, removed })
}

/// Runs the configuration of a prepared package with an engine that searches only the package
/// (and its allowed core directories) and sees `DSC_CONFIG_ROOT`. The package stays unpacked, so
/// one preparation serves several operations (a test, then a set).
pub fn run_prepared(
    options: &crate::engine::EngineOptions,
    prepared: &PreparedPackage,
    parameters: &serde_json::Map<String, serde_json::Value>,
    operation: crate::config::run::Operation,
) -> Result<crate::config::run::ConfigResult, PackageRunError> {
    let text = std::fs::read_to_string(&prepared.configuration)
        .map_err(|e| PackageError::Io(format!("reading the package's configuration: {e}")))?;
    let doc = crate::config::document::parse_document(&text)
        .map_err(crate::config::run::RunError::Document)?;
    let mut options = options.clone();
    options.search_path = prepared.search_path.clone();
    let root = prepared
        .configuration
        .parent()
        .map(|p| p.as_os_str().to_owned())
        .unwrap_or_default();
    options.set_config_root(root);
    let engine = crate::engine::Engine::new(options);
    Ok(crate::config::run::run(
        &engine, &doc, parameters, operation,
    )?)
}
