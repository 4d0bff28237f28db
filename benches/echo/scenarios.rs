//! The load scenarios: over TCP, and ping-pong over a Unix socket file.

use crate::client::Mode;

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP on `127.0.0.1`, port 0.
    Tcp,
    /// A Unix socket file in a temporary directory made for the run.
    Unix,
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
    /// Over TLS (only the servers that speak it run it).
    pub tls: bool,
}

impl Scenario {
    pub fn is_idle(&self) -> bool {
        self.mode == Mode::Idle
    }

    pub fn describe(&self) -> String {
        let over = match self.transport {
            Transport::Tcp => "",
            Transport::Unix => " over a Unix socket file",
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
        format!("{tls}{what}{over}")
    }
}

/// All scenarios; `quick` holds 1,000 idle connections instead of 10,000. `--scenarios unix`
/// picks the Unix-socket one by prefix.
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
            tls: false,
        },
        Scenario {
            name: "pingpong-1000x64B",
            transport: Transport::Tcp,
            mode: Mode::PingPong,
            connections: 1000,
            size: 64,
            tls: false,
        },
        Scenario {
            name: "pingpong-10x64KiB",
            transport: Transport::Tcp,
            mode: Mode::PingPong,
            connections: 10,
            size: 65536,
            tls: false,
        },
        Scenario {
            name: "connect",
            transport: Transport::Tcp,
            mode: Mode::Connect,
            connections: 32,
            size: 64,
            tls: false,
        },
        Scenario {
            name: "idle",
            transport: Transport::Tcp,
            mode: Mode::Idle,
            connections: idle,
            size: 1,
            tls: false,
        },
        Scenario {
            name: "unix-100x512B",
            transport: Transport::Unix,
            mode: Mode::PingPong,
            connections: 100,
            size: 512,
            tls: false,
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
            tls: true,
        },
        Scenario {
            name: "tls-connect",
            transport: Transport::Tcp,
            mode: Mode::Connect,
            connections: 32,
            size: 64,
            tls: true,
        },
    ]);
    all
}
