//! The load scenarios.

use crate::client::Mode;

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
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
        let tls = if self.tls { "TLS: " } else { "" };
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
        format!("{tls}{what}")
    }
}

/// All scenarios; `quick` holds 1,000 idle connections instead of 10,000.
pub fn all(quick: bool) -> Vec<Scenario> {
    let idle = if quick { 1_000 } else { 10_000 };
    #[allow(unused_mut)]
    let mut all = vec![
        Scenario {
            name: "pingpong-100x512B",
            mode: Mode::PingPong,
            connections: 100,
            size: 512,
            tls: false,
        },
        Scenario {
            name: "pingpong-1000x64B",
            mode: Mode::PingPong,
            connections: 1000,
            size: 64,
            tls: false,
        },
        Scenario {
            name: "pingpong-10x64KiB",
            mode: Mode::PingPong,
            connections: 10,
            size: 65536,
            tls: false,
        },
        Scenario {
            name: "connect",
            mode: Mode::Connect,
            connections: 32,
            size: 64,
            tls: false,
        },
        Scenario {
            name: "idle",
            mode: Mode::Idle,
            connections: idle,
            size: 1,
            tls: false,
        },
    ];
    // With the `tls` feature (`cargo bench --features tls --bench echo`): against a
    // tokio + tokio-rustls server, the ping-pong and the handshake rate.
    #[cfg(feature = "tls")]
    all.extend([
        Scenario {
            name: "tls-pingpong-100x512B",
            mode: Mode::PingPong,
            connections: 100,
            size: 512,
            tls: true,
        },
        Scenario {
            name: "tls-connect",
            mode: Mode::Connect,
            connections: 32,
            size: 64,
            tls: true,
        },
    ]);
    all
}
