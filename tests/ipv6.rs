//! Serving on the IPv6 loopback, where the machine has one.

mod util;

use std::net::Ipv6Addr;

use netecho::{CloseReason, Echo, Error, ServerHandle, TcpServerBuilder};
use util::{TestResult, assert_echo, connect, expect_eof, no_ipv6, notify, skip};

/// Spawns on `[::1]`, or `None` (the test is skipped, visibly; a failure on
/// CI) when this machine has no IPv6 loopback.
fn spawn_v6(builder: TcpServerBuilder) -> Result<Option<ServerHandle>, Box<dyn std::error::Error>> {
    match builder.host(Ipv6Addr::LOCALHOST).port(0).spawn() {
        Ok(server) => Ok(Some(server)),
        Err(Error::Bind { source, .. }) if no_ipv6(&source) => {
            skip(&format!("no IPv6 loopback here ({source})"))?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[test]
fn echoes_over_ipv6_loopback() -> TestResult {
    let (factory, events) = notify(|| Echo);
    let Some(server) = spawn_v6(netecho::TcpServer::builder().handler(factory))? else {
        return Ok(());
    };
    let addr = server.local_addr();
    assert!(addr.is_ipv6(), "{addr}");
    assert_ne!(addr.port(), 0);

    let mut client = connect(addr)?;
    assert_echo(&mut client, b"hello over [::1]")?;
    assert_echo(&mut client, &(0..=255).collect::<Vec<u8>>())?;
    // The handler sees the IPv6 peer.
    let peer = events.expect_open()?;
    assert_eq!(peer, client.local_addr()?);
    assert_eq!(
        peer.as_tcp().map(|a| a.ip()),
        Some(std::net::IpAddr::V6(Ipv6Addr::LOCALHOST))
    );

    client.shutdown(std::net::Shutdown::Write)?;
    expect_eof(&mut client)?;
    assert_eq!(events.expect_close()?, (peer, CloseReason::PeerClosed));
    Ok(())
}

#[test]
fn ipv6_only_server_serves_ipv6() -> TestResult {
    let Some(server) = spawn_v6(netecho::TcpServer::builder().only_v6(true))? else {
        return Ok(());
    };
    let mut client = connect(server.local_addr())?;
    assert_echo(&mut client, b"v6 only")?;
    Ok(())
}
