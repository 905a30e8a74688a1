//! [`MemStorage`]: the in-memory backend, for CPU-only benchmarks.
//! Everything saved counts as durable: a simulated crash keeps it, as a disk would.

use super::{check_next, Recovered, Storage, StorageError, SyncPolicy};
use pinraft_engine::{Entry, HardState, Index};
use std::io;

/// A log and hard state kept in memory.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    hard_state: HardState,
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

    /// The durable log.
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
        for (expected, entry) in (entries_from..).zip(entries) {
            if expected == entries_from {
                check_next(entry, expected, entries_from, self.last_index())?;
                // Index i lives at position i - 1: the log starts at 1.
                self.entries.truncate((entries_from - 1) as usize);
            } else {
                check_next(entry, expected, entries_from, expected - 1)?;
            }
            self.entries.push(entry.clone());
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn sync_policy(&self) -> SyncPolicy {
        SyncPolicy::Always
    }

    fn recover(&mut self) -> Result<Recovered, StorageError> {
        Ok(Recovered { hard_state: self.hard_state, entries: self.entries.clone(), tail_cut: None })
    }

    fn last_index(&self) -> Index {
        self.entries.len() as Index
    }
}
