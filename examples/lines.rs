//! A line protocol: every line the client sends comes back upper-cased.
//!
//! `cargo run --example lines`, then `nc 127.0.0.1 7100`.
//!
//! - Lines end with LF or CRLF; each answer ends as its line did. A last line
//!   without a newline is answered when the client closes its side.
//! - Lines may arrive in any pieces: a partial line waits in the handler until
//!   its end comes, so a UTF-8 character split across reads is upper-cased
//!   whole (`é` becomes `É`). Lines that are not UTF-8 get ASCII upper-casing.
//! - A line over `--max-line` bytes (default 1024, line ending not counted)
//!   gets `ERROR line too long (max N bytes)` and the connection is closed, so
//!   a client that never sends a newline cannot grow the server's memory.
//!
//! The lines are cut by the library's [`LineDecoder`]: a line whole in one
//! read is upper-cased straight from the read buffer, and only the start of an
//! unfinished line is kept, in a buffer freed once empty.

mod common;

use clap::Parser;
use common::ServerArgs;
use netecho::framing::LineDecoder;
use netecho::{Conn, Handler};

/// A line protocol server: answers each line upper-cased.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// The longest line accepted, in bytes (line ending not counted).
    #[arg(long, default_value_t = common::DEFAULT_MAX_LINE)]
    max_line: usize,
}

/// One connection of the line protocol.
#[derive(Debug)]
struct Lines {
    lines: LineDecoder,
}

impl Lines {
    fn new(max_line: usize) -> Self {
        Lines {
            lines: LineDecoder::new(max_line),
        }
    }
}

/// The answer to one line, without its ending.
fn upper(line: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(line) {
        Ok(text) => text.to_uppercase().into_bytes(),
        Err(_) => line.to_ascii_uppercase(),
    }
}

impl Handler for Lines {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        let max = self.lines.max_length();
        let mut lines = self.lines.feed(data);
        while let Some(line) = lines.next_line() {
            let Ok(line) = line else {
                // Over the cap: say so and close; the rest is not read.
                conn.write(common::too_long_message(max).as_bytes());
                return conn.close();
            };
            conn.write(&upper(&line));
            conn.write(line.ending());
        }
    }

    fn on_read_closed(&mut self, conn: &mut Conn) {
        if let Some(last) = self.lines.finish() {
            conn.write(&upper(&last));
            conn.write(b"\n");
        }
        conn.close();
    }
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let max_line = args.max_line;
    common::serve(&args.server, 7100, move || Lines::new(max_line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use netecho::CloseReason;
    use netecho::testing::Harness;
    use std::io::{BufRead, BufReader, Read, Write};

    const TEXT: &str = "hello, world\r\nsmall ünïcödé and ß\nπ ≈ 3.14159 😀\n\nlast\r\n";
    const UPPER: &str = "HELLO, WORLD\r\nSMALL ÜNÏCÖDÉ AND SS\nΠ ≈ 3.14159 😀\n\nLAST\r\n";

    #[test]
    fn upper_cases_lines_keeping_their_endings() {
        let mut peer = Harness::open(Lines::new(1024));
        peer.send(TEXT.as_bytes());
        assert_eq!(String::from_utf8(peer.read()).unwrap(), UPPER);
        assert!(!peer.is_closed());
    }

    #[test]
    fn byte_by_byte_gives_the_same_answer() {
        let mut peer = Harness::open(Lines::new(1024));
        let mut got = Vec::new();
        for byte in TEXT.as_bytes() {
            peer.send(&[*byte]);
            got.extend(peer.read());
        }
        assert_eq!(String::from_utf8(got).unwrap(), UPPER);
    }

    #[test]
    fn random_split_points_give_the_same_answer() {
        let mut rng = fastrand::Rng::with_seed(0x11e5);
        let input = TEXT.repeat(20);
        let expected = UPPER.repeat(20);
        for _ in 0..200 {
            let mut peer = Harness::open(Lines::new(1024));
            let mut rest = input.as_bytes();
            while !rest.is_empty() {
                let n = rng.usize(1..=rest.len().min(40));
                peer.send(&rest[..n]);
                rest = &rest[n..];
            }
            assert_eq!(String::from_utf8(peer.read()).unwrap(), expected);
        }
    }

    #[test]
    fn a_split_multi_byte_character_is_upper_cased_whole() {
        let mut peer = Harness::open(Lines::new(1024));
        let e_acute = "é".as_bytes();
        peer.send(b"caf").send(&e_acute[..1]);
        assert_eq!(peer.read(), b"", "answered a partial line");
        peer.send(&e_acute[1..]).send(b"\n");
        assert_eq!(peer.read(), "CAFÉ\n".as_bytes());
    }

    #[test]
    fn non_utf8_lines_get_ascii_upper_casing() {
        let mut peer = Harness::open(Lines::new(1024));
        peer.send(b"ab\xffcd\n");
        assert_eq!(peer.read(), b"AB\xffCD\n");
    }

    #[test]
    fn a_last_line_without_newline_is_answered_at_eof() {
        let mut peer = Harness::open(Lines::new(1024));
        peer.send(b"one\ntw").send(b"o").half_close();
        assert_eq!(peer.read(), b"ONE\nTWO\n");
        assert!(peer.saw_eof());
        assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
    }

    #[test]
    fn a_line_at_the_cap_is_accepted_with_either_ending() {
        let mut peer = Harness::open(Lines::new(8));
        peer.send(b"abcdefgh\n").send(b"abcdefgh\r").send(b"\n");
        assert_eq!(peer.read(), b"ABCDEFGH\nABCDEFGH\r\n");
        assert!(!peer.is_closed());
    }

    #[test]
    fn an_overlong_line_gets_an_error_and_a_close() {
        for chunk in [1, 3, 100] {
            let mut peer = Harness::open(Lines::new(8));
            let input = b"ok\nabcdefghi\nnot answered\n";
            for piece in input.chunks(chunk) {
                peer.send(piece);
            }
            assert_eq!(
                String::from_utf8(peer.read()).unwrap(),
                "OK\nERROR line too long (max 8 bytes)\n",
                "chunks of {chunk}"
            );
            assert!(peer.saw_eof());
            peer.half_close();
            assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
        }
    }

    #[test]
    fn no_newline_ever_is_cut_at_the_cap() {
        let mut peer = Harness::open(Lines::new(1024));
        for _ in 0..100 {
            peer.send(&[b'x'; 100]);
        }
        assert_eq!(peer.read(), b"ERROR line too long (max 1024 bytes)\n");
        assert!(peer.saw_eof());
    }

    #[test]
    fn loopback() {
        let (server, mut client) = crate::common::loopback(|| Lines::new(1024));
        let mut reader = BufReader::new(client.try_clone().unwrap());
        // Ask and wait for each answer, the second one sent in pieces.
        client.write_all(b"first line\n").unwrap();
        let mut answer = String::new();
        reader.read_line(&mut answer).unwrap();
        assert_eq!(answer, "FIRST LINE\n");
        for piece in ["sec", "ond ", "é", "\r\n"] {
            client.write_all(piece.as_bytes()).unwrap();
        }
        answer.clear();
        reader.read_line(&mut answer).unwrap();
        assert_eq!(answer, "SECOND É\r\n");
        // The client closes its side: the server closes too.
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "");
        server.shutdown();
        server.join().unwrap();
    }

    /// A last line and the client's FIN sent back to back: the server must
    /// answer the line, then close.
    #[test]
    fn regression_eof_arriving_with_the_last_line_is_not_missed() {
        let (server, mut client) = crate::common::loopback(|| Lines::new(1024));
        client.write_all(b"end").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = String::new();
        client.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "END\n");
        server.shutdown();
        server.join().unwrap();
    }
}
