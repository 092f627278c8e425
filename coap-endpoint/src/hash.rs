//! A fast hasher keyed from the endpoint's seed, for the tables indexed by
//! peer address, message ID and token.
//!
//! The keys come from the network, so the hash is keyed (an attacker who
//! does not know the seed cannot aim collisions at one bucket), and it is
//! seeded rather than read from the OS so the machine stays deterministic.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Builds [`KeyedHasher`]s that share one secret key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyedState(u64);

impl KeyedState {
    pub(crate) fn new(key: u64) -> Self {
        Self(key | 1)
    }
}

impl BuildHasher for KeyedState {
    type Hasher = KeyedHasher;
    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher(self.0)
    }
}

/// Multiply-fold mixing of each word into the keyed state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyedHasher(u64);

const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let full = u128::from(a).wrapping_mul(u128::from(b));
    (full as u64) ^ ((full >> 64) as u64)
}

impl Hasher for KeyedHasher {
    #[inline]
    fn finish(&self) -> u64 {
        fold(self.0, MUL)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = fold(self.0 ^ i, MUL ^ self.0.rotate_left(23));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// A `HashMap` with the keyed hasher.
pub(crate) type Map<K, V> = HashMap<K, V, KeyedState>;

pub(crate) fn map<K, V>(key: u64) -> Map<K, V> {
    HashMap::with_hasher(KeyedState::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn h<T: Hash>(key: u64, v: T) -> u64 {
        KeyedState::new(key).hash_one(v)
    }

    #[test]
    fn different_keys_hash_differently() {
        assert_ne!(h(1, 42u16), h(2, 42u16));
        assert_eq!(h(1, 42u16), h(1, 42u16));
    }

    #[test]
    fn nearby_inputs_spread_over_buckets() {
        let mut low_bits = std::collections::HashSet::new();
        for mid in 0u16..1024 {
            low_bits.insert(h(99, mid) & 0x3ff);
        }
        assert!(
            low_bits.len() > 550,
            "only {} distinct buckets",
            low_bits.len()
        );
    }

    #[test]
    fn byte_slices_of_every_length_hash() {
        let all: Vec<u64> = (0..20).map(|n| h(5, &[7u8; 20][..n])).collect();
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
    }
}
