//! The replicated key-value state machine, with the client table that makes a retried
//! request take effect once (Raft dissertation, section 6.3).

use crate::types::{ClientId, ClientRequest, Op, Outcome, Seq};
use bytes::Bytes;
use rustc_hash::FxBuildHasher;
use std::collections::HashMap;

/// A fixed-key hasher: the maps are never iterated for decisions, and a fixed hasher keeps
/// even their memory layout identical from run to run. Fx is the fastest for short keys
/// and integer client ids; hash flooding is not a concern for a replicated log whose
/// writers are the clients it serves.
pub(crate) type Fixed = FxBuildHasher;

/// The key-value store every replica applies committed requests to.
#[derive(Debug, Default)]
pub(crate) struct Kv {
    /// Values are this replica's own copies, not the log's shared buffers: a shared
    /// buffer's reference count would be written by every replica's thread at every
    /// overwrite, and that cache line bouncing between cores costs more than copying a
    /// small value. An overwrite of the same length reuses the allocation.
    data: HashMap<Bytes, Box<[u8]>, Fixed>,
    /// Per client, the last sequence number applied and its outcome, so a retry of it is
    /// answered with the first answer. A client has one request outstanding at a time, so
    /// the last one is all that can be retried.
    sessions: HashMap<ClientId, (Seq, Outcome), Fixed>,
}

impl Kv {
    /// The outcome of `(client, seq)` if it was applied already.
    /// A request older than the client's last one cannot be waited for any more: it gets
    /// `Fail`, which the client ignores.
    pub(crate) fn applied(&self, client: ClientId, seq: Seq) -> Option<Outcome> {
        match self.sessions.get(&client) {
            Some((last, outcome)) if *last == seq => Some(outcome.clone()),
            Some((last, _)) if *last > seq => Some(Outcome::Fail),
            _ => None,
        }
    }

    /// Applies a committed request once; a repeat returns the first outcome unchanged.
    pub(crate) fn apply(&mut self, request: &ClientRequest) -> Outcome {
        if let Some(outcome) = self.applied(request.client, request.seq) {
            return outcome;
        }
        let outcome = match &request.op {
            Op::Get { key } => Outcome::Ok(Some(self.get(key))),
            Op::Put { key, value } => {
                self.set(key, value);
                Outcome::Ok(None)
            }
            Op::Append { key, value } => {
                let joined = [self.value(key), &value[..]].concat();
                self.set(key, &joined);
                Outcome::Ok(None)
            }
        };
        match self.sessions.get_mut(&request.client) {
            Some(session) => *session = (request.seq, outcome.clone()),
            None => {
                self.sessions.insert(request.client, (request.seq, outcome.clone()));
            }
        }
        outcome
    }

    /// Sets `key` to a copy of `value`, in place when the length allows; the key is
    /// cloned only when it is new.
    fn set(&mut self, key: &Bytes, value: &[u8]) {
        match self.data.get_mut(key.as_ref()) {
            Some(old) if old.len() == value.len() => old.copy_from_slice(value),
            Some(old) => *old = value.into(),
            None => {
                self.data.insert(key.clone(), value.into());
            }
        }
    }

    fn value(&self, key: &[u8]) -> &[u8] {
        self.data.get(key).map_or(&[], |v| v)
    }

    /// The value of `key`, empty when it was never written.
    pub(crate) fn get(&self, key: &[u8]) -> Bytes {
        Bytes::copy_from_slice(self.value(key))
    }

    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(client: ClientId, seq: Seq, op: Op) -> ClientRequest {
        ClientRequest { client, seq, op }
    }

    fn put(key: &'static str, value: &'static str) -> Op {
        Op::Put {
            key: Bytes::from_static(key.as_bytes()),
            value: Bytes::from_static(value.as_bytes()),
        }
    }

    fn get(key: &'static str) -> Op {
        Op::Get { key: Bytes::from_static(key.as_bytes()) }
    }

    #[test]
    fn get_put_append() {
        let mut kv = Kv::default();
        assert_eq!(kv.apply(&req(1, 1, get("k"))), Outcome::Ok(Some(Bytes::new())));
        assert_eq!(kv.apply(&req(1, 2, put("k", "a"))), Outcome::Ok(None));
        let append = Op::Append { key: Bytes::from_static(b"k"), value: Bytes::from_static(b"b") };
        assert_eq!(kv.apply(&req(1, 3, append)), Outcome::Ok(None));
        assert_eq!(kv.apply(&req(2, 1, get("k"))), Outcome::Ok(Some(Bytes::from_static(b"ab"))));
        assert_eq!(kv.len(), 1);
    }

    #[test]
    fn a_retried_request_is_applied_once_and_answered_with_its_first_answer() {
        let mut kv = Kv::default();
        kv.apply(&req(1, 1, put("k", "a")));
        assert_eq!(kv.apply(&req(2, 1, get("k"))), Outcome::Ok(Some(Bytes::from_static(b"a"))));
        kv.apply(&req(1, 2, put("k", "b")));
        assert_eq!(kv.apply(&req(2, 1, get("k"))), Outcome::Ok(Some(Bytes::from_static(b"a"))));
        let append = Op::Append { key: Bytes::from_static(b"k"), value: Bytes::from_static(b"c") };
        kv.apply(&req(3, 7, append.clone()));
        kv.apply(&req(3, 7, append));
        assert_eq!(kv.get(b"k"), Bytes::from_static(b"bc"));
        assert_eq!(kv.apply(&req(1, 1, put("k", "z"))), Outcome::Fail);
        assert_eq!(kv.get(b"k"), Bytes::from_static(b"bc"));
    }
}
