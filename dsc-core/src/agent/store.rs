//! The agent's state directory: settings, the state of the last cycle, verified packages and
//! the report queue. Every file is written atomically (a temporary file in the same directory,
//! fsynced, renamed, then the directory fsynced), so `kill -9` at any moment leaves either the
//! old or the new version of each file, never a torn one.
//!
//! ```text
//! STATE_DIR/agent.json             settings (mode 0600: holds the registration key)
//! STATE_DIR/client.pem, client.key the client certificate and its key (0600)
//! STATE_DIR/state.json             what the last cycle did and which package is current
//! STATE_DIR/packages/<SHA256>.dscpkg  verified packages, named by their checksum
//! STATE_DIR/queue/                 reports waiting for the server (see `queue`)
//! ```

use super::AgentError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically, readable and writable by its owner only (0600):
/// settings hold the registration key, packages and reports describe the machine.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    crate::atomic::write(path, bytes).map_err(|e| AgentError::Io(e.to_string()))
}

/// Reads a JSON file; `None` when it does not exist.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, AgentError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| AgentError::Io(format!("{} is damaged: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AgentError::Io(format!("reading {}: {e}", path.display()))),
    }
}

/// Writes a JSON file atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), AgentError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| AgentError::Io(e.to_string()))?;
    write_atomic(path, &bytes)
}

/// Paths inside a state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    pub fn new(root: &Path) -> Self {
        StateDir {
            root: root.to_path_buf(),
        }
    }

    /// Creates the directory (0700) and its subdirectories.
    pub fn create(&self) -> Result<(), AgentError> {
        for dir in [self.root.clone(), self.packages(), self.queue()] {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(&dir)
                .map_err(|e| AgentError::Io(format!("creating {}: {e}", dir.display())))?;
        }
        Ok(())
    }

    pub fn settings(&self) -> PathBuf {
        self.root.join("agent.json")
    }
    pub fn state(&self) -> PathBuf {
        self.root.join("state.json")
    }
    pub fn client_cert(&self) -> PathBuf {
        self.root.join("client.pem")
    }
    pub fn client_key(&self) -> PathBuf {
        self.root.join("client.key")
    }
    /// What registrations say about the client certificate (thumbprint, validity).
    pub fn client_info(&self) -> PathBuf {
        self.root.join("client.json")
    }
    pub fn packages(&self) -> PathBuf {
        self.root.join("packages")
    }
    pub fn package(&self, checksum: &str) -> PathBuf {
        self.packages().join(format!("{checksum}.dscpkg"))
    }
    pub fn queue(&self) -> PathBuf {
        self.root.join("queue")
    }

    /// Removes package files other than `keep` (left by an interrupted cycle or replaced).
    pub fn remove_other_packages(&self, keep: &[&str]) {
        let Ok(entries) = std::fs::read_dir(self.packages()) else {
            return;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            let checksum = name.trim_end_matches(".dscpkg");
            if !keep.contains(&checksum) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The default state directory: `/var/lib/traek-agent` for root, else
/// `$XDG_STATE_HOME/traek-agent` (or `~/.local/state/traek-agent`).
pub fn default_state_dir() -> PathBuf {
    #[cfg(unix)]
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/traek-agent");
    }
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("traek-agent");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/state/traek-agent")
}
