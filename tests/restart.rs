//! Restarting on the same port, and sharing a port with `reuse_port`.

mod util;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};

use socket2::{Domain, Protocol, Socket, Type};

use netecho::{Error, TcpServer};
use util::{TestResult, assert_echo, builder, connect};

/// Runs a server on `addr`, lets it close a client's connection first (so
/// the server's side sits in TIME_WAIT), and stops it.
fn serve_and_close_first(addr: SocketAddr) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    let server = TcpServer::builder().addr(addr).spawn()?;
    let addr = server.local_addr();
    let mut client = connect(addr)?;
    assert_echo(&mut client, b"before restart")?;
    server.shutdown();
    // The server closes first: the client reads EOF, then closes its side.
    assert_eq!(client.read(&mut [0; 8])?, 0);
    drop(client);
    server.join()?;
    Ok(addr)
}

#[test]
fn restart_at_once_on_the_same_port_with_reuse_address() -> TestResult {
    let addr = serve_and_close_first("127.0.0.1:0".parse()?)?;
    let again = builder().addr(addr).reuse_address(true).spawn()?;
    assert_eq!(again.local_addr(), addr);
    let mut client = connect(addr)?;
    assert_echo(&mut client, b"after restart")?;
    Ok(())
}

/// A port whose listener is gone but whose accepted connection lives on, as
/// after a crash or while old connections linger (in `TIME_WAIT` or not
/// yet closed): the state `SO_REUSEADDR` exists for. Made by hand so the test
/// does not depend on how long the kernel keeps `TIME_WAIT`.
fn port_with_a_lingering_connection()
-> Result<(SocketAddr, TcpStream, TcpStream), Box<dyn std::error::Error>> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
    socket.listen(1)?;
    let listener: TcpListener = socket.into();
    let addr = listener.local_addr()?;
    let client = TcpStream::connect(addr)?;
    let (accepted, _) = listener.accept()?;
    drop(listener);
    Ok((addr, client, accepted))
}

#[test]
fn rebind_without_reuse_address_is_the_documented_bind_error() -> TestResult {
    let (addr, _client, _accepted) = port_with_a_lingering_connection()?;
    match builder().addr(addr).reuse_address(false).bind() {
        Err(err @ Error::Bind { .. }) => {
            assert_eq!(err.to_string(), format!("failed to bind {addr}"));
            let Error::Bind {
                addr: failed,
                source,
            } = err
            else {
                unreachable!()
            };
            assert_eq!(failed, addr);
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("expected the bind error, got {other:?}"),
    }
    Ok(())
}

#[test]
fn rebind_with_reuse_address_while_old_connections_linger() -> TestResult {
    let (addr, _client, _accepted) = port_with_a_lingering_connection()?;
    let server = builder().addr(addr).reuse_address(true).spawn()?;
    let mut client = connect(addr)?;
    assert_echo(&mut client, b"served again")?;
    drop(server);
    Ok(())
}

#[test]
fn two_servers_with_reuse_port_both_receive_connections() -> TestResult {
    let first = builder().reuse_port(true).workers(1).spawn()?;
    let addr = first.local_addr();
    let second = builder().addr(addr).reuse_port(true).workers(1).spawn()?;
    // The kernel spreads connections by a hash of their addresses: with 200
    // tries, one server getting them all has odds of 2^-199.
    for i in 0..200u32 {
        let mut client = connect(addr)?;
        assert_echo(&mut client, &i.to_le_bytes())?;
        if first.stats().accepted > 0 && second.stats().accepted > 0 {
            break;
        }
    }
    assert!(first.stats().accepted > 0, "first server got none");
    assert!(second.stats().accepted > 0, "second server got none");
    Ok(())
}
