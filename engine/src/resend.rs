//! The resend timeout of one follower's append batches: fixed, or adaptive from the round
//! trips the leader measures (Jacobson and Karels, "Congestion Avoidance and Control", 1988;
//! the computation of RFC 6298 section 2, in nanoseconds and without its clock-granularity
//! term, since the engine's clock is exact).

use crate::config::{Config, ResendPolicy};

/// Most doublings of the timeout on repeated loss of one batch: one. The timeout of a batch
/// lost `k` times in a row then grows as `2k - 1` estimates, not `2^k - 1`. Loss on these
/// links is random, not congestion that resending makes worse: with `q` the chance that a
/// round trip fails (0.64 at 40% packet loss), the expected wait of unbounded doubling is a
/// sum of `(2q)^k`, which diverges for `q` above a half, so every loss of two or three in a
/// row is paid at the ceiling. Measured in the simulator (3 nodes, 64 clients, batch 64,
/// 40% loss, 40-60 us one way): 14k ops in 1 s with unbounded doubling, 34k with three
/// doublings, 45k with two, 63k with one, at about the same packets per operation. One
/// doubling still spaces the resends to a follower that is merely slow twice as far apart.
const BACKOFF_SHIFT_MAX: u32 = 1;

/// One follower's round-trip estimate, back-off, and the timeout they give. The timeout is
/// computed when an input changes it (a sample, a timeout, the end of a back-off), not at
/// every read: the leader reads it for every batch and deadline. Under
/// [`ResendPolicy::Fixed`] nothing is sampled and the timeout is the threshold, so that
/// policy's decisions are exactly the original design's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResendTimer {
    /// Smoothed round trip and its mean deviation, once a first sample came.
    estimate: Option<(u64, u64)>,
    /// Doublings since the last acknowledgement.
    backoff_shift: u32,
    /// Invariant: `Self::compute(config)` of the fields above, for the node's config.
    timeout_ns: u64,
}

impl ResendTimer {
    /// Nothing measured yet: the timeout is the ceiling.
    pub(crate) fn new(config: &Config) -> ResendTimer {
        let mut timer = ResendTimer { estimate: None, backoff_shift: 0, timeout_ns: 0 };
        timer.timeout_ns = timer.compute(config);
        timer
    }

    /// How long a batch waits for its acknowledgement before it goes again.
    pub(crate) fn timeout_ns(&self) -> u64 {
        self.timeout_ns
    }

    fn compute(&self, config: &Config) -> u64 {
        let ceiling = config.resend_threshold_ns;
        if config.resend_policy == ResendPolicy::Fixed {
            return ceiling;
        }
        let base = match self.estimate {
            None => ceiling,
            Some((srtt, rttvar)) => srtt.saturating_add(rttvar.saturating_mul(4)),
        };
        let base = base.clamp(config.resend_min_ns.min(ceiling), ceiling);
        base.saturating_mul(1 << self.backoff_shift).min(ceiling)
    }

    fn update(&mut self, config: &Config) {
        self.timeout_ns = self.compute(config);
        debug_assert!(self.timeout_ns <= config.resend_threshold_ns, "never past the ceiling");
    }

    /// A round trip measured on a batch sent once (Karn's rule: the caller never passes one
    /// from a resent batch, whose acknowledgement may answer either copy). RFC 6298 2.2-2.3:
    /// the first sample sets the mean and half of it the deviation; later ones move the
    /// deviation by a quarter of the error and the mean by an eighth.
    pub(crate) fn sample(&mut self, config: &Config, rtt_ns: u64) {
        if config.resend_policy == ResendPolicy::Fixed {
            return;
        }
        self.estimate = Some(match self.estimate {
            None => (rtt_ns, rtt_ns / 2),
            Some((srtt, rttvar)) => {
                let error = srtt.abs_diff(rtt_ns);
                // Saturating: overflow needs round trips of decades.
                let rttvar = rttvar.saturating_mul(3).saturating_add(error) / 4;
                let srtt = srtt.saturating_mul(7).saturating_add(rtt_ns) / 8;
                (srtt, rttvar)
            }
        });
        self.update(config);
    }

    /// The follower acknowledged something new: the back-off ends.
    pub(crate) fn acknowledged(&mut self, config: &Config) {
        if self.backoff_shift != 0 {
            self.backoff_shift = 0;
            self.update(config);
        }
    }

    /// A batch timed out and goes again: the next wait doubles (RFC 6298 5.5), once (see
    /// [`BACKOFF_SHIFT_MAX`]) and never past the ceiling.
    pub(crate) fn timed_out(&mut self, config: &Config) {
        self.backoff_shift = (self.backoff_shift + 1).min(BACKOFF_SHIFT_MAX);
        self.update(config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u64 = 1_000;

    fn adaptive() -> Config {
        Config {
            resend_policy: ResendPolicy::Adaptive,
            resend_threshold_ns: 20_000 * US,
            resend_min_ns: 200 * US,
            ..Config::default()
        }
    }

    // Before any sample the timeout is the ceiling: nothing is known of the round trip.
    #[test]
    fn resend_timeout_before_the_first_sample_is_the_ceiling() {
        assert_eq!(ResendTimer::new(&adaptive()).timeout_ns(), 20_000 * US);
    }

    // RFC 6298 2.2: the first sample R gives SRTT = R, RTTVAR = R/2, RTO = R + 4 R/2 = 3R.
    // 2.3: then RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'| and SRTT = 7/8 SRTT + 1/8 R'.
    #[test]
    fn resend_timeout_follows_the_jacobson_karels_estimate() {
        let config = adaptive();
        let mut timer = ResendTimer::new(&config);
        timer.sample(&config, 1_000 * US);
        assert_eq!(timer.timeout_ns(), 3_000 * US);
        timer.sample(&config, 200 * US);
        // RTTVAR = 3/4 * 500 + 1/4 * 800 = 575; SRTT = 7/8 * 1000 + 1/8 * 200 = 900.
        assert_eq!(timer.estimate, Some((900 * US, 575 * US)));
        assert_eq!(timer.timeout_ns(), 900 * US + 4 * 575 * US);
        for _ in 0..100 {
            timer.sample(&config, 300 * US);
        }
        let (srtt, rttvar) = timer.estimate.unwrap();
        assert!(srtt.abs_diff(300 * US) < US && rttvar < US, "{srtt} {rttvar}: converged");
    }

    // The timeout never goes under the floor nor over the ceiling, whatever the samples.
    #[test]
    fn resend_timeout_stays_between_the_floor_and_the_ceiling() {
        let config = adaptive();
        let measured = |config: &Config, rtt_ns: u64| {
            let mut timer = ResendTimer::new(config);
            timer.sample(config, rtt_ns);
            timer.timeout_ns()
        };
        assert_eq!(measured(&config, 10 * US), 200 * US, "30 us measured: the floor");
        assert_eq!(measured(&config, 100_000 * US), 20_000 * US, "300 ms measured: the ceiling");
        let low_ceiling = Config { resend_threshold_ns: 100 * US, ..config };
        assert_eq!(measured(&low_ceiling, 10 * US), 100 * US, "the ceiling wins over the floor");
    }

    // RFC 6298 5.5: a timeout doubles the wait, here once (BACKOFF_SHIFT_MAX), capped by the
    // ceiling; an acknowledgement ends the back-off and the estimate applies again.
    #[test]
    fn resend_timeout_backs_off_and_resets_on_an_acknowledgement() {
        let config = adaptive();
        let mut timer = ResendTimer::new(&config);
        timer.sample(&config, 1_000 * US);
        let waits: Vec<u64> = (0..4)
            .map(|_| {
                timer.timed_out(&config);
                timer.timeout_ns() / US
            })
            .collect();
        assert_eq!(waits, [6_000, 6_000, 6_000, 6_000]);
        for _ in 0..100 {
            timer.timed_out(&config);
        }
        assert_eq!(timer.timeout_ns(), 6_000 * US);
        timer.acknowledged(&config);
        assert_eq!(timer.timeout_ns(), 3_000 * US);
        let low_ceiling = Config { resend_threshold_ns: 5_000 * US, ..config };
        let mut timer = ResendTimer::new(&low_ceiling);
        timer.sample(&low_ceiling, 1_000 * US);
        timer.timed_out(&low_ceiling);
        assert_eq!(timer.timeout_ns(), 5_000 * US, "never past the ceiling");
    }

    // The fixed policy is the original design's threshold, whatever was measured.
    #[test]
    fn resend_timeout_of_the_fixed_policy_is_the_threshold() {
        let config = Config { resend_policy: ResendPolicy::Fixed, ..adaptive() };
        let mut timer = ResendTimer::new(&config);
        timer.sample(&config, 10 * US);
        timer.timed_out(&config);
        assert_eq!(timer.timeout_ns(), 20_000 * US);
        timer.acknowledged(&config);
        assert_eq!(timer, ResendTimer::new(&config), "nothing was sampled");
    }
}
