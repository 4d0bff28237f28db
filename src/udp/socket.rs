//! The UDP transport: socket creation (socket2) and batched receive and send
//! (quinn-udp: `recvmmsg`, GRO and GSO where the kernel has them; nix:
//! `sendmmsg` on Linux, which quinn-udp 0.6 lacks). Nothing here decides
//! anything about a datagram.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr, UdpSocket};

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::Addr;
use crate::error::{Error, Result};
use crate::transport::SharedOptions;
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
    let named = Addr::Udp(addr);
    let bind_err = |source: io::Error| Error::Bind {
        addr: named.clone(),
        source,
    };
    let option_err = |option: &'static str| {
        let addr = Addr::Udp(addr);
        move |source: io::Error| Error::SocketOption {
            option,
            addr,
            source,
        }
    };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(bind_err)?;
    if config.reuse_address {
        socket
            .set_reuse_address(true)
            .map_err(option_err("reuse_address"))?;
    }
    SharedOptions {
        only_v6: config.only_v6,
        reuse_port: config.reuse_port,
        recv_buffer_size: config.recv_buffer_size,
        send_buffer_size: config.send_buffer_size,
    }
    .apply(&socket, &named)?;
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

/// Datagrams one [`SendBatch`] sends with one system call at most.
pub(crate) const SEND_BATCH: usize = quinn_udp::BATCH_SIZE;

/// Sends several plain datagrams (no GSO, no source address to set) with
/// one `sendmmsg` on Linux and Android; elsewhere one `sendmsg` each. Its
/// buffers are made once, on the worker's thread (they hold raw pointers,
/// so the value is not `Send`).
pub(crate) struct SendBatch {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
}

impl SendBatch {
    pub(crate) fn new() -> Self {
        SendBatch {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            headers: nix::sys::socket::MultiHeaders::preallocate(SEND_BATCH, None),
        }
    }
}

impl Transport {
    /// Sends `datagrams` (at most [`SEND_BATCH`]), each `(bytes,
    /// destination)`, in order, with one `sendmmsg`; returns how many the
    /// kernel took (at least one), `WouldBlock` when the send buffer is full,
    /// or the error of the first one (the others are not tried).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn send_batch(
        &self,
        batch: &mut SendBatch,
        datagrams: &[(&[u8], SocketAddr)],
    ) -> io::Result<usize> {
        use nix::sys::socket::{MsgFlags, SockaddrStorage, sendmmsg};
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;

        let n = datagrams.len().min(SEND_BATCH);
        let mut iovs: [[IoSlice<'_>; 1]; SEND_BATCH] = [[IoSlice::new(&[])]; SEND_BATCH];
        let mut addrs: [Option<SockaddrStorage>; SEND_BATCH] = [None; SEND_BATCH];
        for (i, (bytes, dest)) in datagrams[..n].iter().enumerate() {
            iovs[i] = [IoSlice::new(bytes)];
            addrs[i] = Some(SockaddrStorage::from(*dest));
        }
        let no_cmsgs: [nix::sys::socket::ControlMessage<'_>; 0] = [];
        let sent = sendmmsg(
            self.socket.as_raw_fd(),
            &mut batch.headers,
            iovs[..n].iter(),
            &addrs[..n],
            no_cmsgs,
            MsgFlags::empty(),
        )
        .map_err(io::Error::from)?;
        Ok(sent.count())
    }

    /// One `sendmsg` per datagram where there is no `sendmmsg`.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn send_batch(
        &self,
        _batch: &mut SendBatch,
        datagrams: &[(&[u8], SocketAddr)],
    ) -> io::Result<usize> {
        let (bytes, dest) = datagrams
            .first()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        self.send(bytes, None, *dest, None).map(|()| 1)
    }
}
