//! The raft-rs adapter's log: a `raft::Storage` in memory that neither copies nor moves
//! more than it must. raft-rs's own `MemStorage` falls short twice. Its `entries` clones the
//! whole range asked for and then cuts it to `max_size`, so a leader whose follower lags by
//! `n` entries copies `n` entries for every append it sends. And it keeps one `Vec` of
//! entries, which doubles and copies itself as the log grows: measured here at 1024
//! clients, node threads stalled for 124, 200, 346 and 448 ms as the log passed successive
//! powers of two, and followers started elections with no fault at all, even with 1-2 s
//! timeouts (pinraft's own log had the same stall until it moved to chunks, README's design
//! notes). TiKV keeps its own entry cache for the same reasons; this store is the in-memory
//! equivalent, so a comparison measures raft-rs's protocol, not a test store's copying.

use parking_lot::Mutex;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError};
use std::sync::Arc;

/// The log (from index 1: this store never compacts), the hard state and the voters,
/// shared by the `RawNode` that reads it and the adapter that writes it on the same thread;
/// the lock is never contended.
#[derive(Clone, Default)]
pub(super) struct LogStore {
    core: Arc<Mutex<Core>>,
}

/// Entries per chunk: a chunk is allocated once, at this capacity, and never moves.
const CHUNK_ENTRIES: usize = 4_096;

#[derive(Default)]
struct Core {
    hard_state: HardState,
    conf_state: ConfState,
    /// The log in chunks of [`CHUNK_ENTRIES`]. Invariant: every chunk but the last is full,
    /// and the entry at position `k` of the whole log has index `k + 1`.
    chunks: Vec<Vec<Entry>>,
    /// Entries in all chunks.
    len: usize,
}

impl Core {
    fn get(&self, index: u64) -> &Entry {
        let k = index as usize - 1;
        &self.chunks[k / CHUNK_ENTRIES][k % CHUNK_ENTRIES]
    }

    /// Drops every entry from position `len` on.
    fn truncate(&mut self, len: usize) {
        self.chunks.truncate(len.div_ceil(CHUNK_ENTRIES));
        let full = self.chunks.len().saturating_sub(1) * CHUNK_ENTRIES;
        if let Some(last) = self.chunks.last_mut() {
            last.truncate(len - full);
        }
        self.len = len;
    }

    fn push(&mut self, entry: Entry) {
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK_ENTRIES) {
            self.chunks.push(Vec::with_capacity(CHUNK_ENTRIES));
        }
        self.chunks.last_mut().expect("just ensured").push(entry);
        self.len += 1;
    }
}

/// The size raft-rs's message limits count for an entry: its payload and a few bytes of
/// framing (raft-rs uses the protobuf encoding, which differs by a few bytes).
fn entry_bytes(e: &Entry) -> u64 {
    (e.data.len() + e.context.len()) as u64 + 16
}

impl LogStore {
    /// An empty log with `voters`.
    pub(super) fn new(voters: Vec<u64>) -> LogStore {
        let store = LogStore::default();
        store.core.lock().conf_state = ConfState::from((voters, Vec::<u64>::new()));
        store
    }

    /// Appends `entries`, first dropping any entry at or after the first one's index (a new
    /// leader's entries replace a conflicting suffix).
    pub(super) fn append(&self, entries: &[Entry]) {
        let Some(first) = entries.first() else {
            return;
        };
        let mut core = self.core.lock();
        assert!(
            first.index >= 1 && first.index <= core.len as u64 + 1,
            "raft-rs appends contiguously: entry {} after a log ending at {}",
            first.index,
            core.len
        );
        core.truncate(first.index as usize - 1);
        for entry in entries {
            debug_assert_eq!(entry.index, core.len as u64 + 1, "contiguous entries");
            core.push(entry.clone());
        }
    }

    /// Makes `hard_state` the durable one.
    pub(super) fn set_hard_state(&self, hard_state: HardState) {
        self.core.lock().hard_state = hard_state;
    }

    /// Records a new commit index in the hard state.
    pub(super) fn set_commit(&self, commit: u64) {
        self.core.lock().hard_state.commit = commit;
    }
}

impl raft::Storage for LogStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let core = self.core.lock();
        Ok(RaftState { hard_state: core.hard_state.clone(), conf_state: core.conf_state.clone() })
    }

    /// Entries `[low, high)`, cut to `max_size` bytes but never to none, cloning only those
    /// handed out.
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let core = self.core.lock();
        if low == 0 {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > core.len as u64 + 1 || low > high {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let max = max_size.into().unwrap_or(u64::MAX);
        let (mut out, mut size) = (Vec::new(), 0);
        for index in low..high {
            let entry = core.get(index);
            size += entry_bytes(entry);
            if size > max && !out.is_empty() {
                break;
            }
            out.push(entry.clone());
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let core = self.core.lock();
        match idx {
            0 => Ok(0),
            i if i <= core.len as u64 => Ok(core.get(i).term),
            _ => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.core.lock().len as u64)
    }

    /// Never asked for: the log is never compacted, so every follower catches up from it.
    fn snapshot(&self, _request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        Err(raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::Storage;

    fn entry(index: u64, term: u64, bytes: usize) -> Entry {
        Entry { index, term, data: vec![7; bytes].into(), ..Entry::default() }
    }

    #[test]
    fn entries_are_cut_to_the_size_limit_but_never_to_none() {
        let store = LogStore::new(vec![1, 2, 3]);
        store.append(&(1..=10).map(|i| entry(i, 1, 84)).collect::<Vec<_>>());
        let ctx = GetEntriesContext::empty(false);
        assert_eq!(store.entries(1, 11, None, ctx).unwrap().len(), 10);
        let ctx = GetEntriesContext::empty(false);
        assert_eq!(store.entries(3, 11, 300, ctx).unwrap().len(), 3, "100 bytes each");
        let ctx = GetEntriesContext::empty(false);
        assert_eq!(store.entries(3, 11, 1, ctx).unwrap().len(), 1, "at least one");
        let ctx = GetEntriesContext::empty(false);
        assert!(store.entries(3, 12, None, ctx).is_err(), "past the end");
        assert_eq!((store.first_index().unwrap(), store.last_index().unwrap()), (1, 10));
    }

    #[test]
    fn the_log_spans_chunks_and_is_cut_across_them() {
        let store = LogStore::new(vec![1]);
        let n = 2 * CHUNK_ENTRIES as u64 + 10;
        store.append(&(1..=n).map(|i| entry(i, 1, 1)).collect::<Vec<_>>());
        assert_eq!(store.last_index().unwrap(), n);
        let ctx = GetEntriesContext::empty(false);
        let got = store.entries(CHUNK_ENTRIES as u64 - 1, CHUNK_ENTRIES as u64 + 3, None, ctx);
        let got: Vec<u64> = got.unwrap().iter().map(|e| e.index).collect();
        assert_eq!(got, (CHUNK_ENTRIES as u64 - 1..CHUNK_ENTRIES as u64 + 3).collect::<Vec<_>>());
        let cut = CHUNK_ENTRIES as u64 + 1;
        store.append(&[entry(cut, 2, 1)]);
        assert_eq!(store.last_index().unwrap(), cut);
        assert_eq!((store.term(cut - 1).unwrap(), store.term(cut).unwrap()), (1, 2));
        store.append(&[entry(cut + 1, 2, 1)]);
        assert_eq!(store.term(cut + 1).unwrap(), 2);
    }

    #[test]
    fn an_append_replaces_a_conflicting_suffix() {
        let store = LogStore::new(vec![1]);
        store.append(&(1..=5).map(|i| entry(i, 1, 1)).collect::<Vec<_>>());
        store.append(&[entry(3, 2, 1), entry(4, 2, 1)]);
        assert_eq!(store.last_index().unwrap(), 4);
        assert_eq!((store.term(2).unwrap(), store.term(3).unwrap()), (1, 2));
        assert_eq!(store.term(0).unwrap(), 0);
        assert!(store.term(5).is_err());
    }
}
