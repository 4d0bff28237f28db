//! `--strace`: count a server's syscalls with `strace -c -f` over the measured window.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::paths;

/// A running `strace -c -f -p PID`; [`Strace::finish`] makes it write its summary.
#[derive(Debug)]
pub struct Strace {
    child: Child,
    out: PathBuf,
}

impl Strace {
    /// Attaches to all threads of `pid`; the summary goes to `strace/<tag>.txt`.
    pub fn attach(pid: u32, tag: &str) -> Option<Strace> {
        let dir = paths::results_dir().join("strace");
        let out = dir.join(format!("{tag}.txt"));
        let spawned = fs::create_dir_all(&dir).and_then(|()| {
            Command::new("strace")
                .args(["-c", "-f", "-q", "-p", &pid.to_string(), "-o"])
                .arg(&out)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        });
        match spawned {
            Ok(child) => Some(Strace { child, out }),
            Err(e) => {
                eprintln!("    strace: cannot start: {e}");
                None
            }
        }
    }

    /// Detaches strace (SIGINT makes it print the summary) and waits up to 5 s for it.
    pub fn finish(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                eprintln!("    syscall counts: {}", self.out.display());
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!("    strace did not finish; killed");
    }
}

impl Drop for Strace {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
