//! Validating membership changes and computing their result.

use crate::eraftpb::{ConfChangeSingle, ConfChangeType};
use crate::tracker::{Configuration, ProgressTracker};
use crate::{Error, HashSet, MapChange, MapChangeType, Result};

/// Computes the configuration that results from membership changes, without
/// touching the tracker: the caller installs the result with
/// [`ProgressTracker::apply_conf`] once the change is applied.
///
/// Every method works on a copy of the tracker's configuration, so an
/// invalid change returns [`Error::ConfChangeError`] and leaves nothing
/// half-changed. Changes naming node 0 are skipped (an application may blank
/// out the node id of a change it decided not to apply).
pub struct Changer<'a> {
    tracker: &'a ProgressTracker,
}

/// The configuration being built, with the ids that have a progress and the
/// progress changes made so far, in order.
struct Staged {
    cfg: Configuration,
    tracked: HashSet<u64>,
    changes: MapChange,
}

fn conf_change_error(msg: impl Into<String>) -> Error {
    Error::ConfChangeError(msg.into())
}

impl<'a> Changer<'a> {
    /// Creates a changer for the tracker's current configuration.
    pub fn new(tracker: &'a ProgressTracker) -> Changer<'a> {
        Changer { tracker }
    }

    /// Enters a joint configuration (thesis §4.3): the current voters become
    /// the outgoing half, and `ccs` are applied to the incoming half. With
    /// `auto_leave` the leader proposes leaving the joint configuration as
    /// soon as entering it is committed.
    ///
    /// A voter that becomes a learner stays a voter of the outgoing half and
    /// is listed in `learners_next` until the joint configuration is left.
    pub fn enter_joint(
        &self,
        auto_leave: bool,
        ccs: &[ConfChangeSingle],
    ) -> Result<(Configuration, MapChange)> {
        let mut staged = self.check_and_copy()?;
        if staged.cfg.voters.is_joint() {
            return Err(conf_change_error("config is already joint"));
        }
        if staged.cfg.voters.incoming.is_empty() {
            // Entering a joint state with an empty outgoing half would be
            // indistinguishable from not being joint.
            return Err(conf_change_error("can't make a zero-voter config joint"));
        }
        staged.cfg.voters.outgoing = staged.cfg.voters.incoming.clone();
        staged.apply(ccs)?;
        staged.cfg.auto_leave = auto_leave;
        staged.check_and_return()
    }

    /// Leaves the joint configuration: the outgoing half is dropped, peers
    /// in `learners_next` become learners, and outgoing voters that are in
    /// neither the incoming half nor the learners lose their progress.
    pub fn leave_joint(&self) -> Result<(Configuration, MapChange)> {
        let mut staged = self.check_and_copy()?;
        if !staged.cfg.voters.is_joint() {
            return Err(conf_change_error("can't leave a non-joint config"));
        }
        let learners_next = std::mem::take(&mut staged.cfg.learners_next);
        staged.cfg.learners.extend(learners_next);
        let outgoing = std::mem::take(&mut staged.cfg.voters.outgoing);
        let mut leaving: Vec<u64> = outgoing
            .iter()
            .copied()
            .filter(|id| {
                !staged.cfg.voters.incoming.contains(id) && !staged.cfg.learners.contains(id)
            })
            .collect();
        leaving.sort_unstable();
        for id in leaving {
            staged.untrack(id);
        }
        staged.cfg.auto_leave = false;
        staged.check_and_return()
    }

    /// Applies `ccs` directly, without a joint configuration. Allowed only
    /// when not joint and when at most one voter is added or removed, so
    /// that any majority of the old voters overlaps any majority of the new
    /// ones (§6, thesis §4.1).
    pub fn simple(&self, ccs: &[ConfChangeSingle]) -> Result<(Configuration, MapChange)> {
        let mut staged = self.check_and_copy()?;
        if staged.cfg.voters.is_joint() {
            return Err(conf_change_error(
                "can't apply simple config change in joint config",
            ));
        }
        staged.apply(ccs)?;
        let before = &self.tracker.conf().voters.incoming;
        let after = &staged.cfg.voters.incoming;
        let changed = before.symmetric_difference(after).count();
        if changed > 1 {
            return Err(conf_change_error(
                "more than one voter changed without entering joint config",
            ));
        }
        staged.check_and_return()
    }

    /// Copies the tracker's configuration after checking that it is
    /// consistent, so the changes are computed on a copy.
    fn check_and_copy(&self) -> Result<Staged> {
        let staged = Staged {
            cfg: self.tracker.conf().clone(),
            tracked: self.tracker.iter().map(|(id, _)| *id).collect(),
            changes: MapChange::new(),
        };
        staged.check_invariants()?;
        Ok(staged)
    }
}

impl Staged {
    /// Applies the changes one by one to the incoming half and the learners.
    fn apply(&mut self, ccs: &[ConfChangeSingle]) -> Result<()> {
        for cc in ccs {
            if cc.node_id == 0 {
                continue;
            }
            // Read the raw value: `change_type()` maps unknown numbers to
            // AddNode, and a change decoded from bytes may carry any number.
            match cc.change_type.enum_value() {
                Ok(ConfChangeType::AddNode) => self.make_voter(cc.node_id),
                Ok(ConfChangeType::AddLearnerNode) => self.make_learner(cc.node_id),
                Ok(ConfChangeType::RemoveNode) => self.remove(cc.node_id),
                Err(n) => return Err(conf_change_error(format!("unexpected conf type {n}"))),
            }
        }
        if self.cfg.voters.incoming.is_empty() {
            return Err(conf_change_error("removed all voters"));
        }
        Ok(())
    }

    fn track(&mut self, id: u64) {
        self.tracked.insert(id);
        self.changes.push((id, MapChangeType::Add));
    }

    fn untrack(&mut self, id: u64) {
        self.tracked.remove(&id);
        self.changes.push((id, MapChangeType::Remove));
    }

    /// Makes `id` a voter of the incoming half, keeping its progress if it
    /// was a learner.
    fn make_voter(&mut self, id: u64) {
        if !self.tracked.contains(&id) {
            self.track(id);
        }
        self.cfg.learners.remove(&id);
        self.cfg.learners_next.remove(&id);
        self.cfg.voters.incoming.insert(id);
    }

    /// Makes `id` a learner, keeping its progress if it was a voter. A
    /// voter of the outgoing half cannot be a learner yet (a peer is never
    /// both), so it waits in `learners_next`.
    fn make_learner(&mut self, id: u64) {
        if !self.tracked.contains(&id) {
            self.track(id);
        } else if self.cfg.learners.contains(&id) {
            return;
        }
        self.cfg.voters.incoming.remove(&id);
        self.cfg.learners_next.remove(&id);
        if self.cfg.voters.outgoing.contains(&id) {
            self.cfg.learners_next.insert(id);
        } else {
            self.cfg.learners.insert(id);
        }
    }

    /// Removes `id` from the incoming half and the learners. Its progress
    /// stays while it is a voter of the outgoing half.
    fn remove(&mut self, id: u64) {
        if !self.tracked.contains(&id) {
            return;
        }
        self.cfg.voters.incoming.remove(&id);
        self.cfg.learners.remove(&id);
        self.cfg.learners_next.remove(&id);
        if !self.cfg.voters.outgoing.contains(&id) {
            self.untrack(id);
        }
    }

    /// Checks the configuration's invariants: every peer of the
    /// configuration has a progress and no one else does, learners are not
    /// voters, `learners_next` holds outgoing voters only, and a non-joint
    /// configuration has no `learners_next` and no auto-leave.
    fn check_invariants(&self) -> Result<()> {
        let cfg = &self.cfg;
        let voters = cfg.voters.ids();
        let members = voters
            .iter()
            .chain(cfg.learners.iter().copied())
            .chain(cfg.learners_next.iter().copied());
        for id in members {
            if !self.tracked.contains(&id) {
                return Err(conf_change_error(format!("no progress for {id}")));
            }
        }
        for id in &cfg.learners_next {
            if !cfg.voters.outgoing.contains(id) {
                return Err(conf_change_error(format!(
                    "{id} is in learners_next, but not outgoing voters"
                )));
            }
        }
        for id in &cfg.learners {
            if cfg.voters.incoming.contains(id) {
                return Err(conf_change_error(format!(
                    "{id} is in learners and incoming voters"
                )));
            }
            if cfg.voters.outgoing.contains(id) {
                return Err(conf_change_error(format!(
                    "{id} is in learners and outgoing voters"
                )));
            }
        }
        for id in &self.tracked {
            if !cfg.voters.contains(*id) && !cfg.learners.contains(id) {
                return Err(conf_change_error(format!(
                    "progress for {id}, which is neither voter nor learner"
                )));
            }
        }
        // (learners_next is empty when not joint: its ids are outgoing
        // voters, checked above.)
        if !cfg.voters.is_joint() && cfg.auto_leave {
            return Err(conf_change_error("auto_leave must be false when not joint"));
        }
        Ok(())
    }

    fn check_and_return(self) -> Result<(Configuration, MapChange)> {
        self.check_invariants()?;
        Ok((self.cfg, self.changes))
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::confchange::restore;
    use crate::eraftpb::ConfState;
    use crate::util::id_set;
    use harness::datadriven::{run_dir, TestCase};

    /// The scenario files beside this module.
    fn testdata_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/confchange/testdata")
    }

    fn cc(node_id: u64, change_type: ConfChangeType) -> ConfChangeSingle {
        let mut cc = ConfChangeSingle {
            node_id,
            ..Default::default()
        };
        cc.set_change_type(change_type);
        cc
    }

    /// Parses changes written `v1 l2 r3 u4` (voter, learner, remove,
    /// update = voter).
    fn parse_changes(case: &TestCase) -> Vec<ConfChangeSingle> {
        case.args
            .iter()
            .filter(|a| a.vals.is_empty())
            .map(|a| {
                let (kind, id) = a.key.split_at(1);
                let id: u64 = id
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: bad change {:?}", case.pos, a.key));
                let change_type = match kind {
                    "v" | "u" => ConfChangeType::AddNode,
                    "l" => ConfChangeType::AddLearnerNode,
                    "r" => ConfChangeType::RemoveNode,
                    _ => panic!("{}: bad change {:?}", case.pos, a.key),
                };
                cc(id, change_type)
            })
            .collect()
    }

    fn bool_arg(case: &TestCase, key: &str) -> bool {
        match case.arg(key) {
            None => false,
            Some([v]) if v == "true" => true,
            Some([v]) if v == "false" => false,
            Some(v) => panic!("{}: bad {key}={v:?}", case.pos),
        }
    }

    /// The configuration and every progress, ids ascending.
    fn describe(tracker: &ProgressTracker) -> String {
        let conf = tracker.conf();
        let mut out = format!("{conf}\n");
        let mut ids: Vec<u64> = tracker.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        for id in ids {
            let pr = tracker.get(id).unwrap();
            let _ = write!(
                out,
                "{id}: {} match={} next={}",
                pr.state, pr.matched, pr.next_idx
            );
            if conf.learners().contains(&id) {
                out.push_str(" learner");
            }
            if conf.learners_next().contains(&id) {
                out.push_str(" learner_next");
            }
            out.push('\n');
        }
        out
    }

    /// Runs the confchange scenarios. Each command applies to the tracker
    /// built by the previous ones; peers it adds start at `next` = the
    /// command's number in the file, so a fresh progress is visible.
    #[test]
    fn confchange_scenarios() {
        run_dir(&testdata_dir(), || {
            let mut tracker = ProgressTracker::new(10);
            let mut command_number = 0;
            move |case: &TestCase| {
                command_number += 1;
                let result = match case.cmd.as_str() {
                    "simple" => Changer::new(&tracker).simple(&parse_changes(case)),
                    "enter-joint" => Changer::new(&tracker)
                        .enter_joint(bool_arg(case, "autoleave"), &parse_changes(case)),
                    "leave-joint" => Changer::new(&tracker).leave_joint(),
                    "restore" => {
                        let cs = ConfState {
                            voters: case.ids("voters"),
                            learners: case.ids("learners"),
                            voters_outgoing: case.ids("outgoing"),
                            learners_next: case.ids("learners_next"),
                            auto_leave: bool_arg(case, "autoleave"),
                            ..Default::default()
                        };
                        return match restore(&mut tracker, command_number, &cs) {
                            Ok(()) => describe(&tracker),
                            Err(e) => e.to_string(),
                        };
                    }
                    other => panic!("{}: unknown command {other}", case.pos),
                };
                match result {
                    Ok((cfg, changes)) => {
                        tracker.apply_conf(cfg, changes, command_number);
                        describe(&tracker)
                    }
                    Err(e) => e.to_string(),
                }
            }
        });
    }

    fn tracker_with(voters: &[u64], learners: &[u64]) -> ProgressTracker {
        let mut tracker = ProgressTracker::new(10);
        let cs = ConfState {
            voters: voters.to_vec(),
            learners: learners.to_vec(),
            ..Default::default()
        };
        restore(&mut tracker, 1, &cs).unwrap();
        tracker
    }

    #[test]
    fn unknown_change_type_is_an_error_not_an_add() {
        let tracker = tracker_with(&[1], &[]);
        let mut bad = cc(2, ConfChangeType::AddNode);
        bad.change_type = protobuf::EnumOrUnknown::from_i32(9);
        let err = Changer::new(&tracker).simple(&[bad]).unwrap_err();
        assert_eq!(err, Error::ConfChangeError("unexpected conf type 9".into()));
    }

    #[test]
    fn changes_for_node_zero_are_skipped() {
        let tracker = tracker_with(&[1], &[]);
        let (cfg, changes) = Changer::new(&tracker)
            .simple(&[
                cc(0, ConfChangeType::AddNode),
                cc(2, ConfChangeType::AddNode),
            ])
            .unwrap();
        assert_eq!(cfg.to_string(), "voters=(1 2)");
        assert_eq!(changes, vec![(2, MapChangeType::Add)]);
    }

    #[test]
    fn failed_change_leaves_the_tracker_untouched() {
        let tracker = tracker_with(&[1, 2], &[3]);
        let before = tracker.conf().clone();
        let err = Changer::new(&tracker)
            .simple(&[
                cc(4, ConfChangeType::AddNode),
                cc(5, ConfChangeType::AddNode),
            ])
            .unwrap_err();
        assert_eq!(
            err,
            Error::ConfChangeError(
                "more than one voter changed without entering joint config".into()
            )
        );
        assert_eq!(tracker.conf(), &before);
        assert_eq!(tracker.iter().len(), 3);
    }

    #[test]
    fn remove_then_add_in_one_change_gives_a_fresh_progress() {
        // tikv/raft-rs#571, etcd-io/raft#349: a re-added peer must not inherit the old
        // incarnation's progress.
        let mut tracker = tracker_with(&[1, 2, 3], &[]);
        tracker.get_mut(2).unwrap().matched = 9;
        tracker.get_mut(2).unwrap().next_idx = 10;
        let (cfg, changes) = Changer::new(&tracker)
            .enter_joint(
                false,
                &[
                    cc(2, ConfChangeType::RemoveNode),
                    cc(2, ConfChangeType::AddNode),
                ],
            )
            .unwrap();
        // 2 is an outgoing voter, so removing it from the incoming half
        // keeps its progress; re-adding keeps it too.
        assert!(changes.is_empty());
        tracker.apply_conf(cfg, changes, 20);
        let (cfg, changes) = Changer::new(&tracker).leave_joint().unwrap();
        tracker.apply_conf(cfg, changes, 20);

        let (cfg, changes) = Changer::new(&tracker)
            .simple(&[
                cc(2, ConfChangeType::RemoveNode),
                cc(2, ConfChangeType::AddNode),
            ])
            .unwrap();
        assert_eq!(
            changes,
            vec![(2, MapChangeType::Remove), (2, MapChangeType::Add)]
        );
        tracker.apply_conf(cfg, changes, 20);
        let pr = tracker.get(2).unwrap();
        assert_eq!((pr.matched, pr.next_idx), (0, 20));
        assert!(pr.recent_active);
    }

    #[test]
    fn inconsistent_configurations_are_refused() {
        let staged =
            |voters: &[u64], outgoing: &[u64], learners: &[u64], next: &[u64], tracked: &[u64]| {
                Staged {
                    cfg: Configuration {
                        voters: crate::JointConfig::new_joint(
                            id_set(voters.iter().copied()),
                            id_set(outgoing.iter().copied()),
                        ),
                        learners: id_set(learners.iter().copied()),
                        learners_next: id_set(next.iter().copied()),
                        auto_leave: false,
                    },
                    tracked: id_set(tracked.iter().copied()),
                    changes: vec![],
                }
            };
        let err = |s: Staged| match s.check_invariants() {
            Err(Error::ConfChangeError(msg)) => msg,
            other => panic!("expected an error, got {other:?}"),
        };
        assert_eq!(
            err(staged(&[1], &[], &[1], &[], &[1])),
            "1 is in learners and incoming voters"
        );
        assert_eq!(
            err(staged(&[1], &[2], &[2], &[], &[1, 2])),
            "2 is in learners and outgoing voters"
        );
        assert_eq!(err(staged(&[1], &[], &[], &[], &[])), "no progress for 1");
        assert_eq!(
            err(staged(&[1], &[], &[], &[], &[1, 2])),
            "progress for 2, which is neither voter nor learner"
        );
        assert_eq!(
            err(staged(&[1], &[2], &[], &[3], &[1, 2, 3])),
            "3 is in learners_next, but not outgoing voters"
        );
        let mut s = staged(&[1], &[], &[], &[], &[1]);
        s.cfg.auto_leave = true;
        assert_eq!(err(s), "auto_leave must be false when not joint");
        assert!(staged(&[1], &[1, 2], &[3], &[2], &[1, 2, 3])
            .check_invariants()
            .is_ok());
    }
}
