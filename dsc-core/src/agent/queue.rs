//! Reports waiting for the server, one file per report in `STATE_DIR/queue`, named
//! `<sequence>-<JobId>.json` so that they are delivered in the order they were made. The queue
//! is bounded ([`MAX_REPORTS`], [`MAX_BYTES`]): past either, the oldest reports are dropped
//! with a warning. A report leaves the queue only once the server acknowledged it; the server
//! stores a traek agent's report once per JobId, so a report sent again after a crash between
//! the acknowledgement and its removal is not stored twice.

use super::AgentError;
use super::store::write_atomic;
use std::path::{Path, PathBuf};

pub const MAX_REPORTS: usize = 1000;
pub const MAX_BYTES: u64 = 50 * 1024 * 1024;

/// The queue in a directory.
pub struct Queue {
    dir: PathBuf,
}

/// What delivering the queue did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub sent: usize,
    /// Reports the server refused for good (4xx): dropped, with the reason.
    pub refused: Vec<String>,
    /// The server could not be reached (or answered 5xx): the rest stays queued.
    pub stopped: Option<String>,
}

impl Queue {
    pub fn new(dir: &Path) -> Self {
        Queue {
            dir: dir.to_path_buf(),
        }
    }

    /// The queued reports, oldest first: (path, size).
    pub fn entries(&self) -> Vec<(PathBuf, u64)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<(PathBuf, u64)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
            .collect();
        out.sort();
        out
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a report; returns warnings about reports dropped to stay within the bounds.
    pub fn push(&self, job_id: &str, body: &[u8]) -> Result<Vec<String>, AgentError> {
        let entries = self.entries();
        let next = entries
            .last()
            .and_then(|(p, _)| {
                p.file_name()?
                    .to_str()?
                    .split('-')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .map_or(1, |n| n + 1);
        write_atomic(&self.dir.join(format!("{next:020}-{job_id}.json")), body)?;
        let mut entries = self.entries();
        let mut warnings = Vec::new();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        while entries.len() > MAX_REPORTS || (total > MAX_BYTES && entries.len() > 1) {
            let (oldest, size) = entries.remove(0);
            let _ = std::fs::remove_file(&oldest);
            total -= size;
            warnings.push(format!(
                "the report queue is full ({MAX_REPORTS} reports or {} MB at most): dropped the oldest, {}",
                MAX_BYTES / (1024 * 1024),
                oldest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            ));
        }
        Ok(warnings)
    }

    /// Sends every queued report, oldest first, with `send` (which answers the HTTP status or
    /// an error); stops at the first report that could not be delivered.
    pub fn deliver(&self, send: &mut dyn FnMut(&[u8]) -> Result<u16, String>) -> Delivery {
        let mut d = Delivery::default();
        for (path, _) in self.entries() {
            let Ok(body) = std::fs::read(&path) else {
                continue;
            };
            match send(&body) {
                Ok(200..=299) => {
                    let _ = std::fs::remove_file(&path);
                    d.sent += 1;
                }
                Ok(status @ 400..=499) => {
                    let _ = std::fs::remove_file(&path);
                    d.refused
                        .push(format!("{} (HTTP {status})", path.display()));
                }
                Ok(status) => {
                    d.stopped = Some(format!("the server answered {status}"));
                    break;
                }
                Err(e) => {
                    d.stopped = Some(e);
                    break;
                }
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_delivered_in_order_and_removed_once_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::new(dir.path());
        for i in 0..3 {
            q.push(&format!("job{i}"), format!("{i}").as_bytes())
                .unwrap();
        }
        let mut seen = Vec::new();
        let d = q.deliver(&mut |b| {
            seen.push(String::from_utf8_lossy(b).into_owned());
            if seen.len() == 2 {
                Err("down".into())
            } else {
                Ok(200)
            }
        });
        assert_eq!((d.sent, d.stopped.as_deref()), (1, Some("down")));
        assert_eq!(seen, ["0", "1"]);
        assert_eq!(q.len(), 2, "the undelivered ones stay");
        let mut rest = Vec::new();
        q.deliver(&mut |b| {
            rest.push(String::from_utf8_lossy(b).into_owned());
            Ok(200)
        });
        assert_eq!(rest, ["1", "2"]);
        assert!(q.is_empty());
    }

    #[test]
    fn the_oldest_reports_are_dropped_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::new(dir.path());
        let mut warnings = Vec::new();
        for i in 0..MAX_REPORTS + 2 {
            warnings.extend(q.push(&format!("j{i}"), b"{}").unwrap());
        }
        assert_eq!(q.len(), MAX_REPORTS);
        assert_eq!(warnings.len(), 2);
        let first = q.entries()[0]
            .0
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(first.ends_with("-j2.json"), "{first}");
    }
}
