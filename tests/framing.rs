//! The framing decoders inside handlers: through the test kit, in every
//! chunking, and once over loopback.

mod util;

use std::io::{Read, Write};

use netecho::framing::{FrameDecoder, FramingError, LengthDelimited, LineDecoder};
use netecho::testing::Harness;
use netecho::{CloseReason, Conn, Handler};
use util::TestResult;

/// Answers each line upper-cased with its own ending; answers `ERR ...` to a
/// line over the cap and goes on; answers a last line without newline at
/// EOF, then closes.
#[derive(Debug)]
struct Upper {
    lines: LineDecoder,
}

impl Upper {
    fn new(max: usize) -> Self {
        Upper {
            lines: LineDecoder::new(max),
        }
    }
}

impl Handler for Upper {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        let mut lines = self.lines.feed(data);
        while let Some(line) = lines.next_line() {
            match line {
                Ok(line) => {
                    conn.write(&line.to_ascii_uppercase());
                    conn.write(line.ending());
                }
                Err(err) => conn.write(format!("ERR {err}\n").as_bytes()),
            }
        }
    }

    fn on_read_closed(&mut self, conn: &mut Conn) {
        if let Some(last) = self.lines.finish() {
            conn.write(&last.to_ascii_uppercase());
            conn.write(b"\n");
        }
        conn.close();
    }
}

/// Sends each frame back reversed, in a frame; on a framing error sends
/// `error: ...` in a frame and closes.
#[derive(Debug)]
struct Reverse {
    codec: LengthDelimited,
    frames: FrameDecoder,
}

impl Reverse {
    fn new(max: usize) -> Self {
        let codec = LengthDelimited::new()
            .length_field_type::<u16>()
            .max_frame_length(max);
        Reverse {
            codec,
            frames: codec.decoder(),
        }
    }

    fn fail(&self, conn: &mut Conn, err: FramingError) {
        let _ = self
            .codec
            .write_frame(conn, format!("error: {err}").as_bytes());
        conn.close();
    }
}

impl Handler for Reverse {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        let mut frames = self.frames.feed(data);
        while let Some(frame) = frames.next_frame() {
            let result = frame.and_then(|frame| {
                let reversed: Vec<u8> = frame.iter().rev().copied().collect();
                self.codec.write_frame(conn, &reversed)
            });
            if let Err(err) = result {
                drop(frames);
                return self.fail(conn, err);
            }
        }
    }

    fn on_read_closed(&mut self, conn: &mut Conn) {
        match self.frames.finish() {
            Ok(()) => conn.close(),
            Err(err) => self.fail(conn, err),
        }
    }
}

const TEXT: &[u8] = b"hello\r\nw\xc3\xb6rld\n\nmuch too long a line\nok\r\nlast";
const ANSWER: &[u8] = b"HELLO\r\nW\xc3\xb6RLD\n\nERR line longer than 12 bytes\nOK\r\nLAST\n";

#[test]
fn lines_in_any_chunking_give_the_same_answer() {
    let mut rng = fastrand::Rng::with_seed(0x11_4e5);
    for round in 0..300 {
        let mut peer = Harness::open(Upper::new(12));
        let mut rest = TEXT;
        while !rest.is_empty() {
            let n = if round == 0 {
                1
            } else {
                rng.usize(1..=rest.len().min(9))
            };
            peer.send(&rest[..n]);
            rest = &rest[n..];
        }
        peer.half_close();
        assert_eq!(peer.read(), ANSWER, "round {round}");
        assert!(peer.saw_eof());
        assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
    }
}

#[test]
fn a_peer_that_never_sends_a_newline_gets_one_error() {
    let mut peer = Harness::open(Upper::new(64));
    for _ in 0..1000 {
        peer.send(&[b'x'; 100]);
    }
    assert_eq!(peer.read(), b"ERR line longer than 64 bytes\n");
    peer.send(b"xxx\nback\n");
    assert_eq!(peer.read(), b"BACK\n");
}

/// `payload` in a frame with a big-endian u16 length.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = u16::try_from(payload.len())
        .expect("a test frame fits")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(payload);
    out
}

#[test]
fn frames_in_any_chunking_give_the_same_answer() {
    let payloads: [&[u8]; 5] = [b"abc", b"", b"x", &[7; 300], b"end"];
    let input: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
    let answer: Vec<u8> = payloads
        .iter()
        .flat_map(|p| frame(&p.iter().rev().copied().collect::<Vec<u8>>()))
        .collect();
    let mut rng = fastrand::Rng::with_seed(0xf4a3e);
    for round in 0..300 {
        let mut peer = Harness::open(Reverse::new(300));
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = if round == 0 {
                1
            } else {
                rng.usize(1..=rest.len().min(40))
            };
            peer.send(&rest[..n]);
            rest = &rest[n..];
        }
        peer.half_close();
        assert_eq!(peer.read(), answer, "round {round}");
        assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
    }
}

#[test]
fn a_frame_over_the_cap_is_refused_at_its_header() {
    let mut peer = Harness::open(Reverse::new(300));
    peer.send(&frame(b"ok")).send(&[0x01, 0x2d]);
    assert_eq!(
        peer.read(),
        [
            frame(b"ko"),
            frame(b"error: frame of 301 bytes is longer than the maximum of 300")
        ]
        .concat()
    );
    assert!(peer.saw_eof());
    peer.half_close();
    assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
}

#[test]
fn a_stream_ending_inside_a_frame_is_reported() {
    let mut peer = Harness::open(Reverse::new(300));
    peer.send(&frame(b"whole"))
        .send(b"\x00\x09part")
        .half_close();
    assert_eq!(
        peer.read(),
        [
            frame(b"elohw"),
            frame(b"error: stream ended inside a frame, 6 bytes of it received")
        ]
        .concat()
    );
    assert!(peer.saw_eof());
}

#[test]
fn frames_over_loopback() -> TestResult {
    let server = util::builder()
        .workers(1)
        .handler(|| Reverse::new(u16::MAX.into()))
        .spawn()?;
    let mut client = util::connect(server.local_addr())?;
    let payloads: Vec<Vec<u8>> = (0..20u8)
        .map(|i| {
            (0..usize::from(i) * 3000)
                .map(|j| (j % 251) as u8)
                .collect()
        })
        .collect();
    let input: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
    // Odd-sized writes, so frames and headers straddle reads.
    for piece in input.chunks(4093) {
        client.write_all(piece)?;
    }
    client.shutdown(std::net::Shutdown::Write)?;
    let mut got = Vec::new();
    client.read_to_end(&mut got)?;
    let want: Vec<u8> = payloads
        .iter()
        .flat_map(|p| frame(&p.iter().rev().copied().collect::<Vec<u8>>()))
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the frames came back altered");
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}
