//! `whoami`: tells each client who it is, as the server sees it, and closes.
//! The TCP cousin of the `whoami` web service people put behind load
//! balancers to check them.
//!
//! `cargo run --example whoami`, then `nc 127.0.0.1 7079` (port 79, finger's,
//! + 7000): one line, `CLIENT LISTENER TRANSPORT`, e.g.
//!
//! ```text
//! 127.0.0.1:50312 127.0.0.1:7079 tcp
//! [2001:db8::1]:40000 [::1]:7079 tcp+proxy via [::1]:50400
//! pid=4242,uid=1000,gid=1000 unix:/tmp/whoami.sock unix
//! ```
//!
//! The client is the address the handler sees: behind a balancer sending the
//! PROXY protocol (`--proxy-protocol`), the client's from the header, with
//! the balancer's after `via`; on a Unix socket, the peer's credentials.

mod common;

use clap::Parser;
use common::ServerArgs;
use netecho::{Addr, Conn, Handler};

/// Tells each client who it is, then closes.
#[derive(Debug, Parser)]
#[command(version, about = "Tells each client who it is, then closes")]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

/// Writes one line about the connection on open, then closes.
#[derive(Debug, Clone, Copy, Default)]
struct Whoami;

impl Handler for Whoami {
    fn on_open(&mut self, conn: &mut Conn) {
        let line = describe(conn);
        conn.write(line.as_bytes());
        conn.close();
    }

    fn on_data(&mut self, _conn: &mut Conn, _data: &[u8]) {}
}

/// `CLIENT LISTENER TRANSPORT[ via BALANCER]\n`.
fn describe(conn: &Conn) -> String {
    let client = match (conn.peer_addr(), conn.peer_cred()) {
        (Addr::Unix(_), Some(cred)) => match cred.pid {
            Some(pid) => format!("pid={pid},uid={},gid={}", cred.uid, cred.gid),
            None => format!("uid={},gid={}", cred.uid, cred.gid),
        },
        (addr, _) => addr.to_string(),
    };
    let base = if conn.local_addr().is_unix() {
        "unix"
    } else {
        "tcp"
    };
    match conn.proxied_by() {
        Some(by) => format!("{client} {} {base}+proxy via {by}\n", conn.local_addr()),
        None if conn.proxy_header().is_some() => {
            format!("{client} {} {base}+proxy\n", conn.local_addr())
        }
        None => format!("{client} {} {base}\n", conn.local_addr()),
    }
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    common::serve(&args.server, 7079, || Whoami)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netecho::testing::Harness;
    use netecho::{CloseReason, ProxyProtocol};
    use std::net::SocketAddr;

    #[test]
    fn tcp_client() {
        let mut peer = Harness::builder()
            .peer_addr("127.0.0.1:50312".parse::<SocketAddr>().unwrap())
            .local_addr("127.0.0.1:7079".parse::<SocketAddr>().unwrap())
            .open(Whoami);
        assert_eq!(peer.read(), b"127.0.0.1:50312 127.0.0.1:7079 tcp\n");
        assert!(peer.saw_eof());
    }

    #[test]
    fn ipv6_client_behind_a_balancer() {
        let mut peer = Harness::builder()
            .peer_addr("[::1]:50400".parse::<SocketAddr>().unwrap())
            .local_addr("[::1]:7079".parse::<SocketAddr>().unwrap())
            .proxy_protocol(ProxyProtocol::required())
            .open(Whoami);
        peer.send(b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 79\r\n");
        assert_eq!(
            peer.read(),
            b"[2001:db8::1]:40000 [::1]:7079 tcp+proxy via [::1]:50400\n"
        );
        peer.half_close();
        assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
    }

    #[test]
    fn balancer_health_check_is_the_real_peer() {
        let mut peer = Harness::builder()
            .peer_addr("10.0.0.2:1234".parse::<SocketAddr>().unwrap())
            .proxy_protocol(ProxyProtocol::required())
            .open(Whoami);
        peer.send(b"PROXY UNKNOWN\r\n");
        assert_eq!(peer.read(), b"10.0.0.2:1234 127.0.0.1:7 tcp+proxy\n");
    }
}
