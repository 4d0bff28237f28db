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
}

impl Scenario {
    pub fn is_idle(&self) -> bool {
        self.mode == Mode::Idle
    }

    pub fn describe(&self) -> String {
        match self.mode {
            Mode::Idle => format!("{} idle connections, each echoed 1 byte", self.connections),
            Mode::Connect => format!(
                "{} loops of connect, echo {} B, close",
                self.connections, self.size
            ),
            _ => format!(
                "{} connections x {} B ping-pong",
                self.connections, self.size
            ),
        }
    }
}

/// All scenarios; `quick` holds 1,000 idle connections instead of 10,000.
pub fn all(quick: bool) -> Vec<Scenario> {
    let idle = if quick { 1_000 } else { 10_000 };
    vec![
        Scenario {
            name: "pingpong-100x512B",
            mode: Mode::PingPong,
            connections: 100,
            size: 512,
        },
        Scenario {
            name: "pingpong-1000x64B",
            mode: Mode::PingPong,
            connections: 1000,
            size: 64,
        },
        Scenario {
            name: "pingpong-10x64KiB",
            mode: Mode::PingPong,
            connections: 10,
            size: 65536,
        },
        Scenario {
            name: "connect",
            mode: Mode::Connect,
            connections: 32,
            size: 64,
        },
        Scenario {
            name: "idle",
            mode: Mode::Idle,
            connections: idle,
            size: 1,
        },
    ]
}
