//! The in-memory Raft log, what of it the runtime has yet to persist, and its compacted
//! prefix.

use crate::types::{Entry, Index, Term};
use std::ops::Range;

/// Entries per chunk of the log. A chunk is allocated once at this capacity and never
/// grows, so appending never copies the log: a single `Vec` of every entry doubles and
/// copies itself, and at a few million entries that copy stalled a 3-node cluster for
/// 100 ms and more (measured: throughput dips at exactly 2^20, 2^21, 2^22 entries).
/// Compaction is exact for reads but frees memory a whole chunk at a time, from the front.
const CHUNK: usize = 4_096;

/// The log: the entries after `offset` (those up to it were compacted into a snapshot),
/// plus the bookkeeping of what has been made durable.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// Entry `i` is `chunks[k / CHUNK][k % CHUNK]` with `k = i - base - 1`.
    /// Invariant: every chunk but the last holds exactly `CHUNK` entries; entry `i` has
    /// index `i`; terms never decrease along the log.
    chunks: Vec<Vec<Entry>>,
    /// Invariant: `base <= offset`. The index before the first entry physically held; the
    /// entries from here to `offset` wait for their chunk to be wholly compacted.
    base: Index,
    /// The index of the last entry compacted away (0: none). Entries up to it are gone;
    /// only its term is kept, for the consistency check of the entry after it.
    offset: Index,
    /// Invariant: the term of the entry at `offset` (0 when `offset` is 0).
    offset_term: Term,
    /// Invariant: the last index; `len >= offset`.
    len: Index,
    /// Invariant: `offset <= stable <= last_index()`. Entries through `stable` have been
    /// handed to the runtime in a `Ready` and acknowledged by `advance` (or are covered by
    /// a snapshot).
    stable: Index,
    /// Invariant: `offset < unsent_from <= last_index() + 1`. Entries from here on have not
    /// been handed to the runtime yet; a truncation moves it back to the cut.
    unsent_from: Index,
}

impl Log {
    pub(crate) fn new() -> Log {
        Log {
            chunks: Vec::new(),
            base: 0,
            offset: 0,
            offset_term: 0,
            len: 0,
            stable: 0,
            unsent_from: 1,
        }
    }

    pub(crate) fn last_index(&self) -> Index {
        self.len
    }

    pub(crate) fn last_term(&self) -> Term {
        self.term(self.len).expect("the last index is in the log or is its offset")
    }

    /// The first index still held (`last_index() + 1` when the log holds no entry).
    pub(crate) fn first_index(&self) -> Index {
        self.offset + 1
    }

    /// The term of the entry at `index`: 0 for index 0, `None` past the end or before the
    /// offset (compacted away).
    pub(crate) fn term(&self, index: Index) -> Option<Term> {
        if index == self.offset {
            return Some(self.offset_term);
        }
        self.entry(index).map(|e| e.term)
    }

    pub(crate) fn entry(&self, index: Index) -> Option<&Entry> {
        if index <= self.offset || index > self.len {
            return None;
        }
        let k = (index - self.base - 1) as usize;
        Some(&self.chunks[k / CHUNK][k % CHUNK])
    }

    /// The entries with indexes in `range`, clipped to what the log holds, in order.
    pub(crate) fn iter(&self, range: Range<Index>) -> impl Iterator<Item = &Entry> + '_ {
        let end = range.end.min(self.len + 1);
        let start = range.start.clamp(self.offset + 1, end.max(self.offset + 1));
        let base = self.base;
        (start..end).map(move |i| {
            let k = (i - base - 1) as usize;
            &self.chunks[k / CHUNK][k % CHUNK]
        })
    }

    pub(crate) fn push(&mut self, entry: Entry) {
        debug_assert_eq!(entry.index, self.last_index() + 1);
        debug_assert!(entry.term >= self.last_term());
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(entry),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(entry);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Removes every entry from `index` on (a conflicting suffix, section 5.3).
    pub(crate) fn truncate_from(&mut self, index: Index) {
        debug_assert!(index > self.offset);
        if index > self.len {
            return;
        }
        let k = (index - self.base - 1) as usize;
        self.chunks.truncate(k / CHUNK + 1);
        self.chunks[k / CHUNK].truncate(k % CHUNK);
        self.len = index - 1;
        self.stable = self.stable.min(index - 1);
        self.unsent_from = self.unsent_from.min(index);
    }

    /// Compacts the log through `index` (a snapshot covers it): entries up to it are no
    /// longer readable, and every chunk they wholly fill is freed. Never copies an entry.
    pub(crate) fn compact_to(&mut self, index: Index) {
        let index = index.min(self.len);
        if index <= self.offset {
            return;
        }
        self.offset_term = self.term(index).expect("within the log");
        self.offset = index;
        // A `Vec`, not a `VecDeque`: indexing is on every hot path, and this shift of a
        // few chunk headers happens once per snapshot.
        let whole = ((self.offset - self.base) / CHUNK as Index) as usize;
        let free = whole.min(self.chunks.len() - 1);
        self.chunks.drain(..free);
        self.base += (free * CHUNK) as Index;
        self.stable = self.stable.max(self.offset);
        self.unsent_from = self.unsent_from.max(self.offset + 1);
    }

    /// A snapshot through `index` is being handed to the runtime: the entries it covers
    /// need not be handed out too (the runtime makes the snapshot durable first), and count
    /// as durable once that `Ready` is performed.
    pub(crate) fn covered_by_snapshot(&mut self, index: Index) {
        self.stable = self.stable.max(index.min(self.len));
        self.unsent_from = self.unsent_from.max(index + 1);
    }

    /// Replaces the whole log by a snapshot's end: the log is empty and continues after
    /// `index`, whose term is `term` (section 7, when the follower's log does not hold the
    /// snapshot's last entry).
    pub(crate) fn reset(&mut self, index: Index, term: Term) {
        self.chunks.clear();
        self.base = index;
        self.offset = index;
        self.offset_term = term;
        self.len = index;
        self.stable = index;
        self.unsent_from = index + 1;
    }

    /// The first index of the run of entries with the same term as the entry at `index`
    /// (not reaching below the compacted prefix).
    pub(crate) fn first_index_of_term_at(&self, index: Index) -> Index {
        let term = self.term(index).unwrap_or(0);
        let mut first = index;
        while first > self.offset + 1 && self.term(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// The last index whose entry has term `term`, if the log has any (looking no further
    /// back than the compacted prefix's last entry).
    pub(crate) fn last_index_of_term(&self, term: Term) -> Option<Index> {
        let mut index = self.len;
        loop {
            let t = self.term(index).expect("within the log");
            if t <= term {
                return (t == term && index > 0).then_some(index);
            }
            if index == self.offset {
                return None;
            }
            index -= 1;
        }
    }

    /// Whether a log ending at (`index`, `term`) is at least as up-to-date as this one
    /// (section 5.4.1).
    pub(crate) fn is_up_to_date(&self, index: Index, term: Term) -> bool {
        (term, index) >= (self.last_term(), self.last_index())
    }

    /// The entries not yet handed to the runtime, marking them handed.
    pub(crate) fn take_unsent(&mut self) -> Range<Index> {
        let range = self.unsent_from..self.last_index() + 1;
        self.unsent_from = range.end;
        range
    }

    /// The runtime persisted the entries in `range` (as handed out by `take_unsent`).
    /// Entries replaced since then are not counted.
    pub(crate) fn mark_stable(&mut self, range: Range<Index>) {
        if range.is_empty() || self.stable + 1 < range.start {
            return;
        }
        let end = range.end.min(self.unsent_from);
        self.stable = self.stable.max(end - 1).min(self.last_index());
    }

    pub(crate) fn has_unsent(&self) -> bool {
        self.unsent_from <= self.last_index()
    }

    pub(crate) fn stable_index(&self) -> Index {
        self.stable
    }

    /// How many entries the log holds in memory (compacted ones waiting for their chunk
    /// included).
    pub(crate) fn held(&self) -> Index {
        self.len - self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Payload;

    fn log_with_terms(terms: &[Term]) -> Log {
        let mut log = Log::new();
        for (k, &term) in terms.iter().enumerate() {
            log.push(Entry { term, index: k as Index + 1, payload: Payload::Noop });
        }
        log
    }

    #[test]
    fn terms_and_slices() {
        let log = log_with_terms(&[1, 1, 2, 3]);
        assert_eq!((log.last_index(), log.last_term()), (4, 3));
        assert_eq!(log.term(0), Some(0));
        assert_eq!(log.term(3), Some(2));
        assert_eq!(log.term(5), None);
        let indexes: Vec<Index> = log.iter(2..9).map(|e| e.index).collect();
        assert_eq!(indexes, vec![2, 3, 4]);
        assert_eq!(log.iter(5..9).count(), 0);
        assert_eq!(log.iter(0..1).count(), 0);
    }

    #[test]
    fn term_runs() {
        let log = log_with_terms(&[1, 1, 2, 2, 2, 4]);
        assert_eq!(log.first_index_of_term_at(5), 3);
        assert_eq!(log.first_index_of_term_at(2), 1);
        assert_eq!(log.first_index_of_term_at(6), 6);
        assert_eq!(log.last_index_of_term(2), Some(5));
        assert_eq!(log.last_index_of_term(3), None);
        assert_eq!(log.last_index_of_term(4), Some(6));
    }

    #[test]
    fn up_to_date_compares_last_term_then_length() {
        let log = log_with_terms(&[1, 2, 2]);
        assert!(log.is_up_to_date(3, 2));
        assert!(log.is_up_to_date(1, 3));
        assert!(!log.is_up_to_date(2, 2));
        assert!(!log.is_up_to_date(9, 1));
    }

    #[test]
    fn chunks_hold_a_long_log_and_truncate_across_their_boundaries() {
        let n = 3 * CHUNK as Index + 5;
        let mut log = log_with_terms(&vec![1; n as usize]);
        assert_eq!(log.last_index(), n);
        assert_eq!(
            log.iter(1..n + 1).map(|e| e.index).collect::<Vec<_>>(),
            (1..=n).collect::<Vec<_>>()
        );
        assert_eq!(log.entry(CHUNK as Index + 1).map(|e| e.index), Some(CHUNK as Index + 1));
        for cut in [2 * CHUNK as Index + 1, CHUNK as Index + 7, CHUNK as Index + 1, 1] {
            log.truncate_from(cut);
            assert_eq!(log.last_index(), cut - 1);
            assert_eq!(log.entry(cut), None);
            log.push(Entry { term: 2, index: cut, payload: Payload::Noop });
            assert_eq!(log.term(cut), Some(2));
            assert_eq!(log.last_index_of_term(1), (cut > 1).then_some(cut - 1));
            log.truncate_from(cut);
        }
        assert_eq!(log.last_index(), 0);
    }

    // Section 7: compaction drops whole chunks covered by a snapshot and keeps the term of
    // the last entry dropped, so the entry after it still passes the consistency check.
    #[test]
    fn compaction_drops_whole_chunks_and_keeps_the_boundary_term() {
        let c = CHUNK as Index;
        let mut terms = vec![1; c as usize];
        terms.extend(vec![2; c as usize + 10]);
        let mut log = log_with_terms(&terms);
        let handed = log.take_unsent();
        log.mark_stable(handed);
        log.compact_to(c - 1);
        assert_eq!((log.first_index(), log.term(c - 1), log.term(c - 2)), (c, Some(1), None));
        assert_eq!(log.held(), 2 * c + 10, "the first chunk is not wholly covered yet");
        log.compact_to(c + 5);
        assert_eq!((log.first_index(), log.term(c + 5), log.term(c)), (c + 6, Some(2), None));
        assert_eq!(log.held(), c + 10, "the first chunk is freed");
        assert_eq!(log.entry(c + 5), None);
        assert_eq!(log.iter(1..c + 8).map(|e| e.index).collect::<Vec<_>>(), vec![c + 6, c + 7]);
        assert_eq!(log.last_index_of_term(2), Some(2 * c + 10));
        assert_eq!(log.last_index_of_term(1), None, "term 1 lies wholly in the snapshot");
        assert_eq!(log.first_index_of_term_at(c + 9), c + 6);
        log.compact_to(10 * c);
        assert_eq!(log.first_index(), 2 * c + 11, "compacted through the last entry");
        assert_eq!((log.held(), log.term(2 * c + 10), log.last_term()), (10, Some(2), 2));
        log.push(Entry { term: 3, index: 2 * c + 11, payload: Payload::Noop });
        assert_eq!(log.iter(0..3 * c).count(), 1);
    }

    #[test]
    fn a_reset_log_continues_after_the_snapshot() {
        let mut log = log_with_terms(&[1, 1, 2]);
        log.reset(9, 4);
        assert_eq!((log.last_index(), log.last_term(), log.first_index()), (9, 4, 10));
        assert_eq!((log.term(9), log.term(3), log.stable_index()), (Some(4), None, 9));
        assert!(log.is_up_to_date(9, 4));
        assert!(!log.is_up_to_date(20, 3));
        assert_eq!(log.take_unsent(), 10..10);
        log.push(Entry { term: 5, index: 10, payload: Payload::Noop });
        assert_eq!(log.take_unsent(), 10..11);
        assert_eq!(log.last_index_of_term(4), Some(9));
    }

    #[test]
    fn persistence_bookkeeping_survives_truncation() {
        let mut log = log_with_terms(&[1, 1, 1]);
        let handed = log.take_unsent();
        assert_eq!(handed, 1..4);
        log.mark_stable(handed);
        assert_eq!(log.stable_index(), 3);
        log.truncate_from(2);
        assert_eq!(log.stable_index(), 1);
        log.push(Entry { term: 2, index: 2, payload: Payload::Noop });
        assert_eq!(log.take_unsent(), 2..3);
        assert_eq!(log.take_unsent(), 3..3);
    }

    #[test]
    fn a_stale_persist_acknowledgement_does_not_count_replaced_entries() {
        let mut log = log_with_terms(&[1, 1, 1]);
        let handed = log.take_unsent();
        log.truncate_from(2);
        log.mark_stable(handed);
        assert_eq!(log.stable_index(), 1);
    }
}
