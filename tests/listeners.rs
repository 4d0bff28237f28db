//! Several listeners under one server: IPv4, IPv6 and Unix at once with a
//! handler each, the same port on IPv4 and IPv6, sockets handed in, UDP
//! listeners beside them under the same handle, and all-or-nothing binding.

mod util;

use std::io::{self, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};

use netecho::{
    Addr, Conn, DatagramHandler, Error, GuardPolicy, Handler, Listener, ProxyProtocol, Reply,
    TcpServer, UdpServer,
};
use util::*;

/// Says which listener the connection came in on, then echoes.
struct Tagged(&'static str);

impl Handler for Tagged {
    fn on_open(&mut self, conn: &mut Conn) {
        let line = format!("{} {}\n", self.0, conn.listener());
        conn.write(line.as_bytes());
    }
}

fn read_line<S: Read>(stream: &mut S) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while byte[0] != b'\n' {
        stream.read_exact(&mut byte)?;
        line.push(byte[0]);
    }
    String::from_utf8(line).map_err(io::Error::other)
}

/// Whether `[::1]` can be bound; if not, the IPv6 part is skipped, visibly
/// (and on CI, where IPv6 must be there, the test fails).
fn ipv6_available() -> Result<bool, Box<dyn std::error::Error>> {
    match TcpListener::bind((Ipv6Addr::LOCALHOST, 0)) {
        Ok(_) => Ok(true),
        Err(e) => {
            util::skip(&format!("the IPv6 part: no IPv6 loopback here ({e})"))?;
            Ok(false)
        }
    }
}

#[test]
fn v4_v6_and_unix_under_one_server_with_a_handler_each() -> TestResult {
    let v6 = ipv6_available()?;
    let dir = temp_dir()?;
    let path = dir.path().join("multi.sock");
    let mut builder = TcpServer::builder()
        .workers(2)
        .listener(Listener::tcp((Ipv4Addr::LOCALHOST, 0)).handler(|| Tagged("v4")));
    if v6 {
        builder =
            builder.listener(Listener::tcp((Ipv6Addr::LOCALHOST, 0)).handler(|| Tagged("v6")));
    }
    #[cfg(unix)]
    {
        builder = builder.listener(Listener::unix(&path));
    }
    let server = builder.handler(|| Tagged("default")).spawn()?;
    let addrs = server.local_addrs().to_vec();
    assert_eq!(addrs.len(), 1 + usize::from(v6) + usize::from(cfg!(unix)));
    assert_eq!(server.local_addr(), addrs[0]);

    let mut v4_client = connect(addrs[0].as_tcp().ok_or("listener 0 is not TCP")?)?;
    assert_eq!(read_line(&mut v4_client)?, "v4 0\n");
    assert_echo(&mut v4_client, b"over IPv4")?;
    let mut next = 1;
    if v6 {
        let addr = addrs[1].as_tcp().ok_or("listener 1 is not TCP")?;
        assert!(addr.is_ipv6());
        let mut client = connect(addr)?;
        assert_eq!(read_line(&mut client)?, "v6 1\n");
        assert_echo(&mut client, b"over IPv6")?;
        next += 1;
    }
    #[cfg(unix)]
    {
        assert_eq!(addrs[next], Addr::unix_path(&path));
        let mut client = connect_unix(&path)?;
        assert_eq!(read_line(&mut client)?, format!("default {next}\n"));
        assert_echo_on(&mut client, b"over a Unix socket")?;
    }
    let _ = next;

    // One shutdown closes every listener.
    server.shutdown();
    drop(v4_client);
    server.join()?;
    for addr in &addrs {
        match addr {
            Addr::Tcp(tcp) => assert!(TcpStream::connect(tcp).is_err(), "{tcp} still accepts"),
            _ => assert!(!path.exists(), "{addr} still exists"),
        }
    }
    Ok(())
}

#[test]
fn the_same_port_on_ipv4_and_ipv6_wildcards() -> TestResult {
    if !ipv6_available()? {
        return Ok(());
    }
    // Take a free port on the IPv4 wildcard, hand it in, and ask for the same
    // port on the IPv6 wildcard: without IPV6_V6ONLY that bind would clash.
    let v4 = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    let port = v4.local_addr()?.port();
    let server = TcpServer::builder()
        .listener(v4)
        .listener(Listener::tcp((Ipv6Addr::UNSPECIFIED, port)))
        .spawn()?;
    assert_echo(
        &mut connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?,
        b"v4",
    )?;
    assert_echo(
        &mut connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))?,
        b"v6",
    )?;
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn a_handed_in_tcp_listener_is_served() -> TestResult {
    let std_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr = std_listener.local_addr()?;
    let server = TcpServer::builder().listener(std_listener).spawn()?;
    assert_eq!(server.local_addrs(), &[Addr::Tcp(addr)]);
    assert_echo(&mut connect(addr)?, b"adopted")?;
    server.shutdown();
    server.join()?;
    assert!(
        TcpStream::connect(addr).is_err(),
        "the listener is closed at shutdown"
    );
    Ok(())
}

#[test]
fn a_bind_failure_of_the_second_listener_leaves_the_first_unbound() -> TestResult {
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let taken_addr = taken.local_addr()?;
    let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let first_addr = first.local_addr()?;
    let dir = temp_dir()?;
    let path = dir.path().join("first.sock");
    let mut builder = TcpServer::builder().listener(first);
    #[cfg(unix)]
    {
        builder = builder.listener(Listener::unix(&path));
    }
    let err = builder
        .listener(taken_addr)
        .bind()
        .err()
        .ok_or("binding a taken address worked")?;
    match &err {
        Error::Bind { addr, .. } => assert_eq!(*addr, taken_addr),
        other => return Err(format!("expected Error::Bind, got {other:?}").into()),
    }
    assert!(err.to_string().contains(&taken_addr.to_string()), "{err}");
    assert!(
        TcpStream::connect(first_addr).is_err(),
        "the first listener is still open"
    );
    assert!(!path.exists(), "the Unix listener's file was left behind");
    drop(taken);
    Ok(())
}

#[test]
fn host_and_port_stay_listener_zero_beside_added_listeners() -> TestResult {
    let server = builder()
        .listener(Listener::tcp((Ipv4Addr::LOCALHOST, 0)))
        .spawn()?;
    assert_eq!(server.local_addrs().len(), 2);
    assert_eq!(server.local_addr(), server.local_addrs()[0]);
    for addr in server.local_addrs() {
        assert_echo(&mut connect(addr.as_tcp().ok_or("not TCP")?)?, b"both")?;
    }
    server.shutdown();
    server.join()?;
    Ok(())
}

/// Answers every datagram with a fixed word.
struct Word(&'static [u8]);

impl DatagramHandler for Word {
    fn on_datagram(&mut self, _: &[u8], _: SocketAddr, reply: &mut Reply<'_>) {
        reply.send(self.0);
    }
}

/// Sends `msg` to `server` and returns the reply, which must come from it.
fn udp_ask(client: &UdpSocket, server: SocketAddr, msg: &[u8]) -> io::Result<Vec<u8>> {
    client.send_to(msg, server)?;
    let mut buf = [0; 64];
    let (n, from) = client.recv_from(&mut buf)?;
    if from != server {
        return Err(io::Error::other(format!("reply from {from}, not {server}")));
    }
    Ok(buf[..n].to_vec())
}

#[test]
fn udp_listeners_join_tcp_and_unix_under_one_handle() -> TestResult {
    let dir = temp_dir()?;
    let path = dir.path().join("mixed.sock");
    // A UDP listener given first: it is listed after the stream ones, so
    // that `Conn::listener` indexes `local_addrs`.
    let mut builder = TcpServer::builder()
        .workers(1)
        .listener(Listener::udp((Ipv4Addr::LOCALHOST, 0)).guard(GuardPolicy::off()))
        .listener(Listener::tcp((Ipv4Addr::LOCALHOST, 0)).handler(|| Tagged("tcp")));
    #[cfg(unix)]
    {
        builder = builder.listener(Listener::unix(&path).handler(|| Tagged("unix")));
    }
    let server = builder
        .listener(
            UdpServer::builder()
                .host(Ipv4Addr::LOCALHOST)
                .workers(2)
                .handler(|| Word(b"second")),
        )
        .spawn()?;
    let addrs = server.local_addrs().to_vec();
    let streams = 1 + usize::from(cfg!(unix));
    assert_eq!(addrs.len(), streams + 2, "{addrs:?}");
    assert!(addrs[..streams].iter().all(|a| !a.is_udp()), "{addrs:?}");
    let echo_udp = addrs[streams].as_udp().ok_or("no first UDP listener")?;
    let word_udp = addrs[streams + 1]
        .as_udp()
        .ok_or("no second UDP listener")?;
    assert_eq!(addrs[streams].to_string(), format!("udp:{echo_udp}"));
    assert_eq!(server.listener_connections(), vec![0; addrs.len()]);

    let mut tcp = connect(server.local_addr())?;
    assert_eq!(read_line(&mut tcp)?, "tcp 0\n");
    assert_echo(&mut tcp, b"over TCP")?;
    #[cfg(unix)]
    {
        let mut unix = connect_unix(&path)?;
        assert_eq!(read_line(&mut unix)?, "unix 1\n");
    }
    let client = udp::client(Ipv4Addr::LOCALHOST.into())?;
    udp::assert_echo(&client, echo_udp, 1472)?;
    assert_eq!(udp_ask(&client, word_udp, b"anything")?, b"second");

    // One shutdown stops every listener; join waits for all of them.
    server.shutdown();
    drop(tcp);
    server.join()?;
    assert!(server.is_finished());
    let stats = server.udp_stats();
    assert_eq!((stats.received, stats.answered), (2, 2), "{stats:?}");
    assert_eq!(server.stats().accepted, 1 + u64::from(cfg!(unix)));
    assert!(TcpStream::connect(server.local_addr()).is_err());
    for udp in [echo_udp, word_udp] {
        // The sockets are closed: the ports can be bound again.
        UdpSocket::bind(udp)?;
    }
    Ok(())
}

/// Holds a sender that goes when the UDP worker that made it stops.
struct Watched(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

impl DatagramHandler for Watched {
    fn on_datagram(&mut self, _: &[u8], _: SocketAddr, reply: &mut Reply<'_>) {
        reply.echo();
    }
}

#[test]
fn a_server_of_udp_listeners_only_stops_when_its_last_handle_goes() -> TestResult {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = TcpServer::builder()
        .listener(
            Listener::udp((Ipv4Addr::LOCALHOST, 0)).datagram_handler(move || Watched(tx.clone())),
        )
        .spawn()?;
    let [Addr::Udp(addr)] = server.local_addrs() else {
        return Err(format!("expected one UDP listener, got {:?}", server.local_addrs()).into());
    };
    udp::assert_echo(&udp::client(Ipv4Addr::LOCALHOST.into())?, *addr, 64)?;
    drop(server);
    // The UDP worker, its handler and the factory are gone: no sender left.
    assert_eq!(
        rx.recv_timeout(TIMEOUT),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    );
    Ok(())
}

#[test]
fn a_udp_bind_failure_leaves_the_other_listeners_unbound() -> TestResult {
    let taken = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let taken_addr = taken.local_addr()?;
    let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let first_addr = first.local_addr()?;
    // A UDP listener that binds, to see it closed again.
    let free = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?;
    let err = TcpServer::builder()
        .listener(first)
        .listener(Listener::udp(free))
        .listener(Listener::udp(taken_addr))
        .bind()
        .err()
        .ok_or("binding a taken UDP address worked")?;
    match &err {
        Error::Bind { addr, .. } => assert_eq!(*addr, Addr::Udp(taken_addr)),
        other => return Err(format!("expected Error::Bind, got {other:?}").into()),
    }
    assert_eq!(err.to_string(), format!("failed to bind udp:{taken_addr}"));
    assert!(
        TcpStream::connect(first_addr).is_err(),
        "the TCP listener is still open"
    );
    UdpSocket::bind(free).map_err(|e| format!("the first UDP listener is still bound: {e}"))?;
    drop(taken);
    Ok(())
}

#[test]
fn stream_and_udp_settings_do_not_mix() {
    let v4 = (Ipv4Addr::LOCALHOST, 0);
    for (listener, word) in [
        (Listener::tcp(v4).guard(GuardPolicy::off()), "guard"),
        (
            Listener::tcp(v4).datagram_handler(|| Word(b"x")),
            "datagram_handler",
        ),
        (Listener::udp(v4).handler(|| Tagged("x")), "handler"),
        (
            Listener::udp(v4).proxy_protocol(ProxyProtocol::required()),
            "proxy_protocol",
        ),
    ] {
        let err = TcpServer::builder()
            .listener(listener)
            .bind()
            .expect_err("a misapplied setting");
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
        assert!(err.to_string().contains(word), "{err}");
    }
}
