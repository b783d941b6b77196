//! The leader's bookkeeping of the cluster: the active configuration, the
//! replication progress of every peer, and the votes of an election.

mod inflights;
mod progress;
mod progress_map;
mod state;

use std::fmt;

pub use self::inflights::Inflights;
pub use self::progress::Progress;
pub use self::state::ProgressState;

use self::progress_map::ProgressMap;

use crate::eraftpb::ConfState;
use crate::quorum::majority::{committed_index_of_acked, vote_result_of_counts};
use crate::quorum::{Index, VoteResult};
use crate::util::{format_ids, majority};
use crate::{HashMap, HashSet, JointConfig, MapChange, MapChangeType};

/// The membership of the cluster: who votes, who only learns, and whether a
/// joint configuration (thesis §4.3) is being left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Configuration {
    /// The voters; joint while a membership change is in progress.
    pub(crate) voters: JointConfig,
    /// Peers that receive the log but do not vote. Never voters of either
    /// half of `voters`.
    pub(crate) learners: HashSet<u64>,
    /// Voters of the outgoing half that become learners when the joint
    /// configuration is left. A peer cannot be a learner and a voter at
    /// once, so a voter demoted while entering a joint configuration waits
    /// here. Empty when not joint.
    pub(crate) learners_next: HashSet<u64>,
    /// Whether the joint configuration is left automatically once entering
    /// it is committed. False when not joint.
    pub(crate) auto_leave: bool,
}

impl Configuration {
    /// Creates a non-joint configuration.
    pub fn new(voters: HashSet<u64>, learners: HashSet<u64>) -> Configuration {
        Configuration {
            voters: JointConfig::new(voters),
            learners,
            learners_next: HashSet::default(),
            auto_leave: false,
        }
    }

    /// Creates an empty configuration with room for the given numbers of
    /// voters and learners.
    pub fn with_capacity(voters: usize, learners: usize) -> Configuration {
        Configuration {
            voters: JointConfig::with_capacity(voters),
            learners: HashSet::with_capacity_and_hasher(learners, Default::default()),
            learners_next: HashSet::default(),
            auto_leave: false,
        }
    }

    /// The voters.
    pub fn voters(&self) -> &JointConfig {
        &self.voters
    }

    /// The learners.
    pub fn learners(&self) -> &HashSet<u64> {
        &self.learners
    }

    /// The outgoing voters that become learners when the joint
    /// configuration is left.
    pub fn learners_next(&self) -> &HashSet<u64> {
        &self.learners_next
    }

    /// Whether the joint configuration is left automatically.
    pub fn auto_leave(&self) -> &bool {
        &self.auto_leave
    }

    /// The configuration as a `ConfState`, every id list ascending.
    pub fn to_conf_state(&self) -> ConfState {
        let sorted = |ids: &HashSet<u64>| {
            let mut v: Vec<u64> = ids.iter().copied().collect();
            v.sort_unstable();
            v
        };
        ConfState {
            voters: self.voters.incoming.slice(),
            voters_outgoing: self.voters.outgoing.slice(),
            learners: sorted(&self.learners),
            learners_next: sorted(&self.learners_next),
            auto_leave: self.auto_leave,
            ..Default::default()
        }
    }

    fn clear(&mut self) {
        self.voters.clear();
        self.learners.clear();
        self.learners_next.clear();
        self.auto_leave = false;
    }
}

impl fmt::Display for Configuration {
    /// etcd's form, e.g. `voters=(1 2 3)&&(1 2 4) learners=(5)
    /// learners_next=(4) autoleave`; empty parts are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "voters={}", self.voters)?;
        if !self.learners.is_empty() {
            write!(f, " learners=({})", format_ids(&self.learners))?;
        }
        if !self.learners_next.is_empty() {
            write!(f, " learners_next=({})", format_ids(&self.learners_next))?;
        }
        if self.auto_leave {
            write!(f, " autoleave")?;
        }
        Ok(())
    }
}

/// Checks whether a majority of `voters` satisfies `pred`; an empty half
/// does (it does not hold a joint configuration back). The rule of
/// [`MajorityConfig::vote_result`](crate::MajorityConfig::vote_result)
/// winning when `pred` gives a yes vote and the others do not answer,
/// stopping as soon as the majority is reached.
fn majority_satisfies(voters: &HashSet<u64>, pred: impl Fn(u64) -> bool) -> bool {
    if voters.is_empty() {
        return true;
    }
    let need = majority(voters.len());
    let mut found = 0;
    for &id in voters {
        if pred(id) {
            found += 1;
            if found == need {
                return true;
            }
        }
    }
    false
}

/// The leader's (and a candidate's) view of the cluster: the configuration,
/// a [`Progress`] per peer, and the votes received in an election.
///
/// Every voter and learner of the configuration has a progress, and no one
/// else does. Peers are iterated by ascending id.
#[derive(Clone, Debug)]
pub struct ProgressTracker {
    progress: ProgressMap,
    conf: Configuration,
    /// The votes of the current election, created by its first vote and
    /// dropped by [`reset_votes`](Self::reset_votes): only a candidate
    /// holds one, and an idle replica carries 8 bytes for it, not a map.
    votes: Option<Box<HashMap<u64, bool>>>,
    max_inflight: usize,
    /// The byte limit of each new peer's inflight window; 0 means none.
    max_inflight_bytes: u64,
    group_commit: bool,
}

impl ProgressTracker {
    /// Creates an empty tracker whose peers get an inflight window of
    /// `max_inflight` messages.
    pub fn new(max_inflight: usize) -> ProgressTracker {
        ProgressTracker::with_capacity(0, 0, max_inflight)
    }

    /// Creates an empty tracker with room for the given numbers of voters
    /// and learners.
    pub fn with_capacity(voters: usize, learners: usize, max_inflight: usize) -> ProgressTracker {
        ProgressTracker {
            progress: ProgressMap::with_capacity(voters + learners),
            conf: Configuration::with_capacity(voters, learners),
            votes: None,
            max_inflight,
            max_inflight_bytes: 0,
            group_commit: false,
        }
    }

    /// Sets the byte limit of every peer's inflight window, present and
    /// future (`Config::max_inflight_bytes`); 0 means none.
    pub fn set_max_inflight_bytes(&mut self, max_bytes: u64) {
        self.max_inflight_bytes = max_bytes;
        for (_, pr) in self.progress.iter_mut() {
            pr.ins.set_max_bytes(max_bytes);
        }
    }

    /// The byte limit of the peers' inflight windows; 0 means none.
    pub fn max_inflight_bytes(&self) -> u64 {
        self.max_inflight_bytes
    }

    /// A fresh progress for a peer added to the configuration, marked
    /// recently active (see [`apply_conf`](Self::apply_conf)).
    fn new_progress(next_idx: u64, max_inflight: usize, max_inflight_bytes: u64) -> Progress {
        let mut pr = Progress::new(next_idx, max_inflight);
        pr.ins.set_max_bytes(max_inflight_bytes);
        pr.recent_active = true;
        pr
    }

    /// Turns group commit on or off; see
    /// [`MajorityConfig::committed_index`](crate::MajorityConfig::committed_index).
    pub fn enable_group_commit(&mut self, enable: bool) {
        self.group_commit = enable;
    }

    /// Whether group commit is on.
    pub fn group_commit(&self) -> bool {
        self.group_commit
    }

    /// Checks whether there is exactly one voter and the configuration is
    /// not joint.
    pub fn is_singleton(&self) -> bool {
        self.conf.voters.is_singleton()
    }

    /// The progress of peer `id`.
    pub fn get(&self, id: u64) -> Option<&Progress> {
        self.progress.get(id)
    }

    /// The progress of peer `id`, mutably.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Progress> {
        self.progress.get_mut(id)
    }

    /// The smallest tracked peer id above `id`, if any: walks the peers in
    /// ascending order without holding a borrow of the tracker, so the
    /// caller may send to each peer on the way.
    pub(crate) fn next_id_above(&self, id: u64) -> Option<u64> {
        self.progress.next_id_above(id)
    }

    /// Every peer's progress, by ascending id.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&u64, &Progress)> {
        self.progress.iter()
    }

    /// Every peer's progress, mutably, by ascending id.
    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&u64, &mut Progress)> {
        self.progress.iter_mut()
    }

    /// The highest index the voters have replicated according to their
    /// `matched`, and whether group commit decided it; see
    /// [`JointConfig::committed_index`]. The leader still checks the term
    /// of that entry before committing (§5.4.2).
    pub fn maximal_committed_index(&mut self) -> (u64, bool) {
        let voters = &self.conf.voters;
        if !voters.is_joint() && voters.incoming.len() == self.progress.len() {
            // The progress ids are the voters and the learners, so here
            // they are exactly the voters: read every progress in place of
            // walking the voter set and looking each one up.
            return committed_index_of_acked(
                self.group_commit,
                self.progress.iter().map(|(_, pr)| Index {
                    index: pr.matched,
                    group_id: pr.commit_group_id,
                }),
            );
        }
        voters.committed_index(self.group_commit, &self.progress)
    }

    /// Checks the invariants of the tracker: the progress map holds exactly
    /// the voters (of both halves) and the learners; learners are not
    /// voters; `learners_next` and auto-leave exist only in a joint
    /// configuration, `learners_next` among the outgoing voters; every
    /// peer's inflight window has the tracker's byte limit; and each
    /// [`Progress`] keeps its own. O(peers + messages in flight).
    ///
    /// # Panics
    ///
    /// Through `fatal!` when one is broken.
    #[cfg(debug_assertions)]
    pub(crate) fn check_invariants(&self, logger: &slog::Logger) {
        let conf = &self.conf;
        let (incoming, outgoing) = (&conf.voters.incoming, &conf.voters.outgoing);
        let member =
            |id: &u64| incoming.contains(id) || outgoing.contains(id) || conf.learners.contains(id);
        if let Some(id) = self.progress.ids().find(|id| !member(id)) {
            crate::fatal!(
                logger,
                "peer {} has a progress but is not in the configuration {}",
                id,
                conf
            );
        }
        let tracked = |id: &&u64| self.progress.contains_key(**id);
        if let Some(id) = incoming
            .iter()
            .chain(outgoing.iter())
            .chain(conf.learners.iter())
            .find(|id| !tracked(id))
        {
            crate::fatal!(
                logger,
                "peer {} of the configuration {} has no progress",
                id,
                conf
            );
        }
        if let Some(id) = conf
            .learners
            .iter()
            .find(|id| incoming.contains(id) || outgoing.contains(id))
        {
            crate::fatal!(
                logger,
                "peer {} is both a learner and a voter in {}",
                id,
                conf
            );
        }
        let joint = conf.voters.is_joint();
        let stray_next = conf
            .learners_next
            .iter()
            .find(|id| !outgoing.contains(id) || incoming.contains(id));
        if (!joint && (conf.auto_leave || !conf.learners_next.is_empty())) || stray_next.is_some() {
            crate::fatal!(
                logger,
                "learners_next or auto-leave out of a joint configuration: {}",
                conf
            );
        }
        for (&id, pr) in self.progress.iter() {
            if pr.ins.max_bytes() != self.max_inflight_bytes {
                crate::fatal!(
                    logger,
                    "inflights of peer {} have the byte limit {}, the tracker {}",
                    id,
                    pr.ins.max_bytes(),
                    self.max_inflight_bytes
                );
            }
            pr.check_invariants(id, logger);
        }
    }

    /// Forgets the votes of the last election.
    pub fn reset_votes(&mut self) {
        self.votes = None;
    }

    /// Records the vote of peer `id`. Only its first vote counts: a peer
    /// votes once per term (§5.2), so a later, different answer is a
    /// duplicate.
    pub fn record_vote(&mut self, id: u64, vote: bool) {
        self.votes
            .get_or_insert_with(Default::default)
            .entry(id)
            .or_insert(vote);
    }

    /// Counts the votes of current voters as `(granted, rejected, result)`;
    /// votes from learners or from peers no longer in the configuration are
    /// ignored. The result is [`vote_result`](Self::vote_result) of the
    /// recorded votes, computed from the same single pass over them.
    pub fn tally_votes(&self) -> (usize, usize, VoteResult) {
        let (incoming, outgoing) = (&self.conf.voters.incoming, &self.conf.voters.outgoing);
        let joint = !outgoing.is_empty();
        let (mut granted, mut rejected) = (0, 0);
        // Granted and rejected votes within each half.
        let (mut in_yes, mut in_no, mut out_yes, mut out_no) = (0, 0, 0, 0);
        for (id, &vote) in self.votes() {
            let in_incoming = incoming.contains(id);
            let in_outgoing = joint && outgoing.contains(id);
            if !in_incoming && !in_outgoing {
                continue;
            }
            if vote {
                granted += 1;
            } else {
                rejected += 1;
            }
            if in_incoming {
                *(if vote { &mut in_yes } else { &mut in_no }) += 1;
            }
            if in_outgoing {
                *(if vote { &mut out_yes } else { &mut out_no }) += 1;
            }
        }
        let result = match (
            vote_result_of_counts(incoming.len(), in_yes, in_no),
            vote_result_of_counts(outgoing.len(), out_yes, out_no),
        ) {
            (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
            (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
            _ => VoteResult::Pending,
        };
        (granted, rejected, result)
    }

    /// The outcome of the given votes under the current voters.
    pub fn vote_result(&self, votes: &HashMap<u64, bool>) -> VoteResult {
        self.conf.voters.vote_result(|id| votes.get(&id).copied())
    }

    /// Checks whether a quorum of voters was heard from since the last
    /// call, counting `perspective_of` (the leader itself) as heard.
    ///
    /// Starts the next check-quorum round (§6.2 / thesis §6.2): every other
    /// peer's `recent_active` is reset to false, and `perspective_of`'s is
    /// set to true.
    pub fn quorum_recently_active(&mut self, perspective_of: u64) -> bool {
        // Decided before the flags are reset, from the flags themselves:
        // no set of active peers is built.
        let progress = &self.progress;
        let active = |id: u64| {
            progress
                .get(id)
                .is_some_and(|pr| id == perspective_of || pr.recent_active)
        };
        let voters = &self.conf.voters;
        let quorum = majority_satisfies(&voters.incoming, active)
            && majority_satisfies(&voters.outgoing, active);
        for (&id, pr) in self.progress.iter_mut() {
            pr.recent_active = id == perspective_of;
        }
        quorum
    }

    /// Checks whether the voters for which `pred` holds make a quorum (of
    /// both halves when joint), without building the set of them.
    pub(crate) fn quorum_satisfies(&self, pred: impl Fn(u64) -> bool) -> bool {
        let voters = &self.conf.voters;
        majority_satisfies(&voters.incoming, &pred) && majority_satisfies(&voters.outgoing, &pred)
    }

    /// Checks whether `potential_quorum` contains a quorum of the voters
    /// (of both halves when joint).
    pub fn has_quorum(&self, potential_quorum: &HashSet<u64>) -> bool {
        let voters = &self.conf.voters;
        let within = |id: u64| potential_quorum.contains(&id);
        // Too few ids for a majority of a half, checked before any lookup.
        let enough =
            |half: &HashSet<u64>| half.is_empty() || potential_quorum.len() >= majority(half.len());
        enough(&voters.incoming)
            && enough(&voters.outgoing)
            && majority_satisfies(&voters.incoming, within)
            && majority_satisfies(&voters.outgoing, within)
    }

    /// Installs a configuration produced by the [`Changer`](crate::Changer)
    /// together with its progress changes, applied in order. An added peer
    /// gets a fresh progress starting at `next_idx`, marked recently active
    /// so that a check-quorum round right after the change does not count
    /// it as silent. A peer removed and added again in the same change gets
    /// a fresh progress too, so answers to the old incarnation cannot raise
    /// its `matched` (tikv/raft-rs#571, etcd-io/raft#349).
    pub fn apply_conf(&mut self, conf: Configuration, changes: MapChange, next_idx: u64) {
        self.conf = conf;
        for (id, change) in changes {
            match change {
                MapChangeType::Add => {
                    let pr =
                        Self::new_progress(next_idx, self.max_inflight, self.max_inflight_bytes);
                    self.progress.insert(id, pr);
                }
                MapChangeType::Remove => {
                    self.progress.remove(id);
                }
            }
        }
        debug_assert!(
            self.conf
                .voters
                .ids()
                .iter()
                .all(|id| self.progress.contains_key(id))
                && self
                    .conf
                    .learners
                    .iter()
                    .all(|&id| self.progress.contains_key(id))
                && self.progress.len() == self.conf.voters.ids().len() + self.conf.learners.len(),
            "progress {:?} does not match configuration {}",
            self.progress.ids().collect::<Vec<_>>(),
            self.conf
        );
    }

    /// Replaces the configuration with the non-joint one of `voters` and
    /// `learners`, every peer with a fresh progress starting at `next_idx`
    /// (marked recently active, as [`apply_conf`](Self::apply_conf) does),
    /// and clears the votes. Fills the existing sets and map in place, so
    /// a tracker made with [`with_capacity`](Self::with_capacity) for these
    /// numbers of peers does not allocate again.
    ///
    /// The caller guarantees the ids are non-zero and distinct across both
    /// lists: the result is then what adding them one change at a time
    /// through the [`Changer`](crate::Changer) gives.
    pub(crate) fn reset_plain(&mut self, voters: &[u64], learners: &[u64], next_idx: u64) {
        self.clear();
        self.conf.voters.incoming.extend(voters.iter().copied());
        self.conf.learners.extend(learners.iter().copied());
        let (max_inflight, max_inflight_bytes) = (self.max_inflight, self.max_inflight_bytes);
        self.progress
            .reset_with(voters.iter().chain(learners).copied(), || {
                Self::new_progress(next_idx, max_inflight, max_inflight_bytes)
            });
        debug_assert!(
            self.progress.len() == voters.len() + learners.len()
                && self.conf.voters.incoming.len() == voters.len(),
            "ids not distinct: voters {voters:?} learners {learners:?}"
        );
    }

    /// The active configuration.
    pub fn conf(&self) -> &Configuration {
        &self.conf
    }

    /// The votes recorded in the current election.
    pub fn votes(&self) -> &HashMap<u64, bool> {
        static NO_VOTES: HashMap<u64, bool> =
            HashMap::with_hasher(std::hash::BuildHasherDefault::new());
        self.votes.as_deref().unwrap_or(&NO_VOTES)
    }

    /// Empties the tracker: no peers, no configuration, no votes. Keeps the
    /// group commit switch and the inflight window size and byte limit.
    pub fn clear(&mut self) {
        self.progress.clear();
        self.conf.clear();
        self.votes = None;
    }
}

#[cfg(all(test, debug_assertions))]
mod invariant_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confchange::restore;
    use crate::util::id_set;

    /// A tracker of voters `voters` (and learners), with peer 1 as the
    /// local node.
    fn tracker(voters: &[u64], learners: &[u64]) -> ProgressTracker {
        let mut t = ProgressTracker::new(8);
        let cs = ConfState {
            voters: voters.to_vec(),
            learners: learners.to_vec(),
            ..Default::default()
        };
        restore(&mut t, 1, &cs).unwrap();
        t
    }

    fn joint_tracker(incoming: &[u64], outgoing: &[u64]) -> ProgressTracker {
        let mut t = ProgressTracker::new(8);
        let cs = ConfState {
            voters: incoming.to_vec(),
            voters_outgoing: outgoing.to_vec(),
            ..Default::default()
        };
        restore(&mut t, 1, &cs).unwrap();
        t
    }

    #[test]
    fn first_vote_of_a_peer_counts() {
        let mut t = tracker(&[1, 2, 3], &[]);
        t.record_vote(2, true);
        t.record_vote(2, false);
        assert_eq!(t.votes().get(&2), Some(&true));
        t.reset_votes();
        assert!(t.votes().is_empty());
        t.record_vote(2, false);
        assert_eq!(t.votes().get(&2), Some(&false));
    }

    #[test]
    fn tally_counts_only_current_voters() {
        let mut t = tracker(&[1, 2, 3], &[4]);
        t.record_vote(1, true);
        t.record_vote(4, true); // a learner
        t.record_vote(9, false); // not a member
        assert_eq!(t.tally_votes(), (1, 0, VoteResult::Pending));
        t.record_vote(2, false);
        assert_eq!(t.tally_votes(), (1, 1, VoteResult::Pending));
        t.record_vote(3, true);
        assert_eq!(t.tally_votes(), (2, 1, VoteResult::Won));

        let mut t = tracker(&[1, 2, 3], &[]);
        t.record_vote(2, false);
        t.record_vote(3, false);
        assert_eq!(t.tally_votes(), (0, 2, VoteResult::Lost));
    }

    #[test]
    fn joint_election_needs_both_majorities() {
        let mut t = joint_tracker(&[1, 2, 3], &[1, 4, 5]);
        t.record_vote(1, true);
        t.record_vote(2, true);
        assert_eq!(t.tally_votes(), (2, 0, VoteResult::Pending));
        t.record_vote(4, true);
        assert_eq!(t.tally_votes(), (3, 0, VoteResult::Won));
    }

    #[test]
    fn quorum_recently_active_counts_self_and_resets_others() {
        let mut t = tracker(&[1, 2, 3, 4, 5], &[6]);
        // Freshly added peers count as active once.
        assert!(t.iter().all(|(_, pr)| pr.recent_active));
        assert!(t.quorum_recently_active(1));
        for (id, pr) in t.iter() {
            assert_eq!(pr.recent_active, *id == 1, "peer {id}");
        }
        // Only the leader and a learner heard from: no quorum.
        t.get_mut(6).unwrap().recent_active = true;
        t.get_mut(2).unwrap().recent_active = true;
        assert!(!t.quorum_recently_active(1));
        assert!(!t.get(6).unwrap().recent_active);
        t.get_mut(2).unwrap().recent_active = true;
        t.get_mut(3).unwrap().recent_active = true;
        assert!(t.quorum_recently_active(1));
    }

    #[test]
    fn has_quorum_checks_both_halves() {
        let t = joint_tracker(&[1, 2, 3], &[3, 4, 5]);
        assert!(!t.has_quorum(&id_set([1, 2])));
        assert!(t.has_quorum(&id_set([1, 2, 4, 5])));
        assert!(t.has_quorum(&id_set([2, 3, 4])));
        assert!(!t.has_quorum(&id_set([9])));
    }

    #[test]
    fn maximal_committed_index_uses_voters_matched() {
        let mut t = tracker(&[1, 2, 3], &[4]);
        for (id, matched) in [(1, 5), (2, 3), (3, 1), (4, 9)] {
            t.get_mut(id).unwrap().matched = matched;
        }
        assert_eq!(t.maximal_committed_index(), (3, false));

        t.enable_group_commit(true);
        assert!(t.group_commit());
        for (id, group) in [(1, 1), (2, 1), (3, 2)] {
            t.get_mut(id).unwrap().commit_group_id = group;
        }
        // Index 3 is only in group 1; index 1 is in both groups.
        assert_eq!(t.maximal_committed_index(), (1, true));
    }

    #[test]
    fn apply_conf_gives_added_peers_a_fresh_active_progress() {
        let mut t = tracker(&[1, 2], &[]);
        t.get_mut(2).unwrap().matched = 7;
        let conf = Configuration::new(id_set([1, 2, 3]), HashSet::default());
        t.apply_conf(
            conf,
            vec![
                (2, MapChangeType::Remove),
                (2, MapChangeType::Add),
                (3, MapChangeType::Add),
            ],
            11,
        );
        for id in [2, 3] {
            let pr = t.get(id).unwrap();
            assert_eq!((pr.matched, pr.next_idx), (0, 11), "peer {id}");
            assert!(pr.recent_active, "peer {id}");
            assert_eq!(pr.ins.cap(), 8, "peer {id}");
        }
        assert_eq!(t.iter().len(), 3);
        assert_eq!(t.iter_mut().len(), 3);
        assert_eq!(t.conf().voters().incoming().slice(), vec![1, 2, 3]);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "does not match configuration")]
    fn apply_conf_checks_progress_matches_config_in_debug() {
        let mut t = tracker(&[1], &[]);
        let conf = Configuration::new(id_set([1, 2]), HashSet::default());
        t.apply_conf(conf, vec![], 1);
    }

    #[test]
    fn singleton_and_clear() {
        let mut t = tracker(&[1], &[2]);
        assert!(t.is_singleton());
        assert!(!tracker(&[1, 2], &[]).is_singleton());
        assert!(!joint_tracker(&[1], &[1, 2]).is_singleton());
        t.record_vote(1, true);
        t.enable_group_commit(true);
        t.clear();
        assert_eq!(t.iter().len(), 0);
        assert!(t.votes().is_empty());
        assert_eq!(t.conf(), &Configuration::default());
        assert!(t.group_commit(), "the switch is kept");
    }

    #[test]
    fn configuration_accessors_display_and_conf_state() {
        let mut c = Configuration::new(id_set([3, 1]), id_set([5]));
        assert_eq!(c.to_string(), "voters=(1 3) learners=(5)");
        c.voters.outgoing.extend([1, 2]);
        c.learners_next.insert(2);
        c.auto_leave = true;
        assert_eq!(
            c.to_string(),
            "voters=(1 3)&&(1 2) learners=(5) learners_next=(2) autoleave"
        );
        assert_eq!(c.voters().outgoing().slice(), vec![1, 2]);
        assert_eq!(c.learners(), &id_set([5]));
        assert_eq!(c.learners_next(), &id_set([2]));
        assert!(*c.auto_leave());
        let cs = c.to_conf_state();
        assert_eq!(cs.voters, vec![1, 3]);
        assert_eq!(cs.voters_outgoing, vec![1, 2]);
        assert_eq!(cs.learners, vec![5]);
        assert_eq!(cs.learners_next, vec![2]);
        assert!(cs.auto_leave);
        assert_eq!(Configuration::with_capacity(3, 2), Configuration::default());
    }

    /// A configuration of peers 1..=roles.len(): per peer, whether it is
    /// an incoming voter (peer 1 always is, as a configuration needs one),
    /// an outgoing voter, and a learner (only when it is no voter).
    fn roles_tracker(roles: &[(bool, bool, bool)]) -> ProgressTracker {
        let mut cs = ConfState::default();
        for (i, &(incoming, outgoing, learner)) in roles.iter().enumerate() {
            let id = i as u64 + 1;
            let incoming = incoming || id == 1;
            if incoming {
                cs.voters.push(id);
            }
            if outgoing {
                cs.voters_outgoing.push(id);
            }
            if learner && !incoming && !outgoing {
                cs.learners.push(id);
            }
        }
        let mut t = ProgressTracker::new(4);
        restore(&mut t, 1, &cs).unwrap();
        t
    }

    proptest::proptest! {
        /// has_quorum and quorum_recently_active agree with the voters'
        /// vote rule counting the ids in the set (or the active peers) as
        /// yes votes and the others as missing, and the check-quorum round
        /// leaves only `perspective_of` active.
        #[test]
        fn quorum_checks_agree_with_the_vote_rule(
            roles in proptest::collection::vec(
                (proptest::bool::ANY, proptest::bool::ANY, proptest::bool::ANY),
                1..9,
            ),
            ids in proptest::collection::vec(1u64..11, 0..9),
            active in proptest::collection::vec(proptest::bool::ANY, 9),
            perspective_of in 1u64..11,
        ) {
            let mut t = roles_tracker(&roles);
            let set: HashSet<u64> = ids.iter().copied().collect();
            let voters = t.conf.voters.clone();
            let won = |set: &HashSet<u64>| {
                voters.vote_result(|id| set.get(&id).map(|_| true)) == VoteResult::Won
            };
            proptest::prop_assert_eq!(t.has_quorum(&set), won(&set));

            for (i, &a) in active.iter().enumerate() {
                if let Some(pr) = t.get_mut(i as u64 + 1) {
                    pr.recent_active = a;
                }
            }
            let heard: HashSet<u64> = t
                .iter()
                .filter(|(id, pr)| **id == perspective_of || pr.recent_active)
                .map(|(id, _)| *id)
                .collect();
            let want = won(&heard);
            proptest::prop_assert_eq!(t.quorum_recently_active(perspective_of), want);
            for (id, pr) in t.iter() {
                proptest::prop_assert_eq!(pr.recent_active, *id == perspective_of, "peer {}", id);
            }
        }

        /// Whatever the configuration (joint or not, with learners or
        /// not), the committed index is the voters' rule applied to the
        /// voters' progress.
        #[test]
        fn maximal_committed_index_agrees_with_the_voters_rule(
            roles in proptest::collection::vec((0u8..3, proptest::bool::ANY), 1..10),
            acks in proptest::collection::vec((0u64..6, 0u64..3), 10),
            group_commit in proptest::bool::ANY,
        ) {
            // Role 0: a voter (of both halves with `outgoing`); 1: a voter
            // of one half, the outgoing one with `outgoing`; 2: a learner,
            // or, with `outgoing` in a joint configuration, an outgoing
            // voter that becomes a learner on leaving it.
            let mut cs = ConfState::default();
            for (i, &(role, outgoing)) in roles.iter().enumerate() {
                let id = i as u64 + 1;
                match role {
                    0 => cs.voters.push(id),
                    1 if outgoing => cs.voters_outgoing.push(id),
                    1 => cs.voters.push(id),
                    _ if outgoing && !cs.voters_outgoing.is_empty() => {
                        // An outgoing voter demoted on leaving the joint
                        // configuration.
                        cs.voters_outgoing.push(id);
                        cs.learners_next.push(id);
                    }
                    _ => cs.learners.push(id),
                }
                if role == 0 && outgoing {
                    cs.voters_outgoing.push(id);
                }
            }
            proptest::prop_assume!(!cs.voters.is_empty());
            let mut t = ProgressTracker::new(4);
            restore(&mut t, 1, &cs).unwrap();
            t.enable_group_commit(group_commit);
            for (i, &(matched, group)) in acks.iter().enumerate() {
                if let Some(pr) = t.get_mut(i as u64 + 1) {
                    pr.matched = matched;
                    pr.commit_group_id = group;
                }
            }
            let want = t.conf.voters.committed_index(group_commit, &t.progress);
            proptest::prop_assert_eq!(t.maximal_committed_index(), want);
        }

        /// The one-pass tally counts the votes of current voters and gives
        /// the same result as the per-half vote_result, joint or not.
        #[test]
        fn tally_agrees_with_vote_result(
            roles in proptest::collection::vec((0u8..3, proptest::bool::ANY), 6),
            votes in proptest::collection::vec((1u64..9, proptest::bool::ANY), 0..10),
        ) {
            let mut t = ProgressTracker::new(4);
            for (i, &(role, outgoing)) in roles.iter().enumerate() {
                let id = i as u64 + 1;
                match role {
                    1 => { t.conf.voters.incoming.insert(id); }
                    2 => { t.conf.learners.insert(id); }
                    _ => {}
                }
                if outgoing && role != 2 {
                    t.conf.voters.outgoing.insert(id);
                }
            }
            for (id, vote) in votes {
                t.record_vote(id, vote);
            }
            let count = |want: bool| {
                t.votes()
                    .iter()
                    .filter(|(id, v)| **v == want && t.conf().voters().contains(**id))
                    .count()
            };
            proptest::prop_assert_eq!(
                t.tally_votes(),
                (count(true), count(false), t.vote_result(t.votes()))
            );
        }
    }
}
