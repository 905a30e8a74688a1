//! Framed log records, shared by the file-backed [`super::Wal`] and the simulator's
//! [`super::SimStorage`]: one framing, one checksum, one tail-repair rule, so a crash in the
//! simulator goes through the very code a real restart does.
//!
//! A record is `u32 length | u32 crc32c(payload) | payload`, little-endian, where the payload
//! is one entry in the [`super::codec`] encoding. This module never touches a file.
//!
//! Scanning a run of records (the records of a segment, or of the simulated log): a damaged
//! record (short header, zero length, length past the end, checksum mismatch) is a write
//! torn by a crash when it is at the tail of the last run *and* no valid record follows it
//! at any later byte: the scan stops there and reports where to cut. Anywhere else, or when
//! a record does not decode or its index is out of sequence, the run is corrupt.

use super::codec::{decode_entry, encode_entry};
use bytes::Bytes;
use pinraft_engine::Entry;

/// Bytes before a record's payload: its length and its checksum.
pub const RECORD_HEADER_LEN: usize = 8;

/// Appends `entry` to `buf` as one framed record.
pub fn append_record(entry: &Entry, buf: &mut Vec<u8>) {
    let start = buf.len();
    buf.extend_from_slice(&[0; RECORD_HEADER_LEN]);
    encode_entry(entry, buf);
    let payload_len = buf.len() - start - RECORD_HEADER_LEN;
    let crc = crc32c::crc32c(&buf[start + RECORD_HEADER_LEN..]);
    let len = u32::try_from(payload_len).expect("an entry of 4 GiB or more");
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The payload length the record at `at` claims (its first four bytes); `None` when fewer
/// than four bytes are left.
pub fn claimed_len(bytes: &[u8], at: usize) -> Option<usize> {
    let raw = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(raw.try_into().expect("4 bytes")) as usize)
}

/// Checks the record at `at`: returns its payload length, or what is wrong with it.
pub fn check_record(bytes: &[u8], at: usize) -> Result<usize, &'static str> {
    let rest = &bytes[at..];
    if rest.len() < RECORD_HEADER_LEN {
        return Err("short record header");
    }
    let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    if len == 0 {
        return Err("zero record length");
    }
    if len > rest.len() - RECORD_HEADER_LEN {
        return Err("record runs past the end of the file");
    }
    if crc32c::crc32c(&rest[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len]) != crc {
        return Err("checksum mismatch");
    }
    Ok(len)
}

/// How a scan of a run of records ended without finding corruption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scanned {
    /// Bytes up to the end of the last valid record: the run's new length.
    pub valid_len: usize,
    /// Why the torn tail after `valid_len` was rejected, if there is one.
    pub torn: Option<&'static str>,
}

/// Damage that is not a torn tail: the caller must refuse to serve the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Where the damaged record starts.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

/// Reads the records of `bytes[start..]` into `entries`, each index following the last one
/// already there (the first may be any index). `is_last`: this run ends the log, so a torn tail may be cut.
pub fn scan_records(
    bytes: &Bytes,
    start: usize,
    is_last: bool,
    entries: &mut Vec<Entry>,
) -> Result<Scanned, Damage> {
    let mut at = start;
    while at < bytes.len() {
        let damage = match check_record(bytes, at) {
            Ok(len) => {
                let payload = bytes.slice(at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len);
                let entry = decode_entry(&payload).map_err(|e| Damage {
                    offset: at,
                    reason: format!("undecodable entry: {e}"),
                })?;
                // The first entry may follow a snapshot; the caller checks where it starts.
                let expected = entries.last().map_or(entry.index, |e| e.index + 1);
                if entry.index != expected {
                    let reason = format!("entry index {} where {expected} expected", entry.index);
                    return Err(Damage { offset: at, reason });
                }
                entries.push(entry);
                at += RECORD_HEADER_LEN + len;
                continue;
            }
            Err(damage) => damage,
        };
        if !is_last {
            let reason = format!("{damage} (not the last segment)");
            return Err(Damage { offset: at, reason });
        }
        if let Some(valid) = (at + 1..bytes.len()).find(|&o| check_record(bytes, o).is_ok()) {
            let reason = format!("{damage}, followed by a valid record at byte {valid}");
            return Err(Damage { offset: at, reason });
        }
        return Ok(Scanned { valid_len: at, torn: Some(damage) });
    }
    Ok(Scanned { valid_len: bytes.len(), torn: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinraft_engine::Payload;

    fn log(n: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        for index in 1..=n {
            append_record(&Entry { term: 1, index, payload: Payload::Noop }, &mut buf);
        }
        buf
    }

    #[test]
    fn a_clean_run_reads_whole() {
        let bytes = Bytes::from(log(3));
        let mut entries = Vec::new();
        let scanned = scan_records(&bytes, 0, true, &mut entries).unwrap();
        assert_eq!(scanned, Scanned { valid_len: bytes.len(), torn: None });
        assert_eq!(entries.iter().map(|e| e.index).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(claimed_len(&bytes, 0), Some(18));
    }

    #[test]
    fn a_torn_tail_is_cut_only_in_the_last_run() {
        let mut buf = log(3);
        let whole = buf.len();
        buf.truncate(whole - 5);
        let bytes = Bytes::from(buf);
        let mut entries = Vec::new();
        let scanned = scan_records(&bytes, 0, true, &mut entries).unwrap();
        assert_eq!(scanned.valid_len, whole / 3 * 2);
        assert_eq!(scanned.torn, Some("record runs past the end of the file"));
        assert_eq!(entries.len(), 2);
        let err = scan_records(&bytes, 0, false, &mut Vec::new()).unwrap_err();
        assert!(err.reason.contains("not the last segment"), "{err:?}");
    }

    #[test]
    fn damage_followed_by_a_valid_record_is_corruption() {
        let mut buf = log(3);
        buf[RECORD_HEADER_LEN + 2] ^= 1;
        let err = scan_records(&Bytes::from(buf), 0, true, &mut Vec::new()).unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(err.reason.contains("followed by a valid record"), "{err:?}");
    }
}
