//! Linearizable reads on the leader (thesis §6.4), confirmed by a heartbeat
//! round or, in lease mode, by the leader lease (thesis §6.4.1, see
//! [`crate::lease`]).

use slog::debug;

use crate::eraftpb::{Message, MessageType};
use crate::lease::lease_duration_ticks;
use crate::read_only::{context_send_tick, ReadOnlyOption};
use crate::storage::Storage;
use crate::{ReadState, INVALID_ID};

use super::Raft;

impl<T: Storage> Raft<T> {
    /// Handles a `MsgReadIndex` on the leader: its own or forwarded by a
    /// follower.
    pub(crate) fn handle_leader_read_index(&mut self, m: Message) {
        if m.entries.len() != 1 {
            debug!(self.logger, "ignoring a read request without exactly one entry"; "from" => m.from);
            return;
        }
        // A new leader may not know the latest commit index until it has
        // committed an entry of its own term (thesis §6.4, step 1); answering
        // from an inherited commit index could return a stale read
        // (etcd-io/etcd#7331). Hold the read until then.
        if !self.may_serve_reads() {
            debug!(self.logger, "holding a read until an entry of this term is committed"; "from" => m.from);
            self.leader_scratch().pending_read_index_messages.push(m);
            return;
        }
        self.serve_read_index(m);
    }

    /// Whether an entry of this term is committed, so that the commit
    /// index is at least that of every earlier leader (thesis §6.4, step 1).
    /// Looks at the log only until it first holds, once per term.
    fn may_serve_reads(&mut self) -> bool {
        if self.read_only.committed_in_term(self.term) {
            return true;
        }
        if !self.commit_to_current_term() {
            return false;
        }
        self.read_only.note_committed_in_term(self.term);
        true
    }

    fn serve_read_index(&mut self, m: Message) {
        let committed = self.raft_log.committed;
        if self.prs.is_singleton() {
            // A single voter is a quorum by itself.
            self.answer_read(m, committed);
            return;
        }
        if self.read_only.option == ReadOnlyOption::LeaseBased {
            if self.lease_holds() {
                // Reads still waiting for a round came earlier, and the
                // lease confirms them too: answer them first, in order.
                self.answer_reads_under_lease();
                self.answer_read(m, committed);
                return;
            }
            debug!(self.logger, "the lease does not hold; confirming the read with a heartbeat round"; "from" => m.from);
        }
        // Record the commit index, then confirm leadership with a heartbeat
        // round that carries this read's token. A retry of a read still
        // pending starts a round too (its earlier one may be lost),
        // carrying the newest pending token, whose confirmation confirms
        // the retried read as well.
        let self_id = self.id;
        self.read_only.add_request(committed, m, self_id);
        self.bcast_heartbeat();
    }

    /// Whether the leader lease holds now (thesis §6.4.1, see
    /// [`crate::lease`]): no `MsgTimeoutNow` was sent in this term, and the
    /// voters that acknowledged a heartbeat sent within the lease duration
    /// make a quorum, counting this node. O(voters).
    fn lease_holds(&self) -> bool {
        let lease = self.read_only.lease();
        if lease.is_some_and(|lease| lease.transfer_started()) {
            return false;
        }
        let (now, self_id) = (self.ticks, self.id);
        let duration = lease_duration_ticks(self.election_timeout as usize);
        self.prs.quorum_satisfies(|id| {
            id == self_id || lease.is_some_and(|lease| lease.covers(id, now, duration))
        })
    }

    /// In lease mode, answers every pending read if the lease holds: it
    /// confirms that this node still leads after they were registered.
    fn answer_reads_under_lease(&mut self) {
        if self.read_only.option != ReadOnlyOption::LeaseBased
            || self.read_only.pending_read_count() == 0
            || !self.lease_holds()
        {
            return;
        }
        let count = self.read_only.pending_read_count();
        self.answer_confirmed_reads(count);
    }

    /// Serves the reads that waited for this leader's first commit.
    pub(crate) fn release_pending_read_index(&mut self) {
        let held = self
            .leader_scratch
            .as_ref()
            .is_some_and(|scratch| !scratch.pending_read_index_messages.is_empty());
        if !held || !self.may_serve_reads() {
            return;
        }
        let msgs = std::mem::take(&mut self.leader_scratch().pending_read_index_messages);
        for m in msgs {
            self.serve_read_index(m);
        }
    }

    /// Counts a heartbeat response toward the read round it names and, in
    /// lease mode, toward the lease from the tick the heartbeat was sent
    /// at; answers the reads that are then confirmed.
    pub(crate) fn handle_read_ack(&mut self, m: &Message) {
        if self.read_only.option == ReadOnlyOption::LeaseBased {
            if let Some(send_tick) = context_send_tick(&m.context) {
                if !self
                    .read_only
                    .lease_mut()
                    .record_ack(m.from, send_tick, self.ticks)
                {
                    debug!(self.logger, "ignoring a heartbeat response for a tick not reached yet"; "from" => m.from, "tick" => send_tick, "now" => self.ticks);
                    return;
                }
            }
        }
        let confirmed = match self.read_only.recv_ack(m.from, &m.context) {
            Some(acks) => self.prs.has_quorum(acks),
            None => false,
        };
        if confirmed {
            let count = self.read_only.confirmed_by(&m.context);
            self.answer_confirmed_reads(count);
        }
        self.answer_reads_under_lease();
    }

    /// Answers the pending reads that the acknowledgements already received
    /// confirm under the current configuration. A configuration change can
    /// shrink the quorum so that they do: without this the reads would wait
    /// for a round that may never come, while later reads are answered
    /// before them.
    pub(crate) fn recheck_pending_reads(&mut self) {
        if self.read_only.pending_read_count() == 0 {
            return;
        }
        let prs = &self.prs;
        let count = self
            .read_only
            .confirmed_by_quorum(|acks| prs.has_quorum(acks));
        self.answer_confirmed_reads(count);
        self.answer_reads_under_lease();
    }

    /// Answers the `count` oldest pending reads, which are confirmed.
    fn answer_confirmed_reads(&mut self, count: usize) {
        // One at a time, so no list of confirmed reads is built.
        for _ in 0..count {
            let (ctx, req, index) = self.read_only.pop_confirmed(&self.logger);
            self.answer_read_with_ctx(req, index, Some(ctx));
        }
    }

    /// Hands a confirmed read to the local application, or answers the
    /// follower that forwarded it.
    fn answer_read(&mut self, req: Message, index: u64) {
        self.answer_read_with_ctx(req, index, None);
    }

    /// [`answer_read`](Self::answer_read), with the request context already
    /// copied out of `req` when the caller has it.
    fn answer_read_with_ctx(&mut self, req: Message, index: u64, ctx: Option<Vec<u8>>) {
        if req.from == INVALID_ID || req.from == self.id {
            let request_ctx = ctx.unwrap_or_else(|| req.entries[0].data.to_vec());
            self.read_states.push(ReadState { index, request_ctx });
            return;
        }
        let mut resp = Message::new();
        resp.set_msg_type(MessageType::MsgReadIndexResp);
        resp.to = req.from;
        resp.index = index;
        resp.entries = req.entries;
        self.send(resp);
    }
}
