//! Safety under faults, by brute force (the argument of section 5.4.3, checked on seeded
//! runs): a network that loses, duplicates, delays and reorders messages and partitions
//! nodes, with clients that retry. After every step: Election Safety (5.2, one leader per
//! term) and State Machine Safety (5.4.3, no index ever committed with two different
//! entries). At the end: no request applied twice and, once the faults stop, every request
//! answered and every node at the same commit index. Each run replays from its seed.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};

/// A message in flight: (delivery time, send order, from, to, message).
type InFlight = (u64, u64, NodeId, NodeId, Message);

struct Sim {
    rng: ChaCha8Rng,
    nodes: Vec<Node>,
    in_flight: Vec<InFlight>,
    sent: u64,
    loss_percent: u32,
    /// `cut[a][b]`: messages from node a+1 to node b+1 are dropped.
    cut: Vec<Vec<bool>>,
    /// Each client's one outstanding request, retried until answered `Ok`.
    outstanding: BTreeMap<u64, ClientRequest>,
    seqs: HashMap<u64, u64>,
    answers: HashMap<(u64, u64), Outcome>,
    leaders: HashMap<Term, NodeId>,
    committed: BTreeMap<Index, Entry>,
    checked: Vec<Index>,
}

impl Sim {
    fn new(seed: u64, n: u64, (inflight, batch, snapshot_every): (usize, usize, u64)) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let knobs = |id| Config {
            seed,
            inflight_batches_max: inflight,
            batch_entries_max: batch,
            snapshot_entries_threshold: snapshot_every,
            snapshot_chunk_bytes: 64,
            ..config(id, n)
        };
        Sim {
            loss_percent: rng.gen_range(0..30),
            rng,
            nodes: (1..=n).map(|id| Node::new(knobs(id)).unwrap()).collect(),
            in_flight: Vec::new(),
            sent: 0,
            cut: vec![vec![false; n as usize]; n as usize],
            outstanding: BTreeMap::new(),
            seqs: HashMap::new(),
            answers: HashMap::new(),
            leaders: HashMap::new(),
            committed: BTreeMap::new(),
            checked: vec![0; n as usize],
        }
    }

    /// A random client sends (or retries) its request to a random node. Appends carry a
    /// value unique to (client, seq), so applying one twice shows in the final state.
    fn client(&mut self) {
        let client = self.rng.gen_range(1..6);
        if !self.outstanding.contains_key(&client) {
            let seq = self.seqs.entry(client).or_insert(0);
            *seq += 1;
            let key = Bytes::from_static([b"a", b"b"][self.rng.gen_range(0..2)]);
            let op = if self.rng.gen_ratio(3, 10) {
                Op::Get { key }
            } else {
                Op::Append { key, value: Bytes::from(format!("{client}.{seq};")) }
            };
            self.outstanding.insert(client, ClientRequest { client, seq: *seq, op });
        }
        let to = self.rng.gen_range(0..self.nodes.len());
        self.nodes[to].propose(self.outstanding[&client].clone());
    }

    /// Delivers what is due, ticks every node and performs its `Ready`s.
    fn step(&mut self, now: u64, faults: bool) -> Result<(), String> {
        self.in_flight.sort_by_key(|m| (m.0, m.1));
        let due = self.in_flight.iter().take_while(|m| m.0 <= now).count();
        for (_, _, from, to, message) in self.in_flight.drain(..due).collect::<Vec<_>>() {
            self.nodes[to as usize - 1].step(from, message);
        }
        for i in 0..self.nodes.len() {
            self.nodes[i].tick(now);
            while self.nodes[i].has_ready() {
                let ready = take(&mut self.nodes[i]);
                for b in ready.messages {
                    for m in b.messages {
                        self.send(now, faults, (b.from, b.to), m);
                    }
                }
                for reply in ready.replies {
                    self.answered(reply)?;
                }
            }
            self.check(i)?;
        }
        Ok(())
    }

    fn send(&mut self, now: u64, faults: bool, (from, to): (NodeId, NodeId), m: Message) {
        let lost = self.cut[from as usize - 1][to as usize - 1]
            || self.rng.gen_range(0..100) < self.loss_percent;
        let copies = if lost {
            0
        } else if faults && self.rng.gen_ratio(1, 50) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            self.sent += 1;
            let at = now + self.rng.gen_range(0..4) * MS / 2;
            self.in_flight.push((at, self.sent, from, to, m.clone()));
        }
    }

    /// Every `Ok` for one (client, seq) must be the same answer: it was applied once.
    fn answered(&mut self, reply: ClientReply) -> Result<(), String> {
        if !matches!(reply.outcome, Outcome::Ok(_)) {
            return Ok(());
        }
        let key = (reply.client, reply.seq);
        match self.answers.insert(key, reply.outcome.clone()) {
            Some(first) if first != reply.outcome => {
                Err(format!("{key:?}: {first:?} then {reply:?}"))
            }
            _ => {
                if self.outstanding.get(&reply.client).is_some_and(|r| r.seq == reply.seq) {
                    self.outstanding.remove(&reply.client);
                }
                Ok(())
            }
        }
    }

    fn check(&mut self, i: usize) -> Result<(), String> {
        let n = &self.nodes[i];
        if n.role() == Role::Leader {
            let leader = *self.leaders.entry(n.term()).or_insert(n.id());
            if leader != n.id() {
                return Err(format!(
                    "election safety: {leader} and {} lead term {}",
                    n.id(),
                    n.term()
                ));
            }
        }
        for index in self.checked[i] + 1..=n.commit_index() {
            // An index a snapshot covers was committed elsewhere first (section 7).
            let Some(entry) = n.entry(index) else { continue };
            let first = self.committed.entry(index).or_insert_with(|| entry.clone());
            if first != entry {
                return Err(format!("node {} committed {entry:?}, another {first:?}", n.id()));
            }
        }
        if let Some(s) = n.snapshot() {
            let term = self.committed.get(&s.index).map(|e| e.term);
            if term != Some(s.term) {
                return Err(format!(
                    "node {}: snapshot at {} of term {}, committed {term:?}",
                    n.id(),
                    s.index,
                    s.term
                ));
            }
        }
        self.checked[i] = n.commit_index();
        Ok(())
    }

    /// A fault phase of `steps` half-milliseconds, then a calm phase in which the clients
    /// retry at the leader until every request is answered.
    fn run(&mut self, steps: u64) -> Result<(), String> {
        let n = self.nodes.len();
        for step in 0..steps {
            if self.rng.gen_ratio(1, 2_000) {
                self.cut =
                    (0..n).map(|_| (0..n).map(|_| self.rng.gen_ratio(1, 3)).collect()).collect();
            } else if self.rng.gen_ratio(1, 1_000) {
                self.cut = vec![vec![false; n]; n];
            }
            if self.rng.gen_ratio(1, 4) {
                self.client();
            }
            self.step(step * MS / 2, true)?;
        }
        (self.loss_percent, self.cut) = (0, vec![vec![false; n]; n]);
        for step in steps..steps + 6_000 {
            if step % 40 == 0 {
                let term = self.nodes.iter().map(Node::term).max().unwrap_or(0);
                let leader =
                    self.nodes.iter().position(|x| x.role() == Role::Leader && x.term() == term);
                if let Some(l) = leader {
                    for request in self.outstanding.values().cloned().collect::<Vec<_>>() {
                        self.nodes[l].propose(request);
                    }
                }
            }
            self.step(step * MS / 2, false)?;
        }
        self.converged()
    }

    fn converged(&self) -> Result<(), String> {
        if !self.outstanding.is_empty() {
            return Err(format!("unanswered once calm: {:?}", self.outstanding));
        }
        let commits: Vec<Index> = self.nodes.iter().map(Node::commit_index).collect();
        if commits.iter().any(|&c| c != commits[0]) || self.committed.len() < 10 {
            return Err(format!("no convergence: commits {commits:?}"));
        }
        for n in &self.nodes {
            for key in [&b"a"[..], b"b"] {
                let value = n.kv_get(key);
                let mut parts: Vec<&[u8]> = value.split(|&c| c == b';').collect();
                let count = parts.len();
                parts.sort_unstable();
                parts.dedup();
                if parts.len() != count {
                    return Err(format!("node {} applied a request twice: {value:?}", n.id()));
                }
            }
        }
        Ok(())
    }
}

// 5.4.3: State Machine Safety, Election Safety, and at-most-once application hold on every
// seeded run, whatever the faults; and the cluster converges once they stop. Half the
// shapes snapshot and compact every few dozen entries (section 7), so lagging followers
// catch up through snapshots sent in 64-byte chunks over the same faulty network.
// `PINRAFT_SAFETY_SEEDS=N` runs N seeds instead of 120 (2,000 pass in a release build).
#[test]
fn s5_4_3_safety_holds_under_loss_duplication_reordering_and_partitions() {
    let shapes = [(3, (1, 64, 0)), (5, (1, 4, 40)), (3, (3, 2, 25)), (5, (4, 1, 0))];
    let mut installed = 0;
    let seeds: u64 =
        std::env::var("PINRAFT_SAFETY_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(120);
    for seed in 0..seeds {
        let (n, knobs) = shapes[seed as usize % shapes.len()];
        let mut sim = Sim::new(seed, n, knobs);
        let result = sim.run(20_000);
        assert_eq!(result, Ok(()), "seed={seed} nodes={n} (inflight, batch, snapshot)={knobs:?}");
        installed += sim.nodes.iter().map(|x| x.stats().snapshots_installed).sum::<u64>();
    }
    assert!(installed > 0, "some follower caught up through a snapshot");
}
