//! `Echo`: the channel floor. A driver thread sends a batch through a bounded crossbeam
//! channel to an echo thread, which sends it straight back through another, the way the
//! cluster moves batches between node threads: one channel operation each way, the batch
//! moved by pointer, no consensus. The two threads are pinned to different cores (when there
//! are two), so a round trip measures the cross-core hand-off every replication round pays
//! at least twice. Both block on their channels; neither spins beyond crossbeam's own brief
//! back-off.

use crate::{core_ids, spawn_pinned};
use crossbeam_channel::{bounded, Receiver, Sender};
use pinraft_engine::{AckOutcome, Batch, Message};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A batch of `len` small messages (append acknowledgements) from node 2 to node 1.
pub fn message_batch(len: usize) -> Batch {
    let messages = (0..len as u64)
        .map(|i| Message::AppendAck { term: 1, outcome: AckOutcome::Match(i) })
        .collect();
    Batch { from: 2, to: 1, messages }
}

/// The driver and echo threads; dropping it stops and joins both.
pub struct Echo {
    /// `None` once dropped: closing it is what stops the driver, whose exit stops the echo.
    commands: Option<Sender<u64>>,
    timings: Receiver<Duration>,
    threads: Vec<JoinHandle<()>>,
}

impl Echo {
    /// Starts the echo thread on the last core and the driver on the first, the driver
    /// holding `batch`; the channels between them hold `capacity` batches.
    pub fn start(batch: Batch, capacity: usize) -> Echo {
        let (to_echo, echo_inbox) = bounded::<Batch>(capacity);
        let (echo_outbox, from_echo) = bounded::<Batch>(capacity);
        let (commands, driver_inbox) = bounded::<u64>(1);
        let (driver_outbox, timings) = bounded::<Duration>(1);
        let cores = core_ids();
        let echo = spawn_pinned("echo".into(), cores.last().copied(), move || {
            while let Ok(batch) = echo_inbox.recv() {
                if echo_outbox.send(batch).is_err() {
                    return;
                }
            }
        });
        let driver = spawn_pinned("echo-driver".into(), cores.first().copied(), move || {
            let mut batch = batch;
            while let Ok(round_trips) = driver_inbox.recv() {
                let start = Instant::now();
                for _ in 0..round_trips {
                    to_echo.send(batch).expect("echo thread alive");
                    batch = from_echo.recv().expect("echo thread alive");
                }
                if driver_outbox.send(start.elapsed()).is_err() {
                    return;
                }
            }
        });
        Echo { commands: Some(commands), timings, threads: vec![driver, echo] }
    }

    /// The time the driver took for `count` round trips of its batch (timed on the driver).
    pub fn round_trips(&self, count: u64) -> Duration {
        self.commands.as_ref().expect("running").send(count).expect("driver alive");
        self.timings.recv().expect("driver alive")
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        drop(self.commands.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_are_timed_and_the_threads_stop() {
        let echo = Echo::start(message_batch(64), 16);
        assert!(echo.round_trips(100) > Duration::ZERO);
        assert!(echo.round_trips(0) < Duration::from_secs(1));
        drop(echo);
    }
}
