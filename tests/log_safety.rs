//! Client bytes with CR, LF, ESC and invalid UTF-8 never reach a log line
//! raw, at any level, even through a handler's panic message.

mod util;

use std::io::{Read, Write};
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};
use netecho::{Conn, Handler};
use util::{EXPECTED_PANIC, TestResult, builder, connect, quiet_expected_panics};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        if record.target().starts_with("netecho") {
            let line = format!("{} {}", record.level(), record.args());
            LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    }
    fn flush(&self) {}
}

/// Echoes, but panics with the client's bytes in the message on a `!`.
struct Blurt;

impl Handler for Blurt {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        if data.contains(&b'!') {
            panic!(
                "{EXPECTED_PANIC}: bad input {}",
                String::from_utf8_lossy(data)
            );
        }
        conn.write(data);
    }
}

const NASTY: &[u8] = b"line one\r\nFAKE ERROR injected\n\x1b[31mred\x1b[0m \xff\xfe\xc3(";

#[test]
fn client_bytes_never_reach_a_log_line_raw() -> TestResult {
    log::set_boxed_logger(Box::new(Capture))?;
    log::set_max_level(LevelFilter::Trace);
    quiet_expected_panics();

    let server = builder().handler(|| Blurt).spawn()?;
    let mut client = connect(server.local_addr())?;
    client.write_all(NASTY)?;
    let mut back = vec![0; NASTY.len()];
    client.read_exact(&mut back)?;
    assert_eq!(back, NASTY);
    // Now make the handler panic with the bytes in its message.
    let mut nasty_panic = NASTY.to_vec();
    nasty_panic.push(b'!');
    client.write_all(&nasty_panic)?;
    util::expect_closed(&mut client)?;
    server.shutdown();
    server.join()?;

    let lines = LINES.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(Level::Warn.as_str()) && l.contains("panicked")),
        "the panic is logged: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("bytes")),
        "trace lines were captured: {lines:?}"
    );
    for line in lines.iter() {
        assert!(!line.contains('\r'), "raw CR in {line:?}");
        assert!(!line.contains('\n'), "raw LF in {line:?}");
        assert!(!line.contains('\x1b'), "raw ESC in {line:?}");
        assert!(
            !line.chars().any(char::is_control),
            "control character in {line:?}"
        );
        assert!(
            !line.contains("FAKE ERROR injected\n"),
            "payload in {line:?}"
        );
    }
    Ok(())
}
