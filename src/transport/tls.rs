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
//!   caller's buffer is full or the socket says `WouldBlock`, so a short read
//!   means what it means on TCP: the socket is empty. Stopping after one
//!   record would leave ciphertext in the socket with no new event to say so
//!   (tokio-rs/tls #14). When a short read ends at the peer's close_notify,
//!   its EOF or an error still to report, `has_buffered_input`
//!   says so, and the state machine reads again.
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

use crate::connection::Stream;
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
            fin_wanted: false,
            fin_sent: false,
            deferred: None,
            input_left: false,
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
    /// Our close_notify is queued: shut down the socket's write side once
    /// rustls has written everything.
    fin_wanted: bool,
    fin_sent: bool,
    deferred: Option<io::Error>,
    /// The last read stopped with input still to report (plaintext, the
    /// peer's close, an error) although the socket may be empty.
    input_left: bool,
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
    /// The stream under the TLS session.
    pub(crate) fn get_ref(&self) -> &S {
        &self.io
    }

    /// The stream under the TLS session.
    pub(crate) fn get_mut(&mut self) -> &mut S {
        &mut self.io
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
        let n = self.tls.read_tls(&mut self.io)?;
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
