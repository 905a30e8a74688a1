//! The classic client model. Eight clients; request `i` of `requests`, evenly spaced over
//! the duration, is issued by client `i mod 8` (the classic simulator drew the client at
//! random; turns spread the load the same way on average and replay more simply). A get
//! reads one of the client's own acknowledged keys (a put instead when it has none); a put
//! writes a new key (half the time) or updates one of the client's own keys.
//!
//! Every attempt is a new request id, a new sequence number of the same engine client, and
//! a client keeps as many in flight as the schedule gives it: the classic simulator kept a
//! table of request ids per client and never waited for one to be answered before issuing
//! the next, and it had no timeouts, so a request lost with a dead leader stays unanswered
//! and counts as a failure. On `fail` or `redirect` the client retries the operation at
//! once with a new id, at the leader the reply names. Two departures, both to keep a
//! correct engine from looking wrong or wasteful:
//!
//! - A key with an operation in flight is neither read nor updated until that operation is
//!   answered `ok` (or ever, if it never is). Otherwise a get could observe a put the client
//!   has not seen acknowledged yet, in either order (the get sent first and retried after
//!   the put was sent, or the other way round): that is linearizable, and would still count
//!   as a stale read. So a get draws from the keys with nothing in flight.
//! - A redirect that names no live leader other than the node that sent it, or the third
//!   redirect in a row for one operation, waits before the retry goes to the leader it
//!   named or a random live node: [`RETRY_BACKOFF_NS`], doubling for each such wait of the
//!   operation up to [`RETRY_BACKOFF_MAX_NS`]. The classic replicas buffered requests while
//!   they had no leader; ours answer at once, and retrying at once would flood an election.
//!
//! It is pure: the driver gives it the time and the cluster's view, and carries its
//! requests.

use super::driver::{Kind, Tally};
use crate::args::PPM;
use crate::workload::{history_record, ClusterView, Completed, LoadAction};
use bytes::Bytes;
use pinraft_engine::{ClientId, ClientReply, ClientRequest, NodeId, Op, Outcome, Seq, NONE};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Clients of the classic model.
pub const CLASSIC_CLIENTS: u64 = 8;

/// How long a retry first waits when no live leader is known (see the module
/// documentation).
pub const RETRY_BACKOFF_NS: u64 = 20_000_000;

/// The longest such wait: about half an election timeout, so a client notices a new leader
/// soon after it is elected.
pub const RETRY_BACKOFF_MAX_NS: u64 = 160_000_000;

/// Redirects in a row for one operation that are followed at once; later ones wait
/// [`RETRY_BACKOFF_NS`].
const REDIRECTS_AT_ONCE_MAX: u32 = 2;

/// Length of a new key and of a value, in characters (as in the classic simulator).
const KEY_CHARS: usize = 32;

/// One operation, carried unchanged through every attempt.
#[derive(Clone, Debug)]
struct Operation {
    /// A get, or a put of `value`.
    value: Option<Bytes>,
    key: Bytes,
    /// Redirects in a row.
    redirects: u32,
    /// Times it waited out a backoff.
    waits: u32,
}

/// What became of a request id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IdState {
    InFlight,
    Ok,
    Fail,
    Redirect,
}

impl IdState {
    fn as_str(self) -> &'static str {
        match self {
            IdState::InFlight => "nothing yet",
            IdState::Ok => "ok",
            IdState::Fail => "fail",
            IdState::Redirect => "redirect",
        }
    }
}

#[derive(Debug)]
struct Attempt {
    op: Operation,
    request: Arc<ClientRequest>,
    sent_ns: u64,
    target: NodeId,
}

#[derive(Debug)]
struct Client {
    id: ClientId,
    /// The leader this client believes in (`NONE`: unknown).
    leader: NodeId,
    /// Keys this client wrote and saw acknowledged, in the order of their first `ok`.
    keys: Vec<Bytes>,
    /// The last acknowledged value of each such key.
    values: BTreeMap<Bytes, Bytes>,
    /// Keys with an operation in flight (at most one each).
    busy: BTreeSet<Bytes>,
    /// Per request id (seq - 1): what became of it.
    ids: Vec<IdState>,
    inflight: BTreeMap<Seq, Attempt>,
}

/// The eight classic clients and their schedule.
#[derive(Debug)]
pub(super) struct ClassicClients {
    clients: Vec<Client>,
    /// Request `i` is due at `first_ns + i * duration_ns / requests`.
    first_ns: u64,
    duration_ns: u64,
    requests: u64,
    next: u64,
    get_ppm: u32,
    rng: ChaCha8Rng,
    /// Retries waiting out a backoff, by (due time, order).
    delayed: BTreeMap<(u64, u64), (usize, Operation)>,
    delayed_order: u64,
}

impl ClassicClients {
    pub(super) fn new(
        requests: u64,
        get_ppm: u32,
        first_ns: u64,
        duration_ns: u64,
        rng: ChaCha8Rng,
    ) -> ClassicClients {
        let clients = (1..=CLASSIC_CLIENTS)
            .map(|id| Client {
                id,
                leader: NONE,
                keys: Vec::new(),
                values: BTreeMap::new(),
                busy: BTreeSet::new(),
                ids: Vec::new(),
                inflight: BTreeMap::new(),
            })
            .collect();
        ClassicClients {
            clients,
            first_ns,
            duration_ns,
            requests,
            next: 0,
            get_ppm,
            rng,
            delayed: BTreeMap::new(),
            delayed_order: 0,
        }
    }

    fn due_ns(&self, i: u64) -> u64 {
        let offset = u128::from(i) * u128::from(self.duration_ns) / u128::from(self.requests);
        self.first_ns + offset as u64
    }

    pub(super) fn next_wake_ns(&self) -> u64 {
        let arrival = if self.next < self.requests { self.due_ns(self.next) } else { u64::MAX };
        let retry = self.delayed.keys().next().map_or(u64::MAX, |&(at, _)| at);
        arrival.min(retry)
    }

    /// Issues every request due by `now_ns` and every retry whose backoff is over.
    pub(super) fn wake(
        &mut self,
        now_ns: u64,
        view: &ClusterView,
        out: &mut Vec<LoadAction>,
        tally: &mut Tally,
    ) {
        while self.next < self.requests && self.due_ns(self.next) <= now_ns {
            let k = (self.next % CLASSIC_CLIENTS) as usize;
            self.next += 1;
            tally.operations += 1;
            let get = self.rng.gen_range(0..PPM) < self.get_ppm;
            let op = self.new_operation(k, get);
            self.send(k, op, now_ns, view, None, out, tally);
        }
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now_ns {
                break;
            }
            let (k, op) = entry.remove();
            self.send(k, op, now_ns, view, None, out, tally);
        }
    }

    /// Every client forgets the leader (`kill_leader`, `part_hard`).
    pub(super) fn forget_leader(&mut self) {
        self.clients.iter_mut().for_each(|c| c.leader = NONE);
    }

    /// A get of a random free acknowledged key if `get` and there is one; otherwise a put
    /// of a new key (always when there is no free key, else half the time) or an update.
    fn new_operation(&mut self, k: usize, get: bool) -> Operation {
        let client = &self.clients[k];
        let free: Vec<&Bytes> = client.keys.iter().filter(|k| !client.busy.contains(*k)).collect();
        if get && !free.is_empty() {
            let key = free[self.rng.gen_range(0..free.len())].clone();
            self.clients[k].busy.insert(key.clone());
            return Operation { value: None, key, redirects: 0, waits: 0 };
        }
        let key = if free.is_empty() || self.rng.gen_range(0..2) == 0 {
            random_key(&mut self.rng)
        } else {
            free[self.rng.gen_range(0..free.len())].clone()
        };
        let value = Bytes::from(format!("{:032x}", self.rng.gen::<u128>()));
        self.clients[k].busy.insert(key.clone());
        Operation { value: Some(value), key, redirects: 0, waits: 0 }
    }

    /// Sends `op` under a new request id: to `prefer` if it is alive, else to the leader the
    /// client believes in if alive, else to a random live node (and the client forgets its
    /// leader). With no live node at all the id is issued and never answered.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        k: usize,
        op: Operation,
        now_ns: u64,
        view: &ClusterView,
        prefer: Option<NodeId>,
        out: &mut Vec<LoadAction>,
        tally: &mut Tally,
    ) {
        let client = &mut self.clients[k];
        let target = match prefer.filter(|&n| view.is_alive(n)) {
            Some(node) => node,
            None if view.is_alive(client.leader) => client.leader,
            None => {
                client.leader = NONE;
                let live: Vec<NodeId> =
                    (1..=view.alive.len() as NodeId).filter(|&n| view.is_alive(n)).collect();
                live.choose(&mut self.rng).copied().unwrap_or(NONE)
            }
        };
        client.ids.push(IdState::InFlight);
        let seq = client.ids.len() as Seq;
        let engine_op = match &op.value {
            None => Op::Get { key: op.key.clone() },
            Some(value) => Op::Put { key: op.key.clone(), value: value.clone() },
        };
        let request = Arc::new(ClientRequest { client: client.id, seq, op: engine_op });
        tally.sent(if op.value.is_none() { Kind::Get } else { Kind::Put });
        if target != NONE {
            out.push(LoadAction::Send { to: target, request: request.clone() });
        }
        client.inflight.insert(seq, Attempt { op, request, sent_ns: now_ns, target });
    }

    pub(super) fn on_reply(
        &mut self,
        reply: ClientReply,
        now_ns: u64,
        view: &ClusterView,
        out: &mut Vec<LoadAction>,
        tally: &mut Tally,
    ) {
        let (c, s) = (reply.client, reply.seq);
        let Some(k) = tally.client_index(c, self.clients.len()) else { return };
        let state = self.clients[k].ids.get((s as usize).wrapping_sub(1)).copied();
        match state {
            None => return tally.error(format!("a reply to request id {c}.{s}, never sent")),
            Some(IdState::Ok) => return tally.duplicates += 1,
            Some(IdState::Fail | IdState::Redirect) => {
                return tally.error(format!(
                    "a reply ({}) to request id {c}.{s}, already answered with {}",
                    outcome_name(&reply.outcome),
                    state.expect("matched").as_str()
                ))
            }
            Some(IdState::InFlight) => {}
        }
        let attempt = self.clients[k].inflight.remove(&s).expect("in flight ids are kept");
        tally.latency(now_ns.saturating_sub(attempt.sent_ns));
        match reply.outcome {
            Outcome::Ok(output) => self.on_ok(k, attempt, output, now_ns, tally),
            Outcome::Fail => {
                self.clients[k].ids[s as usize - 1] = IdState::Fail;
                tally.fail += 1;
                tally.history.push(history_record(&attempt.request, attempt.sent_ns, None));
                let mut op = attempt.op;
                op.redirects = 0;
                // The node that failed it stepped down; it knows the new leader, if anyone.
                self.send(k, op, now_ns, view, Some(attempt.target), out, tally);
            }
            Outcome::Redirect(hint) => {
                self.clients[k].ids[s as usize - 1] = IdState::Redirect;
                tally.redirect += 1;
                let mut op = attempt.op;
                op.redirects += 1;
                let named = view.is_alive(hint) && hint != attempt.target;
                self.clients[k].leader = if named { hint } else { NONE };
                if named && op.redirects <= REDIRECTS_AT_ONCE_MAX {
                    self.send(k, op, now_ns, view, Some(hint), out, tally);
                } else {
                    let backoff = (RETRY_BACKOFF_NS << op.waits.min(8)).min(RETRY_BACKOFF_MAX_NS);
                    op.waits += 1;
                    self.delayed_order += 1;
                    self.delayed.insert((now_ns + backoff, self.delayed_order), (k, op));
                }
            }
        }
    }

    fn on_ok(
        &mut self,
        k: usize,
        attempt: Attempt,
        output: Option<Bytes>,
        now_ns: u64,
        tally: &mut Tally,
    ) {
        let client = &mut self.clients[k];
        let (c, s) = (client.id, attempt.request.seq);
        client.ids[s as usize - 1] = IdState::Ok;
        client.leader = attempt.target;
        tally.ok += 1;
        let op = attempt.op;
        client.busy.remove(&op.key);
        match &op.value {
            None => {
                let got = output.clone().unwrap_or_default();
                let want = client.values.get(&op.key).cloned().unwrap_or_default();
                if got != want {
                    tally.error(format!(
                        "stale get: request id {c}.{s} read {} = {}, but the client's last \
                         acknowledged write is {}",
                        text(&op.key),
                        text(&got),
                        text(&want)
                    ));
                }
            }
            Some(value) => {
                if client.values.insert(op.key.clone(), value.clone()).is_none() {
                    client.keys.push(op.key.clone());
                }
            }
        }
        let done = Completed {
            request: attempt.request.clone(),
            call_ns: attempt.sent_ns,
            return_ns: now_ns,
            output: if op.value.is_none() { output } else { None },
        };
        tally.history.push(history_record(&attempt.request, attempt.sent_ns, Some(&done)));
    }

    /// The end of the run: every id still in flight is unanswered, and so is every retry
    /// still waiting out its backoff (the classic client would have sent it already).
    pub(super) fn finish(&mut self, tally: &mut Tally) {
        for client in &self.clients {
            for attempt in client.inflight.values() {
                let kind = if attempt.op.value.is_none() { Kind::Get } else { Kind::Put };
                tally.unanswered(kind);
                tally.history.push(history_record(&attempt.request, attempt.sent_ns, None));
            }
        }
        for (_, op) in self.delayed.values() {
            let kind = if op.value.is_none() { Kind::Get } else { Kind::Put };
            tally.sent(kind);
            tally.unanswered(kind);
        }
    }
}

fn random_key(rng: &mut ChaCha8Rng) -> Bytes {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let key: Vec<u8> = (0..KEY_CHARS).map(|_| CHARS[rng.gen_range(0..CHARS.len())]).collect();
    Bytes::from(key)
}

fn text(bytes: &Bytes) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

pub(super) fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Ok(_) => "ok",
        Outcome::Fail => "fail",
        Outcome::Redirect(_) => "redirect",
    }
}
