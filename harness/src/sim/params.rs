//! What one seed draws: cluster shape, raft options and fault weights.
//!
//! Swarm testing (Groce et al., 2012): rather than every fault at a fixed
//! rate, each seed enables a random subset of faults, each with its own
//! weight, so that some seeds hammer one fault while others see none of it.

use rand::rngs::StdRng;
use rand::Rng;

/// How hard the faults are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultLevel {
    /// Each fault enabled with probability one half, at a modest weight.
    Default,
    /// Every fault enabled, each at a high weight.
    High,
}

/// Relative weights (per thousand steps) of each fault; 0 disables it.
#[derive(Clone, Debug, Default)]
pub struct FaultWeights {
    /// Per message, per thousand: dropped.
    pub drop: u32,
    /// Per message, per thousand: delivered twice.
    pub duplicate: u32,
    /// Per message, per thousand: delayed by several steps (reordered).
    pub delay: u32,
    /// Per step, per thousand: a link cut one way or both ways.
    pub cut_link: u32,
    /// Per step, per thousand: a node isolated.
    pub isolate: u32,
    /// Per thousand isolations: the node isolated is the leader (a deposed
    /// leader that may still answer reads; an old-term tail left behind).
    pub isolate_leader: u32,
    /// Per step, per thousand: the cluster split in two.
    pub partition: u32,
    /// Per step, per thousand: every cut healed.
    pub heal: u32,
    /// Per step, per thousand: a node crashes (and restarts later).
    pub crash: u32,
    /// Per `Ready`, per thousand: a crash in the middle of handling it.
    pub crash_mid_ready: u32,
    /// Per step, per thousand: a node compacts its log (forcing snapshots).
    pub compact: u32,
    /// Per step, per thousand: a follower requests a snapshot.
    pub request_snapshot: u32,
    /// Per thousand snapshot requests: the leader then hands leadership to
    /// the node that asked (a snapshot request across an election).
    pub request_snapshot_then_elect: u32,
    /// Per step, per thousand: a node's storage flips to answering
    /// `LogTemporarilyUnavailable` to asynchronous fetches (or back).
    pub log_unavailable: u32,
    /// Per step, per thousand: a membership change is proposed.
    pub conf_change: u32,
    /// Per step, per thousand: a leader transfer is requested.
    pub transfer: u32,
}

/// Everything one seed draws before its first step.
#[derive(Clone, Debug)]
pub struct Params {
    /// Initial voters (3, 5 or 7).
    pub voters: Vec<u64>,
    /// Initial learners (often none).
    pub learners: Vec<u64>,
    /// Ids that may join later through membership changes.
    pub spare_ids: Vec<u64>,
    /// `Config::pre_vote`.
    pub pre_vote: bool,
    /// `Config::check_quorum`.
    pub check_quorum: bool,
    /// Lease-based reads (only drawn together with `check_quorum`).
    pub lease_reads: bool,
    /// `Config::batch_append`.
    pub batch_append: bool,
    /// `Config::max_size_per_msg`.
    pub max_size_per_msg: u64,
    /// `Config::max_inflight_msgs`.
    pub max_inflight_msgs: usize,
    /// Election priority of each id (may be negative, zero, or all equal).
    pub priorities: Vec<(u64, i64)>,
    /// Whether the initial members start at term 0 with an empty log and
    /// the membership in their storage (as `MemStorage::new_with_conf_state`
    /// and raft-rs's examples bootstrap), rather than from a snapshot at
    /// index 1 in term 1. Drawn with pre-vote and distinct priorities: the
    /// first pre-vote then often reaches a voter still at term 0 that
    /// rejects it.
    pub bootstrap_at_term_zero: bool,
    /// Whether nodes persist asynchronously (several `Ready`s in flight).
    pub async_persist: bool,
    /// Whether membership changes use `ConfChangeV2` (else v1 only).
    pub conf_change_v2: bool,
    /// The fault weights.
    pub faults: FaultWeights,
    /// Client operations issued per thousand steps.
    pub client_rate: u32,
}

impl Params {
    /// Draws the parameters of a seed from `rng`.
    pub fn draw(rng: &mut StdRng, level: FaultLevel) -> Params {
        let voter_count = [3u64, 5, 7][rng.gen_range(0..3)];
        let learner_count = if rng.gen_bool(0.3) {
            rng.gen_range(1..=2)
        } else {
            0
        };
        let voters: Vec<u64> = (1..=voter_count).collect();
        let learners: Vec<u64> = (voter_count + 1..=voter_count + learner_count).collect();
        let first_spare = voter_count + learner_count + 1;
        let spare_ids: Vec<u64> = (first_spare..first_spare + 2).collect();
        let check_quorum = rng.gen_bool(0.5);
        let all_ids = voters.iter().chain(&learners).chain(&spare_ids);
        let bootstrap_at_term_zero = rng.gen_bool(0.25);
        let priorities = match rng.gen_range(0..4) {
            _ if bootstrap_at_term_zero => {
                // Distinct, in a random order.
                let mut ids: Vec<u64> = all_ids.copied().collect();
                let mut priorities = Vec::with_capacity(ids.len());
                let mut priority = rng.gen_range(-2..=1);
                while !ids.is_empty() {
                    priorities.push((ids.swap_remove(rng.gen_range(0..ids.len())), priority));
                    priority += 1;
                }
                priorities
            }
            0 => Vec::new(),
            1 => all_ids.map(|&id| (id, 1)).collect(),
            _ => all_ids.map(|&id| (id, rng.gen_range(-2..=3))).collect(),
        };
        let pre_vote = bootstrap_at_term_zero || rng.gen_bool(0.5);
        Params {
            voters,
            learners,
            spare_ids,
            pre_vote,
            check_quorum,
            lease_reads: check_quorum && rng.gen_bool(0.5),
            batch_append: rng.gen_bool(0.5),
            max_size_per_msg: [0, 1, 256, 4096, u64::MAX][rng.gen_range(0..5)],
            max_inflight_msgs: [1, 2, 8, 256][rng.gen_range(0..4)],
            priorities,
            bootstrap_at_term_zero,
            async_persist: rng.gen_bool(0.5),
            conf_change_v2: rng.gen_bool(0.5),
            faults: FaultWeights::draw(rng, level),
            client_rate: rng.gen_range(50..400),
        }
    }

    /// Every id that may ever run: initial members and spares.
    pub fn all_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.voters.iter().chain(&self.learners).copied().collect();
        ids.extend(&self.spare_ids);
        ids
    }

    /// The priority drawn for `id`.
    pub fn priority(&self, id: u64) -> i64 {
        self.priorities
            .iter()
            .find(|(i, _)| *i == id)
            .map_or(0, |(_, p)| *p)
    }
}

impl FaultWeights {
    fn draw(rng: &mut StdRng, level: FaultLevel) -> FaultWeights {
        let mut pick = |max: u32| -> u32 {
            match level {
                FaultLevel::High => rng.gen_range(max / 2..=max * 2),
                FaultLevel::Default if rng.gen_bool(0.5) => rng.gen_range(1..=max),
                FaultLevel::Default => 0,
            }
        };
        FaultWeights {
            drop: pick(60),
            duplicate: pick(30),
            delay: pick(100),
            cut_link: pick(6),
            isolate: pick(4),
            isolate_leader: pick(500),
            partition: pick(3),
            heal: pick(20),
            crash: pick(4),
            crash_mid_ready: pick(6),
            compact: pick(15),
            request_snapshot: pick(3),
            request_snapshot_then_elect: pick(500),
            log_unavailable: pick(8),
            conf_change: pick(8),
            transfer: pick(4),
        }
    }
}
