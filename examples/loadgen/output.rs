//! The loadgen report, as text for people or JSON for machines.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use crate::client::{Config, Mode, Report};

pub fn text(cfg: &Config, r: &Report) -> String {
    if cfg.mode == Mode::Idle {
        return format!(
            "Idle against {}: held {} connections for {:.2} s after each echoed 1 byte; {} errors\n{}",
            cfg.addr,
            cfg.connections,
            r.elapsed.as_secs_f64(),
            r.errors,
            r.error_samples
                .iter()
                .map(|e| format!("  {e}\n"))
                .collect::<String>()
        );
    }
    let (min, max) = r.min_max_per_conn();
    let unit = if cfg.mode == Mode::Connect {
        "connections"
    } else {
        "echoes"
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:?} against {}: {} connections x {} B{}, {:.2} s measured",
        cfg.mode,
        cfg.addr,
        cfg.connections,
        r.size,
        if cfg.mode == Mode::Pipeline {
            format!(", depth {}", cfg.depth)
        } else {
            String::new()
        },
        r.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "{unit:<12} {} ({:.0}/s)",
        r.requests,
        r.requests_per_sec()
    );
    let _ = writeln!(s, "throughput   {:.2} MB/s each way", r.mb_per_sec());
    let _ = writeln!(
        s,
        "latency      p50 {}  p90 {}  p99 {}  max {}",
        fmt_dur(r.latency_at(0.50)),
        fmt_dur(r.latency_at(0.90)),
        fmt_dur(r.latency_at(0.99)),
        fmt_dur(r.latency_max())
    );
    let _ = writeln!(s, "errors       {}", r.errors);
    for e in &r.error_samples {
        let _ = writeln!(s, "  {e}");
    }
    let _ = writeln!(
        s,
        "per conn     min {min}  max {max}  spread {}",
        spread(min, max)
    );
    s
}

pub fn json(cfg: &Config, r: &Report) -> serde_json::Value {
    let (min, max) = r.min_max_per_conn();
    json!({
        "addr": cfg.addr.to_string(),
        "mode": format!("{:?}", cfg.mode).to_lowercase(),
        "connections": cfg.connections,
        "size": r.size,
        "depth": (cfg.mode == Mode::Pipeline).then_some(cfg.depth),
        "threads": cfg.threads,
        "elapsed_s": r.elapsed.as_secs_f64(),
        "requests": r.requests,
        "requests_per_s": r.requests_per_sec(),
        "mb_per_s": r.mb_per_sec(),
        "latency_us": {
            "p50": micros(r.latency_at(0.50)),
            "p90": micros(r.latency_at(0.90)),
            "p99": micros(r.latency_at(0.99)),
            "max": micros(r.latency_max()),
        },
        "errors": r.errors,
        "error_samples": r.error_samples,
        "per_connection": { "min": min, "max": max },
    })
}

fn spread(min: u64, max: u64) -> String {
    if min == 0 {
        "n/a (a connection completed nothing)".into()
    } else {
        format!("{:.2}x", max as f64 / min as f64)
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn fmt_dur(d: Duration) -> String {
    let us = micros(d);
    if us < 1000.0 {
        format!("{us:.0}us")
    } else {
        format!("{:.2}ms", us / 1000.0)
    }
}
