//! UDP helpers: clients on loopback with bounded timeouts, a datagram echo
//! check, and a forged datagram (raw socket, root only) for sources a normal
//! socket cannot have.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use netecho::{GuardPolicy, UdpServer, UdpServerBuilder};
use socket2::{Domain, Protocol, Socket, Type};

use super::{TIMEOUT, check_same, fill_pattern};

/// A UDP server builder on `ip`, any free port, with the standard guard.
pub fn builder(ip: IpAddr) -> UdpServerBuilder {
    UdpServer::builder().host(ip).port(0)
}

/// A lab server (guard off) on 127.0.0.1.
pub fn lab() -> UdpServerBuilder {
    builder(Ipv4Addr::LOCALHOST.into()).guard(GuardPolicy::off())
}

/// A client socket on `ip`, any port, with a read timeout of [`TIMEOUT`]
/// and a receive buffer large enough for a few of the largest datagrams.
pub fn client(ip: IpAddr) -> io::Result<UdpSocket> {
    client_at(SocketAddr::new(ip, 0))
}

/// A client socket bound to `addr` (a port below 1024 needs root).
pub fn client_at(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_recv_buffer_size(1 << 20)?;
    socket.bind(&addr.into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(TIMEOUT))?;
    Ok(socket)
}

/// Sends `len` pattern bytes to `server` and requires the same datagram
/// back, whole, from `server`.
pub fn assert_echo(client: &UdpSocket, server: SocketAddr, len: usize) -> io::Result<()> {
    let mut msg = vec![0; len];
    fill_pattern(len as u64, &mut msg);
    client.send_to(&msg, server)?;
    let mut buf = vec![0; 70_000];
    let (n, from) = client.recv_from(&mut buf)?;
    if from != server {
        return Err(io::Error::other(format!("reply from {from}, not {server}")));
    }
    check_same(&msg, &buf[..n])
}

/// Whether a datagram waits on `socket` (without blocking).
pub fn has_datagram(socket: &UdpSocket) -> io::Result<bool> {
    socket.set_nonblocking(true)?;
    let mut buf = [0; 16];
    let got = match socket.recv_from(&mut buf) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    };
    socket.set_nonblocking(false)?;
    got
}

/// Sends a UDP datagram with a forged IPv4 source through a raw socket
/// (needs `CAP_NET_RAW`): the IP checksum and id are filled in by the
/// kernel, the UDP checksum is 0 (none, valid over IPv4).
pub fn send_forged_v4(from: SocketAddr, to: SocketAddr, payload: &[u8]) -> io::Result<()> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (from.ip(), to.ip()) else {
        return Err(io::Error::other("IPv4 addresses only"));
    };
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut packet = Vec::with_capacity(total);
    packet.extend_from_slice(&[0x45, 0]);
    packet.extend_from_slice(&(total as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0]);
    packet.extend_from_slice(&src.octets());
    packet.extend_from_slice(&dst.octets());
    packet.extend_from_slice(&from.port().to_be_bytes());
    packet.extend_from_slice(&to.port().to_be_bytes());
    packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(payload);
    // IPPROTO_RAW implies IP_HDRINCL: we write the IP header.
    let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255)))?;
    let sent = raw.send_to(&packet, &SocketAddr::new(dst.into(), 0).into())?;
    if sent != packet.len() {
        return Err(io::Error::other("short raw send"));
    }
    Ok(())
}

/// Whether IPv6 loopback works here.
pub fn has_ipv6() -> bool {
    UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// Whether this process may bind ports below 1024 and open raw sockets.
pub fn is_root() -> bool {
    Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255))).is_ok()
}
