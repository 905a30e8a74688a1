//! The snapshot file: the latest snapshot, replaced atomically.
//!
//! Layout: `b"PRSNAP01"` (magic and version), then little-endian `u64 index | u64 term |
//! u64 length | u32 crc32c(data)`, then the data (the engine's encoded state machine). A
//! write goes to `snapshot.tmp`, is fsynced, renamed over `snapshot`, and the directory is
//! fsynced: a crash leaves the old snapshot or the new one, never a mix. A `snapshot.tmp`
//! found at startup is a write that crashed before its rename and is deleted unread. As the
//! file is only ever renamed into place whole, any damage to it is corruption, not a tear.

use super::hard_state::replace_atomically;
use super::{StorageError, SyncStats};
use bytes::Bytes;
use pinraft_engine::Snapshot;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The file's name in the storage directory.
pub const FILE_NAME: &str = "snapshot";
/// The temporary file a write goes through.
pub const TEMP_NAME: &str = "snapshot.tmp";
const MAGIC: &[u8; 8] = b"PRSNAP01";
const HEADER_LEN: usize = 8 + 8 + 8 + 8 + 4;

/// Writes `snapshot` atomically; with `durable`, fsyncs the file and the directory.
pub fn write(
    dir: &Path,
    snapshot: &Snapshot,
    durable: bool,
    stats: &mut SyncStats,
) -> io::Result<()> {
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&snapshot.index.to_le_bytes());
    header.extend_from_slice(&snapshot.term.to_le_bytes());
    header.extend_from_slice(&(snapshot.data.len() as u64).to_le_bytes());
    header.extend_from_slice(&crc32c::crc32c(&snapshot.data).to_le_bytes());
    let parts = [&header[..], &snapshot.data[..]];
    let synced = replace_atomically(dir, TEMP_NAME, FILE_NAME, &parts, durable)?;
    stats.snapshot += u64::from(synced);
    stats.dir += u64::from(synced);
    Ok(())
}

/// Reads the snapshot, if one was ever written, deleting a leftover temporary file.
pub fn read(dir: &Path) -> Result<Option<Snapshot>, StorageError> {
    match fs::remove_file(dir.join(TEMP_NAME)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let path = dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let corrupt =
        |reason: String| StorageError::Corrupt { segment: PathBuf::from(&path), offset: 0, reason };
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(corrupt("bad snapshot header".into()));
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let (index, term, len) = (word(8), word(16), word(24));
    let crc = u32::from_le_bytes(bytes[32..36].try_into().expect("4 bytes"));
    if len != (bytes.len() - HEADER_LEN) as u64 {
        return Err(corrupt(format!(
            "{} data bytes, the header says {len}",
            bytes.len() - HEADER_LEN
        )));
    }
    let data = bytes.slice(HEADER_LEN..);
    if crc32c::crc32c(&data) != crc {
        return Err(corrupt("snapshot checksum mismatch".into()));
    }
    Ok(Some(Snapshot { index, term, data }))
}
