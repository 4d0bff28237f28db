//! The UDP transport: socket creation (socket2) and batched receive and send
//! (quinn-udp: `recvmmsg`, GRO and GSO where the kernel has them). Nothing
//! here decides anything about a datagram.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr, UdpSocket};

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::Addr;
use crate::error::{Error, Result};
use crate::udp::builder::UdpConfig;

/// Bytes per receive slot: more than the largest UDP payload (65,527 bytes
/// over IPv6) and than the largest GRO batch the kernel hands over (64 KiB
/// in all), so a datagram is never cut short. A slot that comes back full
/// is treated as possibly truncated and dropped. The slots are allocated
/// zeroed, so the kernel maps their pages only as datagrams touch them: a
/// worker serving small datagrams keeps about one page per slot resident.
pub(crate) const SLOT: usize = 64 * 1024 + 1;

/// Creates a socket bound to `addr` with the options of `config`,
/// non-blocking.
pub(crate) fn bind(config: &UdpConfig, addr: SocketAddr) -> Result<UdpSocket> {
    // `Addr` has no UDP variant yet: the error names the bare address.
    let named = Addr::Tcp(addr);
    let bind_err = |source: io::Error| Error::Bind {
        addr: named.clone(),
        source,
    };
    let option_err = |option: &'static str| {
        let addr = Addr::Tcp(addr);
        move |source: io::Error| Error::SocketOption {
            option,
            addr,
            source,
        }
    };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(bind_err)?;
    if addr.is_ipv6() {
        if let Some(only) = config.only_v6 {
            socket.set_only_v6(only).map_err(option_err("only_v6"))?;
        }
    }
    if config.reuse_address {
        socket
            .set_reuse_address(true)
            .map_err(option_err("reuse_address"))?;
    }
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    if config.reuse_port {
        socket
            .set_reuse_port(true)
            .map_err(option_err("reuse_port"))?;
    }
    if let Some(size) = config.recv_buffer_size {
        socket
            .set_recv_buffer_size(size)
            .map_err(option_err("recv_buffer_size"))?;
    }
    if let Some(size) = config.send_buffer_size {
        socket
            .set_send_buffer_size(size)
            .map_err(option_err("send_buffer_size"))?;
    }
    socket.bind(&addr.into()).map_err(bind_err)?;
    socket.set_nonblocking(true).map_err(bind_err)?;
    Ok(socket.into())
}

/// Undoes quinn-udp's "never fragment" (right for QUIC, which sizes its own
/// packets, wrong for an echo, which must send back a datagram of whatever
/// size came in): with it, a reply larger than the path MTU (an 8 KiB
/// datagram over Ethernet, 65,507 bytes over IPv6 loopback) fails with
/// `EMSGSIZE`. `IP_PMTUDISC_DONT` (and its IPv6 twin) send such replies
/// fragmented, as any UDP socket does by default, and `IPV6_DONTFRAG` off
/// lets IPv6 fragment them at all.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn allow_fragmentation(socket: &UdpSocket) -> io::Result<()> {
    use rustix::net::sockopt;
    // On an IPv6 socket, this one covers IPv4-mapped peers.
    sockopt::set_ip_mtu_discover(socket, sockopt::Ipv4PathMtuDiscovery::DONT)?;
    if socket.local_addr()?.is_ipv6() {
        sockopt::set_ipv6_mtu_discover(socket, sockopt::Ipv6PathMtuDiscovery::DONT)?;
        nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::Ipv6DontFrag, &false)
            .map_err(io::Error::from)?;
    }
    Ok(())
}

/// Elsewhere quinn-udp sets `IP_DONTFRAG` on some systems (FreeBSD, macOS):
/// replies larger than the path MTU fail there (untested platforms).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn allow_fragmentation(_socket: &UdpSocket) -> io::Result<()> {
    Ok(())
}

/// One worker's socket with its batching state and receive slots.
pub(crate) struct Transport {
    socket: mio::net::UdpSocket,
    state: UdpSocketState,
    /// `batch` slots of [`SLOT`] bytes.
    slots: Box<[u8]>,
    pub(crate) meta: Vec<RecvMeta>,
    /// Whether replies name their source address (the address each
    /// datagram came to), for a socket bound to a wildcard address.
    pub(crate) reply_from_dst: bool,
}

impl Transport {
    /// Wraps a bound socket; sets the options quinn-udp needs (`IP_PKTINFO`,
    /// `UDP_GRO`, ...).
    pub(crate) fn new(socket: UdpSocket) -> io::Result<Self> {
        let state = UdpSocketState::new(UdpSockRef::from(&socket))?;
        allow_fragmentation(&socket)?;
        let reply_from_dst = socket.local_addr()?.ip().is_unspecified();
        let batch = quinn_udp::BATCH_SIZE.max(1);
        Ok(Transport {
            socket: mio::net::UdpSocket::from_std(socket),
            state,
            slots: vec![0; batch * SLOT].into_boxed_slice(),
            meta: vec![RecvMeta::default(); batch],
            reply_from_dst,
        })
    }

    /// The socket, to register with a poll.
    pub(crate) fn socket_mut(&mut self) -> &mut mio::net::UdpSocket {
        &mut self.socket
    }

    /// Receives a batch of datagrams (one `recvmmsg` on Linux) into the
    /// slots; returns how many slots were filled, their metadata in
    /// `self.meta`.
    pub(crate) fn recv(&mut self) -> io::Result<usize> {
        let mut slices = self.slots.chunks_mut(SLOT).map(IoSliceMut::new);
        // A fixed-size array of slices: no allocation per call.
        let mut iov: [IoSliceMut<'_>; quinn_udp::BATCH_SIZE] =
            std::array::from_fn(|_| slices.next().unwrap_or_else(|| IoSliceMut::new(&mut [])));
        self.state
            .recv(UdpSockRef::from(&self.socket), &mut iov, &mut self.meta)
    }

    /// The bytes of slot `slot`.
    pub(crate) fn slot(&self, slot: usize) -> &[u8] {
        &self.slots[slot * SLOT..(slot + 1) * SLOT]
    }

    /// Sends one datagram, or several of `segment` bytes each (the last may
    /// be shorter) with GSO; `WouldBlock` when the socket buffer is full.
    pub(crate) fn send(
        &self,
        contents: &[u8],
        segment: Option<usize>,
        destination: SocketAddr,
        src_ip: Option<IpAddr>,
    ) -> io::Result<()> {
        let transmit = Transmit {
            destination,
            ecn: None,
            contents,
            segment_size: segment,
            src_ip,
        };
        self.state
            .try_send(UdpSockRef::from(&self.socket), &transmit)
    }

    /// How many datagrams one GSO send may carry now (1 without GSO).
    pub(crate) fn max_segments(&self) -> usize {
        self.state.max_gso_segments()
    }
}
