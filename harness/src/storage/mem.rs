//! [`MemStorage`]: the in-memory backend, for CPU-only benchmarks.
//! Everything saved counts as durable: a simulated crash keeps it, as a disk would.

use super::{after_snapshot, check_next, Recovered, Storage, StorageError, SyncPolicy};
use pinraft_engine::{Entry, HardState, Index, Snapshot};
use std::io;

/// A log and hard state kept in memory.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    hard_state: HardState,
    snapshot: Option<Snapshot>,
    /// Contiguous; from the snapshot's index + 1 (or index 1 without a snapshot).
    entries: Vec<Entry>,
    saves: u64,
}

impl MemStorage {
    /// An empty storage.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// How many `save` calls it has taken.
    pub fn saves(&self) -> u64 {
        self.saves
    }

    /// The durable snapshot.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// The durable log after the snapshot.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The durable hard state.
    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }
}

impl Storage for MemStorage {
    fn save(
        &mut self,
        hard_state: Option<HardState>,
        entries_from: Index,
        entries: &mut dyn Iterator<Item = &Entry>,
        _now_ns: u64,
    ) -> io::Result<()> {
        self.saves += 1;
        if let Some(hard_state) = hard_state {
            self.hard_state = hard_state;
        }
        if entries_from <= self.last_index() {
            let first = self.entries.first().map_or(entries_from, |e| e.index);
            self.entries.truncate(entries_from.saturating_sub(first) as usize);
        }
        for (expected, entry) in (entries_from..).zip(entries) {
            let last = if expected == entries_from { self.last_index() } else { expected - 1 };
            check_next(entry, expected, entries_from, last)?;
            self.entries.push(entry.clone());
        }
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        self.entries.retain(|e| e.index > snapshot.index);
        if self.entries.first().is_some_and(|e| e.index != snapshot.index + 1) {
            self.entries.clear();
        }
        self.snapshot = Some(snapshot.clone());
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn sync_policy(&self) -> SyncPolicy {
        SyncPolicy::Always
    }

    fn recover(&mut self) -> Result<Recovered, StorageError> {
        let mut entries = self.entries.clone();
        if let Some(s) = &self.snapshot {
            after_snapshot(&mut entries, s.index).map_err(|reason| StorageError::Corrupt {
                segment: "memory".into(),
                offset: 0,
                reason,
            })?;
        }
        Ok(Recovered {
            hard_state: self.hard_state,
            snapshot: self.snapshot.clone(),
            entries,
            tail_cut: None,
        })
    }

    fn last_index(&self) -> Index {
        let base = self.snapshot.as_ref().map_or(0, |s| s.index);
        self.entries.last().map_or(base, |e| e.index)
    }
}
