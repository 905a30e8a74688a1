//! The hard-state file: term and vote, replaced atomically.
//!
//! Layout (25 bytes): `b"PRHS" | u8 version = 1 | u64 term | u64 vote | u32 crc32c` of the
//! first 21 bytes, little-endian. A write goes to `hard_state.tmp`, is fsynced, renamed over
//! `hard_state`, and the directory is fsynced: a crash leaves either the old or the new file,
//! never a mix. A `hard_state.tmp` found at startup is a write that crashed before its rename
//! and is deleted unread.

use super::{StorageError, SyncStats};
use pinraft_engine::HardState;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file's name in the storage directory.
pub const FILE_NAME: &str = "hard_state";
/// The temporary file a write goes through.
pub const TEMP_NAME: &str = "hard_state.tmp";
const MAGIC: &[u8; 4] = b"PRHS";
const VERSION: u8 = 1;
/// The file's length in bytes.
pub const LEN: usize = 25;

fn encode(hard_state: HardState) -> [u8; LEN] {
    let mut buf = [0u8; LEN];
    buf[..4].copy_from_slice(MAGIC);
    buf[4] = VERSION;
    buf[5..13].copy_from_slice(&hard_state.term.to_le_bytes());
    buf[13..21].copy_from_slice(&hard_state.vote.to_le_bytes());
    let crc = crc32c::crc32c(&buf[..21]);
    buf[21..].copy_from_slice(&crc.to_le_bytes());
    buf
}

/// Writes `hard_state` atomically; with `durable`, fsyncs the file and the directory.
pub fn write(
    dir: &Path,
    hard_state: HardState,
    durable: bool,
    stats: &mut SyncStats,
) -> io::Result<()> {
    let synced = replace_atomically(dir, TEMP_NAME, FILE_NAME, &[&encode(hard_state)], durable)?;
    stats.hard_state += u64::from(synced);
    stats.dir += u64::from(synced);
    Ok(())
}

/// Replaces `dir/name` by `parts`, concatenated, so that a crash leaves the old file or the
/// new one, never a mix: written to `dir/temp`, fsynced (with `durable`), renamed over
/// `name`, and the directory fsynced (with `durable`). Returns whether it synced.
pub fn replace_atomically(
    dir: &Path,
    temp: &str,
    name: &str,
    parts: &[&[u8]],
    durable: bool,
) -> io::Result<bool> {
    let temp = dir.join(temp);
    let mut file = File::create(&temp)?;
    for part in parts {
        file.write_all(part)?;
    }
    if durable {
        file.sync_all()?;
    }
    drop(file);
    fs::rename(&temp, dir.join(name))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(durable)
}

/// Reads the hard state (the default when none was ever written), deleting a leftover
/// temporary file.
pub fn read(dir: &Path) -> Result<HardState, StorageError> {
    match fs::remove_file(dir.join(TEMP_NAME)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let path = dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HardState::default()),
        Err(e) => return Err(e.into()),
    };
    let corrupt = |reason: &str| corrupt(&path, reason);
    if bytes.len() != LEN {
        return Err(corrupt(&format!("{} bytes, expected {LEN}", bytes.len())));
    }
    if &bytes[..4] != MAGIC || bytes[4] != VERSION {
        return Err(corrupt("bad magic or version"));
    }
    let crc = u32::from_le_bytes(bytes[21..].try_into().expect("4 bytes"));
    if crc != crc32c::crc32c(&bytes[..21]) {
        return Err(corrupt("checksum mismatch"));
    }
    let term = u64::from_le_bytes(bytes[5..13].try_into().expect("8 bytes"));
    let vote = u64::from_le_bytes(bytes[13..21].try_into().expect("8 bytes"));
    Ok(HardState { term, vote })
}

fn corrupt(path: &Path, reason: &str) -> StorageError {
    StorageError::Corrupt { segment: PathBuf::from(path), offset: 0, reason: reason.into() }
}

/// fsyncs a directory, making renames, creations and deletions in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
