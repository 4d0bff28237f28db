//! Randomised: any sequence of chunk sizes, pauses and a final half-close
//! from the client yields exactly the bytes sent, in order, then EOF.

mod util;

use std::io::{Read, Write};
use std::sync::OnceLock;

use netecho::ServerHandle;
use proptest::prelude::*;
use util::{connect, fill_pattern, verify_pattern};

fn server() -> &'static ServerHandle {
    static SERVER: OnceLock<ServerHandle> = OnceLock::new();
    SERVER.get_or_init(|| util::start().expect("start the echo server"))
}

/// A client step: send a chunk of this size, and whether to pause after it
/// (read back everything echoed so far before going on).
fn steps() -> impl Strategy<Value = Vec<(usize, bool)>> {
    prop::collection::vec((1usize..70_000, any::<bool>()), 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_chunking_echoes_every_byte_in_order_then_eof(steps in steps()) {
        let mut client = connect(server().local_addr()).expect("connect");
        let mut sent = 0u64;
        let mut received = 0u64;
        let mut buf = vec![0u8; 70_000];
        let mut back = vec![0u8; 64 * 1024];
        for (size, pause) in steps {
            fill_pattern(sent, &mut buf[..size]);
            client.write_all(&buf[..size]).expect("write");
            sent += size as u64;
            if pause {
                while received < sent {
                    let want = back.len().min((sent - received) as usize);
                    let n = client.read(&mut back[..want]).expect("read");
                    prop_assert!(n > 0, "EOF after {received} of {sent} bytes");
                    verify_pattern(received, &back[..n]).expect("in order");
                    received += n as u64;
                }
            }
        }
        client.shutdown(std::net::Shutdown::Write).expect("half-close");
        loop {
            let n = client.read(&mut back).expect("read to EOF");
            if n == 0 {
                break;
            }
            verify_pattern(received, &back[..n]).expect("in order");
            received += n as u64;
        }
        prop_assert_eq!(received, sent);
    }
}
