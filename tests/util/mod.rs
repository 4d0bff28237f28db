//! Helpers shared by the integration tests: servers on port 0, clients with
//! bounded timeouts, echo checks, a byte pattern that shows loss and
//! reordering, and a handler wrapper that reports connection events.
//!
//! Every test binary compiles this module but uses only part of it.
#![allow(dead_code)]

pub mod udp;

use std::error::Error;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use netecho::{Addr, CloseReason, Conn, Handler, ServerHandle, Stats, TcpServer, TcpServerBuilder};
use socket2::{Domain, Protocol, Socket, Type};

/// What every test returns.
pub type TestResult = Result<(), Box<dyn Error>>;

/// The upper bound on any single wait: a broken server fails the test after
/// this long instead of hanging it. Never a synchronisation device.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A builder for a server on 127.0.0.1, any free port.
///
/// Under `NETECHO_TEST_SCHEDULING=per-worker` (which `.ci/run` sets for a
/// second run of the suite) the server uses `Scheduling::PerWorker`, so
/// both drivers pass the same tests; otherwise the default.
pub fn builder() -> TcpServerBuilder {
    let builder = TcpServer::builder().host(Ipv4Addr::LOCALHOST).port(0);
    match std::env::var("NETECHO_TEST_SCHEDULING").as_deref() {
        Ok("per-worker") => builder.scheduling(netecho::Scheduling::PerWorker),
        Ok("shared") | Err(_) => builder,
        Ok(other) => panic!("NETECHO_TEST_SCHEDULING={other:?}: expected per-worker or shared"),
    }
}

/// An echo server on 127.0.0.1, any free port, on background threads.
pub fn start() -> netecho::Result<ServerHandle> {
    builder().spawn()
}

/// Connects with read and write timeouts of [`TIMEOUT`].
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

/// Connects with the given `SO_RCVBUF` and `SO_SNDBUF` (set before the
/// handshake, so the window is sized for them) and timeouts of [`TIMEOUT`].
pub fn connect_with_buffers(addr: SocketAddr, recv: usize, send: usize) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_recv_buffer_size(recv)?;
    socket.set_send_buffer_size(send)?;
    socket.connect_timeout(&addr.into(), TIMEOUT)?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

/// Polls the server's counters until `done` holds for them, for at most
/// [`TIMEOUT`]; `what` names the condition in the error. The poll yields
/// between reads and never sleeps: it returns as soon as the state is reached.
pub fn stats_until(
    server: &ServerHandle,
    what: &str,
    done: impl Fn(&Stats) -> bool,
) -> Result<Stats, Box<dyn Error>> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stats = server.stats();
        if done(&stats) {
            return Ok(stats);
        }
        if Instant::now() >= deadline {
            return Err(format!("not reached within {TIMEOUT:?}: {what}; last {stats:?}").into());
        }
        std::thread::yield_now();
    }
}

/// Whether the tests run on CI (`CI` set to anything but empty, `0` or
/// `false`), where every test must run: a skip is a failure there.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// Skips the calling test for `reason`, visibly: prints why and returns
/// `Ok`; on CI ([`on_ci`]) returns an error instead, since CI's machine has
/// what every test needs.
pub fn skip(reason: &str) -> TestResult {
    if on_ci() {
        return Err(format!("would skip, but CI must run every test: {reason}").into());
    }
    eprintln!("SKIPPED: {reason}");
    Ok(())
}

/// Whether `err`, from creating or binding a socket on `[::1]`, means this
/// machine has no IPv6 loopback (no address, or no IPv6 at all).
pub fn no_ipv6(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::AddrNotAvailable | io::ErrorKind::Unsupported
    ) || err.raw_os_error() == Some(libc::EAFNOSUPPORT)
}

/// What a test handler puts in its panic messages, so that the panic hook
/// of [`quiet_expected_panics`] keeps them out of the output.
pub const EXPECTED_PANIC: &str = "expected test panic";

/// Keeps panics whose message contains [`EXPECTED_PANIC`] out of the test
/// output, and reports every other panic as before.
///
/// Installed once per test binary and never removed: tests that swapped the
/// process-wide hook and restored it while others ran in parallel could
/// silence another test's failure, or leave the silent hook in place.
pub fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !message.contains(EXPECTED_PANIC) {
                report(info);
            }
        }));
    });
}

/// A logger that keeps the crate's records at `Warn` and above, for tests
/// that check what the server logs (the library never logs at `Error`, so
/// a check for errors alone cannot fail).
pub struct WarnCapture {
    lines: std::sync::Mutex<Vec<(log::Level, String)>>,
}

/// The process-wide [`WarnCapture`], installed on first use. `None` if
/// another logger was installed first.
pub fn capture_warnings() -> Option<&'static WarnCapture> {
    static CAPTURE: WarnCapture = WarnCapture {
        lines: std::sync::Mutex::new(Vec::new()),
    };
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *INSTALLED.get_or_init(|| {
        let ok = log::set_logger(&CAPTURE).is_ok();
        if ok {
            log::set_max_level(log::LevelFilter::Warn);
        }
        ok
    });
    ok.then_some(&CAPTURE)
}

impl WarnCapture {
    /// The lines captured so far, as `LEVEL message`.
    pub fn lines(&self) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().map(|(l, m)| format!("{l} {m}")).collect()
    }

    /// The captured lines that contain `needle`.
    pub fn matching(&self, needle: &str) -> Vec<String> {
        let mut lines = self.lines();
        lines.retain(|l| l.contains(needle));
        lines
    }
}

impl log::Log for WarnCapture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn && m.target().starts_with("netecho")
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            lines.push((r.level(), r.args().to_string()));
        }
    }
    fn flush(&self) {}
}

/// Writes `msg` and reads back exactly as many bytes, which must be `msg`.
pub fn assert_echo(stream: &mut TcpStream, msg: &[u8]) -> io::Result<()> {
    stream.write_all(msg)?;
    let mut back = vec![0; msg.len()];
    stream.read_exact(&mut back)?;
    check_same(msg, &back)
}

/// An error naming the first offset where `got` differs from `expected`.
pub fn check_same(expected: &[u8], got: &[u8]) -> io::Result<()> {
    if expected.len() != got.len() {
        return Err(mismatch(format!(
            "expected {} bytes, got {}",
            expected.len(),
            got.len()
        )));
    }
    match expected.iter().zip(got).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(mismatch(format!(
            "byte {i} of {}: expected {:#04x}, got {:#04x}",
            expected.len(),
            expected[i],
            got[i]
        ))),
    }
}

fn mismatch(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads one more time and requires a clean EOF: `Ok(0)`, not data, not an
/// error such as `ConnectionReset` or a timeout.
pub fn expect_eof(stream: &mut TcpStream) -> io::Result<()> {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte)? {
        0 => Ok(()),
        n => Err(mismatch(format!("expected EOF, read {n} more bytes"))),
    }
}

/// Reads until the server closed the connection, either way: EOF or a reset.
/// Data or a timeout is an error.
pub fn expect_closed(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 256];
    match stream.read(&mut buf) {
        Ok(0) => Ok(()),
        Ok(n) => Err(mismatch(format!("expected a close, read {n} bytes"))),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Byte `i` of an endless pattern with no short period, so a lost, repeated
/// or reordered chunk shows at its offset.
pub fn pattern_byte(i: u64) -> u8 {
    let word = splitmix64(i >> 3);
    (word >> ((i & 7) * 8)) as u8
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `buf` with the pattern from `offset` on.
pub fn fill_pattern(offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern_byte(offset + i as u64);
    }
}

/// Checks that `buf` is the pattern from `offset` on.
pub fn verify_pattern(offset: u64, buf: &[u8]) -> io::Result<()> {
    match buf
        .iter()
        .enumerate()
        .position(|(i, b)| *b != pattern_byte(offset + i as u64))
    {
        None => Ok(()),
        Some(i) => Err(mismatch(format!(
            "stream byte {}: expected {:#04x}, got {:#04x}",
            offset + i as u64,
            pattern_byte(offset + i as u64),
            buf[i]
        ))),
    }
}

/// Reads `len` bytes of the pattern starting at `offset`, verifying them.
pub fn read_pattern(stream: &mut TcpStream, offset: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    while got < len {
        let want = buf.len().min((len - got) as usize);
        let n = stream.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("EOF after {got} of {len} bytes"),
            ));
        }
        verify_pattern(offset + got, &buf[..n])?;
        got += n as u64;
    }
    Ok(())
}

/// Writes the pattern from `offset` to `end` in chunks of random size.
pub fn write_pattern(
    stream: &mut TcpStream,
    offset: u64,
    end: u64,
    rng: &mut fastrand::Rng,
) -> io::Result<()> {
    let mut buf = vec![0u8; 128 * 1024];
    let mut at = offset;
    while at < end {
        let n = rng.usize(1..=buf.len()).min((end - at) as usize);
        fill_pattern(at, &mut buf[..n]);
        stream.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

/// A seed for a randomised test, printed so a failure can be replayed by
/// setting `TEST_SEED`.
pub fn seed() -> u64 {
    let seed = std::env::var("TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("TEST_SEED={seed}");
    seed
}

/// Joins a thread, turning its panic into an error.
pub fn join<T>(thread: std::thread::JoinHandle<T>) -> Result<T, Box<dyn Error>> {
    thread.join().map_err(|_| "a test thread panicked".into())
}

/// What a [`Notify`] handler reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `on_open` of the connection from `peer`.
    Open { peer: Addr },
    /// `on_close` of the connection from `peer`.
    Close { peer: Addr, reason: CloseReason },
}

/// Wraps a handler, forwards every callback to it, and reports `on_open` and
/// `on_close` on a channel.
pub struct Notify<H> {
    inner: H,
    tx: Sender<Event>,
    peer: Option<Addr>,
}

impl<H: Handler> Handler for Notify<H> {
    fn on_open(&mut self, conn: &mut Conn) {
        let peer = conn.peer_addr().clone();
        self.peer = Some(peer.clone());
        let _ = self.tx.send(Event::Open { peer });
        self.inner.on_open(conn);
    }

    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        self.inner.on_data(conn, data);
    }

    fn on_read_closed(&mut self, conn: &mut Conn) {
        self.inner.on_read_closed(conn);
    }

    fn on_idle_timeout(&mut self, conn: &mut Conn) {
        self.inner.on_idle_timeout(conn);
    }

    fn on_drain(&mut self, conn: &mut Conn) {
        self.inner.on_drain(conn);
    }

    fn on_timer(&mut self, conn: &mut Conn) {
        self.inner.on_timer(conn);
    }

    fn on_close(&mut self, reason: CloseReason) {
        self.inner.on_close(reason);
        let peer = self.peer.take().expect("on_close without on_open");
        let _ = self.tx.send(Event::Close { peer, reason });
    }
}

/// A handler factory wrapping `make`'s handlers in [`Notify`], and the
/// receiving end of their `on_open` and `on_close` events.
pub fn notify<H, F>(make: F) -> (impl Fn() -> Notify<H> + Send + Sync + 'static, Events)
where
    H: Handler + 'static,
    F: Fn() -> H + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel();
    let factory = move || Notify {
        inner: make(),
        tx: tx.clone(),
        peer: None,
    };
    (factory, Events { rx })
}

/// The events of a [`notify`] factory, each waited for at most [`TIMEOUT`].
pub struct Events {
    rx: Receiver<Event>,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// The next event.
    pub fn next(&self) -> Result<Event, Box<dyn Error>> {
        self.rx
            .recv_timeout(TIMEOUT)
            .map_err(|e| format!("no handler event within {TIMEOUT:?}: {e}").into())
    }

    /// The next event, which must be an `on_open`; returns the peer.
    pub fn expect_open(&self) -> Result<Addr, Box<dyn Error>> {
        match self.next()? {
            Event::Open { peer } => Ok(peer),
            other => Err(format!("expected on_open, got {other:?}").into()),
        }
    }

    /// The next event, which must be an `on_close`; returns peer and reason.
    pub fn expect_close(&self) -> Result<(Addr, CloseReason), Box<dyn Error>> {
        match self.next()? {
            Event::Close { peer, reason } => Ok((peer, reason)),
            other => Err(format!("expected on_close, got {other:?}").into()),
        }
    }

    /// The next `n` `on_close` events, skipping `on_open` ones, all within
    /// [`TIMEOUT`] in total.
    pub fn closes(&self, n: usize) -> Result<Vec<(Addr, CloseReason)>, Box<dyn Error>> {
        let deadline = Instant::now() + TIMEOUT;
        let mut closes = Vec::with_capacity(n);
        while closes.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Event::Close { peer, reason }) => closes.push((peer, reason)),
                Ok(Event::Open { .. }) => {}
                Err(e) => {
                    return Err(
                        format!("{} of {n} on_close events, then: {e}", closes.len()).into(),
                    );
                }
            }
        }
        Ok(closes)
    }

    /// An event already sent, without waiting.
    pub fn try_next(&self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}

/// A fresh temporary directory for socket files, removed when dropped.
pub fn temp_dir() -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("netecho-test-").tempdir()
}

/// Connects to a Unix socket with read and write timeouts of [`TIMEOUT`].
#[cfg(unix)]
pub fn connect_unix(path: &std::path::Path) -> io::Result<std::os::unix::net::UnixStream> {
    let stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

/// Writes `msg` and reads back exactly as many bytes, which must be `msg`,
/// on any stream.
pub fn assert_echo_on<S: Read + Write>(stream: &mut S, msg: &[u8]) -> io::Result<()> {
    stream.write_all(msg)?;
    let mut back = vec![0; msg.len()];
    stream.read_exact(&mut back)?;
    check_same(msg, &back)
}

#[cfg(feature = "tls")]
pub mod tls;
/// An example's binary, `name`. `cargo test` builds the examples (without
/// copying them to `examples/NAME`, as `cargo build --example NAME` does), so
/// look for both names next to this test's own binary, and take the newest
/// that answers `--version` as the examples do.
pub fn example(name: &str) -> Result<std::path::PathBuf, String> {
    let name_wanted = name;
    let prefix = format!("{name}-");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/example_echo-HASH -> target/<profile>/examples/
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or("no target directory")?
        .join("examples");
    let mut candidates: Vec<(std::time::SystemTime, std::path::PathBuf)> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            *name == *name_wanted
                || name
                    .strip_prefix(&prefix)
                    .is_some_and(|hash| hash.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    candidates.sort();
    for (_, path) in candidates.into_iter().rev() {
        let answers = std::process::Command::new(&path)
            .arg("--version")
            .stdin(std::process::Stdio::null())
            .output()
            .is_ok_and(|out| out.status.success() && out.stdout.starts_with(b"netecho "));
        if answers {
            return Ok(path);
        }
    }
    Err(format!(
        "no {name} example in {}: run the whole `cargo test` (it builds the examples) or `cargo build --example {name}` first",
        dir.display()
    ))
}

/// Writes one line about the connection as the handler sees it (peer,
/// balancer, PROXY header and its TLVs), then echoes.
pub struct Who;

impl Handler for Who {
    fn on_open(&mut self, conn: &mut Conn) {
        let line = describe(conn);
        conn.write(line.as_bytes());
    }
}

pub fn describe(conn: &Conn) -> String {
    let header = conn.proxy_header();
    let text = |v: Option<&[u8]>| v.map(|v| String::from_utf8_lossy(v).into_owned());
    format!(
        "peer={} by={} v={} alpn={} authority={} id={}\n",
        conn.peer_addr(),
        conn.proxied_by().map_or("-".into(), |a| a.to_string()),
        header.map_or(0, |h| h.version()),
        text(header.and_then(|h| h.alpn())).unwrap_or_else(|| "-".into()),
        header.and_then(|h| h.authority()).unwrap_or("-"),
        text(header.and_then(|h| h.unique_id())).unwrap_or_else(|| "-".into()),
    )
}

/// Reads one line (up to and with its `\n`, or to EOF).
pub fn read_line(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stream.read(&mut byte)? == 1 {
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}
