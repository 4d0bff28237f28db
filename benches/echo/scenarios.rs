//! The load scenarios: over TCP, ping-pong over a Unix socket file, and datagrams over
//! UDP.

use crate::client::Mode;

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP on `127.0.0.1`, port 0.
    Tcp,
    /// A Unix socket file in a temporary directory made for the run.
    Unix,
    /// UDP on `127.0.0.1`, loaded by the `loadgen` example's UDP mode.
    Udp,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub transport: Transport,
    pub mode: Mode,
    /// Connections (concurrent connect loops in connect mode).
    pub connections: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Messages in flight per connection (UDP: per sender); 1 for ping-pong.
    pub depth: usize,
    /// Over TLS (only the servers that speak it run it).
    pub tls: bool,
    /// Event-loop threads of the load generator (the client shape).
    pub client_threads: usize,
}

impl Scenario {
    pub fn is_idle(&self) -> bool {
        self.mode == Mode::Idle
    }

    /// Ping-pong over a stream: the scenarios that run once per client shape.
    pub fn is_ping_pong(&self) -> bool {
        self.mode == Mode::PingPong && self.transport != Transport::Udp
    }

    /// The name in the table, the JSON and the chart: a ping-pong scenario's names its
    /// client shape (`pingpong-100x512B/c2`), another's only a shape other than 1 thread.
    pub fn id(&self) -> String {
        if self.is_ping_pong() || self.client_threads != 1 {
            format!("{}/c{}", self.name, self.client_threads)
        } else {
            self.name.to_string()
        }
    }

    pub fn describe(&self) -> String {
        let over = match self.transport {
            Transport::Tcp => "",
            Transport::Unix => " over a Unix socket file",
            Transport::Udp => {
                return format!(
                    "{} UDP senders x {} B datagrams, {} in flight each, every reply checked{}",
                    self.connections,
                    self.size,
                    self.depth,
                    self.client()
                );
            }
        };
        let what = match self.mode {
            Mode::Idle => format!("{} idle connections, each echoed 1 byte", self.connections),
            Mode::Connect => format!(
                "{} loops of connect, echo {} B, close",
                self.connections, self.size
            ),
            _ => format!(
                "{} connections x {} B ping-pong",
                self.connections, self.size
            ),
        };
        let tls = if self.tls { "TLS: " } else { "" };
        format!("{tls}{what}{over}{}", self.client())
    }

    /// `, client with N thread(s)`.
    fn client(&self) -> String {
        let threads = self.client_threads;
        format!(
            ", client with {threads} thread{}",
            if threads == 1 { "" } else { "s" }
        )
    }
}

/// Each ping-pong scenario once per client shape (`shapes`: load generator threads, in
/// order), the others once, with the first shape.
pub fn with_shapes(scenarios: Vec<Scenario>, shapes: &[usize]) -> Vec<Scenario> {
    let first = shapes.first().copied().unwrap_or(1);
    let mut out = Vec::new();
    for sc in scenarios {
        if sc.is_ping_pong() {
            out.extend(shapes.iter().map(|&client_threads| Scenario {
                client_threads,
                ..sc.clone()
            }));
        } else {
            out.push(Scenario {
                client_threads: first,
                ..sc
            });
        }
    }
    out
}

/// All scenarios; `quick` holds 1,000 idle connections instead of 10,000. `--scenarios unix`
/// picks the Unix-socket one by prefix, `--scenarios udp` the two UDP ones.
pub fn all(quick: bool) -> Vec<Scenario> {
    let idle = if quick { 1_000 } else { 10_000 };
    #[allow(unused_mut)]
    let mut all = vec![
        Scenario {
            name: "pingpong-100x512B",
            transport: Transport::Tcp,
            mode: Mode::PingPong,
            connections: 100,
            size: 512,
            depth: 1,
            tls: false,
            client_threads: 1,
        },
        Scenario {
            name: "pingpong-1000x64B",
            transport: Transport::Tcp,
            mode: Mode::PingPong,
            connections: 1000,
            size: 64,
            depth: 1,
            tls: false,
            client_threads: 1,
        },
        Scenario {
            name: "pingpong-10x64KiB",
            transport: Transport::Tcp,
            mode: Mode::PingPong,
            connections: 10,
            size: 65536,
            depth: 1,
            tls: false,
            client_threads: 1,
        },
        Scenario {
            name: "connect",
            transport: Transport::Tcp,
            mode: Mode::Connect,
            connections: 32,
            size: 64,
            depth: 1,
            tls: false,
            client_threads: 1,
        },
        Scenario {
            name: "idle",
            transport: Transport::Tcp,
            mode: Mode::Idle,
            connections: idle,
            size: 1,
            depth: 1,
            tls: false,
            client_threads: 1,
        },
        Scenario {
            name: "unix-100x512B",
            transport: Transport::Unix,
            mode: Mode::PingPong,
            connections: 100,
            size: 512,
            depth: 1,
            tls: false,
            client_threads: 1,
        },
        Scenario {
            name: "udp-64B",
            transport: Transport::Udp,
            mode: Mode::Pipeline,
            connections: UDP_SENDERS,
            size: 64,
            depth: UDP_DEPTH,
            tls: false,
            client_threads: 1,
        },
        Scenario {
            name: "udp-1400B",
            transport: Transport::Udp,
            mode: Mode::Pipeline,
            connections: UDP_SENDERS,
            size: 1400,
            depth: UDP_DEPTH,
            tls: false,
            client_threads: 1,
        },
    ];
    // With the `tls` feature (`cargo bench --features tls --bench echo`): against a
    // tokio + tokio-rustls server, the ping-pong and the handshake rate.
    #[cfg(feature = "tls")]
    all.extend([
        Scenario {
            name: "tls-pingpong-100x512B",
            transport: Transport::Tcp,
            mode: Mode::PingPong,
            connections: 100,
            size: 512,
            depth: 1,
            tls: true,
            client_threads: 1,
        },
        Scenario {
            name: "tls-connect",
            transport: Transport::Tcp,
            mode: Mode::Connect,
            connections: 32,
            size: 64,
            depth: 1,
            tls: true,
            client_threads: 1,
        },
    ]);
    all
}

/// UDP senders (sockets, so peers) of the UDP scenarios: several, as a load test or a
/// set of clients is.
const UDP_SENDERS: usize = 8;
/// Datagrams in flight per UDP sender: enough that a server has a batch to take.
const UDP_DEPTH: usize = 8;
