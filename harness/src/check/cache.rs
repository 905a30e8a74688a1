//! The search's memory of explored configurations: (set of linearized operations, model
//! state) pairs, the cache of Lowe's algorithm.
//!
//! A lookup allocates nothing: the candidate set is the current set plus one operation,
//! hashed and compared in place. Sets live in one flat arena of words, states in another
//! vector, and a hash map from a configuration's 64-bit hash to its newest entry, entries of
//! equal hash chained. The search does one lookup per candidate it tries, several per new
//! configuration, so this is its hot path.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// No entry.
const NONE: usize = usize::MAX;

/// A fixed-size set of operation ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bits(Box<[u64]>);

impl Bits {
    /// The empty set of ids below `len`.
    pub(crate) fn new(len: usize) -> Self {
        Bits(vec![0; len.div_ceil(64)].into_boxed_slice())
    }

    pub(crate) fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    pub(crate) fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }

    /// The words of this set with `i` added.
    fn words_with(&self, i: usize) -> impl Iterator<Item = u64> + '_ {
        let (at, bit) = (i / 64, 1u64 << (i % 64));
        self.0.iter().enumerate().map(move |(n, &w)| if n == at { w | bit } else { w })
    }
}

/// FxHash (rustc's hasher) with a finalizer. SipHash's resistance to flooding buys nothing
/// here and costs a third of the search.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        for &byte in chunks.remainder() {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    /// MurmurHash3's fmix64: the multiply above leaves the low bits, which pick the bucket,
    /// blind to the high bits of the input.
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Passes an already mixed 64-bit hash through.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else in rather than panic.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The explored configurations.
pub(crate) struct Cache<S> {
    /// Words per set.
    width: usize,
    /// A configuration hash to the newest entry with it.
    newest: HashMap<u64, usize, BuildHasherDefault<IdentityHasher>>,
    /// The sets, `width` words per entry.
    sets: Vec<u64>,
    /// The states, one per entry.
    states: Vec<S>,
    /// The previous entry with the same hash, `NONE` for the first.
    older: Vec<usize>,
}

impl<S: Clone + Eq + Hash> Cache<S> {
    /// An empty cache for sets like `like`.
    pub(crate) fn new(like: &Bits) -> Self {
        let width = like.0.len();
        Cache { width, newest: HashMap::default(), sets: vec![], states: vec![], older: vec![] }
    }

    /// Records (`set` plus `op`, `state`); false if it was already there.
    pub(crate) fn insert(&mut self, set: &Bits, op: usize, state: &S) -> bool {
        let mut hasher = FxHasher::default();
        set.words_with(op).for_each(|w| hasher.write_u64(w));
        state.hash(&mut hasher);
        let hash = hasher.finish();
        let head = self.newest.get(&hash).copied().unwrap_or(NONE);
        let mut entry = head;
        while entry != NONE {
            let words = &self.sets[entry * self.width..(entry + 1) * self.width];
            if words.iter().copied().eq(set.words_with(op)) && self.states[entry] == *state {
                return false;
            }
            entry = self.older[entry];
        }
        self.newest.insert(hash, self.states.len());
        self.sets.extend(set.words_with(op));
        self.states.push(state.clone());
        self.older.push(head);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_configurations() {
        let mut set = Bits::new(130);
        let mut cache = Cache::new(&set);
        assert!(cache.insert(&set, 129, &"a"));
        assert!(!cache.insert(&set, 129, &"a"));
        assert!(cache.insert(&set, 129, &"b"));
        assert!(cache.insert(&set, 0, &"a"));
        set.set(0);
        assert!(!cache.insert(&set, 0, &"a"), "{{0}} plus 0 is {{0}}");
        assert!(cache.insert(&set, 129, &"a"));
        set.clear(0);
        assert!(!cache.insert(&set, 129, &"b"));
    }
}
