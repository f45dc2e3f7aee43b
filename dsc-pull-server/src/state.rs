//! The state every request handler shares. Handlers import this module; the dispatcher
//! ([`crate::app`]) imports the handlers, never the other way round.

use crate::config::ServerConfig;
use crate::keys::KeyFile;
use crate::metrics::Metrics;
use crate::storage::{PrunePolicy, Storage};
use std::sync::Arc;
use uuid::Uuid;

/// Everything a request handler needs.
pub struct App {
    pub storage: Arc<dyn Storage>,
    pub keys: KeyFile,
    pub config: ServerConfig,
    pub admin_token: String,
    pub metrics: Metrics,
    /// HTTPS configuration; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Notifications' queue and wake-up on this replica.
    pub notifier: Notifier,
    /// The server's address as users and receivers reach it (`--public-url`, else the
    /// address it listens on), without a trailing slash.
    pub public_url: String,
    /// Single sign-on, when an issuer is configured.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
    /// Held while a Git source is looked at, so the poller and a `POST .../sync` on this
    /// replica never publish the same commit twice (the claim in storage, which does the same
    /// across replicas, is held by a replica, not by one of its tasks).
    pub git_sync: tokio::sync::Mutex<()>,
}

impl App {
    /// Takes or renews the lease `name` for this replica, for three periods of `every`, so that
    /// one replica at a time does a periodic job; false while another replica holds it (or
    /// storage failed, which is logged).
    pub async fn lead(&self, name: &str, every: std::time::Duration) -> bool {
        let ttl = i64::try_from(every.as_millis()).unwrap_or(60_000) * 3;
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let n = self.storage.notifications();
        match n
            .take_lease(name, &self.notifier.replica, now_ms, ttl)
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, lease = name, "taking a lease failed");
                false
            }
        }
    }

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

/// Nodes waiting for notifications to look at them; past this, the sweep finds them instead.
const NOTIFY_QUEUE: usize = 10_000;

/// The per-replica side of notifications.
pub struct Notifier {
    nodes: tokio::sync::mpsc::Sender<Uuid>,
    pub queued: tokio::sync::Mutex<Option<tokio::sync::mpsc::Receiver<Uuid>>>,
    /// Wakes the delivery loop when something was enqueued here.
    pub wake: tokio::sync::Notify,
    /// This replica's name in leases.
    pub replica: String,
    /// The HTTP client of deliveries.
    pub sender: Arc<dsc_core::pull::notify::Sender>,
}

impl Default for Notifier {
    fn default() -> Self {
        let (nodes, rx) = tokio::sync::mpsc::channel(NOTIFY_QUEUE);
        Notifier {
            nodes,
            queued: tokio::sync::Mutex::new(Some(rx)),
            wake: tokio::sync::Notify::new(),
            replica: Uuid::new_v4().to_string(),
            sender: Arc::default(),
        }
    }
}

impl Notifier {
    /// A node's report was stored: look at it soon.
    pub fn reported(&self, agent_id: Uuid) {
        // A full queue is not a loss: the sweep finds the node.
        let _ = self.nodes.try_send(agent_id);
    }
}
