//! What the "classic services" examples share: the command-line flags of the
//! server (as `examples/echo.rs` has them), building and running the server
//! with signal handling, and a line splitter for the line-based protocols.
//!
//! Each example uses it with `mod common;`; not every example uses every item.
#![allow(dead_code)]

use std::error::Error;
use std::net::IpAddr;
use std::time::Duration;

use netecho::{Handler, TcpServer};

/// The server's flags, flattened into each example's own `Args`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on [default: 7007 for echo, the service's standard port + 7000 for the others]; 0
    /// picks a free one (the real port is printed).
    #[arg(long)]
    pub port: Option<u16>,
    /// Worker threads [default: the number of CPUs].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Set SO_REUSEPORT, so several servers can share the port.
    #[arg(long)]
    pub reuse_port: bool,
    /// How long a shutdown waits for connections to finish, e.g. `5s`.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// Connections open at once; more wait in the kernel's backlog.
    #[arg(long, default_value_t = netecho::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Close connections silent for this long, e.g. `5m`; `0s` turns it off.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Close connections that read none of their pending output for this
    /// long, e.g. `30s`; `0s` turns it off.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub write_timeout: Duration,
}

/// Binds a server with `args` (on `default_port` unless `--port` is given)
/// and the handler `factory`, prints `listening on ADDR`, and serves until
/// SIGINT or SIGTERM, which shut it down gracefully.
pub fn serve<F, H>(args: &ServerArgs, default_port: u16, factory: F) -> Result<(), Box<dyn Error>>
where
    F: Fn() -> H + Send + Sync + 'static,
    H: Handler + 'static,
{
    env_logger::init();
    let off_if_zero = |d: Duration| (!d.is_zero()).then_some(d);
    let mut builder = TcpServer::builder()
        .host(args.host)
        .port(args.port.unwrap_or(default_port))
        .reuse_port(args.reuse_port)
        .shutdown_timeout(args.shutdown_timeout)
        .max_connections(args.max_connections)
        .idle_timeout(off_if_zero(args.idle_timeout))
        .write_timeout(off_if_zero(args.write_timeout))
        .handler(factory);
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    let server = builder.bind()?;
    println!("listening on {}", server.local_addr());

    let handle = server.handle();
    let on_signal = handle.clone();
    ctrlc::set_handler(move || on_signal.shutdown())?;
    server.run()?;
    log::info!("{:?}", handle.stats());
    Ok(())
}

/// For the examples' loopback tests: a server with `factory`'s handlers on
/// 127.0.0.1, any free port, one worker, and a client connected to it with
/// 10 s connect, read and write timeouts (an upper bound on failure, never a
/// synchronisation), so that no test blocks forever.
#[cfg(test)]
pub fn loopback<F, H>(factory: F) -> (netecho::ServerHandle, std::net::TcpStream)
where
    F: Fn() -> H + Send + Sync + 'static,
    H: Handler + 'static,
{
    let server = TcpServer::builder()
        .host([127, 0, 0, 1])
        .port(0)
        .workers(1)
        .handler(factory)
        .spawn()
        .expect("start the example's server");
    let timeout = Duration::from_secs(10);
    let client =
        std::net::TcpStream::connect_timeout(&server.local_addr(), timeout).expect("connect");
    client
        .set_read_timeout(Some(timeout))
        .expect("set a read timeout");
    client
        .set_write_timeout(Some(timeout))
        .expect("set a write timeout");
    (server, client)
}

/// The default cap on a line's length, in bytes, line ending not counted.
pub const DEFAULT_MAX_LINE: usize = 1024;

/// A line longer than the cap arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// Cuts a byte stream into lines, whatever the reads' boundaries.
///
/// A line ends with LF or CRLF; the ending is not part of the line. Bytes of
/// a line split across reads (even inside a multi-byte UTF-8 character) wait
/// here until its end comes, so the callback always gets whole lines. At most
/// `max` bytes (plus a CR) are held, so a peer that never sends a newline
/// cannot grow memory.
#[derive(Debug)]
pub struct LineBuffer {
    partial: Vec<u8>,
    max: usize,
}

impl LineBuffer {
    /// A splitter for lines of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        LineBuffer {
            partial: Vec::new(),
            max,
        }
    }

    /// The cap on a line's length.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Feeds `data`, calling `on_line(line, ending)` for each line it
    /// completes, in order; `ending` is `b"\n"` or `b"\r\n"`.
    ///
    /// # Errors
    ///
    /// [`TooLong`] once a line exceeds the cap (the lines before it were
    /// given to `on_line`); the splitter should not be fed again.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        mut on_line: impl FnMut(&[u8], &'static [u8]),
    ) -> Result<(), TooLong> {
        while let Some(lf) = data.iter().position(|&b| b == b'\n') {
            let (head, rest) = (&data[..lf], &data[lf + 1..]);
            data = rest;
            if self.partial.is_empty() {
                let (line, ending) = split_ending(head);
                if line.len() > self.max {
                    return Err(TooLong);
                }
                on_line(line, ending);
            } else {
                self.partial.extend_from_slice(head);
                let whole = std::mem::take(&mut self.partial);
                let (line, ending) = split_ending(&whole);
                if line.len() > self.max {
                    return Err(TooLong);
                }
                on_line(line, ending);
                // Keep the allocation for the next partial line.
                self.partial = whole;
                self.partial.clear();
            }
        }
        // The start of a line whose end has not come yet. It may end with
        // the CR of a CRLF, which does not count towards the cap.
        let held = self.partial.len() + data.len();
        let over = held > self.max + 1
            || (held == self.max + 1 && data.last().is_some_and(|&b| b != b'\r'));
        if over {
            return Err(TooLong);
        }
        self.partial.extend_from_slice(data);
        Ok(())
    }

    /// Takes the last line if the peer ended the stream without a newline.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then(|| std::mem::take(&mut self.partial))
    }
}

/// Splits a line without its LF into the line and its ending.
fn split_ending(head: &[u8]) -> (&[u8], &'static [u8]) {
    match head.strip_suffix(b"\r") {
        Some(line) => (line, b"\r\n"),
        None => (head, b"\n"),
    }
}

/// The error line written before closing a connection that sent a line over
/// the cap.
pub fn too_long_message(max: usize) -> String {
    format!("ERROR line too long (max {max} bytes)\n")
}
