//! Importing a Windows pull server's content folder:
//! `SRC/Configuration/<Name>.mof` (+ `.mof.checksum`), `SRC/Modules/<Module>_<Version>.zip`
//! (+ `.zip.checksum`) and `SRC/RegistrationKeys.txt`.
//!
//! A checksum file that disagrees with its content is reported and that item skipped; an item
//! without a checksum file is imported (its checksum is computed).

use crate::keys::KeyFile;
use crate::storage::{ContentKey, Storage};
use bytes::Bytes;
use dsc_core::pull::checksum::{is_checksum, same_checksum, sha256_hex};
use dsc_core::pull::path::{check_module_version, check_name};
use std::path::Path;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub configurations: Vec<String>,
    pub modules: Vec<String>,
    pub keys_added: usize,
    /// `(file, reason)` for every item skipped.
    pub skipped: Vec<(String, String)>,
}

fn checksum_problem(file: &Path, bytes: &[u8]) -> Option<String> {
    let side = file.with_file_name(format!("{}.checksum", file.file_name()?.to_string_lossy()));
    let text = std::fs::read_to_string(&side).ok()?;
    let want = text.trim_start_matches('\u{feff}').trim();
    if !is_checksum(want) {
        return Some(format!(
            "{} does not hold a SHA-256 checksum",
            side.display()
        ));
    }
    let have = sha256_hex(bytes);
    (!same_checksum(want, &have))
        .then(|| format!("checksum file says {want} but the content hashes to {have}"))
}

/// The file's bytes when they agree with its checksum file (or it has none); otherwise the
/// item is recorded as skipped and `None` returned.
fn read_verified(file: &Path, report: &mut ImportReport) -> Result<Option<Vec<u8>>, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    match checksum_problem(file, &bytes) {
        Some(problem) => {
            report.skipped.push((file.display().to_string(), problem));
            Ok(None)
        }
        None => Ok(Some(bytes)),
    }
}

fn sorted_entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Imports `src` into `storage` and `keys`.
pub async fn import_windows_layout(
    src: &Path,
    storage: &dyn Storage,
    keys: &KeyFile,
) -> Result<ImportReport, String> {
    if !src.is_dir() {
        return Err(format!("'{}' is not a directory", src.display()));
    }
    let mut report = ImportReport::default();
    let find = |name: &str| {
        sorted_entries(src).into_iter().find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(name))
        })
    };
    if let Some(dir) = find("Configuration") {
        for file in sorted_entries(&dir) {
            let fname = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(name) = fname
                .strip_suffix(".mof")
                .or_else(|| fname.strip_suffix(".MOF"))
            else {
                continue;
            };
            if let Err(e) = check_name("configuration name", name) {
                report
                    .skipped
                    .push((file.display().to_string(), e.to_string()));
                continue;
            }
            let Some(bytes) = read_verified(&file, &mut report)? else {
                continue;
            };
            storage
                .put_content(
                    ContentKey::Configuration {
                        name: name.to_string(),
                    },
                    Bytes::from(bytes),
                )
                .await
                .map_err(|e| e.to_string())?;
            report.configurations.push(name.to_string());
        }
    }
    if let Some(dir) = find("Modules") {
        for file in sorted_entries(&dir) {
            let fname = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(stem) = fname
                .strip_suffix(".zip")
                .or_else(|| fname.strip_suffix(".ZIP"))
            else {
                continue;
            };
            let Some((name, version)) = stem.rsplit_once('_') else {
                report.skipped.push((
                    file.display().to_string(),
                    "module file names are <Module>_<Version>.zip".into(),
                ));
                continue;
            };
            if let Err(e) =
                check_name("module name", name).and_then(|_| check_module_version(version))
            {
                report
                    .skipped
                    .push((file.display().to_string(), e.to_string()));
                continue;
            }
            let Some(bytes) = read_verified(&file, &mut report)? else {
                continue;
            };
            storage
                .put_content(
                    ContentKey::Module {
                        name: name.to_string(),
                        version: version.to_string(),
                    },
                    Bytes::from(bytes),
                )
                .await
                .map_err(|e| e.to_string())?;
            report.modules.push(format!("{name} {version}"));
        }
    }
    if let Some(file) = find("RegistrationKeys.txt") {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        for key in dsc_core::pull::auth::parse_keys_file(&text) {
            if keys
                .add(storage, &key, "import")
                .await
                .map_err(|e| e.to_string())?
            {
                report.keys_added += 1;
            }
        }
    }
    storage.flush().await.map_err(|e| e.to_string())?;
    Ok(report)
}
