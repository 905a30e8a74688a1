//! The storage backends: round trips, torn and corrupt records, truncation across segments,
//! rotation, the hard-state file, fsync counts per policy, and a large recovery.

use bytes::Bytes;
use pinraft_engine::{ClientRequest, Config, Entry, HardState, Node, Op, Payload, Snapshot};
use pinraft_harness::storage::{
    persist_ready, MemStorage, Recovered, Storage, StorageError, SyncPolicy, SyncStats, Wal,
    WalOptions,
};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("pinraft-storage-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn entry(index: u64, term: u64) -> Entry {
    let payload = match index % 4 {
        0 => Payload::Noop,
        1 => put(index, format!("key{index}"), vec![index as u8; 16]),
        2 => Payload::Request(Arc::new(ClientRequest {
            client: index,
            seq: 1,
            op: Op::Get { key: Bytes::from(format!("key{index}")) },
        })),
        _ => Payload::Request(Arc::new(ClientRequest {
            client: 9,
            seq: index,
            op: Op::Append { key: Bytes::from_static(b"k"), value: Bytes::from_static(b"xyz") },
        })),
    };
    Entry { term, index, payload }
}

fn put(seq: u64, key: String, value: Vec<u8>) -> Payload {
    let op = Op::Put { key: Bytes::from(key), value: Bytes::from(value) };
    Payload::Request(Arc::new(ClientRequest { client: 1, seq, op }))
}

fn entries(range: std::ops::RangeInclusive<u64>, term: u64) -> Vec<Entry> {
    range.map(|i| entry(i, term)).collect()
}

fn options(segment_bytes_max: u64, sync: SyncPolicy) -> WalOptions {
    WalOptions { segment_bytes_max, sync }
}

fn save(storage: &mut dyn Storage, hs: Option<HardState>, batch: &[Entry], now_ns: u64) {
    let from = batch.first().map_or(storage.last_index() + 1, |e| e.index);
    storage.save(hs, from, &mut batch.iter(), now_ns).unwrap();
}

fn reopen(dir: &Path, options: WalOptions) -> Result<Recovered, StorageError> {
    Wal::open(dir, options)?.recover()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    paths.sort();
    paths
}

/// Writes 1..=n in batches of 10 to a fresh WAL, synced at every save.
fn write_log(dir: &Path, n: u64, segment_bytes_max: u64) {
    let mut wal = Wal::open(dir, options(segment_bytes_max, SyncPolicy::Always)).unwrap();
    save(&mut wal, Some(HardState { term: 2, vote: 1 }), &[], 0);
    for chunk in entries(1..=n, 2).chunks(10) {
        save(&mut wal, None, chunk, 0);
    }
}

#[test]
fn wal_round_trips_entries_and_hard_state() {
    let dir = TempDir::new("round-trip");
    let hs = HardState { term: 3, vote: 2 };
    {
        let mut wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
        assert_eq!(wal.recover().unwrap(), Recovered::default());
        save(&mut wal, Some(hs), &entries(1..=5, 3), 0);
        save(&mut wal, None, &entries(6..=8, 3), 0);
    }
    let recovered = reopen(dir.path(), WalOptions::default()).unwrap();
    let expected =
        Recovered { hard_state: hs, snapshot: None, entries: entries(1..=8, 3), tail_cut: None };
    assert_eq!(recovered, expected);
}

#[test]
fn mem_storage_truncates_and_recovers() {
    let mut mem = MemStorage::new();
    save(&mut mem, Some(HardState { term: 1, vote: 1 }), &entries(1..=5, 1), 0);
    save(&mut mem, Some(HardState { term: 2, vote: 0 }), &entries(3..=4, 2), 0);
    let mut expected = entries(1..=2, 1);
    expected.extend(entries(3..=4, 2));
    let recovered = mem.recover().unwrap();
    assert_eq!(recovered.entries, expected);
    assert_eq!(recovered.hard_state, HardState { term: 2, vote: 0 });
    assert_eq!(mem.saves(), 2);
}

#[test]
fn a_save_that_leaves_a_gap_or_skips_an_index_is_refused() {
    let dir = TempDir::new("gap");
    let mut wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let mut mem = MemStorage::new();
    for storage in [&mut wal as &mut dyn Storage, &mut mem] {
        save(storage, None, &entries(1..=3, 1), 0);
        let gap = entries(5..=5, 1);
        assert!(storage.save(None, 5, &mut gap.iter(), 0).is_err());
        let skip = [entry(4, 1), entry(6, 1)];
        assert!(storage.save(None, 4, &mut skip.iter(), 0).is_err());
    }
}

#[test]
fn a_torn_last_record_is_dropped_and_the_rest_recovered() {
    let dir = TempDir::new("torn");
    write_log(dir.path(), 20, 1 << 20);
    let segment = segments(dir.path()).pop().unwrap();
    let len = fs::metadata(&segment).unwrap().len();
    for cut in [3, 9] {
        let file = OpenOptions::new().write(true).open(&segment).unwrap();
        file.set_len(len - cut).unwrap();
        drop(file);
        let recovered = reopen(dir.path(), WalOptions::default()).unwrap();
        assert_eq!(recovered.entries, entries(1..=19, 2));
        let tail_cut = recovered.tail_cut.expect("a cut");
        assert_eq!(tail_cut.offset + tail_cut.bytes, len - cut);
        // The cut is durable: the next open finds a clean log.
        let again = reopen(dir.path(), WalOptions::default()).unwrap();
        assert_eq!((again.entries.len(), again.tail_cut), (19, None));
        // Put the record back for the next cut length.
        let mut wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
        save(&mut wal, None, &[entry(20, 2)], 0);
    }
}

fn flip_bit(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x10;
    fs::write(path, bytes).unwrap();
}

#[test]
fn a_bit_flip_in_the_last_record_drops_it() {
    let dir = TempDir::new("flip-last");
    write_log(dir.path(), 20, 1 << 20);
    let segment = segments(dir.path()).pop().unwrap();
    flip_bit(&segment, fs::metadata(&segment).unwrap().len() - 2);
    let recovered = reopen(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(recovered.entries, entries(1..=19, 2));
    assert_eq!(recovered.tail_cut.unwrap().reason, "checksum mismatch");
}

#[test]
fn a_bit_flip_in_a_middle_record_is_corrupt() {
    let dir = TempDir::new("flip-middle");
    write_log(dir.path(), 20, 1 << 20);
    let segment = segments(dir.path()).pop().unwrap();
    let before = fs::read(&segment).unwrap();
    flip_bit(&segment, 8 + 8 + 3); // The first record's payload.
    match reopen(dir.path(), WalOptions::default()) {
        Err(StorageError::Corrupt { segment: path, offset, reason }) => {
            assert_eq!((path, offset), (segment.clone(), 8));
            assert!(reason.contains("checksum mismatch"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Nothing was cut: the damaged file is left for inspection.
    assert_eq!(fs::read(&segment).unwrap().len(), before.len());
}

#[test]
fn a_flipped_length_in_a_middle_record_is_corrupt() {
    let dir = TempDir::new("flip-length");
    write_log(dir.path(), 20, 1 << 20);
    let segment = segments(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&segment).unwrap();
    bytes[8 + 3] = 0x7f; // The first record now claims to run past the end of the file.
    fs::write(&segment, bytes).unwrap();
    let err = reopen(dir.path(), WalOptions::default()).unwrap_err();
    assert!(err.to_string().contains("followed by a valid record"), "{err}");
}

#[test]
fn damage_in_an_earlier_segment_is_corrupt() {
    let dir = TempDir::new("flip-early-segment");
    write_log(dir.path(), 200, 2048);
    let all = segments(dir.path());
    assert!(all.len() > 2);
    let first = &all[0];
    flip_bit(first, fs::metadata(first).unwrap().len() - 2);
    match reopen(dir.path(), WalOptions::default()) {
        Err(StorageError::Corrupt { segment, reason, .. }) => {
            assert_eq!(&segment, first);
            assert!(reason.contains("not the last segment"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn a_missing_segment_is_corrupt() {
    let dir = TempDir::new("missing-segment");
    write_log(dir.path(), 200, 2048);
    let all = segments(dir.path());
    fs::remove_file(&all[1]).unwrap();
    let err = reopen(dir.path(), WalOptions::default()).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
}

#[test]
fn rotation_makes_several_segments_and_recovery_reads_them_all() {
    let dir = TempDir::new("rotation");
    write_log(dir.path(), 500, 4096);
    let count = segments(dir.path()).len();
    assert!(count >= 5, "{count} segments");
    for path in segments(dir.path()) {
        assert!(fs::metadata(path).unwrap().len() <= 4096);
    }
    let mut wal = Wal::open(dir.path(), options(4096, SyncPolicy::Always)).unwrap();
    assert_eq!(wal.segment_count(), count);
    let recovered = wal.recover().unwrap();
    assert_eq!(recovered.entries, entries(1..=500, 2));
    assert_eq!(recovered.hard_state, HardState { term: 2, vote: 1 });
}

#[test]
fn a_record_larger_than_a_segment_gets_a_segment_of_its_own() {
    let dir = TempDir::new("huge");
    let big = |index| Entry { term: 1, index, payload: put(index, "k".into(), vec![7; 5000]) };
    let batch = [entry(1, 1), big(2), big(3), entry(4, 1)];
    {
        let mut wal = Wal::open(dir.path(), options(1024, SyncPolicy::Always)).unwrap();
        save(&mut wal, Some(HardState { term: 1, vote: 1 }), &batch, 0);
        assert_eq!(wal.segment_count(), 4);
    }
    assert_eq!(reopen(dir.path(), WalOptions::default()).unwrap().entries, batch);
}

#[test]
fn truncating_across_segments_then_appending_recovers_the_new_log() {
    let dir = TempDir::new("truncate");
    let opts = options(2048, SyncPolicy::Always);
    write_log(dir.path(), 300, 2048);
    let before = segments(dir.path()).len();
    let mut wal = Wal::open(dir.path(), opts).unwrap();
    // Cut well before the last segment: later segments are deleted.
    save(&mut wal, Some(HardState { term: 3, vote: 2 }), &entries(100..=110, 3), 0);
    assert!(wal.segment_count() < before);
    save(&mut wal, None, &entries(111..=150, 3), 0);
    drop(wal);
    let mut expected = entries(1..=99, 2);
    expected.extend(entries(100..=150, 3));
    let recovered = reopen(dir.path(), opts).unwrap();
    assert_eq!(recovered.entries, expected);
    assert_eq!(recovered.hard_state, HardState { term: 3, vote: 2 });
    assert_eq!(recovered.tail_cut, None);
}

#[test]
fn truncating_at_a_segment_boundary_and_to_empty() {
    let dir = TempDir::new("truncate-boundary");
    let opts = options(2048, SyncPolicy::Always);
    write_log(dir.path(), 300, 2048);
    // The second segment's first index: segment header (8), record header (8), version (1).
    let second = fs::read(&segments(dir.path())[1]).unwrap();
    let boundary = u64::from_le_bytes(second[17..25].try_into().unwrap());
    assert!(boundary > 1);
    let mut wal = Wal::open(dir.path(), opts).unwrap();
    save(&mut wal, None, &[entry(boundary, 4)], 0);
    assert_eq!(wal.segment_count(), 2);
    drop(wal);
    let mut expected = entries(1..=boundary - 1, 2);
    expected.push(entry(boundary, 4));
    assert_eq!(reopen(dir.path(), opts).unwrap().entries, expected);
    // Now rewrite the whole log from index 1.
    let mut wal = Wal::open(dir.path(), opts).unwrap();
    save(&mut wal, None, &entries(1..=3, 5), 0);
    assert_eq!(wal.segment_count(), 1);
    drop(wal);
    assert_eq!(reopen(dir.path(), opts).unwrap().entries, entries(1..=3, 5));
}

#[test]
fn hard_state_survives_and_a_leftover_temp_file_is_ignored() {
    let dir = TempDir::new("hard-state");
    {
        let mut wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
        save(&mut wal, Some(HardState { term: 1, vote: 1 }), &[], 0);
        save(&mut wal, Some(HardState { term: 4, vote: 3 }), &[], 0);
    }
    // A crash mid-write of the next hard state leaves a partial temp file.
    fs::write(dir.path().join("hard_state.tmp"), b"PRHS\x01\x05").unwrap();
    let recovered = reopen(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(recovered.hard_state, HardState { term: 4, vote: 3 });
    assert!(!dir.path().join("hard_state.tmp").exists());
    // A damaged hard-state file is an error, not a silent reset to term 0.
    flip_bit(&dir.path().join("hard_state"), 6);
    let err = reopen(dir.path(), WalOptions::default()).unwrap_err();
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
}

#[test]
fn always_syncs_once_per_save() {
    let dir = TempDir::new("sync-always");
    let mut wal = Wal::open(dir.path(), options(1 << 20, SyncPolicy::Always)).unwrap();
    let base = wal.sync_stats();
    for i in 1..=10 {
        save(&mut wal, None, &entries(i * 10 - 9..=i * 10, 1), 0);
    }
    let stats = wal.sync_stats();
    assert_eq!(stats, SyncStats { log: base.log + 10, ..base });
    save(&mut wal, Some(HardState { term: 1, vote: 1 }), &[], 0);
    let expected = SyncStats { log: stats.log, hard_state: 1, dir: stats.dir + 1, snapshot: 0 };
    assert_eq!(wal.sync_stats(), expected);
    // Nothing to write: nothing to sync.
    save(&mut wal, None, &[], 0);
    assert_eq!(wal.sync_stats(), expected);
}

#[test]
fn interval_syncs_when_the_last_sync_is_old_enough() {
    let dir = TempDir::new("sync-interval");
    let interval = SyncPolicy::Interval { interval_ns: 1_000_000 };
    let mut wal = Wal::open(dir.path(), options(1 << 20, interval)).unwrap();
    let base = wal.sync_stats().log;
    // Saves every 100 us for 10 ms: the first one syncs, then one per elapsed millisecond.
    for i in 0..100u64 {
        save(&mut wal, None, &[entry(i + 1, 1)], i * 100_000);
    }
    assert_eq!(wal.sync_stats().log - base, 10);
    wal.sync().unwrap();
    assert_eq!(wal.sync_stats().log - base, 11);
    let recovered = reopen(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(recovered.entries.len(), 100);
}

#[test]
fn never_does_not_sync() {
    let dir = TempDir::new("sync-never");
    let mut wal = Wal::open(dir.path(), options(2048, SyncPolicy::Never)).unwrap();
    let base = wal.sync_stats();
    save(&mut wal, Some(HardState { term: 1, vote: 1 }), &[], 0);
    for chunk in entries(1..=300, 1).chunks(10) {
        save(&mut wal, None, chunk, 0);
    }
    save(&mut wal, None, &entries(50..=60, 1), 0); // A truncation across segments.
    assert!(wal.segment_count() > 1);
    assert_eq!(wal.sync_stats(), base);
    drop(wal);
    let recovered = reopen(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(recovered.entries, entries(1..=60, 1));
}

fn large_recovery(n: u64) {
    let dir = TempDir::new("large");
    let opts = options(64 << 20, SyncPolicy::Never);
    let written = Instant::now();
    {
        let mut wal = Wal::open(dir.path(), opts).unwrap();
        save(&mut wal, Some(HardState { term: 1, vote: 1 }), &[], 0);
        let mut batch = Vec::with_capacity(1000);
        for start in (1..=n).step_by(1000) {
            batch.clear();
            batch.extend((start..(start + 1000).min(n + 1)).map(|i| entry(i, 1)));
            save(&mut wal, None, &batch, 0);
        }
        wal.sync().unwrap();
    }
    let written = written.elapsed();
    let bytes: u64 = segments(dir.path()).iter().map(|p| fs::metadata(p).unwrap().len()).sum();
    let started = Instant::now();
    let recovered = reopen(dir.path(), opts).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(recovered.entries.len() as u64, n);
    assert!(recovered.entries.iter().enumerate().all(|(i, e)| e.index == i as u64 + 1));
    eprintln!(
        "recovered {n} entries ({bytes} bytes, {} segments) in {elapsed:?}; wrote in {written:?}",
        segments(dir.path()).len()
    );
}

#[test]
fn a_100k_entry_log_recovers() {
    large_recovery(100_000);
}

/// Run by hand: `cargo test --release -p pinraft-harness --test storage -- --ignored
/// --nocapture` prints the recovery time.
#[test]
#[ignore]
fn a_million_entry_log_recovers() {
    large_recovery(1_000_000);
}

/// Run by hand, as above: `Always` saves per second on this disk for 1- and 256-entry batches.
#[test]
#[ignore]
fn fsync_cost_per_save() {
    for batch_len in [1u64, 256] {
        let dir = TempDir::new("fsync-cost");
        let mut wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let saves = 300;
        let started = Instant::now();
        for s in 0..saves {
            save(&mut wal, None, &entries(s * batch_len + 1..=(s + 1) * batch_len, 1), 0);
        }
        let elapsed = started.elapsed();
        eprintln!(
            "Always, {batch_len}-entry batches: {:.0} saves/s ({:?} per save, {} log syncs)",
            saves as f64 / elapsed.as_secs_f64(),
            elapsed / saves as u32,
            wal.sync_stats().log
        );
    }
}

#[test]
fn a_short_header_on_the_last_segment_is_a_torn_creation() {
    let dir = TempDir::new("torn-header");
    write_log(dir.path(), 200, 2048);
    let count = segments(dir.path()).len();
    let next = dir.path().join(format!("wal-{:06}.log", count + 1));
    fs::write(&next, b"PRWAL").unwrap();
    let mut wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(wal.recover().unwrap().entries, entries(1..=200, 2));
    save(&mut wal, None, &[entry(201, 2)], 0);
    drop(wal);
    assert_eq!(reopen(dir.path(), WalOptions::default()).unwrap().entries.len(), 201);
    // The same bytes on an earlier segment are corruption.
    fs::write(&segments(dir.path())[0], b"PRWAL").unwrap();
    assert!(reopen(dir.path(), WalOptions::default()).is_err());
}

/// Random appends, conflicting rewrites and reopenings: the WAL always recovers exactly what
/// the in-memory model holds.
#[test]
fn random_saves_match_the_in_memory_model() {
    use rand::{Rng, SeedableRng};
    let seed = 10;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = TempDir::new("model");
    let opts = options(1024, SyncPolicy::Always);
    let mut wal = Wal::open(dir.path(), opts).unwrap();
    let mut model = MemStorage::new();
    let mut term = 1;
    for step in 0..400 {
        let last = model.last_index();
        let from = if last > 0 && rng.gen_ratio(1, 4) { rng.gen_range(1..=last) } else { last + 1 };
        if from <= last {
            term += 1;
        }
        let batch = entries(from..=from + rng.gen_range(0..12), term);
        let hs = rng.gen_ratio(1, 8).then_some(HardState { term, vote: step % 3 });
        save(&mut wal, hs, &batch, 0);
        save(&mut model, hs, &batch, 0);
        assert_eq!(wal.last_index(), model.last_index(), "seed={seed} step={step}");
        if rng.gen_ratio(1, 20) {
            drop(wal);
            wal = Wal::open(dir.path(), opts).unwrap();
            let recovered = wal.recover().unwrap();
            assert_eq!(recovered, model.recover().unwrap(), "seed={seed} step={step}");
        }
    }
    drop(wal);
    assert_eq!(reopen(dir.path(), opts).unwrap(), model.recover().unwrap());
}

fn snapshot(index: u64, term: u64) -> Snapshot {
    Snapshot { index, term, data: Bytes::from(format!("state at {index}")) }
}

// Section 7: once a snapshot is durable, the segments it wholly covers are deleted; the
// log reopens as the snapshot plus the entries after it.
#[test]
fn a_snapshot_deletes_the_segments_it_covers_and_recovers_with_the_tail() {
    let dir = TempDir::new("snapshot-compact");
    write_log(dir.path(), 300, 2048);
    let before = segments(dir.path()).len();
    let mut wal = Wal::open(dir.path(), options(2048, SyncPolicy::Always)).unwrap();
    wal.save_snapshot(&snapshot(200, 2)).unwrap();
    let after = segments(dir.path()).len();
    assert!(after < before && after > 1, "{before} segments, {after} after the snapshot");
    assert_eq!((wal.last_index(), wal.sync_stats().snapshot), (300, 1));
    save(&mut wal, None, &entries(301..=305, 2), 0);
    drop(wal);
    let recovered = reopen(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(recovered.snapshot, Some(snapshot(200, 2)));
    assert_eq!(recovered.entries, entries(201..=305, 2), "entries below the snapshot skipped");
}

// Figure 13, step 7: a snapshot past the end of the log replaces it; the log continues
// after the snapshot's index. A conflicting suffix after the index is cut by an empty save.
#[test]
fn a_snapshot_beyond_the_log_restarts_it_and_an_empty_save_cuts_a_suffix() {
    fn exercise(storage: &mut dyn Storage) {
        save(storage, None, &entries(1..=30, 1), 0);
        storage.save_snapshot(&snapshot(50, 2)).unwrap();
        assert_eq!(storage.last_index(), 50);
        save(storage, None, &entries(51..=60, 2), 0);
        storage.save_snapshot(&snapshot(55, 2)).unwrap();
        storage.save(None, 56, &mut std::iter::empty(), 0).unwrap();
        assert_eq!(storage.last_index(), 55);
        save(storage, None, &entries(56..=57, 3), 0);
    }
    let check = |recovered: Recovered| {
        assert_eq!(recovered.snapshot, Some(snapshot(55, 2)));
        assert_eq!(recovered.entries, entries(56..=57, 3));
    };
    let mut mem = MemStorage::new();
    exercise(&mut mem);
    check(mem.recover().unwrap());
    let dir = TempDir::new("snapshot-reset");
    let mut wal = Wal::open(dir.path(), options(2048, SyncPolicy::Always)).unwrap();
    exercise(&mut wal);
    drop(wal);
    check(reopen(dir.path(), WalOptions::default()).unwrap());
}

// A crash after the snapshot's rename and before the segment deletions leaves every old
// segment: recovery still starts from the snapshot.
#[test]
fn a_crash_before_the_covered_segments_are_deleted_recovers_from_the_snapshot() {
    let dir = TempDir::new("snapshot-crash");
    let copy = TempDir::new("snapshot-crash-copy");
    write_log(dir.path(), 300, 2048);
    for path in segments(dir.path()).iter().chain([&dir.path().join("hard_state")]) {
        fs::copy(path, copy.path().join(path.file_name().unwrap())).unwrap();
    }
    let mut wal = Wal::open(dir.path(), options(2048, SyncPolicy::Always)).unwrap();
    wal.save_snapshot(&snapshot(200, 2)).unwrap();
    fs::copy(dir.path().join("snapshot"), copy.path().join("snapshot")).unwrap();
    let recovered = reopen(copy.path(), WalOptions::default()).unwrap();
    assert_eq!(recovered.snapshot.map(|s| s.index), Some(200));
    assert_eq!(recovered.entries, entries(201..=300, 2));
}

#[test]
fn a_damaged_snapshot_or_a_log_that_does_not_follow_it_is_corrupt() {
    let dir = TempDir::new("snapshot-corrupt");
    write_log(dir.path(), 100, 2048);
    let mut wal = Wal::open(dir.path(), options(2048, SyncPolicy::Always)).unwrap();
    wal.save_snapshot(&snapshot(40, 2)).unwrap();
    drop(wal);
    let path = dir.path().join("snapshot");
    let good = fs::read(&path).unwrap();
    flip_bit(&path, good.len() as u64 - 1);
    let err = reopen(dir.path(), WalOptions::default()).unwrap_err();
    assert!(err.to_string().contains("snapshot checksum"), "{err}");
    fs::write(&path, &good[..20]).unwrap();
    assert!(reopen(dir.path(), WalOptions::default()).is_err(), "a short snapshot file");
    // Segments left below a snapshot (a crash before their deletion) are skipped.
    let source = TempDir::new("snapshot-src");
    let mut other = Wal::open(source.path(), WalOptions::default()).unwrap();
    other.save_snapshot(&snapshot(20, 2)).unwrap();
    let short = TempDir::new("snapshot-short");
    write_log(short.path(), 10, 1 << 20);
    fs::copy(other.dir().join("snapshot"), short.path().join("snapshot")).unwrap();
    let recovered = reopen(short.path(), WalOptions::default()).unwrap();
    assert_eq!((recovered.entries.len(), recovered.snapshot.map(|s| s.index)), (0, Some(20)));
    // A log that resumes after a hole past the snapshot is corrupt.
    let hole = TempDir::new("snapshot-hole");
    let mut wal = Wal::open(hole.path(), WalOptions::default()).unwrap();
    wal.save_snapshot(&snapshot(29, 2)).unwrap();
    save(&mut wal, None, &entries(30..=40, 2), 0);
    drop(wal);
    fs::copy(other.dir().join("snapshot"), hole.path().join("snapshot")).unwrap();
    let err = reopen(hole.path(), WalOptions::default()).unwrap_err();
    assert!(err.to_string().contains("resumes at index 30 after a snapshot at 20"), "{err}");
    // Without a snapshot, a log must start at index 1.
    fs::remove_file(hole.path().join("snapshot")).unwrap();
    let err = reopen(hole.path(), WalOptions::default()).unwrap_err();
    assert!(err.to_string().contains("starts at index 30 with no snapshot"), "{err}");
}

// The runtime's side of section 7: a node snapshotting every 50 entries, persisted with
// `persist_ready` into a WAL, restores to the same state machine from the directory.
#[test]
fn a_node_persisted_with_snapshots_restores_from_its_wal() {
    let dir = TempDir::new("snapshot-node");
    let config = Config { snapshot_entries_threshold: 50, ..Config::new(1, 1) };
    let mut wal = Wal::open(dir.path(), options(4096, SyncPolicy::Always)).unwrap();
    let mut node = Node::new(config.clone()).unwrap();
    node.tick(1_000_000_000);
    let perform = |node: &mut Node, wal: &mut Wal| {
        while node.has_ready() {
            let ready = node.ready();
            persist_ready(wal, node, &ready, 0).unwrap();
            node.advance(ready);
        }
    };
    perform(&mut node, &mut wal);
    for seq in 1..=180u64 {
        let op = Op::Put {
            key: Bytes::from(format!("k{}", seq % 7)),
            value: Bytes::from(seq.to_string()),
        };
        node.propose(ClientRequest { client: 3, seq, op });
        perform(&mut node, &mut wal);
    }
    assert_eq!(node.stats().snapshots_taken, 3);
    drop(wal);
    let recovered = reopen(dir.path(), WalOptions::default()).unwrap();
    let snap = recovered.snapshot.clone().expect("a snapshot on disk");
    assert_eq!(snap.index, node.snapshot().unwrap().index);
    let restored = Node::restore(
        config,
        recovered.hard_state,
        recovered.snapshot,
        recovered.entries,
        2_000_000_000,
    )
    .unwrap();
    assert_eq!(restored.last_index(), node.last_index());
    assert_eq!(restored.applied_index(), snap.index);
    for k in 0..7 {
        let key = format!("k{k}");
        if snap.index == node.commit_index() {
            assert_eq!(restored.kv_get(key.as_bytes()), node.kv_get(key.as_bytes()));
        }
    }
    assert_eq!(restored.kv_len(), 7);
}

/// A snapshot at `index` written by a throwaway WAL, copied into `dir` as if `dir`'s own
/// `save_snapshot` had renamed it into place and crashed right after.
fn plant_snapshot(dir: &Path, index: u64) {
    let source = TempDir::new("plant-snapshot");
    let mut wal = Wal::open(source.path(), WalOptions::default()).unwrap();
    wal.save_snapshot(&snapshot(index, 2)).unwrap();
    fs::copy(source.path().join("snapshot"), dir.join("snapshot")).unwrap();
}

// A crash right after a snapshot past the end of the log became durable, before the log
// restarted after it: opening finishes the compaction, and the log continues after the
// snapshot through any number of appends and reopenings.
#[test]
fn a_crash_before_the_log_restarts_after_a_snapshot_is_finished_at_open() {
    let dir = TempDir::new("snapshot-crash-restart");
    write_log(dir.path(), 50, 2048);
    plant_snapshot(dir.path(), 80);
    for round in 0..3u64 {
        let mut wal = Wal::open(dir.path(), options(2048, SyncPolicy::Always)).unwrap();
        let recovered = wal.recover().unwrap();
        assert_eq!(recovered.snapshot.map(|s| s.index), Some(80));
        assert_eq!(recovered.entries, entries(81..=80 + 10 * round, 2), "round {round}");
        save(&mut wal, None, &entries(81 + 10 * round..=90 + 10 * round, 2), 0);
    }
    assert_eq!(segments(dir.path()).len(), 1, "the segments below the snapshot are gone");
}

// A crash after the fresh segment holds entries past the snapshot but before every older
// segment was deleted: the index chain restarts at the snapshot's index + 1, and opening
// deletes the covered segments.
#[test]
fn segments_left_below_a_snapshot_before_a_restarted_log_are_skipped_and_deleted() {
    let dir = TempDir::new("snapshot-crash-chain");
    write_log(dir.path(), 50, 2048);
    let old = segments(dir.path()).len();
    let source = TempDir::new("snapshot-crash-chain-src");
    let mut wal = Wal::open(source.path(), options(2048, SyncPolicy::Always)).unwrap();
    wal.save_snapshot(&snapshot(80, 2)).unwrap();
    save(&mut wal, None, &entries(81..=85, 2), 0);
    drop(wal);
    let fresh = segments(source.path()).pop().unwrap();
    fs::copy(&fresh, dir.path().join(format!("wal-{:06}.log", old + 1))).unwrap();
    fs::copy(source.path().join("snapshot"), dir.path().join("snapshot")).unwrap();
    let mut wal = Wal::open(dir.path(), options(2048, SyncPolicy::Always)).unwrap();
    assert_eq!(wal.recover().unwrap().entries, entries(81..=85, 2));
    assert_eq!(segments(dir.path()).len(), 1);
    save(&mut wal, None, &entries(86..=90, 2), 0);
    drop(wal);
    assert_eq!(reopen(dir.path(), WalOptions::default()).unwrap().entries, entries(81..=90, 2));
    // Without the snapshot the same break in the chain is corruption.
    let bad = TempDir::new("snapshot-crash-chain-bad");
    write_log(bad.path(), 50, 2048);
    fs::copy(&fresh, bad.path().join(format!("wal-{:06}.log", old + 1))).unwrap();
    let err = reopen(bad.path(), WalOptions::default()).unwrap_err();
    assert!(err.to_string().contains("entry index 81 where 51 expected"), "{err}");
}
