//! Known consensus bugs as named scenarios, each showing the bug absent: the engine is
//! driven by hand through the exact interleaving, the clients' history is checked for
//! linearizability, and the same history with the bug's answer is shown to fail the check
//! (so the test could catch the bug if it came back).

use bytes::Bytes;
use pinraft_engine::{ClientReply, ClientRequest, Config, Node, NodeId, Op, Outcome, Role};
use pinraft_harness::check::{check_kv, Budget, Verdict};
use pinraft_harness::history::{OpKind, Operation, Outcome as Seen};

const MS: u64 = 1_000_000;

/// Nodes with instant delivery, one clock, and links that can be cut.
struct Net {
    nodes: Vec<Node>,
    now: u64,
    cut: Vec<(NodeId, NodeId)>,
    replies: Vec<(NodeId, ClientReply)>,
}

impl Net {
    /// `n` nodes; node `id` times out after `timeouts[id - 1]` ms (exactly), so the test
    /// decides who campaigns first.
    fn new(timeouts_ms: &[u64]) -> Net {
        let n = timeouts_ms.len() as u64;
        let nodes = (1..=n)
            .map(|id| {
                let t = timeouts_ms[id as usize - 1] * MS;
                let config = Config {
                    election_timeout_min_ns: t,
                    election_timeout_max_ns: t,
                    heartbeat_interval_ns: 10 * MS,
                    ..Config::new(id, n)
                };
                Node::new(config).unwrap()
            })
            .collect();
        Net { nodes, now: 0, cut: Vec::new(), replies: Vec::new() }
    }

    fn node(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id as usize - 1]
    }

    fn partition(&mut self, side: &[NodeId]) {
        let n = self.nodes.len() as NodeId;
        for a in 1..=n {
            for b in 1..=n {
                if side.contains(&a) != side.contains(&b) {
                    self.cut.push((a, b));
                }
            }
        }
    }

    /// Advances time to `until_ms` in 1 ms steps, delivering everything at each step.
    fn run_until(&mut self, until_ms: u64) {
        while self.now < until_ms * MS {
            self.now += MS;
            for _ in 0..100 {
                let mut batches = Vec::new();
                for node in &mut self.nodes {
                    node.tick(self.now);
                    while node.has_ready() {
                        let mut ready = node.ready();
                        batches.append(&mut ready.messages);
                        let id = node.id();
                        self.replies.extend(ready.replies.drain(..).map(|r| (id, r)));
                        node.advance(ready);
                    }
                }
                if batches.is_empty() {
                    break;
                }
                for b in batches {
                    if !self.cut.contains(&(b.from, b.to)) {
                        for m in b.messages {
                            self.nodes[b.to as usize - 1].step(b.from, m);
                        }
                    }
                }
            }
        }
    }

    /// Takes the replies to `client` collected so far.
    fn take_replies(&mut self, client: u64) -> Vec<(NodeId, ClientReply)> {
        let (mine, rest) = self.replies.drain(..).partition(|(_, r)| r.client == client);
        self.replies = rest;
        mine
    }
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn request(client: u64, seq: u64, op: Op) -> ClientRequest {
    ClientRequest { client, seq, op }
}

fn record(client: u64, op: OpKind, value: Option<&str>, output: Option<&str>) -> Operation {
    Operation {
        client,
        seq: 1,
        op,
        key: "k".into(),
        value: value.map(Into::into),
        output: output.map(Into::into),
        call_ns: 0,
        return_ns: None,
        outcome: Seen::Unknown,
    }
}

fn done(mut op: Operation, call_ms: u64, return_ms: u64) -> Operation {
    op.call_ns = call_ms * MS;
    op.return_ns = Some(return_ms * MS);
    op.outcome = Seen::Ok;
    op
}

fn linearizable(history: &[Operation]) -> bool {
    match check_kv(history, Budget::States(1_000_000)) {
        Verdict::Linearizable => true,
        Verdict::NotLinearizable(_) => false,
        Verdict::Unknown => panic!("a six-operation history must be decided"),
    }
}

/// Raft paper section 8 and the dissertation's section 6.4: a leader cut off in a minority
/// still believes it leads. If it answered reads from its own state machine it would
/// return a value the majority has overwritten. Gets go through the log, so the deposed
/// leader cannot commit the read and answers `Fail` once it learns of the new term.
#[test]
fn deposed_leader_in_a_minority_does_not_answer_a_stale_get() {
    // Node 1 campaigns first; node 3 is the first of the majority to time out once cut off.
    let mut net = Net::new(&[100, 10_000, 400, 10_000, 10_000]);
    net.run_until(150);
    assert_eq!(net.node(1).role(), Role::Leader);
    net.node(1).propose(request(1, 1, Op::Put { key: bytes("k"), value: bytes("old") }));
    net.run_until(160);
    assert_eq!(net.take_replies(1)[0].1.outcome, Outcome::Ok(None));

    net.partition(&[1, 2]);
    net.run_until(700);
    assert_eq!(net.node(3).role(), Role::Leader, "the majority elected node 3");
    assert_eq!(net.node(1).role(), Role::Leader, "node 1 still believes it leads");
    net.node(3).propose(request(2, 1, Op::Put { key: bytes("k"), value: bytes("new") }));
    net.run_until(710);
    assert_eq!(net.take_replies(2)[0].1.outcome, Outcome::Ok(None));

    net.node(1).propose(request(3, 1, Op::Get { key: bytes("k") }));
    net.run_until(800);
    assert!(net.take_replies(3).is_empty(), "the deposed leader cannot commit the read");

    net.cut.clear();
    net.run_until(900);
    let replies = net.take_replies(3);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].1.outcome, Outcome::Fail, "answered fail, never the stale value");

    let put_old = done(record(1, OpKind::Put, Some("old"), None), 150, 160);
    let put_new = done(record(2, OpKind::Put, Some("new"), None), 700, 710);
    let get = record(3, OpKind::Get, None, None);
    assert!(linearizable(&[put_old.clone(), put_new.clone(), get.clone()]));
    let stale = done(record(3, OpKind::Get, None, Some("old")), 720, 730);
    assert!(!linearizable(&[put_old, put_new, stale]), "the bug's answer must fail the check");
}

/// Raft dissertation section 6.3: a reply lost on its way leads the client to retry the
/// same (client, seq). Applying it again would append twice. The state machine's client
/// table answers the retry with the first answer, at the same leader and at a new one.
#[test]
fn a_retry_after_a_lost_reply_does_not_apply_an_append_twice() {
    let mut net = Net::new(&[100, 300, 10_000]);
    net.run_until(150);
    let append = Op::Append { key: bytes("k"), value: bytes("x") };
    net.node(1).propose(request(1, 1, append.clone()));
    net.run_until(160);
    assert_eq!(net.take_replies(1).len(), 1, "the reply is lost on its way");
    let last = net.node(1).last_index();
    net.node(1).propose(request(1, 1, append.clone()));
    net.run_until(170);
    assert_eq!(net.take_replies(1)[0].1.outcome, Outcome::Ok(None));
    assert_eq!(net.node(1).last_index(), last, "answered from the client table, not the log");

    // Lost again; node 1 crashes (cut off for good) and the retry reaches the new leader.
    net.take_replies(1);
    net.partition(&[1]);
    net.run_until(600);
    assert_eq!(net.node(2).role(), Role::Leader);
    net.node(2).propose(request(1, 1, append));
    net.node(2).propose(request(2, 1, Op::Get { key: bytes("k") }));
    net.run_until(610);
    let answers: Vec<Outcome> = net.replies.drain(..).map(|(_, r)| r.outcome).collect();
    assert_eq!(answers, vec![Outcome::Ok(None), Outcome::Ok(Some(bytes("x")))]);

    let append_once = done(record(1, OpKind::Append, Some("x"), None), 150, 605);
    let get = done(record(2, OpKind::Get, None, Some("x")), 600, 610);
    assert!(linearizable(&[append_once.clone(), get]));
    let twice = done(record(2, OpKind::Get, None, Some("xx")), 600, 610);
    assert!(!linearizable(&[append_once, twice]), "a double apply must fail the check");
}
