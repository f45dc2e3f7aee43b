//! Registration keys: a `RegistrationKeys.txt` file (one key per line, `#` comments), held in
//! memory, reloaded on SIGHUP or through the admin API, edited atomically by the admin API.

use dsc_core::pull::auth::parse_keys_file;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// A short, non-secret identifier of a key (recorded with each registration).
pub fn key_id(key: &str) -> String {
    dsc_core::pull::checksum::upper_hex(&Sha256::digest(key.as_bytes())[..6])
}

/// The registration keys in force.
#[derive(Debug)]
pub struct KeyRing {
    path: PathBuf,
    keys: RwLock<Vec<String>>,
}

impl KeyRing {
    /// Loads the file (a missing file means no keys).
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let ring = KeyRing {
            path: path.to_path_buf(),
            keys: RwLock::new(Vec::new()),
        };
        ring.reload()?;
        Ok(ring)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file; returns the number of keys.
    pub fn reload(&self) -> std::io::Result<usize> {
        let keys = match std::fs::read_to_string(&self.path) {
            Ok(text) => parse_keys_file(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let n = keys.len();
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(n)
    }

    pub fn keys(&self) -> Vec<String> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Adds a key (appended to the file, written atomically). False when already present.
    pub fn add(&self, key: &str) -> std::io::Result<bool> {
        let key = key.trim();
        if self.keys().iter().any(|k| k == key) {
            return Ok(false);
        }
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut text = text;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(key);
        text.push('\n');
        write_atomic(&self.path, text.as_bytes())?;
        self.reload()?;
        Ok(true)
    }

    /// Removes the key with this id (or this exact key). False when absent.
    pub fn revoke(&self, id_or_key: &str) -> std::io::Result<bool> {
        let keys = self.keys();
        let Some(victim) = keys
            .iter()
            .find(|k| *k == id_or_key || key_id(k).eq_ignore_ascii_case(id_or_key))
            .cloned()
        else {
            return Ok(false);
        };
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| l.split('#').next().unwrap_or("").trim() != victim)
            .collect();
        write_atomic(&self.path, (kept.join("\n") + "\n").as_bytes())?;
        self.reload()?;
        Ok(true)
    }
}

/// Writes a file atomically: a temporary file in the same directory, fsynced, renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
