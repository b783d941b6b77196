//! Quorum math: which index a set of voters has committed and who won a
//! vote, for a single majority and for the joint configurations used during
//! membership changes (thesis §4.3).

pub mod joint;
pub mod majority;

use std::fmt;

use crate::HashMap;

/// The outcome of a vote, given the votes cast so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    /// Not decided yet: the votes still missing could go either way.
    Pending,
    /// A quorum can no longer be reached, whatever the missing votes.
    Lost,
    /// A quorum voted yes.
    Won,
}

/// A log index acknowledged by a voter, with the commit group the voter
/// belongs to (0: no group; see [`majority::Configuration::committed_index`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    /// The highest index the voter is known to hold.
    pub index: u64,
    /// The commit group of the voter; 0 means none.
    pub group_id: u64,
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.index == u64::MAX {
            write!(f, "[{}]∞", self.group_id)
        } else {
            write!(f, "[{}]{}", self.group_id, self.index)
        }
    }
}

/// Tells which index each voter has acknowledged.
pub trait AckedIndexer {
    /// The index acknowledged by `voter_id`, or `None` when nothing is known
    /// about it (counted as index 0, no group).
    fn acked_index(&self, voter_id: u64) -> Option<Index>;
}

/// An [`AckedIndexer`] backed by a map, handy in tests and tools.
pub(crate) type AckIndexer = HashMap<u64, Index>;

impl AckedIndexer for AckIndexer {
    fn acked_index(&self, voter_id: u64) -> Option<Index> {
        self.get(&voter_id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::id_set;
    use crate::JointConfig;
    use harness::datadriven::{run_dir, TestCase};

    /// The scenario files beside this module.
    fn testdata_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/quorum/testdata")
    }

    /// The voters named by `cfg=(..)` (incoming) and `cfgj=(..)`
    /// (outgoing), and the list of distinct ids in the order written: cfg
    /// first, then the cfgj ids not in cfg. Per-voter arguments (`idx`,
    /// `votes`, `groups`) follow that order.
    fn config(case: &TestCase) -> (JointConfig, Vec<u64>) {
        let incoming = case.ids("cfg");
        let outgoing = case.ids("cfgj");
        let mut order = incoming.clone();
        for id in &outgoing {
            if !order.contains(id) {
                order.push(*id);
            }
        }
        let cfg = JointConfig::new_joint(id_set(incoming), id_set(outgoing));
        (cfg, order)
    }

    /// Per-voter values: `_` is `None`.
    fn per_voter<'a>(case: &'a TestCase, key: &str, order: &[u64]) -> Vec<Option<&'a str>> {
        let vals = case.arg(key).unwrap_or_default();
        assert_eq!(
            vals.len(),
            order.len(),
            "{}: {key} needs one value per voter {order:?}",
            case.pos
        );
        vals.iter()
            .map(|v| Some(v.as_str()).filter(|v| *v != "_"))
            .collect()
    }

    fn committed(case: &TestCase) -> String {
        let (cfg, order) = config(case);
        let idx = per_voter(case, "idx", &order);
        let groups = case
            .arg("groups")
            .map(|_| per_voter(case, "groups", &order));
        let number = |v: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| panic!("{}: bad number {v}", case.pos))
        };
        let mut acked = AckIndexer::default();
        for (i, id) in order.iter().enumerate() {
            if let Some(index) = idx[i] {
                let group_id = groups.as_ref().and_then(|g| g[i]).map(number).unwrap_or(0);
                acked.insert(
                    *id,
                    Index {
                        index: number(index),
                        group_id,
                    },
                );
            }
        }
        let (index, group_commit) = cfg.committed_index(groups.is_some(), &acked);
        let index = if index == u64::MAX {
            "∞".to_owned()
        } else {
            index.to_string()
        };
        format!("{index} group_commit={group_commit}")
    }

    fn vote(case: &TestCase) -> String {
        let (cfg, order) = config(case);
        let votes: Vec<Option<bool>> = per_voter(case, "votes", &order)
            .into_iter()
            .map(|v| match v {
                None => None,
                Some("y") => Some(true),
                Some("n") => Some(false),
                Some(other) => panic!("{}: bad vote {other}", case.pos),
            })
            .collect();
        let result = cfg.vote_result(|id| {
            let i = order.iter().position(|&o| o == id).unwrap();
            votes[i]
        });
        format!("{result:?}")
    }

    /// Runs the quorum scenarios: `committed cfg=(..) [cfgj=(..)]
    /// idx=(..) [groups=(..)]` (groups turn group commit on) and `vote
    /// cfg=(..) [cfgj=(..)] votes=(y n _)`.
    #[test]
    fn quorum_scenarios() {
        run_dir(&testdata_dir(), || {
            |case: &TestCase| match case.cmd.as_str() {
                "committed" => committed(case),
                "vote" => vote(case),
                other => panic!("{}: unknown command {other}", case.pos),
            }
        });
    }

    #[test]
    fn index_displays_group_and_infinity() {
        let i = Index {
            index: 5,
            group_id: 2,
        };
        assert_eq!(i.to_string(), "[2]5");
        let i = Index {
            index: u64::MAX,
            group_id: 0,
        };
        assert_eq!(i.to_string(), "[0]∞");
    }
}
