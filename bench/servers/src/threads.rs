//! Baseline: a blocking accept loop and one OS thread per connection.
//!
//! The design of the original Elixir-comparison blog post: blocking `read` into a 4 KiB
//! buffer, then `write_all`; `TCP_NODELAY` inherited from the listener. Over a Unix socket
//! file the same loop runs on std's `UnixListener`.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixListener;
use std::thread;
use std::time::Duration;

use crate::listener::{self, Bind};

pub fn run(_workers: usize, bind: &Bind, announce: &mut dyn FnMut(&str)) -> Result<(), String> {
    match bind {
        Bind::Tcp => {
            let listener = listener::bind().map_err(|e| format!("bind: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            announce(&addr.to_string());
            serve(|| listener.accept().map(|(stream, _)| stream))
        }
        Bind::Unix(path) => {
            let listener =
                UnixListener::bind(path).map_err(|e| format!("bind {}: {e}", path.display()))?;
            announce(&listener::unix_line(path));
            serve(|| listener.accept().map(|(stream, _)| stream))
        }
    }
}

/// Accepts forever, one thread per connection.
fn serve<S>(mut accept: impl FnMut() -> io::Result<S>) -> !
where
    S: Read + Write + Send + 'static,
{
    loop {
        let stream = match accept() {
            Ok(stream) => stream,
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

fn echo(mut stream: impl Read + Write) {
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
