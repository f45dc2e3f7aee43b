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

/// `<Name>.mof` → the configuration `<Name>`.
fn configuration_key(stem: &str) -> Result<ContentKey, String> {
    check_name("configuration name", stem).map_err(|e| e.to_string())?;
    Ok(ContentKey::Configuration {
        name: stem.to_string(),
    })
}

/// `<Module>_<Version>.zip` → that module version.
fn module_key(stem: &str) -> Result<ContentKey, String> {
    let (name, version) = stem
        .rsplit_once('_')
        .ok_or("module file names are <Module>_<Version>.zip")?;
    check_name("module name", name)
        .and_then(|_| check_module_version(version))
        .map_err(|e| e.to_string())?;
    Ok(ContentKey::Module {
        name: name.to_string(),
        version: version.to_string(),
    })
}

/// Imports every `*<suffix>` file of `dir` (suffix matched case-insensitively) whose name maps
/// to a content key and whose checksum file, if any, agrees; returns what was imported.
async fn import_dir(
    dir: &Path,
    suffix: &str,
    key_of: fn(&str) -> Result<ContentKey, String>,
    storage: &dyn Storage,
    report: &mut ImportReport,
    public_url: &str,
) -> Result<Vec<String>, String> {
    let mut imported = Vec::new();
    for file in sorted_entries(dir) {
        let fname = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(stem) = fname
            .len()
            .checked_sub(suffix.len())
            .filter(|&n| fname.is_char_boundary(n) && fname[n..].eq_ignore_ascii_case(suffix))
            .map(|n| &fname[..n])
        else {
            continue;
        };
        let key = match key_of(stem) {
            Ok(k) => k,
            Err(reason) => {
                report.skipped.push((file.display().to_string(), reason));
                continue;
            }
        };
        let live = storage
            .rollouts()
            .get(&key)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|r| r.rollout)
            .filter(|r| r.state.is_live());
        if let Some(r) = live {
            report.skipped.push((
                file.display().to_string(),
                format!(
                    "a rollout of version {} is under way: promote or abort it first",
                    r.candidate_version
                ),
            ));
            continue;
        }
        let Some(bytes) = read_verified(&file, report)? else {
            continue;
        };
        let label = match &key {
            ContentKey::Configuration { name } | ContentKey::Package { name } => name.clone(),
            ContentKey::Module { name, version } => format!("{name} {version}"),
        };
        let before = storage
            .content_meta(&key)
            .await
            .map_err(|e| e.to_string())?
            .map(|m| m.checksum);
        let meta = storage
            .put_content(key.clone(), Bytes::from(bytes))
            .await
            .map_err(|e| e.to_string())?;
        if !matches!(key, ContentKey::Module { .. }) {
            let by = crate::storage::versions::Publisher {
                actor: "traek-server import".into(),
                origin: "import".into(),
                message: Some(file.display().to_string()),
            };
            storage
                .versions()
                .record(
                    &key,
                    &meta.checksum,
                    meta.size,
                    crate::storage::now_unix(),
                    &by,
                )
                .await
                .map_err(|e| e.to_string())?;
        }
        crate::notify::published(storage, public_url, &key, before.as_deref(), &meta.checksum)
            .await
            .map_err(|e| e.to_string())?;
        imported.push(label);
    }
    Ok(imported)
}

/// Imports `src` into `storage` and `keys`.
pub async fn import_windows_layout(
    src: &Path,
    storage: &dyn Storage,
    keys: &KeyFile,
    public_url: &str,
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
        report.configurations = import_dir(
            &dir,
            ".mof",
            configuration_key,
            storage,
            &mut report,
            public_url,
        )
        .await?;
    }
    if let Some(dir) = find("Modules") {
        report.modules =
            import_dir(&dir, ".zip", module_key, storage, &mut report, public_url).await?;
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
