//! The `loadgen` example over a Unix socket file (`--unix PATH`): every mode
//! completes against an echo server with no error, and a server that echoes
//! wrong bytes fails the run.
//!
//! `cargo test` builds the examples before it runs the tests; the binary is
//! found next to this test's own (`target/<profile>/examples/loadgen`).
#![cfg(unix)]

mod util;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;

use netecho::{Conn, Handler, Listener, TcpServer};
use util::{TIMEOUT, TestResult, temp_dir};

/// Runs the loadgen example with `args` and `--json`, at most [`TIMEOUT`]
/// (its own bound, `--connect-timeout` + `--duration` + 5 s, is shorter).
fn loadgen(args: &[&str]) -> Result<(Output, serde_json::Value), String> {
    let exe = util::example("loadgen")?;
    let child = Command::new(exe)
        .args(args)
        .args(["--json", "--connect-timeout", "2s"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start loadgen: {e}"))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(TIMEOUT) {
        Ok(out) => out.map_err(|e| e.to_string())?,
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            return Err("loadgen did not finish in time".into());
        }
    };
    let report = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "loadgen printed no JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok((out, report))
}

fn unix_arg(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

#[test]
fn every_mode_runs_over_a_socket_file() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("echo.sock");
    let server = TcpServer::builder()
        .workers(1)
        .listener(Listener::unix(&path))
        .spawn()?;
    for mode in ["pingpong", "pipeline", "connect", "idle"] {
        let (out, report) = loadgen(&[
            "--unix",
            unix_arg(&path)?,
            "--mode",
            mode,
            "--connections",
            "4",
            "--size",
            "100",
            "--duration",
            "200ms",
        ])?;
        let context = format!("{mode}: {report}");
        assert!(out.status.success(), "{context}");
        assert_eq!(report["errors"], 0, "{context}");
        assert_eq!(
            report["addr"],
            format!("unix:{}", path.display()),
            "{context}"
        );
        if mode != "idle" {
            assert!(report["requests"].as_u64() > Some(0), "{context}");
            assert!(
                report["per_connection"]["min"].as_u64() > Some(0),
                "{context}"
            );
        }
    }
    assert!(server.stats().accepted >= 4 * 3);
    server.shutdown();
    server.join()?;
    Ok(())
}

/// Echoes every byte inverted.
struct Garble;

impl Handler for Garble {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        let wrong: Vec<u8> = data.iter().map(|b| !b).collect();
        conn.write(&wrong);
    }
}

#[test]
fn wrong_echoed_bytes_fail_the_run() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("garble.sock");
    let server = TcpServer::builder()
        .workers(1)
        .listener(Listener::unix(&path))
        .handler(|| Garble)
        .spawn()?;
    let (out, report) = loadgen(&[
        "--unix",
        unix_arg(&path)?,
        "--connections",
        "2",
        "--duration",
        "200ms",
    ])?;
    assert!(!out.status.success(), "{report}");
    assert_eq!(report["errors"], 2, "{report}");
    let samples = report["error_samples"].to_string();
    assert!(samples.contains("wrong byte"), "{report}");
    server.shutdown();
    server.join()?;
    Ok(())
}
