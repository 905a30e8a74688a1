//! Durable storage for a node's hard state and log: the backends a runtime calls after
//! [`pinraft_engine::Node::ready`], and the recovery that feeds [`pinraft_engine::Node::recover`].
//!
//! The engine only says *what* must be durable (`Ready.hard_state`, `Ready.entries`); this
//! module owns *how*. It never decides what to persist and never touches a node.
//!
//! Three backends implement [`Storage`]:
//! - [`MemStorage`]: in memory, for CPU-only benchmarks. Everything saved counts as durable.
//! - [`Wal`]: a directory of append-only, checksummed segment files plus a hard-state file
//!   written atomically. See `wal.rs` for the file formats and the crash-safety argument.
//! - [`SimStorage`]: the simulator's disk, in memory, in the WAL's record framing: what was
//!   synced and what was only written are kept apart, so a simulated crash loses the latter.
//!
//! `records.rs` holds the record framing and the recovery scan both on-disk forms share.
//!
//! The runtime's loop, after `let ready = node.ready()`:
//! ```ignore
//! storage.save(ready.hard_state, ready.entries.start,
//!              &mut node.entries(ready.entries.clone()), now_ns)?;
//! // only now send ready.messages
//! ```

pub mod codec;
mod hard_state;
mod mem;
mod records;
mod sim;
mod snapshot_file;
mod wal;

pub use mem::MemStorage;
pub use sim::{CrashDamage, SimStorage, SimStorageStats, SyncDue, SIM_LOG_NAME};
pub use wal::{Wal, WalOptions, SEGMENT_BYTES_MAX_DEFAULT};

use pinraft_engine::{Entry, HardState, Index, Snapshot};
use std::io;
use std::path::PathBuf;

/// When a backend calls fsync. In JSON it is flattened into its owner as `fsync` (`always`,
/// `interval`, `never`) and, for `interval`, `fsync_interval_ns`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "fsync", rename_all = "lowercase")]
pub enum SyncPolicy {
    /// Every `save` is durable before it returns: one fsync covers the whole batch (group
    /// commit). The only policy that keeps Raft's guarantees across a power loss.
    #[default]
    Always,
    /// The log is synced at the end of a `save` only when the last sync is at least
    /// `interval_ns` old (the caller passes the time). The hard state is still synced at once.
    /// **Unsafe**: messages are sent before the entries they acknowledge are durable, so a
    /// power loss can lose acknowledged (even committed) entries. For comparison runs.
    Interval {
        /// The longest time entries may stay unsynced, in nanoseconds.
        #[serde(rename = "fsync_interval_ns")]
        interval_ns: u64,
    },
    /// Never fsync (the OS writes back when it likes). **Unsafe**: a power loss can lose
    /// votes and committed entries. For comparison runs that measure fsync's cost only.
    Never,
}

impl SyncPolicy {
    /// The names `--fsync` takes.
    pub const NAMES: &'static str = "always, interval or never";

    /// The policy called `name` (`always`, `interval`, `never`); `interval_ns` is the
    /// interval's length, used by `interval` only. The error is one line.
    pub fn parse(name: &str, interval_ns: u64) -> Result<SyncPolicy, String> {
        match name {
            "always" => Ok(SyncPolicy::Always),
            "interval" if interval_ns == 0 => {
                Err("fsync interval: must be greater than zero".to_string())
            }
            "interval" => Ok(SyncPolicy::Interval { interval_ns }),
            "never" => Ok(SyncPolicy::Never),
            _ => Err(format!("invalid fsync policy '{name}': expected {}", SyncPolicy::NAMES)),
        }
    }

    /// The policy's name, as [`SyncPolicy::parse`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            SyncPolicy::Always => "always",
            SyncPolicy::Interval { .. } => "interval",
            SyncPolicy::Never => "never",
        }
    }
}

/// How many fsync calls a backend made, by kind. Counted, not timed, so tests can assert them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// fdatasync calls on log segment files.
    pub log: u64,
    /// fsync calls on the hard-state temporary file.
    pub hard_state: u64,
    /// fsync calls on the storage directory (renames, new and deleted segments).
    pub dir: u64,
    /// fsync calls on snapshot files.
    pub snapshot: u64,
}

/// A torn or corrupt tail that recovery cut off the last segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailCut {
    /// The segment file cut.
    pub segment: PathBuf,
    /// The byte offset it was cut at (its new length).
    pub offset: u64,
    /// How many bytes were dropped.
    pub bytes: u64,
    /// Why the first dropped record was rejected.
    pub reason: String,
}

/// What recovery found: the input of [`pinraft_engine::Node::recover`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The last durable term and vote (the default if none was ever saved).
    pub hard_state: HardState,
    /// The latest durable snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The durable log after the snapshot (from index 1 without one), contiguous.
    pub entries: Vec<Entry>,
    /// The torn tail dropped from the last segment, if any (already logged to stderr).
    pub tail_cut: Option<TailCut>,
}

/// Why recovery refused to start.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The file system failed.
    #[error("storage I/O error: {0}")]
    Io(#[from] io::Error),
    /// A record that is not the torn tail of the last segment is damaged, or the log is not
    /// contiguous. Serving from such a log could return wrong data, so the node must stop.
    #[error("corrupt WAL segment {} at byte {offset}: {reason}", segment.display())]
    Corrupt {
        /// The damaged segment (or hard-state) file.
        segment: PathBuf,
        /// Where in it the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// The storage a runtime writes after each `ready()` and reads once at restart.
///
/// Object-safe, so a runtime can hold a `Box<dyn Storage>` and pick the backend at run time.
pub trait Storage {
    /// Makes `hard_state` (when `Some`) and `entries` durable as the policy requires.
    ///
    /// `entries` must start at `entries_from` and be contiguous. Any durable entries at or
    /// after `entries_from` are dropped first, even when `entries` is empty (the engine
    /// rewrote or cut the log from there); `entries_from` may be at most one past the
    /// durable last index. `now_ns` drives [`SyncPolicy::Interval`].
    fn save(
        &mut self,
        hard_state: Option<HardState>,
        entries_from: Index,
        entries: &mut dyn Iterator<Item = &Entry>,
        now_ns: u64,
    ) -> io::Result<()>;

    /// Makes `snapshot` durable (always synced unless the policy is `Never`), then drops
    /// the durable entries it covers: everything at or below its index. A log that ended
    /// before its index continues at its index + 1.
    fn save_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()>;

    /// Forces everything written so far to be durable, whatever the policy.
    fn sync(&mut self) -> io::Result<()>;

    /// The backend's fsync policy.
    fn sync_policy(&self) -> SyncPolicy;

    /// The durable hard state and log, for [`pinraft_engine::Node::recover`].
    fn recover(&mut self) -> Result<Recovered, StorageError>;

    /// The durable log's last index (the snapshot's index when no entry follows it; 0
    /// when empty).
    fn last_index(&self) -> Index;

    /// The fsync calls made since opening (none for a backend that never syncs).
    fn sync_stats(&self) -> SyncStats {
        SyncStats::default()
    }
}

/// Performs the storage part of a `Ready`, in the order it requires: hard state, snapshot,
/// entries. The runtime sends `ready.messages` only after this returns.
pub fn persist_ready(
    storage: &mut dyn Storage,
    node: &pinraft_engine::Node,
    ready: &pinraft_engine::Ready,
    now_ns: u64,
) -> io::Result<()> {
    if let Some(snapshot) = &ready.snapshot {
        // A conflicting suffix goes before the snapshot is durable: a crash in between then
        // leaves a prefix of the old log, never the new snapshot glued to stale entries.
        let cut = ready.entries.start.min(storage.last_index() + 1);
        storage.save(ready.hard_state, cut, &mut std::iter::empty(), now_ns)?;
        storage.save_snapshot(snapshot)?;
        return storage.save(
            None,
            ready.entries.start,
            &mut node.entries(ready.entries.clone()),
            now_ns,
        );
    }
    storage.save(
        ready.hard_state,
        ready.entries.start,
        &mut node.entries(ready.entries.clone()),
        now_ns,
    )
}

/// Drops the entries at or below `index` from a recovered log; checks that the rest
/// continues right after it.
fn after_snapshot(entries: &mut Vec<Entry>, index: Index) -> Result<(), String> {
    entries.retain(|e| e.index > index);
    match entries.first() {
        Some(first) if first.index != index + 1 => {
            Err(format!("the log resumes at index {} after a snapshot at {index}", first.index))
        }
        _ => Ok(()),
    }
}

/// Checks that a batch's next entry continues it: the first one at `entries_from`, which is
/// at most `last_index + 1`, and each one after at the previous index plus one.
fn check_next(
    entry: &Entry,
    expected: Index,
    entries_from: Index,
    last_index: Index,
) -> io::Result<()> {
    if entries_from == 0 || entries_from > last_index + 1 {
        return Err(invalid(format!(
            "save from index {entries_from}: the durable log ends at {last_index}"
        )));
    }
    if entry.index != expected {
        return Err(invalid(format!(
            "save: entry index {} where {expected} was expected",
            entry.index
        )));
    }
    Ok(())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinraft_engine::{Config, Message, Node, Payload, SnapshotChunk};

    /// A `MemStorage` that logs every call, to check the order `persist_ready` makes them.
    #[derive(Default)]
    struct Recording {
        inner: MemStorage,
        calls: Vec<String>,
    }

    impl Storage for Recording {
        fn save(
            &mut self,
            hard_state: Option<HardState>,
            entries_from: Index,
            entries: &mut dyn Iterator<Item = &Entry>,
            now_ns: u64,
        ) -> io::Result<()> {
            let entries: Vec<Entry> = entries.cloned().collect();
            let cut = entries_from <= self.inner.last_index();
            self.calls.push(format!("save from {entries_from} cut {cut} +{}", entries.len()));
            self.inner.save(hard_state, entries_from, &mut entries.iter(), now_ns)
        }
        fn save_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
            self.calls.push(format!("snapshot {}", snapshot.index));
            self.inner.save_snapshot(snapshot)
        }
        fn sync(&mut self) -> io::Result<()> {
            self.inner.sync()
        }
        fn sync_policy(&self) -> SyncPolicy {
            self.inner.sync_policy()
        }
        fn recover(&mut self) -> Result<Recovered, StorageError> {
            self.inner.recover()
        }
        fn last_index(&self) -> Index {
            self.inner.last_index()
        }
    }

    // A follower whose log conflicts with an installed snapshot: the stale suffix is cut
    // before the snapshot is saved, so no crash point glues the snapshot to stale entries.
    #[test]
    fn persist_ready_cuts_a_conflicting_suffix_before_the_snapshot() {
        let mut disk = Recording::default();
        let mut f = Node::new(Config::new(2, 3)).unwrap();
        let stale = (1..=10).map(|index| Entry { term: 1, index, payload: Payload::Noop });
        let append = Message::Append {
            term: 1,
            prev_index: 0,
            prev_term: 0,
            entries: stale.collect(),
            commit: 0,
        };
        f.step(1, append);
        let ready = f.ready();
        persist_ready(&mut disk, &f, &ready, 0).unwrap();
        f.advance(ready);
        let mut single =
            Node::new(Config { snapshot_entries_threshold: 1, ..Config::new(1, 1) }).unwrap();
        single.tick(1_000_000_000);
        while single.has_ready() {
            let ready = single.ready();
            single.advance(ready);
        }
        let data = single.snapshot().expect("a snapshot of its no-op").data.clone();
        let total = data.len() as u64;
        let chunk = SnapshotChunk { index: 5, snapshot_term: 3, offset: 0, total, data };
        f.step(3, Message::InstallSnapshot { term: 3, chunk: Box::new(chunk) });
        disk.calls.clear();
        let ready = f.ready();
        persist_ready(&mut disk, &f, &ready, 0).unwrap();
        assert_eq!(
            disk.calls,
            ["save from 6 cut true +0", "snapshot 5", "save from 6 cut false +0"]
        );
        let recovered = disk.recover().unwrap();
        assert_eq!(recovered.snapshot.map(|s| (s.index, s.term)), Some((5, 3)));
        assert!(recovered.entries.is_empty(), "entries 6..10 of term 1 are gone");
    }
}
