//! Baseline: a blocking accept loop and one OS thread per connection.
//!
//! The design of the original Elixir-comparison blog post: blocking `read` into a 4 KiB
//! buffer, then `write_all`; `TCP_NODELAY` inherited from the listener.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use crate::listener;

pub fn run(_workers: usize, announce: &mut dyn FnMut(SocketAddr)) -> Result<(), String> {
    let listener = listener::bind().map_err(|e| format!("bind: {e}"))?;
    announce(listener.local_addr().map_err(|e| e.to_string())?);
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("threads echo: accept: {e}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if let Err(e) = thread::Builder::new().spawn(move || echo(stream)) {
            eprintln!("threads echo: cannot spawn a thread: {e}");
        }
    }
}

fn echo(mut stream: TcpStream) {
    let mut buf = [0; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}
