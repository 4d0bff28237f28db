//! The guard: which datagrams a UDP server must not answer, decided from the
//! source address, the server's own port and the time alone (sans-IO: no
//! socket, no clock; the driver feeds it `Instant`s).
//!
//! [`GuardPolicy`] is the configuration (plain data, public); `Guard` is the
//! state a worker keeps (token buckets), crate-private.

use std::fmt;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

/// Ports of the classic services that answer any datagram (echo 7, discard 9,
/// daytime 13, qotd 17, chargen 19, time 37): the NetBSD inetd's list plus
/// qotd. Answering one of them starts a loop that never ends on its own
/// (CERT CA-1996-01, the "UDP packet storm").
pub const ANSWER_BACK_PORTS: [u16; 6] = [7, 9, 13, 17, 19, 37];

/// Well-known ports above 1023 of services that answer datagrams, and are
/// known amplifiers or loop partners: SSDP 1900, NFS 2049 (OpenBSD inetd's
/// list), WS-Discovery 3702, mDNS 5353, CoAP 5683, memcached 11211. Blocked
/// by the default policy together with every port below 1024.
pub const REFLECTOR_PORTS: [u16; 6] = [1900, 2049, 3702, 5353, 5683, 11211];

/// Default per-source rate of the standard policy: 100 datagrams a second,
/// bursts of 200.
pub const DEFAULT_PER_SOURCE_RATE: Rate = Rate::new(100, 200);
/// Default global rate of the standard policy (per server, shared among the
/// workers): 10,000 datagrams a second, bursts of 20,000.
pub const DEFAULT_GLOBAL_RATE: Rate = Rate::new(10_000, 20_000);
/// Default number of sources whose rate is tracked, per worker.
pub const DEFAULT_MAX_SOURCES: usize = 4096;

/// A token bucket's rate: `per_second` datagrams a second on average, up to
/// `burst` at once after a quiet spell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    per_second: u32,
    burst: u32,
}

impl Rate {
    /// `per_second` datagrams a second, bursts of `burst`. A zero
    /// `per_second` or `burst` is an error at bind.
    pub const fn new(per_second: u32, burst: u32) -> Self {
        Rate { per_second, burst }
    }

    /// The average rate, in datagrams a second.
    pub const fn per_second(&self) -> u32 {
        self.per_second
    }

    /// The largest burst, in datagrams.
    pub const fn burst(&self) -> u32 {
        self.burst
    }
}

/// Which datagrams a UDP server drops instead of answering: sources that
/// cannot be a real client, the ports of services that answer back, the
/// server's own port, and senders over a rate. Given to
/// [`UdpServerBuilder::guard`](crate::UdpServerBuilder::guard).
///
/// Three presets:
///
/// - [`GuardPolicy::default()`], the *standard* policy, safe to expose: all
///   checks on; source ports 0-1023 and [`REFLECTOR_PORTS`] blocked;
///   [`DEFAULT_PER_SOURCE_RATE`] and [`DEFAULT_GLOBAL_RATE`], which do not
///   apply to loopback sources (see [`limit_loopback`](Self::limit_loopback)).
/// - [`GuardPolicy::strict()`], for the open Internet: the same, with rates
///   ten times lower (10/s per source, 1,000/s in all), loopback included.
/// - [`GuardPolicy::off()`], for a lab: answers everything.
///
/// # Why these checks
///
/// Modelled on the datagram checks of the inetd family, which every BSD has
/// carried since the UDP packet storms of 1996:
///
/// - **Sources that cannot be real** (`reject_invalid_sources`): the
///   unspecified address, `0.0.0.0/8`, multicast, `240.0.0.0/4` (reserved,
///   with the broadcast address), IPv4-compatible IPv6 addresses and port 0.
///   A reply to them is either impossible or goes to many hosts at once.
///   IPv4-mapped IPv6 sources are checked as the IPv4 address they carry.
///   (OpenBSD's `dg_badinput` and NetBSD's `port_good_dg` also drop
///   `127.0.0.0/8`, since a loopback source from the wire is spoofed; Linux
///   drops those itself as martians, and a local client is a real one, so
///   loopback is answered here. Directed broadcast addresses, which the BSDs
///   find with `getifaddrs`, are left to the kernel, which drops them as
///   martians.)
/// - **Blocked source ports**: a datagram "from" a service that answers
///   back (echo, chargen, ...) is the packet-storm attack: answering starts
///   a loop. The default blocks every port below 1024, as OpenBSD's inetd
///   and xinetd do (real clients send from ephemeral ports; every
///   well-known UDP service, DNS 53, NTP 123, SNMP 161, ..., lives below
///   1024), plus [`REFLECTOR_PORTS`]. NetBSD blocks only
///   [`ANSWER_BACK_PORTS`]: use [`blocked_ports`](Self::blocked_ports) for
///   that.
/// - **The server's own port** (`reject_own_port`): a datagram from our own
///   address and port is a loop through ourselves; one from the same port on
///   another host is most likely another echo server (FreeBSD's
///   `check_loop` refuses both).
/// - **Rates** (token buckets): a spoofed source makes an echo a reflector;
///   the per-source bucket bounds what one victim receives, the global one
///   what all of them do. Dropping (not answering) costs the attacker as
///   much as us. Per-source state lives in a fixed table of
///   [`max_sources`](Self::max_sources) entries per worker, so a flood of
///   spoofed sources cannot grow memory; a source pushed out of the table
///   starts again with a full bucket, and the global bucket still holds.
///
/// Every drop is counted, by reason, in [`UdpStats`](crate::UdpStats).
///
/// # Examples
///
/// ```
/// use netecho::{GuardPolicy, Rate};
///
/// // NetBSD's port list instead of all privileged ports, a tighter rate.
/// let policy = GuardPolicy::default()
///     .blocked_ports([])
///     .block_ports(netecho::ANSWER_BACK_PORTS)
///     .per_source_rate(Rate::new(20, 40));
/// assert!(policy.is_port_blocked(19));
/// assert!(!policy.is_port_blocked(53));
/// assert!(GuardPolicy::default().is_port_blocked(53));
/// assert!(!GuardPolicy::off().is_port_blocked(19));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct GuardPolicy {
    invalid_sources: bool,
    own_port: bool,
    /// One bit per port.
    blocked: Vec<u64>,
    per_source: Option<Rate>,
    global: Option<Rate>,
    limit_loopback: bool,
    max_sources: usize,
}

impl fmt::Debug for GuardPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let blocked: Vec<u16> = (0..=u16::MAX)
            .filter(|p| self.is_port_blocked(*p))
            .collect();
        f.debug_struct("GuardPolicy")
            .field("reject_invalid_sources", &self.invalid_sources)
            .field("reject_own_port", &self.own_port)
            .field("blocked_ports", &PortList(&blocked))
            .field("per_source_rate", &self.per_source)
            .field("global_rate", &self.global)
            .field("limit_loopback", &self.limit_loopback)
            .field("max_sources", &self.max_sources)
            .finish()
    }
}

/// Prints a port list as ranges: `0-1023, 1900, ...`.
struct PortList<'a>(&'a [u16]);

impl fmt::Debug for PortList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end.wrapping_add(1) {
                i += 1;
                end = self.0[i];
            }
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

impl Default for GuardPolicy {
    /// The standard policy (see the type's docs).
    fn default() -> Self {
        GuardPolicy::off()
            .reject_invalid_sources(true)
            .reject_own_port(true)
            .block_ports(0..=1023)
            .block_ports(REFLECTOR_PORTS)
            .per_source_rate(DEFAULT_PER_SOURCE_RATE)
            .global_rate(DEFAULT_GLOBAL_RATE)
    }
}

impl GuardPolicy {
    /// No checks at all: every datagram is answered. For a lab, a benchmark
    /// or a test, never for a server others can reach.
    pub fn off() -> Self {
        GuardPolicy {
            invalid_sources: false,
            own_port: false,
            blocked: vec![0; 1024],
            per_source: None,
            global: None,
            limit_loopback: false,
            max_sources: DEFAULT_MAX_SOURCES,
        }
    }

    /// The standard policy with rates ten times lower (10 datagrams a second
    /// per source, bursts of 20; 1,000 a second in all, bursts of 2,000),
    /// applied to loopback sources too.
    pub fn strict() -> Self {
        GuardPolicy::default()
            .per_source_rate(Rate::new(10, 20))
            .global_rate(Rate::new(1_000, 2_000))
            .limit_loopback(true)
    }

    /// Drop datagrams from sources that cannot be a real client: the
    /// unspecified address, `0.0.0.0/8`, multicast, `240.0.0.0/4` (with the
    /// broadcast address), IPv4-compatible IPv6 addresses, port 0.
    /// Standard: on.
    pub fn reject_invalid_sources(mut self, on: bool) -> Self {
        self.invalid_sources = on;
        self
    }

    /// Drop datagrams whose source port is the server's own port, from any
    /// address (the server itself, or another echo server). Standard: on.
    pub fn reject_own_port(mut self, on: bool) -> Self {
        self.own_port = on;
        self
    }

    /// Replaces the blocked source ports with `ports` (empty: none).
    /// Standard: 0-1023 and [`REFLECTOR_PORTS`].
    pub fn blocked_ports(mut self, ports: impl IntoIterator<Item = u16>) -> Self {
        self.blocked.iter_mut().for_each(|w| *w = 0);
        self.block_ports(ports)
    }

    /// Adds `ports` to the blocked source ports: a range (`0..=1023`), an
    /// array ([`ANSWER_BACK_PORTS`]) or any iterator of ports.
    pub fn block_ports(mut self, ports: impl IntoIterator<Item = u16>) -> Self {
        for port in ports {
            self.blocked[usize::from(port / 64)] |= 1 << (port % 64);
        }
        self
    }

    /// Removes `ports` from the blocked source ports.
    pub fn allow_ports(mut self, ports: impl IntoIterator<Item = u16>) -> Self {
        for port in ports {
            self.blocked[usize::from(port / 64)] &= !(1 << (port % 64));
        }
        self
    }

    /// The token bucket of each source address (whatever its port); `None`
    /// turns it off. Standard: [`DEFAULT_PER_SOURCE_RATE`].
    pub fn per_source_rate(mut self, rate: impl Into<Option<Rate>>) -> Self {
        self.per_source = rate.into();
        self
    }

    /// The token bucket of the whole server (each of `n` workers gets
    /// `1/n` of it); `None` turns it off. Standard: [`DEFAULT_GLOBAL_RATE`].
    pub fn global_rate(mut self, rate: impl Into<Option<Rate>>) -> Self {
        self.global = rate.into();
        self
    }

    /// Whether the rates apply to loopback sources (`127.0.0.0/8`, `::1`).
    /// Standard: no: loopback traffic comes from this host (the kernel drops
    /// loopback sources arriving from the wire), and replies to it stay on
    /// this host, so a local load test runs at full speed. Strict: yes.
    pub fn limit_loopback(mut self, on: bool) -> Self {
        self.limit_loopback = on;
        self
    }

    /// How many source addresses each worker tracks for the per-source rate;
    /// the table is allocated once, at about 32 bytes an entry, and never
    /// grows. Default: [`DEFAULT_MAX_SOURCES`]. Zero is an error at bind
    /// when a per-source rate is set.
    pub fn max_sources(mut self, n: usize) -> Self {
        self.max_sources = n;
        self
    }

    /// Whether datagrams from source port `port` are dropped.
    pub fn is_port_blocked(&self, port: u16) -> bool {
        self.blocked[usize::from(port / 64)] & (1 << (port % 64)) != 0
    }

    /// Checks the rates; the reason a policy cannot work.
    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        for rate in [self.per_source, self.global].into_iter().flatten() {
            if rate.per_second == 0 || rate.burst == 0 {
                return Err("a guard rate needs per_second and burst of at least 1");
            }
        }
        if self.per_source.is_some() && self.max_sources == 0 {
            return Err("max_sources must be at least 1 with a per-source rate");
        }
        Ok(())
    }
}

/// Why the guard dropped a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    InvalidSource,
    BlockedPort,
    OwnPort,
    SourceRate,
    GlobalRate,
}

/// One token bucket as GCRA: the theoretical arrival time of the next
/// datagram, in nanoseconds since the guard's epoch.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Nanoseconds between datagrams at the average rate.
    interval: u64,
    /// How far ahead of now the arrival time may run: `(burst - 1) * interval`.
    tolerance: u64,
}

impl Bucket {
    fn new(rate: Rate, share: u32) -> Self {
        // Each of `share` workers gets its part of the rate and of the burst.
        let per_second = u64::from((rate.per_second / share).max(1));
        let burst = u64::from((rate.burst / share).max(1));
        let interval = 1_000_000_000 / per_second;
        Bucket {
            interval,
            tolerance: (burst - 1) * interval,
        }
    }

    /// Takes one token if there is one: updates `tat`, returns whether the
    /// datagram may be answered.
    fn take(&self, tat: &mut u64, now: u64) -> bool {
        let start = (*tat).max(now);
        if start - now > self.tolerance {
            return false;
        }
        *tat = start + self.interval;
        true
    }
}

/// One source in the table; `tat == 0` with `key == EMPTY` is a free slot.
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: [u8; 16],
    used: bool,
    tat: u64,
}

/// Ways of the set-associative source table.
const WAYS: usize = 4;

/// A worker's guard: the policy and the buckets' state.
pub(crate) struct Guard {
    policy: GuardPolicy,
    own_port: u16,
    epoch: Instant,
    source_bucket: Option<Bucket>,
    global_bucket: Option<Bucket>,
    global_tat: u64,
    /// `sets * WAYS` slots; a source hashes to one set.
    table: Vec<Slot>,
    sets: usize,
    /// Keyed with random keys, so a sender cannot aim at one set.
    hasher: std::collections::hash_map::RandomState,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("policy", &self.policy)
            .field("own_port", &self.own_port)
            .field("sets", &self.sets)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard for a server on `own_port` with `workers` workers (each gets
    /// its share of the global rate), starting at `now`.
    pub(crate) fn new(policy: GuardPolicy, own_port: u16, workers: usize, now: Instant) -> Self {
        let share = u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
        let (sets, table) = match policy.per_source {
            Some(_) => {
                let sets = policy.max_sources.div_ceil(WAYS).next_power_of_two();
                let empty = Slot {
                    key: [0; 16],
                    used: false,
                    tat: 0,
                };
                (sets, vec![empty; sets * WAYS])
            }
            None => (0, Vec::new()),
        };
        Guard {
            source_bucket: policy.per_source.map(|r| Bucket::new(r, 1)),
            global_bucket: policy.global.map(|r| Bucket::new(r, share)),
            policy,
            own_port,
            epoch: now,
            global_tat: 0,
            table,
            sets,
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Whether a datagram from `peer`, arriving at `now`, may be answered.
    pub(crate) fn check(&mut self, peer: SocketAddr, now: Instant) -> Result<(), DropReason> {
        let ip = peer.ip().to_canonical();
        let port = peer.port();
        if self.policy.invalid_sources && (port == 0 || !is_valid_source(ip)) {
            return Err(DropReason::InvalidSource);
        }
        if self.policy.own_port && port == self.own_port {
            return Err(DropReason::OwnPort);
        }
        if self.policy.is_port_blocked(port) {
            return Err(DropReason::BlockedPort);
        }
        if self.source_bucket.is_none() && self.global_bucket.is_none() {
            return Ok(());
        }
        if ip.is_loopback() && !self.policy.limit_loopback {
            return Ok(());
        }
        // Nanoseconds since the epoch; 1 at the epoch, so 0 means "never".
        let now = u64::try_from(now.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        if let Some(bucket) = self.source_bucket {
            let tat = self.source_tat(ip, now);
            if !bucket.take(tat, now) {
                return Err(DropReason::SourceRate);
            }
        }
        if let Some(bucket) = self.global_bucket {
            if !bucket.take(&mut self.global_tat, now) {
                return Err(DropReason::GlobalRate);
            }
        }
        Ok(())
    }

    /// The bucket state of `ip`, making room for it if it is new: a free
    /// way of its set, or else the way whose bucket is fullest (the
    /// earliest arrival time), which a sender held to its rate never is.
    fn source_tat(&mut self, ip: IpAddr, now: u64) -> &mut u64 {
        let key = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        let set = (self.hasher.hash_one(key) as usize) & (self.sets - 1);
        let ways = &mut self.table[set * WAYS..(set + 1) * WAYS];
        let mut victim = 0;
        for (i, slot) in ways.iter().enumerate() {
            if slot.used && slot.key == key {
                return &mut ways[i].tat;
            }
            if !slot.used || (ways[victim].used && slot.tat < ways[victim].tat) {
                victim = i;
            }
        }
        ways[victim] = Slot {
            key,
            used: true,
            tat: now,
        };
        &mut ways[victim].tat
    }
}

/// Whether `ip` (canonical: no IPv4-mapped form) can be a client's address.
fn is_valid_source(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_valid_v4(v4),
        IpAddr::V6(v6) => {
            let compat = v6.segments()[..6] == [0; 6];
            // ::/96 holds the unspecified address, ::1 and the deprecated
            // IPv4-compatible addresses; only ::1 is a real source.
            let deprecated = compat && v6 != Ipv6Addr::LOCALHOST;
            !(v6.is_multicast() || deprecated)
        }
    }
}

fn is_valid_v4(v4: Ipv4Addr) -> bool {
    let first = v4.octets()[0];
    first != 0 && !v4.is_multicast() && first < 240
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const OWN: u16 = 7007;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("a socket address")
    }

    fn guard(policy: GuardPolicy) -> (Guard, Instant) {
        let t0 = Instant::now();
        (Guard::new(policy, OWN, 1, t0), t0)
    }

    #[test]
    fn standard_policy_drops_sources_that_cannot_be_clients() {
        let (mut g, t) = guard(GuardPolicy::default());
        for bad in [
            "0.0.0.0:5000",
            "0.1.2.3:5000",
            "224.0.0.1:5000",
            "239.255.255.250:5000",
            "240.0.0.1:5000",
            "255.255.255.255:5000",
            "[::]:5000",
            "[ff02::1]:5000",
            "[::ffff:224.0.0.1]:5000",
            "[::ffff:255.255.255.255]:5000",
            "[::10.0.0.1]:5000",
            "192.0.2.1:0",
        ] {
            assert_eq!(
                g.check(addr(bad), t),
                Err(DropReason::InvalidSource),
                "{bad}"
            );
        }
        for good in [
            "192.0.2.1:40000",
            "127.0.0.1:40000",
            "[::1]:40000",
            "[2001:db8::1]:40000",
            "[::ffff:192.0.2.1]:40000",
        ] {
            assert_eq!(g.check(addr(good), t), Ok(()), "{good}");
        }
    }

    #[test]
    fn standard_policy_drops_answer_back_and_privileged_ports() {
        let (mut g, t) = guard(GuardPolicy::default());
        for port in ANSWER_BACK_PORTS.into_iter().chain([53, 123, 1023]) {
            let peer = SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), port);
            assert_eq!(g.check(peer, t), Err(DropReason::BlockedPort), "{port}");
        }
        for port in REFLECTOR_PORTS {
            let peer = SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), port);
            assert_eq!(g.check(peer, t), Err(DropReason::BlockedPort), "{port}");
        }
        assert_eq!(g.check(addr("192.0.2.1:1024"), t), Ok(()));
    }

    #[test]
    fn own_port_is_a_loop_from_any_address() {
        let (mut g, t) = guard(GuardPolicy::default());
        assert_eq!(g.check(addr("127.0.0.1:7007"), t), Err(DropReason::OwnPort));
        assert_eq!(g.check(addr("192.0.2.9:7007"), t), Err(DropReason::OwnPort));
        let (mut g, t) = guard(GuardPolicy::default().reject_own_port(false));
        assert_eq!(g.check(addr("192.0.2.9:7007"), t), Ok(()));
    }

    #[test]
    fn off_answers_everything() {
        let (mut g, t) = guard(GuardPolicy::off());
        for peer in ["0.0.0.0:0", "224.0.0.1:19", "127.0.0.1:7007", "[::]:7"] {
            assert_eq!(g.check(addr(peer), t), Ok(()), "{peer}");
        }
        for _ in 0..100_000 {
            assert_eq!(g.check(addr("192.0.2.1:40000"), t), Ok(()));
        }
    }

    #[test]
    fn per_source_bucket_allows_the_burst_then_the_rate() {
        let policy = GuardPolicy::off().per_source_rate(Rate::new(10, 5));
        let (mut g, t) = guard(policy);
        let a = addr("192.0.2.1:40000");
        for i in 0..5 {
            assert_eq!(g.check(a, t), Ok(()), "datagram {i} of the burst");
        }
        assert_eq!(g.check(a, t), Err(DropReason::SourceRate));
        // Another port of the same address shares the bucket.
        assert_eq!(
            g.check(addr("192.0.2.1:40001"), t),
            Err(DropReason::SourceRate)
        );
        // Another address has its own.
        assert_eq!(g.check(addr("192.0.2.2:40000"), t), Ok(()));
        // One interval (100 ms) later, one more token.
        let later = t + Duration::from_millis(100);
        assert_eq!(g.check(a, later), Ok(()));
        assert_eq!(g.check(a, later), Err(DropReason::SourceRate));
        // A second later, the bucket is full again: 5, not 10.
        let much_later = later + Duration::from_secs(2);
        let answered = (0..20).filter(|_| g.check(a, much_later).is_ok()).count();
        assert_eq!(answered, 5);
    }

    #[test]
    fn global_bucket_is_shared_by_all_sources_and_split_among_workers() {
        let policy = GuardPolicy::off().global_rate(Rate::new(100, 10));
        let (mut g, t) = guard(policy.clone());
        let answered = (0..50u8)
            .filter(|i| {
                let peer = SocketAddr::new(Ipv4Addr::new(192, 0, 2, *i).into(), 40000);
                g.check(peer, t).is_ok()
            })
            .count();
        assert_eq!(answered, 10);
        let t0 = Instant::now();
        let mut g = Guard::new(policy, OWN, 2, t0);
        let answered = (0..50)
            .filter(|_| g.check(addr("192.0.2.1:4000"), t0).is_ok())
            .count();
        assert_eq!(answered, 5);
    }

    #[test]
    fn loopback_is_exempt_from_rates_unless_asked() {
        let policy = GuardPolicy::off().per_source_rate(Rate::new(1, 1));
        let (mut g, t) = guard(policy.clone());
        for _ in 0..10 {
            assert_eq!(g.check(addr("127.0.0.1:40000"), t), Ok(()));
            assert_eq!(g.check(addr("[::1]:40000"), t), Ok(()));
        }
        let (mut g, t) = guard(policy.limit_loopback(true));
        assert_eq!(g.check(addr("127.0.0.1:40000"), t), Ok(()));
        assert_eq!(
            g.check(addr("127.0.0.1:40000"), t),
            Err(DropReason::SourceRate)
        );
    }

    #[test]
    fn a_flood_of_spoofed_sources_does_not_grow_the_table() {
        let policy = GuardPolicy::off()
            .per_source_rate(Rate::new(1, 1))
            .max_sources(64);
        let (mut g, t) = guard(policy);
        let len = g.table.len();
        assert_eq!(len, 64);
        for i in 0..100_000u32 {
            let peer = SocketAddr::new(Ipv4Addr::from(0x0a00_0000 + i).into(), 40000);
            assert_eq!(g.check(peer, t), Ok(()), "a new source has a full bucket");
        }
        assert_eq!(g.table.len(), len);
        assert_eq!(g.table.capacity(), len);
    }

    #[test]
    fn a_limited_source_keeps_its_slot_while_others_come_and_go() {
        // The flooder's bucket is in debt (latest arrival time), so the
        // fullest way is always someone else's.
        let policy = GuardPolicy::off()
            .per_source_rate(Rate::new(1, 2))
            .max_sources(4);
        let (mut g, t) = guard(policy);
        let flooder = addr("192.0.2.1:40000");
        assert_eq!(g.check(flooder, t), Ok(()));
        assert_eq!(g.check(flooder, t), Ok(()));
        assert_eq!(g.check(flooder, t), Err(DropReason::SourceRate));
        for i in 0..1000u32 {
            let other = SocketAddr::new(Ipv4Addr::from(0x0a00_0000 + i).into(), 40000);
            let _ = g.check(other, t + Duration::from_millis(u64::from(i)));
            assert_eq!(
                g.check(flooder, t + Duration::from_millis(u64::from(i))),
                Err(DropReason::SourceRate),
                "after {i} other sources"
            );
        }
    }

    #[test]
    fn policy_setters_and_validation() {
        let p = GuardPolicy::off().block_ports(ANSWER_BACK_PORTS);
        assert!(p.is_port_blocked(19) && p.is_port_blocked(37) && !p.is_port_blocked(53));
        let p = p.allow_ports([19]);
        assert!(!p.is_port_blocked(19));
        let p = GuardPolicy::default().blocked_ports([]);
        assert!(!p.is_port_blocked(53));
        assert!(GuardPolicy::default().validate().is_ok());
        assert!(GuardPolicy::strict().validate().is_ok());
        assert!(
            GuardPolicy::off()
                .per_source_rate(Rate::new(0, 1))
                .validate()
                .is_err()
        );
        assert!(
            GuardPolicy::off()
                .global_rate(Rate::new(1, 0))
                .validate()
                .is_err()
        );
        assert!(
            GuardPolicy::off()
                .per_source_rate(Rate::new(1, 1))
                .max_sources(0)
                .validate()
                .is_err()
        );
        let debug = format!("{:?}", GuardPolicy::default());
        assert!(debug.contains("0-1023, 1900, 2049"), "{debug}");
    }
}
