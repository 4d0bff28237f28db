//! [`LengthDelimited`] and its [`FrameDecoder`]: frames behind a length
//! header, with a length cap.

use std::fmt;

use super::{FramingError, append_capped, clear};
use crate::Conn;

/// The cap of [`LengthDelimited::new`], in bytes (8 MiB, as tokio-util's
/// `LengthDelimitedCodec`).
pub const DEFAULT_MAX_FRAME_LENGTH: usize = 8 * 1024 * 1024;

mod sealed {
    /// The width of a length field type, in bytes.
    pub trait Sealed {
        const WIDTH: usize;
    }
}

/// The integer types a length field can be: `u8`, `u16`, `u32` and `u64`,
/// for [`LengthDelimited::length_field_type`].
///
/// # Examples
///
/// ```
/// use netecho::framing::LengthDelimited;
///
/// let codec = LengthDelimited::new().length_field_type::<u16>();
/// let mut out = Vec::new();
/// codec.encode(b"hi", &mut out)?;
/// assert_eq!(out, b"\x00\x02hi");
/// # Ok::<(), netecho::framing::FramingError>(())
/// ```
pub trait LengthFieldType: sealed::Sealed {}

macro_rules! length_field_types {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {
            const WIDTH: usize = std::mem::size_of::<$t>();
        }
        impl LengthFieldType for $t {}
    )*};
}
length_field_types!(u8, u16, u32, u64);

/// The format of length-prefixed frames: writes them, and makes
/// [`FrameDecoder`]s that read them.
///
/// # Frames
///
/// Each frame is a length field, then that many bytes of payload. The field
/// is an unsigned integer of 1, 2, 4 or 8 bytes
/// ([`length_field_type`](LengthDelimited::length_field_type); 4 by default),
/// big-endian by default ([`little_endian`](LengthDelimited::little_endian)).
/// If the field counts something else than the payload (itself, say), a
/// [`length_adjustment`](LengthDelimited::length_adjustment) is added to it
/// to get the payload's length. The names and defaults are those of
/// tokio-util's `LengthDelimitedCodec` builder, without its offset and skip
/// options: the header is the length field alone, and the decoder hands out
/// the payload without it.
///
/// A frame longer than
/// [`max_frame_length`](LengthDelimited::max_frame_length) (8 MiB by default)
/// is refused both ways: [`encode`](LengthDelimited::encode) fails, and the
/// decoder reports it (see [`FrameDecoder`]).
///
/// The format is a small `Copy` value, apart from the decoder's state: a
/// handler keeps it next to its decoder and writes replies with it while the
/// decoder hands out requests.
///
/// # Examples
///
/// ```
/// use netecho::framing::LengthDelimited;
///
/// let codec = LengthDelimited::new().length_field_type::<u16>();
/// let mut stream = Vec::new();
/// codec.encode(b"hello", &mut stream)?;
/// codec.encode(b"", &mut stream)?;
/// assert_eq!(stream, b"\x00\x05hello\x00\x00");
///
/// let mut decoder = codec.decoder();
/// let mut got = Vec::new();
/// for data in stream.chunks(3) {
///     let mut frames = decoder.feed(data);
///     while let Some(frame) = frames.next_frame() {
///         got.push(frame?.to_vec());
///     }
/// }
/// assert_eq!(got, [&b"hello"[..], b""]);
/// # Ok::<(), netecho::framing::FramingError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthDelimited {
    width: usize,
    big_endian: bool,
    max: usize,
    adjustment: isize,
}

impl LengthDelimited {
    /// A 4-byte big-endian length field, no length adjustment, and frames of
    /// at most [`DEFAULT_MAX_FRAME_LENGTH`] bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LengthDelimited;
    ///
    /// let mut out = Vec::new();
    /// LengthDelimited::new().encode(b"abc", &mut out)?;
    /// assert_eq!(out, b"\x00\x00\x00\x03abc");
    /// # Ok::<(), netecho::framing::FramingError>(())
    /// ```
    #[must_use]
    pub fn new() -> Self {
        LengthDelimited {
            width: 4,
            big_endian: true,
            max: DEFAULT_MAX_FRAME_LENGTH,
            adjustment: 0,
        }
    }

    /// Sets the length field's type, and so its width: `u8`, `u16`, `u32`
    /// (the default) or `u64`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LengthDelimited;
    ///
    /// let mut out = Vec::new();
    /// LengthDelimited::new().length_field_type::<u8>().encode(b"abc", &mut out)?;
    /// assert_eq!(out, b"\x03abc");
    /// # Ok::<(), netecho::framing::FramingError>(())
    /// ```
    #[must_use]
    pub fn length_field_type<T: LengthFieldType>(mut self) -> Self {
        self.width = T::WIDTH;
        self
    }

    /// Reads and writes the length field big-endian (network order), the
    /// default.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LengthDelimited;
    ///
    /// let codec = LengthDelimited::new().little_endian().big_endian();
    /// let mut out = Vec::new();
    /// codec.encode(b"a", &mut out)?;
    /// assert_eq!(out, b"\x00\x00\x00\x01a");
    /// # Ok::<(), netecho::framing::FramingError>(())
    /// ```
    #[must_use]
    pub fn big_endian(mut self) -> Self {
        self.big_endian = true;
        self
    }

    /// Reads and writes the length field little-endian.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LengthDelimited;
    ///
    /// let codec = LengthDelimited::new().length_field_type::<u16>().little_endian();
    /// let mut out = Vec::new();
    /// codec.encode(b"a", &mut out)?;
    /// assert_eq!(out, b"\x01\x00a");
    /// # Ok::<(), netecho::framing::FramingError>(())
    /// ```
    #[must_use]
    pub fn little_endian(mut self) -> Self {
        self.big_endian = false;
        self
    }

    /// Sets the cap on a frame's payload, in bytes: a longer frame is an
    /// error, decoding or encoding.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::{FramingError, LengthDelimited};
    ///
    /// let codec = LengthDelimited::new().max_frame_length(4);
    /// let mut out = Vec::new();
    /// assert_eq!(
    ///     codec.encode(b"hello", &mut out),
    ///     Err(FramingError::FrameTooLong { len: 5, max: 4 })
    /// );
    /// ```
    #[must_use]
    pub fn max_frame_length(mut self, max: usize) -> Self {
        self.max = max;
        self
    }

    /// Sets what is added to the length field to get the payload's length
    /// (and taken from the payload's length to write the field); 0 by
    /// default. For a field that counts itself, it is minus its width.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LengthDelimited;
    ///
    /// // The length field counts itself.
    /// let codec = LengthDelimited::new()
    ///     .length_field_type::<u16>()
    ///     .length_adjustment(-2);
    /// let mut out = Vec::new();
    /// codec.encode(b"abc", &mut out)?;
    /// assert_eq!(out, b"\x00\x05abc");
    /// let mut decoder = codec.decoder();
    /// let mut frames = decoder.feed(&out);
    /// assert_eq!(frames.next_frame(), Some(Ok(&b"abc"[..])));
    /// # Ok::<(), netecho::framing::FramingError>(())
    /// ```
    #[must_use]
    pub fn length_adjustment(mut self, adjustment: isize) -> Self {
        self.adjustment = adjustment;
        self
    }

    /// A decoder for frames of this format, for one stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LengthDelimited;
    ///
    /// let codec = LengthDelimited::new().length_field_type::<u8>();
    /// let mut decoder = codec.decoder();
    /// assert_eq!(decoder.codec(), codec);
    /// let mut frames = decoder.feed(b"\x02hi");
    /// assert_eq!(frames.next_frame(), Some(Ok(&b"hi"[..])));
    /// ```
    #[must_use]
    pub fn decoder(self) -> FrameDecoder {
        FrameDecoder {
            codec: self,
            state: State::Head,
            head: [0; 8],
            head_len: 0,
            buf: Vec::new(),
            handed_out: false,
        }
    }

    /// Appends a frame holding `payload` to `out`: its length field, then
    /// `payload`.
    ///
    /// # Errors
    ///
    /// [`FramingError::FrameTooLong`] if `payload` is over the cap,
    /// [`FramingError::LengthFieldOverflow`] if its length (minus the length
    /// adjustment) does not fit the length field. `out` is then unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::{FramingError, LengthDelimited};
    ///
    /// let codec = LengthDelimited::new().length_field_type::<u8>();
    /// let mut out = Vec::new();
    /// codec.encode(b"ok", &mut out)?;
    /// assert_eq!(out, b"\x02ok");
    /// assert_eq!(
    ///     codec.encode(&[0; 256], &mut out),
    ///     Err(FramingError::LengthFieldOverflow { len: 256, width: 1 })
    /// );
    /// # Ok::<(), FramingError>(())
    /// ```
    pub fn encode(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), FramingError> {
        let head = self.header(payload.len())?;
        out.reserve(self.width + payload.len());
        out.extend_from_slice(&head[..self.width]);
        out.extend_from_slice(payload);
        Ok(())
    }

    /// Writes a frame holding `payload` to the connection: its length field,
    /// then `payload`, with two [`Conn::write`]s and no copy of its own.
    ///
    /// # Errors
    ///
    /// As [`encode`](LengthDelimited::encode); nothing is written then.
    ///
    /// # Examples
    ///
    /// A handler that sends each frame back, and closes on a bad one:
    ///
    /// ```
    /// use netecho::framing::{FrameDecoder, LengthDelimited};
    /// use netecho::testing::Harness;
    /// use netecho::{Conn, Handler};
    ///
    /// struct FrameEcho {
    ///     codec: LengthDelimited,
    ///     frames: FrameDecoder,
    /// }
    ///
    /// impl Handler for FrameEcho {
    ///     fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
    ///         let mut frames = self.frames.feed(data);
    ///         while let Some(frame) = frames.next_frame() {
    ///             let sent = frame.and_then(|frame| self.codec.write_frame(conn, frame));
    ///             if sent.is_err() {
    ///                 return conn.close();
    ///             }
    ///         }
    ///     }
    /// }
    ///
    /// let codec = LengthDelimited::new().length_field_type::<u16>().max_frame_length(8);
    /// let mut peer = Harness::open(FrameEcho { codec, frames: codec.decoder() });
    /// peer.send(b"\x00\x05hel").send(b"lo");
    /// assert_eq!(peer.read(), b"\x00\x05hello");
    /// peer.send(b"\x00\x09");
    /// assert!(peer.saw_eof());
    /// ```
    pub fn write_frame(&self, conn: &mut Conn, payload: &[u8]) -> Result<(), FramingError> {
        let head = self.header(payload.len())?;
        conn.write(&head[..self.width]);
        conn.write(payload);
        Ok(())
    }

    /// The length field for a payload of `len` bytes, in the first `width`
    /// bytes.
    fn header(&self, len: usize) -> Result<[u8; 8], FramingError> {
        if len > self.max {
            return Err(FramingError::FrameTooLong {
                len: len as u64,
                max: self.max,
            });
        }
        let overflow = FramingError::LengthFieldOverflow {
            len,
            width: self.width,
        };
        let field = u64::try_from(len as i128 - self.adjustment as i128).map_err(|_| overflow)?;
        if self.width < 8 && field >> (8 * self.width) != 0 {
            return Err(overflow);
        }
        let mut head = [0; 8];
        if self.big_endian {
            head[..self.width].copy_from_slice(&field.to_be_bytes()[8 - self.width..]);
        } else {
            head[..self.width].copy_from_slice(&field.to_le_bytes()[..self.width]);
        }
        Ok(head)
    }

    /// The length field in `bytes`.
    fn read_field(&self, bytes: &[u8]) -> u64 {
        let fold = |field: u64, &byte: &u8| field << 8 | u64::from(byte);
        if self.big_endian {
            bytes.iter().fold(0, fold)
        } else {
            bytes.iter().rev().fold(0, fold)
        }
    }
}

impl Default for LengthDelimited {
    /// The same as [`LengthDelimited::new`].
    fn default() -> Self {
        LengthDelimited::new()
    }
}

/// Where the decoder is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a header; `head_len` bytes of it are in `head`.
    Head,
    /// Reading a frame's payload of this many bytes; `buf` holds its start.
    Body(usize),
    /// Dropping the payload of a frame over the cap: this many bytes left.
    Skip(u64),
    /// A header made no sense: the rest of the stream cannot be cut.
    Broken,
}

/// Cuts a byte stream into the frames of a [`LengthDelimited`] format,
/// whatever the reads' boundaries.
///
/// # The cap
///
/// A frame longer than the format's
/// [`max_frame_length`](LengthDelimited::max_frame_length) is an error,
/// [`FramingError::FrameTooLong`], given as soon as its header is read:
/// nothing of it is buffered. The decoder then drops its payload as it comes,
/// and goes on with the next frame. A header whose length plus a negative
/// adjustment is below zero is [`FramingError::NegativeLength`], and the
/// decoder drops everything after it: without a length, the stream cannot be
/// cut any further. Most protocols close the connection on either error: a
/// peer that announces a frame too big is usually out of step already.
///
/// # End of stream
///
/// At the peer's end of stream, [`finish`](FrameDecoder::finish) says whether
/// it ended inside a frame.
///
/// # Memory
///
/// A frame that sits whole in the bytes fed is handed out as a slice of them.
/// A header split across feeds waits in an 8-byte array; only the payload of
/// a frame whose end has not come yet is copied into a buffer, grown as its
/// bytes come (never past the frame's length nor the cap), and given back
/// once empty: an idle connection's decoder holds no allocation.
///
/// # Examples
///
/// ```
/// use netecho::framing::{FrameDecoder, FramingError};
///
/// let mut decoder = FrameDecoder::default(); // u32 big-endian lengths
/// let mut got = Vec::new();
/// for data in [&b"\x00\x00"[..], b"\x00\x02h", b"i\x00\x00\x00\x00"] {
///     let mut frames = decoder.feed(data);
///     while let Some(frame) = frames.next_frame() {
///         got.push(frame?.to_vec());
///     }
/// }
/// assert_eq!(got, [&b"hi"[..], b""]);
/// assert_eq!(decoder.finish(), Ok(()));
/// # Ok::<(), FramingError>(())
/// ```
pub struct FrameDecoder {
    codec: LengthDelimited,
    state: State,
    /// The start of a header split across feeds.
    head: [u8; 8],
    head_len: usize,
    /// The start of a payload split across feeds (`State::Body`); or, while
    /// `handed_out`, the payload last handed out. Never longer than the cap.
    buf: Vec<u8>,
    handed_out: bool,
}

impl FrameDecoder {
    /// The format this decoder reads, to write replies in.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::{FrameDecoder, LengthDelimited};
    ///
    /// assert_eq!(FrameDecoder::default().codec(), LengthDelimited::new());
    /// ```
    #[must_use]
    pub fn codec(&self) -> LengthDelimited {
        self.codec
    }

    /// Starts decoding `data`, the next bytes of the stream: take the frames
    /// out with [`Frames::next_frame`] until it returns `None`.
    ///
    /// Stopping earlier is allowed: the bytes not decoded yet are then left
    /// out of the stream, unless fed again, from [`Frames::remaining`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LengthDelimited;
    ///
    /// let mut decoder = LengthDelimited::new().length_field_type::<u8>().decoder();
    /// let mut frames = decoder.feed(b"\x02hi\x03yo");
    /// assert_eq!(frames.next_frame(), Some(Ok(&b"hi"[..])));
    /// assert_eq!(frames.next_frame(), None); // "yo" waits for its last byte
    /// drop(frames);
    /// assert_eq!(decoder.buffered(), 3);
    /// ```
    #[must_use = "the frames are taken out with `next_frame`; bytes not taken out are not decoded"]
    pub fn feed<'d>(&mut self, data: &'d [u8]) -> Frames<'_, 'd> {
        self.release();
        Frames {
            decoder: self,
            rest: data,
        }
    }

    /// Ends the stream, and empties the decoder for a new one.
    ///
    /// # Errors
    ///
    /// [`FramingError::Truncated`] if the stream ended inside a frame (or its
    /// header). A frame over the cap whose payload was being dropped is not
    /// reported again.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::{FramingError, LengthDelimited};
    ///
    /// let mut decoder = LengthDelimited::new().length_field_type::<u8>().decoder();
    /// assert!(decoder.feed(b"\x05abc").next_frame().is_none());
    /// assert_eq!(decoder.finish(), Err(FramingError::Truncated { buffered: 4 }));
    /// assert_eq!(decoder.finish(), Ok(()));
    /// ```
    pub fn finish(&mut self) -> Result<(), FramingError> {
        self.release();
        let buffered = self.buffered();
        let state = std::mem::replace(&mut self.state, State::Head);
        self.head_len = 0;
        clear(&mut self.buf, true);
        match state {
            State::Head | State::Body(_) if buffered > 0 => {
                Err(FramingError::Truncated { buffered })
            }
            _ => Ok(()),
        }
    }

    /// The bytes of the unfinished frame received so far, its header
    /// included.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::FrameDecoder;
    ///
    /// let mut decoder = FrameDecoder::default();
    /// assert!(decoder.feed(b"\x00\x00").next_frame().is_none());
    /// assert_eq!(decoder.buffered(), 2);
    /// ```
    #[must_use]
    pub fn buffered(&self) -> usize {
        match self.state {
            State::Head => self.head_len,
            State::Body(_) if !self.handed_out => self.codec.width + self.buf.len(),
            _ => 0,
        }
    }

    /// Forgets the frame last handed out, if it was held here.
    fn release(&mut self) {
        if self.handed_out {
            self.buf.clear();
            self.handed_out = false;
        }
    }

    /// The payload's length for a length field of `field`; on an error, the
    /// state that follows it.
    fn payload_len(&mut self, field: u64) -> Result<usize, FramingError> {
        let LengthDelimited {
            max, adjustment, ..
        } = self.codec;
        let len = i128::from(field) + adjustment as i128;
        let Ok(len) = u64::try_from(len) else {
            self.state = State::Broken;
            return Err(FramingError::NegativeLength { field, adjustment });
        };
        match usize::try_from(len) {
            Ok(len) if len <= max => Ok(len),
            _ => {
                self.state = State::Skip(len);
                Err(FramingError::FrameTooLong { len, max })
            }
        }
    }

    /// Decodes the next frame from `rest`, moving `rest` past what it used.
    fn decode<'s, 'd: 's>(
        &'s mut self,
        rest: &mut &'d [u8],
    ) -> Option<Result<&'s [u8], FramingError>> {
        self.release();
        let width = self.codec.width;
        loop {
            match self.state {
                State::Broken => {
                    *rest = &[];
                    return None;
                }
                State::Skip(left) => {
                    let n = usize::try_from(left).map_or(rest.len(), |left| left.min(rest.len()));
                    *rest = &rest[n..];
                    let left = left - n as u64;
                    if left > 0 {
                        self.state = State::Skip(left);
                        return None;
                    }
                    self.state = State::Head;
                }
                State::Head => {
                    let field = if self.head_len == 0 && rest.len() >= width {
                        // The whole header is here: read it in place.
                        let (head, after) = rest.split_at(width);
                        *rest = after;
                        self.codec.read_field(head)
                    } else {
                        let n = (width - self.head_len).min(rest.len());
                        self.head[self.head_len..self.head_len + n].copy_from_slice(&rest[..n]);
                        self.head_len += n;
                        *rest = &rest[n..];
                        if self.head_len < width {
                            return None;
                        }
                        self.head_len = 0;
                        self.codec.read_field(&self.head[..width])
                    };
                    match self.payload_len(field) {
                        Ok(len) => self.state = State::Body(len),
                        Err(err) => return Some(Err(err)),
                    }
                }
                State::Body(len) => {
                    if self.buf.is_empty() && rest.len() >= len {
                        // The whole payload is here: hand it out in place.
                        let (frame, after) = rest.split_at(len);
                        *rest = after;
                        self.state = State::Head;
                        return Some(Ok(frame));
                    }
                    let n = (len - self.buf.len()).min(rest.len());
                    append_capped(&mut self.buf, &rest[..n], len);
                    *rest = &rest[n..];
                    if self.buf.len() < len {
                        return None;
                    }
                    self.state = State::Head;
                    self.handed_out = true;
                    return Some(Ok(&self.buf));
                }
            }
        }
    }
}

impl Default for FrameDecoder {
    /// A decoder for the default format, [`LengthDelimited::new`].
    fn default() -> Self {
        LengthDelimited::new().decoder()
    }
}

impl fmt::Debug for FrameDecoder {
    /// Shows the format and the state, not the bytes held (they are the
    /// peer's).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("codec", &self.codec)
            .field("state", &self.state)
            .field("buffered", &self.buffered())
            .finish()
    }
}

/// The frames of one [`FrameDecoder::feed`], taken out with
/// [`next_frame`](Frames::next_frame).
///
/// When dropped, it gives back the decoder's buffer if nothing is held in it.
///
/// # Examples
///
/// ```
/// use netecho::framing::LengthDelimited;
///
/// let mut decoder = LengthDelimited::new().length_field_type::<u8>().decoder();
/// let mut frames = decoder.feed(b"\x01a\x01b\x01");
/// let mut count = 0;
/// while let Some(frame) = frames.next_frame() {
///     frame?;
///     count += 1;
/// }
/// assert_eq!(count, 2);
/// # Ok::<(), netecho::framing::FramingError>(())
/// ```
pub struct Frames<'s, 'd> {
    decoder: &'s mut FrameDecoder,
    rest: &'d [u8],
}

impl Frames<'_, '_> {
    /// The next whole frame's payload; `None` once every frame of the bytes
    /// fed is out (the start of the next one is then held).
    ///
    /// The payload borrows the bytes fed if it was whole in them, else the
    /// decoder: copy what you keep.
    ///
    /// # Errors
    ///
    /// [`FramingError::FrameTooLong`] for a frame over the cap, whose payload
    /// is then dropped; [`FramingError::NegativeLength`] for a length below
    /// zero, after which nothing more is decoded (see [`FrameDecoder`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::{FramingError, LengthDelimited};
    ///
    /// let codec = LengthDelimited::new().length_field_type::<u8>().max_frame_length(2);
    /// let mut decoder = codec.decoder();
    /// let mut frames = decoder.feed(b"\x03abc\x02ok");
    /// assert_eq!(frames.next_frame(), Some(Err(FramingError::FrameTooLong { len: 3, max: 2 })));
    /// assert_eq!(frames.next_frame(), Some(Ok(&b"ok"[..])));
    /// assert_eq!(frames.next_frame(), None);
    /// ```
    pub fn next_frame(&mut self) -> Option<Result<&[u8], FramingError>> {
        self.decoder.decode(&mut self.rest)
    }

    /// The bytes fed not decoded yet: empty once
    /// [`next_frame`](Frames::next_frame) has returned `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LengthDelimited;
    ///
    /// let mut decoder = LengthDelimited::new().length_field_type::<u8>().decoder();
    /// let mut frames = decoder.feed(b"\x01a\x01b");
    /// frames.next_frame();
    /// assert_eq!(frames.remaining(), b"\x01b");
    /// ```
    #[must_use]
    pub fn remaining(&self) -> &[u8] {
        self.rest
    }
}

impl Drop for Frames<'_, '_> {
    fn drop(&mut self) {
        self.decoder.release();
        if self.decoder.buf.is_empty() {
            clear(&mut self.decoder.buf, true);
        }
    }
}

impl fmt::Debug for Frames<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frames")
            .field("decoder", &self.decoder)
            .field("remaining", &self.rest.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Event = Result<Vec<u8>, FramingError>;

    /// A header of `width` bytes holding `field`, written independently of
    /// the codec.
    fn raw_header(field: u64, width: usize, big_endian: bool) -> Vec<u8> {
        let bytes = field.to_le_bytes();
        let mut head = bytes[..width].to_vec();
        if big_endian {
            head.reverse();
        }
        head
    }

    /// Feeds `chunks` in turn, checking the memory rules after each; returns
    /// the events and what `finish` gave.
    fn run<'a>(
        codec: &mut FrameDecoder,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> (Vec<Event>, Result<(), FramingError>) {
        let mut events = Vec::new();
        for chunk in chunks {
            let mut frames = codec.feed(chunk);
            while let Some(frame) = frames.next_frame() {
                events.push(frame.map(<[u8]>::to_vec));
            }
            drop(frames);
            assert!(
                codec.buf.capacity() <= codec.codec.max,
                "{}",
                codec.buf.capacity()
            );
            if codec.buf.is_empty() {
                assert_eq!(codec.buf.capacity(), 0, "an empty decoder holds memory");
            }
        }
        let end = codec.finish();
        assert_eq!(codec.buffered(), 0);
        (events, end)
    }

    fn codec(width: usize, big_endian: bool) -> LengthDelimited {
        let codec = match width {
            1 => LengthDelimited::new().length_field_type::<u8>(),
            2 => LengthDelimited::new().length_field_type::<u16>(),
            4 => LengthDelimited::new().length_field_type::<u32>(),
            _ => LengthDelimited::new().length_field_type::<u64>(),
        };
        if big_endian {
            codec
        } else {
            codec.little_endian()
        }
    }

    #[test]
    fn every_width_and_order_round_trips() {
        for width in [1, 2, 4, 8] {
            for big_endian in [true, false] {
                let mut codec = codec(width, big_endian).decoder();
                let mut stream = Vec::new();
                for payload in [&b"hello"[..], b"", b"x", &[7; 200]] {
                    codec.codec().encode(payload, &mut stream).unwrap();
                }
                assert_eq!(&stream[..width], raw_header(5, width, big_endian));
                let (events, end) = run(&mut codec, [&stream[..]]);
                let want: Vec<Event> = [&b"hello"[..], b"", b"x", &[7; 200]]
                    .iter()
                    .map(|p| Ok(p.to_vec()))
                    .collect();
                assert_eq!(events, want, "width {width}, big endian {big_endian}");
                assert_eq!(end, Ok(()));
            }
        }
    }

    #[test]
    fn a_header_split_across_feeds_is_read_whole() {
        for width in [2, 4, 8] {
            for big_endian in [true, false] {
                let mut codec = codec(width, big_endian).decoder();
                let mut stream = raw_header(3, width, big_endian);
                stream.extend_from_slice(b"abc");
                let (events, end) = run(&mut codec, stream.chunks(1));
                assert_eq!(events, [Ok(b"abc".to_vec())]);
                assert_eq!(end, Ok(()));
            }
        }
    }

    #[test]
    fn zero_length_frames_come_out_even_without_more_bytes() {
        let mut codec = codec(2, true).decoder();
        let mut frames = codec.feed(b"\x00\x00\x00");
        assert_eq!(frames.next_frame(), Some(Ok(&b""[..])));
        assert_eq!(frames.next_frame(), None);
        drop(frames);
        let mut frames = codec.feed(b"\x00");
        assert_eq!(frames.next_frame(), Some(Ok(&b""[..])));
        assert_eq!(frames.next_frame(), None);
    }

    #[test]
    fn a_frame_at_the_cap_is_accepted_one_over_is_not() {
        for chunk in [1, 3, 7, 100] {
            let mut codec = codec(2, true).max_frame_length(5).decoder();
            let mut stream = Vec::new();
            for len in [5, 6, 0, 5] {
                stream.extend(raw_header(len, 2, true));
                stream.extend(std::iter::repeat_n(b'a' + len as u8, len as usize));
            }
            let (events, end) = run(&mut codec, stream.chunks(chunk));
            assert_eq!(
                events,
                [
                    Ok(b"fffff".to_vec()),
                    Err(FramingError::FrameTooLong { len: 6, max: 5 }),
                    Ok(Vec::new()),
                    Ok(b"fffff".to_vec()),
                ],
                "chunks of {chunk}"
            );
            assert_eq!(end, Ok(()));
        }
    }

    #[test]
    fn an_over_long_frame_is_refused_at_its_header_without_buffering() {
        let mut codec = codec(4, true).max_frame_length(1024).decoder();
        let mut frames = codec.feed(b"\xff\xff\xff\xff");
        assert_eq!(
            frames.next_frame(),
            Some(Err(FramingError::FrameTooLong {
                len: u64::from(u32::MAX),
                max: 1024
            }))
        );
        assert_eq!(frames.next_frame(), None);
        drop(frames);
        // Its payload is dropped as it comes, nothing held.
        for _ in 0..100 {
            assert_eq!(codec.feed(&[0; 4096]).next_frame(), None);
            assert_eq!(codec.buf.capacity(), 0);
            assert_eq!(codec.buffered(), 0);
        }
        assert_eq!(codec.finish(), Ok(()), "reported once already");
    }

    #[test]
    fn the_u64_field_over_usize_is_too_long_not_a_panic() {
        let mut codec = codec(8, true).decoder();
        let mut frames = codec.feed(&[0xff; 8]);
        assert_eq!(
            frames.next_frame(),
            Some(Err(FramingError::FrameTooLong {
                len: u64::MAX,
                max: DEFAULT_MAX_FRAME_LENGTH
            }))
        );
    }

    #[test]
    fn the_payload_buffer_grows_with_the_bytes_not_the_header() {
        let mut codec = codec(4, true).decoder();
        let mut frames = codec.feed(b"\x00\x10\x00\x00abc");
        assert_eq!(frames.next_frame(), None);
        drop(frames);
        assert!(codec.buf.capacity() < 1024, "{}", codec.buf.capacity());
        assert_eq!(codec.buffered(), 7);
    }

    #[test]
    fn a_frame_whole_in_the_bytes_fed_is_lent_from_them() {
        let mut codec = codec(1, true).decoder();
        let data = b"\x03abc\x02de\x04fg".to_vec();
        let mut frames = codec.feed(&data);
        let frame = frames.next_frame().unwrap().unwrap();
        assert!(std::ptr::eq(frame.as_ptr(), data[1..].as_ptr()));
        let frame = frames.next_frame().unwrap().unwrap();
        assert!(std::ptr::eq(frame.as_ptr(), data[5..].as_ptr()));
        assert_eq!(frames.next_frame(), None);
        assert_eq!(
            frames.decoder.buf, b"fg",
            "only the partial frame is copied"
        );
    }

    #[test]
    fn the_buffer_is_given_back_once_empty() {
        let mut codec = codec(1, true).decoder();
        assert!(codec.feed(b"\x04ab").next_frame().is_none());
        assert!(codec.buf.capacity() > 0);
        let mut frames = codec.feed(b"cd\x01");
        assert_eq!(frames.next_frame(), Some(Ok(&b"abcd"[..])));
        assert_eq!(frames.next_frame(), None);
        drop(frames);
        assert_eq!(codec.buf.capacity(), 0);
        assert_eq!(codec.buffered(), 1, "the next header's first byte");
    }

    #[test]
    fn a_length_adjustment_applies_both_ways() {
        // The field counts itself (2 bytes).
        let mut codec = codec(2, true).length_adjustment(-2).decoder();
        let mut stream = Vec::new();
        codec.codec().encode(b"abc", &mut stream).unwrap();
        codec.codec().encode(b"", &mut stream).unwrap();
        assert_eq!(stream, b"\x00\x05abc\x00\x02");
        let (events, _) = run(&mut codec, stream.chunks(1));
        assert_eq!(events, [Ok(b"abc".to_vec()), Ok(Vec::new())]);
        // A positive one: the field does not count a 1-byte trailer.
        let mut trailer = self::codec(1, true).length_adjustment(1).decoder();
        let mut stream = Vec::new();
        trailer.codec().encode(b"ab!", &mut stream).unwrap();
        assert_eq!(stream, b"\x02ab!");
        assert_eq!(
            trailer.codec().encode(b"", &mut stream),
            Err(FramingError::LengthFieldOverflow { len: 0, width: 1 })
        );
        let (events, _) = run(&mut trailer, [&stream[..]]);
        assert_eq!(events, [Ok(b"ab!".to_vec())]);
    }

    #[test]
    fn a_negative_length_stops_the_decoder() {
        let mut codec = codec(2, true).length_adjustment(-2).decoder();
        let mut frames = codec.feed(b"\x00\x01abc\x00\x02");
        assert_eq!(
            frames.next_frame(),
            Some(Err(FramingError::NegativeLength {
                field: 1,
                adjustment: -2
            }))
        );
        assert_eq!(frames.next_frame(), None);
        assert!(frames.remaining().is_empty());
        drop(frames);
        assert_eq!(codec.feed(b"\x00\x02").next_frame(), None);
        assert_eq!(codec.finish(), Ok(()));
    }

    #[test]
    fn encoding_checks_the_cap_and_the_field_width() {
        let codec = codec(1, true).max_frame_length(300);
        let mut out = vec![b'x'];
        assert_eq!(codec.encode(&[0; 255], &mut out), Ok(()));
        assert_eq!(out.len(), 257);
        out.truncate(1);
        assert_eq!(
            codec.encode(&[0; 256], &mut out),
            Err(FramingError::LengthFieldOverflow { len: 256, width: 1 })
        );
        assert_eq!(
            codec.encode(&[0; 301], &mut out),
            Err(FramingError::FrameTooLong { len: 301, max: 300 })
        );
        assert_eq!(out, b"x", "a refused frame left bytes behind");
    }

    #[test]
    fn eof_inside_a_header_or_a_payload_is_truncated() {
        let mut codec = codec(4, true).decoder();
        assert!(codec.feed(b"\x00\x00").next_frame().is_none());
        assert_eq!(codec.finish(), Err(FramingError::Truncated { buffered: 2 }));
        assert!(codec.feed(b"\x00\x00\x00\x03").next_frame().is_none());
        assert_eq!(codec.finish(), Err(FramingError::Truncated { buffered: 4 }));
        assert!(codec.feed(b"\x00\x00\x00\x03ab").next_frame().is_none());
        assert_eq!(codec.finish(), Err(FramingError::Truncated { buffered: 6 }));
        // Reset: a new stream decodes from its start.
        let mut frames = codec.feed(b"\x00\x00\x00\x01z");
        assert_eq!(frames.next_frame(), Some(Ok(&b"z"[..])));
    }

    #[test]
    fn random_frames_and_splits_give_the_same_frames() {
        let mut rng = fastrand::Rng::with_seed(0xf4a3e);
        for round in 0..1000 {
            let width = *rng.choice(&[1, 2, 4, 8]).unwrap_or(&1);
            let big_endian = rng.bool();
            let max = rng.usize(0..40);
            let mut stream = Vec::new();
            let mut want = Vec::new();
            for _ in 0..rng.usize(0..10) {
                let len = rng.usize(0..50);
                let payload: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
                stream.extend(raw_header(len as u64, width, big_endian));
                stream.extend(&payload);
                want.push(if len > max {
                    Err(FramingError::FrameTooLong {
                        len: len as u64,
                        max,
                    })
                } else {
                    Ok(payload)
                });
            }
            let mut chunks = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let n = rng.usize(1..=rest.len().min(16));
                chunks.push(&rest[..n]);
                rest = &rest[n..];
            }
            let mut codec = codec(width, big_endian).max_frame_length(max).decoder();
            let got = run(&mut codec, chunks);
            assert_eq!(got, (want.clone(), Ok(())), "round {round}");
            let got = run(&mut codec, stream.chunks(1));
            assert_eq!(got, (want, Ok(())), "round {round}, byte by byte");
        }
    }

    #[test]
    fn debug_shows_the_configuration_not_the_bytes() {
        let mut codec = codec(2, false).max_frame_length(10).decoder();
        assert!(codec.feed(b"\x05\x00sec").next_frame().is_none());
        assert_eq!(
            format!("{codec:?}"),
            "FrameDecoder { codec: LengthDelimited { width: 2, big_endian: false, max: 10, \
             adjustment: 0 }, state: Body(5), buffered: 5 }"
        );
    }
}
