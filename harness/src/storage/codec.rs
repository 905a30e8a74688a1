//! The binary encoding of a log entry: hand-rolled, little-endian, versioned by its first
//! byte. It owns the byte layout and nothing else (framing and checksums are `records.rs`'s).
//!
//! Version 1 layout:
//! ```text
//! u8 version = 1 | u64 index | u64 term | u8 kind
//!   kind 0 = Noop:    nothing more
//!   kind 1 = Request: u64 client | u64 seq | u8 op (0 Get, 1 Put, 2 Append)
//!                     | u32 key length | key | (Put, Append) u32 value length | value
//! ```
//! The index sits at a fixed offset (byte 1) so the WAL can find a truncation point without
//! decoding whole entries.

use bytes::Bytes;
use pinraft_engine::{ClientRequest, Entry, Index, Op, Payload};
use std::sync::Arc;

/// The encoding version written by [`encode_entry`].
pub const VERSION: u8 = 1;
/// Where the entry's index starts in an encoded entry.
pub const INDEX_OFFSET: usize = 1;

const KIND_NOOP: u8 = 0;
const KIND_REQUEST: u8 = 1;
const OP_GET: u8 = 0;
const OP_PUT: u8 = 1;
const OP_APPEND: u8 = 2;

/// Why bytes do not decode as an entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end before the entry does.
    #[error("entry truncated at byte {0}")]
    Truncated(usize),
    /// A version this build does not read.
    #[error("unknown entry encoding version {0}")]
    Version(u8),
    /// An unknown payload kind or operation tag.
    #[error("unknown tag {tag} at byte {at}")]
    Tag {
        /// The tag read.
        tag: u8,
        /// Where.
        at: usize,
    },
    /// Bytes left over after the entry.
    #[error("{0} trailing bytes after the entry")]
    Trailing(usize),
}

/// Appends the encoding of `entry` to `buf`.
pub fn encode_entry(entry: &Entry, buf: &mut Vec<u8>) {
    buf.push(VERSION);
    buf.extend_from_slice(&entry.index.to_le_bytes());
    buf.extend_from_slice(&entry.term.to_le_bytes());
    match &entry.payload {
        Payload::Noop => buf.push(KIND_NOOP),
        Payload::Request(request) => {
            buf.push(KIND_REQUEST);
            buf.extend_from_slice(&request.client.to_le_bytes());
            buf.extend_from_slice(&request.seq.to_le_bytes());
            match &request.op {
                Op::Get { key } => {
                    buf.push(OP_GET);
                    put_bytes(buf, key);
                }
                Op::Put { key, value } => {
                    buf.push(OP_PUT);
                    put_bytes(buf, key);
                    put_bytes(buf, value);
                }
                Op::Append { key, value } => {
                    buf.push(OP_APPEND);
                    put_bytes(buf, key);
                    put_bytes(buf, value);
                }
            }
        }
    }
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("a key or value of 4 GiB or more");
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// Decodes one entry that fills `bytes` exactly. Keys and values share `bytes`' buffer.
pub fn decode_entry(bytes: &Bytes) -> Result<Entry, DecodeError> {
    let mut reader = Reader { bytes, at: 0 };
    let version = reader.u8()?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let index = reader.u64()?;
    let term = reader.u64()?;
    let payload = match reader.tag()? {
        (KIND_NOOP, _) => Payload::Noop,
        (KIND_REQUEST, _) => {
            let client = reader.u64()?;
            let seq = reader.u64()?;
            let op = match reader.tag()? {
                (OP_GET, _) => Op::Get { key: reader.bytes()? },
                (OP_PUT, _) => Op::Put { key: reader.bytes()?, value: reader.bytes()? },
                (OP_APPEND, _) => Op::Append { key: reader.bytes()?, value: reader.bytes()? },
                (tag, at) => return Err(DecodeError::Tag { tag, at }),
            };
            Payload::Request(Arc::new(ClientRequest { client, seq, op }))
        }
        (tag, at) => return Err(DecodeError::Tag { tag, at }),
    };
    if reader.at != bytes.len() {
        return Err(DecodeError::Trailing(bytes.len() - reader.at));
    }
    Ok(Entry { term, index, payload })
}

/// The index of an encoded entry, read without decoding the rest.
pub fn peek_index(bytes: &[u8]) -> Option<Index> {
    let raw = bytes.get(INDEX_OFFSET..INDEX_OFFSET + 8)?;
    Some(u64::from_le_bytes(raw.try_into().expect("8 bytes")))
}

struct Reader<'a> {
    bytes: &'a Bytes,
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<std::ops::Range<usize>, DecodeError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(DecodeError::Truncated(self.at))?;
        let range = self.at..end;
        self.at = end;
        Ok(range)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let range = self.take(1)?;
        Ok(self.bytes[range.start])
    }
    fn tag(&mut self) -> Result<(u8, usize), DecodeError> {
        let at = self.at;
        Ok((self.u8()?, at))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let range = self.take(4)?;
        Ok(u32::from_le_bytes(self.bytes[range].try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let range = self.take(8)?;
        Ok(u64::from_le_bytes(self.bytes[range].try_into().expect("8 bytes")))
    }
    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u32()? as usize;
        let range = self.take(len)?;
        Ok(self.bytes.slice(range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(op: Op) -> Payload {
        Payload::Request(Arc::new(ClientRequest { client: 7, seq: u64::MAX, op }))
    }

    fn samples() -> Vec<Entry> {
        let key = Bytes::from_static(b"key");
        let payloads = vec![
            Payload::Noop,
            request(Op::Get { key: key.clone() }),
            request(Op::Put { key: key.clone(), value: Bytes::from(vec![0xff; 1000]) }),
            request(Op::Append { key: Bytes::new(), value: Bytes::from_static(b"v") }),
        ];
        let entries = payloads.into_iter().enumerate();
        entries.map(|(i, payload)| Entry { term: 3, index: i as u64 + 1, payload }).collect()
    }

    #[test]
    fn every_kind_round_trips() {
        for entry in samples() {
            let mut buf = Vec::new();
            encode_entry(&entry, &mut buf);
            assert_eq!(peek_index(&buf), Some(entry.index));
            assert_eq!(decode_entry(&Bytes::from(buf)), Ok(entry));
        }
    }

    #[test]
    fn noop_layout_is_fixed() {
        let mut buf = Vec::new();
        encode_entry(&Entry { term: 2, index: 1, payload: Payload::Noop }, &mut buf);
        let expected = [&[1u8][..], &1u64.to_le_bytes(), &2u64.to_le_bytes(), &[0]].concat();
        assert_eq!(buf, expected);
    }

    #[test]
    fn every_truncation_is_an_error() {
        for entry in samples() {
            let mut buf = Vec::new();
            encode_entry(&entry, &mut buf);
            for len in 0..buf.len() {
                let cut = Bytes::copy_from_slice(&buf[..len]);
                assert!(matches!(decode_entry(&cut), Err(DecodeError::Truncated(_))));
            }
        }
    }

    #[test]
    fn bad_version_tag_and_trailing_bytes_are_errors() {
        let mut buf = Vec::new();
        encode_entry(&samples()[1], &mut buf);
        let mut bad = buf.clone();
        bad[0] = 2;
        assert_eq!(decode_entry(&Bytes::from(bad)), Err(DecodeError::Version(2)));
        let mut bad = buf.clone();
        bad[17] = 9;
        assert_eq!(decode_entry(&Bytes::from(bad)), Err(DecodeError::Tag { tag: 9, at: 17 }));
        buf.push(0);
        assert_eq!(decode_entry(&Bytes::from(buf)), Err(DecodeError::Trailing(1)));
    }
}
