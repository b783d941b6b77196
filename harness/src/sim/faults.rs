//! The faults a step may inject: network cuts, crashes, compaction,
//! snapshot requests, slow storage, membership changes, leader transfer.

use raft::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
};
use raft::StateRole;
use rand::Rng;

use super::network::roll;
use super::node::SimNode;
use super::Sim;

impl Sim {
    /// Draws each enabled fault once.
    pub(super) fn inject_faults(&mut self) {
        let f = self.params.faults.clone();
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        let pick = |sim: &mut Sim| ids[sim.rng.gen_range(0..ids.len())];
        if roll(&mut self.rng, f.cut_link) {
            let (a, b) = (pick(self), pick(self));
            if a != b {
                let both = self.rng.gen_bool(0.5);
                self.network.cut(a, b, both);
                self.note(a, b, "cut link");
            }
        }
        if roll(&mut self.rng, f.isolate) {
            let a = match self.leader() {
                Some(leader) if roll(&mut self.rng, f.isolate_leader) => leader,
                _ => pick(self),
            };
            self.network.isolate(a, &ids);
            self.note(a, 0, "isolate");
        }
        if roll(&mut self.rng, f.partition) {
            let (side, other): (Vec<u64>, Vec<u64>) =
                ids.iter().partition(|_| self.rng.gen_bool(0.5));
            self.network.partition(&side, &other);
            self.note(side.len() as u64, other.len() as u64, "partition");
        }
        if roll(&mut self.rng, f.heal) {
            self.network.heal();
            self.note(0, 0, "heal");
        }
        if roll(&mut self.rng, f.crash) {
            let a = pick(self);
            if self.nodes[&a].is_up() {
                self.on_crash(a);
            }
        }
        if roll(&mut self.rng, f.compact) {
            let a = pick(self);
            self.nodes.get_mut(&a).expect("known").compact();
        }
        if roll(&mut self.rng, f.request_snapshot) {
            let a = pick(self);
            if let Some(raw) = self.nodes.get_mut(&a).and_then(|n| n.raw.as_mut()) {
                if raw.request_snapshot().is_ok() {
                    self.note(a, 0, "request snapshot");
                    if roll(&mut self.rng, f.request_snapshot_then_elect) {
                        self.transfer_leader_to(a);
                        self.request_across_election = Some((a, self.now + 20, 1));
                    }
                }
            }
        }
        self.advance_request_across_election();
        if roll(&mut self.rng, f.log_unavailable) {
            let a = pick(self);
            let on = self.rng.gen_bool(0.5);
            if let Some(raw) = self.nodes.get_mut(&a).and_then(|n| n.raw.as_mut()) {
                raw.store().mem.wl().trigger_log_unavailable(on);
            }
        }
        if roll(&mut self.rng, f.conf_change) {
            self.propose_conf_change();
        }
        if roll(&mut self.rng, f.transfer) {
            self.transfer_leader();
        }
    }

    /// A snapshot request carried across an election, stage by stage: the
    /// requester was handed leadership; while it leads, every other node
    /// compacts, so their snapshots fall between the request and what the
    /// requester commits next (an empty entry is proposed on it right
    /// after); some steps later it hands leadership on and
    /// is a follower again, whose old request (if kept) no snapshot of the
    /// new leader can satisfy.
    fn advance_request_across_election(&mut self) {
        let Some((requester, at, stage)) = self.request_across_election else {
            return;
        };
        if self.now < at {
            return;
        }
        self.request_across_election = None;
        let Some((leader, conf)) = self.leader_conf_state() else {
            return;
        };
        if leader != requester {
            return;
        }
        if stage == 1 {
            for (&id, node) in self.nodes.iter_mut() {
                if id != requester {
                    node.compact();
                }
            }
            self.note(requester, 0, "compact all but the leader");
            // An entry past those snapshots, committed before it steps down.
            if let Some(raw) = self.nodes.get_mut(&requester).and_then(|n| n.raw.as_mut()) {
                let _ = raw.propose(vec![], vec![]);
            }
            self.request_across_election = Some((requester, self.now + 30, 2));
            return;
        }
        let others: Vec<u64> = conf
            .voters
            .iter()
            .copied()
            .filter(|&id| id != requester)
            .collect();
        if !others.is_empty() {
            let target = others[self.rng.gen_range(0..others.len())];
            self.transfer_leader_to(target);
        }
    }

    fn note(&mut self, a: u64, b: u64, what: &'static str) {
        self.trace.event(&[self.now, a, b, what.len() as u64], || {
            format!("{:>6} fault: {what} {a} {b}", self.now)
        });
    }

    /// The running leader, if any (the one with the highest term).
    pub(super) fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter_map(|(&id, n)| n.raw.as_ref().map(|raw| (id, &raw.raft)))
            .filter(|(_, r)| r.state == StateRole::Leader)
            .max_by_key(|(_, r)| r.term)
            .map(|(id, _)| id)
    }

    /// The running leader and the configuration it holds.
    pub(super) fn leader_conf_state(&self) -> Option<(u64, ConfState)> {
        let leader = self.leader()?;
        let raw = self.nodes[&leader].raw.as_ref().expect("up");
        Some((leader, raw.raft.prs().conf().to_conf_state()))
    }

    fn transfer_leader(&mut self) {
        let Some((_, conf)) = self.leader_conf_state() else {
            return;
        };
        let target = conf.voters[self.rng.gen_range(0..conf.voters.len())];
        self.transfer_leader_to(target);
    }

    /// Asks the running leader, if any, to hand leadership to `target`.
    fn transfer_leader_to(&mut self, target: u64) {
        let Some(leader) = self.leader() else {
            return;
        };
        let raw = self
            .nodes
            .get_mut(&leader)
            .and_then(|n| n.raw.as_mut())
            .expect("up");
        raw.transfer_leader(target);
        self.note(leader, target, "transfer leader");
    }

    /// Proposes a membership change on the leader: v1 single changes, or v2
    /// (possibly joint, with automatic or explicit leave); leaves a joint
    /// configuration that waits for an explicit leave.
    pub(super) fn propose_conf_change(&mut self) {
        let Some((leader, conf)) = self.leader_conf_state() else {
            return;
        };
        let result = if !conf.voters_outgoing.is_empty() {
            if conf.auto_leave {
                return;
            }
            let raw = self
                .nodes
                .get_mut(&leader)
                .and_then(|n| n.raw.as_mut())
                .expect("up");
            raw.propose_conf_change(vec![], ConfChangeV2::default())
        } else {
            let Some(changes) = self.draw_changes(&conf) else {
                return;
            };
            for change in &changes {
                self.prepare_added_node(change, &conf);
            }
            let ids: Vec<u64> = changes.iter().map(|c| c.node_id).collect();
            let raw = self
                .nodes
                .get_mut(&leader)
                .and_then(|n| n.raw.as_mut())
                .expect("up");
            let result =
                if !self.params.conf_change_v2 || (changes.len() == 1 && self.rng.gen_bool(0.5)) {
                    let cc = ConfChange {
                        change_type: changes[0].change_type,
                        node_id: changes[0].node_id,
                        ..Default::default()
                    };
                    raw.propose_conf_change(vec![], cc)
                } else {
                    let transition = [
                        ConfChangeTransition::Auto,
                        ConfChangeTransition::Implicit,
                        ConfChangeTransition::Explicit,
                    ][self.rng.gen_range(0..3)];
                    let cc = ConfChangeV2 {
                        transition: transition.into(),
                        changes,
                        ..Default::default()
                    };
                    raw.propose_conf_change(vec![], cc)
                };
            if result.is_ok() {
                self.note_readded(leader, &ids);
            }
            result
        };
        let ok = u64::from(result.is_ok());
        self.trace.event(&[self.now, leader, ok, 0xCC], || {
            format!(
                "{:>6} node {leader} proposes a conf change: {result:?}",
                self.now
            )
        });
    }

    /// One or two changes to `conf`, keeping at least three voters.
    fn draw_changes(&mut self, conf: &ConfState) -> Option<Vec<ConfChangeSingle>> {
        let members: Vec<u64> = conf.voters.iter().chain(&conf.learners).copied().collect();
        let outsiders: Vec<u64> = self
            .params
            .all_ids()
            .into_iter()
            .filter(|id| !members.contains(id))
            .filter(|id| !self.nodes.contains_key(id) || self.rng.gen_bool(0.1))
            .collect();
        let count = if self.params.conf_change_v2 {
            self.rng.gen_range(1..=2)
        } else {
            1
        };
        let mut changes = Vec::new();
        let mut voters = conf.voters.len();
        for _ in 0..count {
            let change = match self.rng.gen_range(0..4) {
                0 if !outsiders.is_empty() => (
                    ConfChangeType::AddNode,
                    outsiders[self.rng.gen_range(0..outsiders.len())],
                ),
                1 if !outsiders.is_empty() => (
                    ConfChangeType::AddLearnerNode,
                    outsiders[self.rng.gen_range(0..outsiders.len())],
                ),
                2 if !conf.learners.is_empty() => (
                    ConfChangeType::AddNode,
                    conf.learners[self.rng.gen_range(0..conf.learners.len())],
                ),
                3 if voters > 3 => {
                    voters -= 1;
                    let i = self.rng.gen_range(0..conf.voters.len());
                    (ConfChangeType::RemoveNode, conf.voters[i])
                }
                _ => continue,
            };
            if changes
                .iter()
                .any(|c: &ConfChangeSingle| c.node_id == change.1)
            {
                continue;
            }
            changes.push(ConfChangeSingle {
                change_type: change.0.into(),
                node_id: change.1,
                ..Default::default()
            });
        }
        (!changes.is_empty()).then_some(changes)
    }

    /// Makes sure a node added by `change` exists: a new id starts empty; a
    /// removed id re-added is wiped into an empty node.
    fn prepare_added_node(&mut self, change: &ConfChangeSingle, conf: &ConfState) {
        let id = change.node_id;
        let adding = change.get_change_type() != ConfChangeType::RemoveNode;
        let member = conf.voters.contains(&id) || conf.learners.contains(&id);
        if !adding || member {
            return;
        }
        let empty = self.empty_durable();
        match self.nodes.get_mut(&id) {
            Some(node) => {
                // It starts once a member applied the re-add.
                node.wipe(empty);
                self.note(id, 0, "wipe re-added node");
            }
            None => {
                self.nodes.insert(id, SimNode::new(id, empty));
                self.start_node(id);
            }
        }
    }

    /// Records where the proposal that re-adds wiped nodes landed in the
    /// leader's log.
    fn note_readded(&mut self, leader: u64, ids: &[u64]) {
        let Some(index) = self.nodes[&leader]
            .raw
            .as_ref()
            .map(|raw| raw.raft.raft_log.last_index())
        else {
            return;
        };
        for id in ids {
            if let Some(node) = self.nodes.get_mut(id) {
                if node.readded_at == Some(u64::MAX) {
                    node.readded_at = Some(index);
                }
            }
        }
    }

    /// Starts each wiped node whose re-add a member has applied, from that
    /// member's state (what a correct application does when it re-adds an
    /// id; see [`SimNode::seed_from`]).
    pub(super) fn seed_readded_nodes(&mut self) {
        let waiting: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.readded_at.is_some_and(|at| at != u64::MAX))
            .map(|(&id, _)| id)
            .collect();
        for id in waiting {
            let Some(member) = self
                .nodes
                .iter()
                .filter(|(&other, _)| other != id)
                .max_by_key(|(_, n)| n.durable.machine.applied)
                .map(|(&other, _)| other)
            else {
                continue;
            };
            let member = self.nodes.remove(&member).expect("known");
            let seeded = self.nodes.get_mut(&id).expect("known").seed_from(&member);
            self.nodes.insert(member.id, member);
            if seeded {
                self.note(id, 0, "start re-added node from a member's snapshot");
                self.start_node(id);
            }
        }
    }
}
