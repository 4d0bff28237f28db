//! The PROXY protocol against the real thing: HAProxy in front with
//! `send-proxy` (v1) and `send-proxy-v2` (with a unique-id TLV), on
//! loopback. The client connects from 127.0.0.2 so that the address the
//! handler sees (from the header) differs from HAProxy's own (127.0.0.1).
//!
//! Needs `haproxy` (Debian package `haproxy`); skips with a message when it
//! is missing. Nothing is installed here.
#![cfg(target_os = "linux")]

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};

use netecho::{Listener, ProxyProtocol, ServerHandle, TcpServer};
use socket2::{Domain, Protocol, Socket, Type};
use util::{TIMEOUT, TestResult, Who, read_line};

/// HAProxy started in the background (`-D`), stopped by its pid when dropped.
struct Haproxy {
    pid: Option<u32>,
    frontend: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

fn haproxy_missing() -> bool {
    let found = Command::new("haproxy")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipping: haproxy is missing (Debian package `haproxy`; .ci/run installs it)");
    }
    !found
}

/// Starts HAProxy forwarding a TCP frontend on 127.0.0.1 to `backend` with
/// the server option `send` (`send-proxy`, `send-proxy-v2`).
fn start_haproxy(backend: SocketAddr, send: &str) -> Result<Haproxy, Box<dyn std::error::Error>> {
    let dir = util::temp_dir()?;
    let mut last_err = String::new();
    // HAProxy binds no port 0: take a free port and release it just before
    // HAProxy binds it; another process may take it meanwhile, so retry.
    for _ in 0..3 {
        let frontend = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let config = dir.path().join("haproxy.cfg");
        let pidfile = dir.path().join("haproxy.pid");
        std::fs::write(
            &config,
            format!(
                "global\n    maxconn 256\n\
                 defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n\
                 frontend fe\n    bind {frontend}\n    unique-id-format req-%[src]\n    default_backend be\n\
                 backend be\n    server s1 {backend} {send} proxy-v2-options unique-id\n"
            ),
        )?;
        let out = Command::new("haproxy")
            .args(["-D", "-q", "-f"])
            .arg(&config)
            .arg("-p")
            .arg(&pidfile)
            .stdin(Stdio::null())
            .output()?;
        // With -D, HAProxy exits once bound and forked: the frontend is up.
        if out.status.success() {
            let pid = read_pid(&pidfile)?;
            return Ok(Haproxy {
                pid: Some(pid),
                frontend,
                _dir: dir,
            });
        }
        last_err = String::from_utf8_lossy(&out.stderr).into_owned();
    }
    Err(format!("haproxy did not start: {last_err}").into())
}

fn read_pid(path: &Path) -> Result<u32, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().next().unwrap_or_default().trim().parse()?)
}

fn server() -> netecho::Result<ServerHandle> {
    let proxy = ProxyProtocol::required().trust("127.0.0.1/32".parse()?);
    TcpServer::builder()
        .listener(
            Listener::tcp(([127, 0, 0, 1], 0))
                .proxy_protocol(proxy)
                .handler(|| Who),
        )
        .workers(1)
        .spawn()
}

/// Connects to `to` from 127.0.0.2 (any port).
fn connect_from_127_0_0_2(to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())?;
    socket.connect_timeout(&to.into(), TIMEOUT)?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

fn through_haproxy(send: &str, version: u8, id: &str) -> TestResult {
    if haproxy_missing() {
        return Ok(());
    }
    let server = server()?;
    let haproxy = start_haproxy(server.local_addr(), send)?;
    for _ in 0..3 {
        let mut client = connect_from_127_0_0_2(haproxy.frontend)?;
        let me = client.local_addr()?;
        let line = read_line(&mut client)?;
        let expected_start = format!("peer={me} by=127.0.0.1:");
        let expected_end = format!(" v={version} alpn=- authority=- id={id}\n");
        assert!(
            line.starts_with(&expected_start) && line.ends_with(&expected_end),
            "{line:?}"
        );
        client.write_all(b"through the balancer")?;
        let mut back = [0u8; 20];
        client.read_exact(&mut back)?;
        assert_eq!(&back, b"through the balancer");
    }
    let stats = server.stats();
    assert_eq!(stats.proxy_headers, 3);
    assert_eq!((stats.proxy_malformed, stats.proxy_untrusted), (0, 0));
    Ok(())
}

#[test]
fn haproxy_send_proxy_v1() -> TestResult {
    through_haproxy("send-proxy", 1, "-")
}

#[test]
fn haproxy_send_proxy_v2_with_a_unique_id() -> TestResult {
    through_haproxy("send-proxy-v2", 2, "req-127.0.0.2")
}
