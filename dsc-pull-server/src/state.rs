//! The state every request handler shares. Handlers import this module; the dispatcher
//! ([`crate::app`]) imports the handlers, never the other way round.

use crate::config::ServerConfig;
use crate::keys::KeyFile;
use crate::metrics::Metrics;
use crate::storage::{PrunePolicy, Storage};
use std::sync::Arc;

/// Everything a request handler needs.
pub struct App {
    pub storage: Arc<dyn Storage>,
    pub keys: KeyFile,
    pub config: ServerConfig,
    pub admin_token: String,
    pub metrics: Metrics,
    /// HTTPS configuration; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl App {
    /// The stale threshold in seconds.
    pub fn stale_after_secs(&self) -> i64 {
        i64::try_from(self.config.stale_after.as_secs()).unwrap_or(i64::MAX)
    }

    /// The report-retention policy as of now.
    pub fn prune_policy(&self) -> PrunePolicy {
        PrunePolicy {
            older_than: self.config.report_retention.map(|d| {
                crate::storage::now_unix() - i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
            }),
            max_per_node: self.config.max_reports_per_node,
        }
    }
}

pub use crate::proxy::Peer;
