//! The simulated network between nodes: per-packet loss, delay, duplication and reordering,
//! and one-way link cuts from which partitions are built. It decides each packet's fate from
//! the simulator's one RNG and counts messages and packets; it never sees client traffic,
//! which is delayed like any packet but never lost (clients retry on their own timers).

use crate::args::PPM;
use pinraft_engine::NodeId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A held-back (reordered) packet waits an extra one to three maximal delays, so packets
/// sent after it overtake it.
const REORDER_HOLD_DELAYS_MAX: u64 = 3;

pub use crate::metrics::{BatchCounts, MessageCounts};

/// The fault knobs of the fault phase.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Faults {
    pub(crate) loss_ppm: u32,
    pub(crate) dup_ppm: u32,
    pub(crate) reorder_ppm: u32,
    pub(crate) delay_min_ns: u64,
    pub(crate) delay_max_ns: u64,
}

/// Links, faults and counters.
#[derive(Debug)]
pub(crate) struct Network {
    nodes: usize,
    /// `cut[from * nodes + to]` (0-based positions): packets from `from` to `to` vanish.
    cut: Vec<bool>,
    faults: Faults,
    /// False in the quiet phase: no loss, duplication or reordering; delays remain.
    faulty: bool,
    pub(crate) messages: MessageCounts,
    pub(crate) batches: BatchCounts,
}

impl Network {
    pub(crate) fn new(nodes: u64, faults: Faults) -> Network {
        let nodes = nodes as usize;
        Network {
            nodes,
            cut: vec![false; nodes * nodes],
            faults,
            faulty: true,
            messages: MessageCounts::default(),
            batches: BatchCounts::default(),
        }
    }

    /// A delay drawn uniformly from the configured range.
    pub(crate) fn delay(&self, rng: &mut ChaCha8Rng) -> u64 {
        rng.gen_range(self.faults.delay_min_ns..=self.faults.delay_max_ns)
    }

    /// Decides the fate of one packet of `messages` messages: the delays after which a copy
    /// arrives (none when lost, two when duplicated). Counts it.
    pub(crate) fn send(
        &mut self,
        rng: &mut ChaCha8Rng,
        from: NodeId,
        to: NodeId,
        messages: usize,
    ) -> Vec<u64> {
        self.messages.sent += messages as u64;
        self.batches.sent += 1;
        let lost = self.is_cut(from, to) || (self.faulty && chance(rng, self.faults.loss_ppm));
        if lost {
            self.dropped(messages);
            return Vec::new();
        }
        let mut delays = vec![self.delay(rng) + self.hold(rng)];
        if self.faulty && chance(rng, self.faults.dup_ppm) {
            self.batches.duplicated += 1;
            delays.push(self.delay(rng) + self.hold(rng));
        }
        delays
    }

    /// Counts `messages` messages stepped by their receiver.
    pub(crate) fn delivered(&mut self, messages: usize) {
        self.messages.delivered += messages as u64;
    }

    /// Counts a packet of `messages` messages that will never be stepped.
    pub(crate) fn dropped(&mut self, messages: usize) {
        self.messages.dropped += messages as u64;
        self.batches.dropped += 1;
    }

    /// The extra wait of a reordered packet (zero for most).
    fn hold(&self, rng: &mut ChaCha8Rng) -> u64 {
        if !(self.faulty && chance(rng, self.faults.reorder_ppm)) {
            return 0;
        }
        let max = self.faults.delay_max_ns;
        rng.gen_range(max..=max * REORDER_HOLD_DELAYS_MAX)
    }

    pub(crate) fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.cut[self.link(from, to)]
    }

    /// Cuts the one-way link `from -> to`.
    pub(crate) fn cut_link(&mut self, from: NodeId, to: NodeId) {
        let link = self.link(from, to);
        self.cut[link] = true;
    }

    /// Cuts every link, both ways, between `group` and the other nodes.
    pub(crate) fn partition(&mut self, group: &[NodeId]) {
        let others: Vec<NodeId> =
            (1..=self.nodes as NodeId).filter(|n| !group.contains(n)).collect();
        for &a in group {
            for &b in &others {
                self.cut_link(a, b);
                self.cut_link(b, a);
            }
        }
    }

    /// Removes every cut.
    pub(crate) fn heal(&mut self) {
        self.cut.iter_mut().for_each(|c| *c = false);
    }

    /// Ends the fault phase: heals and stops loss, duplication and reordering.
    pub(crate) fn quiet(&mut self) {
        self.heal();
        self.faulty = false;
    }

    fn link(&self, from: NodeId, to: NodeId) -> usize {
        assert!(
            (1..=self.nodes as NodeId).contains(&from) && (1..=self.nodes as NodeId).contains(&to)
        );
        (from as usize - 1) * self.nodes + (to as usize - 1)
    }
}

/// True with probability `ppm` parts per million. Draws nothing for 0, so a run without a
/// fault consumes the same random numbers whatever the other knobs say.
fn chance(rng: &mut ChaCha8Rng, ppm: u32) -> bool {
    ppm > 0 && rng.gen_range(0..PPM) < ppm
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn faults(loss_ppm: u32, dup_ppm: u32) -> Faults {
        Faults { loss_ppm, dup_ppm, reorder_ppm: 0, delay_min_ns: 10, delay_max_ns: 20 }
    }

    #[test]
    fn loss_and_duplication_follow_their_probabilities_and_are_counted() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut net = Network::new(3, faults(400_000, 100_000));
        let copies: usize = (0..10_000).map(|_| net.send(&mut rng, 1, 2, 3).len()).sum();
        assert!((3_800..4_200).contains(&net.batches.dropped), "{:?}", net.batches);
        assert!((500..700).contains(&net.batches.duplicated), "{:?}", net.batches);
        assert_eq!(copies as u64, 10_000 - net.batches.dropped + net.batches.duplicated);
        assert_eq!(net.messages.sent, 30_000);
        assert_eq!(net.messages.dropped, 3 * net.batches.dropped);
    }

    #[test]
    fn partitions_cut_both_ways_and_one_way_cuts_one_way() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut net = Network::new(5, faults(0, 0));
        net.partition(&[1, 2]);
        assert!(net.is_cut(1, 3) && net.is_cut(3, 1) && net.is_cut(2, 5));
        assert!(!net.is_cut(1, 2) && !net.is_cut(3, 4));
        assert!(net.send(&mut rng, 4, 2, 1).is_empty());
        net.heal();
        net.cut_link(4, 5);
        assert!(net.is_cut(4, 5) && !net.is_cut(5, 4));
        let delays = net.send(&mut rng, 5, 4, 1);
        assert!(delays.len() == 1 && (10..=20).contains(&delays[0]));
    }

    #[test]
    fn the_quiet_phase_stops_faults_but_keeps_delays() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut net = Network::new(3, faults(PPM, PPM));
        net.cut_link(1, 2);
        net.quiet();
        for _ in 0..100 {
            let delays = net.send(&mut rng, 1, 2, 1);
            assert!(delays.len() == 1 && (10..=20).contains(&delays[0]));
        }
    }
}
