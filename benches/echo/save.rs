//! Writing `results.json` and `ratios.svg` under `<target>/echo-bench/`.

use std::fs;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::chart;
use crate::paths;
use crate::plan::{self, Plan};
use crate::results::{self, Cell};

/// Writes the JSON results and the chart (also to `svg_out` if given); returns the paths.
pub fn save(plan: &Plan, cells: &[Cell], svg_out: Option<PathBuf>) -> Result<Vec<PathBuf>, String> {
    let dir = paths::results_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let unix_time = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let meta = serde_json::json!({
        "unix_time": unix_time,
        "kernel": fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "cpus": plan::cpus(),
        "server_workers": plan.setup.workers,
        "client_shapes": plan.client_shapes,
        "rounds": plan.rounds,
        "quick": plan.quick,
        "warmup_s": plan.setup.timing.warmup.as_secs_f64(),
        "duration_s": plan.setup.timing.duration.as_secs_f64(),
        "idle_hold_s": plan.setup.timing.idle_hold.as_secs_f64(),
        "servers": plan.servers.iter().map(|s| s.name()).collect::<Vec<_>>(),
        "scenarios": plan.scenarios.iter().map(|s| (s.id(), s.describe())).collect::<Vec<_>>(),
    });
    let json = dir.join("results.json");
    results::write_json(&json, meta, cells)
        .map_err(|e| format!("write {}: {e}", json.display()))?;
    let names: Vec<&str> = plan.servers.iter().map(|s| s.name()).collect();
    let title = format!(
        "echo servers vs tokio ({} CPUs, median of {} round(s))",
        plan::cpus(),
        plan.rounds
    );
    let svg = chart::svg(cells, &names, &title);
    let mut written = vec![json];
    for path in [dir.join("ratios.svg")].into_iter().chain(svg_out) {
        fs::write(&path, &svg).map_err(|e| format!("write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
