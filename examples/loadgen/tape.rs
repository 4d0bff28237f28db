//! Payload pattern: every message is a slice of one random tape.
//!
//! Message `m` of connection `c` starts at an offset that depends on both, so two consecutive
//! messages of a connection never carry the same bytes and a reordered, dropped or duplicated
//! byte shows up as a mismatch. Sending writes straight from the tape (no per-message
//! generation) and checking is one `memcmp`, which keeps the client cheap.

/// Number of distinct start offsets; prime, so `m * STRIDE` cycles through all of them.
const WINDOW: u64 = 4093;
/// Step between the start offsets of consecutive messages of one connection.
const STRIDE: u64 = 1021;

/// Immutable random bytes shared by every connection of a run.
#[derive(Debug)]
pub struct Tape {
    bytes: Vec<u8>,
    size: usize,
}

impl Tape {
    /// A tape for messages of `size` bytes.
    pub fn new(size: usize) -> Tape {
        let len = WINDOW as usize + size;
        let mut bytes = Vec::with_capacity(len + 8);
        let mut state = 0x5EED_0000_0000_0001_u64;
        while bytes.len() < len {
            state = splitmix64(state);
            bytes.extend_from_slice(&state.to_le_bytes());
        }
        bytes.truncate(len);
        Tape { bytes, size }
    }

    /// Message size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The bytes of message `msg` on connection `conn`.
    pub fn message(&self, conn: u64, msg: u64) -> &[u8] {
        let start = splitmix64(conn).wrapping_add(msg.wrapping_mul(STRIDE)) % WINDOW;
        let start = start as usize;
        &self.bytes[start..start + self.size]
    }

    /// Checks `data` against message `msg` of `conn` starting at byte `offset`.
    ///
    /// Returns the offset in the message of the first wrong byte.
    pub fn verify(&self, conn: u64, msg: u64, offset: usize, data: &[u8]) -> Result<(), usize> {
        let expected = &self.message(conn, msg)[offset..offset + data.len()];
        if expected == data {
            return Ok(());
        }
        let first = expected.iter().zip(data).position(|(a, b)| a != b);
        Err(offset + first.unwrap_or(0))
    }
}

/// SplitMix64 step: a cheap, well-mixed 64-bit hash.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
