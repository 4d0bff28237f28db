//! More workers than descriptors: `bind` fails with an error whose causes
//! say why (out of file descriptors), and nothing is left running. The
//! attempt runs in a child process with `RLIMIT_NOFILE` at 64, so the limit
//! is real and this test binary's other tests are not starved.

mod util;

use std::process::Command;

use util::TestResult;

const CHILD_ENV: &str = "NETECHO_TEST_TOO_MANY_WORKERS";

/// The child: lower the limit, try 200 workers (two descriptors each), print
/// the error's report and what is left: threads and descriptors.
#[test]
#[ignore = "entry point of the child process; run by the test in this file"]
fn child() -> TestResult {
    if std::env::var_os(CHILD_ENV).is_none() {
        return Ok(());
    }
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    rlimit::Resource::NOFILE.set(64.min(hard), hard)?;
    let fds_before = std::fs::read_dir("/proc/self/fd")?.count();
    let threads_before = std::fs::read_dir("/proc/self/task")?.count();
    // Per-worker scheduling, where each worker has an event loop (a poll and
    // a waker) of its own; under shared scheduling the workers share one.
    let result = netecho::TcpServer::builder()
        .port(0)
        .workers(200)
        .scheduling(netecho::Scheduling::PerWorker)
        .spawn();
    let err = match result {
        Ok(server) => return Err(format!("200 workers in 64 descriptors: {server:?}").into()),
        Err(err) => err,
    };
    println!("report: {}", err.report());
    println!(
        "threads: {} -> {}",
        threads_before,
        std::fs::read_dir("/proc/self/task")?.count()
    );
    println!(
        "fds: {} -> {}",
        fds_before,
        std::fs::read_dir("/proc/self/fd")?.count()
    );
    Ok(())
}

#[test]
fn too_many_workers_fails_naming_the_cause_and_leaves_nothing_running() -> TestResult {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: counts threads and descriptors through /proc (Linux only)");
        return Ok(());
    }
    let out = Command::new(std::env::current_exe()?)
        .args([
            "--ignored",
            "--exact",
            "child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(key).map(|(_, rest)| rest))
            .map(str::to_owned)
            .ok_or_else(|| format!("no {key:?} line in {stdout:?}"))
    };
    let report = line("report: ")?;
    assert!(
        report.starts_with("event loop of worker ") && report.contains("Too many open files"),
        "{report}"
    );
    // Back to what it was: no worker thread and no descriptor left behind.
    let same = |s: String| -> Result<(), String> {
        let (a, b) = s.split_once(" -> ").ok_or("bad line")?;
        if a == b {
            Ok(())
        } else {
            Err(format!("{a} before, {b} after"))
        }
    };
    same(line("threads: ")?)?;
    same(line("fds: ")?)?;
    Ok(())
}
