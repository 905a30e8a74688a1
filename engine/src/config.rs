//! The engine's knobs, their defaults and the rules that make a combination valid. The
//! field names are also the JSON keys under `config` in every result file.

use crate::types::{Index, NodeId, Term, NONE};
use thiserror::Error;

/// Largest cluster the engine accepts. Quorum math and per-peer state are sized by it.
pub const MEMBERS_MAX: usize = 64;

/// How a leader decides that an append batch was lost and sends it again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResendPolicy {
    /// The original design: a batch unacknowledged for `resend_threshold_ns` goes again.
    Fixed,
    /// Per follower, a round-trip estimate from acknowledged batches (Jacobson/Karels:
    /// smoothed round trip plus four deviations; Karn's rule: no samples from resent
    /// batches) sets the resend timeout, between `resend_min_ns` and `resend_threshold_ns`;
    /// it doubles on a timeout (once: see `resend.rs`) and resets on an acknowledgement. A
    /// follower that answers
    /// an append beyond a gap in a pipeline gets the missing entries at once (fast
    /// retransmit).
    #[default]
    Adaptive,
}

impl ResendPolicy {
    /// Every policy, in the order of their discriminants.
    pub const ALL: [ResendPolicy; 2] = [ResendPolicy::Fixed, ResendPolicy::Adaptive];
    /// Their names on the command line and in JSON, in the same order.
    pub const NAMES: [&'static str; 2] = ["fixed", "adaptive"];

    /// The name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// Everything a node needs to know before it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id; must be one of `members`.
    pub id: NodeId,
    /// Every voting member's id, each in 1..=n with no repeats.
    pub members: Vec<NodeId>,
    /// Lower bound of the randomized election timeout (section 5.2).
    pub election_timeout_min_ns: u64,
    /// Upper bound of the randomized election timeout, inclusive.
    pub election_timeout_max_ns: u64,
    /// A leader sends a heartbeat to a peer it has sent nothing to for this long.
    pub heartbeat_interval_ns: u64,
    /// How a leader decides that an append batch was lost.
    pub resend_policy: ResendPolicy,
    /// `Fixed`: an append batch unacknowledged for this long is sent again, with newer
    /// entries folded in up to `batch_entries_max`. `Adaptive`: the ceiling of the resend
    /// timeout, and its value before the first round-trip sample. Snapshot chunks are resent
    /// after this long under either policy.
    pub resend_threshold_ns: u64,
    /// `Adaptive` only: the floor of the resend timeout.
    pub resend_min_ns: u64,
    /// Most entries in one append message.
    pub batch_entries_max: usize,
    /// Most append batches in flight to one peer (1: stop and wait; more: pipelining).
    pub inflight_batches_max: usize,
    /// After this many entries applied beyond its last snapshot, a node snapshots its state
    /// machine and compacts its log (section 7). 0 turns snapshots off.
    pub snapshot_entries_threshold: u64,
    /// Most snapshot bytes in one `InstallSnapshot` message.
    pub snapshot_chunk_bytes: usize,
    /// Seed of the node's random election timeouts. The node mixes its id in, so one seed
    /// for the whole cluster still gives every node its own sequence.
    pub seed: u64,
}

impl Config {
    /// A configuration with default knobs for node `id` of the members `1..=nodes`.
    pub fn new(id: NodeId, nodes: u64) -> Config {
        Config { id, members: (1..=nodes).collect(), ..Config::default() }
    }

    /// Checks every rule; the error names the first field that breaks one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.members.is_empty() {
            return Err(ConfigError::NoMembers);
        }
        if self.members.len() > MEMBERS_MAX {
            return Err(ConfigError::TooManyMembers { count: self.members.len() });
        }
        if let Some(&id) = self.members.iter().find(|&&m| m == NONE) {
            return Err(ConfigError::InvalidMember { id });
        }
        let mut sorted = self.members.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::DuplicateMember { id: w[0] });
        }
        if !self.members.contains(&self.id) {
            return Err(ConfigError::NotAMember { id: self.id });
        }
        if self.heartbeat_interval_ns == 0 {
            return Err(ConfigError::Zero { field: "heartbeat_interval_ns" });
        }
        if self.resend_threshold_ns == 0 {
            return Err(ConfigError::Zero { field: "resend_threshold_ns" });
        }
        if self.resend_policy == ResendPolicy::Adaptive {
            if self.resend_min_ns == 0 {
                return Err(ConfigError::Zero { field: "resend_min_ns" });
            }
            if self.resend_min_ns > self.resend_threshold_ns {
                return Err(ConfigError::ResendFloorAboveCeiling {
                    resend_min_ns: self.resend_min_ns,
                    resend_threshold_ns: self.resend_threshold_ns,
                });
            }
        }
        if self.batch_entries_max == 0 {
            return Err(ConfigError::Zero { field: "batch_entries_max" });
        }
        if self.inflight_batches_max == 0 {
            return Err(ConfigError::Zero { field: "inflight_batches_max" });
        }
        if self.snapshot_chunk_bytes == 0 {
            return Err(ConfigError::Zero { field: "snapshot_chunk_bytes" });
        }
        if self.election_timeout_min_ns > self.election_timeout_max_ns {
            return Err(ConfigError::ElectionTimeoutRange {
                min_ns: self.election_timeout_min_ns,
                max_ns: self.election_timeout_max_ns,
            });
        }
        if self.election_timeout_min_ns <= self.heartbeat_interval_ns {
            return Err(ConfigError::ElectionTimeoutNotAboveHeartbeat {
                election_timeout_min_ns: self.election_timeout_min_ns,
                heartbeat_interval_ns: self.heartbeat_interval_ns,
            });
        }
        Ok(())
    }
}

impl Default for Config {
    /// Node 1 of a 3-node cluster. Timeouts follow the Raft paper's 150-300 ms; the resend
    /// threshold sits well above a loaded round trip on a 2-core machine (a few ms with a
    /// 4 ms scheduler tick) so that slow acks are not mistaken for lost batches; the adaptive
    /// policy uses it only until it has measured the round trip. Its floor, 200 us, stays
    /// well under a millisecond: at 10% loss about 3.6% of rounds lose both followers of a
    /// 3-node cluster, and the time those rounds wait decides the p99.
    fn default() -> Config {
        Config {
            id: 1,
            members: vec![1, 2, 3],
            election_timeout_min_ns: 150_000_000,
            election_timeout_max_ns: 300_000_000,
            heartbeat_interval_ns: 50_000_000,
            resend_policy: ResendPolicy::Adaptive,
            resend_threshold_ns: 20_000_000,
            resend_min_ns: 200_000,
            batch_entries_max: 256,
            inflight_batches_max: 1,
            snapshot_entries_threshold: 0,
            snapshot_chunk_bytes: 1 << 20,
            seed: 0,
        }
    }
}

/// A broken configuration rule. Each variant names the field at fault.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `members` is empty.
    #[error("members: the cluster has no members")]
    NoMembers,
    /// `members` is longer than [`MEMBERS_MAX`].
    #[error("members: {count} members, at most {MEMBERS_MAX} are supported")]
    TooManyMembers {
        /// How many were given.
        count: usize,
    },
    /// A member id is 0, which means "none".
    #[error("members: node id {id} is invalid (ids start at 1)")]
    InvalidMember {
        /// The offending id.
        id: NodeId,
    },
    /// A member id appears twice.
    #[error("members: node id {id} appears twice")]
    DuplicateMember {
        /// The repeated id.
        id: NodeId,
    },
    /// `id` is not one of `members`.
    #[error("id: node {id} is not a member of the cluster")]
    NotAMember {
        /// The node's id.
        id: NodeId,
    },
    /// A field that must be positive is zero.
    #[error("{field}: must be greater than zero")]
    Zero {
        /// The field's name.
        field: &'static str,
    },
    /// `election_timeout_min_ns` > `election_timeout_max_ns`.
    #[error("election_timeout_min_ns: {min_ns} is above election_timeout_max_ns {max_ns}")]
    ElectionTimeoutRange {
        /// The lower bound given.
        min_ns: u64,
        /// The upper bound given.
        max_ns: u64,
    },
    /// The adaptive resend timeout's floor is above its ceiling.
    #[error(
        "resend_min_ns: {resend_min_ns} is above resend_threshold_ns {resend_threshold_ns}, \
         the adaptive resend timeout's ceiling"
    )]
    ResendFloorAboveCeiling {
        /// The floor given.
        resend_min_ns: u64,
        /// The ceiling given.
        resend_threshold_ns: u64,
    },
    /// A follower would time out between two heartbeats of a healthy leader.
    #[error(
        "election_timeout_min_ns: {election_timeout_min_ns} must be larger than \
         heartbeat_interval_ns {heartbeat_interval_ns}"
    )]
    ElectionTimeoutNotAboveHeartbeat {
        /// The lower bound of the election timeout.
        election_timeout_min_ns: u64,
        /// The heartbeat interval.
        heartbeat_interval_ns: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Node;

    /// The error `validate` gives for the default config changed by `change`, checked to
    /// be the one `Node::new` gives and to name `field` first in its message.
    fn rejected(field: &str, change: impl FnOnce(&mut Config)) -> ConfigError {
        let mut config = Config::default();
        change(&mut config);
        let error = config.validate().unwrap_err();
        assert_eq!(Node::new(config).unwrap_err(), error);
        let message = error.to_string();
        assert!(message.starts_with(&format!("{field}: ")), "{message:?} does not name {field}");
        error
    }

    // The defaults, the smallest cluster and the largest one are valid.
    #[test]
    fn config_defaults_and_edge_sizes_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
        assert_eq!(Config::new(1, 1).validate(), Ok(()));
        assert_eq!(Config::new(MEMBERS_MAX as NodeId, MEMBERS_MAX as u64).validate(), Ok(()));
        let equal = Config { election_timeout_max_ns: 150_000_000, ..Config::default() };
        assert_eq!(equal.validate(), Ok(()), "a fixed election timeout is allowed");
    }

    // Membership: non-empty, at most MEMBERS_MAX, ids from 1, no repeats, and `id` in it.
    #[test]
    fn config_rejects_broken_membership() {
        assert_eq!(rejected("members", |c| c.members.clear()), ConfigError::NoMembers);
        let too_many = MEMBERS_MAX as u64 + 1;
        assert_eq!(
            rejected("members", |c| c.members = (1..=too_many).collect()),
            ConfigError::TooManyMembers { count: MEMBERS_MAX + 1 }
        );
        assert_eq!(
            rejected("members", |c| c.members = vec![1, 0, 2]),
            ConfigError::InvalidMember { id: 0 }
        );
        assert_eq!(
            rejected("members", |c| c.members = vec![3, 1, 2, 3]),
            ConfigError::DuplicateMember { id: 3 }
        );
        assert_eq!(rejected("id", |c| c.id = 4), ConfigError::NotAMember { id: 4 });
        assert_eq!(rejected("id", |c| c.id = 0), ConfigError::NotAMember { id: 0 });
    }

    // Each knob that counts or measures something must be positive.
    #[test]
    fn config_rejects_zero_knobs_by_name() {
        type Change = fn(&mut Config);
        let cases: [(&'static str, Change); 6] = [
            ("heartbeat_interval_ns", |c| c.heartbeat_interval_ns = 0),
            ("resend_threshold_ns", |c| c.resend_threshold_ns = 0),
            ("resend_min_ns", |c| c.resend_min_ns = 0),
            ("batch_entries_max", |c| c.batch_entries_max = 0),
            ("inflight_batches_max", |c| c.inflight_batches_max = 0),
            ("snapshot_chunk_bytes", |c| c.snapshot_chunk_bytes = 0),
        ];
        for (field, change) in cases {
            assert_eq!(rejected(field, change), ConfigError::Zero { field });
        }
    }

    // Flags and JSON name a policy by its position in `ALL`, which is its discriminant.
    #[test]
    fn config_resend_policy_names_follow_the_discriminants() {
        for (k, policy) in ResendPolicy::ALL.into_iter().enumerate() {
            assert_eq!(policy as usize, k);
        }
        assert_eq!(ResendPolicy::default().name(), "adaptive");
    }

    // The adaptive resend timeout lives between its floor and its ceiling; the fixed policy
    // has no floor, so its value is not checked there.
    #[test]
    fn config_rejects_a_resend_floor_above_the_ceiling_under_the_adaptive_policy() {
        assert_eq!(
            rejected("resend_min_ns", |c| c.resend_threshold_ns = 100_000),
            ConfigError::ResendFloorAboveCeiling {
                resend_min_ns: 200_000,
                resend_threshold_ns: 100_000
            }
        );
        let fixed = Config {
            resend_policy: ResendPolicy::Fixed,
            resend_threshold_ns: 100,
            resend_min_ns: 0,
            ..Config::default()
        };
        assert_eq!(fixed.validate(), Ok(()));
    }

    // Section 5.2 and 5.6: the election timeout is a range (min <= max), and its lower end
    // must exceed the heartbeat interval, or followers would time out under a live leader.
    #[test]
    fn config_rejects_election_timeouts_that_cannot_work() {
        assert_eq!(
            rejected("election_timeout_min_ns", |c| c.election_timeout_max_ns = 100_000_000),
            ConfigError::ElectionTimeoutRange { min_ns: 150_000_000, max_ns: 100_000_000 }
        );
        assert_eq!(
            rejected("election_timeout_min_ns", |c| c.heartbeat_interval_ns = 150_000_000),
            ConfigError::ElectionTimeoutNotAboveHeartbeat {
                election_timeout_min_ns: 150_000_000,
                heartbeat_interval_ns: 150_000_000,
            }
        );
        assert_eq!(
            rejected("election_timeout_min_ns", |c| c.election_timeout_min_ns = 0),
            ConfigError::ElectionTimeoutNotAboveHeartbeat {
                election_timeout_min_ns: 0,
                heartbeat_interval_ns: 50_000_000,
            }
        );
    }
}

/// Durable state that cannot be what a node wrote: the runtime's storage is corrupt or was
/// read wrongly. A node refuses to start from it rather than serve wrong data.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RecoverError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The log does not run contiguously from index 1.
    #[error("log: expected index {expected}, found {found}")]
    Gap {
        /// The index that should come next.
        expected: Index,
        /// The index found instead.
        found: Index,
    },
    /// The snapshot's data does not decode.
    #[error("snapshot at index {index}: {reason}")]
    Snapshot {
        /// The snapshot's index.
        index: Index,
        /// What is wrong with it.
        reason: String,
    },
    /// An entry's term is below its predecessor's or above the hard state's term.
    #[error("log: entry {index} has term {term}, out of order or newer than the hard state")]
    Term {
        /// The entry's index.
        index: Index,
        /// Its term.
        term: Term,
    },
}
