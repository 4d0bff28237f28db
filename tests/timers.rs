//! The handler's timer under the real server: it ticks at its period, counted
//! from when it fired ([`Conn::now`]), and a zero timer re-armed for ever
//! does not stop the worker from serving its other connections.

mod util;

use std::io::Read;
use std::time::{Duration, Instant};

use netecho::{Conn, Handler};
use util::{TestResult, assert_echo, builder, connect};

const PERIOD: Duration = Duration::from_millis(100);

/// Writes, on each of three ticks, the milliseconds since `on_open` by
/// [`Conn::now`], then closes.
#[derive(Default)]
struct Ticker {
    opened: Option<Instant>,
    ticks: u32,
}

impl Handler for Ticker {
    fn on_open(&mut self, conn: &mut Conn) {
        self.opened = Some(conn.now());
        conn.set_timer(PERIOD);
    }

    fn on_timer(&mut self, conn: &mut Conn) {
        let since = self.opened.map(|t| conn.now() - t).unwrap_or_default();
        conn.write(format!("{}\n", since.as_millis()).as_bytes());
        self.ticks += 1;
        if self.ticks < 3 {
            conn.set_timer(PERIOD);
        } else {
            conn.close();
        }
    }
}

#[test]
fn rearmed_timer_ticks_at_its_period_by_conn_now() -> TestResult {
    let server = builder().workers(1).handler(Ticker::default).spawn()?;
    let mut client = connect(server.local_addr())?;
    let mut text = String::new();
    client.read_to_string(&mut text)?;
    let ticks: Vec<u128> = text.lines().map(str::parse).collect::<Result<_, _>>()?;
    assert_eq!(ticks.len(), 3, "{text:?}");
    // Each tick comes a period (or a little more) after the one before.
    let mut last = 0;
    for tick in ticks {
        assert!(tick >= last + PERIOD.as_millis(), "{text:?}");
        last = tick;
    }
    Ok(())
}

/// Echoes; after `spin` it re-arms a zero timer in every `on_timer`.
#[derive(Default)]
struct Spinner {
    spinning: bool,
}

impl Handler for Spinner {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        conn.write(data);
        if data == b"spin" {
            self.spinning = true;
            conn.set_timer(Duration::ZERO);
        }
    }

    fn on_timer(&mut self, conn: &mut Conn) {
        if self.spinning {
            conn.set_timer(Duration::ZERO);
        }
    }
}

#[test]
fn zero_timer_rearmed_in_on_timer_does_not_starve_the_worker() -> TestResult {
    let server = builder().workers(1).handler(Spinner::default).spawn()?;
    let mut spinning = connect(server.local_addr())?;
    assert_echo(&mut spinning, b"spin")?;
    // Same worker: before the fix, it ran the zero timer for ever without
    // polling again, and this echo never came.
    let mut other = connect(server.local_addr())?;
    assert_echo(&mut other, b"still served")?;
    Ok(())
}
