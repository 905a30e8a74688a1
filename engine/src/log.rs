//! The in-memory Raft log and what of it the runtime has yet to persist.

use crate::types::{Entry, Index, Term};
use std::ops::Range;

/// The log: entries from index 1, plus the bookkeeping of what has been made durable.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// Entry `i` is `entries[i - 1]`.
    /// Invariant: `entries[k].index == k + 1`, and terms never decrease along the log.
    entries: Vec<Entry>,
    /// Invariant: `stable <= last_index()`. Entries through `stable` have been handed to
    /// the runtime in a `Ready` and acknowledged by `advance`.
    stable: Index,
    /// Invariant: `unsent_from <= last_index() + 1`. Entries from here on have not been
    /// handed to the runtime yet; a truncation moves it back to the cut.
    unsent_from: Index,
}

impl Log {
    pub(crate) fn new() -> Log {
        Log { entries: Vec::new(), stable: 0, unsent_from: 1 }
    }

    pub(crate) fn last_index(&self) -> Index {
        self.entries.len() as Index
    }

    pub(crate) fn last_term(&self) -> Term {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// The term of the entry at `index`: 0 for index 0, `None` past the end.
    pub(crate) fn term(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.entries.get(index as usize - 1).map(|e| e.term)
    }

    /// The entries with indexes in `range`, clipped to the log.
    pub(crate) fn slice(&self, range: Range<Index>) -> &[Entry] {
        let end = range.end.min(self.last_index() + 1);
        let start = range.start.clamp(1, end.max(1));
        &self.entries[start as usize - 1..end as usize - 1]
    }

    pub(crate) fn entry(&self, index: Index) -> Option<&Entry> {
        index.checked_sub(1).and_then(|k| self.entries.get(k as usize))
    }

    pub(crate) fn push(&mut self, entry: Entry) {
        debug_assert_eq!(entry.index, self.last_index() + 1);
        debug_assert!(entry.term >= self.last_term());
        self.entries.push(entry);
    }

    /// Removes every entry from `index` on (a conflicting suffix, section 5.3).
    pub(crate) fn truncate_from(&mut self, index: Index) {
        debug_assert!(index >= 1);
        self.entries.truncate(index as usize - 1);
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
        self.entries
            .iter()
            .rev()
            .skip_while(|e| e.term > term)
            .find(|e| e.term == term)
            .map(|e| e.index)
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
        let indexes: Vec<Index> = log.slice(2..9).iter().map(|e| e.index).collect();
        assert_eq!(indexes, vec![2, 3, 4]);
        assert!(log.slice(5..9).is_empty());
        assert!(log.slice(0..1).is_empty());
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
