//! Snapshots (§7): the leader sends one when the entries a follower needs
//! are compacted; a follower installs one that is newer than its commit.

use slog::{debug, error, info, warn};

use crate::eraftpb::{Message, MessageType, Snapshot};
use crate::errors::{Error, Result, StorageError};
use crate::storage::Storage;
use crate::tracker::{ProgressState, ProgressTracker};
use crate::{confchange, INVALID_ID, INVALID_INDEX};

use super::{Raft, StateRole};

impl<T: Storage> Raft<T> {
    /// Fills `m` with a snapshot for `to` and moves its progress to
    /// snapshot state. Returns false when no snapshot can be sent now.
    pub(crate) fn prepare_send_snapshot(&mut self, m: &mut Message, to: u64) -> bool {
        let pr = self.prs.get_mut(to).unwrap();
        if !pr.recent_active {
            debug!(
                self.logger,
                "ignore sending snapshot to {} since it is not recently active", to;
            );
            return false;
        }
        let request_index = pr.pending_request_snapshot;
        let snapshot = match self.raft_log.snapshot(request_index, to) {
            Ok(s) => s,
            Err(Error::Store(StorageError::SnapshotTemporarilyUnavailable)) => {
                debug!(
                    self.logger,
                    "failed to send snapshot to {} because snapshot is temporarily unavailable", to;
                );
                return false;
            }
            Err(e) => {
                warn!(self.logger, "failed to get a snapshot for {}", to; "err" => %e);
                return false;
            }
        };
        if snapshot.get_metadata().index == 0 {
            crate::fatal!(self.logger, "storage returned an empty snapshot for {}", to);
        }
        let (sindex, sterm) = (snapshot.get_metadata().index, snapshot.get_metadata().term);
        if sindex > self.raft_log.last_index() {
            // A snapshot holds applied, so committed, state: one past this
            // leader's own log cannot be of this log, and the follower
            // would install state no quorum committed. Send nothing.
            error!(
                self.logger,
                "storage returned a snapshot past the last index; not sending it";
                "to" => to,
                "snapshot index" => sindex,
                "last index" => self.raft_log.last_index(),
            );
            return false;
        }
        m.set_msg_type(MessageType::MsgSnapshot);
        m.snapshot = protobuf::MessageField::some(snapshot);
        let pr = self.prs.get_mut(to).unwrap();
        debug!(
            self.logger,
            "[firstindex: {first_index}, commit: {committed}] sent snapshot[index: {snapshot_index}, term: {snapshot_term}] to {to}",
            first_index = self.raft_log.first_index(),
            committed = self.raft_log.committed,
            snapshot_index = sindex,
            snapshot_term = sterm,
            to = to;
            "progress" => ?pr,
        );
        pr.become_snapshot(sindex);
        true
    }

    /// Installs a snapshot from the leader and answers with the index the
    /// log now reaches.
    pub(crate) fn handle_snapshot(&mut self, m: &mut Message) {
        let (sindex, sterm) = (
            m.get_snapshot().get_metadata().index,
            m.get_snapshot().get_metadata().term,
        );
        let mut resp = Message::new();
        resp.set_msg_type(MessageType::MsgAppendResponse);
        resp.to = m.from;
        let restored = if sterm > m.term {
            // The leader of `m.term` cannot hold an entry of a later term
            // (§5.3, Log Matching): a malformed snapshot, ignored.
            debug!(self.logger, "ignoring a snapshot of a later term than its message"; "snapshot term" => sterm, "msg term" => m.term);
            false
        } else {
            self.restore(m.take_snapshot())
        };
        if restored {
            info!(
                self.logger,
                "[commit: {commit}, term: {term}] restored snapshot [index: {snapshot_index}, term: {snapshot_term}]",
                term = self.term,
                commit = self.raft_log.committed,
                snapshot_index = sindex,
                snapshot_term = sterm;
            );
            resp.index = self.raft_log.last_index();
        } else {
            info!(
                self.logger,
                "[commit: {commit}] ignored snapshot [index: {snapshot_index}, term: {snapshot_term}]",
                commit = self.raft_log.committed,
                snapshot_index = sindex,
                snapshot_term = sterm;
            );
            resp.index = self.raft_log.committed;
        }
        self.send(resp);
    }

    /// Resets the log and configuration to a snapshot. Returns false when the
    /// snapshot is ignored: it is empty or older than the commit index, this
    /// node is not in its configuration, its configuration is invalid, or
    /// the log already holds its last entry (then only the commit index
    /// moves).
    pub fn restore(&mut self, snap: Snapshot) -> bool {
        let meta = snap.get_metadata();
        if meta.index == 0 {
            debug!(self.logger, "ignoring an empty snapshot");
            return false;
        }
        if meta.index > super::MAX_PEER_LOG_INDEX {
            // A nonsense index from a peer: this node's own appends after it
            // would overflow.
            debug!(self.logger, "ignoring a snapshot past the maximum log index"; "index" => meta.index);
            return false;
        }
        if meta.index < self.raft_log.committed {
            return false;
        }
        if meta.index == self.raft_log.committed && !self.raft_log.match_term(meta.index, meta.term)
        {
            // It contradicts the entry committed at that index (§5.4.3):
            // nonsense from a peer, which must not rewrite committed state.
            debug!(
                self.logger,
                "ignoring a snapshot that contradicts the committed entry";
                "index" => meta.index,
                "term" => meta.term,
            );
            return false;
        }
        if self.state != StateRole::Follower {
            // Only a follower restores (a leader never receives a snapshot
            // of its own term from a peer); be safe and step down.
            warn!(self.logger, "non-follower attempted to restore snapshot"; "state" => ?self.state);
            let term = self.term.saturating_add(1);
            self.become_follower(term, INVALID_ID);
            return false;
        }

        let cs = meta.get_conf_state();
        let in_config = cs
            .voters
            .iter()
            .chain(&cs.learners)
            .chain(&cs.voters_outgoing)
            .any(|id| *id == self.id);
        if !in_config || cs.voters.is_empty() {
            warn!(
                self.logger,
                "attempted to restore snapshot but it is not in the ConfState";
                "conf_state" => ?cs,
            );
            return false;
        }

        // With no request pending, a snapshot whose last entry this log
        // already holds only tells us the commit index (§7). With one
        // pending, the node wants its state rebuilt and takes the snapshot
        // again, unless it is the log's own base (at or below the
        // compaction point): the storage already holds that state and
        // cannot take it a second time. It answers a request for no more
        // than its index, which is then settled.
        let at_base = meta.index < self.raft_log.first_index();
        if (self.pending_request_snapshot == INVALID_INDEX || at_base)
            && self.raft_log.match_term(meta.index, meta.term)
        {
            if at_base && meta.index >= self.pending_request_snapshot {
                self.pending_request_snapshot = INVALID_INDEX;
            }
            info!(
                self.logger,
                "fast-forwarded commit to snapshot";
                "commit" => self.raft_log.committed,
                "last index" => self.raft_log.last_index(),
                "snapshot index" => meta.index,
                "snapshot term" => meta.term,
            );
            self.raft_log.commit_to(meta.index);
            return false;
        }

        // Build the new configuration first: an invalid one from a peer
        // must change nothing.
        let mut prs = ProgressTracker::new(self.max_inflight);
        prs.set_max_inflight_bytes(self.prs.max_inflight_bytes());
        prs.enable_group_commit(self.prs.group_commit());
        if let Err(e) = confchange::restore(&mut prs, meta.index + 1, cs) {
            warn!(self.logger, "ignoring a snapshot with an invalid configuration"; "err" => %e, "conf_state" => ?cs);
            return false;
        }
        let cs = cs.clone();
        // Entries past the commit index may differ from the snapshot's.
        self.forget_acks_from(self.raft_log.committed + 1);
        self.raft_log.restore(snap);
        self.prs = prs;
        let new_cs = self.post_conf_change();
        if !raft_proto::conf_state_eq(&cs, &new_cs) {
            crate::fatal!(self.logger, "invalid restore: {:?} != {:?}", cs, new_cs);
        }
        self.pending_request_snapshot = INVALID_INDEX;
        true
    }

    /// Asks the leader for a snapshot of at least the current last index.
    ///
    /// Fails with [`Error::RequestSnapshotDropped`] on a leader, without a
    /// leader, with a snapshot pending, or when the last entry is not of the
    /// current term.
    pub fn request_snapshot(&mut self) -> Result<()> {
        if self.state == StateRole::Leader {
            info!(
                self.logger,
                "can not request snapshot on leader; dropping request snapshot"
            );
        } else if self.leader_id == INVALID_ID {
            info!(self.logger, "drop request snapshot because of no leader"; "term" => self.term);
        } else if self.snap().is_some() {
            info!(
                self.logger,
                "there is a pending snapshot; dropping request snapshot"
            );
        } else if self.pending_request_snapshot != INVALID_INDEX {
            info!(
                self.logger,
                "there is a pending snapshot request; dropping request snapshot"
            );
        } else {
            let request_index = self.raft_log.last_index();
            let request_index_term = self.raft_log.term(request_index).unwrap_or(0);
            if self.term == request_index_term {
                self.pending_request_snapshot = request_index;
                self.send_request_snapshot();
                return Ok(());
            }
            info!(
                self.logger,
                "mismatched term; dropping request snapshot";
                "term" => self.term,
                "last term" => request_index_term,
            );
        }
        Err(Error::RequestSnapshotDropped)
    }

    /// Sends the snapshot request as a rejecting append response.
    pub(crate) fn send_request_snapshot(&mut self) {
        let mut m = Message::new();
        m.set_msg_type(MessageType::MsgAppendResponse);
        m.index = self.raft_log.committed;
        m.reject = true;
        m.reject_hint = self.raft_log.last_index();
        m.to = self.leader_id;
        m.request_snapshot = self.pending_request_snapshot;
        m.log_term = self.raft_log.term(m.reject_hint).unwrap_or(0);
        self.send(m);
    }

    /// Handles the driver's report of a snapshot send.
    pub(crate) fn handle_snapshot_status(&mut self, m: &Message) {
        let pr = self.prs.get_mut(m.from).unwrap();
        if pr.state != ProgressState::Snapshot {
            return;
        }
        if m.reject {
            pr.snapshot_failure();
            pr.become_probe();
            debug!(self.logger, "snapshot failed, resumed sending replication messages to {}", m.from; "progress" => ?pr);
        } else {
            pr.become_probe();
            debug!(self.logger, "snapshot succeeded, resumed sending replication messages to {}", m.from; "progress" => ?pr);
        }
        // Wait for the follower's answer (or the next heartbeat) before
        // sending again, rather than flooding a node that is installing.
        pr.pause();
        pr.pending_request_snapshot = INVALID_INDEX;
    }
}
