//! [`LengthDelimited`]: frames behind a length header, with a length cap.

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

/// Cuts a byte stream into frames behind a length header, and writes such
/// frames.
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
/// tokio-util's `LengthDelimitedCodec` builder (without its offset and skip
/// options: the header is the length field alone, and it is not handed out).
///
/// # The cap
///
/// A frame longer than [`max_frame_length`](LengthDelimited::max_frame_length)
/// (8 MiB by default) is an error, [`FramingError::FrameTooLong`], given as
/// soon as its header is read: nothing of it is buffered. The decoder then
/// drops its payload, and goes on with the next frame. A header whose length
/// plus a negative adjustment is below zero is
/// [`FramingError::NegativeLength`], and the decoder drops everything after
/// it: without a length, the stream cannot be cut any further. Most protocols
/// close the connection on either error; a peer that announces a huge frame
/// by mistake is out of step with the protocol anyway.
///
/// # Memory
///
/// A frame that sits whole in the bytes fed is handed out as a slice of them.
/// Only a frame whose end has not come yet is copied into the decoder, its
/// buffer grown as its bytes come (never past the frame's length), and given
/// back once empty: an idle connection's decoder holds no allocation.
///
/// # Examples
///
/// ```
/// use netecho::framing::LengthDelimited;
///
/// let mut codec = LengthDelimited::new().length_field_type::<u16>();
/// let mut stream = Vec::new();
/// codec.encode(b"hello", &mut stream)?;
/// codec.encode(b"", &mut stream)?;
/// assert_eq!(stream, b"\x00\x05hello\x00\x00");
///
/// let mut got = Vec::new();
/// for data in stream.chunks(3) {
///     let mut frames = codec.feed(data);
///     while let Some(frame) = frames.next_frame() {
///         got.push(frame?.to_vec());
///     }
/// }
/// assert_eq!(got, [&b"hello"[..], b""]);
/// # Ok::<(), netecho::framing::FramingError>(())
/// ```
pub struct LengthDelimited {
    width: usize,
    big_endian: bool,
    max: usize,
    adjustment: isize,
    state: State,
    /// The start of a header split across feeds.
    head: [u8; 8],
    head_len: usize,
    /// The start of a payload split across feeds (`State::Body`); or, while
    /// `handed_out`, the payload last handed out. Never longer than `max`.
    buf: Vec<u8>,
    handed_out: bool,
}

impl LengthDelimited {
    /// A codec with a 4-byte big-endian length field, no length adjustment,
    /// and frames of at most [`DEFAULT_MAX_FRAME_LENGTH`] bytes.
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
            state: State::Head,
            head: [0; 8],
            head_len: 0,
            buf: Vec::new(),
            handed_out: false,
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
    /// let mut codec = LengthDelimited::new()
    ///     .length_field_type::<u16>()
    ///     .length_adjustment(-2);
    /// let mut out = Vec::new();
    /// codec.encode(b"abc", &mut out)?;
    /// assert_eq!(out, b"\x00\x05abc");
    /// let mut frames = codec.feed(&out);
    /// assert_eq!(frames.next_frame(), Some(Ok(&b"abc"[..])));
    /// # Ok::<(), netecho::framing::FramingError>(())
    /// ```
    #[must_use]
    pub fn length_adjustment(mut self, adjustment: isize) -> Self {
        self.adjustment = adjustment;
        self
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
    /// let mut codec = LengthDelimited::new().length_field_type::<u8>();
    /// let mut frames = codec.feed(b"\x02hi\x03yo");
    /// assert_eq!(frames.next_frame(), Some(Ok(&b"hi"[..])));
    /// assert_eq!(frames.next_frame(), None); // "yo" waits for its last byte
    /// drop(frames);
    /// assert_eq!(codec.buffered(), 3);
    /// ```
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
    /// let mut codec = LengthDelimited::new().length_field_type::<u8>();
    /// assert!(codec.feed(b"\x05abc").next_frame().is_none());
    /// assert_eq!(codec.finish(), Err(FramingError::Truncated { buffered: 4 }));
    /// assert_eq!(codec.finish(), Ok(()));
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
    /// use netecho::framing::LengthDelimited;
    ///
    /// let mut codec = LengthDelimited::new();
    /// assert!(codec.feed(b"\x00\x00").next_frame().is_none());
    /// assert_eq!(codec.buffered(), 2);
    /// ```
    #[must_use]
    pub fn buffered(&self) -> usize {
        match self.state {
            State::Head => self.head_len,
            State::Body(_) if !self.handed_out => self.width + self.buf.len(),
            _ => 0,
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
    /// ```
    /// use netecho::framing::LengthDelimited;
    /// use netecho::testing::Harness;
    /// use netecho::{Conn, Handler};
    ///
    /// /// Greets with one frame.
    /// struct Hello(LengthDelimited);
    ///
    /// impl Handler for Hello {
    ///     fn on_open(&mut self, conn: &mut Conn) {
    ///         // Cannot fail: 5 bytes fit a u16 field and the cap.
    ///         let _ = self.0.write_frame(conn, b"hello");
    ///     }
    /// }
    ///
    /// let mut peer = Harness::open(Hello(LengthDelimited::new().length_field_type::<u16>()));
    /// assert_eq!(peer.read(), b"\x00\x05hello");
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

    /// Forgets the frame last handed out, if it was held here.
    fn release(&mut self) {
        if self.handed_out {
            self.buf.clear();
            self.handed_out = false;
        }
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

    /// The payload's length for a length field of `field`; on an error, the
    /// state that follows it.
    fn payload_len(&mut self, field: u64) -> Result<usize, FramingError> {
        let len = i128::from(field) + self.adjustment as i128;
        let Ok(len) = u64::try_from(len) else {
            self.state = State::Broken;
            return Err(FramingError::NegativeLength {
                field,
                adjustment: self.adjustment,
            });
        };
        match usize::try_from(len) {
            Ok(len) if len <= self.max => Ok(len),
            _ => {
                self.state = State::Skip(len);
                Err(FramingError::FrameTooLong { len, max: self.max })
            }
        }
    }

    /// Decodes the next frame from `rest`, moving `rest` past what it used.
    fn decode<'s, 'd: 's>(
        &'s mut self,
        rest: &mut &'d [u8],
    ) -> Option<Result<&'s [u8], FramingError>> {
        self.release();
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
                    let field = if self.head_len == 0 && rest.len() >= self.width {
                        // The whole header is here: read it in place.
                        let (head, after) = rest.split_at(self.width);
                        *rest = after;
                        self.read_field(head)
                    } else {
                        let n = (self.width - self.head_len).min(rest.len());
                        self.head[self.head_len..self.head_len + n].copy_from_slice(&rest[..n]);
                        self.head_len += n;
                        *rest = &rest[n..];
                        if self.head_len < self.width {
                            return None;
                        }
                        self.head_len = 0;
                        self.read_field(&self.head[..self.width])
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

impl Default for LengthDelimited {
    /// The same as [`LengthDelimited::new`].
    fn default() -> Self {
        LengthDelimited::new()
    }
}

impl fmt::Debug for LengthDelimited {
    /// Shows the configuration and the state, not the bytes held (they are
    /// the peer's).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LengthDelimited")
            .field("length_field_width", &self.width)
            .field("big_endian", &self.big_endian)
            .field("max_frame_length", &self.max)
            .field("length_adjustment", &self.adjustment)
            .field("state", &self.state)
            .field("buffered", &self.buffered())
            .finish()
    }
}

/// The frames of one [`LengthDelimited::feed`], taken out with
/// [`next_frame`](Frames::next_frame).
///
/// When dropped, it gives back the decoder's buffer if nothing is held in it.
///
/// # Examples
///
/// ```
/// use netecho::framing::LengthDelimited;
///
/// let mut codec = LengthDelimited::new().length_field_type::<u8>();
/// let mut frames = codec.feed(b"\x01a\x01b\x01");
/// let mut count = 0;
/// while let Some(frame) = frames.next_frame() {
///     frame?;
///     count += 1;
/// }
/// assert_eq!(count, 2);
/// # Ok::<(), netecho::framing::FramingError>(())
/// ```
pub struct Frames<'s, 'd> {
    decoder: &'s mut LengthDelimited,
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
    /// zero, after which nothing more is decoded (see [`LengthDelimited`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::{FramingError, LengthDelimited};
    ///
    /// let mut codec = LengthDelimited::new().length_field_type::<u8>().max_frame_length(2);
    /// let mut frames = codec.feed(b"\x03abc\x02ok");
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
    /// let mut codec = LengthDelimited::new().length_field_type::<u8>();
    /// let mut frames = codec.feed(b"\x01a\x01b");
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
