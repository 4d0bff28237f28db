//! Echo server benchmark: this crate (default settings, and `workers(1)`) against tokio
//! (three ways), std thread-per-connection and a bare single-threaded mio loop, each
//! server in its own process.
//!
//! ```text
//! cargo bench --bench echo                         # full run, about 25 minutes on 2 cores
//! cargo bench --bench echo -- --quick              # CI smoke, about a minute
//! cargo bench --bench echo -- --servers netecho --scenarios pingpong --rounds 5
//! cargo bench --bench echo -- --scenarios pingpong-100x512B --client-threads 1,2
//! cargo bench --bench echo -- --scenarios unix     # 100 x 512 B over a Unix socket file
//! cargo bench --bench echo -- --scenarios udp      # 64 B and 1,400 B datagrams over UDP
//! cargo bench --bench echo -- --svg-out docs/echo-ratios.svg
//! ```
//!
//! # Method
//!
//! netecho runs in this bench binary re-executed with `--serve netecho`, twice: `netecho`
//! with its default worker count (one per CPU; `--workers N` changes it) and `netecho-1`
//! with `workers(1)`, one event loop as the bare mio loop has (not in the UDP scenarios: a
//! UDP listener has workers of its own, the same in both); the baselines
//! (tokio with a 4 KiB and a 64 KiB buffer per connection and with `tokio::io::copy`,
//! thread per connection, bare mio) live in the workspace package `bench/servers`
//! (`netecho-bench-servers`, not a default member, so the library's own builds never
//! compile tokio), which this bench builds first with `cargo build --release -p
//! netecho-bench-servers`. Every server binds `127.0.0.1:0` with `TCP_NODELAY` set on the
//! listener (accepted sockets inherit it on Linux) and prints its address; in the `unix`
//! scenario it binds a socket file in a temporary directory the bench makes for that run
//! (netecho with `Listener::unix`, the baselines with their own library's `bind(path)`)
//! and prints `unix:PATH`. In the `udp` scenarios netecho serves a `Listener::udp` (the
//! standard guard, one UDP worker: its defaults), tokio-udp is tokio's `echo-udp` example
//! with a 64 KiB buffer (`bench/servers`), and socat is the system's `socat
//! UDP4-RECVFROM:PORT,bind=127.0.0.1,fork PIPE` (a process per datagram, as its manual
//! gives a UDP server; its CPU time is that of its whole process tree), skipped with a
//! message where socat is not installed; the load
//! is the `loadgen` example's UDP mode (every reply checked byte for byte, a datagram with
//! no reply within 1 s counted as lost), and req/s are replies/s. Otherwise the load comes
//! from the `loadgen` example's client (mio event loops, every echoed byte verified).
//!
//! Client shapes: each ping-pong scenario runs once per client shape, the load
//! generator with 1 thread and with 2 (`--client-threads 1,2`, the default; `--quick`
//! runs 1 only), named `<scenario>/c<threads>` in the table, the JSON and the chart, and
//! compared with tokio under the same shape; the other scenarios run with the first shape
//! (and are named after it if it is not 1 thread). A 1-thread client takes at most one
//! core; a 2-thread one can take both, so the server's workers wait for a core as on a
//! loaded machine.
//!
//! Per run: connect everything, warm up, then measure requests/s, latency, and the
//! server's CPU seconds (`/proc/<pid>/stat`) and peak memory (`VmHWM`); the idle scenario
//! reads `VmRSS` before and after opening the connections. A run fails if the server
//! echoes wrongly or dies, or if any connection completes no echo in the measured window.
//! Server order rotates by one place per round (A B C, B C A, ...) and each figure is the
//! median of the rounds. Ratios are to the strongest tokio variant of each scenario.
//!
//! Client and server share the machine: on 2 cores the client needs about one of them,
//! so requests/s measures the pair; requests per server CPU-second is the steadier
//! comparison. The "other CPU s" column shows how much else ran during each window.
//!
//! Results: a Markdown table on stdout, `<target>/echo-bench/results.json` and
//! `<target>/echo-bench/ratios.svg`. The exit status is non-zero if any server failed to
//! echo correctly. Without `--bench` (as under `cargo test --benches`) only a short smoke
//! check of netecho runs, and the baselines are not built.
//!
//! # Counting syscalls
//!
//! `--show-pids` prints each server's pid as its window starts, so that with a long
//! `--duration 60s` you can attach `strace -c -f -p PID` by hand; `--strace` does that
//! itself for every window and saves the summaries under `<target>/echo-bench/strace/`
//! (strace slows the server a lot: ignore the speed figures of such runs).

#[path = "echo/baselines.rs"]
mod baselines;
#[path = "echo/chart.rs"]
mod chart;
#[path = "echo/child.rs"]
mod child;
#[path = "echo/cli.rs"]
mod cli;
// Shared with the loadgen example, which uses the parts this bench does not.
#[allow(dead_code)]
#[path = "../examples/loadgen/client.rs"]
mod client;
#[path = "echo/measure.rs"]
mod measure;
#[path = "echo/paths.rs"]
mod paths;
#[path = "echo/plan.rs"]
mod plan;
#[path = "echo/procfs.rs"]
mod procfs;
#[path = "echo/results.rs"]
mod results;
#[path = "echo/save.rs"]
mod save;
#[path = "echo/scenarios.rs"]
mod scenarios;
#[path = "echo/servers.rs"]
mod servers;
#[path = "echo/strace.rs"]
mod strace;
#[path = "echo/table.rs"]
mod table;
// The loadgen example's UDP mode, shared likewise.
#[cfg(feature = "tls")]
#[path = "echo/tls.rs"]
mod tls;
#[allow(dead_code)]
#[path = "../examples/loadgen/udp.rs"]
mod udp_client;

use std::process::ExitCode;

use clap::Parser;

use cli::Args;
use measure::Sample;
use plan::Plan;
use results::Cell;

fn main() -> ExitCode {
    let args = parse_args();
    if let Some(kind) = args.serve {
        let workers = args.workers.unwrap_or_else(plan::cpus);
        let tls = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
        return servers::serve(kind, workers, args.unix.as_deref(), tls, args.udp);
    }
    match Plan::new(&args).and_then(|mut plan| {
        if plan.needs_baselines() {
            plan.setup.baselines = Some(baselines::build()?);
        }
        #[cfg(feature = "tls")]
        if plan.needs_tls() {
            plan.setup.tls = Some(tls::TlsSetup::create()?);
        }
        run(&plan, args.svg_out.clone())
    }) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("echo bench: some runs FAILED (see the notes under the table)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("echo bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the command line. Under `cargo test` (no `--bench`) flags meant for the libtest
/// harness, such as `--nocapture`, may arrive: they are ignored and the smoke check runs.
fn parse_args() -> Args {
    match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let ours = std::env::args().any(|a| a == "--bench" || a == "--serve");
            if ours || e.kind() == clap::error::ErrorKind::DisplayHelp {
                e.exit();
            }
            eprintln!("echo bench: ignoring test-harness arguments");
            Args::parse_from(["echo"])
        }
    }
}

/// Runs every round of `plan`, prints the tables, saves the files; returns whether every
/// run succeeded.
fn run(plan: &Plan, svg_out: Option<std::path::PathBuf>) -> Result<bool, String> {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("echo bench: cannot raise the open-file limit: {e}");
    }
    if plan.smoke {
        eprintln!(
            "echo bench: no --bench flag (cargo test?): smoke check only, of {}",
            plan.servers
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let (rounds, timing) = (plan.rounds, plan.setup.timing);
    eprintln!(
        "echo bench: {} server(s) x {} scenario(s) x {rounds} round(s), {:?} warm-up + {:?} each, {} server workers",
        plan.servers.len(),
        plan.scenarios.len(),
        timing.warmup,
        timing.duration,
        plan.setup.workers
    );
    let mut cells: Vec<Cell> = plan
        .pairs()
        .map(|(sc, srv)| Cell::new(sc, srv.name(), srv.is_tokio()))
        .collect();
    for round in 0..rounds {
        for sc in &plan.scenarios {
            let id = sc.id();
            for srv in plan.order(round).into_iter().filter(|s| s.serves(sc)) {
                let tag = format!("{}-{}-r{}", id.replace('/', "-"), srv.name(), round + 1);
                let result = measure::measure(srv, sc, &plan.setup, &tag);
                eprintln!(
                    "[{}/{rounds}] {:<24} {:<12} {}",
                    round + 1,
                    id,
                    srv.name(),
                    brief(&result)
                );
                let Some(cell) = cells
                    .iter_mut()
                    .find(|c| c.scenario == id && c.server == srv.name())
                else {
                    continue;
                };
                match result {
                    Ok(sample) => cell.rounds.push(sample),
                    Err(e) => cell.errors.push(e),
                }
            }
        }
    }
    results::summarize(&mut cells);

    println!("{}", table::markdown(&cells));
    for sc in &plan.scenarios {
        println!("- {}: {}", sc.id(), sc.describe());
    }
    if plan.setup.strace {
        eprintln!(
            "echo bench: --strace distorts the figures: results.json and the chart not written"
        );
    } else if !plan.smoke {
        let written = save::save(plan, &cells, svg_out)?;
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        eprintln!("echo bench: wrote {}", names.join(", "));
    }
    Ok(cells.iter().all(|c| !c.failed()))
}

/// One line per run on stderr.
fn brief(result: &Result<Sample, String>) -> String {
    match result {
        Ok(s) if s.rss_per_conn_bytes.is_some() => format!(
            "{:.2} KiB per idle connection",
            s.rss_per_conn_bytes.unwrap_or(0.0) / 1024.0
        ),
        Ok(s) => format!(
            "{:>9.0} req/s  p99 {:>6.0} us  server CPU {:.2} s  {:>7.0} req/CPU-s{}",
            s.requests_per_s.unwrap_or(0.0),
            s.p99_us.unwrap_or(0.0),
            s.server_cpu_s.unwrap_or(0.0),
            s.requests_per_cpu_s.unwrap_or(0.0),
            s.lost
                .map(|l| format!("  lost {:.2}%", l * 100.0))
                .unwrap_or_default()
        ),
        Err(e) => format!("FAILED: {e}"),
    }
}
