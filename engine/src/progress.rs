//! What a leader knows of each follower: how far its log matches, where the next batch
//! starts, the batches in flight and when they left (the original design's resend scheme).

use crate::config::Config;
use crate::types::Index;
use std::collections::VecDeque;
use std::ops::Range;

/// One append batch in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Inflight {
    /// The first index the batch carried: where a resend of it starts.
    first: Index,
    /// The last index the batch carried.
    last: Index,
    /// When it was sent.
    sent_ns: u64,
}

/// A leader's view of one follower.
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    /// Invariant: the follower's log matches the leader's through `matched`.
    matched: Index,
    /// Invariant: `matched < next`. The first index the next batch would carry.
    next: Index,
    /// Batches sent and not acknowledged, oldest first.
    /// Invariant: at most `inflight_batches_max` (1 while probing), contiguous (each
    /// `first` is the previous `last + 1`), and `next` is the last one's `last + 1`.
    inflight: VecDeque<Inflight>,
    /// True until the follower first confirms a match in this term: until then `next` is a
    /// guess, and only one batch may be in flight.
    probing: bool,
    /// When anything (append or heartbeat) was last sent to the follower.
    last_sent_ns: u64,
}

impl Progress {
    /// A fresh view at the start of a term: nothing known, probe from the leader's end.
    pub(crate) fn new(last_index: Index, now_ns: u64) -> Progress {
        Progress {
            matched: 0,
            next: last_index + 1,
            inflight: VecDeque::new(),
            probing: true,
            last_sent_ns: now_ns,
        }
    }

    pub(crate) fn matched(&self) -> Index {
        self.matched
    }

    /// The next batch to send at `now_ns`, if any, and whether it is a resend. A batch in
    /// flight longer than the resend threshold is given up with every later one: the resend
    /// starts where the oldest began (or after the match, if that is further on), folding in
    /// every newer entry up to the batch limit.
    pub(crate) fn next_batch(
        &mut self,
        config: &Config,
        last_index: Index,
        now_ns: u64,
    ) -> Option<(Range<Index>, bool)> {
        let mut resend = false;
        if let Some(oldest) = self.inflight.front() {
            if now_ns.saturating_sub(oldest.sent_ns) >= config.resend_threshold_ns {
                // Not `matched + 1`: while probing, the batch began past the match (at the
                // guess the follower's hint gave), and restarting from the match would send
                // the follower entries it holds already; for a new leader, whose match is 0,
                // the whole log from index 1.
                self.next = oldest.first.max(self.matched + 1);
                self.inflight.clear();
                resend = true;
            }
        }
        let limit = if self.probing { 1 } else { config.inflight_batches_max };
        if self.inflight.len() >= limit || self.next > last_index {
            return None;
        }
        // Saturating: `batch_entries_max` may be as large as `usize::MAX` ("no limit").
        let batch_max = Index::try_from(config.batch_entries_max).unwrap_or(Index::MAX);
        let last = last_index.min(self.next.saturating_add(batch_max - 1));
        let range = self.next..last + 1;
        self.inflight.push_back(Inflight { first: self.next, last, sent_ns: now_ns });
        self.next = last + 1;
        self.last_sent_ns = now_ns;
        Some((range, resend))
    }

    /// Whether a batch could go out right now without waiting for an ack or a timer.
    pub(crate) fn can_send(&self, config: &Config, last_index: Index) -> bool {
        let limit = if self.probing { 1 } else { config.inflight_batches_max };
        self.inflight.len() < limit && self.next <= last_index
    }

    /// Whether a heartbeat is due: nothing sent for a heartbeat interval.
    pub(crate) fn heartbeat_due(&self, config: &Config, now_ns: u64) -> bool {
        now_ns.saturating_sub(self.last_sent_ns) >= config.heartbeat_interval_ns
    }

    pub(crate) fn sent_heartbeat(&mut self, now_ns: u64) {
        self.last_sent_ns = now_ns;
    }

    /// The earliest time this follower needs the leader's attention without any input.
    pub(crate) fn deadline_ns(&self, config: &Config) -> u64 {
        let heartbeat = self.last_sent_ns.saturating_add(config.heartbeat_interval_ns);
        match self.inflight.front() {
            Some(oldest) => {
                heartbeat.min(oldest.sent_ns.saturating_add(config.resend_threshold_ns))
            }
            None => heartbeat,
        }
    }

    /// The follower matches through `index`. Returns whether `matched` moved.
    pub(crate) fn on_match(&mut self, index: Index) -> bool {
        self.probing = false;
        while self.inflight.front().is_some_and(|b| b.last <= index) {
            self.inflight.pop_front();
        }
        if index <= self.matched {
            return false;
        }
        self.matched = index;
        self.next = self.next.max(index + 1);
        true
    }

    /// The follower rejected an append whose `prev_index` was `rejected`; `next` is where
    /// the leader's log and the hint say to probe next. A rejection at or below the match
    /// is stale (reordered or duplicated) and ignored. Returns whether the view changed.
    pub(crate) fn on_conflict(&mut self, rejected: Index, next: Index) -> bool {
        if rejected <= self.matched {
            return false;
        }
        self.next = next.clamp(self.matched + 1, rejected.max(self.matched + 1));
        self.inflight.clear();
        self.probing = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(batch: usize, inflight: usize) -> Config {
        Config {
            batch_entries_max: batch,
            inflight_batches_max: inflight,
            resend_threshold_ns: 100,
            heartbeat_interval_ns: 1_000,
            ..Config::default()
        }
    }

    #[test]
    fn one_probe_at_a_time_then_batches_up_to_the_limit() {
        let cfg = config(4, 2);
        let mut pr = Progress::new(10, 0);
        pr.on_conflict(10, 1);
        assert_eq!(pr.next_batch(&cfg, 10, 0), Some((1..5, false)));
        assert_eq!(pr.next_batch(&cfg, 10, 0), None, "probing allows one batch in flight");
        assert!(pr.on_match(4));
        assert_eq!(pr.next_batch(&cfg, 10, 1), Some((5..9, false)));
        assert_eq!(pr.next_batch(&cfg, 10, 1), Some((9..11, false)));
        assert_eq!(pr.next_batch(&cfg, 10, 1), None, "two batches in flight");
        assert!(pr.on_match(8));
        assert_eq!(pr.next_batch(&cfg, 10, 2), None, "nothing new to send");
    }

    #[test]
    fn an_old_batch_is_resent_with_newer_entries_folded_in() {
        let cfg = config(8, 1);
        let mut pr = Progress::new(0, 0);
        assert!(!pr.on_match(0), "a match at 0 ends probing but moves nothing");
        assert_eq!(pr.next_batch(&cfg, 2, 0), Some((1..3, false)));
        assert_eq!(pr.next_batch(&cfg, 5, 99), None, "not yet past the threshold");
        assert_eq!(pr.next_batch(&cfg, 5, 100), Some((1..6, true)));
        assert_eq!(pr.deadline_ns(&cfg), 200);
    }

    #[test]
    fn a_resent_probe_starts_where_the_probe_began_not_after_the_match() {
        let cfg = config(8, 1);
        let mut pr = Progress::new(100, 0);
        assert_eq!(pr.next_batch(&cfg, 101, 0), Some((101..102, false)));
        assert_eq!(pr.next_batch(&cfg, 103, 100), Some((101..104, true)), "not 1..9");
        pr.on_conflict(100, 40);
        assert_eq!(pr.next_batch(&cfg, 103, 150), Some((40..48, false)));
        assert_eq!(pr.next_batch(&cfg, 103, 250), Some((40..48, true)));
    }

    #[test]
    fn stale_conflicts_are_ignored_and_next_never_drops_below_the_match() {
        let cfg = config(8, 1);
        let mut pr = Progress::new(20, 0);
        pr.on_match(5);
        assert!(!pr.on_conflict(5, 1), "a rejection at the match is stale");
        assert!(pr.on_conflict(12, 2));
        assert_eq!(pr.next_batch(&cfg, 20, 0), Some((6..14, false)));
    }

    #[test]
    fn heartbeats_only_on_an_idle_link() {
        let cfg = config(8, 1);
        let mut pr = Progress::new(3, 0);
        assert!(!pr.heartbeat_due(&cfg, 999));
        assert!(pr.heartbeat_due(&cfg, 1_000));
        pr.next_batch(&cfg, 4, 500);
        assert!(!pr.heartbeat_due(&cfg, 1_000), "an append went out at 500");
        assert_eq!(pr.deadline_ns(&cfg), 600);
    }
}
