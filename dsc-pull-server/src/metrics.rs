//! Prometheus metrics: requests and latency per endpoint, plus gauges read at scrape time.
//! Lock-free: every counter is an atomic, so recording a request never contends.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Endpoint names (the protocol's operations, then the server's own paths).
pub const ENDPOINTS: [&str; 13] = [
    "RegisterDscAgent",
    "GetDscAction",
    "GetConfiguration",
    "GetModule",
    "SendReport",
    "GetReports",
    "V1",
    "healthz",
    "readyz",
    "metrics",
    "admin",
    "unknown",
    "bad-request",
];
const STATUSES: [u16; 14] = [
    200, 201, 204, 400, 401, 404, 405, 408, 409, 413, 500, 503, 0, 0,
];

#[derive(Default)]
struct Series {
    by_status: [AtomicU64; STATUSES.len()],
    other_status: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// Request counters and latency histograms per endpoint.
#[derive(Default)]
pub struct Metrics {
    series: [Series; ENDPOINTS.len()],
    /// The storage gauges (agents, reports stored) and when they were counted: counted at
    /// most once per [`GAUGE_TTL`], by one scrape while the others wait, so that scraping
    /// (unauthenticated) never costs a table count per request.
    gauges: tokio::sync::Mutex<Option<(std::time::Instant, f64, f64)>>,
}

/// How long the storage gauges of `/metrics` are reused.
pub const GAUGE_TTL: Duration = Duration::from_secs(30);

impl Metrics {
    /// The agent and report counts, counted again only when older than [`GAUGE_TTL`].
    pub async fn gauges(&self, storage: &dyn crate::storage::Storage) -> (f64, f64) {
        let mut cached = self.gauges.lock().await;
        if let Some((at, agents, reports)) = *cached
            && at.elapsed() < GAUGE_TTL
        {
            return (agents, reports);
        }
        let agents = storage.agent_count().await.unwrap_or(0) as f64;
        let reports = storage.report_count().await.unwrap_or(0) as f64;
        *cached = Some((std::time::Instant::now(), agents, reports));
        (agents, reports)
    }

    pub fn observe(&self, endpoint: &'static str, status: u16, elapsed: Duration) {
        let Some(i) = ENDPOINTS.iter().position(|e| *e == endpoint) else {
            return;
        };
        let s = &self.series[i];
        match STATUSES.iter().position(|x| *x == status && status != 0) {
            Some(k) => s.by_status[k].fetch_add(1, Relaxed),
            None => s.other_status.fetch_add(1, Relaxed),
        };
        let secs = elapsed.as_secs_f64();
        if let Some(b) = BUCKETS.iter().position(|b| secs <= *b) {
            s.buckets[b].fetch_add(1, Relaxed);
        }
        s.sum_micros.fetch_add(elapsed.as_micros() as u64, Relaxed);
        s.count.fetch_add(1, Relaxed);
    }

    /// The text exposition, with the given gauges appended.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP traek_http_requests_total HTTP requests by endpoint and status.\n# TYPE traek_http_requests_total counter\n");
        for (ep, s) in ENDPOINTS.iter().zip(&self.series) {
            for (status, n) in STATUSES.iter().zip(&s.by_status) {
                let n = n.load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "traek_http_requests_total{{endpoint=\"{ep}\",status=\"{status}\"}} {n}"
                    );
                }
            }
            let other = s.other_status.load(Relaxed);
            if other > 0 {
                let _ = writeln!(
                    out,
                    "traek_http_requests_total{{endpoint=\"{ep}\",status=\"other\"}} {other}"
                );
            }
        }
        out.push_str("# HELP traek_http_request_duration_seconds Request latency by endpoint.\n# TYPE traek_http_request_duration_seconds histogram\n");
        for (ep, s) in ENDPOINTS.iter().zip(&self.series) {
            let count = s.count.load(Relaxed);
            if count == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(&s.buckets) {
                cumulative += n.load(Relaxed);
                let _ = writeln!(
                    out,
                    "traek_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"{b}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "traek_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "traek_http_request_duration_seconds_sum{{endpoint=\"{ep}\"}} {}",
                s.sum_micros.load(Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "traek_http_request_duration_seconds_count{{endpoint=\"{ep}\"}} {count}"
            );
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}
