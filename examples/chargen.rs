//! An RFC 864 character generator: sends the rotating 72-character line
//! pattern until the client closes, as fast as the client reads and no faster.
//!
//! `cargo run --example chargen`, then `nc 127.0.0.1 7019 | head` (port 19 +
//! 7000, as low ports need root).
//!
//! Line `i` holds the 72 printable ASCII characters starting with the
//! `i % 95`-th one (of the 95 from space to `~`), then CRLF; after 95 lines
//! the pattern repeats. The handler writes one period of it (95 lines, 7030
//! bytes), asks for [`on_drain`](Handler::on_drain), and writes the next
//! period only once the socket has taken all of the previous one: a slow
//! reader costs one chunk of memory, not a growing buffer.
//!
//! What the client sends is ignored. A client that only reads is never idle
//! here ([`on_idle_timeout`](Handler::on_idle_timeout) keeps the connection);
//! one that stops reading is closed by the write timeout.

mod common;

use clap::Parser;
use common::ServerArgs;
use netecho::{Conn, Handler};

/// An RFC 864 character generator server.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

/// Characters in a line, CRLF not counted.
const LINE_LEN: usize = 72;
/// The printable ASCII characters, 32 (space) to 126 (`~`).
const PRINTABLE: usize = 95;
/// One period of the pattern: 95 lines of 72 characters and CRLF.
const PERIOD_LEN: usize = PRINTABLE * (LINE_LEN + 2);

/// The pattern's period, built at compile time; each chunk written is one.
static PERIOD: [u8; PERIOD_LEN] = period();

const fn period() -> [u8; PERIOD_LEN] {
    let mut out = [0; PERIOD_LEN];
    let mut line = 0;
    while line < PRINTABLE {
        let start = line * (LINE_LEN + 2);
        let mut col = 0;
        while col < LINE_LEN {
            out[start + col] = b' ' + ((line + col) % PRINTABLE) as u8;
            col += 1;
        }
        out[start + LINE_LEN] = b'\r';
        out[start + LINE_LEN + 1] = b'\n';
        line += 1;
    }
    out
}

/// Generates characters as fast as the peer reads them.
#[derive(Debug, Clone, Copy, Default)]
struct Chargen;

impl Chargen {
    /// Writes one chunk and asks to be told when the socket has taken it.
    fn produce(conn: &mut Conn) {
        conn.write(&PERIOD);
        conn.notify_on_drain();
    }
}

impl Handler for Chargen {
    fn on_open(&mut self, conn: &mut Conn) {
        Self::produce(conn);
    }

    fn on_data(&mut self, _conn: &mut Conn, _data: &[u8]) {}

    fn on_drain(&mut self, conn: &mut Conn) {
        Self::produce(conn);
    }

    /// The peer is silent by design (it only reads): keep the connection.
    fn on_idle_timeout(&mut self, _conn: &mut Conn) {}
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    common::serve(&args.server, 7019, || Chargen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netecho::CloseReason;
    use netecho::testing::Harness;
    use std::io::Read;
    use std::time::Duration;

    /// The pattern from byte `offset` on, straight from RFC 864's description.
    fn expected(offset: usize, len: usize) -> Vec<u8> {
        (offset..offset + len)
            .map(|i| {
                let (line, col) = (i / 74, i % 74);
                match col {
                    72 => b'\r',
                    73 => b'\n',
                    _ => (32 + (line + col) % 95) as u8,
                }
            })
            .collect()
    }

    #[test]
    fn the_pattern_is_exact() {
        assert_eq!(
            &PERIOD[..74],
            format!("{}\r\n", {
                let s: String = (32u8..=126).map(char::from).collect();
                s[..72].to_string()
            })
            .as_bytes()
        );
        assert_eq!(&PERIOD[74..76], b"!\"");
        assert_eq!(&PERIOD[PERIOD_LEN - 74..PERIOD_LEN - 72], b"~ ");
        let mut peer = Harness::open(Chargen);
        let got = peer.read();
        assert!(got.len() > 3 * PERIOD_LEN, "{}", got.len());
        assert!(got == expected(0, got.len()), "pattern differs");
    }

    #[test]
    fn a_slow_reader_costs_one_chunk_at_most() {
        let window = 4096;
        let mut peer = Harness::builder().peer_window(window).open(Chargen);
        let mut offset = 0;
        for i in 0..3000 {
            assert!(
                peer.unread() <= window + PERIOD_LEN,
                "{} unread after {offset} bytes",
                peer.unread()
            );
            let got = peer.read_at_most(1 + i % 1500);
            assert!(
                got == expected(offset, got.len()),
                "pattern differs at {offset}"
            );
            offset += got.len();
        }
        assert!(offset > 1_000_000, "{offset}");
        assert!(!peer.is_closed());
    }

    #[test]
    fn input_is_ignored_and_the_peer_closing_ends_it() {
        let mut peer = Harness::builder().peer_window(4096).open(Chargen);
        peer.send(b"stop? no, chargen ignores input\r\n");
        let mut offset = 0;
        let got = peer.read();
        assert!(got == expected(offset, got.len()));
        offset += got.len();
        peer.half_close();
        // What was written is delivered, then EOF.
        let got = peer.read_to_eof();
        assert!(got == expected(offset, got.len()));
        assert!(peer.saw_eof());
        assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
    }

    #[test]
    fn a_reading_peer_is_not_idle_and_a_stuck_one_times_out() {
        let mut reading = Harness::builder()
            .peer_window(4096)
            .idle_timeout(Duration::from_secs(10))
            .write_timeout(Duration::from_secs(30))
            .open(Chargen);
        for _ in 0..60 {
            reading.advance(Duration::from_secs(1));
            reading.read();
        }
        assert!(!reading.is_closed());

        reading.advance(Duration::from_secs(30));
        assert_eq!(reading.close_reason(), Some(CloseReason::WriteTimeout));
    }

    #[test]
    fn loopback() {
        let (server, mut client) = crate::common::loopback(|| Chargen);
        let mut got = vec![0; 1 << 20];
        client.read_exact(&mut got).unwrap();
        assert!(got == expected(0, got.len()), "pattern differs");
        // Closing our side ends it: the rest of what was sent, then EOF.
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest == expected(got.len(), rest.len()), "pattern differs");
        server.shutdown();
        server.join().unwrap();
    }
}
