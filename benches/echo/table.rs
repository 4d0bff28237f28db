//! The Markdown results: absolute figures, then the same figures as ratios to the strongest
//! tokio variant of each scenario.

use std::fmt::Write as _;

use crate::results::Cell;

pub fn markdown(cells: &[Cell]) -> String {
    let mut s = String::from(
        "| scenario | server | req/s | MB/s | p50 µs | p99 µs | server CPU s | req/CPU-s \
         | peak RSS MiB | RSS/conn KiB | other CPU s |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    let mut notes = Vec::new();
    for c in cells {
        let m = c.median.clone().unwrap_or_default();
        if let Some(first) = c.errors.first() {
            notes.push(format!(
                "- {} / {}: {} failed round(s): {first}",
                c.scenario,
                c.server,
                c.errors.len()
            ));
        }
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.scenario,
            server(c),
            num(m.requests_per_s, 0),
            num(m.mb_per_s, 1),
            num(m.p50_us, 0),
            num(m.p99_us, 0),
            num(m.server_cpu_s, 2),
            num(m.requests_per_cpu_s, 0),
            num(m.peak_rss_kib.map(|k| k / 1024.0), 1),
            num(m.rss_per_conn_bytes.map(|b| b / 1024.0), 2),
            num(m.other_cpu_s, 2),
        );
    }
    s.push_str(
        "\n*other CPU s*: CPU time used by everything but the server and the client during the \
         window (busy time less steal; the kernel's network work, softirqs included, is charged \
         to the server and the client); well above zero means other load disturbed the \
         figures.\n\
         Every server listens with `TCP_NODELAY` set on the listener, which accepted sockets \
         inherit on Linux: none makes a `setsockopt` per connection.\n",
    );
    s.push_str(
        "\nRatios to the strongest tokio variant of each scenario, named in *vs* (most req/s; \
         idle: least RSS per connection). req/s, req/CPU-s: higher is better; latency, CPU, \
         memory: lower is better.\n\n\
         | scenario | server | vs | req/s | p50 | p99 | server CPU | req/CPU-s | peak RSS | RSS/conn |\n\
         |---|---|---|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for c in cells.iter().filter(|c| !c.is_reference()) {
        let r = c.vs_reference.clone().unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.scenario,
            server(c),
            c.reference.unwrap_or("–"),
            ratio(r.requests_per_s),
            ratio(r.p50_us),
            ratio(r.p99_us),
            ratio(r.server_cpu_s),
            ratio(r.requests_per_cpu_s),
            ratio(r.peak_rss_kib),
            ratio(r.rss_per_conn_bytes),
        );
    }
    if !notes.is_empty() {
        s.push('\n');
        s.push_str(&notes.join("\n"));
        s.push('\n');
    }
    s
}

fn server(c: &Cell) -> String {
    if c.failed() {
        format!("{} **FAILED**", c.server)
    } else {
        c.server.to_string()
    }
}

/// `v` with `decimals` decimals and thousands separators; `–` when absent.
fn num(v: Option<f64>, decimals: usize) -> String {
    let Some(v) = v else { return "–".into() };
    let text = format!("{v:.decimals$}");
    let (int, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 && ch.is_ascii_digit() {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if frac.is_empty() {
        grouped
    } else {
        format!("{grouped}.{frac}")
    }
}

fn ratio(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.2}×"))
}
