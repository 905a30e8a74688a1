//! The in-memory Raft log and what of it the runtime has yet to persist.

use crate::types::{Entry, Index, Term};
use std::ops::Range;

/// Entries per chunk of the log. A chunk is allocated once at this capacity and never
/// grows, so appending never copies the log: a single `Vec` of every entry doubles and
/// copies itself, and at a few million entries that copy stalled a 3-node cluster for
/// 100 ms and more (measured: throughput dips at exactly 2^20, 2^21, 2^22 entries).
const CHUNK: usize = 4_096;

/// The log: entries from index 1, plus the bookkeeping of what has been made durable.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// Entry `i` is `chunks[(i - 1) / CHUNK][(i - 1) % CHUNK]`.
    /// Invariant: every chunk but the last holds exactly `CHUNK` entries; entry `i` has
    /// index `i`; terms never decrease along the log.
    chunks: Vec<Vec<Entry>>,
    /// Invariant: the number of entries, which is the last index.
    len: Index,
    /// Invariant: `stable <= last_index()`. Entries through `stable` have been handed to
    /// the runtime in a `Ready` and acknowledged by `advance`.
    stable: Index,
    /// Invariant: `unsent_from <= last_index() + 1`. Entries from here on have not been
    /// handed to the runtime yet; a truncation moves it back to the cut.
    unsent_from: Index,
}

impl Log {
    pub(crate) fn new() -> Log {
        Log { chunks: Vec::new(), len: 0, stable: 0, unsent_from: 1 }
    }

    pub(crate) fn last_index(&self) -> Index {
        self.len
    }

    pub(crate) fn last_term(&self) -> Term {
        self.entry(self.len).map_or(0, |e| e.term)
    }

    /// The term of the entry at `index`: 0 for index 0, `None` past the end.
    pub(crate) fn term(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.entry(index).map(|e| e.term)
    }

    pub(crate) fn entry(&self, index: Index) -> Option<&Entry> {
        if index == 0 || index > self.len {
            return None;
        }
        let k = (index - 1) as usize;
        Some(&self.chunks[k / CHUNK][k % CHUNK])
    }

    /// The entries with indexes in `range`, clipped to the log, in order.
    pub(crate) fn iter(&self, range: Range<Index>) -> impl Iterator<Item = &Entry> + '_ {
        let end = range.end.min(self.len + 1);
        let start = range.start.clamp(1, end.max(1));
        (start..end).map(|i| {
            let k = (i - 1) as usize;
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
        debug_assert!(index >= 1);
        if index > self.len {
            return;
        }
        let k = (index - 1) as usize;
        self.chunks.truncate(k / CHUNK + 1);
        self.chunks[k / CHUNK].truncate(k % CHUNK);
        self.len = index - 1;
        self.stable = self.stable.min(index - 1);
        self.unsent_from = self.unsent_from.min(index);
    }

    /// The first index of the run of entries with the same term as the entry at `index`.
    pub(crate) fn first_index_of_term_at(&self, index: Index) -> Index {
        let term = self.term(index).unwrap_or(0);
        let mut first = index;
        while first > 1 && self.term(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// The last index whose entry has term `term`, if the log has any.
    pub(crate) fn last_index_of_term(&self, term: Term) -> Option<Index> {
        let mut index = self.len;
        while index > 0 {
            let t = self.term(index).expect("within the log");
            if t <= term {
                return (t == term).then_some(index);
            }
            index -= 1;
        }
        None
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
