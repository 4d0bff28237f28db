//! Handler panics at scale: each costs only its connection, and the counts
//! and the connection limit return to their baseline. The handlers' panics
//! carry the marker that the shared panic hook keeps out of the output.

mod util;

use std::io::Write;

use netecho::{Conn, Handler};
use util::{EXPECTED_PANIC, TestResult, assert_echo, builder, connect, quiet_expected_panics};

/// Panics on every byte it gets.
struct AlwaysPanics;

impl Handler for AlwaysPanics {
    fn on_data(&mut self, _: &mut Conn, _: &[u8]) {
        panic!("{EXPECTED_PANIC}: handler bug");
    }
}

#[test]
fn ten_thousand_handler_panics_cost_one_connection_each() -> TestResult {
    const PANICS: u64 = 10_000;
    quiet_expected_panics();
    let server = builder()
        .max_connections(100)
        .handler(|| AlwaysPanics)
        .spawn()?;
    let addr = server.local_addr();
    let result = (|| -> TestResult {
        for _ in 0..PANICS {
            let mut client = connect(addr)?;
            client.write_all(b"!")?;
            util::expect_closed(&mut client)?;
        }
        Ok(())
    })();
    result?;
    // The counts are final once the server is joined.
    server.shutdown();
    server.join()?;
    let stats = server.stats();
    assert_eq!(stats.handler_panics, PANICS);
    assert_eq!(
        (stats.accepted, stats.closed, stats.active),
        (PANICS, PANICS, 0)
    );
    Ok(())
}

#[test]
fn panics_keep_the_limit_honest_and_the_server_serving() -> TestResult {
    // The same with a limit of 10: were a panicked connection not released,
    // the eleventh client would never be served.
    struct PanicOnBang;
    impl Handler for PanicOnBang {
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            if data.contains(&b'!') {
                panic!("{EXPECTED_PANIC}: bang");
            }
            conn.write(data);
        }
    }
    quiet_expected_panics();
    let server = builder()
        .max_connections(10)
        .handler(|| PanicOnBang)
        .spawn()?;
    let result = (|| -> TestResult {
        for _ in 0..100 {
            let mut client = connect(server.local_addr())?;
            client.write_all(b"!")?;
            util::expect_closed(&mut client)?;
        }
        Ok(())
    })();
    result?;
    let mut client = connect(server.local_addr())?;
    assert_echo(&mut client, b"still serving")?;
    assert_eq!(server.stats().handler_panics, 100);
    Ok(())
}
