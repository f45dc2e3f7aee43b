//! Replacing a file atomically: the content goes to a new temporary file in the same directory
//! (created with the requested mode, never readable by others in between), is fsynced, renamed
//! over the target, and the directory is fsynced. A crash at any moment leaves the old file or
//! the new one, never a torn one; a failed write removes its temporary file.
//!
//! Every file traek replaces (agent state, registration keys, content blobs, packages, caches)
//! is written through here.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Owner read and write only: for anything that may hold a secret or describe a machine.
pub const PRIVATE: u32 = 0o600;
/// Readable by everyone, as a user's build output usually is.
pub const PUBLIC: u32 = 0o644;

/// Writes `bytes` to `path` atomically with mode 0600.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, PRIVATE, |f| f.write_all(bytes))
}

/// Replaces `path` with what `fill` writes into a fresh temporary file (created with `mode` on
/// Unix) and returns what `fill` returned. `fill` may seek; the file is synced here. Errors of
/// this function's own steps name the file.
pub fn replace<T, E: From<std::io::Error>>(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File) -> Result<T, E>,
) -> Result<T, E> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let tmp = temporary_name(dir, path);
    let named = |what: &str, e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
    };
    let mut file = create_new(&tmp, mode).map_err(|e| named("creating a temporary file for", e))?;
    let written = fill(&mut file).and_then(|value| {
        file.sync_all()
            .map(|()| value)
            .map_err(|e| E::from(named("syncing", e)))
    });
    drop(file);
    let renamed = written.and_then(|value| {
        std::fs::rename(&tmp, path)
            .map(|()| value)
            .map_err(|e| E::from(named("replacing", e)))
    });
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    } else if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    renamed
}

/// `.NAME.<random>.tmp` beside the target: hidden, unique, never the name of a real file.
fn temporary_name(dir: &Path, path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()))
}

fn create_new(path: &Path, mode: u32) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).read(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_replaces_the_old_one_and_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        std::fs::write(&p, b"old").unwrap();
        write(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_failed_fill_keeps_the_old_file_and_removes_the_temporary_one() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("keys.txt");
        std::fs::write(&p, b"old").unwrap();
        let r: std::io::Result<()> = replace(&p, PRIVATE, |f| {
            f.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
