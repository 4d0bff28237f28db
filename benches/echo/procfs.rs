//! Reading a process's CPU time and memory from `/proc` (Linux).

use std::fs;
use std::io;
use std::time::Instant;

/// `/proc/<pid>/stat` counts in USER_HZ, which is 100 on Linux.
const USER_HZ: f64 = 100.0;

/// User plus system CPU seconds used so far by all threads of `pid`.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may contain spaces; the fixed fields start after its ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) (utime, stime) are 11 and 12 counted from the state.
    let ticks = |i: usize| -> io::Result<u64> {
        fields.get(i).and_then(|f| f.parse().ok()).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc stat format")
        })
    };
    Ok((ticks(11)? + ticks(12)?) as f64 / USER_HZ)
}

/// The whole machine's CPU time so far, all CPUs, from `/proc/stat`.
#[derive(Debug, Clone, Copy)]
pub struct SystemCpu {
    /// When it was read.
    pub at: Instant,
    /// Online CPUs (the `cpuN` lines).
    pub cpus: usize,
    /// Seconds idle or waiting for I/O. With a tickless kernel (`NO_HZ`) these two are
    /// measured exactly, like a process's CPU time in `/proc/<pid>/stat`, whereas the busy
    /// columns are sampled at each tick; busy time is therefore taken as wall time on
    /// every CPU less this.
    pub idle: f64,
    /// Seconds a hypervisor ran something else while a CPU wanted to run (steal).
    pub steal: f64,
    /// Seconds in softirq context (sampled). Without `CONFIG_IRQ_TIME_ACCOUNTING` this time
    /// is also charged to whichever task was interrupted (part of its system time).
    pub softirq: f64,
}

impl SystemCpu {
    /// Seconds all CPUs were busy (steal included) between `self` and the later `end`.
    pub fn busy_until(&self, end: &SystemCpu) -> f64 {
        let wall = end.at.duration_since(self.at).as_secs_f64();
        wall * self.cpus as f64 - (end.idle - self.idle)
    }
}

/// Reads [`SystemCpu`].
pub fn system_cpu() -> io::Result<SystemCpu> {
    let stat = fs::read_to_string("/proc/stat")?;
    let at = Instant::now();
    let line = stat.lines().next().unwrap_or_default();
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    if ticks.len() < 8 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "unexpected /proc/stat format",
        ));
    }
    let cpus = stat
        .lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count();
    // user nice system idle iowait irq softirq steal
    Ok(SystemCpu {
        at,
        cpus,
        idle: (ticks[3] + ticks[4]) as f64 / USER_HZ,
        steal: ticks[7] as f64 / USER_HZ,
        softirq: ticks[6] as f64 / USER_HZ,
    })
}

/// TCP sockets in TIME_WAIT on the machine (`tw` in `/proc/net/sockstat`). Their expiry
/// 60 s after a close is kernel timer work charged to whatever runs at that moment.
pub fn time_wait_sockets() -> io::Result<u64> {
    let stat = fs::read_to_string("/proc/net/sockstat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("TCP:"))
        .unwrap_or_default();
    let mut fields = line.split_whitespace();
    while let Some(f) = fields.next() {
        if f == "tw" {
            if let Some(n) = fields.next().and_then(|v| v.parse().ok()) {
                return Ok(n);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no tw in /proc/net/sockstat",
    ))
}

/// A `kB` field of `/proc/<pid>/status`, such as `VmRSS` or `VmHWM`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no {field} in status")))
}
