//! The default handler echoes every byte, in order, whatever the size and the
//! number of workers.

mod util;

use std::net::Shutdown;
use std::thread;

use util::{
    TestResult, assert_echo, builder, connect, expect_eof, join, read_pattern, seed, start,
    write_pattern,
};

#[test]
fn echoes_one_message() -> TestResult {
    let server = start()?;
    let mut client = connect(server.local_addr())?;
    assert_echo(&mut client, b"hello, echo")?;
    client.shutdown(Shutdown::Write)?;
    expect_eof(&mut client)?;
    drop(client);

    server.shutdown();
    server.join()?;
    let stats = server.stats();
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.closed, 1);
    assert_eq!(stats.active, 0);
    assert_eq!(stats.bytes_read, 11);
    assert_eq!(stats.bytes_written, 11);
    assert_eq!(stats.buffered_bytes, 0);
    Ok(())
}

#[test]
fn echoes_all_256_byte_values() -> TestResult {
    let server = start()?;
    let mut client = connect(server.local_addr())?;
    let ascending: Vec<u8> = (0..=255).collect();
    let descending: Vec<u8> = (0..=255).rev().collect();
    assert_echo(&mut client, &ascending)?;
    assert_echo(&mut client, &descending)?;
    // Each value alone too: no byte is special (NUL, CR, LF, 0xFF...).
    for value in 0..=255u8 {
        assert_echo(&mut client, &[value])?;
    }
    Ok(())
}

/// 16 MiB written by one thread while another reads. The server's small send
/// buffer cannot take a 64 KiB read's echo at once, so it keeps output
/// pending and finishes it on writable events, over and over.
#[test]
fn echoes_16_mib_in_order_with_partial_writes() -> TestResult {
    const TOTAL: u64 = 16 * 1024 * 1024;
    let server = builder()
        .workers(2)
        .send_buffer_size(16 * 1024)
        .recv_buffer_size(16 * 1024)
        .spawn()?;
    let mut reader = connect(server.local_addr())?;
    let mut writer = reader.try_clone()?;
    let mut rng = fastrand::Rng::with_seed(seed());
    let writing = thread::spawn(move || -> std::io::Result<()> {
        write_pattern(&mut writer, 0, TOTAL, &mut rng)?;
        writer.shutdown(Shutdown::Write)
    });

    read_pattern(&mut reader, 0, TOTAL)?;
    expect_eof(&mut reader)?;
    join(writing)??;
    drop(reader);

    server.shutdown();
    server.join()?;
    let stats = server.stats();
    assert_eq!(stats.bytes_read, TOTAL);
    assert_eq!(stats.bytes_written, TOTAL);
    assert_eq!(stats.buffered_bytes, 0);
    Ok(())
}

/// Connections are handed to the workers in turn; with 1 and with 4 workers,
/// eight clients open at once all get their own bytes back.
#[test]
fn echoes_with_one_worker_and_with_four_workers() -> TestResult {
    for workers in [1, 4] {
        let server = builder().workers(workers).spawn()?;
        let mut clients = (0..8)
            .map(|_| connect(server.local_addr()))
            .collect::<std::io::Result<Vec<_>>>()?;
        for round in 0..3 {
            for (i, client) in clients.iter_mut().enumerate() {
                let msg = format!("workers {workers}, client {i}, round {round}");
                assert_echo(client, msg.as_bytes())?;
            }
        }
        drop(clients);
        server.shutdown();
        server.join()?;
        let stats = server.stats();
        assert_eq!(stats.accepted, 8, "with {workers} workers");
        assert_eq!(stats.closed, 8, "with {workers} workers");
    }
    Ok(())
}
