//! TLS end to end, with rustls clients and `openssl s_client`: echo of 16
//! MiB with partial writes, half-close by close_notify, truncation, many
//! clients at once, ALPN/SNI/client certificates seen by the handler,
//! handshake failures and timeouts, plaintext on a TLS port, the cap on
//! handshakes, shutdown during handshakes, configuration errors.
#![cfg(feature = "tls")]

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use netecho::{CloseReason, Conn, Echo, Error, Handler, TlsConfig};
use util::tls::{
    Pki, TempDir, TlsBuilderExt, builder, handshake, openssl, read_to_close, tls_connect,
};
use util::{TestResult, connect, fill_pattern, join, notify, verify_pattern};

/// Writes what the handshake settled, then echoes.
struct Describe;

impl Handler for Describe {
    fn on_open(&mut self, conn: &mut Conn) {
        let line = match conn.tls() {
            Some(tls) => format!(
                "alpn={} sni={} certs={} first={}\n",
                tls.alpn_protocol()
                    .map_or("-".into(), |p| String::from_utf8_lossy(p).into_owned()),
                tls.server_name().unwrap_or("-"),
                tls.peer_certificates().map_or(0, <[Vec<u8>]>::len),
                tls.peer_certificates()
                    .and_then(|c| c.first())
                    .map_or(0, Vec::len),
            ),
            None => "plain\n".into(),
        };
        conn.write(line.as_bytes());
    }

    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        conn.write(data);
    }
}

fn read_line(client: &mut impl Read) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while client.read(&mut byte)? == 1 {
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[test]
fn echo_16_mib_with_partial_writes() -> TestResult {
    const TOTAL: u64 = 16 * 1024 * 1024;
    const WINDOW: u64 = 96 * 1024;
    let pki = Pki::new()?;
    let server = builder()
        .workers(1)
        .send_buffer_size(8 * 1024)
        .recv_buffer_size(8 * 1024)
        .tls(pki.server_config())
        .spawn()?;
    let mut client = tls_connect(
        server.local_addr(),
        pki.client_config(&[], None)?,
        "localhost",
    )?;
    let mut rng = fastrand::Rng::with_seed(util::seed());
    let mut chunk = vec![0u8; 64 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let (mut sent, mut got) = (0u64, 0u64);
    while got < TOTAL {
        if sent < TOTAL && sent - got < WINDOW {
            let n = rng.usize(1..=chunk.len()).min((TOTAL - sent) as usize);
            fill_pattern(sent, &mut chunk[..n]);
            client.write_all(&chunk[..n])?;
            sent += n as u64;
        } else {
            let n = client.read(&mut buf)?;
            if n == 0 {
                return Err(format!("close_notify after {got} of {TOTAL} bytes").into());
            }
            verify_pattern(got, &buf[..n])?;
            got += n as u64;
        }
    }
    client.conn.send_close_notify();
    client.flush()?;
    assert_eq!(read_to_close(&mut client)?, b"");
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn close_notify_is_half_close_and_server_answers_with_close_notify() -> TestResult {
    let pki = Pki::new()?;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .tls(pki.server_config())
        .handler(factory)
        .spawn()?;
    let mut client = tls_connect(
        server.local_addr(),
        pki.client_config(&[], None)?,
        "localhost",
    )?;
    client.write_all(b"first half")?;
    client.conn.send_close_notify();
    client.flush()?;
    // The echo still comes after our close_notify, then the server's.
    assert_eq!(read_to_close(&mut client)?, b"first half");
    events.expect_open()?;
    let (_, reason) = events.expect_close()?;
    assert_eq!(reason, CloseReason::PeerClosed);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn tcp_close_without_close_notify_is_truncated() -> TestResult {
    let pki = Pki::new()?;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .tls(pki.server_config())
        .handler(factory)
        .spawn()?;
    let mut client = tls_connect(
        server.local_addr(),
        pki.client_config(&[], None)?,
        "localhost",
    )?;
    client.write_all(b"ping")?;
    let mut back = [0u8; 4];
    client.read_exact(&mut back)?;
    assert_eq!(&back, b"ping");
    client.sock.shutdown(Shutdown::Write)?;
    events.expect_open()?;
    let (_, reason) = events.expect_close()?;
    assert_eq!(reason, CloseReason::Truncated);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn two_hundred_clients_at_once() -> TestResult {
    const THREADS: usize = 10;
    const PER_THREAD: usize = 20;
    let pki = Pki::new()?;
    let server = builder().workers(2).tls(pki.server_config()).spawn()?;
    let config = pki.client_config(&[], None)?;
    let addr = server.local_addr();
    let all_open = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let config = Arc::clone(&config);
            let all_open = Arc::clone(&all_open);
            thread::spawn(move || -> Result<(), String> {
                let mut clients = Vec::new();
                for _ in 0..PER_THREAD {
                    let mut c = tls_connect(addr, Arc::clone(&config), "localhost")
                        .map_err(|e| e.to_string())?;
                    handshake(&mut c).map_err(|e| e.to_string())?;
                    clients.push(c);
                }
                all_open.wait();
                for (i, c) in clients.iter_mut().enumerate() {
                    let msg = format!("thread {t} client {i}");
                    c.write_all(msg.as_bytes()).map_err(|e| e.to_string())?;
                    let mut back = vec![0u8; msg.len()];
                    c.read_exact(&mut back).map_err(|e| e.to_string())?;
                    if back != msg.as_bytes() {
                        return Err(format!("{msg}: got {:?}", String::from_utf8_lossy(&back)));
                    }
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        join(t)??;
    }
    let stats = server.stats();
    assert_eq!(stats.tls_handshakes, (THREADS * PER_THREAD) as u64);
    assert_eq!(stats.tls_handshake_errors, 0);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn handler_sees_alpn_sni_and_client_certificate() -> TestResult {
    let pki = Pki::new()?;
    let config = pki
        .server_config()
        .alpn("echo")
        .alpn("h2")
        .client_ca_pem(pki.ca.clone());
    let server = builder().tls(config).handler(|| Describe).spawn()?;
    let addr = server.local_addr();

    let with_cert = pki.client_config(&["echo"], Some(&pki.client))?;
    let mut client = tls_connect(addr, with_cert, "localhost")?;
    let line = read_line(&mut client)?;
    let der_len = pki.client_der()?.len();
    assert_eq!(
        line,
        format!("alpn=echo sni=localhost certs=1 first={der_len}")
    );
    util::tls::handshake(&mut client)?;
    client.write_all(b"after")?;
    let mut back = [0u8; 5];
    client.read_exact(&mut back)?;
    assert_eq!(&back, b"after");

    // An IP address is not sent as SNI.
    let mut by_ip = tls_connect(
        addr,
        pki.client_config(&["h2"], Some(&pki.client))?,
        "127.0.0.1",
    )?;
    assert_eq!(
        read_line(&mut by_ip)?,
        format!("alpn=h2 sni=- certs=1 first={der_len}")
    );
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn client_certificate_required_missing_untrusted_or_expired_is_refused() -> TestResult {
    let pki = Pki::new()?;
    let (factory, events) = notify(|| Describe);
    let server = builder()
        .workers(1)
        .tls(pki.server_config().client_ca_pem(pki.ca.clone()))
        .handler(factory)
        .spawn()?;
    let addr = server.local_addr();

    let mut without = tls_connect(addr, pki.client_config(&[], None)?, "localhost")?;
    // TLS 1.3: the client's handshake ends before the server's verdict,
    // which comes as an alert on the first read.
    let err = read_line(&mut without).expect_err("a client without a certificate got in");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");

    let mut untrusted = tls_connect(
        addr,
        pki.client_config(&[], Some(&pki.untrusted))?,
        "localhost",
    )?;
    let err = read_line(&mut untrusted).expect_err("an untrusted certificate got in");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");

    let mut expired = tls_connect(
        addr,
        pki.client_config(&[], Some(&pki.expired))?,
        "localhost",
    )?;
    let err = read_line(&mut expired).expect_err("an expired certificate got in");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");

    // The server carries on: a good client gets in, and is the first the
    // handler ever saw.
    let mut good = tls_connect(
        addr,
        pki.client_config(&[], Some(&pki.client))?,
        "localhost",
    )?;
    assert!(read_line(&mut good)?.contains("certs=1"));
    events.expect_open()?;
    let stats = server.stats();
    assert_eq!(stats.tls_handshake_errors, 3);
    assert_eq!(stats.tls_handshakes, 1);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn optional_client_certificate_lets_both_in() -> TestResult {
    let pki = Pki::new()?;
    let config = pki
        .server_config()
        .client_ca_pem(pki.ca.clone())
        .client_auth_optional(true);
    let server = builder().tls(config).handler(|| Describe).spawn()?;
    let addr = server.local_addr();
    let mut without = tls_connect(addr, pki.client_config(&[], None)?, "localhost")?;
    assert_eq!(
        read_line(&mut without)?,
        "alpn=- sni=localhost certs=0 first=0"
    );
    let mut with = tls_connect(
        addr,
        pki.client_config(&[], Some(&pki.client))?,
        "localhost",
    )?;
    assert!(read_line(&mut with)?.contains("certs=1"));
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn silent_client_is_closed_at_the_handshake_timeout() -> TestResult {
    let pki = Pki::new()?;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .tls(
            pki.server_config()
                .handshake_timeout(Duration::from_millis(200)),
        )
        .handler(factory)
        .spawn()?;
    let mut silent = connect(server.local_addr())?;
    let mut buf = [0u8; 16];
    // The server closes it (the read timeout is only the bound on failure).
    assert_eq!(silent.read(&mut buf)?, 0);
    let stats = server.stats();
    assert_eq!(stats.tls_handshake_timeouts, 1);
    assert_eq!(stats.tls_handshaking, 0);
    assert!(events.try_next().is_none(), "the handler saw a connection");
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn plaintext_on_a_tls_port_is_closed_and_others_carry_on() -> TestResult {
    let pki = Pki::new()?;
    let server = builder().workers(1).tls(pki.server_config()).spawn()?;
    let mut plain = connect(server.local_addr())?;
    plain.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    // An alert (binary, not an echo), then the close.
    let mut reply = Vec::new();
    match plain.read_to_end(&mut reply) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Err(e) => return Err(e.into()),
    }
    assert!(!reply.starts_with(b"GET"), "a plaintext echo: {reply:?}");
    let mut good = tls_connect(
        server.local_addr(),
        pki.client_config(&[], None)?,
        "localhost",
    )?;
    good.write_all(b"ok")?;
    let mut back = [0u8; 2];
    good.read_exact(&mut back)?;
    assert_eq!(&back, b"ok");
    assert_eq!(server.stats().tls_handshake_errors, 1);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn handshakes_over_the_cap_are_refused() -> TestResult {
    let pki = Pki::new()?;
    let server = builder()
        .workers(1)
        .tls(pki.server_config().max_handshakes(2))
        .spawn()?;
    let addr = server.local_addr();
    let _silent = [connect(addr)?, connect(addr)?];
    let mut third = connect(addr)?;
    let mut buf = [0u8; 1];
    match third.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
    }
    let stats = server.stats();
    assert_eq!(stats.tls_refused, 1);
    assert_eq!(stats.tls_handshaking, 2);
    // The refused one no longer counts on its listener: the two silent do.
    assert_eq!(server.listener_connections(), [2]);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn shutdown_drops_handshakes_in_progress() -> TestResult {
    const SILENT: usize = 20;
    let pki = Pki::new()?;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .shutdown_timeout(Duration::from_secs(60))
        .tls(
            pki.server_config()
                .handshake_timeout(Duration::from_secs(60)),
        )
        .handler(factory)
        .spawn()?;
    let addr = server.local_addr();
    let mut silent = (0..SILENT)
        .map(|_| connect(addr))
        .collect::<io::Result<Vec<_>>>()?;
    // One worker accepts in order: once this client is in, so are the others.
    let mut good = tls_connect(addr, pki.client_config(&[], None)?, "localhost")?;
    good.write_all(b"x")?;
    let mut back = [0u8; 1];
    good.read_exact(&mut back)?;
    events.expect_open()?;
    assert_eq!(server.stats().tls_handshaking, SILENT as u64);
    server.shutdown();
    for s in &mut silent {
        let mut buf = [0u8; 1];
        match s.read(&mut buf) {
            Ok(n) => assert_eq!(n, 0),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
        }
    }
    // The open connection closes gracefully: close_notify.
    assert_eq!(read_to_close(&mut good)?, b"");
    assert_eq!(events.expect_close()?.1, CloseReason::Shutdown);
    server.join()?;
    Ok(())
}

#[test]
fn bad_files_fail_bind_naming_the_file() -> TestResult {
    let pki = Pki::new()?;
    let dir = TempDir::new()?;
    let cert = dir.write("cert.pem", &pki.server.cert)?;
    let key = dir.write("key.pem", &pki.server.key)?;
    let other_key = dir.write("other-key.pem", &pki.client.key)?;
    let empty = dir.write("empty.pem", "")?;
    let missing = dir.path().join("missing.pem");

    let bind = |config: TlsConfig| builder().tls(config).bind().map(|_| ());
    // The good pair binds.
    bind(TlsConfig::from_pem_files(&cert, &key))?;

    let cases = [
        (
            TlsConfig::from_pem_files(&missing, &key),
            &missing,
            "cannot read",
        ),
        (
            TlsConfig::from_pem_files(&cert, &missing),
            &missing,
            "cannot read",
        ),
        (
            TlsConfig::from_pem_files(&empty, &key),
            &empty,
            "no certificate",
        ),
        (
            TlsConfig::from_pem_files(&cert, &empty),
            &empty,
            "no usable private key",
        ),
        (
            TlsConfig::from_pem_files(&cert, &other_key),
            &other_key,
            "does not fit",
        ),
        (
            TlsConfig::from_pem_files(&cert, &key).client_ca_file(&missing),
            &missing,
            "cannot read",
        ),
    ];
    for (config, file, what) in cases {
        let err = match bind(config) {
            Ok(()) => return Err(format!("bound with a bad {}", file.display()).into()),
            Err(e) => e,
        };
        assert!(matches!(err, Error::Tls { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(&file.display().to_string()), "{text}");
        assert!(text.contains(what), "{text}");
    }
    Ok(())
}

#[test]
fn openssl_s_client_echo_alpn_and_close() -> TestResult {
    let Some(openssl) = openssl("openssl_s_client_echo_alpn_and_close") else {
        return Ok(());
    };
    let pki = Pki::new()?;
    let dir = TempDir::new()?;
    let ca = dir.write("ca.pem", &pki.ca)?;
    let (factory, events) = notify(|| Describe);
    let server = builder()
        .tls(pki.server_config().alpn("echo"))
        .handler(factory)
        .spawn()?;
    let mut child = Command::new(openssl)
        .args(["s_client", "-quiet", "-no_ign_eof", "-verify_return_error"])
        .args(["-connect", &server.local_addr().to_string()])
        .args(["-servername", "localhost", "-alpn", "echo", "-CAfile"])
        .arg(&ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    assert_eq!(line, "alpn=echo sni=localhost certs=0 first=0\n");
    stdin.write_all(b"hello from openssl\n")?;
    line.clear();
    stdout.read_line(&mut line)?;
    assert_eq!(line, "hello from openssl\n");
    // EOF on stdin: s_client sends close_notify; the server answers in kind.
    drop(stdin);
    events.expect_open()?;
    let (_, reason) = events.expect_close()?;
    assert_eq!(reason, CloseReason::PeerClosed);
    let status = child.wait()?;
    assert!(status.success(), "s_client: {status}");
    server.shutdown();
    server.join()?;
    Ok(())
}

#[cfg(unix)]
#[test]
fn plain_tls_and_tls_over_unix_listeners_mix_under_one_server() -> TestResult {
    use netecho::Listener;
    let pki = Pki::new()?;
    let dir = util::temp_dir()?;
    let path = dir.path().join("tls.sock");
    let server = builder()
        .listener(Listener::tcp(([127, 0, 0, 1], 0)))
        .tls(pki.server_config())
        .listener(Listener::unix(&path).tls(pki.server_config().alpn("echo")))
        .handler(|| Describe)
        .spawn()?;
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 3);
    let plain_addr = server.local_addr();
    let tls_addr = match &addrs[1] {
        netecho::Addr::Tcp(addr) => *addr,
        other => return Err(format!("listener 1 is {other}").into()),
    };

    let mut plain = connect(plain_addr)?;
    assert_eq!(read_line(&mut plain)?, "plain");

    let mut tcp = tls_connect(tls_addr, pki.client_config(&[], None)?, "localhost")?;
    assert_eq!(read_line(&mut tcp)?, "alpn=- sni=localhost certs=0 first=0");

    let unix = std::os::unix::net::UnixStream::connect(&path)?;
    unix.set_read_timeout(Some(util::TIMEOUT))?;
    let conn = netecho::rustls::ClientConnection::new(
        pki.client_config(&["echo"], None)?,
        netecho::rustls::pki_types::ServerName::try_from("localhost")?,
    )?;
    let mut over_unix = netecho::rustls::StreamOwned::new(conn, unix);
    assert_eq!(
        read_line(&mut over_unix)?,
        "alpn=echo sni=localhost certs=0 first=0"
    );
    over_unix.write_all(b"via the socket file")?;
    let mut back = [0u8; 19];
    over_unix.read_exact(&mut back)?;
    assert_eq!(&back, b"via the socket file");
    drop((plain, tcp, over_unix));
    server.shutdown();
    server.join()?;
    Ok(())
}

/// Writes from another thread through a `ConnHandle`, then closes.
struct FromAThread;

impl Handler for FromAThread {
    fn on_open(&mut self, conn: &mut Conn) {
        let handle = conn.handle();
        thread::spawn(move || {
            for i in 0..100 {
                if handle.write(format!("line {i}\n").as_bytes()).is_err() {
                    return;
                }
            }
            let _ = handle.close();
        });
    }
}

#[test]
fn handles_write_from_other_threads_and_close_with_close_notify() -> TestResult {
    let pki = Pki::new()?;
    let server = builder()
        .tls(pki.server_config())
        .handler(|| FromAThread)
        .spawn()?;
    let mut client = tls_connect(
        server.local_addr(),
        pki.client_config(&[], None)?,
        "localhost",
    )?;
    let got = read_to_close(&mut client)?;
    let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&got), expected);
    server.shutdown();
    server.join()?;
    Ok(())
}

/// Writes the peer's address (from the PROXY header) and the SNI.
struct PeerAndSni;

impl Handler for PeerAndSni {
    fn on_open(&mut self, conn: &mut Conn) {
        let sni = conn.tls().and_then(|t| t.server_name()).unwrap_or("-");
        let line = format!("{} {sni}\n", conn.peer_addr());
        conn.write(line.as_bytes());
    }
}

#[test]
fn proxy_header_comes_before_the_tls_handshake() -> TestResult {
    use netecho::{Listener, ProxyProtocol};
    let pki = Pki::new()?;
    let server = builder()
        .listener(
            Listener::tcp(([127, 0, 0, 1], 0))
                .proxy_protocol(ProxyProtocol::required())
                .tls(pki.server_config()),
        )
        .handler(|| PeerAndSni)
        .spawn()?;
    let mut tcp = connect(server.local_addr())?;
    tcp.write_all(b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n")?;
    let conn = netecho::rustls::ClientConnection::new(
        pki.client_config(&[], None)?,
        netecho::rustls::pki_types::ServerName::try_from("localhost")?,
    )?;
    let mut client = netecho::rustls::StreamOwned::new(conn, tcp);
    assert_eq!(read_line(&mut client)?, "192.0.2.7:40000 localhost");
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}
