//! TLS: a [`TlsStream`] puts rustls' sans-IO `ServerConnection` over another
//! stream (a TCP socket) and shows the state machine plaintext only, with the
//! same non-blocking contract as a socket.
//!
//! # Implementation notes
//!
//! rustls never touches the socket: `read_tls`/`process_new_packets`/`reader`
//! take bytes in, `writer`/`write_tls` give bytes out. The state machine's
//! contract for a socket is edge-triggered, and the pitfalls others hit with
//! rustls under that contract shape this file:
//!
//! - **Reads fill the buffer.** A read decrypts record after record until the
//!   caller's buffer is full or the socket is empty (a short socket read says
//!   so, as on TCP, which saves the read that would only say `WouldBlock`), so
//!   a short read means what it means on TCP. Stopping after one record would
//!   leave ciphertext in the socket with no new event to say so
//!   (tokio-rs/tls #14). When a short read ends at the peer's close_notify,
//!   its EOF or an error still to report, `has_buffered_input` says so, and
//!   the state machine reads again.
//! - **Plaintext is drained before more ciphertext is read**, so rustls'
//!   "received plaintext buffer full" never happens (sozu #1008).
//! - **Reading never waits for writing.** Records rustls wants to send (a
//!   handshake flight, a key update, an alert) are written on the way, best
//!   effort; a full socket does not stop the read (rustls #2556, where both
//!   peers stopped reading because neither could write).
//! - **Output rustls holds is flushed on the next writable event**
//!   (`wants_write`, rustls #359): a `WouldBlock` while writing
//!   records is remembered, never lost.
//! - **Backpressure counts plaintext.** rustls' own buffer is capped
//!   ([`TLS_BUFFER_LIMIT`]); `write` takes plaintext only while the socket
//!   takes records, and says `WouldBlock` (never `Ok(0)`) when it cannot, so
//!   the rest stays in the connection's pending output, which the write
//!   buffer limit bounds. A peer that never reads costs at most the write
//!   buffer limit plus this cap.
//! - **Half-close.** The peer's close_notify reads as EOF (`Ok(0)`); a TCP
//!   EOF without it is `UnexpectedEof`, which the state machine tells apart
//!   ([`CloseReason::Truncated`](crate::CloseReason::Truncated)). Our
//!   `shutdown_write` queues close_notify after all output and sends the TCP
//!   FIN once rustls has written it.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection};

use crate::state_machine::Stream;
use crate::tls_info::TlsInfo;

/// The most TLS output rustls buffers for a connection when the socket is
/// full, beyond the connection's pending plaintext. Two full records.
pub(crate) const TLS_BUFFER_LIMIT: usize = 2 * (16 * 1024 + 256);

/// What every TLS connection of a listener shares: the rustls configuration
/// and the limits on handshakes.
#[derive(Debug, Clone)]
pub(crate) struct TlsAcceptor {
    pub(crate) config: Arc<ServerConfig>,
    /// How long a handshake may take, from accept to the client's Finished.
    pub(crate) handshake_timeout: Duration,
    /// The most handshakes in progress on one worker; more are refused.
    pub(crate) max_handshakes: usize,
}

impl TlsAcceptor {
    /// Starts the server side of a TLS session over `io`.
    ///
    /// # Errors
    ///
    /// rustls refuses the configuration (it cannot for one this crate
    /// built; a user's own `ServerConfig` might).
    pub(crate) fn accept<S: Stream>(&self, io: S) -> io::Result<TlsStream<S>> {
        let mut tls = ServerConnection::new(Arc::clone(&self.config)).map_err(io::Error::other)?;
        tls.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        Ok(TlsStream {
            io,
            tls,
            handshake_timeout: self.handshake_timeout,
            max_handshakes: self.max_handshakes,
            fin_wanted: false,
            fin_sent: false,
            deferred: None,
            input_left: false,
            socket_drained: false,
        })
    }
}

/// A TLS session over a non-blocking stream: plaintext in and out.
///
/// Invariants: once `fin_sent`, the socket's write side is shut down and
/// nothing more is written; `deferred` holds a read error met after a read
/// had already returned bytes, to be returned by the next read.
pub(crate) struct TlsStream<S> {
    io: S,
    tls: ServerConnection,
    handshake_timeout: Duration,
    max_handshakes: usize,
    /// Our close_notify is queued: shut down the socket's write side once
    /// rustls has written everything.
    fin_wanted: bool,
    fin_sent: bool,
    deferred: Option<io::Error>,
    /// The last read stopped with input still to report (plaintext, the
    /// peer's close, an error) although the socket may be empty.
    input_left: bool,
    /// The last socket read of this `read` call was short: the socket is
    /// empty until its next readiness event.
    socket_drained: bool,
}

/// A socket reader that notes whether a read returned less than asked.
struct ShortRead<'a, S> {
    io: &'a mut S,
    short: bool,
}

impl<S: Read> Read for ShortRead<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.io.read(buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

impl<S> std::fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("handshaking", &self.tls.is_handshaking())
            .field("wants_write", &self.tls.wants_write())
            .field("fin_wanted", &self.fin_wanted)
            .field("fin_sent", &self.fin_sent)
            .finish_non_exhaustive()
    }
}

impl<S: Stream> TlsStream<S> {
    /// The most handshakes in progress a worker takes for this listener.
    pub(crate) fn max_handshakes(&self) -> usize {
        self.max_handshakes
    }

    /// The stream under the TLS session.
    pub(crate) fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The stream under the TLS session.
    pub(crate) fn get_ref(&self) -> &S {
        &self.io
    }

    /// Writes what rustls holds to the socket: `Ok(true)` when all of it is
    /// out, `Ok(false)` when the socket is full. Sends the TCP FIN after our
    /// close_notify.
    fn push_tls(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.io) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.fin_wanted && !self.fin_sent {
            self.fin_sent = true;
            self.io.shutdown_write()?;
        }
        Ok(true)
    }

    /// Reads ciphertext once from the socket and processes it: `Ok(true)`
    /// after new bytes, `Ok(false)` at the socket's EOF. Replies rustls
    /// queued are written best effort: a full socket never stops reading.
    fn pull_tls(&mut self) -> io::Result<bool> {
        let mut socket = ShortRead {
            io: &mut self.io,
            short: false,
        };
        let n = self.tls.read_tls(&mut socket)?;
        self.socket_drained = socket.short;
        if let Err(e) = self.tls.process_new_packets() {
            // Send the alert that describes the error, if the socket takes it.
            let _ = self.push_tls();
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        self.push_tls()?;
        Ok(n > 0)
    }
}

impl<S: Stream> Read for TlsStream<S> {
    /// Reads plaintext: decrypts until `buf` is full or the socket is empty.
    /// `Ok(0)` is the peer's close_notify; a TCP EOF without it is
    /// `UnexpectedEof`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input_left = false;
        self.socket_drained = false;
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        let mut filled = 0;
        loop {
            // Plaintext first: rustls refuses ciphertext while it holds
            // plaintext over its limit.
            match self.tls.reader().read(&mut buf[filled..]) {
                Ok(n) if n > 0 => {
                    filled += n;
                    if filled == buf.len() {
                        return Ok(filled);
                    }
                    continue;
                }
                // The buffer is full, or the peer's close_notify.
                Ok(_) => {
                    self.input_left = filled > 0 && filled < buf.len();
                    return Ok(filled);
                }
                // A short read emptied the socket: new data brings a new
                // event, so skip the read that would only say `WouldBlock`.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.socket_drained => {
                    return if filled > 0 { Ok(filled) } else { Err(e) };
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    // `UnexpectedEof` (TCP EOF without close_notify) says so
                    // again on the next read.
                    self.input_left = filled > 0;
                    return if filled > 0 { Ok(filled) } else { Err(e) };
                }
            }
            match self.pull_tls() {
                // New ciphertext; at EOF rustls' reader reports the close.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if filled > 0 => {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        self.deferred = Some(e);
                        self.input_left = true;
                    }
                    return Ok(filled);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl<S: Stream> Write for TlsStream<S> {
    /// Encrypts as much of `data` as the socket takes. A short count means
    /// the socket is full, as on TCP; `WouldBlock` when it took none.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut taken = 0;
        loop {
            if !self.push_tls()? {
                return if taken > 0 {
                    Ok(taken)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            if taken == data.len() {
                return Ok(taken);
            }
            // rustls' buffer is empty here, so it takes at least a record.
            match self.tls.writer().write(&data[taken..])? {
                0 => {
                    return if taken > 0 {
                        Ok(taken)
                    } else {
                        Err(io::ErrorKind::WouldBlock.into())
                    };
                }
                n => taken += n,
            }
        }
    }

    /// Writes what rustls holds, as much as the socket takes; what it does
    /// not take is written on the next writable event (`wants_write`).
    fn flush(&mut self) -> io::Result<()> {
        self.push_tls().map(|_| ())
    }
}

impl<S: Stream> Stream for TlsStream<S> {
    /// Queues close_notify after all output; the TCP FIN follows it once
    /// rustls has written everything.
    fn shutdown_write(&mut self) -> io::Result<()> {
        if !self.fin_wanted {
            self.fin_wanted = true;
            self.tls.send_close_notify();
        }
        self.push_tls().map(|_| ())
    }

    fn abort(&mut self) -> io::Result<()> {
        self.io.abort()
    }

    /// From the socket, below TLS: a PROXY header comes before the
    /// handshake.
    fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.peek(buf)
    }

    fn consume_peeked(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.consume_peeked(buf)
    }

    /// Moves the handshake on as far as the socket allows: `Ok(true)` once it
    /// is complete (application data may follow at once), `Ok(false)` while
    /// it waits for the peer.
    ///
    /// # Errors
    ///
    /// The peer sent something that is not a valid handshake (a plaintext
    /// client, garbage, an untrusted certificate: `InvalidData`, after the
    /// alert is sent if the socket takes it), closed before it finished
    /// (`UnexpectedEof`), or the socket failed.
    fn handshake(&mut self) -> io::Result<bool> {
        loop {
            self.push_tls()?;
            if !self.tls.is_handshaking() {
                // The last flight (and session tickets) may still be in
                // rustls: `wants_write` keeps asking for writable events.
                return Ok(true);
            }
            match self.pull_tls() {
                Ok(true) => {}
                Ok(false) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// What the handshake negotiated: ALPN, SNI, the client's certificates.
    fn tls_info(&self) -> Option<Box<TlsInfo>> {
        Some(Box::new(TlsInfo {
            alpn_protocol: self.tls.alpn_protocol().map(<[u8]>::to_vec),
            server_name: self.tls.server_name().map(str::to_owned),
            peer_certificates: self
                .tls
                .peer_certificates()
                .map(|chain| chain.iter().map(|cert| cert.to_vec()).collect()),
            protocol_version: self
                .tls
                .protocol_version()
                .and_then(|v| v.as_str())
                .unwrap_or("unknown"),
            cipher_suite: self
                .tls
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .unwrap_or("unknown"),
        }))
    }

    /// Whether rustls holds output the socket has not taken yet (or our FIN
    /// waits behind it): the driver must flush on the next writable event.
    fn wants_write(&self) -> bool {
        self.tls.wants_write() || (self.fin_wanted && !self.fin_sent)
    }

    /// Whether the last read stopped short with input left to report although
    /// the socket may be empty: read again without waiting for an event.
    fn has_buffered_input(&self) -> bool {
        self.input_left
    }

    fn handshake_timeout(&self) -> Option<Duration> {
        Some(self.handshake_timeout)
    }

    fn closes_with_message(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    //! The stream alone, in memory: a rustls client on the other end of two
    //! bounded pipes, no socket, no thread, no clock.

    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, RootCertStore};

    /// One direction of an in-memory socket, holding at most `window` bytes.
    #[derive(Default)]
    struct Pipe {
        bytes: VecDeque<u8>,
        window: usize,
        closed: bool,
    }

    /// The server's end: reads the client's pipe, writes its own.
    struct End {
        input: Rc<RefCell<Pipe>>,
        output: Rc<RefCell<Pipe>>,
    }

    impl Read for End {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut pipe = self.input.borrow_mut();
            if pipe.bytes.is_empty() {
                return if pipe.closed {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = buf.len().min(pipe.bytes.len());
            for (b, byte) in buf.iter_mut().zip(pipe.bytes.drain(..n)) {
                *b = byte;
            }
            Ok(n)
        }
    }

    impl Write for End {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let mut pipe = self.output.borrow_mut();
            if pipe.closed {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = data.len().min(pipe.window - pipe.bytes.len());
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            pipe.bytes.extend(&data[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Stream for End {
        fn shutdown_write(&mut self) -> io::Result<()> {
            self.output.borrow_mut().closed = true;
            Ok(())
        }

        fn abort(&mut self) -> io::Result<()> {
            Ok(())
        }

        fn peek(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    /// A server stream and a rustls client joined by pipes of `window` bytes.
    struct Pair {
        server: TlsStream<End>,
        client: ClientConnection,
        to_server: Rc<RefCell<Pipe>>,
        to_client: Rc<RefCell<Pipe>>,
    }

    impl Pair {
        fn new(window: usize) -> Self {
            let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])
                .expect("a certificate");
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let key =
                rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
            let server_config = ServerConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(vec![cert.cert.der().clone()], key)
                .expect("a server config");
            let mut roots = RootCertStore::empty();
            roots.add(cert.cert.der().clone()).expect("a root");
            let client_config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            let client = ClientConnection::new(
                Arc::new(client_config),
                ServerName::try_from("localhost").expect("a name"),
            )
            .expect("a client");
            let pipe = || {
                Rc::new(RefCell::new(Pipe {
                    window,
                    ..Pipe::default()
                }))
            };
            let (to_server, to_client) = (pipe(), pipe());
            let acceptor = TlsAcceptor {
                config: Arc::new(server_config),
                handshake_timeout: Duration::from_secs(5),
                max_handshakes: 1,
            };
            let server = acceptor
                .accept(End {
                    input: Rc::clone(&to_server),
                    output: Rc::clone(&to_client),
                })
                .expect("a server stream");
            Pair {
                server,
                client,
                to_server,
                to_client,
            }
        }

        /// Moves the client's records into its pipe and the server's out of
        /// theirs, as far as the windows allow; returns plaintext it read.
        fn pump_client(&mut self) -> Vec<u8> {
            let mut out = End {
                input: Rc::clone(&self.to_client),
                output: Rc::clone(&self.to_server),
            };
            while self.client.wants_write() {
                match self.client.write_tls(&mut out) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client write: {e}"),
                }
            }
            let mut plain = Vec::new();
            loop {
                let mut chunk = [0u8; 4096];
                match self.client.reader().read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        plain.extend_from_slice(&chunk[..n]);
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("client read: {e}"),
                }
                match self.client.read_tls(&mut out) {
                    Ok(0) => break,
                    Ok(_) => {
                        self.client.process_new_packets().expect("client packets");
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client read_tls: {e}"),
                }
            }
            plain
        }

        /// Runs both sides until the server's handshake is done.
        fn handshake(&mut self) {
            for _ in 0..1000 {
                self.pump_client();
                if self.server.handshake().expect("server handshake") {
                    self.pump_client();
                    return;
                }
            }
            panic!("no handshake after 1000 rounds");
        }
    }

    #[test]
    fn handshake_then_plaintext_both_ways_through_small_windows() {
        let mut pair = Pair::new(1000);
        pair.handshake();
        let info = pair.server.tls_info().expect("tls info");
        assert_eq!(info.server_name(), Some("localhost"));
        assert_eq!(info.protocol_version(), "TLSv1_3");

        // 256 KiB each way through 1000-byte windows: every write is
        // partial, every read stops at an empty socket, nothing is lost.
        let data: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
        let (mut sent, mut echoed, mut got) = (0, 0, Vec::new());
        let mut buf = vec![0u8; 64 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        for _ in 0..100_000 {
            if sent < data.len() {
                sent += pair
                    .client
                    .writer()
                    .write(&data[sent..])
                    .expect("client write");
            }
            got.extend(pair.pump_client());
            match pair.server.read(&mut buf) {
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("server read: {e}"),
            }
            if !pending.is_empty() {
                match pair.server.write(&pending) {
                    Ok(n) => {
                        assert!(n > 0, "write returned Ok(0)");
                        pending.drain(..n);
                        echoed += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("server write: {e}"),
                }
            } else if pair.server.wants_write() {
                pair.server.flush().expect("server flush");
            }
            if got.len() == data.len() {
                break;
            }
        }
        assert_eq!(echoed, data.len());
        assert!(got == data, "the echo differs");
    }

    #[test]
    fn a_burst_bigger_than_rustls_plaintext_limit_reads_without_error() {
        // Regression (sozu #1008): 200 KiB arrive at once; reading with a
        // small buffer must drain plaintext before taking more ciphertext.
        let mut pair = Pair::new(1 << 20);
        pair.handshake();
        let data = vec![7u8; 200 * 1024];
        let mut sent = 0;
        while sent < data.len() {
            sent += pair
                .client
                .writer()
                .write(&data[sent..])
                .expect("client write");
            pair.pump_client();
        }
        let mut buf = [0u8; 1000];
        let mut total = 0;
        loop {
            match pair.server.read(&mut buf) {
                Ok(0) => panic!("EOF"),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("server read after {total} bytes: {e}"),
            }
        }
        assert_eq!(total, data.len());
    }

    #[test]
    fn close_notify_reads_as_eof_and_tcp_eof_without_it_as_unexpected_eof() {
        let mut pair = Pair::new(1 << 16);
        pair.handshake();
        pair.client
            .writer()
            .write_all(b"last words")
            .expect("write");
        pair.client.send_close_notify();
        pair.pump_client();
        let mut buf = [0u8; 64];
        // Data and close_notify in one read: the data, then (at once, the
        // socket being empty) EOF.
        assert_eq!(pair.server.read(&mut buf).expect("data"), 10);
        assert!(pair.server.has_buffered_input(), "EOF left unreported");
        assert_eq!(pair.server.read(&mut buf).expect("eof"), 0);

        let mut cut = Pair::new(1 << 16);
        cut.handshake();
        cut.to_server.borrow_mut().closed = true;
        let err = cut.server.read(&mut buf).expect_err("a truncation");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn shutdown_write_sends_close_notify_then_fin_once_written() {
        let mut pair = Pair::new(64);
        pair.handshake();
        // Session tickets still trickle out through the small window.
        for _ in 0..1000 {
            pair.pump_client();
            pair.server.flush().expect("flush");
            if !pair.server.wants_write() {
                break;
            }
        }
        // More than the window: records wait in rustls.
        assert!(pair.server.write(&[1u8; 500]).expect("write") > 0);
        pair.server.shutdown_write().expect("shutdown");
        assert!(pair.server.wants_write(), "the FIN went before the records");
        assert!(!pair.to_client.borrow().closed);
        let mut plain = Vec::new();
        for _ in 0..1000 {
            plain.extend(pair.pump_client());
            pair.server.flush().expect("flush");
            if !pair.server.wants_write() {
                break;
            }
        }
        plain.extend(pair.pump_client());
        assert!(!pair.server.wants_write());
        assert!(pair.to_client.borrow().closed, "no FIN after close_notify");
        assert_eq!(plain.len(), 500);
        // The client saw close_notify: its reader says EOF.
        let mut buf = [0u8; 8];
        assert_eq!(pair.client.reader().read(&mut buf).expect("eof"), 0);
    }

    #[test]
    fn garbage_fails_the_handshake_with_invalid_data() {
        let mut pair = Pair::new(1 << 16);
        pair.to_server
            .borrow_mut()
            .bytes
            .extend(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let err = pair.server.handshake().expect_err("garbage accepted");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // The alert went out.
        assert!(!pair.to_client.borrow().bytes.is_empty());
    }
}
