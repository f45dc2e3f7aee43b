//! Prometheus metrics through the `prometheus-client` crate: requests and latency per endpoint,
//! reports ingested, storage errors, and the fleet's gauges (agents, reports stored, nodes by
//! status and by configuration), refreshed at most once per [`GAUGE_TTL`] by one scrape while
//! the others wait, so that a scrape never costs a table scan of its own. Recording a request
//! is a label lookup and two atomic additions.

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::{Duration, Instant};

/// Latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// How long the storage gauges of `/metrics` are reused.
pub const GAUGE_TTL: Duration = Duration::from_secs(30);

/// The `Content-Type` of `/metrics` (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

type Labels1 = [(&'static str, &'static str); 1];
type Labels2 = [(&'static str, &'static str); 2];
type Named = [(&'static str, String); 1];

pub use crate::http::StorageFailure;

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// What a scrape does about the storage gauges ([`Metrics::freshness`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Never counted: count before answering.
    Count,
    /// Old: count in the background (this scrape was chosen to start it).
    Recount,
    /// Recent, or being counted.
    Fresh,
}

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels2, Counter>,
    latency: Family<Labels1, Histogram>,
    reports_ingested: Counter,
    storage_errors: Family<Labels1, Counter>,
    agents: Gauge,
    reports_stored: Gauge,
    nodes: Family<Named, Gauge>,
    nodes_by_configuration: Family<Named, Gauge>,
    webhooks: Family<Labels1, Counter>,
    refreshed: tokio::sync::Mutex<Option<Instant>>,
    /// The gauges have been counted once.
    counted: std::sync::atomic::AtomicBool,
    /// A background refresh is queued or running.
    refreshing: std::sync::atomic::AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Labels2, Counter>::default();
        registry.register(
            "traek_http_requests",
            "HTTP requests by endpoint and status",
            requests.clone(),
        );
        let latency = Family::<Labels1, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "traek_http_request_duration_seconds",
            "Request latency by endpoint (GetDscAction, SendReport, ...)",
            latency.clone(),
        );
        let reports_ingested = Counter::default();
        registry.register(
            "traek_reports_ingested",
            "Reports accepted from nodes and stored",
            reports_ingested.clone(),
        );
        let storage_errors = Family::<Labels1, Counter>::default();
        // Both kinds from the start, at zero, so that rate() over them works from the first
        // scrape on.
        for kind in ["unavailable", "error"] {
            let _ = storage_errors.get_or_create(&[("kind", kind)]);
        }
        registry.register(
            "traek_storage_errors",
            "Requests answered with a storage failure, by kind (unavailable, error)",
            storage_errors.clone(),
        );
        let agents = Gauge::default();
        registry.register("traek_agents", "Registered agents", agents.clone());
        let reports_stored = Gauge::default();
        registry.register(
            "traek_reports_stored",
            "Reports stored",
            reports_stored.clone(),
        );
        let nodes = Family::<Named, Gauge>::default();
        registry.register("traek_nodes", "Nodes by compliance status", nodes.clone());
        let nodes_by_configuration = Family::<Named, Gauge>::default();
        registry.register(
            "traek_nodes_by_configuration",
            "Nodes by the configuration they are given",
            nodes_by_configuration.clone(),
        );
        let webhooks = Family::<Labels1, Counter>::default();
        for outcome in ["delivered", "failed", "abandoned"] {
            let _ = webhooks.get_or_create(&[("outcome", outcome)]);
        }
        registry.register(
            "traek_webhook_deliveries",
            "Notification delivery attempts by outcome (delivered; failed: retried later; abandoned: given up)",
            webhooks.clone(),
        );
        Metrics {
            registry,
            webhooks,
            requests,
            latency,
            reports_ingested,
            storage_errors,
            agents,
            reports_stored,
            nodes,
            nodes_by_configuration,
            refreshed: tokio::sync::Mutex::new(None),
            counted: std::sync::atomic::AtomicBool::new(false),
            refreshing: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Metrics {
    /// Counts one notification delivery attempt.
    pub fn webhook_attempt(&self, finish: &crate::storage::notifications::Finish) {
        use crate::storage::notifications::Finish;
        let outcome = match finish {
            Finish::Delivered { .. } => "delivered",
            Finish::Failed {
                next_ms: Some(_), ..
            } => "failed",
            Finish::Failed { next_ms: None, .. } => "abandoned",
        };
        self.webhooks.get_or_create(&[("outcome", outcome)]).inc();
    }
}

/// A status code as a label: the codes the server answers with, else `other` (a bounded set).
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        413 => "413",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

impl Metrics {
    /// Records one answered request.
    pub fn observe(
        &self,
        endpoint: &'static str,
        status: u16,
        elapsed: Duration,
        storage: Option<StorageFailure>,
    ) {
        self.requests
            .get_or_create(&[("endpoint", endpoint), ("status", status_label(status))])
            .inc();
        self.latency
            .get_or_create(&[("endpoint", endpoint)])
            .observe(elapsed.as_secs_f64());
        if let Some(f) = storage {
            let kind = if f.unavailable {
                "unavailable"
            } else {
                "error"
            };
            self.storage_errors.get_or_create(&[("kind", kind)]).inc();
        }
    }

    /// Counts a report stored.
    pub fn report_ingested(&self) {
        self.reports_ingested.inc();
    }

    /// What a scrape must do about the storage gauges: count them now (never counted), have
    /// them counted in the background (older than [`GAUGE_TTL`]; the scrape answers with the
    /// previous numbers, so it never waits on storage), or nothing.
    pub fn freshness(&self) -> Freshness {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        if !self.counted.load(Acquire) {
            return Freshness::Count;
        }
        let stale = match self.refreshed.try_lock() {
            Ok(at) => at.is_none_or(|at| at.elapsed() >= GAUGE_TTL),
            Err(_) => false,
        };
        if stale
            && self
                .refreshing
                .compare_exchange(false, true, AcqRel, Acquire)
                .is_ok()
        {
            Freshness::Recount
        } else {
            Freshness::Fresh
        }
    }

    /// Refreshes the storage gauges when older than [`GAUGE_TTL`] (one caller counts while
    /// the others wait and then reuse its numbers). A failed count keeps the old values.
    pub async fn refresh(&self, storage: &dyn crate::storage::Storage, stale_after: Duration) {
        let mut refreshed = self.refreshed.lock().await;
        if refreshed.is_some_and(|at| at.elapsed() < GAUGE_TTL) {
            self.refreshing
                .store(false, std::sync::atomic::Ordering::Release);
            return;
        }
        if let Ok(n) = storage.agent_count().await {
            self.agents.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Ok(n) = storage.report_count().await {
            self.reports_stored
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let now = crate::storage::now_unix();
        let stale = i64::try_from(stale_after.as_secs()).unwrap_or(i64::MAX);
        if let Ok(summary) = storage.summary(now, stale).await {
            self.nodes.clear();
            for (status, n) in &summary.statuses {
                self.nodes
                    .get_or_create(&[("status", status.clone())])
                    .set(i64::try_from(*n).unwrap_or(i64::MAX));
            }
            self.nodes_by_configuration.clear();
            for c in &summary.configurations {
                self.nodes_by_configuration
                    .get_or_create(&[("configuration", c.name.clone())])
                    .set(i64::try_from(c.nodes).unwrap_or(i64::MAX));
            }
        }
        *refreshed = Some(Instant::now());
        self.counted
            .store(true, std::sync::atomic::Ordering::Release);
        self.refreshing
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// The text exposition (Prometheus text format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn todays_metric_names_stay_and_statuses_are_a_bounded_set() {
        let m = Metrics::default();
        m.observe("GetDscAction", 200, Duration::from_millis(2), None);
        m.observe("GetDscAction", 599, Duration::from_millis(2), None);
        m.observe(
            "SendReport",
            503,
            Duration::from_millis(1),
            Some(StorageFailure { unavailable: true }),
        );
        m.report_ingested();
        let text = m.render();
        for line in [
            "traek_http_requests_total{endpoint=\"GetDscAction\",status=\"200\"} 1",
            "traek_http_requests_total{endpoint=\"GetDscAction\",status=\"other\"} 1",
            "traek_http_request_duration_seconds_bucket{endpoint=\"GetDscAction\",le=\"0.0025\"} 2",
            "traek_http_request_duration_seconds_count{endpoint=\"SendReport\"} 1",
            "traek_storage_errors_total{kind=\"unavailable\"} 1",
            "traek_reports_ingested_total 1",
            "# TYPE traek_agents gauge",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
