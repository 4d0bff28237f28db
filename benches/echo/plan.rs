//! What a bench invocation runs: servers, scenarios, rounds and timing, from the flags.

use std::num::NonZero;
use std::thread;
use std::time::Duration;

use crate::cli::Args;
use crate::measure::{Setup, Timing};
use crate::scenarios::{self, Scenario, Transport};
use crate::servers::{ServerKind, socat_available};

#[derive(Debug)]
pub struct Plan {
    /// Run without `--bench` (as under `cargo test`): one short scenario, nothing saved.
    pub smoke: bool,
    pub quick: bool,
    pub rounds: usize,
    pub servers: Vec<ServerKind>,
    pub scenarios: Vec<Scenario>,
    /// Load generator threads: each ping-pong scenario runs once per entry, the others
    /// with the first.
    pub client_shapes: Vec<usize>,
    pub setup: Setup,
}

impl Plan {
    pub fn new(args: &Args) -> Result<Plan, String> {
        let smoke = !args.bench;
        let quick = args.quick || smoke;
        let ms = Duration::from_millis;
        let timing = Timing {
            warmup: args
                .warmup
                .unwrap_or(if quick { ms(250) } else { ms(1000) }),
            duration: args.duration.unwrap_or(match (smoke, quick) {
                (true, _) => ms(300),
                (_, true) => ms(1000),
                _ => ms(5000),
            }),
            idle_hold: if quick { ms(250) } else { ms(1000) },
            setup_timeout: Duration::from_secs(30),
        };
        let shapes = client_shapes(&args.client_threads, quick)?;
        let scenarios = if smoke && args.scenarios.is_empty() {
            let first = scenarios::all(true).into_iter().take(1).collect();
            scenarios::with_shapes(first, &shapes[..1])
        } else {
            scenarios::with_shapes(pick_scenarios(&args.scenarios, quick)?, &shapes)
        };
        Ok(Plan {
            smoke,
            quick,
            rounds: args.rounds.unwrap_or(if quick { 1 } else { 3 }).max(1),
            servers: if smoke && args.servers.is_empty() {
                vec![ServerKind::EchoServer]
            } else {
                let mut servers = pick_servers(&args.servers);
                let udp = scenarios.iter().any(|s| s.transport == Transport::Udp);
                if udp && servers.contains(&ServerKind::Socat) && !socat_available() {
                    eprintln!(
                        "echo bench: socat not found (Debian: apt-get install socat): \
                         skipping its UDP runs"
                    );
                    servers.retain(|s| *s != ServerKind::Socat);
                }
                servers
            },
            scenarios,
            client_shapes: shapes,
            setup: Setup {
                timing,
                workers: args.workers.unwrap_or_else(cpus),
                show_pids: args.show_pids,
                strace: args.strace,
                baselines: None,
                #[cfg(feature = "tls")]
                tls: None,
            },
        })
    }

    /// Server order in `round`: the list rotated by one place per round (A B C, B C A,
    /// C A B, ...), so that no server goes first twice until every server has, and over
    /// as many rounds as servers each takes every place once.
    pub fn order(&self, round: usize) -> Vec<ServerKind> {
        let mut order = self.servers.clone();
        if !order.is_empty() {
            let n = order.len();
            order.rotate_left(round % n);
        }
        order
    }

    /// Some server runs in the `netecho-bench-servers` binary.
    pub fn needs_baselines(&self) -> bool {
        self.pairs().any(|(_, s)| s.is_baseline())
    }

    /// Some scenario runs over TLS.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub fn needs_tls(&self) -> bool {
        self.scenarios.iter().any(|s| s.tls)
    }

    /// Every scenario with every server that serves it, in table order.
    pub fn pairs(&self) -> impl Iterator<Item = (&Scenario, ServerKind)> + '_ {
        self.scenarios.iter().flat_map(move |sc| {
            self.servers
                .iter()
                .copied()
                .filter(move |srv| srv.serves(sc))
                .map(move |srv| (sc, srv))
        })
    }
}

pub fn cpus() -> usize {
    thread::available_parallelism().map_or(1, NonZero::get)
}

/// The client shapes (load generator threads) to run each ping-pong scenario with, in
/// the order given, each once: by default 1 and 2, or 1 in a quick run.
fn client_shapes(wanted: &[usize], quick: bool) -> Result<Vec<usize>, String> {
    if wanted.contains(&0) {
        return Err("--client-threads: a client needs at least 1 thread".into());
    }
    let mut shapes: Vec<usize> = Vec::new();
    for &t in wanted {
        if !shapes.contains(&t) {
            shapes.push(t);
        }
    }
    if shapes.is_empty() {
        shapes = if quick { vec![1] } else { vec![1, 2] };
    }
    Ok(shapes)
}

/// Requested servers in canonical order. The ratios need a tokio variant: if none is
/// requested, all of them are added.
fn pick_servers(wanted: &[ServerKind]) -> Vec<ServerKind> {
    let any_tokio = wanted.iter().any(|k| k.is_tokio());
    ServerKind::ALL
        .into_iter()
        .filter(|k| wanted.is_empty() || wanted.contains(k) || (k.is_tokio() && !any_tokio))
        .collect()
}

/// Scenarios named in `wanted` (all if empty); a name that matches no scenario exactly
/// selects every scenario it is a prefix of (`pingpong` selects all three).
fn pick_scenarios(wanted: &[String], quick: bool) -> Result<Vec<Scenario>, String> {
    let all = scenarios::all(quick);
    let selects = |w: &str, name: &str| {
        name == w || (!all.iter().any(|s| s.name == w) && name.starts_with(w))
    };
    if let Some(bad) = wanted
        .iter()
        .find(|w| !all.iter().any(|s| selects(w, s.name)))
    {
        let names: Vec<&str> = all.iter().map(|s| s.name).collect();
        return Err(format!(
            "unknown scenario {bad:?}; known: {}",
            names.join(", ")
        ));
    }
    Ok(all
        .iter()
        .filter(|s| wanted.is_empty() || wanted.iter().any(|w| selects(w, s.name)))
        .cloned()
        .collect())
}
