//! Per server and scenario: the rounds, their median, and ratios to the strongest tokio
//! variant; JSON output.

use std::fs;
use std::io;
use std::path::Path;

use serde_json::json;

use crate::measure::Sample;
use crate::scenarios::Scenario;

/// Everything measured for one server in one scenario.
#[derive(Debug)]
pub struct Cell {
    /// The scenario's [`Scenario::id`]: its name, with the client shape.
    pub scenario: String,
    pub description: String,
    /// Load generator threads (the client shape).
    pub client_threads: usize,
    pub server: &'static str,
    /// A tokio variant (a candidate reference).
    pub is_tokio: bool,
    /// Successful rounds.
    pub rounds: Vec<Sample>,
    /// Failed rounds: why.
    pub errors: Vec<String>,
    pub median: Option<Sample>,
    /// The tokio variant the ratios are to: the strongest in this scenario.
    pub reference: Option<&'static str>,
    /// Median divided by the reference's median in the same scenario.
    pub vs_reference: Option<Ratios>,
}

/// This server's figure divided by the reference's.
#[derive(Debug, Clone, Default)]
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
    pub fn new(sc: &Scenario, server: &'static str, is_tokio: bool) -> Cell {
        Cell {
            scenario: sc.id(),
            description: sc.describe(),
            client_threads: sc.client_threads,
            server,
            is_tokio,
            rounds: Vec::new(),
            errors: Vec::new(),
            median: None,
            reference: None,
            vs_reference: None,
        }
    }

    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Is the reference of its scenario.
    pub fn is_reference(&self) -> bool {
        self.reference == Some(self.server)
    }

    fn to_json(&self) -> serde_json::Value {
        let ratios = self.vs_reference.as_ref().map(|r| {
            json!({
                "requests_per_s": r.requests_per_s,
                "p50_us": r.p50_us,
                "p99_us": r.p99_us,
                "server_cpu_s": r.server_cpu_s,
                "requests_per_cpu_s": r.requests_per_cpu_s,
                "peak_rss_kib": r.peak_rss_kib,
                "rss_per_conn_bytes": r.rss_per_conn_bytes,
            })
        });
        json!({
            "scenario": self.scenario,
            "description": self.description,
            "client_threads": self.client_threads,
            "server": self.server,
            "rounds": self.rounds.iter().map(Sample::to_json).collect::<Vec<_>>(),
            "errors": self.errors,
            "median": self.median.as_ref().map(Sample::to_json),
            "reference": self.reference,
            "vs_reference": ratios,
        })
    }
}

/// How strong a tokio variant is in its scenario: requests/s under load, and fewer bytes
/// per connection when idle. Higher is stronger.
fn strength(m: &Sample) -> Option<f64> {
    m.requests_per_s.or(m.rss_per_conn_bytes.map(|b| -b))
}

/// Fills in each cell's median and its ratios to the median of the strongest tokio
/// variant that completed every round in the same scenario.
pub fn summarize(cells: &mut [Cell]) {
    for c in cells.iter_mut() {
        c.median = median(&c.rounds);
    }
    for i in 0..cells.len() {
        let reference = cells
            .iter()
            .filter(|c| c.scenario == cells[i].scenario && c.is_tokio && !c.failed())
            .filter_map(|c| Some((c.server, c.median.clone()?)))
            .filter_map(|(name, m)| Some((strength(&m)?, name, m)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let (Some((_, name, base)), Some(m)) = (reference, cells[i].median.as_ref()) else {
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
        cells[i].reference = Some(name);
        cells[i].vs_reference = Some(ratios);
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
        steal_s: m(|s| s.steal_s),
        softirq_s: m(|s| s.softirq_s),
        time_wait: m(|s| s.time_wait),
        requests_per_cpu_s: m(|s| s.requests_per_cpu_s),
        peak_rss_kib: m(|s| s.peak_rss_kib),
        rss_per_conn_bytes: m(|s| s.rss_per_conn_bytes),
        spread: m(|s| s.spread),
        lost: m(|s| s.lost),
    })
}

/// Writes `{ "meta": ..., "results": [cells] }` to `path`.
pub fn write_json(path: &Path, meta: serde_json::Value, cells: &[Cell]) -> io::Result<()> {
    let results: Vec<serde_json::Value> = cells.iter().map(Cell::to_json).collect();
    let doc = json!({ "meta": meta, "results": results });
    let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
    fs::write(path, text + "\n")
}
