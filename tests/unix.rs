//! Unix-domain sockets: echo, half-close, stale/live/foreign files at the
//! path, the file's mode, its removal at shutdown, abstract names, peer
//! credentials, the connection limit.
#![cfg(unix)]

mod util;

use std::fs;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::sync::mpsc;

use netecho::{Addr, Conn, Error, Handler, Listener, PeerCred, TcpServer};
use util::*;

fn unix_only(path: &std::path::Path) -> netecho::TcpServerBuilder {
    TcpServer::builder()
        .workers(2)
        .listener(Listener::unix(path))
}

#[test]
fn echo_and_half_close_over_a_socket_file() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("echo.sock");
    let server = unix_only(&path).spawn()?;
    assert_eq!(server.local_addrs(), &[Addr::unix_path(&path)]);

    let mut client = connect_unix(&path)?;
    assert_echo_on(&mut client, b"hello over a unix socket")?;
    let big: Vec<u8> = (0..1_000_000u64).map(pattern_byte).collect();
    client.write_all(&big[..1000])?;
    client.shutdown(Shutdown::Write)?;
    let mut back = Vec::new();
    client.read_to_end(&mut back)?;
    check_same(&big[..1000], &back)?;

    // A large echo: backpressure both ways, the client writing from a thread.
    let mut writer = connect_unix(&path)?;
    let mut reader = writer.try_clone()?;
    let data = big.clone();
    let sending = std::thread::spawn(move || -> std::io::Result<()> {
        writer.write_all(&data)?;
        writer.shutdown(Shutdown::Write)
    });
    let mut echoed = Vec::with_capacity(big.len());
    reader.read_to_end(&mut echoed)?;
    join(sending)??;
    check_same(&big, &echoed)?;

    let stats = server.stats();
    assert!(stats.accepted >= 2);
    server.shutdown();
    server.join()?;
    assert!(!path.exists(), "the socket file is removed at shutdown");
    Ok(())
}

#[test]
fn a_stale_socket_file_is_replaced() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("stale.sock");
    drop(UnixListener::bind(&path)?);
    assert!(fs::symlink_metadata(&path)?.file_type().is_socket());
    let server = unix_only(&path).spawn()?;
    assert_echo_on(&mut connect_unix(&path)?, b"fresh")?;
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn a_live_socket_is_refused_and_left_alone() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("live.sock");
    let live = UnixListener::bind(&path)?;
    let err = unix_only(&path)
        .bind()
        .err()
        .ok_or("bind over a live socket worked")?;
    let text = format!(
        "{err} / {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(
        matches!(&err, Error::Bind { addr, .. } if *addr == Addr::unix_path(&path)),
        "{err:?}"
    );
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("in use"), "{text}");
    // Still the live server's socket: it accepts.
    let _client = connect_unix(&path)?;
    let (_accepted, _) = live.accept()?;
    Ok(())
}

#[test]
fn a_regular_file_at_the_path_is_refused_and_left_alone() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("precious.txt");
    fs::write(&path, b"keep me")?;
    let err = unix_only(&path)
        .bind()
        .err()
        .ok_or("bind over a regular file worked")?;
    assert!(matches!(&err, Error::Bind { .. }), "{err:?}");
    assert_eq!(fs::read(&path)?, b"keep me");
    Ok(())
}

#[cfg(target_os = "linux")]
#[test]
fn the_socket_file_gets_the_mode_asked() -> TestResult {
    let dir = temp_dir()?;
    for mode in [0o600, 0o660] {
        let path = dir.path().join(format!("mode-{mode:o}.sock"));
        let server = TcpServer::builder()
            .listener(Listener::unix(&path).mode(mode))
            .spawn()?;
        assert_eq!(fs::metadata(&path)?.permissions().mode() & 0o777, mode);
        server.shutdown();
        server.join()?;
    }
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_mode_on_an_abstract_listener_is_a_configuration_error() -> TestResult {
    let err = TcpServer::builder()
        .listener(Listener::unix_abstract("netecho-no-mode").mode(0o600))
        .bind()
        .err()
        .ok_or("a mode on an abstract socket was accepted")?;
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    Ok(())
}

#[test]
fn a_socket_file_that_is_no_longer_ours_is_not_removed() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("moved.sock");
    let server = unix_only(&path).spawn()?;
    fs::remove_file(&path)?;
    fs::write(&path, b"someone else's")?;
    server.shutdown();
    server.join()?;
    assert_eq!(fs::read(&path)?, b"someone else's");
    Ok(())
}

#[test]
fn a_handed_in_unix_listener_is_served_and_its_file_kept() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("handed.sock");
    let listener = UnixListener::bind(&path)?;
    let server = TcpServer::builder().listener(listener).spawn()?;
    assert_echo_on(&mut connect_unix(&path)?, b"adopted")?;
    server.shutdown();
    server.join()?;
    assert!(
        path.exists(),
        "a handed-in socket's file belongs to whoever made it"
    );
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn abstract_names_work() -> TestResult {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("netecho-test-{}-{}", std::process::id(), fastrand::u64(..));
    let server = TcpServer::builder()
        .listener(Listener::unix_abstract(&name))
        .spawn()?;
    assert_eq!(server.local_addrs()[0].to_string(), format!("unix:@{name}"));
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    let mut client = std::os::unix::net::UnixStream::connect_addr(&addr)?;
    client.set_read_timeout(Some(TIMEOUT))?;
    assert_echo_on(&mut client, b"abstract")?;
    server.shutdown();
    server.join()?;
    Ok(())
}

/// Reports what the handler learns in `on_open`.
struct Who(mpsc::Sender<(Addr, Addr, Option<PeerCred>, usize)>);

impl Handler for Who {
    fn on_open(&mut self, conn: &mut Conn) {
        let _ = self.0.send((
            conn.peer_addr().clone(),
            conn.local_addr().clone(),
            conn.peer_cred(),
            conn.listener(),
        ));
        conn.write(b"hi\n");
        conn.close();
    }
}

#[test]
fn the_handler_learns_the_peer_and_its_credentials() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("who.sock");
    let (tx, rx) = mpsc::channel();
    let server = TcpServer::builder()
        .listener(Listener::unix(&path))
        .handler(move || Who(tx.clone()))
        .spawn()?;
    let mut client = connect_unix(&path)?;
    let mut greeting = String::new();
    client.read_to_string(&mut greeting)?;
    assert_eq!(greeting, "hi\n");
    let (peer, local, cred, listener) = rx.recv_timeout(TIMEOUT)?;
    assert_eq!(peer, Addr::Unix(netecho::UnixAddr::Unnamed));
    assert_eq!(local, Addr::unix_path(&path));
    assert_eq!(listener, 0);
    if cfg!(any(target_os = "linux", target_os = "android")) {
        let cred = cred.ok_or("no peer credentials on Linux")?;
        assert_eq!(cred.pid, Some(std::process::id() as i32));
        let meta = fs::metadata(dir.path())?;
        // The test made the directory, so its owner is the test's uid.
        assert_eq!(cred.uid, std::os::unix::fs::MetadataExt::uid(&meta));
        assert_eq!(cred.gid, std::os::unix::fs::MetadataExt::gid(&meta));
    }
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn the_connection_limit_holds_for_unix_connections() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("limit.sock");
    let (notify, events) = notify(|| netecho::Echo);
    let server = TcpServer::builder()
        .listener(Listener::unix(&path))
        .max_connections(1)
        .handler(notify)
        .spawn()?;
    let mut first = connect_unix(&path)?;
    assert_echo_on(&mut first, b"one")?;
    events.expect_open()?;
    // The second waits in the backlog until the first closes.
    let mut second = connect_unix(&path)?;
    second.write_all(b"two")?;
    // Wait (bounded) until the acceptor has seen the second and held back.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while server.stats().deferred_at_limit == 0 {
        if std::time::Instant::now() > deadline {
            return Err("the acceptor never paused at the limit".into());
        }
        std::thread::yield_now();
    }
    assert!(
        events.try_next().is_none(),
        "a second connection opened over the limit"
    );
    drop(first);
    events.expect_close()?;
    let mut back = [0; 3];
    second.read_exact(&mut back)?;
    assert_eq!(&back, b"two");
    server.shutdown();
    server.join()?;
    Ok(())
}
