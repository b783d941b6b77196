//! Membership changes in the core (thesis chapter 4).

use slog::info;

use crate::confchange::Changer;
use crate::eraftpb::{ConfChangeV2, ConfState};
use crate::errors::Result;
use crate::storage::Storage;
use crate::INVALID_ID;

use super::{Raft, StateRole};

impl<T: Storage> Raft<T> {
    /// Whether a configuration change is in the log and not yet applied.
    pub fn has_pending_conf(&self) -> bool {
        self.pending_conf_index > self.raft_log.applied
    }

    /// Applies a committed configuration change: a simple change of at most
    /// one voter, entering a joint configuration, or leaving one. An
    /// invalid change returns `ConfChangeError` and changes nothing.
    pub fn apply_conf_change(&mut self, cc: &ConfChangeV2) -> Result<ConfState> {
        let (cfg, changes) = {
            let changer = Changer::new(&self.prs);
            if cc.leave_joint() {
                changer.leave_joint()?
            } else if let Some(auto_leave) = cc.enter_joint() {
                changer.enter_joint(auto_leave, &cc.changes)?
            } else {
                changer.simple(&cc.changes)?
            }
        };
        let next_idx = self.raft_log.last_index() + 1;
        self.prs.apply_conf(cfg, changes, next_idx);
        Ok(self.post_conf_change())
    }

    /// Acts on a new configuration: recompute whether this node may
    /// campaign, step down if it led and was removed or demoted, and on a
    /// leader recompute the commit index, answer the reads the new quorum
    /// confirms and abort a transfer to a removed node. Returns the new
    /// configuration.
    pub fn post_conf_change(&mut self) -> ConfState {
        self.act_on_conf();
        self.prs.conf().to_conf_state()
    }

    /// [`post_conf_change`](Self::post_conf_change) without building the
    /// `ConfState`, for callers that do not need it.
    pub(super) fn act_on_conf(&mut self) {
        info!(self.logger, "switched to configuration"; "config" => ?self.prs.conf());
        let is_voter = self.prs.conf().voters().contains(self.id);
        self.promotable = is_voter;

        if self.state != StateRole::Leader || self.prs.conf().voters().incoming().is_empty() {
            return;
        }
        if !is_voter {
            // A leader that removed or demoted itself steps down, or it
            // would keep heartbeating a group it no longer belongs to and
            // stall it (KNOWN-BUGS 17).
            info!(self.logger, "leader is no longer a voter; stepping down");
            let term = self.term;
            self.become_follower(term, INVALID_ID);
            return;
        }

        // The quorum changed, so the commit index may move; new peers need a
        // probe and everyone the entries they lack.
        self.maybe_commit();
        self.bcast_append();
        // The acknowledgements of pending reads may make a quorum now.
        self.recheck_pending_reads();
        if let Some(transferee) = self.lead_transferee {
            if !self.prs.conf().voters().contains(transferee) {
                self.abort_leader_transfer();
            }
        }
    }
}
