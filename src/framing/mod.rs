//! Sans-IO framing: cut the bytes `on_data` gets into lines or
//! length-prefixed frames, whatever the reads' boundaries.
//!
//! TCP carries bytes, not messages: one [`on_data`](crate::Handler::on_data)
//! may bring half a message, or several and a half. A decoder here keeps the
//! start of a message until its end comes and hands out whole ones:
//!
//! - [`LineDecoder`]: lines ended by LF or CRLF, with a cap on a line's
//!   length.
//! - [`FrameDecoder`]: frames behind a length header of 1, 2, 4 or 8 bytes,
//!   big- or little-endian, with a cap on a frame's length. Their format is a
//!   [`LengthDelimited`], which also writes such frames
//!   ([`encode`](LengthDelimited::encode),
//!   [`write_frame`](LengthDelimited::write_frame)).
//!
//! Both work the same way: [`feed`](LineDecoder::feed) them the bytes of one
//! `on_data` and take messages out of what that returns until it gives
//! `None`; at the peer's end of stream, `finish` says what was left.
//! A message that sits whole in the bytes fed is handed out as a slice of
//! them, without a copy; only the start of an unfinished message is copied
//! into the decoder, never more than its cap, and a decoder with nothing held
//! between feeds holds no allocation.
//!
//! The limits are those of tokio-util's `LinesCodec::new_with_max_length` and
//! `LengthDelimitedCodec`: a message over the cap is an error
//! ([`FramingError`]) as soon as it is known to be over, without buffering
//! it, and decoding goes on after it. What to do about it (answer an error,
//! close) is the handler's call.
//!
//! # Examples
//!
//! A handler answering each line upper-cased:
//!
//! ```
//! use netecho::framing::LineDecoder;
//! use netecho::testing::Harness;
//! use netecho::{Conn, Handler};
//!
//! struct Upper {
//!     lines: LineDecoder,
//! }
//!
//! impl Handler for Upper {
//!     fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
//!         let mut lines = self.lines.feed(data);
//!         while let Some(line) = lines.next_line() {
//!             match line {
//!                 Ok(line) => {
//!                     conn.write(&line.to_ascii_uppercase());
//!                     conn.write(line.ending());
//!                 }
//!                 Err(err) => {
//!                     conn.write(format!("error: {err}\n").as_bytes());
//!                     return conn.close();
//!                 }
//!             }
//!         }
//!     }
//! }
//!
//! let mut peer = Harness::open(Upper { lines: LineDecoder::new(8) });
//! peer.send(b"one\r\ntw").send(b"o\n");
//! assert_eq!(peer.read(), b"ONE\r\nTWO\n");
//! peer.send(b"much too long\n");
//! assert_eq!(peer.read(), b"error: line longer than 8 bytes\n");
//! assert!(peer.saw_eof());
//! ```

mod length_delimited;
mod lines;

pub use length_delimited::{
    DEFAULT_MAX_FRAME_LENGTH, FrameDecoder, Frames, LengthDelimited, LengthFieldType,
};
pub use lines::{DEFAULT_MAX_LINE_LENGTH, Line, LineDecoder, Lines};

/// What a framing decoder or encoder found wrong with a message.
///
/// # Examples
///
/// ```
/// use netecho::framing::{FramingError, LineDecoder};
///
/// let mut decoder = LineDecoder::new(4);
/// let mut lines = decoder.feed(b"hello\n");
/// let err = lines.next_line().unwrap().unwrap_err();
/// assert_eq!(err, FramingError::LineTooLong { max: 4 });
/// assert_eq!(err.to_string(), "line longer than 4 bytes");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// A line is longer than the decoder's cap (the line ending not counted).
    #[error("line longer than {max} bytes")]
    LineTooLong {
        /// The cap, in bytes.
        max: usize,
    },
    /// A frame's length is over the cap: announced by a header when decoding,
    /// the payload's when encoding.
    #[error("frame of {len} bytes is longer than the maximum of {max}")]
    FrameTooLong {
        /// The frame's length, in bytes, after the length adjustment.
        len: u64,
        /// The cap, in bytes.
        max: usize,
    },
    /// A header's length plus a negative length adjustment is below zero: the
    /// stream cannot be cut any further.
    #[error("frame length {field} with adjustment {adjustment} is negative")]
    NegativeLength {
        /// The length the header holds.
        field: u64,
        /// The decoder's length adjustment.
        adjustment: isize,
    },
    /// A payload's length (minus the length adjustment) cannot be written in
    /// the length field: too big for its width, or negative.
    #[error("frame of {len} bytes does not fit a {width}-byte length field")]
    LengthFieldOverflow {
        /// The payload's length, in bytes.
        len: usize,
        /// The length field's width, in bytes.
        width: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame, {buffered} bytes of it received")]
    Truncated {
        /// The bytes of the unfinished frame received (header included).
        buffered: usize,
    },
}

/// Appends `data` to `buf`, growing it by doubling but never past `cap`
/// bytes of capacity (the caller checked `buf.len() + data.len() <= cap`).
fn append_capped(buf: &mut Vec<u8>, data: &[u8], cap: usize) {
    let needed = buf.len() + data.len();
    if needed > buf.capacity() {
        let target = needed.max(buf.capacity() * 2).min(cap).max(needed);
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(data);
}

/// Empties `buf`; gives its allocation back if `free`.
fn clear(buf: &mut Vec<u8>, free: bool) {
    if free {
        *buf = Vec::new();
    } else {
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_capped_never_allocates_past_the_cap() {
        let mut buf = Vec::new();
        for _ in 0..100 {
            append_capped(&mut buf, b"x", 100);
            assert!(buf.capacity() <= 100, "{}", buf.capacity());
        }
        assert_eq!(buf.len(), 100);
        assert_eq!(buf.capacity(), 100);
    }

    #[test]
    fn append_capped_grows_by_doubling_below_the_cap() {
        let mut buf = Vec::new();
        let mut growths = 0;
        let mut cap = 0;
        for _ in 0..1000 {
            append_capped(&mut buf, b"x", 1 << 20);
            if buf.capacity() != cap {
                growths += 1;
                cap = buf.capacity();
            }
        }
        assert!(growths <= 12, "{growths} reallocations for 1000 bytes");
    }

    /// A decoder is per connection: it must stay small while idle (and it
    /// holds no allocation then, which the codecs' own tests check).
    #[test]
    fn idle_decoders_are_small() {
        let line = std::mem::size_of::<LineDecoder>();
        let frame = std::mem::size_of::<FrameDecoder>();
        eprintln!("LineDecoder: {line} bytes, FrameDecoder: {frame} bytes");
        assert!(line <= 48, "LineDecoder is {line} bytes");
        assert!(frame <= 96, "FrameDecoder is {frame} bytes");
    }

    #[test]
    fn messages_are_lowercase_with_their_numbers() {
        let cases = [
            (
                FramingError::LineTooLong { max: 8192 },
                "line longer than 8192 bytes",
            ),
            (
                FramingError::FrameTooLong {
                    len: 70000,
                    max: 65536,
                },
                "frame of 70000 bytes is longer than the maximum of 65536",
            ),
            (
                FramingError::NegativeLength {
                    field: 2,
                    adjustment: -4,
                },
                "frame length 2 with adjustment -4 is negative",
            ),
            (
                FramingError::LengthFieldOverflow { len: 256, width: 1 },
                "frame of 256 bytes does not fit a 1-byte length field",
            ),
            (
                FramingError::Truncated { buffered: 3 },
                "stream ended inside a frame, 3 bytes of it received",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }
}
