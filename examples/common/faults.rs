//! The fault-injection flags of the `echo` example, flattened into its
//! `Args`: each turns on one of the faults of `netecho::fault::Faults`.
//! BYTES counts echoed output from the connection's start.

use std::time::Duration;

use netecho::fault::Faults;

/// Fault injection, for testing clients.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "Faults (for testing clients)")]
pub struct FaultArgs {
    /// Delay each piece of the echo by DUR (e.g. `150ms`): every answer
    /// reaches the client at least that late.
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub latency: Option<Duration>,
    /// Add a random delay of up to DUR to each piece's latency.
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub jitter: Option<Duration>,
    /// Pace the echo to RATE bytes per second (e.g. `256KiB`): N bytes take
    /// about N / RATE seconds to come back.
    #[arg(long, value_name = "RATE", value_parser = parse_bytes)]
    pub bandwidth: Option<u64>,
    /// Cut the echo into pieces of at most BYTES, written separately: the
    /// client's reads return short pieces.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub slice: Option<u64>,
    /// Wait DUR between two slices.
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub slice_delay: Option<Duration>,
    /// Close gracefully after echoing BYTES: the client reads exactly that
    /// many bytes, then EOF.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub close_after: Option<u64>,
    /// Reset (RST) after echoing BYTES: the client reads that many bytes,
    /// then ECONNRESET.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub reset_after: Option<u64>,
    /// Stop reading and writing after echoing BYTES, and keep the socket
    /// open: the client reads that many bytes, then silence until it times
    /// out.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub blackhole_after: Option<u64>,
    /// Reset every new connection at once: the client's connect succeeds,
    /// then its first read or write fails with ECONNRESET.
    #[arg(long)]
    pub refuse: bool,
    /// The probability (0 to 1) that a connection gets the faults [default: 1].
    #[arg(long, value_name = "P")]
    pub toxicity: Option<f64>,
    /// The seed of the per-connection draws (toxicity, jitter): the same
    /// seed gives the same faults to the same connections, in the order
    /// they connect (with `--workers 1`).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

impl FaultArgs {
    /// The faults the flags ask for, or `None` if they ask for none.
    pub fn faults(&self) -> Option<Faults> {
        let mut faults = Faults::new();
        let mut any = false;
        let mut set = |on: bool| any |= on;
        if let Some(d) = self.latency {
            faults = faults.latency(d);
            set(true);
        }
        if let Some(d) = self.jitter {
            faults = faults.jitter(d);
            set(true);
        }
        if let Some(rate) = self.bandwidth {
            faults = faults.bandwidth(rate);
            set(true);
        }
        if let Some(n) = self.slice {
            faults = faults.slice(usize::try_from(n).unwrap_or(usize::MAX));
            set(true);
        }
        if let Some(d) = self.slice_delay {
            faults = faults.slice_delay(d);
            set(true);
        }
        if let Some(n) = self.close_after {
            faults = faults.close_after(n);
            set(true);
        }
        if let Some(n) = self.reset_after {
            faults = faults.reset_after(n);
            set(true);
        }
        if let Some(n) = self.blackhole_after {
            faults = faults.blackhole_after(n);
            set(true);
        }
        if self.refuse {
            faults = faults.refuse();
            set(true);
        }
        if let Some(p) = self.toxicity {
            faults = faults.toxicity(p);
        }
        if let Some(seed) = self.seed {
            faults = faults.seed(seed);
        }
        any.then_some(faults)
    }
}

/// Parses a byte count: a number with an optional unit, `B`, `KB`/`MB`/`GB`
/// (powers of 1000) or `KiB`/`MiB`/`GiB` (powers of 1024), e.g. `256KiB`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a byte count such as 4096 or 256KiB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => return Err(format!("unknown unit `{other}` in `{text}`")),
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse_with_units() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("256KiB"), Ok(256 * 1024));
        assert_eq!(parse_bytes("1 MiB"), Ok(1 << 20));
        assert_eq!(parse_bytes("10kb"), Ok(10_000));
        assert!(parse_bytes("KiB").is_err());
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("99999999999GiB").is_err());
    }

    #[test]
    fn no_flag_no_faults() {
        assert!(FaultArgs::default().faults().is_none());
        let args = FaultArgs {
            close_after: Some(4),
            ..FaultArgs::default()
        };
        assert!(args.faults().is_some());
    }
}
