//! What a leader knows of each follower: how far its log matches, where the next batch
//! starts, the batches in flight and when they left (the original design's resend scheme),
//! and the follower's resend timeout (fixed, or adaptive: see [`ResendTimer`]).

use crate::config::{Config, ResendPolicy};
use crate::resend::ResendTimer;
use crate::types::{Index, Snapshot, Term};
use bytes::Bytes;
use std::collections::VecDeque;
use std::ops::Range;

/// Why an append batch goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// It carries entries not sent since the last batch was acknowledged or given up.
    New,
    /// The batch before it timed out: it goes again with newer entries folded in.
    Timeout,
    /// It repairs a gap the follower reported (fast retransmit).
    Repair,
}

/// One append batch in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Inflight {
    /// The first index the batch carried: where a resend of it starts.
    first: Index,
    /// The last index the batch carried.
    last: Index,
    /// When it was sent.
    sent_ns: u64,
    /// Whether it carries an entry sent before: its acknowledgement may answer the earlier
    /// copy, so it gives no round-trip sample (Karn's rule).
    resent: bool,
}

/// A snapshot on its way to a follower whose next entry the leader has compacted away.
/// One chunk is in flight at a time (stop and wait): the follower acknowledges each with
/// how much it holds, so a lost chunk or ack costs one resend threshold and the transfer
/// resumes where the follower's last ack left off.
#[derive(Clone, Debug)]
struct Transfer {
    snapshot: Snapshot,
    /// Leading bytes the follower confirmed holding.
    acked: u64,
    /// When the chunk in flight was sent; `None` when the next one may go at once.
    sent_ns: Option<u64>,
}

/// One `InstallSnapshot` to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) index: Index,
    pub(crate) term: Term,
    pub(crate) offset: u64,
    pub(crate) total: u64,
    pub(crate) data: Bytes,
    /// Whether this chunk was sent before.
    pub(crate) resend: bool,
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
    /// When anything (append, chunk or heartbeat) was last sent to the follower.
    last_sent_ns: u64,
    /// Invariant: while `Some`, no append batch goes to this follower.
    transfer: Option<Transfer>,
    /// When the oldest append or chunk the follower has not answered anything since was
    /// sent; `None` while every send was followed by an answer. Heartbeats are not
    /// answered, so an idle follower is never taken for a silent one.
    waiting_since_ns: Option<u64>,
    /// How long a batch waits for its acknowledgement.
    timer: ResendTimer,
    /// The highest index sent to the follower in this term.
    sent_through: Index,
    /// Adaptive: the follower's end + 1 when it last reported a gap that a fast retransmit
    /// repaired; a report of the same gap (from the batches that were in flight behind the
    /// lost one) is not repaired twice. 0 before any.
    repaired_from: Index,
    /// Whether the next batch repairs a gap.
    repairing: bool,
}

impl Progress {
    /// A fresh view at the start of a term: nothing known, probe from the leader's end.
    pub(crate) fn new(config: &Config, last_index: Index, now_ns: u64) -> Progress {
        Progress {
            matched: 0,
            next: last_index + 1,
            inflight: VecDeque::new(),
            probing: true,
            last_sent_ns: now_ns,
            transfer: None,
            waiting_since_ns: None,
            timer: ResendTimer::new(config),
            sent_through: 0,
            repaired_from: 0,
            repairing: false,
        }
    }

    pub(crate) fn matched(&self) -> Index {
        self.matched
    }

    /// The follower answered something.
    pub(crate) fn heard(&mut self) {
        self.waiting_since_ns = None;
    }

    /// The index of the snapshot on its way to the follower, if any and if the follower
    /// still answers: a leader keeps the log after it, but not for a follower that is down
    /// (its memory must stay bounded while the follower is gone).
    pub(crate) fn live_transfer_index(&self, config: &Config, now_ns: u64) -> Option<Index> {
        let transfer = self.transfer.as_ref()?;
        let silent = self.waiting_since_ns.is_some_and(|since| {
            now_ns >= since.saturating_add(2 * config.election_timeout_max_ns)
        });
        (!silent).then_some(transfer.snapshot.index)
    }

    /// When a batch or chunk sent at `sent_ns` goes again if unacknowledged, `wait_ns`
    /// later. A follower that answered nothing for two longest election timeouts of appends
    /// or chunks is down or cut off (on a link that merely loses 40% of packets, some ack
    /// gets through far sooner): resending to it every resend timeout would spend packets on
    /// nothing, so it is probed at the heartbeat pace (or the resend threshold, if longer)
    /// instead until it answers (issue 8's frugality).
    fn resend_due_ns(&self, config: &Config, sent_ns: u64, wait_ns: u64) -> u64 {
        let due = sent_ns.saturating_add(wait_ns);
        let silent_from = self
            .waiting_since_ns
            .map_or(u64::MAX, |since| since.saturating_add(2 * config.election_timeout_max_ns));
        if due < silent_from {
            due
        } else {
            sent_ns.saturating_add(config.resend_threshold_ns.max(config.heartbeat_interval_ns))
        }
    }

    /// When the oldest batch in flight, sent at `sent_ns`, goes again.
    fn batch_due_ns(&self, config: &Config, sent_ns: u64) -> u64 {
        self.resend_due_ns(config, sent_ns, self.timer.timeout_ns())
    }

    /// When the snapshot chunk in flight, sent at `sent_ns`, goes again: after the resend
    /// threshold under either policy, since a chunk's round trip (a megabyte copied and
    /// written) is not the one the adaptive estimate measures.
    fn chunk_due_ns(&self, config: &Config, sent_ns: u64) -> u64 {
        self.resend_due_ns(config, sent_ns, config.resend_threshold_ns)
    }

    /// The next batch to send at `now_ns`, if any, and why it goes. A batch in
    /// flight longer than the resend timeout is given up with every later one: the resend
    /// starts where the oldest began (or after the match, if that is further on), folding in
    /// every newer entry up to the batch limit.
    ///
    /// No batch while a snapshot transfer runs, nor one that would start before
    /// `first_index` (the leader compacted those entries: see [`Progress::needs_snapshot`]).
    pub(crate) fn next_batch(
        &mut self,
        config: &Config,
        first_index: Index,
        last_index: Index,
        now_ns: u64,
    ) -> Option<(Range<Index>, Sent)> {
        if self.transfer.is_some() {
            return None;
        }
        let mut why = Sent::New;
        if let Some(oldest) = self.inflight.front() {
            if now_ns >= self.batch_due_ns(config, oldest.sent_ns) {
                // Not `matched + 1`: while probing, the batch began past the match (at the
                // guess the follower's hint gave), and restarting from the match would send
                // the follower entries it holds already; for a new leader, whose match is 0,
                // the whole log from index 1.
                self.next = oldest.first.max(self.matched + 1);
                self.inflight.clear();
                self.timer.timed_out(config);
                why = Sent::Timeout;
            }
        }
        let limit = if self.probing { 1 } else { config.inflight_batches_max };
        if self.inflight.len() >= limit || self.next > last_index || self.next < first_index {
            return None;
        }
        // Saturating: `batch_entries_max` may be as large as `usize::MAX` ("no limit").
        let batch_max = Index::try_from(config.batch_entries_max).unwrap_or(Index::MAX);
        let last = last_index.min(self.next.saturating_add(batch_max - 1));
        let range = self.next..last + 1;
        let resent = self.next <= self.sent_through;
        self.inflight.push_back(Inflight { first: self.next, last, sent_ns: now_ns, resent });
        self.sent_through = self.sent_through.max(last);
        if std::mem::take(&mut self.repairing) {
            why = Sent::Repair;
        }
        self.waiting_since_ns.get_or_insert(now_ns);
        self.next = last + 1;
        self.last_sent_ns = now_ns;
        Some((range, why))
    }

    /// Whether a batch or chunk could go out right now without waiting for an ack or a
    /// timer.
    pub(crate) fn can_send(&self, config: &Config, first_index: Index, last_index: Index) -> bool {
        if let Some(transfer) = &self.transfer {
            return transfer.sent_ns.is_none();
        }
        if self.needs_snapshot(first_index) {
            return true;
        }
        let limit = if self.probing { 1 } else { config.inflight_batches_max };
        self.inflight.len() < limit && self.next <= last_index
    }

    /// Whether the follower needs entries before `first_index`, which the leader no longer
    /// holds, and no snapshot is on its way yet.
    pub(crate) fn needs_snapshot(&self, first_index: Index) -> bool {
        self.transfer.is_none() && self.next < first_index
    }

    /// Starts sending `snapshot` in place of the compacted entries.
    pub(crate) fn start_snapshot(&mut self, snapshot: Snapshot) {
        self.inflight.clear();
        self.transfer = Some(Transfer { snapshot, acked: 0, sent_ns: None });
    }

    /// Switches a transfer the follower has not confirmed any byte of to `latest`, if that
    /// is newer: a follower cut off while a transfer began would otherwise install an old
    /// snapshot and then need another.
    pub(crate) fn refresh_snapshot(&mut self, latest: &Snapshot) {
        if let Some(transfer) = self.transfer.as_mut() {
            if transfer.acked == 0 && transfer.snapshot.index < latest.index {
                transfer.snapshot = latest.clone();
                // The chunk in flight was of the old snapshot: its ack will not count.
                transfer.sent_ns = None;
            }
        }
    }

    /// Whether a snapshot transfer runs.
    pub(crate) fn sending_snapshot(&self) -> bool {
        self.transfer.is_some()
    }

    /// The next chunk of the snapshot to send at `now_ns`, if one is due: none while a
    /// chunk is in flight for less than the resend threshold.
    pub(crate) fn next_chunk(&mut self, config: &Config, now_ns: u64) -> Option<Chunk> {
        let due = self.transfer.as_ref()?.sent_ns.map(|sent| self.chunk_due_ns(config, sent));
        let transfer = self.transfer.as_mut()?;
        let resend = match due {
            Some(due) if now_ns < due => return None,
            Some(_) => true,
            None => false,
        };
        let data = &transfer.snapshot.data;
        let total = data.len() as u64;
        let start = transfer.acked.min(total) as usize;
        let end = data.len().min(start.saturating_add(config.snapshot_chunk_bytes));
        transfer.sent_ns = Some(now_ns);
        self.last_sent_ns = now_ns;
        self.waiting_since_ns.get_or_insert(now_ns);
        Some(Chunk {
            index: transfer.snapshot.index,
            term: transfer.snapshot.term,
            offset: start as u64,
            total,
            data: data.slice(start..end),
            resend,
        })
    }

    /// The follower holds `received` bytes of the snapshot at `index`. Returns whether the
    /// transfer ended with it installed: the follower then matches through `index`.
    pub(crate) fn on_snapshot_ack(&mut self, index: Index, received: u64) -> bool {
        let Some(transfer) = self.transfer.as_mut() else { return false };
        if transfer.snapshot.index != index {
            return false;
        }
        if received < transfer.snapshot.data.len() as u64 {
            // Resume from what the follower holds (0 if it dropped a damaged snapshot).
            transfer.acked = received;
            transfer.sent_ns = None;
            return false;
        }
        self.transfer = None;
        self.inflight.clear();
        self.probing = false;
        self.matched = self.matched.max(index);
        self.next = self.matched + 1;
        true
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
        if let Some(transfer) = &self.transfer {
            return heartbeat
                .min(transfer.sent_ns.map_or(0, |sent| self.chunk_due_ns(config, sent)));
        }
        match self.inflight.front() {
            Some(oldest) => heartbeat.min(self.batch_due_ns(config, oldest.sent_ns)),
            None => heartbeat,
        }
    }

    /// The follower matches through `index`, as it said at `now_ns`. Every batch it holds
    /// whole leaves the flight; the newest of them, if it was sent once, measures the round
    /// trip. Returns whether `matched` moved.
    pub(crate) fn on_match(&mut self, config: &Config, index: Index, now_ns: u64) -> bool {
        self.probing = false;
        let mut newest = None;
        while self.inflight.front().is_some_and(|b| b.last <= index) {
            newest = self.inflight.pop_front();
        }
        if newest.is_some() || index > self.matched {
            self.timer.acknowledged(config);
        }
        if let Some(batch) = newest.filter(|b| !b.resent) {
            self.timer.sample(config, now_ns.saturating_sub(batch.sent_ns));
        }
        if index <= self.matched {
            return false;
        }
        self.matched = index;
        self.next = self.next.max(index + 1);
        true
    }

    /// Adaptive policy, fast retransmit: the follower lacks the entry at `rejected` and its
    /// log ends at `end_next - 1`, so an append beyond a gap reached it (the batches before
    /// were lost). Once the follower is confirmed (not probing), the leader resends from its
    /// end at once, with the whole pipeline, instead of waiting for the timeout; the reports
    /// of the same gap that the other batches in flight bring, and reports of batches no
    /// longer in flight, are ignored (the timeout still repairs a lost repair). Returns
    /// whether the report was taken care of here; if not (a probe's answer, no gap, the fixed
    /// policy), the caller treats it as any conflict.
    pub(crate) fn on_gap(&mut self, config: &Config, rejected: Index, end_next: Index) -> bool {
        let gap = end_next > self.matched && end_next <= rejected;
        if config.resend_policy != ResendPolicy::Adaptive || self.probing || !gap {
            return false;
        }
        // A report of a batch no longer in flight is stale: the batch was resent, repaired
        // or acknowledged since.
        let in_flight = self.inflight.iter().any(|b| b.first == rejected + 1);
        if end_next > self.repaired_from && in_flight {
            self.repaired_from = end_next;
            self.next = end_next;
            self.inflight.clear();
            self.repairing = true;
        }
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
            resend_policy: ResendPolicy::Fixed,
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
        let mut pr = Progress::new(&cfg, 10, 0);
        pr.on_conflict(10, 1);
        assert_eq!(pr.next_batch(&cfg, 1, 10, 0), Some((1..5, Sent::New)));
        assert_eq!(pr.next_batch(&cfg, 1, 10, 0), None, "probing allows one batch in flight");
        assert!(pr.on_match(&cfg, 4, 0));
        assert_eq!(pr.next_batch(&cfg, 1, 10, 1), Some((5..9, Sent::New)));
        assert_eq!(pr.next_batch(&cfg, 1, 10, 1), Some((9..11, Sent::New)));
        assert_eq!(pr.next_batch(&cfg, 1, 10, 1), None, "two batches in flight");
        assert!(pr.on_match(&cfg, 8, 0));
        assert_eq!(pr.next_batch(&cfg, 1, 10, 2), None, "nothing new to send");
    }

    #[test]
    fn an_old_batch_is_resent_with_newer_entries_folded_in() {
        let cfg = config(8, 1);
        let mut pr = Progress::new(&cfg, 0, 0);
        assert!(!pr.on_match(&cfg, 0, 0), "a match at 0 ends probing but moves nothing");
        assert_eq!(pr.next_batch(&cfg, 1, 2, 0), Some((1..3, Sent::New)));
        assert_eq!(pr.next_batch(&cfg, 1, 5, 99), None, "not yet past the threshold");
        assert_eq!(pr.next_batch(&cfg, 1, 5, 100), Some((1..6, Sent::Timeout)));
        assert_eq!(pr.deadline_ns(&cfg), 200);
    }

    #[test]
    fn a_resent_probe_starts_where_the_probe_began_not_after_the_match() {
        let cfg = config(8, 1);
        let mut pr = Progress::new(&cfg, 100, 0);
        assert_eq!(pr.next_batch(&cfg, 1, 101, 0), Some((101..102, Sent::New)));
        assert_eq!(pr.next_batch(&cfg, 1, 103, 100), Some((101..104, Sent::Timeout)), "not 1..9");
        pr.on_conflict(100, 40);
        assert_eq!(pr.next_batch(&cfg, 1, 103, 150), Some((40..48, Sent::New)));
        assert_eq!(pr.next_batch(&cfg, 1, 103, 250), Some((40..48, Sent::Timeout)));
    }

    #[test]
    fn stale_conflicts_are_ignored_and_next_never_drops_below_the_match() {
        let cfg = config(8, 1);
        let mut pr = Progress::new(&cfg, 20, 0);
        pr.on_match(&cfg, 5, 0);
        assert!(!pr.on_conflict(5, 1), "a rejection at the match is stale");
        assert!(pr.on_conflict(12, 2));
        assert_eq!(pr.next_batch(&cfg, 1, 20, 0), Some((6..14, Sent::New)));
    }

    // Section 7: a follower behind the leader's first entry gets the snapshot, one chunk at
    // a time; a lost chunk is resent after the threshold from the follower's last ack.
    #[test]
    fn a_snapshot_goes_in_chunks_and_resumes_after_a_loss() {
        let cfg = Config { snapshot_chunk_bytes: 4, ..config(8, 2) };
        let mut pr = Progress::new(&cfg, 20, 0);
        pr.on_conflict(20, 3);
        assert!(pr.needs_snapshot(11));
        assert_eq!(pr.next_batch(&cfg, 11, 20, 0), None, "entries 3..11 are compacted");
        assert!(pr.can_send(&cfg, 11, 20));
        let data = Bytes::from_static(b"0123456789");
        pr.start_snapshot(Snapshot { index: 10, term: 2, data: data.clone() });
        let chunk = |offset: u64, bytes: &'static [u8], resend| Chunk {
            index: 10,
            term: 2,
            offset,
            total: 10,
            data: Bytes::from_static(bytes),
            resend,
        };
        assert_eq!(pr.next_chunk(&cfg, 5), Some(chunk(0, b"0123", false)));
        assert_eq!(pr.next_chunk(&cfg, 6), None, "one chunk in flight");
        assert_eq!(pr.next_batch(&cfg, 11, 20, 6), None, "no appends during a transfer");
        assert!(!pr.on_snapshot_ack(10, 4));
        assert_eq!(pr.next_chunk(&cfg, 7), Some(chunk(4, b"4567", false)));
        assert_eq!(pr.deadline_ns(&cfg), 107);
        assert_eq!(pr.next_chunk(&cfg, 107), Some(chunk(4, b"4567", true)), "lost: resent");
        assert!(!pr.on_snapshot_ack(9, 10), "an ack for another snapshot is ignored");
        assert!(!pr.on_snapshot_ack(10, 8));
        assert_eq!(pr.next_chunk(&cfg, 108), Some(chunk(8, b"89", false)));
        assert_eq!(pr.live_transfer_index(&cfg, 108), Some(10));
        assert_eq!(pr.live_transfer_index(&cfg, 5 + 2 * cfg.election_timeout_max_ns), None, "down");
        assert!(pr.on_snapshot_ack(10, 10));
        assert!(!pr.sending_snapshot());
        assert_eq!(
            (pr.matched(), pr.next_batch(&cfg, 11, 20, 109)),
            (10, Some((11..19, Sent::New)))
        );
    }

    // Issue 8's frugality: a follower silent for two election timeouts gets resends only at
    // the heartbeat pace; as soon as it answers, the resend threshold applies again.
    #[test]
    fn a_silent_follower_is_probed_at_the_heartbeat_pace() {
        let cfg = Config {
            resend_threshold_ns: 100,
            heartbeat_interval_ns: 200,
            election_timeout_min_ns: 150,
            election_timeout_max_ns: 150,
            ..config(8, 1)
        };
        let mut pr = Progress::new(&cfg, 0, 0);
        pr.on_match(&cfg, 0, 0);
        assert_eq!(pr.next_batch(&cfg, 1, 1, 0), Some((1..2, Sent::New)));
        assert_eq!(pr.next_batch(&cfg, 1, 1, 100), Some((1..2, Sent::Timeout)));
        assert_eq!(pr.next_batch(&cfg, 1, 1, 200), Some((1..2, Sent::Timeout)));
        assert_eq!(pr.deadline_ns(&cfg), 400, "silent since 0: wait a heartbeat interval");
        assert_eq!(pr.next_batch(&cfg, 1, 1, 300), None);
        assert_eq!(pr.next_batch(&cfg, 1, 1, 400), Some((1..2, Sent::Timeout)));
        pr.heard();
        assert_eq!(pr.deadline_ns(&cfg), 500, "heard again: the resend threshold applies");
        assert_eq!(pr.next_batch(&cfg, 1, 1, 500), Some((1..2, Sent::Timeout)));
        // An idle link (heartbeats only, never answered) does not make a follower silent.
        let mut idle = Progress::new(&cfg, 0, 0);
        idle.on_match(&cfg, 0, 0);
        idle.sent_heartbeat(1_000);
        assert_eq!(idle.next_batch(&cfg, 1, 2, 2_000), Some((1..3, Sent::New)));
        assert_eq!(idle.deadline_ns(&cfg), 2_100, "the first resend after idling is not slowed");
    }

    #[test]
    fn heartbeats_only_on_an_idle_link() {
        let cfg = config(8, 1);
        let mut pr = Progress::new(&cfg, 3, 0);
        assert!(!pr.heartbeat_due(&cfg, 999));
        assert!(pr.heartbeat_due(&cfg, 1_000));
        pr.next_batch(&cfg, 1, 4, 500);
        assert!(!pr.heartbeat_due(&cfg, 1_000), "an append went out at 500");
        assert_eq!(pr.deadline_ns(&cfg), 600);
    }
}
