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
/// doubling still halves the resends of a follower that is merely slow.
const BACKOFF_SHIFT_MAX: u32 = 1;

/// One follower's round-trip estimate and back-off. Under [`ResendPolicy::Fixed`] it is
/// kept but never read, so that policy's decisions are exactly the original design's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResendTimer {
    /// Smoothed round trip and its mean deviation, once a first sample came.
    estimate: Option<(u64, u64)>,
    /// Doublings since the last acknowledgement.
    backoff_shift: u32,
}

impl ResendTimer {
    /// How long a batch waits for its acknowledgement before it goes again.
    pub(crate) fn timeout_ns(&self, config: &Config) -> u64 {
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

    /// A round trip measured on a batch sent once (Karn's rule: the caller never passes one
    /// from a resent batch, whose acknowledgement may answer either copy). RFC 6298 2.2-2.3:
    /// the first sample sets the mean and half of it the deviation; later ones move the
    /// deviation by a quarter of the error and the mean by an eighth.
    pub(crate) fn sample(&mut self, rtt_ns: u64) {
        self.estimate = Some(match self.estimate {
            None => (rtt_ns, rtt_ns / 2),
            Some((srtt, rttvar)) => {
                let error = srtt.abs_diff(rtt_ns);
                let rttvar = (3 * u128::from(rttvar) + u128::from(error)) / 4;
                let srtt = (7 * u128::from(srtt) + u128::from(rtt_ns)) / 8;
                (srtt as u64, rttvar as u64)
            }
        });
    }

    /// The follower acknowledged something new: the back-off ends.
    pub(crate) fn acknowledged(&mut self) {
        self.backoff_shift = 0;
    }

    /// A batch timed out and goes again: the next wait doubles (RFC 6298 5.5), once (see
    /// [`BACKOFF_SHIFT_MAX`]) and never past the ceiling.
    pub(crate) fn timed_out(&mut self) {
        self.backoff_shift = (self.backoff_shift + 1).min(BACKOFF_SHIFT_MAX);
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
        assert_eq!(ResendTimer::default().timeout_ns(&adaptive()), 20_000 * US);
    }

    // RFC 6298 2.2: the first sample R gives SRTT = R, RTTVAR = R/2, RTO = R + 4 R/2 = 3R.
    // 2.3: then RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'| and SRTT = 7/8 SRTT + 1/8 R'.
    #[test]
    fn resend_timeout_follows_the_jacobson_karels_estimate() {
        let config = adaptive();
        let mut timer = ResendTimer::default();
        timer.sample(1_000 * US);
        assert_eq!(timer.timeout_ns(&config), 3_000 * US);
        timer.sample(200 * US);
        // RTTVAR = 3/4 * 500 + 1/4 * 800 = 575; SRTT = 7/8 * 1000 + 1/8 * 200 = 900.
        assert_eq!(timer.estimate, Some((900 * US, 575 * US)));
        assert_eq!(timer.timeout_ns(&config), 900 * US + 4 * 575 * US);
        for _ in 0..100 {
            timer.sample(300 * US);
        }
        let (srtt, rttvar) = timer.estimate.unwrap();
        assert!(srtt.abs_diff(300 * US) < US && rttvar < US, "{srtt} {rttvar}: converged");
    }

    // The timeout never goes under the floor nor over the ceiling, whatever the samples.
    #[test]
    fn resend_timeout_stays_between_the_floor_and_the_ceiling() {
        let config = adaptive();
        let mut fast = ResendTimer::default();
        fast.sample(10 * US);
        assert_eq!(fast.timeout_ns(&config), 200 * US, "30 us measured: the floor");
        let mut slow = ResendTimer::default();
        slow.sample(100_000 * US);
        assert_eq!(slow.timeout_ns(&config), 20_000 * US, "300 ms measured: the ceiling");
        let low_ceiling = Config { resend_threshold_ns: 100 * US, ..config };
        assert_eq!(fast.timeout_ns(&low_ceiling), 100 * US, "the ceiling wins over the floor");
    }

    // RFC 6298 5.5: a timeout doubles the wait, here once (BACKOFF_SHIFT_MAX), capped by the
    // ceiling; an acknowledgement ends the back-off and the estimate applies again.
    #[test]
    fn resend_timeout_backs_off_and_resets_on_an_acknowledgement() {
        let config = adaptive();
        let mut timer = ResendTimer::default();
        timer.sample(1_000 * US);
        let waits: Vec<u64> = (0..4)
            .map(|_| {
                timer.timed_out();
                timer.timeout_ns(&config) / US
            })
            .collect();
        assert_eq!(waits, [6_000, 6_000, 6_000, 6_000]);
        let low_ceiling = Config { resend_threshold_ns: 5_000 * US, ..config.clone() };
        assert_eq!(timer.timeout_ns(&low_ceiling), 5_000 * US, "never past the ceiling");
        for _ in 0..100 {
            timer.timed_out();
        }
        assert_eq!(timer.timeout_ns(&config), 6_000 * US);
        timer.acknowledged();
        assert_eq!(timer.timeout_ns(&config), 3_000 * US);
    }

    // The fixed policy is the original design's threshold, whatever was measured.
    #[test]
    fn resend_timeout_of_the_fixed_policy_is_the_threshold() {
        let config = Config { resend_policy: ResendPolicy::Fixed, ..adaptive() };
        let mut timer = ResendTimer::default();
        timer.sample(10 * US);
        timer.timed_out();
        assert_eq!(timer.timeout_ns(&config), 20_000 * US);
    }
}
