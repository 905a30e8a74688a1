//! Determinism (DESIGN.md: "same seed, same trace"): the engine's only randomness is its
//! seed, so identical inputs give identical outputs, `Ready` for `Ready`.

use super::*;

/// A three-node cluster with randomized timeouts for every node, driven by a fixed script:
/// elections, client requests to whoever leads, the leader cut off and healed. Returns
/// every `Ready` every node produced, in order.
fn drive(seed: u64) -> (Vec<(NodeId, Ready)>, Vec<ClientReply>) {
    let nodes = (1..=3).map(|id| Node::new(Config { seed, ..config(id, 3) }).unwrap()).collect();
    let mut net = Net::with_nodes(nodes);
    let mut seq = 0;
    for round in 0..12u64 {
        net.run_until(net.now + 100 * MS, MS);
        let leader = net.leaders().last().map_or(1, |&(id, _)| id);
        for client in 1..=3 {
            seq += 1;
            net.node(leader).propose(put(client, seq, "k", "v"));
            net.node(leader).propose(get(client + 10, seq, "k"));
        }
        match round {
            4 => net.isolate(leader, true),
            8 => (1..=3).for_each(|id| net.isolate(id, false)),
            _ => {}
        }
    }
    (net.trace, net.replies)
}

// DESIGN.md: two identical clusters fed the same inputs produce the same outputs, every
// `Ready` of every node, elections and a partition included; a different seed does not.
#[test]
fn determinism_same_seed_and_inputs_give_the_same_readies() {
    let (trace, replies) = drive(42);
    let (again, replies_again) = drive(42);
    assert!(trace.len() > 100, "a trivial run proves nothing: {} readies", trace.len());
    assert!(replies.iter().any(|r| r.outcome == Outcome::Ok(None)));
    assert!(replies.iter().any(|r| matches!(r.outcome, Outcome::Redirect(_) | Outcome::Fail)));
    assert_eq!(trace.len(), again.len());
    for (k, (a, b)) in trace.iter().zip(&again).enumerate() {
        assert_eq!(a, b, "ready {k} differs");
    }
    assert_eq!(replies, replies_again);
    let (other, _) = drive(43);
    assert_ne!(trace, other, "the seed should matter");
}
