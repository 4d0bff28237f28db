//! Building the baseline servers: the workspace's `netecho-bench-servers` package, kept out
//! of the library's dev-dependencies so that tokio is compiled only for the benchmark.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::paths;

/// The package, and its one binary.
const PACKAGE: &str = "netecho-bench-servers";

/// Runs `cargo build --release -p netecho-bench-servers` into this bench's target dir
/// (the compiler's output goes to stderr) and returns the binary's path.
pub fn build() -> Result<PathBuf, String> {
    // Cargo sets CARGO for the processes it runs; fall back to the one on PATH.
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let command = format!("cargo build --release -p {PACKAGE}");
    eprintln!("echo bench: building the baseline servers ({command})");
    let out = Command::new(&cargo)
        .args(["build", "--release", "--package", PACKAGE, "--bin", PACKAGE])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(paths::target_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            format!(
                "cannot run {} to build the baseline servers: {e}",
                Path::new(&cargo).display()
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "`{command}` failed ({}); the compiler's messages are above",
            out.status
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == PACKAGE)
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("`{command}` succeeded but named no {PACKAGE} executable"))
}
