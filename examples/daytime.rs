//! An RFC 867 daytime server: writes the current date and time (UTC, RFC 3339,
//! e.g. `2025-06-01T12:34:56Z`) and a CRLF on connect, then closes.
//!
//! `cargo run --example daytime`, then `nc 127.0.0.1 7013` (port 13 + 7000,
//! as low ports need root).
//!
//! The close is graceful: the timestamp is sent, then FIN; what the client
//! sends is ignored.

mod common;

use std::time::SystemTime;

use clap::Parser;
use common::ServerArgs;
use netecho::{Conn, Handler};

/// An RFC 867 daytime server.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

/// Writes the time on connect, then closes.
#[derive(Debug, Clone, Copy)]
struct Daytime {
    /// Where the time comes from: the system clock, or a fixed time in tests.
    clock: fn() -> SystemTime,
}

impl Daytime {
    fn new() -> Self {
        Daytime {
            clock: SystemTime::now,
        }
    }
}

impl Handler for Daytime {
    fn on_open(&mut self, conn: &mut Conn) {
        let now = humantime::format_rfc3339_seconds((self.clock)());
        conn.write(format!("{now}\r\n").as_bytes());
        conn.close();
    }
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    common::serve(&args.server, 7013, Daytime::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netecho::CloseReason;
    use netecho::testing::Harness;
    use std::io::Read;
    use std::time::{Duration, UNIX_EPOCH};

    fn fixed() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn writes_the_time_then_closes() {
        let mut peer = Harness::open(Daytime { clock: fixed });
        assert_eq!(peer.read(), b"2023-11-14T22:13:20Z\r\n");
        assert!(peer.saw_eof());
        // Input after the close is read and dropped; the peer's EOF ends it.
        peer.send(b"ignored").half_close();
        assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
    }

    #[test]
    fn a_peer_that_keeps_its_side_open_is_closed_after_the_drain() {
        let mut peer = Harness::open(Daytime { clock: fixed });
        assert_eq!(peer.read().len(), 22);
        peer.advance(Duration::from_secs(10));
        assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
    }

    #[test]
    fn a_slow_reader_gets_the_whole_line() {
        let mut peer = Harness::builder()
            .peer_window(5)
            .open(Daytime { clock: fixed });
        let mut got = Vec::new();
        for _ in 0..10 {
            got.extend(peer.read_at_most(3));
        }
        assert_eq!(got, b"2023-11-14T22:13:20Z\r\n");
        assert!(peer.saw_eof());
    }

    #[test]
    fn the_system_clock_is_used_by_default() {
        let before = SystemTime::now() - Duration::from_secs(1);
        let mut peer = Harness::open(Daytime::new());
        let line = String::from_utf8(peer.read()).unwrap();
        let stamp = line.strip_suffix("\r\n").unwrap();
        let time = humantime::parse_rfc3339(stamp).unwrap();
        assert!(time >= before && time <= SystemTime::now(), "{line}");
    }

    #[test]
    fn loopback() {
        let (server, mut client) = crate::common::loopback(Daytime::new);
        let mut line = String::new();
        client.read_to_string(&mut line).unwrap();
        let stamp = line.strip_suffix("\r\n").unwrap();
        humantime::parse_rfc3339(stamp).unwrap();
        drop(client);
        server.shutdown();
        server.join().unwrap();
    }
}
