//! Registration keys. The storage (behind the `Storage` trait) is authoritative and keeps the
//! history of revocations; `RegistrationKeys.txt` (one key per line, `#` comments) is kept as a
//! mirror of the active keys, in the format the Windows pull server uses:
//!
//! - at start, on SIGHUP and on `POST /api/v1/keys/reload`, the file's keys are added to storage
//!   and active keys no longer in the file are revoked (an administrator who deletes a line means
//!   "revoke");
//! - keys added or revoked through the admin API are written back to the file atomically.
//!
//! With PostgreSQL the database is the only source of truth unless a keys file is named
//! explicitly: then [`KeyFile::none`] is used and every operation touches storage alone.

use crate::storage::{Storage, StorageError};
use dsc_core::pull::auth::parse_keys_file;
use std::path::{Path, PathBuf};

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The `RegistrationKeys.txt` mirror, or none.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: Option<PathBuf>,
}

impl KeyFile {
    pub fn new(path: &Path) -> Self {
        KeyFile {
            path: Some(path.to_path_buf()),
        }
    }

    /// No file: keys live in storage only.
    pub fn none() -> Self {
        KeyFile { path: None }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn file_error(&self, path: &Path, source: std::io::Error) -> KeyError {
        KeyError::File {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The keys in the file (a missing file has none).
    pub fn read(&self) -> Result<Vec<String>, KeyError> {
        let Some(path) = &self.path else {
            return Ok(Vec::new());
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(parse_keys_file(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.file_error(path, e)),
        }
    }

    /// Makes storage match the file: adds its keys, revokes active keys it no longer lists.
    /// Returns the number of active keys. Without a file, only counts them.
    pub async fn sync(&self, storage: &dyn Storage) -> Result<usize, KeyError> {
        if self.path.is_none() {
            return Ok(storage.registration_keys().await?.len());
        }
        let in_file = self.read()?;
        storage
            .add_registration_keys(in_file.clone(), "file")
            .await?;
        for k in storage.registration_keys().await? {
            if !in_file.contains(&k.key) {
                storage.revoke_registration_key(&k.key).await?;
            }
        }
        Ok(storage.registration_keys().await?.len())
    }

    /// Adds a key to storage and to the file. False when it was already active.
    pub async fn add(
        &self,
        storage: &dyn Storage,
        key: &str,
        source: &str,
    ) -> Result<bool, KeyError> {
        let key = key.trim();
        let added = storage
            .add_registration_keys(vec![key.to_string()], source)
            .await?
            > 0;
        let Some(path) = &self.path else {
            return Ok(added);
        };
        if !self.read()?.iter().any(|k| k == key) {
            let mut text = std::fs::read_to_string(path).unwrap_or_default();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(key);
            text.push('\n');
            dsc_core::atomic::write(path, text.as_bytes()).map_err(|e| self.file_error(path, e))?;
            restrict(path);
        }
        Ok(added)
    }

    /// Revokes a key (by id or value) in storage and removes it from the file. False when no
    /// active key matches.
    pub async fn revoke(&self, storage: &dyn Storage, id_or_key: &str) -> Result<bool, KeyError> {
        let Some(key) = storage.revoke_registration_key(id_or_key).await? else {
            return Ok(false);
        };
        let Some(path) = &self.path else {
            return Ok(true);
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| l.split('#').next().unwrap_or("").trim() != key)
            .collect();
        dsc_core::atomic::write(path, (kept.join("\n") + "\n").as_bytes())
            .map_err(|e| self.file_error(path, e))?;
        Ok(true)
    }
}

/// Keys are secrets: readable by the owner only.
#[cfg(unix)]
pub fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}
#[cfg(not(unix))]
pub fn restrict(_: &Path) {}

/// Makes the data directory and what the server keeps in it private to the server's user:
/// the directory and `blobs/` 0700, the database files 0600 (they hold the registration keys
/// and account hashes). Files the server creates later are private through its umask.
#[cfg(unix)]
pub fn secure_data_dir(data_dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let set = |p: &Path, mode: u32| {
        if p.exists() {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
        }
    };
    set(data_dir, 0o700);
    set(&data_dir.join("blobs"), 0o700);
    for f in [
        "traek.db",
        "traek.db-wal",
        "traek.db-shm",
        "RegistrationKeys.txt",
        "admin-token",
    ] {
        set(&data_dir.join(f), 0o600);
    }
}
#[cfg(not(unix))]
pub fn secure_data_dir(_: &Path) {}
