//! The reference key-value model: every committed request applied once, in global commit
//! order, by a second and deliberately simple implementation. Its results are what each
//! `ok` reply must say: a get reads the latest put to its key before it in commit order.

use bytes::Bytes;
use pinraft_engine::{ClientId, ClientRequest, Op, Seq};
use std::collections::BTreeMap;

/// The model state: data, the last sequence number applied per client, and every applied
/// request's result (`Some(value)` for a get, `None` for a write).
#[derive(Debug, Default)]
pub(crate) struct KvModel {
    data: BTreeMap<Bytes, Bytes>,
    sessions: BTreeMap<ClientId, Seq>,
    results: BTreeMap<(ClientId, Seq), Option<Bytes>>,
}

impl KvModel {
    /// Applies a committed request. A client's requests apply in sequence order and each
    /// once; a repeat or an older request (a retry committed twice) changes nothing.
    pub(crate) fn apply(&mut self, request: &ClientRequest) {
        let last = self.sessions.get(&request.client).copied().unwrap_or(0);
        if request.seq <= last {
            return;
        }
        self.sessions.insert(request.client, request.seq);
        let result = match &request.op {
            Op::Get { key } => Some(self.data.get(key).cloned().unwrap_or_default()),
            Op::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                None
            }
            Op::Append { key, value } => {
                let mut joined = self.data.get(key).map(|v| v.to_vec()).unwrap_or_default();
                joined.extend_from_slice(value);
                self.data.insert(key.clone(), Bytes::from(joined));
                None
            }
        };
        self.results.insert((request.client, request.seq), result);
    }

    /// The result of `(client, seq)`, if it was applied.
    pub(crate) fn result(&self, client: ClientId, seq: Seq) -> Option<&Option<Bytes>> {
        self.results.get(&(client, seq))
    }

    /// How many distinct requests were applied.
    pub(crate) fn applied(&self) -> u64 {
        self.results.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(client: ClientId, seq: Seq, op: Op) -> ClientRequest {
        ClientRequest { client, seq, op }
    }

    #[test]
    fn gets_read_the_latest_put_and_retries_apply_once() {
        let k = Bytes::from_static(b"k");
        let put =
            |v: &'static str| Op::Put { key: k.clone(), value: Bytes::from_static(v.as_bytes()) };
        let mut model = KvModel::default();
        model.apply(&req(1, 1, Op::Get { key: k.clone() }));
        model.apply(&req(2, 1, put("a")));
        model.apply(&req(3, 1, Op::Get { key: k.clone() }));
        model.apply(&req(4, 1, put("b")));
        model.apply(&req(2, 1, put("a")));
        model.apply(&req(3, 2, Op::Get { key: k.clone() }));
        assert_eq!(model.result(1, 1), Some(&Some(Bytes::new())));
        assert_eq!(model.result(3, 1), Some(&Some(Bytes::from_static(b"a"))));
        assert_eq!(
            model.result(3, 2),
            Some(&Some(Bytes::from_static(b"b"))),
            "the retry of 2/1 is ignored"
        );
        assert_eq!(model.result(2, 1), Some(&None));
        assert_eq!(model.result(9, 1), None);
        assert_eq!(model.applied(), 5);
    }
}
