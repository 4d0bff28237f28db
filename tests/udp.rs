//! UDP echo over loopback: sizes, IPv6, the guard (answer-back ports, our
//! own port, rates), per-peer errors, handlers, shutdown and statistics.

mod util;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use netecho::{DatagramHandler, GuardPolicy, Rate, Reply, UdpServer, UdpServerHandle};
use util::udp::{assert_echo, builder, client, client_at, has_datagram, lab, send_forged_v4};
use util::{TIMEOUT, TestResult};

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
const SIZES: [usize; 6] = [0, 1, 512, 1472, 8192, 65_507];

/// Stops the server and returns its final counters: a worker adds a batch's
/// counts after sending its replies, so a client can see a reply before the
/// counters do; after `join` every count is in.
fn final_stats(server: &UdpServerHandle) -> Result<netecho::UdpStats, netecho::Error> {
    server.shutdown();
    server.join()?;
    Ok(server.stats())
}

#[test]
fn every_size_is_echoed_whole_over_ipv4() -> TestResult {
    let server = builder(V4).spawn()?;
    let client = client(V4)?;
    for len in SIZES {
        assert_echo(&client, server.local_addr(), len).map_err(|e| format!("{len} bytes: {e}"))?;
    }
    let stats = final_stats(&server)?;
    assert_eq!(stats.received, SIZES.len() as u64);
    assert_eq!(stats.answered, SIZES.len() as u64);
    let total: usize = SIZES.iter().sum();
    assert_eq!(stats.bytes_received, total as u64);
    assert_eq!(stats.bytes_sent, total as u64);
    assert_eq!(stats.dropped(), 0);
    Ok(())
}

#[test]
fn every_size_is_echoed_whole_over_ipv6() -> TestResult {
    if !util::udp::has_ipv6() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return Ok(());
    }
    let server = builder(V6).spawn()?;
    let client = client(V6)?;
    for len in SIZES.into_iter().chain([netecho::MAX_DATAGRAM_V6]) {
        assert_echo(&client, server.local_addr(), len).map_err(|e| format!("{len} bytes: {e}"))?;
    }
    assert_eq!(final_stats(&server)?.answered, 7);
    Ok(())
}

#[test]
fn each_datagram_is_answered_alone_in_order() -> TestResult {
    let server = lab().spawn()?;
    let client = client(V4)?;
    for i in 0..100u8 {
        client.send_to(&[i; 3], server.local_addr())?;
    }
    let mut buf = [0; 16];
    for i in 0..100u8 {
        let n = client.recv(&mut buf)?;
        assert_eq!(&buf[..n], &[i; 3]);
    }
    Ok(())
}

/// Datagrams sent with GSO arrive at the server as one GRO buffer on
/// loopback; each must still come back as a datagram of its own.
#[test]
fn gso_datagrams_come_back_one_by_one() -> TestResult {
    use quinn_udp::{Transmit, UdpSockRef, UdpSocketState};
    let server = lab().spawn()?;
    let client = client(V4)?;
    let state = UdpSocketState::new(UdpSockRef::from(&client))?;
    client.set_nonblocking(false)?; // blocking, with the read timeout
    if state.max_gso_segments() < 2 {
        eprintln!("skipped: no UDP GSO here");
        return Ok(());
    }
    let mut payload = vec![0; 10 * 1000 - 300];
    util::fill_pattern(0, &mut payload);
    state.try_send(
        UdpSockRef::from(&client),
        &Transmit {
            destination: server.local_addr(),
            ecn: None,
            contents: &payload,
            segment_size: Some(1000),
            src_ip: None,
        },
    )?;
    // The client's socket has GRO on too (quinn-udp turns it on), so the
    // replies may arrive coalesced: the stride tells each datagram's size.
    let mut got = Vec::new();
    let mut buf = vec![0; 70_000];
    let mut meta = [quinn_udp::RecvMeta::default(); 1];
    let deadline = Instant::now() + TIMEOUT;
    while got.len() < 10 && Instant::now() < deadline {
        let n = {
            let mut iov = [io::IoSliceMut::new(&mut buf)];
            state.recv(UdpSockRef::from(&client), &mut iov, &mut meta)?
        };
        assert_eq!(n, 1);
        let stride = if meta[0].stride == 0 {
            meta[0].len
        } else {
            meta[0].stride
        };
        got.extend(buf[..meta[0].len].chunks(stride).map(<[u8]>::to_vec));
    }
    let sent: Vec<&[u8]> = payload.chunks(1000).collect();
    assert_eq!(got.len(), sent.len());
    for (i, (a, b)) in sent.iter().zip(&got).enumerate() {
        util::check_same(a, b).map_err(|e| format!("datagram {i}: {e}"))?;
    }
    assert_eq!(final_stats(&server)?.answered, 10);
    Ok(())
}

/// Sends one datagram from `probe` (which must go unanswered), then one from
/// a normal client: once that one is answered, the server has seen both.
fn assert_unanswered(server: &UdpServerHandle, probe: &std::net::UdpSocket) -> io::Result<()> {
    probe.send_to(b"loop?", server.local_addr())?;
    assert_echo(&client(V4)?, server.local_addr(), 4)?;
    if has_datagram(probe)? {
        return Err(io::Error::other("the probe was answered"));
    }
    Ok(())
}

#[test]
fn chargen_port_19_is_not_answered() -> TestResult {
    let server = builder(V4).spawn()?;
    let probe = match client_at(SocketAddr::new(V4, 19)) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            eprintln!("skipped: binding port 19 needs root ({e})");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    assert_unanswered(&server, &probe)?;
    assert_eq!(final_stats(&server)?.dropped_blocked_port, 1);
    // A lab server answers it.
    let lab = lab().spawn()?;
    assert_echo(&probe, lab.local_addr(), 5)?;
    Ok(())
}

#[test]
fn our_own_port_from_another_address_is_not_answered() -> TestResult {
    let server = builder(V4).spawn()?;
    let port = server.local_addr().port();
    // 127.0.0.2 is loopback too; the server holds 127.0.0.1:port only.
    let probe = client_at(SocketAddr::new(Ipv4Addr::new(127, 0, 0, 2).into(), port))?;
    assert_unanswered(&server, &probe)?;
    assert_eq!(final_stats(&server)?.dropped_own_port, 1);
    Ok(())
}

#[test]
fn our_own_address_and_port_as_source_is_not_answered() -> TestResult {
    if !util::udp::is_root() {
        eprintln!("skipped: forging a source address needs a raw socket (root)");
        return Ok(());
    }
    let server = builder(V4).spawn()?;
    let own = server.local_addr();
    send_forged_v4(own, own, b"talk to yourself")?;
    // Port 0 and a blocked port, forged too.
    send_forged_v4(SocketAddr::new(V4, 0), own, b"port zero")?;
    send_forged_v4(SocketAddr::new(V4, 7), own, b"from echo")?;
    assert_echo(&client(V4)?, own, 4)?;
    let stats = final_stats(&server)?;
    assert_eq!(stats.dropped_own_port, 1, "{stats:?}");
    assert_eq!(stats.dropped_invalid_source, 1, "{stats:?}");
    assert_eq!(stats.dropped_blocked_port, 1, "{stats:?}");
    assert_eq!(stats.answered, 1, "{stats:?}");
    Ok(())
}

#[test]
fn a_flood_from_one_source_is_limited_while_another_is_answered() -> TestResult {
    const FLOOD: usize = 1000;
    let policy = GuardPolicy::default()
        .per_source_rate(Rate::new(10, 10))
        .global_rate(None)
        .limit_loopback(true);
    let server = builder(V4).guard(policy).spawn()?;
    let addr = server.local_addr();
    let flooder = client(V4)?;
    // Another address (127.0.0.2), so another bucket.
    let other = client(Ipv4Addr::new(127, 0, 0, 2).into())?;
    let started = Instant::now();
    // In rounds of 100, so the flood does not overflow the server's socket
    // buffer (the kernel would drop the other's datagram too).
    for round in 0..FLOOD / 100 {
        for _ in 0..100 {
            flooder.send_to(b"flood", addr)?;
        }
        let asked = Instant::now();
        assert_echo(&other, addr, 100).map_err(|e| format!("round {round}: {e}"))?;
        assert!(asked.elapsed() < TIMEOUT / 10, "{:?}", asked.elapsed());
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Every reply to the flooder was sent before the other's.
    flooder.set_nonblocking(true)?;
    let mut answered = 0;
    let mut buf = [0; 16];
    while flooder.recv(&mut buf).is_ok() {
        answered += 1;
    }
    let bound = 10 + (10.0 * elapsed).ceil() as u64 + 1;
    assert!(answered >= 10, "the burst is answered: {answered}");
    assert!(answered <= bound, "{answered} replies in {elapsed:.3}s");
    let stats = final_stats(&server)?;
    // The kernel may drop some of the flood when the socket's buffer is
    // full; every datagram the server did receive is accounted for.
    let others = (FLOOD / 100) as u64;
    assert_eq!(
        stats.received - others,
        answered + stats.dropped_source_rate,
        "{stats:?}"
    );
    assert!(stats.dropped_source_rate > 0);
    Ok(())
}

#[test]
fn the_standard_guard_does_not_limit_loopback() -> TestResult {
    let server = builder(V4)
        .guard(GuardPolicy::default().per_source_rate(Rate::new(1, 1)))
        .spawn()?;
    let client = client(V4)?;
    for _ in 0..20 {
        assert_echo(&client, server.local_addr(), 8)?;
    }
    assert_eq!(final_stats(&server)?.dropped_source_rate, 0);
    Ok(())
}

#[test]
fn a_peer_that_went_away_does_not_stop_the_server() -> TestResult {
    let server = lab().spawn()?;
    for _ in 0..10 {
        let gone = client(V4)?;
        for _ in 0..10 {
            gone.send_to(b"then I leave", server.local_addr())?;
        }
        drop(gone); // the replies meet a closed port: ICMP port unreachable
    }
    // A connected client sees the ICMP errors of its own replies, the
    // server sees those of others' on systems that report them.
    let next = client(V4)?;
    assert_echo(&next, server.local_addr(), 64)?;
    assert!(!server.is_finished());
    let stats = final_stats(&server)?;
    assert_eq!(stats.answered + stats.send_errors, 101, "{stats:?}");
    assert_eq!(stats.received, 101, "{stats:?}");
    Ok(())
}

/// Answers `"big"` with more than fits a datagram, `"quiet"` with nothing,
/// panics on `"panic"`, echoes the rest.
struct Picky;

impl DatagramHandler for Picky {
    fn on_datagram(&mut self, data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>) {
        match data {
            b"big" => reply.send(&vec![0; 70_000]),
            b"quiet" => {}
            b"panic" => panic!("asked to"),
            b"upper" => reply.send(b"UPPER"),
            _ => reply.echo(),
        }
    }
}

#[test]
fn too_large_replies_silence_and_panics_cost_one_datagram_each() -> TestResult {
    let server = lab().handler(|| Picky).spawn()?;
    let addr = server.local_addr();
    let client = client(V4)?;
    for msg in [&b"big"[..], b"quiet", b"panic"] {
        client.send_to(msg, addr)?;
    }
    client.send_to(b"upper", addr)?;
    let mut buf = [0; 16];
    let (n, _) = client.recv_from(&mut buf)?;
    assert_eq!(&buf[..n], b"UPPER");
    assert_echo(&client, addr, 10)?;
    let stats = final_stats(&server)?;
    assert_eq!(stats.send_errors, 1, "{stats:?}");
    assert_eq!(stats.unanswered, 1, "{stats:?}");
    assert_eq!(stats.handler_panics, 1, "{stats:?}");
    assert_eq!(stats.answered, 2, "{stats:?}");
    Ok(())
}

#[test]
fn several_workers_share_the_port() -> TestResult {
    let server = lab().workers(2).spawn()?;
    for _ in 0..8 {
        assert_echo(&client(V4)?, server.local_addr(), 32)?;
    }
    assert_eq!(final_stats(&server)?.answered, 8);
    Ok(())
}

#[test]
fn shutdown_closes_the_socket_and_join_returns() -> TestResult {
    let server = lab().bind()?;
    let addr = server.local_addr();
    let handle = server.handle();
    let serving = std::thread::spawn(move || server.run());
    let client = client(V4)?;
    client.connect(addr)?;
    client.send(b"before")?;
    let mut buf = [0; 16];
    assert_eq!(client.recv(&mut buf)?, 6);
    handle.shutdown();
    util::join(serving)??;
    handle.join()?;
    assert!(handle.is_finished());
    // The port is closed: a connected client hears ICMP port unreachable.
    client.send(b"after")?;
    let err = client
        .recv(&mut buf)
        .expect_err("nobody answers after shutdown");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    Ok(())
}

/// Holds a sender that the worker drops when it stops.
struct Watched(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

impl DatagramHandler for Watched {
    fn on_datagram(&mut self, _: &[u8], _: SocketAddr, reply: &mut Reply<'_>) {
        reply.echo();
    }
}

#[test]
fn dropping_the_last_handle_stops_the_server() -> TestResult {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = lab().handler(move || Watched(tx.clone())).spawn()?;
    assert_echo(&client(V4)?, server.local_addr(), 3)?;
    drop(server);
    // The worker, its handler and the factory are gone: nobody holds a sender.
    assert_eq!(
        rx.recv_timeout(TIMEOUT),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    );
    Ok(())
}

#[test]
fn invalid_configurations_fail_at_bind() {
    for builder in [
        UdpServer::builder().workers(0),
        UdpServer::builder().guard(GuardPolicy::off().global_rate(Rate::new(0, 1))),
    ] {
        let err = builder.bind().expect_err("invalid");
        assert!(matches!(err, netecho::Error::InvalidConfig { .. }), "{err}");
    }
}

#[test]
fn a_taken_port_fails_at_bind_with_the_address() -> TestResult {
    let taken = std::net::UdpSocket::bind((V4, 0))?;
    let addr = taken.local_addr()?;
    let err = UdpServer::builder().addr(addr).bind().expect_err("taken");
    assert_eq!(err.to_string(), format!("failed to bind {addr}"));
    Ok(())
}
