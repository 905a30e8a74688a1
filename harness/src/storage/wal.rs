//! [`Wal`]: the file-backed write-ahead log. It owns the segment files and the hard-state
//! file in one directory; it never interprets entries beyond their index.
//!
//! # Files
//! - `wal-NNNNNN.log`: segments, numbered from 1 in write order. Each starts with the 8-byte
//!   header `b"PRWAL\0\0\x01"` (magic and version 1), then records:
//!   `u32 length | u32 crc32c(payload) | payload`, little-endian, where the payload is one
//!   entry in the [`super::codec`] encoding (framing and scanning: `records.rs`). A segment is closed (fdatasynced, unless the
//!   policy is `Never`) and a new one created once the next record would take it past
//!   `segment_bytes_max`; a segment holds at least one record, so a huge entry still fits.
//! - `hard_state` (and transiently `hard_state.tmp`): see `hard_state.rs`.
//! - `snapshot` (and transiently `snapshot.tmp`): see `snapshot_file.rs`.
//!
//! # Snapshots
//! Once a snapshot is durable, the segments it wholly covers are deleted, oldest first (a
//! crash midway leaves a suffix of them, still contiguous). If the log ended before the
//! snapshot's index (an install from the leader), a fresh segment is created first and every
//! older one deleted: the log continues at the snapshot's index + 1. Recovery skips entries
//! at or below the snapshot's index and checks that the rest continue right after it.
//!
//! # Truncating a conflicting suffix
//! To drop entries at or after `cut`: delete every later segment whole, newest first; fsync
//! the directory; then `ftruncate` the segment holding `cut` at the record of `cut` (found by
//! scanning its record headers and reading each index) and append the new entries there. The
//! save's final fdatasync makes the shorter length and the new records durable together.
//! Crash safety: a crash during the deletions leaves a prefix of the old log, at least as
//! long as `cut - 1`, which is a log this node could have had (the dropped entries conflict
//! with the leader's log, so none is committed). The directory fsync comes before the
//! truncation can become durable, so the log never has a hole: a segment ending before `cut`
//! is never followed by an older segment that survived its deletion.
//!
//! # Recovery
//! Segments are read in order. A record that is damaged (short header, length past the end
//! of the file, checksum mismatch) at the tail of the last segment is a write torn by a crash:
//! the file is cut there, fdatasynced, and the cut is reported in [`Recovered::tail_cut`] and
//! on stderr. Damage anywhere else (in an earlier segment, or followed by a record with a
//! valid checksum), a record that does not decode, or an index out of sequence is
//! [`StorageError::Corrupt`]: the node must stop rather than serve a wrong log.
//! Limitation: a disk that writes back the pages of one unsynced batch out of order can leave
//! a valid record after a torn one; that is reported as corrupt, not repaired.

use super::codec::peek_index;
use super::hard_state::{self, sync_dir};
use super::records::{append_record, scan_records, RECORD_HEADER_LEN};
use super::{
    after_snapshot, check_next, snapshot_file, Recovered, Storage, StorageError, SyncPolicy,
    SyncStats, TailCut,
};
use bytes::Bytes;
use pinraft_engine::{Entry, HardState, Index, Snapshot};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The default segment size limit: 64 MiB.
pub const SEGMENT_BYTES_MAX_DEFAULT: u64 = 64 << 20;
const HEADER: &[u8; 8] = b"PRWAL\0\0\x01";
const HEADER_LEN: u64 = HEADER.len() as u64;

/// How a [`Wal`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalOptions {
    /// A segment is rotated once the next record would take it past this many bytes.
    pub segment_bytes_max: u64,
    /// When to fsync.
    pub sync: SyncPolicy,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions { segment_bytes_max: SEGMENT_BYTES_MAX_DEFAULT, sync: SyncPolicy::Always }
    }
}

/// One segment file. Invariant: segments hold contiguous indexes in file order.
#[derive(Clone, Debug)]
struct Segment {
    seq: u64,
    /// Index of the first record, or `None` if it holds none.
    first_index: Option<Index>,
    /// Length in bytes, header included.
    len: u64,
}

/// A write-ahead log in a directory. See the module docs for the formats.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    /// Invariant: never empty; the last one is the segment appended to.
    segments: Vec<Segment>,
    active: File,
    last_index: Index,
    /// Bytes written to `active` since its last fdatasync.
    unsynced: bool,
    last_sync_ns: Option<u64>,
    stats: SyncStats,
    /// What opening found, until [`Storage::recover`] takes it.
    recovered: Option<Recovered>,
    buf: Vec<u8>,
}

fn segment_name(seq: u64) -> String {
    format!("wal-{seq:06}.log")
}

impl Wal {
    /// Opens (creating if needed) the log in `dir` and recovers it: the result is kept for
    /// the first [`Storage::recover`] call.
    pub fn open(dir: impl Into<PathBuf>, options: WalOptions) -> Result<Wal, StorageError> {
        assert!(options.segment_bytes_max > HEADER_LEN, "segment_bytes_max too small");
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let hard_state = hard_state::read(&dir)?;
        let (snapshot, (mut segments, entries, tail_cut), last_record) = read_log(&dir)?;
        let mut stats = SyncStats::default();
        if segments.is_empty() {
            segments.push(create_segment(&dir, 1)?.1);
            sync_dir(&dir)?;
            stats.dir += 1;
        }
        let last = segments.last().expect("a segment");
        let mut active = OpenOptions::new().write(true).open(dir.join(segment_name(last.seq)))?;
        active.seek(SeekFrom::Start(last.len))?;
        let snapshot_index = snapshot.as_ref().map(|s| s.index);
        let recovered = Recovered { hard_state, snapshot, entries, tail_cut };
        let mut wal = Wal {
            dir,
            options,
            segments,
            active,
            last_index: last_record,
            unsynced: false,
            last_sync_ns: None,
            stats,
            recovered: Some(recovered),
            buf: Vec::new(),
        };
        if let Some(index) = snapshot_index {
            // Finishes a compaction a crash interrupted (a no-op after a clean one).
            wal.compact(index)?;
        }
        Ok(wal)
    }

    /// How many segment files the log has.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The directory the log lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sync_active(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.active.sync_data()?;
            self.stats.log += 1;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Writes the buffered records to the active segment.
    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.active.write_all(&self.buf)?;
            self.segments.last_mut().expect("a segment").len += self.buf.len() as u64;
            self.buf.clear();
            self.unsynced = true;
        }
        Ok(())
    }

    /// Closes the active segment and starts the next one.
    fn rotate(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        let durable = self.options.sync != SyncPolicy::Never;
        if durable {
            self.sync_active()?;
        }
        let seq = self.segments.last().expect("a segment").seq + 1;
        let (file, segment) = create_segment(&self.dir, seq)?;
        if durable {
            sync_dir(&self.dir)?;
            self.stats.dir += 1;
        }
        self.active = file;
        self.segments.push(segment);
        self.unsynced = false;
        Ok(())
    }

    /// Deletes the segments a durable snapshot through `index` wholly covers, oldest first;
    /// if the log ends before `index`, it first starts a fresh segment, so the log continues
    /// at `index + 1`. Run after `save_snapshot` and again at open, which finishes a
    /// compaction a crash interrupted.
    fn compact(&mut self, index: Index) -> io::Result<()> {
        let durable = self.options.sync != SyncPolicy::Never;
        let mut covered = 0;
        if self.last_index < index {
            self.rotate()?;
            covered = self.segments.len() - 1;
            self.last_index = index;
        } else {
            let next_first = |k: usize, segments: &[Segment]| segments[k + 1].first_index;
            while covered + 1 < self.segments.len()
                && next_first(covered, &self.segments).is_some_and(|f| f <= index + 1)
            {
                covered += 1;
            }
        }
        for segment in self.segments.drain(..covered) {
            fs::remove_file(self.dir.join(segment_name(segment.seq)))?;
        }
        if covered > 0 && durable {
            sync_dir(&self.dir)?;
            self.stats.dir += 1;
        }
        Ok(())
    }

    /// Drops every durable entry at or after `cut` (see the module docs).
    fn truncate_from(&mut self, cut: Index) -> io::Result<()> {
        let durable = self.options.sync != SyncPolicy::Never;
        let mut deleted = false;
        while let Some(last) = self.segments.last() {
            if self.segments.len() == 1 || last.first_index.is_some_and(|first| first < cut) {
                break;
            }
            fs::remove_file(self.dir.join(segment_name(last.seq)))?;
            self.segments.pop();
            deleted = true;
        }
        if deleted && durable {
            sync_dir(&self.dir)?;
            self.stats.dir += 1;
        }
        let segment = self.segments.last_mut().expect("a segment");
        let path = self.dir.join(segment_name(segment.seq));
        let offset = match segment.first_index {
            Some(first) if first < cut => record_offset(&path, cut)?,
            _ => HEADER_LEN,
        };
        let file = OpenOptions::new().write(true).open(&path)?;
        file.set_len(offset)?;
        self.active = file;
        self.active.seek(SeekFrom::Start(offset))?;
        segment.len = offset;
        if offset == HEADER_LEN {
            segment.first_index = None;
        }
        self.last_index = cut - 1;
        self.unsynced = true;
        Ok(())
    }

    fn append(&mut self, entry: &Entry) -> io::Result<()> {
        let start = self.buf.len();
        append_record(entry, &mut self.buf);
        let segment = self.segments.last().expect("a segment");
        let record_len = (self.buf.len() - start) as u64;
        let used = segment.len + start as u64;
        if used > HEADER_LEN && used + record_len > self.options.segment_bytes_max {
            let record = self.buf.split_off(start);
            self.rotate()?;
            self.buf = record;
        }
        let segment = self.segments.last_mut().expect("a segment");
        segment.first_index.get_or_insert(entry.index);
        self.last_index = entry.index;
        Ok(())
    }
}

impl Storage for Wal {
    fn save(
        &mut self,
        hard_state: Option<HardState>,
        entries_from: Index,
        entries: &mut dyn Iterator<Item = &Entry>,
        now_ns: u64,
    ) -> io::Result<()> {
        // The hard state is durable before any entry of its term is written, so a crash
        // never leaves entries with a term above the durable one.
        if let Some(hard_state) = hard_state {
            let durable = self.options.sync != SyncPolicy::Never;
            hard_state::write(&self.dir, hard_state, durable, &mut self.stats)?;
        }
        if entries_from <= self.last_index {
            self.truncate_from(entries_from)?;
        }
        for (expected, entry) in (entries_from..).zip(entries) {
            let last = if expected == entries_from { self.last_index } else { expected - 1 };
            check_next(entry, expected, entries_from, last)?;
            self.append(entry)?;
        }
        self.flush_buf()?;
        let due = match self.options.sync {
            SyncPolicy::Always => true,
            SyncPolicy::Interval { interval_ns } => {
                self.last_sync_ns.is_none_or(|last| now_ns.saturating_sub(last) >= interval_ns)
            }
            SyncPolicy::Never => false,
        };
        if due && self.unsynced {
            self.sync_active()?;
            self.last_sync_ns = Some(now_ns);
        }
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        let durable = self.options.sync != SyncPolicy::Never;
        self.flush_buf()?;
        snapshot_file::write(&self.dir, snapshot, durable, &mut self.stats)?;
        self.compact(snapshot.index)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.sync_active()
    }

    fn sync_policy(&self) -> SyncPolicy {
        self.options.sync
    }

    fn recover(&mut self) -> Result<Recovered, StorageError> {
        if let Some(recovered) = self.recovered.take() {
            return Ok(recovered);
        }
        self.sync()?;
        let hard_state = hard_state::read(&self.dir)?;
        let (snapshot, (_, entries, tail_cut), _) = read_log(&self.dir)?;
        Ok(Recovered { hard_state, snapshot, entries, tail_cut })
    }

    fn last_index(&self) -> Index {
        self.last_index
    }

    fn sync_stats(&self) -> SyncStats {
        self.stats
    }
}

fn create_segment(dir: &Path, seq: u64) -> io::Result<(File, Segment)> {
    let path = dir.join(segment_name(seq));
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(HEADER)?;
    Ok((file, Segment { seq, first_index: None, len: HEADER_LEN }))
}

/// The byte offset of the record holding `index` in the segment at `path`, or the segment's
/// end when its last record holds `index - 1` (the cut falls on a segment boundary).
fn record_offset(path: &Path, index: Index) -> io::Result<u64> {
    let bytes = fs::read(path)?;
    let mut at = HEADER_LEN as usize;
    let mut last = None;
    while at + RECORD_HEADER_LEN <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        last = peek_index(&bytes[at + RECORD_HEADER_LEN..]);
        if last == Some(index) {
            return Ok(at as u64);
        }
        at += RECORD_HEADER_LEN + len;
    }
    if at == bytes.len() && last == Some(index - 1) {
        return Ok(at as u64);
    }
    let message = format!("index {index} not found in {}", path.display());
    Err(io::Error::new(io::ErrorKind::NotFound, message))
}

/// The segment files in `dir`, by sequence number.
fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut seqs = Vec::new();
    for dirent in fs::read_dir(dir)? {
        let name = dirent?.file_name();
        let name = name.to_string_lossy();
        let seq = name.strip_prefix("wal-").and_then(|rest| rest.strip_suffix(".log"));
        if let Some(seq) = seq.and_then(|seq| seq.parse().ok()) {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

type Scan = (Vec<Segment>, Vec<Entry>, Option<TailCut>);

/// The snapshot and the segments, checked to fit together: the entries after the snapshot
/// continue right after its index; without one, the log starts at index 1.
/// Also returns the index of the last record in the segments (0: none), below the snapshot
/// or not.
fn read_log(dir: &Path) -> Result<(Option<Snapshot>, Scan, Index), StorageError> {
    let snapshot = snapshot_file::read(dir)?;
    let (segments, mut entries, tail_cut) = scan(dir, snapshot.as_ref().map_or(0, |s| s.index))?;
    let last_record = entries.last().map_or(0, |e| e.index);
    let first_segment = || dir.join(segment_name(segments.first().map_or(1, |s| s.seq)));
    match &snapshot {
        Some(s) => after_snapshot(&mut entries, s.index)
            .map_err(|reason| corrupt(&first_segment(), HEADER_LEN, reason))?,
        None => {
            if let Some(first) = entries.first().filter(|e| e.index != 1) {
                let reason = format!("the log starts at index {} with no snapshot", first.index);
                return Err(corrupt(&first_segment(), HEADER_LEN, reason));
            }
        }
    }
    Ok((snapshot, (segments, entries, tail_cut), last_record))
}

/// Reads every segment in order (see "Recovery" in the module docs).
///
/// The index chain may restart once, at `snapshot_index + 1`, after segments wholly at or
/// below the snapshot: a crash during a snapshot's compaction (after the fresh segment was
/// created, before every older one was deleted) leaves exactly that.
fn scan(dir: &Path, snapshot_index: Index) -> Result<Scan, StorageError> {
    let seqs = list_segments(dir)?;
    let mut segments = Vec::with_capacity(seqs.len());
    let mut entries: Vec<Entry> = Vec::new();
    let mut tail_cut = None;
    for (i, &seq) in seqs.iter().enumerate() {
        if i > 0 && seq != seqs[i - 1] + 1 {
            let reason = format!("segment {} follows segment {}", seq, seqs[i - 1]);
            return Err(corrupt(&dir.join(segment_name(seq)), 0, reason));
        }
        let path = dir.join(segment_name(seq));
        let is_last = i + 1 == seqs.len();
        let mut segment_entries = Vec::new();
        let (len, cut) = scan_segment(&path, is_last, &mut segment_entries)?;
        let first_index = segment_entries.first().map(|e| e.index);
        if let (Some(last), Some(first)) = (entries.last().map(|e| e.index), first_index) {
            if first != last + 1 {
                if !(first == snapshot_index + 1 && last <= snapshot_index) {
                    let reason = format!("entry index {first} where {} expected", last + 1);
                    return Err(corrupt(&path, HEADER_LEN, reason));
                }
                entries.clear();
            }
        }
        entries.append(&mut segment_entries);
        segments.push(Segment { seq, first_index, len });
        tail_cut = cut;
    }
    Ok((segments, entries, tail_cut))
}

fn corrupt(path: &Path, offset: u64, reason: String) -> StorageError {
    StorageError::Corrupt { segment: path.to_path_buf(), offset, reason }
}

/// Reads one segment's records into `entries`; returns its (possibly cut) length.
fn scan_segment(
    path: &Path,
    is_last: bool,
    entries: &mut Vec<Entry>,
) -> Result<(u64, Option<TailCut>), StorageError> {
    let bytes = Bytes::from(fs::read(path)?);
    if bytes.len() < HEADER.len() || &bytes[..HEADER.len()] != HEADER {
        // A crash between creating a segment and syncing its header leaves it short.
        if is_last && HEADER.starts_with(&bytes) {
            let file = OpenOptions::new().write(true).open(path)?;
            file.set_len(0)?;
            (&file).write_all(HEADER)?;
            file.sync_all()?;
            return Ok((HEADER_LEN, None));
        }
        return Err(corrupt(path, 0, "bad segment header".into()));
    }
    let scanned = scan_records(&bytes, HEADER.len(), is_last, entries)
        .map_err(|damage| corrupt(path, damage.offset as u64, damage.reason))?;
    let Some(reason) = scanned.torn else {
        return Ok((bytes.len() as u64, None));
    };
    let at = scanned.valid_len;
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(at as u64)?;
    file.sync_all()?;
    let cut = TailCut {
        segment: path.to_path_buf(),
        offset: at as u64,
        bytes: (bytes.len() - at) as u64,
        reason: reason.to_string(),
    };
    eprintln!(
        "wal: dropped a torn tail of {} bytes at byte {} of {}: {}",
        cut.bytes,
        cut.offset,
        path.display(),
        cut.reason
    );
    Ok((at as u64, Some(cut)))
}
