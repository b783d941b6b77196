//! The leader's step: proposals, responses from followers, heartbeats,
//! check quorum (thesis §6.2) and leader transfer (thesis §3.10).

use protobuf::Message as PbMessage;
use slog::{debug, info, warn};

use crate::eraftpb::{ConfChange, ConfChangeV2, Entry, EntryType, Message, MessageType};
use crate::errors::{Error, Result};
use crate::storage::Storage;
use crate::tracker::ProgressState;
use crate::INVALID_ID;
use raft_proto::ConfChangeI;

use super::{Raft, StateRole};

impl<T: Storage> Raft<T> {
    /// The tick of a leader: heartbeats every `heartbeat_tick`, and every
    /// election timeout a check-quorum round and the end of any leader
    /// transfer that has not completed.
    pub(crate) fn tick_heartbeat(&mut self) -> bool {
        self.ticks += 1;
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;

        let mut has_ready = false;
        if self.election_elapsed >= self.election_timeout as usize {
            self.election_elapsed = 0;
            if self.check_quorum {
                has_ready = true;
                let mut m = Message::new();
                m.set_msg_type(MessageType::MsgCheckQuorum);
                m.from = self.id;
                let _ = self.step(m);
            }
            if self.state == StateRole::Leader && self.lead_transferee.is_some() {
                self.abort_leader_transfer();
            }
        }

        if self.state != StateRole::Leader {
            return has_ready;
        }

        if self.heartbeat_elapsed >= self.heartbeat_timeout {
            self.heartbeat_elapsed = 0;
            has_ready = true;
            let mut m = Message::new();
            m.set_msg_type(MessageType::MsgBeat);
            m.from = self.id;
            let _ = self.step(m);
        }
        has_ready
    }

    pub(crate) fn step_leader(&mut self, m: &mut Message) -> Result<()> {
        // Messages that need no progress of the sender.
        match m.msg_type() {
            MessageType::MsgBeat => {
                self.bcast_heartbeat();
                return Ok(());
            }
            MessageType::MsgCheckQuorum => {
                if !self.prs.quorum_recently_active(self.id) {
                    warn!(
                        self.logger,
                        "stepped down to follower since quorum is not active"
                    );
                    let term = self.term;
                    self.become_follower(term, INVALID_ID);
                }
                return Ok(());
            }
            MessageType::MsgPropose => return self.handle_propose(m),
            MessageType::MsgReadIndex => {
                self.handle_leader_read_index(std::mem::take(m));
                return Ok(());
            }
            _ => {}
        }

        if self.prs.get(m.from).is_none() {
            debug!(self.logger, "no progress available for {}", m.from; "msg type" => ?m.msg_type());
            return Ok(());
        }

        match m.msg_type() {
            MessageType::MsgAppendResponse => self.handle_append_response(m),
            MessageType::MsgHeartbeatResponse => self.handle_heartbeat_response(m),
            MessageType::MsgSnapStatus => self.handle_snapshot_status(m),
            MessageType::MsgUnreachable => self.handle_unreachable(m),
            MessageType::MsgTransferLeader => self.handle_transfer_leader(m),
            _ => {
                debug!(self.logger, "leader ignores message"; "msg type" => ?m.msg_type(), "from" => m.from);
            }
        }
        Ok(())
    }

    fn handle_propose(&mut self, m: &mut Message) -> Result<()> {
        if m.entries.is_empty() {
            debug!(self.logger, "dropping a proposal without entries"; "from" => m.from);
            return Err(Error::ProposalDropped);
        }
        if self.prs.get(self.id).is_none() {
            // This node was removed from the configuration while leading;
            // it cannot commit anything (thesis §4.2.2).
            return Err(Error::ProposalDropped);
        }
        if self.lead_transferee.is_some() {
            debug!(
                self.logger,
                "[term {}] transfer leadership to {:?} is in progress; dropping proposal",
                self.term,
                self.lead_transferee,
            );
            return Err(Error::ProposalDropped);
        }

        for i in 0..m.entries.len() {
            if !matches!(
                m.entries[i].entry_type(),
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2
            ) {
                continue;
            }
            let refusal = if self.disable_conf_change_validation {
                // The application checks changes itself (see
                // `Config::disable_conf_change_validation` for the hazard).
                None
            } else {
                self.refuse_conf_change(&m.entries[i])
            };
            if let Some(reason) = refusal {
                // Keep the log aligned with what the caller proposed: the
                // refused change becomes an empty normal entry.
                info!(
                    self.logger,
                    "ignoring conf change";
                    "reason" => reason,
                    "index" => self.raft_log.last_index() + 1 + i as u64,
                    "pending conf index" => self.pending_conf_index,
                    "applied" => self.raft_log.applied,
                );
                m.entries[i] = Entry::default();
            } else {
                self.pending_conf_index = self.raft_log.last_index() + 1 + i as u64;
            }
        }

        if !self.append_entries_owned(std::mem::take(&mut m.entries)) {
            return Err(Error::ProposalDropped);
        }
        self.bcast_append();
        Ok(())
    }

    /// Why a proposed configuration change must be refused, if it must:
    /// only one change may be pending (thesis §4.1), a joint configuration
    /// must be left before another change, and only a joint configuration
    /// can be left.
    fn refuse_conf_change(&self, e: &Entry) -> Option<&'static str> {
        let cc = match e.entry_type() {
            EntryType::EntryConfChange => match ConfChange::parse_from_bytes(&e.data) {
                Ok(cc) => cc.into_v2(),
                Err(_) => return Some("malformed conf change"),
            },
            _ => match ConfChangeV2::parse_from_bytes(&e.data) {
                Ok(cc) => cc,
                Err(_) => return Some("malformed conf change"),
            },
        };
        let already_pending = self.has_pending_conf();
        let already_joint = self.prs.conf().voters().is_joint();
        let wants_leave_joint = cc.leave_joint();
        if already_pending {
            Some("possible unapplied conf change")
        } else if already_joint && !wants_leave_joint {
            Some("must transition out of joint config first")
        } else if !already_joint && wants_leave_joint {
            Some("not in joint state; refusing empty conf change")
        } else {
            None
        }
    }

    fn handle_unreachable(&mut self, m: &Message) {
        let pr = self.prs.get_mut(m.from).unwrap();
        // The transport failed: the last append may be lost, so probe
        // again instead of streaming into the void (etcd-io/raft#31).
        if pr.state == ProgressState::Replicate {
            pr.become_probe();
        }
        debug!(self.logger, "failed to send message to {}", m.from; "progress state" => ?pr.state);
    }

    fn handle_transfer_leader(&mut self, m: &Message) {
        let from = m.from;
        if self.prs.conf().learners().contains(&from) {
            debug!(self.logger, "ignored transferring leadership to a learner"; "to" => from);
            return;
        }
        let lead_transferee = from;
        if let Some(last) = self.lead_transferee {
            if last == lead_transferee {
                info!(
                    self.logger,
                    "transfer leadership to {} is in progress, ignores request to same node",
                    lead_transferee;
                    "term" => self.term,
                );
                return;
            }
            self.abort_leader_transfer();
            info!(
                self.logger,
                "abort previous transferring leadership to {}", last;
                "term" => self.term,
            );
        }
        if lead_transferee == self.id {
            debug!(
                self.logger,
                "already leader; ignored transferring leadership to self"
            );
            return;
        }
        info!(self.logger, "starting a new leader transfer to {}", lead_transferee; "term" => self.term);
        // The transfer must finish within an election timeout, or it is
        // aborted by tick_heartbeat.
        self.election_elapsed = 0;
        self.lead_transferee = Some(lead_transferee);
        let matched = self.prs.get(from).unwrap().matched;
        if matched == self.raft_log.last_index() {
            info!(
                self.logger,
                "sends MsgTimeoutNow to {} immediately as it already has up-to-date log",
                lead_transferee
            );
            self.send_timeout_now(lead_transferee);
        } else {
            self.send_append(lead_transferee);
        }
    }

    /// Tells `to` to campaign at once, skipping its election timeout and
    /// pre-vote: the last step of a leader transfer. Ends the leader lease
    /// for the rest of the term: the transferee's vote requests bypass the
    /// followers' promise (thesis §6.4.1), and the message may arrive late.
    pub fn send_timeout_now(&mut self, to: u64) {
        self.read_only.lease_mut().end_for_transfer();
        let mut m = Message::new();
        m.set_msg_type(MessageType::MsgTimeoutNow);
        m.to = to;
        self.send(m);
    }

    /// Abandons a leader transfer in progress.
    pub fn abort_leader_transfer(&mut self) {
        self.lead_transferee = None;
    }

    /// Sends a heartbeat to every peer, carrying the newest pending read's
    /// token so their answers also confirm reads, and in lease mode the
    /// tick it is sent at, so their answers extend the lease (thesis
    /// §6.4.1).
    pub fn bcast_heartbeat(&mut self) {
        let ctx = self.read_only.heartbeat_context(self.ticks);
        self.bcast_heartbeat_with_ctx(ctx)
    }

    /// Sends a heartbeat to every peer; `ctx` is shared by every heartbeat
    /// instead of copied into each.
    ///
    /// Heartbeats are built while walking the progress map and queued
    /// directly, stamped as [`send`](Self::send) stamps them (sender and
    /// term), rather than through a list of peer ids and one lookup each.
    pub(crate) fn bcast_heartbeat_with_ctx(&mut self, ctx: Option<bytes::Bytes>) {
        let committed = self.raft_log.committed;
        let (self_id, term) = (self.id, self.term);
        let first = self.msgs.len();
        for (&id, pr) in self.prs.iter() {
            if id == self_id {
                continue;
            }
            // A follower must not learn a commit index beyond what it is
            // known to hold, or it could commit entries it lacks (§5.3).
            let mut m = Message::new();
            m.set_msg_type(MessageType::MsgHeartbeat);
            m.to = id;
            m.from = self_id;
            m.term = term;
            m.commit = std::cmp::min(pr.matched, committed);
            if let Some(ctx) = &ctx {
                m.context = ctx.clone();
            }
            self.msgs.push(m);
        }
        // The tracker iterates by ascending id, so heartbeats go out in
        // peer order, as every broadcast.
        debug_assert!(self.msgs[first..].is_sorted_by_key(|m| m.to));
    }

    /// Sends heartbeats now, if this node leads.
    pub fn ping(&mut self) {
        if self.state == StateRole::Leader {
            self.bcast_heartbeat();
        }
    }
}

#[cfg(test)]
mod tests {
    use slog::{o, Logger};

    use crate::eraftpb::{ConfState, Message, MessageType};
    use crate::storage::MemStorage;
    use crate::{Config, Raft};

    fn leader(voters: Vec<u64>, learners: Vec<u64>) -> Raft<MemStorage> {
        let logger = Logger::root(slog::Discard, o!());
        let store = MemStorage::new_with_conf_state(ConfState::from((voters, learners)));
        let mut r = Raft::new(&Config::new(1), store, &logger).unwrap();
        r.become_candidate();
        r.become_leader();
        r.msgs.clear();
        r
    }

    #[test]
    fn heartbeats_go_to_every_peer_in_ascending_order_with_a_shared_context() {
        let mut r = leader(vec![9, 3, 7, 1, 5, 2, 8], vec![6, 4]);
        r.mut_prs().get_mut(3).unwrap().matched = 1;
        r.raft_log.committed = 1;
        // A message queued before the broadcast keeps its place.
        let mut queued = Message::new();
        queued.to = 99;
        r.msgs.push(queued);
        let ctx = bytes::Bytes::from_static(b"round");
        r.bcast_heartbeat_with_ctx(Some(ctx.clone()));
        assert_eq!(r.msgs[0].to, 99);
        let to: Vec<u64> = r.msgs[1..].iter().map(|m| m.to).collect();
        assert_eq!(to, vec![2, 3, 4, 5, 6, 7, 8, 9]);
        for m in &r.msgs[1..] {
            assert_eq!(m.msg_type(), MessageType::MsgHeartbeat);
            assert_eq!((m.from, m.term), (1, r.term));
            assert_eq!(m.context, ctx);
            // min(matched, committed): only peer 3 is known to hold index 1.
            assert_eq!(m.commit, u64::from(m.to == 3), "to {}", m.to);
        }
        r.msgs.clear();
        r.bcast_heartbeat_with_ctx(None);
        assert_eq!(r.msgs.len(), 8);
        assert!(r.msgs.iter().all(|m| m.context.is_empty()));
    }
}
