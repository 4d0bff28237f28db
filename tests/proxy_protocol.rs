//! The PROXY protocol, byte by byte: v1 and v2 headers on real sockets and
//! in the test kit, headers in pieces, bytes after the header, LOCAL and
//! UNKNOWN, TLVs, untrusted peers, malformed and oversized headers, EOF
//! inside a header, and the header timeout.

mod util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use netecho::testing::Harness;
use netecho::{CloseReason, Echo, Listener, ProxyProtocol, TcpServer};
use util::{TestResult, Who, connect, expect_closed, read_line};

fn server(proxy: ProxyProtocol) -> netecho::Result<netecho::ServerHandle> {
    TcpServer::builder()
        .listener(
            Listener::tcp(([127, 0, 0, 1], 0))
                .proxy_protocol(proxy)
                .handler(|| Who),
        )
        .workers(1)
        .spawn()
}

const V2_SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut h = V2_SIG.to_vec();
    h.push(0x20 | command);
    h.push(family);
    h.extend_from_slice(&((addresses.len() + tlvs.len()) as u16).to_be_bytes());
    h.extend_from_slice(addresses);
    h.extend_from_slice(tlvs);
    h
}

fn v4_addresses() -> Vec<u8> {
    let mut a = vec![192, 0, 2, 1, 192, 0, 2, 2];
    a.extend_from_slice(&5555u16.to_be_bytes());
    a.extend_from_slice(&7u16.to_be_bytes());
    a
}

fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut t = vec![kind];
    t.extend_from_slice(&(value.len() as u16).to_be_bytes());
    t.extend_from_slice(value);
    t
}

#[test]
fn v1_header_gives_the_client_address_and_data_after_it_is_echoed() -> TestResult {
    let server = server(ProxyProtocol::required())?;
    let mut c = connect(server.local_addr())?;
    let local = c.local_addr()?;
    c.write_all(b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 7\r\nhello")?;
    assert_eq!(
        read_line(&mut c)?,
        format!("peer=192.0.2.1:5555 by={local} v=1 alpn=- authority=- id=-\n")
    );
    let mut back = [0u8; 5];
    c.read_exact(&mut back)?;
    assert_eq!(&back, b"hello");
    assert_eq!(server.stats().proxy_headers, 1);
    Ok(())
}

#[test]
fn v1_tcp6_client_address() -> TestResult {
    let server = server(ProxyProtocol::required())?;
    let mut c = connect(server.local_addr())?;
    c.write_all(b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n")?;
    assert!(read_line(&mut c)?.starts_with("peer=[2001:db8::1]:40000 by=127.0.0.1:"));
    Ok(())
}

#[test]
fn v2_header_with_tlvs_and_a_large_body_after_it_in_one_write() -> TestResult {
    let server = server(ProxyProtocol::required())?;
    let mut c = connect(server.local_addr())?;
    let tlvs = [
        tlv(0x01, b"h2"),
        tlv(0x02, b"example.com"),
        tlv(0x05, b"id-42"),
    ]
    .concat();
    let mut bytes = v2(1, 0x11, &v4_addresses(), &tlvs);
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    bytes.extend_from_slice(&body);
    let writer = {
        let mut w = c.try_clone()?;
        std::thread::spawn(move || w.write_all(&bytes))
    };
    let line = read_line(&mut c)?;
    assert!(
        line.starts_with("peer=192.0.2.1:5555 by=127.0.0.1:")
            && line.ends_with(" v=2 alpn=h2 authority=example.com id=id-42\n"),
        "{line}"
    );
    let mut back = vec![0u8; body.len()];
    c.read_exact(&mut back)?;
    util::check_same(&body, &back)?;
    util::join(writer)??;
    Ok(())
}

#[test]
fn v2_local_and_v1_unknown_keep_the_real_peer() -> TestResult {
    let server = server(ProxyProtocol::required())?;
    for header in [v2(0, 0x00, &[], &[]), b"PROXY UNKNOWN\r\n".to_vec()] {
        let mut c = connect(server.local_addr())?;
        let local = c.local_addr()?;
        c.write_all(&header)?;
        let line = read_line(&mut c)?;
        assert!(line.starts_with(&format!("peer={local} by=- v=")), "{line}");
    }
    assert_eq!(server.stats().proxy_headers, 2);
    Ok(())
}

#[test]
fn header_in_pieces_with_data_after_it() -> TestResult {
    let server = server(ProxyProtocol::required())?;
    let mut c = connect(server.local_addr())?;
    c.set_nodelay(true)?;
    let header = v2(1, 0x11, &v4_addresses(), &tlv(0x05, b"abc"));
    for piece in header.chunks(5) {
        c.write_all(piece)?;
    }
    c.write_all(b"after")?;
    let line = read_line(&mut c)?;
    assert!(line.starts_with("peer=192.0.2.1:5555 "), "{line}");
    let mut back = [0u8; 5];
    c.read_exact(&mut back)?;
    assert_eq!(&back, b"after");
    Ok(())
}

/// A server whose handler must never open: every case here is rejected.
fn rejecting(proxy: ProxyProtocol) -> netecho::Result<(netecho::ServerHandle, util::Events)> {
    let (factory, events) = util::notify(|| Echo);
    let server = TcpServer::builder()
        .listener(
            Listener::tcp(([127, 0, 0, 1], 0))
                .proxy_protocol(proxy)
                .handler(factory),
        )
        .workers(1)
        .spawn()?;
    Ok((server, events))
}

#[test]
fn malformed_headers_close_that_connection_only() -> TestResult {
    let (server, events) = rejecting(ProxyProtocol::required())?;
    let cases: [&[u8]; 5] = [
        b"hello world\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
        b"\r\n\r\n\0\r\nQUIT\n\x30\x11\0\0",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ];
    for bytes in cases {
        let mut c = connect(server.local_addr())?;
        c.write_all(bytes)?;
        expect_closed(&mut c)?;
    }
    assert_eq!(server.stats().proxy_malformed, cases.len() as u64);
    assert!(
        events.try_next().is_none(),
        "the handler saw a rejected connection"
    );
    // The server serves on.
    let mut c = connect(server.local_addr())?;
    c.write_all(b"PROXY UNKNOWN\r\nping")?;
    let mut back = [0u8; 4];
    c.read_exact(&mut back)?;
    assert_eq!(&back, b"ping");
    Ok(())
}

#[test]
fn oversized_v2_header_is_rejected_from_its_length_field() -> TestResult {
    let (server, _events) = rejecting(ProxyProtocol::required().max_header_size(64))?;
    let mut c = connect(server.local_addr())?;
    let header = v2(1, 0x11, &v4_addresses(), &tlv(0x05, &[b'x'; 100]));
    // Only the fixed part: its length field says too much already.
    c.write_all(&header[..16])?;
    expect_closed(&mut c)?;
    assert_eq!(server.stats().proxy_malformed, 1);
    Ok(())
}

#[test]
fn eof_inside_a_header_is_malformed() -> TestResult {
    let (server, _events) = rejecting(ProxyProtocol::required())?;
    let mut c = connect(server.local_addr())?;
    c.write_all(b"PROXY TCP4 192.0.2.1 ")?;
    c.shutdown(std::net::Shutdown::Write)?;
    expect_closed(&mut c)?;
    assert_eq!(server.stats().proxy_malformed, 1);
    Ok(())
}

#[test]
fn untrusted_peer_is_closed_and_counted() -> TestResult {
    let proxy = ProxyProtocol::required().trust("10.0.0.0/8".parse()?);
    let (server, events) = rejecting(proxy)?;
    let mut c = connect(server.local_addr())?;
    c.write_all(b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 7\r\n")?;
    expect_closed(&mut c)?;
    let stats = server.stats();
    assert_eq!((stats.proxy_untrusted, stats.proxy_headers), (1, 0));
    assert!(events.try_next().is_none());
    Ok(())
}

#[test]
fn trusted_loopback_peer_is_served() -> TestResult {
    let proxy = ProxyProtocol::required()
        .trust("10.0.0.0/8".parse()?)
        .trust("127.0.0.1".parse()?);
    let server = server(proxy)?;
    let mut c = connect(server.local_addr())?;
    c.write_all(b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 7\r\n")?;
    assert!(read_line(&mut c)?.starts_with("peer=192.0.2.1:5555 "));
    Ok(())
}

#[test]
fn no_header_in_time_closes() -> TestResult {
    let proxy = ProxyProtocol::required().header_timeout(Duration::from_millis(100));
    let (server, events) = rejecting(proxy)?;
    let mut c = connect(server.local_addr())?;
    c.write_all(b"PROXY TCP4 192.0")?;
    expect_closed(&mut c)?;
    assert_eq!(server.stats().proxy_timeouts, 1);
    assert!(events.try_next().is_none());
    Ok(())
}

#[test]
fn unix_listener_with_the_header() -> TestResult {
    let dir = util::temp_dir()?;
    let path = dir.path().join("pp.sock");
    let server = TcpServer::builder()
        .listener(
            Listener::unix(&path)
                .proxy_protocol(ProxyProtocol::required().trust("10.0.0.0/8".parse()?))
                .handler(|| Who),
        )
        .spawn()?;
    let mut c = util::connect_unix(&path)?;
    c.write_all(b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 7\r\n")?;
    let mut line = [0u8; 64];
    let n = c.read(&mut line)?;
    let line = String::from_utf8_lossy(&line[..n]);
    assert!(line.starts_with("peer=192.0.2.1:5555 by=unix:"), "{line}");
    drop(server);
    Ok(())
}

#[test]
fn a_listener_without_the_protocol_passes_a_header_as_data() -> TestResult {
    let server = util::start()?;
    let mut c = connect(server.local_addr())?;
    util::assert_echo(&mut c, b"PROXY UNKNOWN\r\n")?;
    Ok(())
}

// The same, in the test kit: every split point, virtual time.

fn kit(proxy: ProxyProtocol) -> Harness {
    Harness::builder()
        .peer_addr(SocketAddr::from(([10, 0, 0, 9], 4000)))
        .proxy_protocol(proxy)
        .open(Who)
}

#[test]
fn kit_every_split_point_of_both_versions() {
    let v1 = b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 7\r\n".to_vec();
    let v2 = v2(1, 0x11, &v4_addresses(), &tlv(0x01, b"h2"));
    for header in [v1, v2] {
        for cut in 1..header.len() {
            let mut peer = kit(ProxyProtocol::required());
            peer.send(&header[..cut]);
            assert!(peer.read().is_empty(), "opened early at {cut}");
            peer.send(&header[cut..]).send(b"tail");
            let out = String::from_utf8(peer.read()).unwrap_or_default();
            assert!(
                out.starts_with("peer=192.0.2.1:5555 by=10.0.0.9:4000 ") && out.ends_with("\ntail"),
                "cut at {cut}: {out:?}"
            );
        }
    }
}

#[test]
fn kit_header_timeout_never_opens() {
    let mut peer = kit(ProxyProtocol::required().header_timeout(Duration::from_secs(2)));
    peer.send(b"PROXY ");
    peer.advance(Duration::from_millis(1999));
    assert_eq!(peer.close_reason(), None);
    peer.advance(Duration::from_millis(1));
    assert_eq!(peer.close_reason(), Some(CloseReason::ProxyTimeout));
    assert!(peer.read().is_empty());
}

#[test]
fn kit_untrusted_and_malformed() {
    let mut peer = kit(ProxyProtocol::required().trust("192.168.0.0/16".parse().unwrap()));
    peer.send(b"PROXY UNKNOWN\r\n");
    assert_eq!(peer.close_reason(), Some(CloseReason::ProxyRejected));
    let mut peer = kit(ProxyProtocol::required());
    peer.send(b"GET / HTTP/1.0\r\n");
    assert_eq!(peer.close_reason(), Some(CloseReason::ProxyRejected));
    assert!(peer.read().is_empty());
}
