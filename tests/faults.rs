//! Fault injectors over loopback: what a client of a faulty echo server sees.
//!
//! Every duration asserted is a bound measured by the client; nothing sleeps.

mod util;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use netecho::fault::Faults;
use netecho::{CloseReason, Echo, ServerHandle};
use util::{
    TestResult, assert_echo, builder, connect, fill_pattern, join, notify, read_pattern,
    write_pattern,
};

const MS: Duration = Duration::from_millis(1);

/// An echo server with `faults`, one worker (so connection indices follow
/// the order of connecting).
fn serve(faults: Faults) -> netecho::Result<ServerHandle> {
    builder()
        .workers(1)
        .handler(faults.factory(|| Echo))
        .spawn()
}

/// Reads until EOF or an error; returns what came and how it ended.
fn read_until_end(stream: &mut TcpStream) -> (Vec<u8>, io::Result<()>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (got, Ok(())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Err(e)),
        }
    }
}

fn is_reset(result: &io::Result<()>) -> bool {
    matches!(result, Err(e) if e.kind() == io::ErrorKind::ConnectionReset)
}

#[test]
fn latency_delays_every_round_trip() -> TestResult {
    let latency = 150 * MS;
    let server = serve(Faults::new().latency(latency).jitter(20 * MS))?;
    let mut client = connect(server.local_addr())?;
    for msg in [&b"ping"[..], b"pong", b"again"] {
        let start = Instant::now();
        assert_echo(&mut client, msg)?;
        let rtt = start.elapsed();
        assert!(rtt >= latency, "round trip {rtt:?} under the latency");
    }
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn bandwidth_paces_the_echo() -> TestResult {
    const LEN: u64 = 512 * 1024;
    const RATE: u64 = 256 * 1024;
    let server = serve(Faults::new().bandwidth(RATE))?;
    let mut client = connect(server.local_addr())?;
    let mut writer = client.try_clone()?;
    let start = Instant::now();
    let mut rng = fastrand::Rng::with_seed(util::seed());
    let sender = thread::spawn(move || write_pattern(&mut writer, 0, LEN, &mut rng));
    read_pattern(&mut client, 0, LEN)?;
    let took = start.elapsed();
    join(sender)??;
    // The last 10 ms piece goes out (LEN - RATE / 100) / RATE after the first.
    let least = Duration::from_secs_f64((LEN - RATE / 100) as f64 / RATE as f64);
    assert!(took >= least, "{LEN} bytes at {RATE} B/s took {took:?}");
    assert!(took < least * 3, "{LEN} bytes at {RATE} B/s took {took:?}");
    eprintln!("{LEN} bytes at {RATE} B/s: {took:?}");
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn slices_arrive_as_separate_reads_apart_in_time() -> TestResult {
    let delay = 50 * MS;
    let server = serve(Faults::new().slice(4).slice_delay(delay))?;
    let mut client = connect(server.local_addr())?;
    let sent = Instant::now();
    client.write_all(b"hello, world")?;
    // Read a slice's worth at a time and note when each became readable.
    // A descheduled client can only read later than a slice was sent, never
    // earlier, so lower bounds on arrival times hold on a loaded machine.
    let mut got = Vec::new();
    let mut arrivals = Vec::new();
    let mut buf = [0u8; 4];
    while got.len() < 12 {
        let n = client.read(&mut buf)?;
        assert_ne!(n, 0, "EOF after {got:?}");
        got.extend_from_slice(&buf[..n]);
        arrivals.push((got.len(), sent.elapsed()));
    }
    assert_eq!(got, b"hello, world");
    for (have, at) in arrivals {
        // Slice k (bytes 4k..4k+4) goes out k delays after the echo was due.
        let slice = (have - 1) / 4;
        let earliest = delay * slice as u32;
        assert!(
            at + 5 * MS >= earliest,
            "byte {have} arrived after {at:?}, before slice {slice} was due at {earliest:?}"
        );
    }
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn close_after_gives_exactly_n_bytes_then_eof() -> TestResult {
    let server = serve(Faults::new().close_after(10))?;
    let mut client = connect(server.local_addr())?;
    let mut msg = [0u8; 100];
    fill_pattern(0, &mut msg);
    client.write_all(&msg)?;
    let (got, end) = read_until_end(&mut client);
    end?;
    assert_eq!(got, &msg[..10]);
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn reset_after_gives_n_bytes_then_econnreset() -> TestResult {
    let (factory, events) = notify(move || Echo);
    let faults = Faults::new().reset_after(10);
    let server = builder()
        .workers(1)
        .handler(faults.factory(factory))
        .spawn()?;
    let mut client = connect(server.local_addr())?;
    let mut msg = [0u8; 100];
    fill_pattern(0, &mut msg);
    client.write_all(&msg)?;
    let (got, end) = read_until_end(&mut client);
    assert!(is_reset(&end), "expected ECONNRESET, got {end:?}");
    assert_eq!(got, &msg[..10]);
    events.expect_open()?;
    assert_eq!(events.expect_close()?.1, CloseReason::Aborted);
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn blackhole_after_gives_n_bytes_then_silence_on_an_open_socket() -> TestResult {
    let server = serve(Faults::new().blackhole_after(10))?;
    let mut client = connect(server.local_addr())?;
    let mut msg = [0u8; 100];
    fill_pattern(0, &mut msg);
    client.write_all(&msg)?;
    let mut got = [0u8; 10];
    client.read_exact(&mut got)?;
    assert_eq!(got, msg[..10]);
    // Silence: a read waits out its whole timeout (the assertion itself).
    client.set_read_timeout(Some(300 * MS))?;
    let mut more = [0u8; 16];
    match client.read(&mut more) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        other => panic!("expected silence, got {other:?}"),
    }
    // The socket is still open: writes are taken, the server counts it.
    client.write_all(b"anyone there?")?;
    assert_eq!(server.stats().active, 1);
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn refused_connections_get_a_reset() -> TestResult {
    let server = serve(Faults::new().refuse())?;
    let mut client = connect(server.local_addr())?;
    let (got, end) = read_until_end(&mut client);
    assert!(got.is_empty());
    assert!(is_reset(&end), "expected ECONNRESET, got {end:?}");
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn slow_close_delays_the_eof() -> TestResult {
    let delay = 200 * MS;
    let server = serve(Faults::new().slow_close(delay))?;
    let mut client = connect(server.local_addr())?;
    client.write_all(b"bye")?;
    client.shutdown(Shutdown::Write)?;
    let start = Instant::now();
    let (got, end) = read_until_end(&mut client);
    end?;
    assert_eq!(got, b"bye");
    assert!(start.elapsed() >= delay, "EOF after {:?}", start.elapsed());
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn input_bandwidth_throttles_what_the_client_sends() -> TestResult {
    const LEN: u64 = 256 * 1024;
    const RATE: u64 = 256 * 1024;
    let server = serve(Faults::new().input_bandwidth(RATE))?;
    let mut client = connect(server.local_addr())?;
    let mut writer = client.try_clone()?;
    let start = Instant::now();
    let mut rng = fastrand::Rng::with_seed(util::seed());
    let sender = thread::spawn(move || write_pattern(&mut writer, 0, LEN, &mut rng));
    read_pattern(&mut client, 0, LEN)?;
    let took = start.elapsed();
    join(sender)??;
    // At most one read buffer (64 KiB) goes in before the first pause.
    let least = Duration::from_secs_f64((LEN - 64 * 1024) as f64 / RATE as f64);
    assert!(took >= least, "{LEN} bytes in at {RATE} B/s took {took:?}");
    drop(client);
    server.shutdown();
    server.join()?;
    Ok(())
}

/// Connects `n` clients one after the other; for each, whether the server
/// reset it (else it must echo).
fn which_are_reset(addr: SocketAddr, n: u64) -> io::Result<Vec<bool>> {
    let mut reset = Vec::new();
    for _ in 0..n {
        // A refused connection may be reset before the client set its
        // timeouts (a pending error fails that too), or before this write.
        let mut client = match connect(addr) {
            Ok(client) => client,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                reset.push(true);
                continue;
            }
            Err(e) => return Err(e),
        };
        let _ = client.write_all(b"x");
        let mut buf = [0u8; 1];
        match client.read(&mut buf) {
            Ok(1) => reset.push(false),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => reset.push(true),
            other => {
                return Err(io::Error::other(format!(
                    "neither echo nor reset: {other:?}"
                )));
            }
        }
    }
    Ok(reset)
}

#[test]
fn toxicity_with_a_seed_hits_the_same_connections_on_two_runs() -> TestResult {
    const N: u64 = 16;
    let faults = || Faults::new().refuse().toxicity(0.5).seed(2024);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let server = serve(faults())?;
        runs.push(which_are_reset(server.local_addr(), N)?);
        server.shutdown();
        server.join()?;
    }
    let predicted: Vec<bool> = (0..N).map(|i| faults().affects(i)).collect();
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], predicted);
    let hits = predicted.iter().filter(|&&hit| hit).count();
    assert!(hits > 0 && hits < N as usize, "{predicted:?}");
    Ok(())
}

#[test]
fn faults_switch_off_and_on_while_the_server_runs() -> TestResult {
    let faults = Faults::new().refuse();
    let control = faults.control();
    let server = serve(faults)?;
    let addr = server.local_addr();
    assert_eq!(which_are_reset(addr, 2)?, [true, true]);
    control.disable();
    assert_eq!(which_are_reset(addr, 2)?, [false, false]);
    control.enable();
    assert_eq!(which_are_reset(addr, 1)?, [true]);
    assert_eq!(control.connections(), 5);
    server.shutdown();
    server.join()?;
    Ok(())
}
