//! [`LineDecoder`]: lines ended by LF or CRLF, with a length cap.

use std::fmt;
use std::ops::Deref;

use super::{FramingError, append_capped, clear};

/// The cap of [`LineDecoder::default`], in bytes.
pub const DEFAULT_MAX_LINE_LENGTH: usize = 8192;

/// Cuts a byte stream into lines, whatever the reads' boundaries.
///
/// # Lines
///
/// A line ends with LF (`\n`) or CRLF (`\r\n`); the ending is not part of the
/// line, and [`Line::ending`] says which it was. A CR anywhere else, even
/// last before a line ending split across reads, is data until a LF follows
/// it. Bytes are bytes: a line need not be UTF-8, and a UTF-8 character split
/// across reads is whole again in its line.
///
/// # The cap
///
/// A line longer than [`max_length`](LineDecoder::max_length) bytes (its
/// ending not counted) is an error, [`FramingError::LineTooLong`], given
/// once, as soon as the decoder has seen more than the cap without a LF. The
/// decoder then drops the rest of that line, up to and including its LF, and
/// goes on with the next line, as tokio-util's `LinesCodec` does; a handler
/// that would rather close the connection stops there. So the decoder never
/// holds more than `max_length` bytes, whatever the peer sends.
///
/// One difference from `LinesCodec`: the CR of a CRLF does not count towards
/// the cap, so a line of exactly `max_length` bytes is accepted with either
/// ending.
///
/// # End of stream
///
/// The bytes after the last LF are not a line yet; at the peer's end of
/// stream ([`on_read_closed`](crate::Handler::on_read_closed)),
/// [`finish`](LineDecoder::finish) hands them out (a last CR stripped, as
/// `LinesCodec::decode_eof` does).
///
/// # Memory
///
/// A line that sits whole in the bytes fed is handed out as a slice of them.
/// Only the start of a line whose end has not come yet is copied into the
/// decoder, and its buffer is given back once empty, so an idle connection's
/// decoder holds no allocation.
///
/// # Examples
///
/// ```
/// use netecho::framing::LineDecoder;
///
/// let mut decoder = LineDecoder::new(1024);
/// let mut got = Vec::new();
/// for data in [&b"hel"[..], b"lo\r\nwor", b"ld\nand"] {
///     let mut lines = decoder.feed(data);
///     while let Some(line) = lines.next_line() {
///         got.push(line?.to_vec());
///     }
/// }
/// assert_eq!(got, [&b"hello"[..], b"world"]);
/// assert_eq!(decoder.finish(), Some(b"and".to_vec()));
/// # Ok::<(), netecho::framing::FramingError>(())
/// ```
pub struct LineDecoder {
    /// The start of the line whose end has not come yet, without a CR it
    /// ends with (`cr` holds that one); or, while `handed_out`, the line last
    /// handed out. Never longer than `max`.
    buf: Vec<u8>,
    /// The bytes held end with a CR, not in `buf`.
    cr: bool,
    /// `buf` holds a line handed out: empty it before anything else.
    handed_out: bool,
    /// Dropping the rest of a line over the cap, up to its LF.
    discarding: bool,
    max: usize,
}

impl LineDecoder {
    /// A decoder for lines of at most `max_length` bytes, ending not counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LineDecoder;
    ///
    /// let decoder = LineDecoder::new(80);
    /// assert_eq!(decoder.max_length(), 80);
    /// ```
    #[must_use]
    pub fn new(max_length: usize) -> Self {
        LineDecoder {
            buf: Vec::new(),
            cr: false,
            handed_out: false,
            discarding: false,
            max: max_length,
        }
    }

    /// The cap on a line's length, in bytes, ending not counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::{DEFAULT_MAX_LINE_LENGTH, LineDecoder};
    ///
    /// assert_eq!(LineDecoder::default().max_length(), DEFAULT_MAX_LINE_LENGTH);
    /// ```
    #[must_use]
    pub fn max_length(&self) -> usize {
        self.max
    }

    /// Starts decoding `data`, the next bytes of the stream: take the lines
    /// out with [`Lines::next_line`] until it returns `None`.
    ///
    /// Stopping earlier is allowed (to close the connection after an error,
    /// say): the bytes not decoded yet are then left out of the stream, unless
    /// fed again, from [`Lines::remaining`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new(1024);
    /// let mut lines = decoder.feed(b"a\nb\n");
    /// assert_eq!(&*lines.next_line().unwrap()?, b"a");
    /// assert_eq!(&*lines.next_line().unwrap()?, b"b");
    /// assert!(lines.next_line().is_none());
    /// # Ok::<(), netecho::framing::FramingError>(())
    /// ```
    #[must_use = "the lines are taken out with `next_line`; bytes not taken out are not decoded"]
    pub fn feed<'d>(&mut self, data: &'d [u8]) -> Lines<'_, 'd> {
        self.release();
        Lines {
            decoder: self,
            rest: data,
        }
    }

    /// Ends the stream: takes the bytes after the last line ending, if any,
    /// as the last line (without a CR they end with), and empties the decoder
    /// for a new stream.
    ///
    /// Returns `None` if nothing is held, if only a CR is, or if the bytes
    /// held are the end of a line over the cap (already reported).
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new(1024);
    /// assert!(decoder.feed(b"last line, no newline").next_line().is_none());
    /// assert_eq!(decoder.finish(), Some(b"last line, no newline".to_vec()));
    /// assert_eq!(decoder.finish(), None);
    /// ```
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        self.release();
        self.cr = false;
        let discarding = std::mem::take(&mut self.discarding);
        let tail = std::mem::take(&mut self.buf);
        (!discarding && !tail.is_empty()).then_some(tail)
    }

    /// The bytes of an unfinished line held, a CR included.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new(1024);
    /// assert!(decoder.feed(b"ab\r").next_line().is_none());
    /// assert_eq!(decoder.buffered(), 3);
    /// ```
    #[must_use]
    pub fn buffered(&self) -> usize {
        if self.handed_out {
            0
        } else {
            self.buf.len() + usize::from(self.cr)
        }
    }

    /// Forgets the line last handed out, if it was held here.
    fn release(&mut self) {
        if self.handed_out {
            self.buf.clear();
            self.handed_out = false;
        }
    }

    /// Decodes the next line from `rest`, moving `rest` past what it used.
    fn decode<'s, 'd: 's>(
        &'s mut self,
        rest: &mut &'d [u8],
    ) -> Option<Result<Line<'s>, FramingError>> {
        self.release();
        if self.discarding {
            let lf = rest.iter().position(|&b| b == b'\n');
            *rest = lf.map_or(&[][..], |lf| &rest[lf + 1..]);
            self.discarding = lf.is_none();
        }
        if rest.is_empty() {
            return None;
        }
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return self.hold(std::mem::take(rest)).err().map(Err);
        };
        let head = &rest[..lf];
        *rest = &rest[lf + 1..];
        let (body, crlf) = split_cr(head);
        if self.buf.is_empty() && !self.cr {
            // The whole line is in `head`: hand it out from there.
            if body.len() > self.max {
                return Some(Err(self.too_long()));
            }
            return Some(Ok(Line { bytes: body, crlf }));
        }
        // The line started in an earlier feed: complete it here. A CR held
        // is its ending if the LF comes right after it, else data.
        let (cr_is_data, crlf) = if head.is_empty() {
            (false, self.cr)
        } else {
            (self.cr, crlf)
        };
        self.cr = false;
        if self.buf.len() + usize::from(cr_is_data) + body.len() > self.max {
            clear(&mut self.buf, false);
            return Some(Err(self.too_long()));
        }
        if cr_is_data {
            append_capped(&mut self.buf, b"\r", self.max);
        }
        append_capped(&mut self.buf, body, self.max);
        self.handed_out = true;
        Some(Ok(Line {
            bytes: &self.buf,
            crlf,
        }))
    }

    /// Keeps `tail`, the start of a line without its LF, or fails if the
    /// line is over the cap already (then drops it, and its rest to come).
    fn hold(&mut self, tail: &[u8]) -> Result<(), FramingError> {
        let (body, ends_with_cr) = split_cr(tail);
        if self.buf.len() + usize::from(self.cr) + body.len() > self.max {
            clear(&mut self.buf, true);
            self.cr = false;
            self.discarding = true;
            return Err(self.too_long());
        }
        if self.cr {
            append_capped(&mut self.buf, b"\r", self.max);
        }
        append_capped(&mut self.buf, body, self.max);
        self.cr = ends_with_cr;
        Ok(())
    }

    fn too_long(&self) -> FramingError {
        FramingError::LineTooLong { max: self.max }
    }
}

impl Default for LineDecoder {
    /// A decoder for lines of at most [`DEFAULT_MAX_LINE_LENGTH`] bytes.
    fn default() -> Self {
        LineDecoder::new(DEFAULT_MAX_LINE_LENGTH)
    }
}

impl fmt::Debug for LineDecoder {
    /// Shows the state, not the bytes held (they are the peer's).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineDecoder")
            .field("max_length", &self.max)
            .field("buffered", &self.buffered())
            .field("discarding", &self.discarding)
            .finish()
    }
}

/// Splits `bytes` into what comes before a last CR, and whether there is one.
fn split_cr(bytes: &[u8]) -> (&[u8], bool) {
    match bytes.strip_suffix(b"\r") {
        Some(body) => (body, true),
        None => (bytes, false),
    }
}

/// The lines of one [`LineDecoder::feed`], taken out with
/// [`next_line`](Lines::next_line).
///
/// When dropped, it gives back the decoder's buffer if nothing is held in it.
///
/// # Examples
///
/// ```
/// use netecho::framing::LineDecoder;
///
/// let mut decoder = LineDecoder::new(1024);
/// let mut lines = decoder.feed(b"one\ntwo\nthr");
/// let mut count = 0;
/// while let Some(line) = lines.next_line() {
///     line?;
///     count += 1;
/// }
/// assert_eq!(count, 2);
/// # Ok::<(), netecho::framing::FramingError>(())
/// ```
pub struct Lines<'s, 'd> {
    decoder: &'s mut LineDecoder,
    rest: &'d [u8],
}

impl Lines<'_, '_> {
    /// The next whole line, without its ending; `None` once every line of
    /// the bytes fed is out (the start of the next one is then held).
    ///
    /// The line borrows the bytes fed if it was whole in them, else the
    /// decoder: copy what you keep.
    ///
    /// # Errors
    ///
    /// [`FramingError::LineTooLong`] for a line over the cap, once; the
    /// following call goes on after that line (see [`LineDecoder`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::{FramingError, LineDecoder};
    ///
    /// let mut decoder = LineDecoder::new(3);
    /// let mut lines = decoder.feed(b"abc\r\nabcd\nok\n");
    /// let first = lines.next_line().unwrap()?;
    /// assert_eq!((&*first, first.ending()), (&b"abc"[..], &b"\r\n"[..]));
    /// assert_eq!(lines.next_line(), Some(Err(FramingError::LineTooLong { max: 3 })));
    /// assert_eq!(&*lines.next_line().unwrap()?, b"ok");
    /// assert_eq!(lines.next_line(), None);
    /// # Ok::<(), FramingError>(())
    /// ```
    pub fn next_line(&mut self) -> Option<Result<Line<'_>, FramingError>> {
        self.decoder.decode(&mut self.rest)
    }

    /// The bytes fed not decoded yet: empty once
    /// [`next_line`](Lines::next_line) has returned `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new(1024);
    /// let mut lines = decoder.feed(b"first\nsecond\n");
    /// lines.next_line();
    /// assert_eq!(lines.remaining(), b"second\n");
    /// ```
    #[must_use]
    pub fn remaining(&self) -> &[u8] {
        self.rest
    }
}

impl Drop for Lines<'_, '_> {
    fn drop(&mut self) {
        self.decoder.release();
        if self.decoder.buf.is_empty() {
            clear(&mut self.decoder.buf, true);
        }
    }
}

impl fmt::Debug for Lines<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines")
            .field("decoder", &self.decoder)
            .field("remaining", &self.rest.len())
            .finish()
    }
}

/// One line from a [`LineDecoder`], without its ending: derefs to its bytes.
///
/// # Examples
///
/// ```
/// use netecho::framing::LineDecoder;
///
/// let mut decoder = LineDecoder::new(1024);
/// let mut lines = decoder.feed(b"caf\xc3\xa9\r\n");
/// let line = lines.next_line().unwrap()?;
/// assert_eq!(std::str::from_utf8(&line), Ok("café"));
/// assert_eq!(line.len(), 5);
/// assert!(line.is_crlf());
/// # Ok::<(), netecho::framing::FramingError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    bytes: &'a [u8],
    crlf: bool,
}

impl<'a> Line<'a> {
    /// The line's bytes, without its ending.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new(1024);
    /// let mut lines = decoder.feed(b"hi\n");
    /// assert_eq!(lines.next_line().unwrap()?.as_bytes(), b"hi");
    /// # Ok::<(), netecho::framing::FramingError>(())
    /// ```
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The line's ending: `b"\r\n"` or `b"\n"`, to answer in kind.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new(1024);
    /// let mut lines = decoder.feed(b"a\nb\r\n");
    /// assert_eq!(lines.next_line().unwrap()?.ending(), b"\n");
    /// assert_eq!(lines.next_line().unwrap()?.ending(), b"\r\n");
    /// # Ok::<(), netecho::framing::FramingError>(())
    /// ```
    #[must_use]
    pub fn ending(&self) -> &'static [u8] {
        if self.crlf { b"\r\n" } else { b"\n" }
    }

    /// Whether the line ended with CRLF (else with LF).
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::framing::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new(1024);
    /// let mut lines = decoder.feed(b"a\r\n");
    /// assert!(lines.next_line().unwrap()?.is_crlf());
    /// # Ok::<(), netecho::framing::FramingError>(())
    /// ```
    #[must_use]
    pub fn is_crlf(&self) -> bool {
        self.crlf
    }
}

impl Deref for Line<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

impl AsRef<[u8]> for Line<'_> {
    fn as_ref(&self) -> &[u8] {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the decoder gives, owned: a line and whether it ended with CRLF,
    /// or an error.
    type Event = Result<(Vec<u8>, bool), FramingError>;

    /// Feeds `chunks` in turn, checking the memory rules after each; returns
    /// the events and what `finish` gave.
    fn run<'a>(
        max: usize,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> (Vec<Event>, Option<Vec<u8>>) {
        let mut decoder = LineDecoder::new(max);
        let mut events = Vec::new();
        for chunk in chunks {
            let mut lines = decoder.feed(chunk);
            while let Some(line) = lines.next_line() {
                events.push(line.map(|line| (line.to_vec(), line.is_crlf())));
                assert!(lines.decoder.buf.capacity() <= max);
            }
            drop(lines);
            assert!(decoder.buf.len() <= max);
            assert!(decoder.buf.capacity() <= max, "{}", decoder.buf.capacity());
            assert_eq!(
                decoder.buffered(),
                decoder.buf.len() + usize::from(decoder.cr)
            );
            if decoder.buf.is_empty() {
                assert_eq!(decoder.buf.capacity(), 0, "an empty decoder holds memory");
            }
        }
        let tail = decoder.finish();
        assert_eq!(decoder.buffered(), 0);
        assert_eq!(decoder.buf.capacity(), 0);
        (events, tail)
    }

    /// The same, written the simplest way: split the whole input at LFs.
    fn model(max: usize, input: &[u8]) -> (Vec<Event>, Option<Vec<u8>>) {
        let mut events = Vec::new();
        let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        let tail = parts.pop().unwrap_or_default();
        for part in parts {
            let (body, crlf) = split_cr(part);
            events.push(if body.len() > max {
                Err(FramingError::LineTooLong { max })
            } else {
                Ok((body.to_vec(), crlf))
            });
        }
        let (body, _) = split_cr(tail);
        if body.len() > max {
            events.push(Err(FramingError::LineTooLong { max }));
            return (events, None);
        }
        (events, (!body.is_empty()).then(|| body.to_vec()))
    }

    fn ok(line: &[u8], crlf: bool) -> Event {
        Ok((line.to_vec(), crlf))
    }

    fn too_long(max: usize) -> Event {
        Err(FramingError::LineTooLong { max })
    }

    #[test]
    fn lf_and_crlf_endings_are_stripped_and_reported() {
        let (events, tail) = run(100, [&b"lf\ncrlf\r\n\n\r\n"[..]]);
        assert_eq!(
            events,
            [
                ok(b"lf", false),
                ok(b"crlf", true),
                ok(b"", false),
                ok(b"", true)
            ]
        );
        assert_eq!(tail, None);
    }

    #[test]
    fn a_lone_cr_is_data() {
        let (events, tail) = run(100, [&b"a\rb\n\rc\r\r\n"[..], b"d\r"]);
        assert_eq!(events, [ok(b"a\rb", false), ok(b"\rc\r", true)]);
        assert_eq!(tail, Some(b"d".to_vec()), "a last CR at EOF is stripped");
    }

    #[test]
    fn a_crlf_split_across_feeds_is_one_ending() {
        let (events, _) = run(100, [&b"abc\r"[..], b"\n", b"\r", b"\n", b"x\r", b"y\n"]);
        assert_eq!(
            events,
            [ok(b"abc", true), ok(b"", true), ok(b"x\ry", false)]
        );
    }

    #[test]
    fn a_cr_held_then_more_crs_are_data_until_a_lf() {
        let (events, _) = run(100, [&b"a\r"[..], b"\r", b"\r\n"]);
        assert_eq!(events, [ok(b"a\r\r", true)]);
    }

    #[test]
    fn byte_by_byte_gives_the_same_lines() {
        let input = "héllo\r\nwörld\n\r\n\rx\r\ny\r".as_bytes();
        let whole = run(100, [input]);
        let bytes = run(100, input.chunks(1));
        assert_eq!(whole, bytes);
        assert_eq!(whole, model(100, input));
        assert_eq!(whole.0.len(), 4);
    }

    #[test]
    fn a_line_exactly_at_the_cap_is_accepted_with_either_ending() {
        for chunk in 1..=12 {
            let input = b"abcd\nabcd\r\nabcd";
            let (events, tail) = run(4, input.chunks(chunk));
            assert_eq!(
                events,
                [ok(b"abcd", false), ok(b"abcd", true)],
                "chunks of {chunk}"
            );
            assert_eq!(tail, Some(b"abcd".to_vec()));
        }
    }

    #[test]
    fn a_line_one_over_the_cap_is_an_error_then_decoding_goes_on() {
        for chunk in 1..=20 {
            let input = b"abcde\nok\nabcd\rx\nabcde\r\nfine\r\n";
            let (events, tail) = run(4, input.chunks(chunk));
            assert_eq!(
                events,
                [
                    too_long(4),
                    ok(b"ok", false),
                    too_long(4),
                    too_long(4),
                    ok(b"fine", true)
                ],
                "chunks of {chunk}"
            );
            assert_eq!(tail, None);
        }
    }

    #[test]
    fn the_error_comes_before_the_newline_and_the_rest_is_dropped() {
        let mut decoder = LineDecoder::new(4);
        let mut lines = decoder.feed(b"ok\nabcdef");
        assert_eq!(
            lines.next_line().map(|l| l.map(|l| l.to_vec())),
            Some(Ok(b"ok".to_vec()))
        );
        assert_eq!(
            lines.next_line(),
            Some(Err(FramingError::LineTooLong { max: 4 }))
        );
        assert_eq!(lines.next_line(), None);
        drop(lines);
        assert_eq!(decoder.buffered(), 0, "held the over-long line");
        // The rest of that line, however long, is dropped without an error.
        for _ in 0..100 {
            assert_eq!(decoder.feed(&[b'x'; 1000]).next_line(), None);
            assert_eq!(decoder.buf.capacity(), 0);
        }
        let mut lines = decoder.feed(b"xx\nnext\n");
        assert_eq!(
            lines.next_line().map(|l| l.map(|l| l.to_vec())),
            Some(Ok(b"next".to_vec()))
        );
        drop(lines);
        assert_eq!(decoder.finish(), None);
    }

    #[test]
    fn a_held_start_over_the_cap_is_an_error_at_once() {
        let mut decoder = LineDecoder::new(4);
        assert_eq!(decoder.feed(b"abcd").next_line(), None);
        assert_eq!(
            decoder.feed(b"e").next_line(),
            Some(Err(FramingError::LineTooLong { max: 4 }))
        );
        // Its CR alone does not make a line at the cap over it.
        let mut decoder = LineDecoder::new(4);
        assert_eq!(decoder.feed(b"abcd\r").next_line(), None);
        assert_eq!(decoder.buffered(), 5);
        assert_eq!(decoder.buf.len(), 4);
        let mut lines = decoder.feed(b"\n");
        assert_eq!(
            lines.next_line().map(|l| l.map(|l| l.to_vec())),
            Some(Ok(b"abcd".to_vec()))
        );
    }

    #[test]
    fn an_over_long_tail_at_eof_is_not_a_line() {
        let (events, tail) = run(4, [&b"abcdefgh"[..]]);
        assert_eq!(events, [too_long(4)]);
        assert_eq!(tail, None);
    }

    #[test]
    fn eof_after_a_lone_cr_or_nothing_gives_no_line() {
        assert_eq!(run(4, [&b"a\n\r"[..]]).1, None);
        assert_eq!(run(4, [&b"a\n"[..]]).1, None);
        assert_eq!(run(4, [&b""[..]]).1, None);
        assert_eq!(run(4, [&b"\r\r"[..]]).1, Some(b"\r".to_vec()));
    }

    #[test]
    fn a_zero_cap_accepts_only_empty_lines() {
        let (events, _) = run(0, [&b"\n\r\nx\n"[..]]);
        assert_eq!(events, [ok(b"", false), ok(b"", true), too_long(0)]);
    }

    #[test]
    fn a_whole_line_is_lent_from_the_bytes_fed() {
        let mut decoder = LineDecoder::new(100);
        let data = b"one\ntwo\r\nthr".to_vec();
        let mut lines = decoder.feed(&data);
        let line = lines.next_line().unwrap().unwrap();
        assert!(std::ptr::eq(line.as_bytes().as_ptr(), data.as_ptr()));
        let line = lines.next_line().unwrap().unwrap();
        assert!(std::ptr::eq(line.as_bytes().as_ptr(), data[4..].as_ptr()));
        assert!(lines.next_line().is_none());
        assert_eq!(lines.decoder.buf, b"thr", "only the partial tail is copied");
    }

    #[test]
    fn the_buffer_is_given_back_once_empty() {
        let mut decoder = LineDecoder::new(100);
        assert!(decoder.feed(b"partial").next_line().is_none());
        assert!(decoder.buf.capacity() > 0);
        let mut lines = decoder.feed(b" line\nwhole\n");
        assert_eq!(
            lines.next_line().unwrap().unwrap().as_bytes(),
            b"partial line"
        );
        assert_eq!(lines.next_line().unwrap().unwrap().as_bytes(), b"whole");
        assert!(lines.next_line().is_none());
        drop(lines);
        assert_eq!(decoder.buf.capacity(), 0);
        // Also when the caller stops right after a line held here.
        assert!(decoder.feed(b"abc").next_line().is_none());
        let mut lines = decoder.feed(b"\n");
        assert!(lines.next_line().is_some());
        drop(lines);
        assert_eq!(decoder.buf.capacity(), 0);
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn stopping_early_leaves_the_rest_to_feed_again() {
        let mut decoder = LineDecoder::new(100);
        let mut lines = decoder.feed(b"a\nb\nc");
        assert!(lines.next_line().is_some());
        let rest = lines.remaining().to_vec();
        drop(lines);
        assert_eq!(rest, b"b\nc");
        let (events, tail) = {
            let mut lines = decoder.feed(&rest);
            let line = lines.next_line().unwrap().unwrap().to_vec();
            assert!(lines.next_line().is_none());
            drop(lines);
            (line, decoder.finish())
        };
        assert_eq!(events, b"b");
        assert_eq!(tail, Some(b"c".to_vec()));
    }

    #[test]
    fn finish_resets_for_a_new_stream() {
        let mut decoder = LineDecoder::new(4);
        assert!(decoder.feed(b"abcdefg").next_line().is_some());
        assert_eq!(decoder.finish(), None);
        let mut lines = decoder.feed(b"new\n");
        assert_eq!(lines.next_line().unwrap().unwrap().as_bytes(), b"new");
    }

    #[test]
    fn random_inputs_and_splits_match_the_model() {
        let mut rng = fastrand::Rng::with_seed(0x11e5_c0de);
        for round in 0..2000 {
            let max = rng.usize(0..12);
            let len = rng.usize(0..80);
            let input: Vec<u8> = (0..len)
                .map(|_| *rng.choice(b"ab\r\n\n\xc3").unwrap_or(&b'a'))
                .collect();
            let mut chunks = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let n = rng.usize(1..=rest.len().min(10));
                chunks.push(&rest[..n]);
                rest = &rest[n..];
            }
            let expected = model(max, &input);
            assert_eq!(
                run(max, chunks),
                expected,
                "round {round}: {input:?}, max {max}"
            );
            assert_eq!(
                run(max, input.chunks(1)),
                expected,
                "byte by byte: {input:?}, max {max}"
            );
        }
    }

    #[test]
    fn debug_shows_the_state_not_the_bytes() {
        let mut decoder = LineDecoder::new(16);
        assert!(decoder.feed(b"secret").next_line().is_none());
        let text = format!("{decoder:?}");
        assert_eq!(
            text,
            "LineDecoder { max_length: 16, buffered: 6, discarding: false }"
        );
    }
}
