//! Configuration of a raft node.

use crate::errors::{Error, Result};
use crate::read_only::ReadOnlyOption;
use crate::util::NO_LIMIT;
use crate::INVALID_ID;

/// The parameters a raft node starts with.
///
/// Build it with `Config { id, ..Default::default() }` or [`Config::new`],
/// then [`validate`](Config::validate) it (the node does so on creation).
#[derive(Clone, Debug)]
pub struct Config {
    /// The identity of the local raft. It cannot be 0, and must be unique in
    /// the group.
    pub id: u64,

    /// The number of [`tick`](crate::RawNode::tick) calls that must pass
    /// between elections: a follower that hears nothing from a leader for
    /// this long campaigns. Must be greater than `heartbeat_tick`; 10 times
    /// `heartbeat_tick` is a sensible value (Raft paper §5.6).
    pub election_tick: usize,

    /// The number of ticks between heartbeats a leader sends.
    pub heartbeat_tick: usize,

    /// The last applied index, given on restart. Raft does not hand out
    /// entries at or below it again.
    pub applied: u64,

    /// The byte limit of the entries in one append message. 0 sends at most
    /// one entry per message; [`NO_LIMIT`] places no cap.
    pub max_size_per_msg: u64,

    /// The number of in-flight append messages allowed per follower in
    /// replicate state.
    pub max_inflight_msgs: usize,

    /// The payload bytes of in-flight append messages allowed per follower
    /// in replicate state (etcd's `MaxInflightBytes`); 0, the default, means
    /// no limit. raft-rs 0.7 has no such limit.
    ///
    /// The leader counts the payload of every entry it sends to a follower,
    /// the entry's data and context (the bytes
    /// [`max_uncommitted_size`](Self::max_uncommitted_size) counts, not the
    /// encoded message), and stops sending appends to that follower once
    /// the bytes not yet acknowledged reach this limit, as it does once
    /// [`max_inflight_msgs`](Self::max_inflight_msgs) messages are in
    /// flight. Acknowledgements free the bytes of the messages they cover.
    /// Heartbeats are not limited, and one append larger than the limit is
    /// still sent when nothing else is in flight. Empty entries (a new
    /// leader's entry, the leave-joint change) count 0 bytes.
    ///
    /// When set, it must be at least [`max_size_per_msg`](Self::max_size_per_msg),
    /// or the window would admit less than one full message.
    pub max_inflight_bytes: u64,

    /// A leader steps down when it has not heard from a quorum for an
    /// election timeout. This also enables leader stickiness: vote requests
    /// are ignored while a node believes a leader is alive (thesis §4.2.3).
    pub check_quorum: bool,

    /// Enables the pre-vote phase (thesis §9.6), which keeps a partitioned
    /// node from disrupting the group when it rejoins.
    pub pre_vote: bool,

    /// The lower bound of the randomized election timeout; 0 means
    /// `election_tick`.
    pub min_election_tick: usize,

    /// The exclusive upper bound of the randomized election timeout; 0 means
    /// `2 * election_tick`. At most `u32::MAX` (and with it every other tick
    /// count), which [`validate`](Self::validate) checks.
    pub max_election_tick: usize,

    /// How read-only requests are served: a quorum round (`Safe`) or the
    /// leader lease (`LeaseBased`, which requires `check_quorum`).
    pub read_only_option: ReadOnlyOption,

    /// Do not broadcast appends only to spread a new commit index.
    pub skip_bcast_commit: bool,

    /// Merge append messages queued for the same peer.
    pub batch_append: bool,

    /// The election priority: a voter refuses a candidate of lower priority
    /// whose log is not longer than its own.
    pub priority: i64,

    /// Proposals are dropped while the payload bytes of uncommitted entries
    /// exceed this limit. [`NO_LIMIT`] places no cap.
    pub max_uncommitted_size: u64,

    /// The byte limit of the committed entries handed out in one `Ready`.
    pub max_committed_size_per_ready: u64,

    /// How far past the locally persisted index committed entries may be
    /// handed out for apply. 0 means only persisted entries are applied.
    pub max_apply_unpersisted_log_limit: u64,

    /// A follower that knows its leader drops proposals
    /// ([`Error::ProposalDropped`]) instead of forwarding them.
    pub disable_proposal_forwarding: bool,

    /// The seed of the node's random number generator, which draws the
    /// randomized election timeout. `None` seeds it from OS entropy; set it
    /// to replay elections exactly in tests and simulations.
    pub rng_seed: Option<u64>,

    /// Whether a leader steps down when it applies a configuration that
    /// removes it from the voters (etcd's `StepDownOnRemoval`). The default,
    /// `true`, is this crate's behaviour; raft-rs 0.7 never steps down.
    ///
    /// A leader that is not part of the new configuration keeps managing
    /// the group until the change that removes it commits (thesis §4.2.2;
    /// it replicates entries without counting itself in the majorities).
    /// Once the change is applied, with this switch on it becomes a follower
    /// so that the remaining voters elect a leader among themselves. With it
    /// off it stays leader, as in raft-rs 0.7, until a node of the new
    /// configuration wins an election (it times out once the removed
    /// leader's heartbeats stop, or at once if the application transfers
    /// leadership); the application is expected to stop the removed node.
    pub step_down_on_removal: bool,

    /// Turns off the leader's checks of proposed configuration changes
    /// (etcd's `DisableConfChangeValidation`); default `false`.
    ///
    /// Normally a leader replaces a proposed configuration change by an
    /// empty entry when another change is still unapplied, when it is in a
    /// joint configuration and the change does not leave it, or when the
    /// change leaves a joint configuration it is not in. With this switch on
    /// it appends every proposed change as is: for applications that check
    /// changes themselves (against their own membership records).
    ///
    /// The hazard: two configuration changes uncommitted at the same time
    /// break the one-change-at-a-time argument of thesis §4.1 (each change
    /// must overlap the majorities of the previous configuration, which
    /// holds only if the previous one is in force). Changes that make no
    /// sense in order (entering a joint configuration while joint, leaving
    /// one while not) are still refused when they are applied, by
    /// [`apply_conf_change`](crate::RawNode::apply_conf_change) returning
    /// [`Error::ConfChangeError`].
    pub disable_conf_change_validation: bool,
}

impl Default for Config {
    fn default() -> Self {
        const HEARTBEAT_TICK: usize = 2;
        Self {
            id: 0,
            election_tick: HEARTBEAT_TICK * 10,
            heartbeat_tick: HEARTBEAT_TICK,
            applied: 0,
            max_size_per_msg: 0,
            max_inflight_msgs: 256,
            check_quorum: false,
            pre_vote: false,
            min_election_tick: 0,
            max_election_tick: 0,
            read_only_option: ReadOnlyOption::Safe,
            skip_bcast_commit: false,
            batch_append: false,
            priority: 0,
            max_uncommitted_size: NO_LIMIT,
            max_committed_size_per_ready: NO_LIMIT,
            max_apply_unpersisted_log_limit: 0,
            disable_proposal_forwarding: false,
            rng_seed: None,
            max_inflight_bytes: 0,
            step_down_on_removal: true,
            disable_conf_change_validation: false,
        }
    }
}

impl Config {
    /// Creates a configuration with the defaults and the given id.
    pub fn new(id: u64) -> Self {
        Self {
            id,
            ..Self::default()
        }
    }

    /// The effective minimum election timeout, in ticks.
    #[inline]
    pub fn min_election_tick(&self) -> usize {
        if self.min_election_tick == 0 {
            self.election_tick
        } else {
            self.min_election_tick
        }
    }

    /// The effective (exclusive) maximum election timeout, in ticks.
    #[inline]
    pub fn max_election_tick(&self) -> usize {
        if self.max_election_tick == 0 {
            2 * self.election_tick
        } else {
            self.max_election_tick
        }
    }

    /// Checks the configuration, returning [`Error::ConfigInvalid`] with the
    /// first rule it breaks.
    pub fn validate(&self) -> Result<()> {
        if self.id == INVALID_ID {
            return Err(Error::ConfigInvalid("invalid node id".to_owned()));
        }

        if self.heartbeat_tick == 0 {
            return Err(Error::ConfigInvalid(
                "heartbeat tick must greater than 0".to_owned(),
            ));
        }

        if self.election_tick <= self.heartbeat_tick {
            return Err(Error::ConfigInvalid(
                "election tick must be greater than heartbeat tick".to_owned(),
            ));
        }

        let min_timeout = self.min_election_tick();
        let max_timeout = self.max_election_tick();
        if min_timeout < self.election_tick {
            return Err(Error::ConfigInvalid(format!(
                "min election tick {} must not be less than election_tick {}",
                min_timeout, self.election_tick
            )));
        }

        if min_timeout >= max_timeout {
            return Err(Error::ConfigInvalid(format!(
                "min election tick {} should be less than max election tick {}",
                min_timeout, max_timeout
            )));
        }

        // The core keeps its tick counts as `u32`; every other tick count is
        // below this one.
        if max_timeout > u32::MAX as usize {
            return Err(Error::ConfigInvalid(format!(
                "max election tick {} must not exceed {}",
                max_timeout,
                u32::MAX
            )));
        }

        if self.max_inflight_msgs == 0 {
            return Err(Error::ConfigInvalid(
                "max inflight messages must be greater than 0".to_owned(),
            ));
        }

        if self.max_inflight_bytes != 0 && self.max_inflight_bytes < self.max_size_per_msg {
            return Err(Error::ConfigInvalid(format!(
                "max inflight bytes {} must be at least max_size_per_msg {}",
                self.max_inflight_bytes, self.max_size_per_msg
            )));
        }

        // A lease read trusts that no other leader can exist; only check
        // quorum makes a deposed leader step down in time (tikv/raft-rs#140).
        if self.read_only_option == ReadOnlyOption::LeaseBased && !self.check_quorum {
            return Err(Error::ConfigInvalid(
                "read_only_option == LeaseBased requires check_quorum == true".into(),
            ));
        }

        if self.max_uncommitted_size < self.max_size_per_msg {
            return Err(Error::ConfigInvalid(
                "max uncommitted size should greater than max_size_per_msg".to_owned(),
            ));
        }

        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(c: &Config) -> String {
        match c.validate() {
            Err(Error::ConfigInvalid(s)) => s,
            other => panic!("expected ConfigInvalid, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_raft_rs() {
        let c = Config::default();
        assert_eq!(c.election_tick, 20);
        assert_eq!(c.heartbeat_tick, 2);
        assert_eq!(c.max_size_per_msg, 0);
        assert_eq!(c.max_inflight_msgs, 256);
        assert_eq!(c.max_uncommitted_size, NO_LIMIT);
        assert_eq!(c.max_committed_size_per_ready, NO_LIMIT);
        assert_eq!(c.max_apply_unpersisted_log_limit, 0);
        assert_eq!(c.read_only_option, ReadOnlyOption::Safe);
        assert_eq!(c.rng_seed, None);
        assert_eq!(c.max_inflight_bytes, 0);
        assert!(c.step_down_on_removal);
        assert!(!c.disable_conf_change_validation);
        assert_eq!(c.min_election_tick(), 20);
        assert_eq!(c.max_election_tick(), 40);
        assert_eq!(Config::new(7).id, 7);
        assert!(Config::new(7).validate().is_ok());
    }

    #[test]
    fn explicit_election_bounds_are_used() {
        let c = Config {
            id: 1,
            min_election_tick: 25,
            max_election_tick: 30,
            ..Default::default()
        };
        assert_eq!(c.min_election_tick(), 25);
        assert_eq!(c.max_election_tick(), 30);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn validate_rejects_each_rule_in_order() {
        assert_eq!(invalid(&Config::default()), "invalid node id");
        let ok = Config::new(1);
        let c = Config {
            heartbeat_tick: 0,
            ..ok.clone()
        };
        assert!(invalid(&c).contains("heartbeat tick"));
        let c = Config {
            election_tick: 2,
            heartbeat_tick: 2,
            ..ok.clone()
        };
        assert!(invalid(&c).contains("election tick must be greater"));
        let c = Config {
            min_election_tick: 19,
            ..ok.clone()
        };
        assert!(invalid(&c).contains("must not be less than election_tick"));
        let c = Config {
            min_election_tick: 30,
            max_election_tick: 30,
            ..ok.clone()
        };
        assert!(invalid(&c).contains("should be less than max"));
        let c = Config {
            max_election_tick: u32::MAX as usize + 1,
            ..ok.clone()
        };
        assert!(invalid(&c).contains("must not exceed 4294967295"));
        let c = Config {
            max_election_tick: u32::MAX as usize,
            ..ok.clone()
        };
        assert!(c.validate().is_ok());
        let c = Config {
            max_inflight_msgs: 0,
            ..ok.clone()
        };
        assert!(invalid(&c).contains("max inflight messages"));
        let c = Config {
            max_size_per_msg: 1024,
            max_inflight_bytes: 1023,
            ..ok.clone()
        };
        assert!(invalid(&c).contains("max inflight bytes 1023 must be at least"));
        let c = Config {
            max_size_per_msg: 1024,
            max_inflight_bytes: 1024,
            ..ok.clone()
        };
        assert!(c.validate().is_ok());
        let c = Config {
            read_only_option: ReadOnlyOption::LeaseBased,
            ..ok.clone()
        };
        assert!(invalid(&c).contains("LeaseBased requires check_quorum"));
        let c = Config {
            read_only_option: ReadOnlyOption::LeaseBased,
            check_quorum: true,
            ..ok.clone()
        };
        assert!(c.validate().is_ok());
        let c = Config {
            max_uncommitted_size: 10,
            max_size_per_msg: 11,
            ..ok.clone()
        };
        assert!(invalid(&c).contains("max uncommitted size"));
        // The first broken rule wins: id 0 and heartbeat 0 report the id.
        let c = Config {
            id: 0,
            heartbeat_tick: 0,
            ..ok
        };
        assert_eq!(invalid(&c), "invalid node id");
    }
}
