//! Per server and scenario: the rounds, their median, and ratios to tokio; JSON output.

use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use crate::measure::Sample;

/// Everything measured for one server in one scenario.
#[derive(Debug, Serialize)]
pub struct Cell {
    pub scenario: &'static str,
    pub description: String,
    pub server: &'static str,
    /// Successful rounds.
    pub rounds: Vec<Sample>,
    /// Failed rounds: why.
    pub errors: Vec<String>,
    pub median: Option<Sample>,
    /// Median divided by tokio's median in the same scenario.
    pub vs_tokio: Option<Ratios>,
}

/// This server's figure divided by tokio's.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ratios {
    pub requests_per_s: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub server_cpu_s: Option<f64>,
    pub requests_per_cpu_s: Option<f64>,
    pub peak_rss_kib: Option<f64>,
    pub rss_per_conn_bytes: Option<f64>,
}

impl Cell {
    pub fn new(scenario: &'static str, description: String, server: &'static str) -> Cell {
        Cell {
            scenario,
            description,
            server,
            rounds: Vec::new(),
            errors: Vec::new(),
            median: None,
            vs_tokio: None,
        }
    }

    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// Fills in each cell's median and its ratios to tokio's median in the same scenario.
pub fn summarize(cells: &mut [Cell]) {
    for c in cells.iter_mut() {
        c.median = median(&c.rounds);
    }
    for i in 0..cells.len() {
        let reference = cells
            .iter()
            .find(|c| c.scenario == cells[i].scenario && c.server == "tokio")
            .and_then(|c| c.median.clone());
        let (Some(base), Some(m)) = (reference, cells[i].median.as_ref()) else {
            continue;
        };
        let r = |f: fn(&Sample) -> Option<f64>| {
            let (a, b) = (f(m)?, f(&base)?);
            (b > 0.0).then(|| a / b)
        };
        let ratios = Ratios {
            requests_per_s: r(|s| s.requests_per_s),
            p50_us: r(|s| s.p50_us),
            p99_us: r(|s| s.p99_us),
            server_cpu_s: r(|s| s.server_cpu_s),
            requests_per_cpu_s: r(|s| s.requests_per_cpu_s),
            peak_rss_kib: r(|s| s.peak_rss_kib),
            rss_per_conn_bytes: r(|s| s.rss_per_conn_bytes),
        };
        cells[i].vs_tokio = Some(ratios);
    }
}

/// Field-by-field median of the rounds.
fn median(rounds: &[Sample]) -> Option<Sample> {
    if rounds.is_empty() {
        return None;
    }
    let m = |f: fn(&Sample) -> Option<f64>| {
        let mut v: Vec<f64> = rounds.iter().filter_map(f).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    };
    Some(Sample {
        requests_per_s: m(|s| s.requests_per_s),
        mb_per_s: m(|s| s.mb_per_s),
        p50_us: m(|s| s.p50_us),
        p99_us: m(|s| s.p99_us),
        max_us: m(|s| s.max_us),
        server_cpu_s: m(|s| s.server_cpu_s),
        client_cpu_s: m(|s| s.client_cpu_s),
        other_cpu_s: m(|s| s.other_cpu_s),
        requests_per_cpu_s: m(|s| s.requests_per_cpu_s),
        peak_rss_kib: m(|s| s.peak_rss_kib),
        rss_per_conn_bytes: m(|s| s.rss_per_conn_bytes),
        spread: m(|s| s.spread),
    })
}

/// Writes `{ "meta": ..., "results": [cells] }` to `path`.
pub fn write_json(path: &Path, meta: serde_json::Value, cells: &[Cell]) -> io::Result<()> {
    let doc = serde_json::json!({ "meta": meta, "results": cells });
    let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
    fs::write(path, text + "\n")
}
