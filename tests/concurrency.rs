//! Many clients at once: 500 connections open together, driven from a few
//! threads with random message sizes.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;

use netecho::{CloseReason, Echo};
use util::{TestResult, builder, check_same, connect, join, notify, seed};

const CLIENTS: usize = 500;
const THREADS: usize = 4;
const ROUNDS: usize = 3;
const MAX_MESSAGE: usize = 16 * 1024;

#[test]
fn echoes_500_concurrent_clients_with_random_sizes() -> TestResult {
    // 500 clients and 500 server sides: make sure the descriptors exist.
    rlimit::increase_nofile_limit(4 * CLIENTS as u64)?;
    let (factory, events) = notify(|| Echo);
    let server = builder().workers(2).handler(factory).spawn()?;
    let addr = server.local_addr();

    // Open every connection before any traffic, and wait until the server
    // has opened each one: all 500 are served at the same time.
    let clients = (0..CLIENTS)
        .map(|_| connect(addr))
        .collect::<std::io::Result<Vec<_>>>()?;
    for _ in 0..CLIENTS {
        events.expect_open()?;
    }
    let stats = server.stats();
    assert_eq!(stats.accepted, CLIENTS as u64);
    assert_eq!(stats.active, CLIENTS as u64);

    // A few threads, each driving its share of the clients in turn.
    let base_seed = seed();
    let mut shares: Vec<Vec<TcpStream>> = (0..THREADS).map(|_| Vec::new()).collect();
    for (i, client) in clients.into_iter().enumerate() {
        shares[i % THREADS].push(client);
    }
    let threads: Vec<_> = shares
        .into_iter()
        .enumerate()
        .map(|(t, mut share)| {
            thread::spawn(move || -> std::io::Result<(Vec<TcpStream>, u64)> {
                let mut rng = fastrand::Rng::with_seed(base_seed.wrapping_add(t as u64));
                let mut bytes = 0u64;
                let mut back = vec![0u8; MAX_MESSAGE];
                for _ in 0..ROUNDS {
                    for client in &mut share {
                        let len = rng.usize(1..=MAX_MESSAGE);
                        let msg: Vec<u8> =
                            std::iter::repeat_with(|| rng.u8(..)).take(len).collect();
                        client.write_all(&msg)?;
                        client.read_exact(&mut back[..len])?;
                        check_same(&msg, &back[..len])?;
                        bytes += len as u64;
                    }
                }
                Ok((share, bytes))
            })
        })
        .collect();
    let mut clients = Vec::with_capacity(CLIENTS);
    let mut total = 0;
    for thread in threads {
        let (share, bytes) = join(thread)??;
        clients.extend(share);
        total += bytes;
    }

    // Every client hangs up; the server closes every connection normally.
    drop(clients);
    let closes = events.closes(CLIENTS)?;
    assert!(
        closes.iter().all(|(_, r)| *r == CloseReason::PeerClosed),
        "close reasons: {:?}",
        closes.iter().find(|(_, r)| *r != CloseReason::PeerClosed)
    );
    server.shutdown();
    server.join()?;
    let stats = server.stats();
    assert_eq!(stats.closed, CLIENTS as u64);
    assert_eq!(stats.active, 0);
    assert_eq!(stats.bytes_read, total);
    assert_eq!(stats.bytes_written, total);
    assert_eq!(stats.handler_panics, 0);
    Ok(())
}
