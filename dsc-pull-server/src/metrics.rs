//! Prometheus metrics: requests and latency per endpoint, plus gauges read at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Series {
    count_by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Request counters and latency histograms per endpoint.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<&'static str, Series>>,
}

impl Metrics {
    pub fn observe(&self, endpoint: &'static str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut all = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = all.entry(endpoint).or_default();
        *s.count_by_status.entry(status).or_default() += 1;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
        s.sum += secs;
        s.count += 1;
    }

    /// The text exposition, with the given gauges appended.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let all = self.series.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP traek_http_requests_total HTTP requests by endpoint and status.\n# TYPE traek_http_requests_total counter\n");
        for (ep, s) in all.iter() {
            for (status, n) in &s.count_by_status {
                let _ = writeln!(
                    out,
                    "traek_http_requests_total{{endpoint=\"{ep}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP traek_http_request_duration_seconds Request latency by endpoint.\n# TYPE traek_http_request_duration_seconds histogram\n");
        for (ep, s) in all.iter() {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "traek_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "traek_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "traek_http_request_duration_seconds_sum{{endpoint=\"{ep}\"}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "traek_http_request_duration_seconds_count{{endpoint=\"{ep}\"}} {}",
                s.count
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
