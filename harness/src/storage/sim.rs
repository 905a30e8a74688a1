//! [`SimStorage`]: the simulator's storage, a disk in memory that keeps what was synced
//! apart from what was only written, so a simulated crash loses exactly the unsynced part.
//!
//! The log is kept as bytes in the WAL's record framing (`records.rs`: length, crc32c,
//! [`super::codec`] payload), and recovery goes through the same scan and tail repair as
//! [`super::Wal`]: a torn or corrupt last record is cut, damage anywhere else is
//! [`StorageError::Corrupt`]. The hard state is replaced atomically, as the WAL's hard-state
//! file is: after a crash it is the last synced one, old or new, never a mix.
//!
//! Time is the caller's: [`SimStorage::write`] writes and says what the policy requires to
//! be synced before the save counts as done; the simulator lets a virtual fsync latency pass
//! and then calls [`SimStorage::complete`]. A crash in between ([`SimStorage::crash`]) loses
//! the writes, and may tear the last unsynced record or flip a bit in it ([`CrashDamage`]):
//! damage only ever touches what was never synced, as on a disk that honours fsync. Records
//! that reach the disk that way bring the hard state written with them, which the WAL
//! makes durable before it writes a record.
//! [`Storage::save`] is `write` and `complete` at once.

use super::hard_state;
use super::records::{append_record, claimed_len, scan_records, RECORD_HEADER_LEN};
use super::{after_snapshot, check_next, Recovered, Storage, StorageError, SyncPolicy, TailCut};
use bytes::Bytes;
use pinraft_engine::{Entry, HardState, Index, Snapshot};
use serde::Serialize;
use std::io;
use std::path::PathBuf;

/// The file name a simulated log reports in a [`TailCut`] or a [`StorageError::Corrupt`].
pub const SIM_LOG_NAME: &str = "sim.log";

/// What a crash does to the writes that were not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashDamage {
    /// They are lost, and nothing else is.
    Clean,
    /// They reach the disk, but the last record is cut short: it keeps `1 + r mod (len - 1)`
    /// of its `len` bytes.
    Torn(u64),
    /// They reach the disk whole, with bit `r mod (8 len)` of the last record flipped.
    BitFlip(u64),
}

/// What the policy requires a save to make durable before it counts as done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncDue {
    /// The hard state written must be synced.
    pub hard_state: bool,
    /// The log written must be synced.
    pub log: bool,
    /// The snapshot written must be synced.
    pub snapshot: bool,
}

impl SyncDue {
    /// Whether anything must be synced.
    pub fn any(self) -> bool {
        self.hard_state || self.log || self.snapshot
    }
}

/// What a [`SimStorage`] did, summed over its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SimStorageStats {
    /// Saves (writes of a hard state, entries or both).
    pub saves: u64,
    /// Syncs completed (one covers every write before it: group commit).
    pub syncs: u64,
    /// Bytes written: log records and hard states.
    pub bytes_written: u64,
    /// Recoveries that cut a torn or corrupt last record.
    pub tail_cuts: u64,
    /// Log entries written but not synced when a crash came, that recovery did not find.
    pub entries_lost: u64,
}

impl SimStorageStats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &SimStorageStats) {
        self.saves += other.saves;
        self.syncs += other.syncs;
        self.bytes_written += other.bytes_written;
        self.tail_cuts += other.tail_cuts;
        self.entries_lost += other.entries_lost;
    }
}

/// A simulated disk holding one node's hard state and log. See the module docs.
#[derive(Clone, Debug)]
pub struct SimStorage {
    policy: SyncPolicy,
    /// The hard state a crash keeps.
    durable_hard_state: HardState,
    /// The hard state last written.
    hard_state: HardState,
    /// The snapshot a crash keeps.
    durable_snapshot: Option<Snapshot>,
    /// The snapshot last written (replaced whole, like the WAL's snapshot file).
    snapshot: Option<Snapshot>,
    /// The log a crash keeps: framed records from index `durable_base + 1`.
    durable: Vec<u8>,
    /// The index before the durable log's first record.
    durable_base: Index,
    /// The index before the written log's first record (a snapshot past the end of the log
    /// restarts it).
    base: Index,
    /// The log as written is `durable[..keep]` followed by `tail`.
    /// Invariant: `keep <= durable.len()`.
    keep: usize,
    tail: Vec<u8>,
    /// The byte offset in the written log of each record: index `i` at position
    /// `i - base - 1`.
    offsets: Vec<usize>,
    last_sync_ns: Option<u64>,
    /// Crashed and not recovered since: writes are refused.
    crashed: bool,
    stats: SimStorageStats,
}

impl SimStorage {
    /// An empty disk with the given fsync policy.
    pub fn new(policy: SyncPolicy) -> SimStorage {
        SimStorage {
            policy,
            durable_hard_state: HardState::default(),
            hard_state: HardState::default(),
            durable_snapshot: None,
            snapshot: None,
            durable: Vec::new(),
            durable_base: 0,
            base: 0,
            keep: 0,
            tail: Vec::new(),
            offsets: Vec::new(),
            last_sync_ns: None,
            crashed: false,
            stats: SimStorageStats::default(),
        }
    }

    /// What it did so far.
    pub fn stats(&self) -> SimStorageStats {
        self.stats
    }

    /// Writes `snapshot` without syncing it (it is synced with the next save, or at once by
    /// [`Storage::save_snapshot`]). A snapshot past the end of the written log restarts the
    /// log after it; entries it covers in a longer log stay and are skipped at recovery.
    pub fn write_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        if self.crashed {
            return Err(io::Error::other("the simulated disk crashed: recover it first"));
        }
        self.stats.bytes_written += snapshot.data.len() as u64;
        if self.last_index() < snapshot.index {
            self.keep = 0;
            self.tail.clear();
            self.offsets.clear();
            self.base = snapshot.index;
        }
        self.snapshot = Some(snapshot.clone());
        Ok(())
    }

    /// Writes `hard_state` (when `Some`) and `entries` without syncing anything, and says
    /// what the policy requires to be synced (then [`SimStorage::complete`]) before the save
    /// is done. The arguments are [`Storage::save`]'s.
    pub fn write(
        &mut self,
        hard_state: Option<HardState>,
        entries_from: Index,
        entries: &mut dyn Iterator<Item = &Entry>,
        now_ns: u64,
    ) -> io::Result<SyncDue> {
        if self.crashed {
            return Err(io::Error::other("the simulated disk crashed: recover it first"));
        }
        self.stats.saves += 1;
        if let Some(hard_state) = hard_state {
            self.hard_state = hard_state;
            self.stats.bytes_written += hard_state::LEN as u64;
        }
        if entries_from <= self.base {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("save from index {entries_from}: the snapshot covers up to {}", self.base),
            ));
        }
        if entries_from <= self.last_index() {
            self.truncate_from(entries_from);
        }
        for (expected, entry) in (entries_from..).zip(entries) {
            let last = if expected == entries_from { self.last_index() } else { expected - 1 };
            check_next(entry, expected, entries_from, last)?;
            let start = self.tail.len();
            self.offsets.push(self.keep + start);
            append_record(entry, &mut self.tail);
            self.stats.bytes_written += (self.tail.len() - start) as u64;
        }
        let hard_state_unsynced = self.hard_state != self.durable_hard_state;
        let log_unsynced = self.keep != self.durable.len() || !self.tail.is_empty();
        // A snapshot is synced before its `Ready` is done, as the WAL's save_snapshot does.
        let snapshot_unsynced = self.snapshot != self.durable_snapshot;
        let due = match self.policy {
            SyncPolicy::Always => SyncDue {
                hard_state: hard_state_unsynced,
                log: log_unsynced,
                snapshot: snapshot_unsynced,
            },
            SyncPolicy::Interval { interval_ns } => SyncDue {
                hard_state: hard_state_unsynced,
                log: log_unsynced
                    && self
                        .last_sync_ns
                        .is_none_or(|last| now_ns.saturating_sub(last) >= interval_ns),
                snapshot: snapshot_unsynced,
            },
            SyncPolicy::Never => SyncDue::default(),
        };
        if due.log {
            self.last_sync_ns = Some(now_ns);
        }
        Ok(due)
    }

    /// The fsync of a save is done: what `due` names is durable now.
    pub fn complete(&mut self, due: SyncDue) {
        if due.hard_state {
            self.durable_hard_state = self.hard_state;
        }
        if due.snapshot {
            self.durable_snapshot = self.snapshot.clone();
        }
        if due.log {
            self.write_back();
        }
        self.stats.syncs += u64::from(due.any());
    }

    /// The written log reaches the disk.
    fn write_back(&mut self) {
        self.durable.truncate(self.keep);
        self.durable.append(&mut self.tail);
        self.keep = self.durable.len();
        self.durable_base = self.base;
    }

    /// Drops the written entries at or after `from` (the engine rewrote its log there).
    fn truncate_from(&mut self, from: Index) {
        let Some(position) = from.checked_sub(self.base + 1) else { return };
        let Some(&offset) = self.offsets.get(position as usize) else { return };
        self.offsets.truncate(position as usize);
        if offset >= self.keep {
            self.tail.truncate(offset - self.keep);
        } else {
            self.keep = offset;
            self.tail.clear();
        }
    }

    /// The machine stops: every write not synced is lost, except what `damage` lets reach
    /// the disk. Returns how many written entries recovery will not find. Until
    /// [`Storage::recover`], writes are refused.
    pub fn crash(&mut self, damage: CrashDamage) -> u64 {
        let tail_from = self.offsets.partition_point(|&offset| offset < self.keep);
        let tail_records = (self.offsets.len() - tail_from) as u64;
        // The last record starts here in `tail`, when the tail holds one.
        let last = self.offsets.last().filter(|_| tail_records > 0).map(|&at| at - self.keep);
        if damage != CrashDamage::Clean && last.is_some() {
            // The records reached the disk, so the hard state and snapshot written before
            // them did too: a save makes those durable before it writes a record (`wal.rs`).
            self.durable_hard_state = self.hard_state;
            self.durable_snapshot = self.snapshot.clone();
        }
        let lost = match (damage, last) {
            (CrashDamage::Clean, _) | (_, None) => tail_records,
            (CrashDamage::Torn(r), Some(start)) => {
                let len = (self.tail.len() - start) as u64;
                self.tail.truncate(start + 1 + (r % (len - 1)) as usize);
                self.write_back();
                1
            }
            (CrashDamage::BitFlip(r), Some(start)) => {
                let bit = r % (8 * (self.tail.len() - start) as u64);
                self.tail[start + (bit / 8) as usize] ^= 1 << (bit % 8);
                self.write_back();
                1
            }
        };
        self.hard_state = self.durable_hard_state;
        self.snapshot = self.durable_snapshot.clone();
        self.base = self.durable_base;
        self.tail.clear();
        self.keep = self.durable.len();
        self.offsets.clear();
        self.crashed = true;
        self.stats.entries_lost += lost;
        lost
    }

    /// The durable snapshot's index (0: none) and the durable log after it, as recovery
    /// would read them (up to any damage), without repairing anything.
    pub fn durable_log(&self) -> (Index, Vec<Entry>) {
        let mut entries = Vec::new();
        // On corruption, `entries` holds what came before it: the records a reader can trust.
        let _ = scan_records(&Bytes::copy_from_slice(&self.durable), 0, true, &mut entries);
        let snapshot_index = self.durable_snapshot.as_ref().map_or(0, |s| s.index);
        entries.retain(|e| e.index > snapshot_index);
        if entries.first().is_some_and(|e| e.index != snapshot_index + 1) {
            entries.clear();
        }
        (snapshot_index, entries)
    }
}

impl Storage for SimStorage {
    fn save(
        &mut self,
        hard_state: Option<HardState>,
        entries_from: Index,
        entries: &mut dyn Iterator<Item = &Entry>,
        now_ns: u64,
    ) -> io::Result<()> {
        let due = self.write(hard_state, entries_from, entries, now_ns)?;
        self.complete(due);
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        self.write_snapshot(snapshot)?;
        if self.policy != SyncPolicy::Never {
            self.complete(SyncDue { snapshot: true, ..SyncDue::default() });
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.crashed {
            return Err(io::Error::other("the simulated disk crashed: recover it first"));
        }
        let hard_state = self.hard_state != self.durable_hard_state;
        let log = self.keep != self.durable.len() || !self.tail.is_empty();
        let snapshot = self.snapshot != self.durable_snapshot;
        self.complete(SyncDue { hard_state, log, snapshot });
        Ok(())
    }

    fn sync_policy(&self) -> SyncPolicy {
        self.policy
    }

    /// The durable hard state and log. After a crash this is a restart's recovery: a torn
    /// or corrupt last record is cut from the disk (and counted); on a live disk everything
    /// written is synced first, as [`super::Wal`] does.
    fn recover(&mut self) -> Result<Recovered, StorageError> {
        if !self.crashed {
            self.sync()?;
        }
        let bytes = Bytes::copy_from_slice(&self.durable);
        let mut entries = Vec::new();
        let scanned = scan_records(&bytes, 0, true, &mut entries).map_err(|damage| {
            StorageError::Corrupt {
                segment: PathBuf::from(SIM_LOG_NAME),
                offset: damage.offset as u64,
                reason: damage.reason,
            }
        })?;
        let tail_cut = scanned.torn.map(|reason| {
            self.stats.tail_cuts += 1;
            TailCut {
                segment: PathBuf::from(SIM_LOG_NAME),
                offset: scanned.valid_len as u64,
                bytes: (self.durable.len() - scanned.valid_len) as u64,
                reason: reason.to_string(),
            }
        });
        self.durable.truncate(scanned.valid_len);
        let corrupt = |reason| StorageError::Corrupt {
            segment: PathBuf::from(SIM_LOG_NAME),
            offset: 0,
            reason,
        };
        self.durable_base = entries.first().map_or(self.durable_base, |e| e.index - 1);
        match &self.durable_snapshot {
            Some(s) if entries.last().map_or(self.durable_base, |e| e.index) < s.index => {
                // Every record lies below the snapshot: the log continues after it.
                entries.clear();
                self.durable.clear();
                self.durable_base = s.index;
            }
            Some(s) => after_snapshot(&mut entries, s.index).map_err(corrupt)?,
            None if entries.first().is_some_and(|e| e.index != 1) => {
                return Err(corrupt("the log does not start at index 1".into()));
            }
            None => {}
        }
        self.base = self.durable_base;
        self.snapshot = self.durable_snapshot.clone();
        self.keep = self.durable.len();
        self.offsets.clear();
        let mut at = 0;
        while at < self.durable.len() {
            self.offsets.push(at);
            at += RECORD_HEADER_LEN + claimed_len(&self.durable, at).expect("a scanned record");
        }
        self.crashed = false;
        Ok(Recovered {
            hard_state: self.durable_hard_state,
            snapshot: self.durable_snapshot.clone(),
            entries,
            tail_cut,
        })
    }

    fn last_index(&self) -> Index {
        self.base + self.offsets.len() as Index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;
    use pinraft_engine::{ClientRequest, Op, Payload};
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    fn entry(index: Index, term: u64) -> Entry {
        let op = Op::Put {
            key: Bytes::from(format!("k{index}")),
            value: Bytes::from(vec![index as u8; 8]),
        };
        let request = ClientRequest { client: 1, seq: index, op };
        Entry { term, index, payload: Payload::Request(Arc::new(request)) }
    }

    fn batch(from: Index, to: Index, term: u64) -> Vec<Entry> {
        (from..=to).map(|i| entry(i, term)).collect()
    }

    fn hs(term: u64, vote: u64) -> Option<HardState> {
        Some(HardState { term, vote })
    }

    fn write(s: &mut SimStorage, hard_state: Option<HardState>, entries: &[Entry]) -> SyncDue {
        let from = entries.first().map_or(s.last_index() + 1, |e| e.index);
        s.write(hard_state, from, &mut entries.iter(), 0).unwrap()
    }

    fn indexes(r: &Recovered) -> Vec<(Index, u64)> {
        r.entries.iter().map(|e| (e.index, e.term)).collect()
    }

    #[test]
    fn a_synced_save_survives_a_crash_and_an_unsynced_one_does_not() {
        let mut s = SimStorage::new(SyncPolicy::Always);
        s.save(hs(1, 1), 1, &mut batch(1, 3, 1).iter(), 0).unwrap();
        let due = write(&mut s, hs(2, 0), &batch(4, 5, 2));
        assert_eq!(due, SyncDue { hard_state: true, log: true, snapshot: false });
        assert_eq!(s.last_index(), 5);
        assert_eq!(s.crash(CrashDamage::Clean), 2);
        let r = s.recover().unwrap();
        assert_eq!(r.hard_state, HardState { term: 1, vote: 1 });
        assert_eq!(indexes(&r), [(1, 1), (2, 1), (3, 1)]);
        assert_eq!(r.tail_cut, None);
        assert_eq!(r.entries, batch(1, 3, 1));
        assert_eq!(s.last_index(), 3);
        let stats = s.stats();
        assert_eq!((stats.saves, stats.syncs, stats.entries_lost), (2, 1, 2));

        // Once completed, the same write survives.
        let due = write(&mut s, hs(2, 0), &batch(4, 5, 2));
        s.complete(due);
        assert_eq!(s.crash(CrashDamage::Clean), 0);
        let r = s.recover().unwrap();
        assert_eq!((r.hard_state.term, r.entries.len()), (2, 5));
    }

    #[test]
    fn the_hard_state_is_the_old_or_the_new_one() {
        let mut s = SimStorage::new(SyncPolicy::Always);
        s.save(hs(3, 2), 1, &mut std::iter::empty(), 0).unwrap();
        let due = write(&mut s, hs(4, 1), &[]);
        assert_eq!(due, SyncDue { hard_state: true, log: false, snapshot: false });
        s.crash(CrashDamage::BitFlip(7));
        assert_eq!(s.recover().unwrap().hard_state, HardState { term: 3, vote: 2 });
        assert_eq!(s.stats().bytes_written, 2 * hard_state::LEN as u64);
    }

    #[test]
    fn records_that_reach_the_disk_bring_the_hard_state_written_before_them() {
        let mut s = SimStorage::new(SyncPolicy::Always);
        s.save(hs(1, 1), 1, &mut batch(1, 2, 1).iter(), 0).unwrap();
        write(&mut s, hs(2, 3), &batch(3, 4, 2));
        s.crash(CrashDamage::Torn(3));
        let r = s.recover().unwrap();
        assert_eq!(r.hard_state, HardState { term: 2, vote: 3 });
        assert_eq!(indexes(&r), [(1, 1), (2, 1), (3, 2)]);
    }

    #[test]
    fn a_torn_last_record_is_cut_and_the_records_before_it_kept() {
        for r in [0, 1, 13, 1_000_003] {
            let mut s = SimStorage::new(SyncPolicy::Always);
            s.save(hs(1, 1), 1, &mut batch(1, 2, 1).iter(), 0).unwrap();
            write(&mut s, None, &batch(3, 5, 1));
            assert_eq!(s.crash(CrashDamage::Torn(r)), 1);
            let rec = s.recover().unwrap();
            assert_eq!(rec.entries, batch(1, 4, 1), "r={r}");
            let cut = rec.tail_cut.expect("a cut");
            assert_eq!(cut.segment, PathBuf::from(SIM_LOG_NAME));
            assert!(cut.bytes > 0 && cut.offset == s.durable.len() as u64, "{cut:?}");
            assert_eq!(s.stats().tail_cuts, 1);
            // The repaired disk takes new writes after the kept records.
            s.save(None, 5, &mut batch(5, 6, 1).iter(), 0).unwrap();
            assert_eq!(s.recover().unwrap().entries, batch(1, 6, 1));
        }
    }

    #[test]
    fn a_flipped_bit_in_the_last_record_cuts_it() {
        let mut s = SimStorage::new(SyncPolicy::Always);
        s.save(hs(1, 1), 1, &mut batch(1, 2, 1).iter(), 0).unwrap();
        let record_bits = 8 * (s.durable.len() / 2) as u64;
        for bit in (0..record_bits).step_by(5) {
            let mut t = s.clone();
            write(&mut t, None, &batch(3, 3, 1));
            assert_eq!(t.crash(CrashDamage::BitFlip(bit)), 1);
            let rec = t.recover().unwrap();
            assert_eq!(rec.entries, batch(1, 2, 1), "bit {bit}");
            assert!(rec.tail_cut.is_some(), "bit {bit}");
        }
    }

    #[test]
    fn damage_before_the_last_record_is_corrupt() {
        let mut s = SimStorage::new(SyncPolicy::Always);
        s.save(hs(1, 1), 1, &mut batch(1, 3, 1).iter(), 0).unwrap();
        s.crash(CrashDamage::Clean);
        s.durable[RECORD_HEADER_LEN + 3] ^= 0x10;
        assert_eq!(s.durable_log().1, Vec::new());
        match s.recover() {
            Err(StorageError::Corrupt { segment, offset, reason }) => {
                assert_eq!((segment, offset), (PathBuf::from(SIM_LOG_NAME), 0));
                assert!(reason.contains("followed by a valid record"), "{reason}");
            }
            other => panic!("expected corruption, got {other:?}"),
        }
        assert!(s.write(None, 1, &mut std::iter::empty(), 0).is_err(), "still crashed");
    }

    #[test]
    fn damage_never_touches_synced_records() {
        let mut s = SimStorage::new(SyncPolicy::Always);
        s.save(hs(1, 1), 1, &mut batch(1, 3, 1).iter(), 0).unwrap();
        for damage in [CrashDamage::Clean, CrashDamage::Torn(5), CrashDamage::BitFlip(5)] {
            let mut t = s.clone();
            assert_eq!(t.crash(damage), 0);
            let r = t.recover().unwrap();
            assert_eq!((r.entries, r.tail_cut), (batch(1, 3, 1), None), "{damage:?}");
        }
    }

    #[test]
    fn an_unsynced_rewrite_is_lost_whole_or_kept_up_to_its_torn_record() {
        let mut s = SimStorage::new(SyncPolicy::Always);
        s.save(hs(1, 1), 1, &mut batch(1, 5, 1).iter(), 0).unwrap();
        let rewrite = batch(3, 4, 2);
        let mut clean = s.clone();
        write(&mut clean, hs(2, 3), &rewrite);
        assert_eq!(clean.last_index(), 4);
        clean.crash(CrashDamage::Clean);
        assert_eq!(clean.recover().unwrap().entries, batch(1, 5, 1));
        let mut torn = s.clone();
        write(&mut torn, hs(2, 3), &rewrite);
        torn.crash(CrashDamage::Torn(9));
        let r = torn.recover().unwrap();
        assert_eq!(indexes(&r), [(1, 1), (2, 1), (3, 2)]);
        write(&mut s, hs(2, 3), &rewrite);
        s.sync().unwrap();
        s.crash(CrashDamage::Torn(9));
        assert_eq!(indexes(&s.recover().unwrap()), [(1, 1), (2, 1), (3, 2), (4, 2)]);
    }

    #[test]
    fn interval_syncs_the_hard_state_at_once_and_the_log_when_due() {
        let mut s = SimStorage::new(SyncPolicy::Interval { interval_ns: 100 });
        let due = s.write(hs(1, 1), 1, &mut batch(1, 1, 1).iter(), 0).unwrap();
        assert_eq!(
            due,
            SyncDue { hard_state: true, log: true, snapshot: false },
            "the first sync is due"
        );
        s.complete(due);
        let due = s.write(hs(2, 2), 2, &mut batch(2, 2, 2).iter(), 50).unwrap();
        assert_eq!(due, SyncDue { hard_state: true, log: false, snapshot: false });
        s.complete(due);
        let due = s.write(None, 3, &mut batch(3, 3, 2).iter(), 120).unwrap();
        assert_eq!(due, SyncDue { hard_state: false, log: true, snapshot: false });
        let mut t = s.clone();
        t.crash(CrashDamage::Clean);
        let r = t.recover().unwrap();
        assert_eq!((r.hard_state.term, r.entries.len()), (2, 1), "index 2 was never synced");
        assert_eq!(s.sync_policy(), SyncPolicy::Interval { interval_ns: 100 });
    }

    #[test]
    fn never_syncs_nothing_and_a_crash_keeps_nothing() {
        let mut s = SimStorage::new(SyncPolicy::Never);
        s.save(hs(5, 2), 1, &mut batch(1, 4, 5).iter(), 0).unwrap();
        assert_eq!(s.stats().syncs, 0);
        assert_eq!(s.crash(CrashDamage::Clean), 4);
        assert_eq!(s.recover().unwrap(), Recovered::default());
    }

    #[test]
    fn a_gap_or_a_skipped_index_is_refused() {
        let mut s = SimStorage::new(SyncPolicy::Always);
        assert!(s.save(None, 2, &mut batch(2, 2, 1).iter(), 0).is_err());
        let mut skip = batch(1, 1, 1);
        skip.push(entry(3, 1));
        assert!(s.save(None, 1, &mut skip.iter(), 0).is_err());
    }

    /// Random saves, rewrites, syncs and crashes against a model that keeps only what was
    /// synced: recovery always finds the model's log, and a live recover finds everything.
    #[test]
    fn random_saves_and_crashes_match_a_model_of_the_synced_log() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut s = SimStorage::new(SyncPolicy::Always);
        let mut written = MemStorage::new();
        let mut synced = MemStorage::new();
        let mut term = 1;
        for step in 0..600 {
            let last = written.last_index();
            let from =
                if last > 0 && rng.gen_ratio(1, 4) { rng.gen_range(1..=last) } else { last + 1 };
            term += u64::from(from <= last);
            let entries = batch(from, from + rng.gen_range(0..6), term);
            let due = s.write(hs(term, 1), from, &mut entries.iter(), 0).unwrap();
            written.save(hs(term, 1), from, &mut entries.iter(), 0).unwrap();
            assert_eq!(s.last_index(), written.last_index(), "step {step}");
            if rng.gen_ratio(2, 3) {
                s.complete(due);
                synced = written.clone();
            }
            if rng.gen_ratio(1, 10) {
                s.crash(CrashDamage::Clean);
                let r = s.recover().unwrap();
                assert_eq!(r, synced.recover().unwrap(), "step {step}");
                written = synced.clone();
            } else if rng.gen_ratio(1, 30) {
                assert_eq!(s.recover().unwrap(), written.recover().unwrap(), "step {step}");
                synced = written.clone();
            }
        }
    }
}
