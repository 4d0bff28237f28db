//! The `echo` example as a user runs it: errors with their causes on stderr
//! and exit status 1, logs at info by default, a graceful stop on the first
//! signal and an immediate exit on the second.
//!
//! `cargo test` builds the examples before it runs the tests; the binary is
//! found next to this test's own (`target/<profile>/examples/echo`).

mod util;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use util::{TIMEOUT, TestResult, assert_echo, connect};

/// The `echo` example's binary (see [`util::example`]).
fn echo_example() -> Result<PathBuf, String> {
    util::example("echo")
}

/// Waits for `child` to exit, at most [`TIMEOUT`] (then kills it).
fn wait(mut child: Child) -> Result<ExitStatus, String> {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(status) => status.map_err(|e| e.to_string()),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            Err("the example did not exit in time".into())
        }
    }
}

fn signal(child: &Child, name: &str) -> TestResult {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()?;
    assert!(status.success(), "kill -{name} failed");
    Ok(())
}

/// Stderr lines of the child, as they come.
fn lines(stderr: ChildStderr) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a stderr line containing `needle`; returns it.
fn expect_line(rx: &Receiver<String>, needle: &str) -> Result<String, String> {
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return Ok(line),
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    Err(format!("no stderr line with {needle:?}; saw {seen:?}"))
}

/// Starts the example on a free port with `extra` flags; returns the child,
/// its address and its stderr lines.
fn start(extra: &[&str]) -> Result<(Child, std::net::SocketAddr, Receiver<String>), String> {
    let mut child = Command::new(echo_example()?)
        .args(["--port", "0", "--workers", "1"])
        .args(extra)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stderr = lines(child.stderr.take().ok_or("no stderr")?);
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut first = String::new();
    stdout.read_line(&mut first).map_err(|e| e.to_string())?;
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .map(|a| a.strip_prefix("tls:").unwrap_or(a))
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("unexpected first line {first:?}"))?;
    Ok((child, addr, stderr))
}

#[test]
fn a_taken_port_prints_the_cause_and_exits_1() -> TestResult {
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port();
    let output = Command::new(echo_example()?)
        .args(["--port", &port.to_string()])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    let expected = format!("error: failed to bind 127.0.0.1:{port}: Address already in use");
    assert!(
        stderr.lines().any(|l| l.starts_with(&expected)),
        "expected a line starting {expected:?}, got {stderr:?}"
    );
    assert!(output.stdout.is_empty(), "nothing listens, nothing said so");
    Ok(())
}

#[test]
fn first_signal_drains_and_logs_the_stop_at_info() -> TestResult {
    let (child, addr, stderr) = start(&[])?;
    // Without RUST_LOG the library's info lines show.
    expect_line(&stderr, "listening on")?;
    let mut client = connect(addr)?;
    assert_echo(&mut client, b"before the signal")?;
    drop(client);
    signal(&child, "TERM")?;
    expect_line(&stderr, "signal again to exit at once")?;
    expect_line(&stderr, "stopped serving")?;
    let status = wait(child)?;
    assert_eq!(status.code(), Some(0));
    Ok(())
}

#[test]
fn second_signal_exits_at_once_while_a_client_holds_the_drain() -> TestResult {
    // A long grace, and a client that keeps its connection open: the first
    // signal starts a drain that would last until the client goes (or 60 s).
    let (child, addr, stderr) = start(&["--shutdown-timeout", "60s"])?;
    let mut client = connect(addr)?;
    assert_echo(&mut client, b"held open")?;
    signal(&child, "INT")?;
    expect_line(&stderr, "signal again to exit at once")?;
    let asked = Instant::now();
    signal(&child, "INT")?;
    let status = wait(child)?;
    assert_eq!(status.code(), Some(130), "a forced exit is not a success");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the second signal took {:?}",
        asked.elapsed()
    );
    // The client sees the process go: EOF or a reset, not an answer.
    let mut buf = [0; 1];
    let gone = match client.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(gone, "the client still got data after a forced exit");
    Ok(())
}

/// A fault flag reaches the server: `--close-after 4` gives the client
/// exactly four bytes, then EOF.
#[test]
fn close_after_flag_gives_the_client_that_many_bytes_then_eof() -> TestResult {
    use std::io::Write;
    let (child, addr, _stderr) = start(&["--close-after", "4", "--seed", "7"])?;
    let mut client = connect(addr)?;
    client.write_all(b"hello")?;
    let mut got = Vec::new();
    client.read_to_end(&mut got)?;
    assert_eq!(got, b"hell");
    drop(client);
    signal(&child, "TERM")?;
    assert_eq!(wait(child)?.code(), Some(0));
    Ok(())
}

#[cfg(unix)]
#[test]
fn bind_flags_listen_in_order_and_sigterm_removes_the_socket_file() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = util::temp_dir()?;
    let path = dir.path().join("echo.sock");
    let unix_flag = format!("unix:{}", path.display());
    let mut child = Command::new(echo_example()?)
        .args([
            "--workers",
            "1",
            "--bind",
            "127.0.0.1:0",
            "--bind",
            &unix_flag,
        ])
        .args(["--unix-mode", "600"])
        .env_remove("RUST_LOG")
        .env_remove("LISTEN_FDS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = lines(child.stderr.take().ok_or("no stderr")?);
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut first = String::new();
    stdout.read_line(&mut first)?;
    let mut second = String::new();
    stdout.read_line(&mut second)?;
    let addr: std::net::SocketAddr = first
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("unexpected first line {first:?}"))?;
    assert_eq!(second.trim(), format!("listening on {unix_flag}"));
    assert_eq!(
        std::fs::metadata(&path)?.permissions().mode() & 0o777,
        0o600
    );
    assert_echo(&mut connect(addr)?, b"over TCP")?;
    util::assert_echo_on(&mut util::connect_unix(&path)?, b"over the socket file")?;
    signal(&child, "TERM")?;
    expect_line(&stderr, "stopped serving")?;
    let status = wait(child)?;
    assert_eq!(status.code(), Some(0));
    assert!(!path.exists(), "the socket file is removed at exit");
    Ok(())
}

#[test]
fn udp_binds_mix_with_tcp_in_order_and_echo_datagrams() -> TestResult {
    let mut child = Command::new(echo_example()?)
        .args(["--workers", "1", "--bind", "udp:127.0.0.1:0"])
        .args(["--bind", "127.0.0.1:0", "--udp-guard", "strict"])
        .env_remove("RUST_LOG")
        .env_remove("LISTEN_FDS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = lines(child.stderr.take().ok_or("no stderr")?);
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut addrs = Vec::new();
    for prefix in ["listening on udp:", "listening on "] {
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let addr: std::net::SocketAddr = line
            .trim()
            .strip_prefix(prefix)
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("expected {prefix:?}ADDR, got {line:?}"))?;
        addrs.push(addr);
    }
    let client = util::udp::client([127, 0, 0, 1].into())?;
    util::udp::assert_echo(&client, addrs[0], 1472)?;
    assert_echo(&mut connect(addrs[1])?, b"over TCP")?;
    signal(&child, "TERM")?;
    expect_line(&stderr, "udp:127.0.0.1")?;
    let status = wait(child)?;
    assert_eq!(status.code(), Some(0));
    Ok(())
}

#[cfg(feature = "tls")]
#[test]
fn plain_and_tls_binds_mix_and_say_which_is_which() -> TestResult {
    use std::io::Write;
    let pki = util::tls::Pki::new()?;
    let dir = util::tls::TempDir::new()?;
    let cert = dir.write("cert.pem", &pki.server.cert)?;
    let key = dir.write("key.pem", &pki.server.key)?;
    let mut child = Command::new(echo_example()?)
        .args([
            "--workers",
            "1",
            "--bind",
            "127.0.0.1:0",
            "--bind",
            "tls:127.0.0.1:0",
        ])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .args(["--alpn", "echo"])
        .env_remove("RUST_LOG")
        .env_remove("LISTEN_FDS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let _stderr = lines(child.stderr.take().ok_or("no stderr")?);
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let (mut first, mut second) = (String::new(), String::new());
    stdout.read_line(&mut first)?;
    stdout.read_line(&mut second)?;
    let plain: std::net::SocketAddr = first
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("unexpected first line {first:?}"))?;
    let tls: std::net::SocketAddr = second
        .trim()
        .strip_prefix("listening on tls:")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("unexpected second line {second:?}"))?;
    assert_echo(&mut connect(plain)?, b"in the clear")?;
    let config = pki.client_config(&["echo"], None)?;
    let mut client = util::tls::tls_connect(tls, config, "localhost")?;
    client.write_all(b"over tls")?;
    let mut back = [0u8; 8];
    client.read_exact(&mut back)?;
    assert_eq!(&back, b"over tls");
    assert_eq!(client.conn.alpn_protocol(), Some(&b"echo"[..]));
    drop(client);
    signal(&child, "TERM")?;
    assert_eq!(wait(child)?.code(), Some(0));
    Ok(())
}

#[cfg(feature = "tls")]
#[test]
fn tls_cert_without_bind_serves_tls_on_the_port() -> TestResult {
    use std::io::Write;
    let pki = util::tls::Pki::new()?;
    let dir = util::tls::TempDir::new()?;
    let cert = dir.write("cert.pem", &pki.server.cert)?;
    let key = dir.write("key.pem", &pki.server.key)?;
    let path = |p: &std::path::Path| p.display().to_string();
    let (child, addr, _stderr) = start(&["--tls-cert", &path(&cert), "--tls-key", &path(&key)])?;
    let mut client = util::tls::tls_connect(addr, pki.client_config(&[], None)?, "localhost")?;
    client.write_all(b"default port")?;
    let mut back = [0u8; 12];
    client.read_exact(&mut back)?;
    assert_eq!(&back, b"default port");
    drop(client);
    signal(&child, "TERM")?;
    assert_eq!(wait(child)?.code(), Some(0));
    Ok(())
}

#[cfg(feature = "tls")]
#[test]
fn tls_misconfigurations_are_named_and_exit_1() -> TestResult {
    let cases: [(&[&str], &str); 2] = [
        (
            &[
                "--port",
                "0",
                "--tls-cert",
                "/nonexistent/cert.pem",
                "--tls-key",
                "/nonexistent/key.pem",
            ],
            "error: tls: cannot read the certificate file /nonexistent/cert.pem",
        ),
        (
            &["--bind", "tls:127.0.0.1:0"],
            "`tls:` binds need --tls-cert and --tls-key",
        ),
    ];
    for (args, expected) in cases {
        let output = Command::new(echo_example()?)
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null())
            .output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    Ok(())
}

#[cfg(not(feature = "tls"))]
#[test]
fn tls_flags_without_the_feature_say_how_to_build_it() -> TestResult {
    let cases: [&[&str]; 2] = [
        &["--port", "0", "--tls-cert", "c.pem", "--tls-key", "k.pem"],
        &["--bind", "tls:127.0.0.1:0"],
    ];
    for args in cases {
        let output = Command::new(echo_example()?)
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null())
            .output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("--features tls"), "{args:?}: {stderr}");
    }
    Ok(())
}
