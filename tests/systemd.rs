//! systemd integration, with the real tools: a server launched by
//! `systemd-socket-activate` serves the socket it is handed; `READY=1` and
//! `STOPPING=1` arrive on a notify socket the test creates.
//!
//! The server runs in a child process (this test binary run again with
//! [`CHILD`] set, selecting the ignored `child` test), since socket
//! activation and `NOTIFY_SOCKET` are per process.
#![cfg(unix)]
// Without the `systemd` feature the tests only say they are skipped.
#![cfg_attr(not(feature = "systemd"), allow(unused_imports, dead_code))]

mod util;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};

use util::*;

/// Set in the child's environment.
const CHILD: &str = "NETECHO_SYSTEMD_CHILD";
const ACTIVATE: &str = "/usr/bin/systemd-socket-activate";

/// The child: serves the handed-in sockets (or 127.0.0.1:0 without any),
/// prints `listening on ADDR` for each, and stops at EOF on stdin.
#[test]
#[ignore = "run as a child process by the tests of this file"]
fn child() -> TestResult {
    if std::env::var_os(CHILD).is_none() {
        return Ok(());
    }
    #[cfg(feature = "systemd")]
    {
        let handed_in = netecho::systemd::listeners()?;
        let mut builder = netecho::TcpServer::builder().systemd_notify(true);
        if handed_in.is_empty() {
            builder = builder.port(0);
        }
        for (_, listener) in handed_in {
            builder = builder.listener(listener);
        }
        let server = builder.spawn()?;
        let mut out = std::io::stdout().lock();
        for addr in server.local_addrs() {
            writeln!(out, "listening on {addr}")?;
        }
        out.flush()?;
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line)? > 0 {}
        server.shutdown();
        server.join()?;
    }
    Ok(())
}

fn child_args() -> [&'static str; 5] {
    [
        "child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
}

#[cfg(feature = "systemd")]
#[test]
fn a_server_launched_by_systemd_socket_activate_serves_the_handed_in_socket() -> TestResult {
    if !std::path::Path::new(ACTIVATE).exists() {
        eprintln!("skipping: {ACTIVATE} is missing (Debian package `systemd`)");
        return Ok(());
    }
    let dir = temp_dir()?;
    let path = dir.path().join("activated.sock");
    let exe = std::env::current_exe()?;
    let mut activate = Command::new(ACTIVATE)
        .arg("-l")
        .arg(&path)
        .arg("-E")
        .arg(format!("{CHILD}=1"))
        .arg(&exe)
        .args(child_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let result = (|| -> TestResult {
        let stderr = activate.stderr.take().ok_or("no stderr")?;
        let mut stderr = BufReader::new(stderr);
        let mut line = String::new();
        // "Listening on PATH as 3.": the socket exists from here on.
        stderr.read_line(&mut line)?;
        assert!(line.starts_with("Listening on"), "{line}");
        // The first connection makes it start the server, which serves it.
        let mut client = connect_unix(&path)?;
        assert_echo_on(&mut client, b"socket-activated")?;
        let stdout = activate.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let expected = format!("listening on unix:{}", path.display());
        let found = lines
            .by_ref()
            .take(20)
            .map_while(Result::ok)
            .any(|l| l.ends_with(&expected));
        assert!(found, "no `{expected}` line from the child");
        drop(client);
        drop(activate.stdin.take());
        let status = activate.wait()?;
        assert!(status.success(), "child exited with {status}");
        assert!(
            path.exists(),
            "a handed-in socket's file is not the server's to remove"
        );
        Ok(())
    })();
    if result.is_err() {
        let _ = activate.kill();
        let _ = activate.wait();
    }
    result
}

#[cfg(feature = "systemd")]
#[test]
fn ready_and_stopping_reach_the_notify_socket() -> TestResult {
    let dir = temp_dir()?;
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path)?;
    notify.set_read_timeout(Some(TIMEOUT))?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(child_args())
        .env(CHILD, "1")
        .env("NOTIFY_SOCKET", &notify_path)
        .env_remove("LISTEN_FDS")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf)?;
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    drop(child.stdin.take());
    let n = notify.recv(&mut buf);
    let status = child.wait()?;
    assert_eq!(ready, "READY=1\n");
    assert_eq!(String::from_utf8_lossy(&buf[..n?]), "STOPPING=1\n");
    assert!(status.success(), "child exited with {status}");
    Ok(())
}

#[cfg(not(feature = "systemd"))]
#[test]
fn systemd_tests_need_the_feature() {
    eprintln!("skipping the systemd tests: build with `--features systemd`");
}
