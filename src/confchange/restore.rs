//! Rebuilding a tracker from a `ConfState` (at start-up or when a snapshot
//! is applied).

use crate::eraftpb::{ConfChangeSingle, ConfChangeType, ConfState};
use crate::tracker::ProgressTracker;
use crate::util::{format_ids, id_set};
use crate::{Changer, Error, HashSet, Result};

fn single(node_id: u64, change_type: ConfChangeType) -> ConfChangeSingle {
    let mut cc = ConfChangeSingle {
        node_id,
        ..Default::default()
    };
    cc.set_change_type(change_type);
    cc
}

/// Splits a `ConfState` into the changes that rebuild it from an empty
/// configuration: `outgoing` builds the outgoing voters as if they were the
/// only configuration, then `incoming`, applied while entering a joint
/// configuration, turns that into the incoming half, the learners and the
/// learners-next.
///
/// For voters=(1 2 3) learners=(5) outgoing=(1 2 4 6) learners_next=(4):
/// outgoing = v1 v2 v4 v6 gives (1 2 4 6); then entering joint with
/// incoming = r1 r2 r4 r6 v1 v2 v3 l5 l4 gives (1 2 3)&&(1 2 4 6) with
/// learner 5 and 4 in learners_next. Whether 5 was a learner before the
/// joint configuration cannot be known and does not matter.
fn to_conf_change_single(cs: &ConfState) -> (Vec<ConfChangeSingle>, Vec<ConfChangeSingle>) {
    let outgoing = cs
        .voters_outgoing
        .iter()
        .map(|&id| single(id, ConfChangeType::AddNode))
        .collect();
    let incoming = cs
        .voters_outgoing
        .iter()
        .map(|&id| single(id, ConfChangeType::RemoveNode))
        .chain(
            cs.voters
                .iter()
                .map(|&id| single(id, ConfChangeType::AddNode)),
        )
        .chain(
            cs.learners
                .iter()
                .chain(&cs.learners_next)
                .map(|&id| single(id, ConfChangeType::AddLearnerNode)),
        )
        .collect();
    (outgoing, incoming)
}

/// Replaces the tracker's configuration and progress with the
/// configuration described by `cs`, joint or not; every peer gets a fresh
/// progress starting at `next_idx`, and the votes are cleared. The group
/// commit switch and the inflight window size are kept; commit groups are
/// not (the application assigns them again).
///
/// The `ConfState` is replayed as a series of valid changes (one voter at a
/// time, then entering the joint configuration if there is one) and the
/// result is compared with `cs` as sets: an inconsistent `ConfState` is
/// refused with [`Error::ConfChangeError`] and the tracker is left
/// untouched. An empty `ConfState` gives an empty tracker. A plain state
/// (see [`is_plain`]) cannot fail that replay, so it is built in one step
/// with the same result.
pub(crate) fn restore(tracker: &mut ProgressTracker, next_idx: u64, cs: &ConfState) -> Result<()> {
    if is_plain(cs) {
        tracker.reset_plain(&cs.voters, &cs.learners, next_idx);
        return Ok(());
    }
    restore_by_replay(tracker, next_idx, cs)
}

/// [`restore`] for any `ConfState`, by replaying its changes through the
/// [`Changer`] and checking the result.
fn restore_by_replay(tracker: &mut ProgressTracker, next_idx: u64, cs: &ConfState) -> Result<()> {
    let mut rebuilt = tracker.clone();
    rebuilt.clear();
    let (outgoing, incoming) = to_conf_change_single(cs);
    if outgoing.is_empty() {
        for cc in &incoming {
            let (cfg, changes) = Changer::new(&rebuilt).simple(std::slice::from_ref(cc))?;
            rebuilt.apply_conf(cfg, changes, next_idx);
        }
    } else {
        for cc in &outgoing {
            let (cfg, changes) = Changer::new(&rebuilt).simple(std::slice::from_ref(cc))?;
            rebuilt.apply_conf(cfg, changes, next_idx);
        }
        let (cfg, changes) = Changer::new(&rebuilt).enter_joint(cs.auto_leave, &incoming)?;
        rebuilt.apply_conf(cfg, changes, next_idx);
    }
    // Replaying an inconsistent ConfState can succeed with a different
    // result (e.g. a learners_next id that is no outgoing voter becomes a
    // plain learner); refuse it rather than silently change the membership.
    let restored = rebuilt.conf().to_conf_state();
    if !same_sets(&restored, cs) {
        return Err(Error::ConfChangeError(format!(
            "conf state {} is not a valid configuration (it restores as {})",
            describe(cs),
            rebuilt.conf()
        )));
    }
    *tracker = rebuilt;
    Ok(())
}

/// Up to this many members, [`is_plain`] looks for repeated ids by
/// comparing every pair instead of filling a set.
const PAIRWISE_MEMBERS: usize = 32;

/// Whether `cs` is a non-joint configuration of distinct, non-zero ids
/// with at least one voter: the one-change-at-a-time rebuild of such a
/// state cannot fail and gives exactly its voters and learners, which
/// [`ProgressTracker::reset_plain`] builds directly.
fn is_plain(cs: &ConfState) -> bool {
    if cs.voters.is_empty()
        || !cs.voters_outgoing.is_empty()
        || !cs.learners_next.is_empty()
        || cs.auto_leave
    {
        return false;
    }
    let members = cs.voters.len() + cs.learners.len();
    if members <= PAIRWISE_MEMBERS {
        let (voters, learners) = (&cs.voters, &cs.learners);
        return voters
            .iter()
            .enumerate()
            .all(|(i, &id)| id != 0 && !voters[..i].contains(&id))
            && learners
                .iter()
                .enumerate()
                .all(|(i, &id)| id != 0 && !voters.contains(&id) && !learners[..i].contains(&id));
    }
    let mut seen = HashSet::with_capacity_and_hasher(members, Default::default());
    cs.voters
        .iter()
        .chain(&cs.learners)
        .all(|&id| id != 0 && seen.insert(id))
}

fn same_sets(restored: &ConfState, cs: &ConfState) -> bool {
    let set = |ids: &[u64]| id_set(ids.iter().copied());
    set(&restored.voters) == set(&cs.voters)
        && set(&restored.learners) == set(&cs.learners)
        && set(&restored.voters_outgoing) == set(&cs.voters_outgoing)
        && set(&restored.learners_next) == set(&cs.learners_next)
        && restored.auto_leave == cs.auto_leave
}

fn describe(cs: &ConfState) -> String {
    format!(
        "voters=({}) learners=({}) voters_outgoing=({}) learners_next=({}) auto_leave={}",
        format_ids(&cs.voters),
        format_ids(&cs.learners),
        format_ids(&cs.voters_outgoing),
        format_ids(&cs.learners_next),
        cs.auto_leave
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::Configuration;
    use crate::{Error, Progress, ProgressState};
    use proptest::prelude::*;

    fn conf_state(
        voters: &[u64],
        learners: &[u64],
        outgoing: &[u64],
        learners_next: &[u64],
        auto_leave: bool,
    ) -> ConfState {
        ConfState {
            voters: voters.to_vec(),
            learners: learners.to_vec(),
            voters_outgoing: outgoing.to_vec(),
            learners_next: learners_next.to_vec(),
            auto_leave,
            ..Default::default()
        }
    }

    fn sorted(mut v: Vec<u64>) -> Vec<u64> {
        v.sort_unstable();
        v.dedup();
        v
    }

    fn normalized(cs: &ConfState) -> ConfState {
        conf_state(
            &sorted(cs.voters.clone()),
            &sorted(cs.learners.clone()),
            &sorted(cs.voters_outgoing.clone()),
            &sorted(cs.learners_next.clone()),
            cs.auto_leave,
        )
    }

    #[test]
    fn restores_a_joint_config_with_fresh_progress() {
        let cs = conf_state(&[1, 2, 3], &[5], &[1, 2, 4, 6], &[4], true);
        let mut tracker = ProgressTracker::new(10);
        restore(&mut tracker, 7, &cs).unwrap();
        assert_eq!(tracker.conf().to_conf_state(), cs);
        assert_eq!(
            tracker.conf().to_string(),
            "voters=(1 2 3)&&(1 2 4 6) learners=(5) learners_next=(4) autoleave"
        );
        assert_eq!(tracker.iter().len(), 6);
        for (id, pr) in tracker.iter() {
            assert_eq!((pr.matched, pr.next_idx), (0, 7), "peer {id}");
            assert_eq!(pr.state, ProgressState::Probe, "peer {id}");
            assert_eq!(pr.ins, crate::Inflights::new(10), "peer {id}");
        }
    }

    #[test]
    fn restore_replaces_what_was_there() {
        let mut tracker = ProgressTracker::new(10);
        restore(&mut tracker, 1, &conf_state(&[1, 2], &[3], &[], &[], false)).unwrap();
        tracker.record_vote(1, true);
        tracker.get_mut(1).unwrap().matched = 5;
        restore(&mut tracker, 9, &conf_state(&[1, 4], &[], &[], &[], false)).unwrap();
        assert_eq!(tracker.conf().to_string(), "voters=(1 4)");
        assert!(tracker.get(2).is_none() && tracker.get(3).is_none());
        assert_eq!(tracker.get(1).unwrap().matched, 0);
        assert!(tracker.votes().is_empty());
    }

    #[test]
    fn empty_conf_state_gives_an_empty_tracker() {
        let mut tracker = ProgressTracker::new(10);
        restore(&mut tracker, 1, &conf_state(&[1], &[], &[], &[], false)).unwrap();
        restore(&mut tracker, 1, &ConfState::default()).unwrap();
        assert_eq!(tracker.iter().len(), 0);
        assert_eq!(tracker.conf().to_conf_state(), ConfState::default());
    }

    #[test]
    fn invalid_conf_states_are_refused_without_change() {
        let invalid = [
            // Learners but no voters.
            conf_state(&[], &[2], &[], &[], false),
            // A peer both voter and learner.
            conf_state(&[1, 2], &[2], &[], &[], false),
            // Joint with no incoming voters.
            conf_state(&[], &[], &[1], &[], false),
            // learners_next not an outgoing voter: replaying makes 3 a
            // plain learner, which is not what the ConfState says.
            conf_state(&[1, 3], &[], &[1], &[3], false),
            // Auto-leave without a joint configuration.
            conf_state(&[1], &[], &[], &[], true),
            // A learner that is also an outgoing voter.
            conf_state(&[1], &[2], &[1, 2], &[], false),
        ];
        for (i, cs) in invalid.iter().enumerate() {
            let mut tracker = ProgressTracker::new(10);
            restore(&mut tracker, 1, &conf_state(&[7], &[], &[], &[], false)).unwrap();
            let err = restore(&mut tracker, 1, cs).unwrap_err();
            assert!(matches!(err, Error::ConfChangeError(_)), "#{i}: {err:?}");
            assert_eq!(tracker.conf().to_string(), "voters=(7)", "#{i}");
            assert_eq!(tracker.iter().len(), 1, "#{i}");
        }
    }

    /// A valid ConfState: voters and learners disjoint, joint ones with
    /// learners_next drawn from the outgoing voters that are not incoming
    /// voters.
    fn valid_conf_state() -> impl Strategy<Value = ConfState> {
        // Each of ids 1..=8 gets a role: 0 none, 1 voter, 2 learner, and
        // separately an outgoing flag.
        (
            proptest::collection::vec((0u8..3, proptest::bool::ANY, proptest::bool::ANY), 8),
            proptest::bool::ANY,
            proptest::bool::ANY,
        )
            .prop_filter_map("needs a voter", |(roles, joint, auto_leave)| {
                let mut cs = ConfState::default();
                for (i, &(role, out, next)) in roles.iter().enumerate() {
                    let id = i as u64 + 1;
                    let outgoing = joint && out;
                    if outgoing {
                        cs.voters_outgoing.push(id);
                    }
                    match role {
                        1 => cs.voters.push(id),
                        2 if outgoing && next => cs.learners_next.push(id),
                        2 if !outgoing => cs.learners.push(id),
                        _ => {}
                    }
                }
                cs.auto_leave = auto_leave && !cs.voters_outgoing.is_empty();
                if cs.voters.is_empty() {
                    return None;
                }
                Some(cs)
            })
    }

    /// Everything a restore sets: configuration, progress by id, votes.
    fn snapshot(tracker: &ProgressTracker) -> (Configuration, Vec<(u64, Progress)>, usize) {
        let mut progress: Vec<_> = tracker.iter().map(|(id, pr)| (*id, pr.clone())).collect();
        progress.sort_unstable_by_key(|(id, _)| *id);
        (tracker.conf().clone(), progress, tracker.votes().len())
    }

    #[test]
    fn plain_states_are_recognised() {
        assert!(is_plain(&conf_state(&[1, 2, 3], &[4], &[], &[], false)));
        // A repeat, a zero id, a peer in both roles, no voter, joint.
        assert!(!is_plain(&conf_state(&[1, 2, 1], &[], &[], &[], false)));
        assert!(!is_plain(&conf_state(&[1, 0], &[], &[], &[], false)));
        assert!(!is_plain(&conf_state(&[1, 2], &[2], &[], &[], false)));
        assert!(!is_plain(&conf_state(&[], &[2], &[], &[], false)));
        assert!(!is_plain(&conf_state(&[1], &[], &[1], &[], false)));
        // Past the pairwise limit the set-based check decides.
        let many: Vec<u64> = (1..=40).collect();
        assert!(is_plain(&conf_state(&many, &[41], &[], &[], false)));
        assert!(!is_plain(&conf_state(&many, &[40], &[], &[], false)));
    }

    proptest! {
        /// The one-step restore of a plain state gives exactly what
        /// replaying it through the Changer gives, from any starting
        /// tracker; states that are not plain (repeats, zero ids, a peer
        /// in both roles, no voter) take the replay path and so agree
        /// trivially, errors included.
        #[test]
        fn one_step_restore_matches_the_replay(
            voters in proptest::collection::vec(0u64..12, 0..8),
            learners in proptest::collection::vec(0u64..12, 0..4),
            before in proptest::collection::vec(1u64..12, 1..4),
            next_idx in 1u64..100,
        ) {
            let cs = conf_state(&voters, &learners, &[], &[], false);
            let mut fast = ProgressTracker::with_capacity(voters.len(), learners.len(), 4);
            let mut replayed = ProgressTracker::new(4);
            for t in [&mut fast, &mut replayed] {
                restore(t, 3, &conf_state(&before, &[], &[], &[], false)).unwrap();
                t.record_vote(before[0], true);
            }
            let fast_result = restore(&mut fast, next_idx, &cs).map_err(|e| e.to_string());
            let replayed_result =
                restore_by_replay(&mut replayed, next_idx, &cs).map_err(|e| e.to_string());
            prop_assert_eq!(fast_result, replayed_result);
            prop_assert_eq!(snapshot(&fast), snapshot(&replayed));
        }

        /// Restoring any valid ConfState reproduces it.
        #[test]
        fn restore_round_trips_valid_conf_states(cs in valid_conf_state(), next_idx in 1u64..100) {
            let mut tracker = ProgressTracker::new(4);
            restore(&mut tracker, next_idx, &cs).unwrap();
            prop_assert_eq!(tracker.conf().to_conf_state(), normalized(&cs));
            let members = cs.voters.len()
                + cs.learners.len()
                + cs.voters_outgoing.iter().filter(|id| !cs.voters.contains(id)).count();
            prop_assert_eq!(tracker.iter().len(), members);
            for (_, pr) in tracker.iter() {
                prop_assert_eq!(pr.next_idx, next_idx);
            }
        }
    }
}
