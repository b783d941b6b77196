//! The liveness phase, after the faults: heal everything, stop the nodes
//! outside the final configuration, restart every member, and require that a
//! leader commits a fresh proposal and that every member applies it, within
//! a bound on steps without progress (a long backlog may take many steps,
//! but each must move something forward).

use super::kv::Command;
use super::node::SimNode;
use super::Sim;

/// Steps without any node applying anything, or a leader changing, before
/// the phase fails.
const STALL_STEPS: u64 = 600;
/// Steps between two attempts at the fresh proposal.
const RETRY_STEPS: u64 = 60;
/// The operation id of the fresh proposal.
pub const FRESH_OP_ID: u64 = u64::MAX;

impl Sim {
    /// Runs the liveness phase; `Err` describes what did not happen.
    pub(super) fn run_liveness(&mut self) -> Result<(), String> {
        self.faults_on = false;
        self.network.heal();
        for node in self.nodes.values_mut() {
            if let Some(raw) = node.raw.as_mut() {
                raw.store().mem.wl().trigger_log_unavailable(false);
            }
        }
        let members = self.final_members();
        self.start_members(&members);
        self.await_fresh_commit(&members)
    }

    /// Runs every member (restarting crashed ones, creating missing ones)
    /// and stops every other node, as an operator shuts removed nodes down.
    fn start_members(&mut self, members: &[u64]) {
        self.seed_readded_nodes();
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            let node = self.nodes.get_mut(&id).expect("known");
            if !members.contains(&id) {
                node.crash();
                node.restart_at = None;
            } else if !node.is_up() {
                self.start_node(id);
            }
        }
        let empty = self.empty_durable();
        for &id in members {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.nodes.entry(id) {
                slot.insert(SimNode::new(id, empty.clone()));
                self.start_node(id);
            }
        }
    }

    fn await_fresh_commit(&mut self, members: &[u64]) -> Result<(), String> {
        let start = self.now;
        let mut last_progress = (self.now, self.progress_mark(members));
        let mut fresh_index = None;
        loop {
            if self.now - start >= self.options.steps.max(3_000) * 4 {
                return Err(format!(
                    "liveness: no completion after {} steps",
                    self.now - start
                ));
            }
            if fresh_index.is_none() && (self.now - start).is_multiple_of(RETRY_STEPS) {
                self.propose_fresh();
            }
            if (self.now - start) % RETRY_STEPS == RETRY_STEPS / 2 {
                // A joint configuration waiting for an explicit leave.
                self.propose_conf_change_leave_only();
            }
            self.step();
            if !self.checker.violations.is_empty() {
                return Ok(());
            }
            fresh_index = fresh_index.or_else(|| self.fresh_applied_index());
            // A change still in flight when the faults stopped may land now.
            let members = self.final_members();
            self.start_members(&members);
            if let Some(index) = fresh_index {
                let behind = members
                    .iter()
                    .any(|id| self.nodes[id].durable.machine.applied < index);
                if !behind {
                    return Ok(());
                }
            }
            let mark = self.progress_mark(&members);
            if mark != last_progress.1 {
                last_progress = (self.now, mark);
            } else if self.now - last_progress.0 > STALL_STEPS {
                return Err(format!(
                    "liveness: no progress for {STALL_STEPS} steps after healing \
                     (members {members:?}, fresh proposal applied at {fresh_index:?})"
                ));
            }
        }
    }

    /// The members of the configuration of the node that applied most.
    fn final_members(&self) -> Vec<u64> {
        let conf = self
            .nodes
            .values()
            .max_by_key(|n| n.durable.machine.applied)
            .map(|n| n.durable.machine.conf_state.clone())
            .unwrap_or_default();
        let mut members: Vec<u64> = conf
            .voters
            .iter()
            .chain(&conf.learners)
            .chain(&conf.voters_outgoing)
            .chain(&conf.learners_next)
            .copied()
            .collect();
        members.sort_unstable();
        members.dedup();
        members
    }

    /// What counts as progress: every member's applied index and term.
    fn progress_mark(&self, members: &[u64]) -> Vec<(u64, u64)> {
        members
            .iter()
            .map(|id| {
                let node = &self.nodes[id];
                let term = node.raw.as_ref().map_or(0, |raw| raw.raft.term);
                (node.durable.machine.applied, term)
            })
            .collect()
    }

    fn propose_fresh(&mut self) {
        let Some(leader) = self.leader() else {
            return;
        };
        let command = Command {
            op_id: FRESH_OP_ID,
            key: b"fresh".to_vec(),
            value: Some(b"fresh".to_vec()),
        };
        let raw = self
            .nodes
            .get_mut(&leader)
            .and_then(|n| n.raw.as_mut())
            .expect("up");
        let _ = raw.propose(vec![], command.encode());
    }

    fn propose_conf_change_leave_only(&mut self) {
        let Some((_, conf)) = self.leader_conf_state() else {
            return;
        };
        if !conf.voters_outgoing.is_empty() && !conf.auto_leave {
            self.propose_conf_change();
        }
    }

    /// The index at which some node applied the fresh proposal.
    fn fresh_applied_index(&self) -> Option<u64> {
        self.nodes
            .values()
            .find(|n| n.durable.machine.applied_ops.contains(&FRESH_OP_ID))
            .map(|n| n.durable.machine.applied)
    }
}
