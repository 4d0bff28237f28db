//! SplitMix64: the small, deterministic generator behind toxicity and jitter.
//!
//! Sebastiano Vigna's SplitMix64 (public domain), as `java.util.SplittableRandom`
//! and the seeding of the xoshiro generators use it. Ten lines, no dependency:
//! the faults need a reproducible stream per connection, not cryptography or
//! a statistics suite, so a crate would cost more than it gives.

/// A SplitMix64 generator.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    /// The generator of connection `index` under `seed`: its stream depends
    /// on both and on nothing else, so connection 7 gets the same numbers
    /// whatever connections 0 to 6 drew.
    pub(crate) fn for_connection(seed: u64, index: u64) -> Self {
        SplitMix64(mix(seed) ^ mix(index.wrapping_add(Self::GAMMA)))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::GAMMA);
        mix(self.0)
    }

    /// A number in `[0, 1)`, from the top 53 bits.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `[0, max]`.
    pub(crate) fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(span) => self.next_u64() % span,
            None => self.next_u64(),
        }
    }
}

/// SplitMix64's output function (a bijection on `u64`).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_index_same_stream_others_differ() {
        let draw = |seed, index| {
            let mut rng = SplitMix64::for_connection(seed, index);
            [rng.next_u64(), rng.next_u64(), rng.next_u64()]
        };
        assert_eq!(draw(42, 7), draw(42, 7));
        assert_ne!(draw(42, 7), draw(42, 8));
        assert_ne!(draw(42, 7), draw(43, 7));
        // Neighbouring connections' streams do not overlap shifted by one.
        assert_ne!(draw(42, 7)[1], draw(42, 8)[0]);
    }

    #[test]
    fn floats_in_range_and_spread() {
        let mut rng = SplitMix64::for_connection(1, 0);
        let draws: Vec<f64> = (0..10_000).map(|_| rng.next_f64()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let below_half = draws.iter().filter(|&&x| x < 0.5).count();
        assert!((4_500..5_500).contains(&below_half), "{below_half}");
        assert!((0..1000).all(|_| rng.up_to(3) <= 3));
        assert_eq!(rng.up_to(0), 0);
    }
}
