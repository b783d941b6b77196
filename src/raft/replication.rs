//! Log replication (§5.3), commitment (§5.4.2) and persistence.
//!
//! The leader sends each follower the entries after its `next_idx`, naming
//! the entry just before them by index and term; a follower accepts them only
//! if it holds that entry (the Log Matching property), and otherwise rejects
//! with a hint that lets the leader skip a whole term at once. The leader
//! commits the largest index a quorum holds, but only by counting replicas of
//! an entry of its own term (§5.4.2).

use slog::{debug, error, info, warn};

use crate::eraftpb::{Entry, Message, MessageType};
use crate::errors::{Error, StorageError};
use crate::raft_log::LogBounds;
use crate::storage::{GetEntriesContext, GetEntriesFor, Storage};
use crate::tracker::{Progress, ProgressState};
use crate::util::{
    concatenation_within_size, entries_size_bound, entries_within_size, payload_size,
};
use crate::{INVALID_ID, INVALID_INDEX};

use super::election::is_set;
use super::{Raft, StateRole};

impl<T: Storage> Raft<T> {
    /// Drops the acknowledgements still queued for entries at or past
    /// `index`, which an append or a snapshot has just replaced: they would
    /// be sent only after this `Ready` is persisted, when the log no longer
    /// holds what they acknowledge, and a leader counting them could commit
    /// an entry no quorum stores (§5.1: a response reports durable state).
    /// The ones `RawNode` already collected are dropped there
    /// (`replaced_from`). Dropping a message is always safe.
    pub(crate) fn forget_acks_from(&mut self, index: u64) {
        self.msgs.retain(|m| !acknowledges_from(m, index));
        if self.replaced_from == 0 || index < self.replaced_from {
            self.replaced_from = index;
        }
    }

    /// Sends an append (or, when the entries are gone, a snapshot) to `to`,
    /// even an empty one as a probe.
    pub fn send_append(&mut self, to: u64) {
        self.maybe_send_append(to, true);
    }

    /// Sends as many appends to `to` as flow control allows.
    pub(crate) fn send_append_aggressively(&mut self, to: u64) {
        if !self.maybe_send_append(to, true) {
            return;
        }
        while self.maybe_send_append(to, false) {}
    }

    /// Sends appends to every peer.
    pub fn bcast_append(&mut self) {
        let mut peer = INVALID_ID;
        while let Some(id) = self.next_peer_above(peer) {
            self.send_append(id);
            peer = id;
        }
    }

    /// Sends one append to `to` if flow control allows. With
    /// `send_if_empty` false, nothing is sent when there are no new entries.
    /// Returns whether a message was sent or merged.
    fn maybe_send_append(&mut self, to: u64, send_if_empty: bool) -> bool {
        let (paused, next_idx, pending_request_snapshot) = match self.prs.get(to) {
            Some(pr) => (pr.is_paused(), pr.next_idx, pr.pending_request_snapshot),
            None => return false,
        };
        if paused {
            debug!(
                self.logger,
                "skipping sending to {to}, it's paused",
                to = to
            );
            return false;
        }

        let mut m = Message::new();
        m.to = to;
        if is_set(pending_request_snapshot) {
            // The follower asked for a snapshot: it gets one whatever its
            // log holds.
            if !self.prepare_send_snapshot(&mut m, to) {
                return false;
            }
        } else {
            let last = self.raft_log.last_index();
            if !send_if_empty && next_idx > last {
                // Nothing new to send: decided before reading the log (this
                // runs after every acknowledgement).
                return false;
            }
            // Each bound read once for the fetch and the term below.
            let bounds = LogBounds {
                first: self.raft_log.first_index(),
                last,
            };
            if self.batch_append && self.try_batching_unstable(to, next_idx, bounds) {
                return true;
            }
            let ctx = GetEntriesContext::new(GetEntriesFor::SendAppend {
                to,
                term: self.term,
                aggressively: !send_if_empty,
            });
            let ents = self
                .raft_log
                .entries_within(next_idx, Some(self.max_msg_size), ctx, bounds);
            if !send_if_empty && ents.as_ref().is_ok_and(|e| e.is_empty()) {
                return false;
            }
            let term = self.raft_log.term_within(next_idx - 1, bounds);
            match (term, ents) {
                (Ok(term), Ok(mut ents)) => {
                    if self.batch_append && self.try_batching(to, NewEntries::Owned(&mut ents)) {
                        return true;
                    }
                    self.prepare_send_entries(&mut m, next_idx - 1, term, ents);
                }
                (_, Err(Error::Store(StorageError::LogTemporarilyUnavailable))) => {
                    // The storage fetches in the background and the driver
                    // calls `on_entries_fetched` when it is done.
                    return false;
                }
                _ => {
                    // The entries or the term are compacted (§7).
                    if !self.prepare_send_snapshot(&mut m, to) {
                        return false;
                    }
                }
            }
        }
        self.send(m);
        true
    }

    fn prepare_send_entries(&mut self, m: &mut Message, index: u64, term: u64, ents: Vec<Entry>) {
        m.set_msg_type(MessageType::MsgAppend);
        m.index = index;
        m.log_term = term;
        m.commit = self.raft_log.committed;
        if let Some(last) = ents.last() {
            let last = last.index;
            let pr = self.prs.get_mut(m.to).unwrap();
            let bytes = inflight_payload_bytes(pr, &ents);
            pr.sent_entries(last, bytes);
        }
        m.entries = ents;
    }

    /// Merges `ents` into the append queued last for `to`, when they
    /// directly continue it: they start just after its last entry, or, for
    /// an append without entries, just after the entry it names (its
    /// `index`). Anything else (a probe whose `index`/`log_term` do not
    /// name the entry before `ents`, an append of an earlier term, a
    /// snapshot or other message queued after it) is left alone: a merged
    /// message must satisfy `index + 1 == entries[0].index` with contiguous
    /// entries, or a follower could acknowledge entries it does not hold
    /// (raft-rs 0.7.0 shipped that bug). Heartbeats queued after the append
    /// do not stop a merge: they carry no entries and a commit index bounded
    /// by what the follower is known to hold. The merged message stays
    /// within `max_size_per_msg`, as every append does.
    ///
    /// On a merge the entries move out of `ents` into the queued message
    /// (or, from the unstable log, are cloned into it).
    /// The size check is constant-time in the usual case: the size bound of
    /// the entries queued for each follower is carried from one merge to the
    /// next ([`QueuedAppendBound`]).
    fn try_batching(&mut self, to: u64, mut ents: NewEntries<'_>) -> bool {
        let new: &[Entry] = match &ents {
            NewEntries::Owned(ents) => ents,
            NewEntries::Unstable { start, end } => &self.raft_log.unstable.entries[*start..*end],
        };
        let (Some(first), Some(last)) = (new.first(), new.last()) else {
            return false;
        };
        let (first, last) = (first.index, last.index);
        let committed = self.raft_log.committed;
        let term = self.term;
        let max_size = self.max_msg_size;
        let Some(msg) = self
            .msgs
            .iter_mut()
            .rev()
            .find(|msg| msg.to == to && msg.msg_type() != MessageType::MsgHeartbeat)
        else {
            return false;
        };
        if msg.msg_type() != MessageType::MsgAppend || msg.term != term {
            return false;
        }
        let queued_last = msg.entries.last().map_or(msg.index, |e| e.index);
        if queued_last.checked_add(1) != Some(first) {
            return false;
        }
        let key = QueuedAppendKey {
            term,
            to,
            index: msg.index,
            last: queued_last,
        };
        let bounds = &mut self
            .leader_scratch
            .get_or_insert_with(Default::default)
            .queued_append_bounds;
        let carried = bounds.iter().position(|carried| carried.key.to == to);
        let queued_bound = match carried.map(|i| bounds[i]) {
            Some(carried) if carried.key == key => Some(carried.bound),
            _ => entries_size_bound(&msg.entries),
        };
        debug_assert!(
            queued_bound.is_none() || queued_bound == entries_size_bound(&msg.entries),
            "carried size bound of the append queued for {to} is stale"
        );
        let merged_bound = queued_bound
            .zip(entries_size_bound(new))
            .map(|(queued, new)| queued.saturating_add(new));
        let fits = match merged_bound {
            // The bound decides as `concatenation_within_size` would.
            Some(bound) if bound <= max_size => true,
            _ => concatenation_within_size(&msg.entries, new, Some(max_size)),
        };
        if !fits {
            return false;
        }
        let pr = self.prs.get_mut(to).unwrap();
        let bytes = inflight_payload_bytes(pr, new);
        match &mut ents {
            NewEntries::Owned(ents) => msg.entries.append(ents),
            NewEntries::Unstable { start, end } => msg
                .entries
                .extend_from_slice(&self.raft_log.unstable.entries[*start..*end]),
        }
        msg.commit = committed;
        debug_assert_eq!(msg.index + 1, msg.entries[0].index);
        debug_assert!(msg.entries.windows(2).all(|w| w[0].index + 1 == w[1].index));
        pr.sent_entries(last, bytes);
        if let Some(bound) = merged_bound {
            let key = QueuedAppendKey { last, ..key };
            let updated = QueuedAppendBound { key, bound };
            match carried {
                Some(i) => bounds[i] = updated,
                None => bounds.push(updated),
            }
        }
        true
    }

    /// [`try_batching`](Self::try_batching) for the entries from `next_idx`
    /// on, when all of them are still in the unstable log (the usual case
    /// for a proposal): they are cloned straight into the queued append
    /// instead of into a vector of their own that the merge then empties.
    /// Takes the same entries as the fetch in `maybe_send_append` would
    /// (the same size limit), so the outcome is the same; returns false,
    /// changing nothing, when they are not all unstable or do not merge.
    fn try_batching_unstable(&mut self, to: u64, next_idx: u64, bounds: LogBounds) -> bool {
        let offset = self.raft_log.unstable.offset;
        if next_idx < offset || next_idx > bounds.last {
            return false;
        }
        // The fetch path sends a snapshot when this term is unknown.
        if self.raft_log.term_within(next_idx - 1, bounds).is_err() {
            return false;
        }
        let start = (next_idx - offset) as usize;
        let unstable = &self.raft_log.unstable.entries[start..];
        let end = start + entries_within_size(unstable, Some(self.max_msg_size));
        self.try_batching(to, NewEntries::Unstable { start, end })
    }

    /// Appends entries proposed on this leader, stamping term and index.
    /// Returns false, appending nothing, when the uncommitted-size limit
    /// drops them.
    #[must_use]
    pub fn append_entry(&mut self, es: &mut [Entry]) -> bool {
        if !self.stamp_proposed(es) {
            return false;
        }
        self.raft_log.append(es);
        // The leader's own progress advances when the entries are
        // persisted: see `on_persist_entries`.
        true
    }

    /// [`append_entry`](Self::append_entry), moving the entries into the
    /// log instead of copying them.
    #[must_use]
    pub(crate) fn append_entries_owned(&mut self, mut es: Vec<Entry>) -> bool {
        if !self.stamp_proposed(&mut es) {
            return false;
        }
        self.raft_log.append_owned(es);
        true
    }

    /// Admits proposed entries under the uncommitted-size limit and stamps
    /// them with this term and the next indexes. Returns false, changing
    /// nothing, when the limit drops them.
    fn stamp_proposed(&mut self, es: &mut [Entry]) -> bool {
        if !self.maybe_increase_uncommitted_size(es) {
            return false;
        }
        let li = self.raft_log.last_index();
        for (i, e) in es.iter_mut().enumerate() {
            e.term = self.term;
            e.index = li + 1 + i as u64;
        }
        self.uncommitted_state.track(es);
        true
    }

    /// Handles an append from the leader (§5.3).
    pub fn handle_append_entries(&mut self, m: &Message) {
        self.handle_append_entries_owned(&mut m.clone());
    }

    /// [`handle_append_entries`](Self::handle_append_entries) for a message
    /// this node owns: its entries move into the log instead of being
    /// copied.
    pub(crate) fn handle_append_entries_owned(&mut self, m: &mut Message) {
        if is_set(self.pending_request_snapshot) {
            self.send_request_snapshot();
            return;
        }
        let committed = self.raft_log.committed;
        if m.index < committed {
            // Everything up to the commit index is already settled here.
            debug!(self.logger, "got message with lower index than committed");
            let mut to_send = Message::new();
            to_send.set_msg_type(MessageType::MsgAppendResponse);
            to_send.to = m.from;
            to_send.index = committed;
            to_send.commit = committed;
            self.send(to_send);
            return;
        }
        if let Err(why) = entries_follow(m) {
            debug!(self.logger, "ignoring a malformed append"; "reason" => why, "from" => m.from, "index" => m.index);
            return;
        }

        let mut to_send = Message::new();
        to_send.set_msg_type(MessageType::MsgAppendResponse);
        to_send.to = m.from;

        let last_index = self.raft_log.last_index();
        let appended = if m.index <= last_index {
            let ents = std::mem::take(&mut m.entries);
            self.raft_log
                .maybe_append_owned(m.index, m.log_term, m.commit, ents)
        } else {
            None
        };
        match appended {
            Some((conflict, last_idx)) => {
                if conflict != 0 && conflict <= last_index {
                    self.forget_acks_from(conflict);
                }
                to_send.index = last_idx;
            }
            None => {
                // Find the last index this log may share with the leader:
                // the largest index at or below the probe whose term is at
                // most the leader's term there, so the leader can skip a
                // whole term of mismatches at once.
                let hint_index = std::cmp::min(m.index, last_index);
                let (hint_index, hint_term) =
                    self.raft_log.find_conflict_by_term(hint_index, m.log_term);
                debug!(
                    self.logger,
                    "rejected msgApp [logterm: {msg_log_term}, index: {msg_index}] from {from}",
                    msg_log_term = m.log_term,
                    msg_index = m.index,
                    from = m.from;
                    "index" => m.index,
                    "log term" => ?self.raft_log.term(m.index),
                    "hint index" => hint_index,
                );
                to_send.index = m.index;
                to_send.reject = true;
                to_send.reject_hint = hint_index;
                to_send.log_term = hint_term.unwrap_or(0);
            }
        }
        to_send.commit = self.raft_log.committed;
        self.send(to_send);
    }

    /// Handles a heartbeat from the leader: learn the commit index (one
    /// past this log is ignored) and answer, echoing the read token.
    pub fn handle_heartbeat(&mut self, mut m: Message) {
        self.handle_heartbeat_ref(&mut m);
    }

    /// [`handle_heartbeat`](Self::handle_heartbeat) without taking the
    /// message (only its context is taken out).
    pub(crate) fn handle_heartbeat_ref(&mut self, m: &mut Message) {
        let last_index = self.raft_log.last_index();
        if m.commit > last_index {
            // A leader sends at most what it knows this node holds: a
            // commit past the log is malformed, or this node lost entries
            // it acknowledged. Clamping it would commit whatever this log
            // holds there, which a heartbeat (naming no entry) does not
            // show to be the leader's.
            warn!(
                self.logger,
                "ignoring a heartbeat commit index past the last index";
                "from" => m.from,
                "commit" => m.commit,
                "last index" => last_index,
            );
        } else {
            self.raft_log.commit_to(m.commit);
        }
        if is_set(self.pending_request_snapshot) {
            self.send_request_snapshot();
            return;
        }
        let mut to_send = Message::new();
        to_send.set_msg_type(MessageType::MsgHeartbeatResponse);
        to_send.to = m.from;
        to_send.context = m.take_context();
        to_send.commit = self.raft_log.committed;
        self.send(to_send);
    }

    /// A snapshot request names the follower's last entry (`reject_hint`,
    /// `log_term`), which is durable when the request is sent (a follower's
    /// messages wait for its writes). Where this leader holds the same entry,
    /// the follower's log matches it up to there (§5.3): the request
    /// acknowledges that entry, as an append response would.
    ///
    /// Without this, a follower whose last acknowledgement was lost asks for
    /// a snapshot past the leader's commit index and then refuses appends;
    /// when the leader needs that follower for a quorum, nothing commits and
    /// no snapshot ever reaches the requested index.
    fn take_snapshot_request_as_ack(&mut self, m: &Message) {
        let (index, term) = (m.reject_hint, m.log_term);
        if term == 0 || index > self.raft_log.last_index() || !self.raft_log.match_term(index, term)
        {
            return;
        }
        let ack = Message {
            msg_type: MessageType::MsgAppendResponse.into(),
            from: m.from,
            to: m.to,
            term: m.term,
            index,
            commit: m.commit,
            ..Default::default()
        };
        self.handle_append_response(&ack);
    }

    pub(crate) fn handle_append_response(&mut self, m: &Message) {
        let last_index = self.raft_log.last_index();
        if m.index > last_index {
            // A follower cannot hold or reject what this leader never had.
            debug!(
                self.logger,
                "ignoring an append response past the log";
                "from" => m.from,
                "index" => m.index,
                "last index" => last_index,
            );
            return;
        }
        let mut next_probe_index = std::cmp::min(m.reject_hint, last_index);
        if m.reject && m.log_term > 0 {
            next_probe_index = self
                .raft_log
                .find_conflict_by_term(next_probe_index, m.log_term)
                .0;
        }

        if m.reject && is_set(m.request_snapshot) {
            self.take_snapshot_request_as_ack(m);
        }

        let pr = self.prs.get_mut(m.from).unwrap();
        pr.recent_active = true;
        pr.update_committed(m.commit);

        if m.reject {
            debug!(
                self.logger,
                "received msgAppend rejection";
                "reject hint index" => m.reject_hint,
                "reject hint term" => m.log_term,
                "from" => m.from,
                "index" => m.index,
            );
            if pr.maybe_decr_to(m.index, next_probe_index, m.request_snapshot) {
                debug!(self.logger, "decreased progress of {}", m.from; "progress" => ?pr);
                if pr.state == ProgressState::Replicate {
                    pr.become_probe();
                }
                self.send_append(m.from);
            }
            return;
        }

        if pr.state == ProgressState::Probe && m.index + 1 < pr.next_idx {
            // A probe names `next_idx - 1`, and any answer to it reaches at
            // least that far. A lower acknowledgement predates the probe: it
            // may come from an earlier incarnation of a peer removed and
            // added again in this term, which must not vouch for what the
            // new one holds (tikv/raft-rs#571, etcd-io/raft#349). The re-add is a later log entry
            // than anything sent to the old incarnation, and a fresh
            // progress probes at the last index, so such an ack is lower.
            debug!(
                self.logger,
                "ignoring an acknowledgement below the probe";
                "from" => m.from,
                "index" => m.index,
                "next" => pr.next_idx,
            );
            return;
        }
        let old_paused = pr.is_paused();
        // A snapshot the follower asked for may sit at or below `matched`:
        // its acknowledgement then does not raise `matched`, but still ends
        // the snapshot (etcd-io/etcd#10308).
        let acks_snapshot = pr.state == ProgressState::Snapshot && m.index >= pr.pending_snapshot;
        let raised = pr.maybe_update(m.index);
        // A probe of a follower known to be caught up (moved to probe by
        // `report_unreachable`) is answered at `matched` itself: it raises
        // nothing, but shows the follower is reachable and its log matches,
        // so it must end the probe, or the follower would stay in probe
        // state until new entries are acknowledged (as etcd accepts
        // `Match == Index` in probe state).
        let probe_answered = pr.state == ProgressState::Probe && pr.matched == m.index;
        if !raised && !acks_snapshot && !probe_answered {
            return;
        }
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            ProgressState::Snapshot => {
                // An acknowledgement at or past the snapshot means the
                // follower can continue from its log (etcd-io/etcd#10308).
                if pr.is_snapshot_caught_up() {
                    debug!(
                        self.logger,
                        "snapshot caught up, resumed sending replication messages to {}", m.from
                    );
                    if pr.pending_snapshot >= pr.pending_request_snapshot {
                        // The snapshot served the follower's request.
                        pr.pending_request_snapshot = INVALID_INDEX;
                    }
                    pr.become_probe();
                }
            }
            ProgressState::Replicate => pr.ins.free_to(m.index),
        }
        let matched = pr.matched;

        if self.maybe_commit() {
            if self.should_bcast_commit() {
                self.bcast_append();
            }
        } else if old_paused {
            // The follower was paused; now it can take more.
            self.send_append(m.from);
        }
        // Flow control may allow several size-limited messages at once.
        while self.maybe_send_append(m.from, false) {}

        if Some(m.from) == self.lead_transferee && matched == self.raft_log.last_index() {
            info!(
                self.logger,
                "sent MsgTimeoutNow to {from} after received MsgAppResp",
                from = m.from;
            );
            self.send_timeout_now(m.from);
        }
    }

    pub(crate) fn handle_heartbeat_response(&mut self, m: &Message) {
        let last_index = self.raft_log.last_index();
        let committed = self.raft_log.committed;
        let pr = self.prs.get_mut(m.from).unwrap();
        pr.update_committed(m.commit);
        pr.recent_active = true;
        pr.resume();
        // A full window in replicate state may be full of lost messages;
        // free one slot so the stream can move (etcd-io/etcd#14633).
        if pr.state == ProgressState::Replicate && pr.ins.full() {
            pr.ins.free_first_one();
        }
        // Send an append (empty if there is nothing new) when:
        // - the follower lacks entries, or asked for a snapshot;
        // - it is in probe state, even caught up: after `report_unreachable`
        //   it is probed once per heartbeat until it answers, instead of
        //   waiting for the next proposal (etcd: a follower stuck in probe
        //   after ReportUnreachable);
        // - its commit index, as it just reported, is behind what it could
        //   know (the leader's commit, up to the entries it holds): the
        //   append that carried the commit was lost, and the heartbeat
        //   carried only `min(matched, committed)` of when it left, so
        //   without this the follower would apply late until the next
        //   heartbeat (etcd tracks the commit sent per follower for this).
        let commit_behind = m.commit < std::cmp::min(pr.matched, committed);
        if pr.matched < last_index
            || pr.state == ProgressState::Probe
            || commit_behind
            || is_set(pr.pending_request_snapshot)
        {
            self.send_append(m.from);
        }
        if m.context.is_empty() {
            return;
        }
        self.handle_read_ack(m);
    }

    /// Commits the largest index a quorum holds, if its entry is of this
    /// term (§5.4.2). Returns whether the commit index moved.
    pub fn maybe_commit(&mut self) -> bool {
        let mci = self.prs.maximal_committed_index().0;
        if !self.raft_log.maybe_commit(mci, self.term) {
            return false;
        }
        let committed = self.raft_log.committed;
        let self_id = self.id;
        if let Some(pr) = self.prs.get_mut(self_id) {
            pr.committed_index = committed;
        }
        self.uncommitted_state.on_commit(committed);
        self.release_pending_read_index();
        true
    }

    /// Whether a new commit index is worth its own broadcast.
    pub fn should_bcast_commit(&self) -> bool {
        !self.skip_bcast_commit || self.has_pending_conf()
    }

    /// Records that the application applied up to `applied`. On a leader
    /// in a joint configuration with auto-leave, applying the entry that
    /// entered it proposes leaving it (thesis §4.3).
    pub fn commit_apply(&mut self, applied: u64) {
        let old_applied = self.raft_log.applied;
        self.raft_log.applied_to(applied);

        if *self.prs.conf().auto_leave()
            && old_applied <= self.pending_conf_index
            && applied >= self.pending_conf_index
            && self.state == StateRole::Leader
        {
            // An empty ConfChangeV2 encodes to no bytes: the leave step.
            let mut entry = Entry::default();
            entry.set_entry_type(crate::eraftpb::EntryType::EntryConfChangeV2);
            if !self.append_entry(&mut [entry]) {
                crate::fatal!(
                    self.logger,
                    "appending an empty EntryConfChangeV2 should never be dropped"
                );
            }
            self.pending_conf_index = self.raft_log.last_index();
            info!(self.logger, "initiating automatic transition out of joint configuration"; "config" => %self.prs.conf());
            self.bcast_append();
        }
    }

    /// Records that the entries up to `index` (of term `term`) are durable.
    /// A stale report, for entries since overwritten, changes nothing.
    pub fn on_persist_entries(&mut self, index: u64, term: u64) {
        let update = self.raft_log.maybe_persist(index, term);
        if !update || self.state != StateRole::Leader {
            return;
        }
        if term != self.term {
            error!(
                self.logger,
                "leader's persisted index changed but the term {} is not the same as {}",
                term,
                self.term
            );
        }
        let self_id = self.id;
        let updated = match self.prs.get_mut(self_id) {
            Some(pr) => pr.maybe_update(index),
            None => false,
        };
        if updated && self.maybe_commit() && self.should_bcast_commit() {
            self.bcast_append();
        }
    }

    /// Records that the snapshot at `index` is durable.
    pub fn on_persist_snap(&mut self, index: u64) {
        self.raft_log.maybe_persist_snap(index);
    }

    /// Resumes replication that waited for an asynchronous storage fetch.
    pub(crate) fn on_entries_fetched(&mut self, context: GetEntriesContext) {
        if let GetEntriesFor::SendAppend {
            to,
            term,
            aggressively,
        } = *context.what()
        {
            if self.term != term || self.state != StateRole::Leader {
                // The fetch was for an earlier leadership; nothing to do.
                return;
            }
            if self.prs.get(to).is_none() {
                return;
            }
            if aggressively {
                self.send_append_aggressively(to);
            } else {
                self.send_append(to);
            }
        }
    }
}

/// The entries [`Raft::try_batching`] merges into a queued append.
enum NewEntries<'a> {
    /// Fetched for this append: moved into the queued one.
    Owned(&'a mut Vec<Entry>),
    /// `unstable.entries[start..end]`: cloned into the queued append.
    Unstable { start: usize, end: usize },
}

/// The payload bytes of `ents` as the inflight window of `pr` counts them
/// (see [`payload_size`]); not summed when the window has no byte limit.
fn inflight_payload_bytes(pr: &Progress, ents: &[Entry]) -> u64 {
    if pr.ins.max_bytes() == 0 {
        return 0;
    }
    ents.iter().map(|e| payload_size(e) as u64).sum()
}

/// Checks that an append's entries follow its `index` one by one and that
/// their terms never decrease, start no lower than `log_term` and end no
/// higher than the message's term.
fn entries_follow(m: &Message) -> Result<(), &'static str> {
    let mut prev_term = m.log_term;
    for (i, e) in m.entries.iter().enumerate() {
        let want = m
            .index
            .checked_add(1 + i as u64)
            .ok_or("entry index overflows")?;
        if e.index != want {
            return Err("entries do not follow the message index");
        }
        if want > super::MAX_PEER_LOG_INDEX {
            // Nonsense from a peer: this node's own appends after it would
            // overflow.
            return Err("entry index past the maximum log index");
        }
        if e.term < prev_term {
            return Err("entry terms decrease");
        }
        prev_term = e.term;
    }
    if prev_term > m.term {
        return Err("entry term above the message term");
    }
    Ok(())
}

/// Names one append queued by a leader: its term, its follower, the index
/// it follows and its last entry's index. Within one term a leader's log
/// only grows, so these name the same entries wherever they are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueuedAppendKey {
    term: u64,
    to: u64,
    index: u64,
    last: u64,
}

/// The size bound ([`entries_size_bound`]) of the entries of the append
/// to one follower last grown by a merge, so that the next merge into it
/// need not walk them again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueuedAppendBound {
    key: QueuedAppendKey,
    bound: u64,
}

/// Whether `m` acknowledges entries at or past `index`.
pub(crate) fn acknowledges_from(m: &Message, index: u64) -> bool {
    m.get_msg_type() == MessageType::MsgAppendResponse && !m.reject && m.index >= index
}
