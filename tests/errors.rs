//! Errors at bind: a taken port, a configuration that cannot work.

mod util;

use std::error::Error as _;
use std::io;
use std::net::TcpListener;
use std::time::Duration;

use netecho::{Error, TcpServerBuilder};
use util::{TestResult, builder, start};

fn assert_addr_in_use(
    result: netecho::Result<impl std::fmt::Debug>,
    addr: std::net::SocketAddr,
) -> TestResult {
    let err = match result {
        Ok(server) => return Err(format!("bound {addr} twice: {server:?}").into()),
        Err(err) => err,
    };
    match &err {
        Error::Bind {
            addr: failed,
            source,
        } => {
            assert_eq!(*failed, addr);
            assert_eq!(source.kind(), io::ErrorKind::AddrInUse, "{source}");
        }
        other => return Err(format!("expected Error::Bind, got {other:?}").into()),
    }
    assert_eq!(err.to_string(), format!("failed to bind {addr}"));
    let source = err
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .ok_or("no io::Error source")?;
    assert_eq!(source.kind(), io::ErrorKind::AddrInUse);
    Ok(())
}

#[test]
fn bind_on_a_taken_port_is_addr_in_use() -> TestResult {
    // Taken by a plain listener (no SO_REUSEADDR)...
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?;
    assert_addr_in_use(builder().addr(addr).bind(), addr)?;
    assert_addr_in_use(builder().addr(addr).spawn(), addr)?;

    // ...and by another server (SO_REUSEADDR on both does not share a
    // listening port).
    let server = start()?;
    let addr = server.local_addr();
    assert_addr_in_use(builder().addr(addr).spawn(), addr)?;
    let mut client = util::connect(addr)?;
    util::assert_echo(&mut client, b"the first server still serves")?;
    Ok(())
}

#[test]
fn invalid_configuration_is_an_error_not_a_panic() -> TestResult {
    type Case = (&'static str, fn() -> TcpServerBuilder);
    let cases: [Case; 7] = [
        ("workers", || builder().workers(0)),
        ("max_connections", || builder().max_connections(0)),
        ("write_buffer_limit", || builder().write_buffer_limit(0)),
        ("idle_timeout", || builder().idle_timeout(Duration::ZERO)),
        ("write_timeout", || builder().write_timeout(Duration::ZERO)),
        ("keepalive", || builder().keepalive(Duration::ZERO)),
        ("backlog", || builder().backlog(u32::MAX)),
    ];
    for (setting, make) in cases {
        for result in [make().bind().map(drop), make().spawn().map(drop)] {
            let err = match result {
                Ok(()) => return Err(format!("{setting}: invalid configuration accepted").into()),
                Err(err) => err,
            };
            let Error::InvalidConfig { reason } = &err else {
                return Err(format!("{setting}: expected InvalidConfig, got {err:?}").into());
            };
            assert!(reason.contains(setting), "{setting}: {reason:?}");
            assert_eq!(err.to_string(), format!("invalid configuration: {reason}"));
        }
    }
    Ok(())
}

/// The smallest valid values work.
#[test]
fn smallest_valid_configuration_serves() -> TestResult {
    let server = builder()
        .workers(1)
        .max_connections(1)
        .write_buffer_limit(1)
        .backlog(1)
        .spawn()?;
    let mut client = util::connect(server.local_addr())?;
    util::assert_echo(&mut client, &[7u8; 48 * 1024])?;
    Ok(())
}

/// A zero backlog is valid: the smallest queue the system allows, and the
/// server accepts and echoes as usual.
#[test]
fn zero_backlog_binds_and_serves() -> TestResult {
    let server = builder().workers(1).backlog(0).spawn()?;
    for _ in 0..3 {
        let mut client = util::connect(server.local_addr())?;
        util::assert_echo(&mut client, b"backlog zero")?;
    }
    Ok(())
}
