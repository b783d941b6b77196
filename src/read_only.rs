//! Read-only requests (thesis §6.4).
//!
//! In safe mode the leader records its commit index when a read arrives and
//! confirms it is still the leader with a heartbeat round; once a quorum has
//! answered a heartbeat sent *after* the read was registered, the read may be
//! served at the recorded index.
//!
//! The heartbeat context is a token the leader makes for each read (a
//! sequence number), not the caller's context. A retried read that reuses a
//! context therefore cannot be confirmed by delayed responses to an earlier
//! round (etcd-io/etcd#20418): responses to an old round carry an old
//! token, which names no pending read.
//!
//! In lease mode (thesis §6.4.1, see [`crate::lease`]) every heartbeat also
//! carries the tick it was sent at, so that its acknowledgement extends the
//! lease from that tick, never from when the acknowledgement arrived (a
//! delayed one may answer an old heartbeat). The two kinds of context differ
//! in length: a token alone is 8 bytes, big-endian; a lease context is 16,
//! the send tick then the token of the newest pending read (0 when none is
//! pending; tokens start at 1). Followers echo the context as they received
//! it, as raft-rs 0.7's do. When the lease does not hold, a read in lease
//! mode is confirmed by a round as in safe mode.

use std::collections::VecDeque;

use bytes::Bytes;
use slog::Logger;

use crate::eraftpb::Message;
use crate::lease::LeaderLease;
use crate::{HashMap, HashSet};

/// How the leader confirms it may answer a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadOnlyOption {
    /// Confirm leadership with a heartbeat round to a quorum (thesis §6.4).
    #[default]
    Safe,
    /// Trust the leader lease (thesis §6.4.1): answer at once while the
    /// lease holds, else confirm the read with a heartbeat round as in
    /// `Safe` mode. Requires `check_quorum`.
    ///
    /// The lease starts at the tick the leader *sent* a heartbeat that a
    /// follower acknowledged (the heartbeat's `context` carries the tick),
    /// and lasts `election_timeout - 1` ticks; it holds while such
    /// acknowledgements from a quorum of voters (counting the leader) are
    /// that recent, and never after the leader sent `MsgTimeoutNow` in its
    /// term. In return every node in this mode refuses to vote (a leader
    /// transfer's vote aside) and to campaign within `election_timeout`
    /// ticks of hearing from the leader of its term, and within
    /// `election_timeout` ticks of starting; `forget_leader` is a no-op.
    ///
    /// Sound when every voter runs in this mode and every node ticks at the
    /// same rate (the tick timers of two nodes may be offset by up to one
    /// tick), whatever the network does to messages and however nodes crash
    /// and restart. It is not sound when a leader's ticks fall behind the
    /// followers' (a stalled or slowed tick timer: clock drift, which thesis
    /// §6.4.1 bounds by a drift factor), nor with voters that do not keep
    /// the promise (raft-rs 0.7 nodes).
    LeaseBased,
}

/// A read that the application may serve once its state machine has applied
/// `index`.
#[derive(Default, Debug, PartialEq, Eq, Clone)]
pub struct ReadState {
    /// The commit index at the time the read was registered.
    pub index: u64,
    /// The context the read was requested with.
    pub request_ctx: Vec<u8>,
}

/// A read waiting for a quorum to confirm the leader.
#[derive(Default, Debug, Clone)]
pub struct ReadIndexStatus {
    /// The original `MsgReadIndex` request.
    pub req: Message,
    /// The leader's commit index when the read was registered.
    pub index: u64,
    /// The voters that acknowledged a heartbeat sent after registration.
    pub acks: HashSet<u64>,
}

/// The leader's queue of pending reads.
#[derive(Default, Debug, Clone)]
pub struct ReadOnly {
    /// How reads are confirmed.
    pub option: ReadOnlyOption,
    /// The pending reads, keyed by request context.
    pub pending_read_index: HashMap<Vec<u8>, ReadIndexStatus>,
    /// The request contexts of pending reads, oldest first.
    pub read_index_queue: VecDeque<Vec<u8>>,
    /// The token of the next read; never reused while this leader lives.
    /// The queued reads hold the tokens just below it, oldest first.
    next_token: u64,
    /// A term in which this node is known to have committed an entry of
    /// its own (0 when none is known); see
    /// [`committed_in_term`](Self::committed_in_term).
    committed_term: u64,
    /// What only a leader's read rounds use, created when first needed:
    /// a follower's queue (most replicas when a process hosts many groups)
    /// does not carry it inline.
    rounds: Option<Box<ReadRounds>>,
}

/// The part of [`ReadOnly`] that only a leader uses.
#[derive(Default, Debug, Clone)]
struct ReadRounds {
    /// Emptied acknowledgement sets of confirmed reads, reused by the next
    /// reads so that registering one does not allocate.
    spare_acks: Vec<HashSet<u64>>,
    /// Where the heartbeat contexts of read rounds are written.
    contexts: ContextBuffer,
    /// The leader lease of lease mode (thesis §6.4.1).
    lease: LeaderLease,
}

/// How many emptied acknowledgement sets [`ReadOnly`] keeps for reuse: enough
/// for a few reads in flight at once, without holding on to the sets of a
/// large burst.
const SPARE_ACKS: usize = 8;

/// The length of a heartbeat context that carries a read token.
const TOKEN_LEN: usize = std::mem::size_of::<u64>();

/// The length of a heartbeat context in lease mode: the send tick, then a
/// read token (0 for none).
const LEASE_CONTEXT_LEN: usize = 2 * TOKEN_LEN;

/// How many tokens fit in one buffer of a [`ContextBuffer`].
const TOKENS_PER_BUFFER: usize = 64;

/// The heartbeat context that carries a read token.
#[cfg(test)]
pub(crate) fn token_context(token: u64) -> Vec<u8> {
    token.to_be_bytes().to_vec()
}

/// Heartbeat contexts for read tokens, sliced out of one shared buffer that
/// holds the encodings of [`TOKENS_PER_BUFFER`] consecutive tokens, rather
/// than allocated one by one. Tokens are handed out in order, so a new
/// buffer is needed once per [`TOKENS_PER_BUFFER`] reads; a context is a
/// reference into its buffer, which lives until the last of them is dropped.
#[derive(Debug, Clone, Default)]
struct ContextBuffer {
    /// The token encoded at the start of `encoded`.
    first: u64,
    /// The encodings of `first`, `first + 1`, ...
    encoded: Bytes,
}

impl ContextBuffer {
    /// The context of `token`, as [`context_token`] reads it back.
    fn context(&mut self, token: u64) -> Bytes {
        let at = match token.checked_sub(self.first) {
            Some(at) if at < (self.encoded.len() / TOKEN_LEN) as u64 => at as usize,
            _ => {
                self.refill(token);
                0
            }
        };
        self.encoded.slice(at * TOKEN_LEN..(at + 1) * TOKEN_LEN)
    }

    /// Starts a new buffer, at `token`.
    fn refill(&mut self, token: u64) {
        let mut encoded = Vec::with_capacity(TOKEN_LEN * TOKENS_PER_BUFFER);
        let mut next = Some(token);
        for _ in 0..TOKENS_PER_BUFFER {
            let Some(t) = next else { break };
            encoded.extend_from_slice(&t.to_be_bytes());
            next = t.checked_add(1);
        }
        self.first = token;
        self.encoded = Bytes::from(encoded);
    }
}

/// The heartbeat context of lease mode: the send tick and the token of the
/// newest pending read (0 when none is pending).
pub(crate) fn lease_context(send_tick: u64, token: u64) -> Bytes {
    let mut ctx = Vec::with_capacity(LEASE_CONTEXT_LEN);
    ctx.extend_from_slice(&send_tick.to_be_bytes());
    ctx.extend_from_slice(&token.to_be_bytes());
    Bytes::from(ctx)
}

/// The read token a heartbeat context carries, if any.
fn context_token(ctx: &[u8]) -> Option<u64> {
    let token = match ctx.len() {
        TOKEN_LEN => ctx,
        LEASE_CONTEXT_LEN => &ctx[TOKEN_LEN..],
        _ => return None,
    };
    let token = u64::from_be_bytes(token.try_into().ok()?);
    (token != 0).then_some(token)
}

/// The send tick a lease-mode heartbeat context carries, if it is one.
pub(crate) fn context_send_tick(ctx: &[u8]) -> Option<u64> {
    if ctx.len() != LEASE_CONTEXT_LEN {
        return None;
    }
    Some(u64::from_be_bytes(ctx[..TOKEN_LEN].try_into().ok()?))
}

impl ReadOnly {
    /// Creates an empty queue.
    pub fn new(option: ReadOnlyOption) -> ReadOnly {
        ReadOnly {
            option,
            next_token: 1,
            ..Default::default()
        }
    }

    /// The leader's read-round state, created on first use.
    fn rounds(&mut self) -> &mut ReadRounds {
        self.rounds.get_or_insert_with(Default::default)
    }

    /// The leader lease, if anything touched it this term (none behaves
    /// as a lease nobody acknowledged and no transfer ended).
    pub(crate) fn lease(&self) -> Option<&LeaderLease> {
        self.rounds.as_ref().map(|rounds| &rounds.lease)
    }

    /// The leader lease, created on first use.
    pub(crate) fn lease_mut(&mut self) -> &mut LeaderLease {
        &mut self.rounds().lease
    }

    /// Registers a read at commit index `index`, acknowledged by `self_id`,
    /// as the newest pending read: the next heartbeat round carries its
    /// token ([`heartbeat_context`](Self::heartbeat_context)). Returns
    /// false when a read with the same context is already pending (its
    /// round answers both).
    pub(crate) fn add_request(&mut self, index: u64, req: Message, self_id: u64) -> bool {
        if self
            .pending_read_index
            .contains_key(&req.entries[0].data[..])
        {
            return false;
        }
        let ctx = req.entries[0].data.to_vec();
        // The read's token is the current `next_token`: see `position_of`.
        self.next_token += 1;
        let mut acks = self.rounds().spare_acks.pop().unwrap_or_default();
        acks.insert(self_id);
        let status = ReadIndexStatus { req, index, acks };
        self.pending_read_index.insert(ctx.clone(), status);
        self.read_index_queue.push_back(ctx);
        debug_assert_eq!(
            self.read_index_queue.len(),
            self.pending_read_index.len(),
            "read queue and pending map disagree"
        );
        true
    }

    /// The context of a heartbeat sent at tick `now`: in safe mode the
    /// newest pending read's token (none when no read is pending), in lease
    /// mode the send tick and that token.
    pub(crate) fn heartbeat_context(&mut self, now: u64) -> Option<Bytes> {
        match self.option {
            ReadOnlyOption::Safe => self.last_pending_request_ctx(),
            ReadOnlyOption::LeaseBased => {
                let newest = if self.read_index_queue.is_empty() {
                    0
                } else {
                    self.next_token - 1
                };
                Some(lease_context(now, newest))
            }
        }
    }

    /// Records that `id` answered the heartbeat round carrying `ctx`, and
    /// returns the acknowledgements of that round's read, if it is pending.
    pub(crate) fn recv_ack(&mut self, id: u64, ctx: &[u8]) -> Option<&HashSet<u64>> {
        let at = self.position_of(context_token(ctx)?)?;
        // Looked up by reference: the key is not copied per acknowledgement.
        let status = self
            .pending_read_index
            .get_mut(&self.read_index_queue[at])?;
        status.acks.insert(id);
        Some(&status.acks)
    }

    /// The position in the queue of the read whose round carries `token`.
    fn position_of(&self, token: u64) -> Option<usize> {
        // Tokens are consecutive along the queue: `add_request` pushes
        // `next_token` at the back and only `pop_confirmed` removes, from
        // the front. So the front read holds `next_token - len`, and the
        // position follows without looking at the reads.
        let len = self.read_index_queue.len();
        let front = self.next_token.checked_sub(len as u64)?;
        let at = token.checked_sub(front)?;
        if at >= len as u64 {
            return None;
        }
        Some(at as usize)
    }

    /// Removes the read confirmed by the round carrying `ctx` together with
    /// every read registered before it (an acknowledgement sent after a read
    /// was registered also confirms the earlier ones), and returns the
    /// commit indexes they were registered at.
    #[cfg(test)]
    pub(crate) fn advance(&mut self, ctx: &[u8], logger: &Logger) -> Vec<u64> {
        let count = self.confirmed_by(ctx);
        (0..count).map(|_| self.pop_confirmed(logger).2).collect()
    }

    /// How many reads, from the oldest, the round carrying `ctx` confirms
    /// (see [`advance`](Self::advance)); take them with
    /// [`pop_confirmed`](Self::pop_confirmed). 0 when it names no pending
    /// read.
    pub(crate) fn confirmed_by(&self, ctx: &[u8]) -> usize {
        context_token(ctx)
            .and_then(|token| self.position_of(token))
            .map_or(0, |at| at + 1)
    }

    /// Removes the oldest pending read, returning its request context (the
    /// queue's copy, handed on rather than copied again), its request and
    /// the commit index it was registered at. Its acknowledgement set is
    /// kept for the next read.
    ///
    /// # Panics
    ///
    /// If no read is queued, or the queued one is not pending: the queue
    /// and the map always hold the same reads.
    pub(crate) fn pop_confirmed(&mut self, logger: &Logger) -> (Vec<u8>, Message, u64) {
        let Some(front) = self.read_index_queue.pop_front() else {
            crate::fatal!(logger, "no read is queued");
        };
        match self.pending_read_index.remove(&front) {
            Some(ReadIndexStatus {
                req,
                index,
                mut acks,
            }) => {
                let spare_acks = &mut self.rounds().spare_acks;
                if spare_acks.len() < SPARE_ACKS {
                    acks.clear();
                    spare_acks.push(acks);
                }
                (front, req, index)
            }
            None => crate::fatal!(
                logger,
                "read {:?} is queued but not pending ({} pending)",
                front,
                self.pending_read_index.len()
            ),
        }
    }

    /// How many reads, from the oldest, the acknowledgements already
    /// received confirm, as `is_quorum` judges them: up to and including
    /// the newest read whose acknowledgements make a quorum (a read
    /// confirmed confirms every earlier one). Take them with
    /// [`pop_confirmed`](Self::pop_confirmed).
    pub(crate) fn confirmed_by_quorum(&self, is_quorum: impl Fn(&HashSet<u64>) -> bool) -> usize {
        self.read_index_queue
            .iter()
            .rposition(|ctx| {
                self.pending_read_index
                    .get(ctx)
                    .is_some_and(|status| is_quorum(&status.acks))
            })
            .map_or(0, |at| at + 1)
    }

    /// The heartbeat context of the newest pending read, if any.
    pub(crate) fn last_pending_request_ctx(&mut self) -> Option<Bytes> {
        if self.read_index_queue.is_empty() {
            return None;
        }
        let token = self.next_token - 1;
        Some(self.rounds().contexts.context(token))
    }

    /// Whether this node is known to have committed an entry of `term`, as
    /// recorded by [`note_committed_in_term`](Self::note_committed_in_term).
    /// Such an entry stays committed for the rest of the term (the commit
    /// index never goes back), so the leader need not look at its log for
    /// every read (thesis §6.4, step 1).
    pub(crate) fn committed_in_term(&self, term: u64) -> bool {
        term != 0 && self.committed_term == term
    }

    /// Records that an entry of `term` is committed.
    pub(crate) fn note_committed_in_term(&mut self, term: u64) {
        self.committed_term = term;
    }

    /// Checks the invariants of the queue in O(1): the queue and the map
    /// hold as many reads (contexts are distinct, so then the same ones),
    /// both ends of the queue are pending, no read is registered past
    /// `committed` (the commit index never goes back), and the tokens of
    /// the queued reads, consecutive up to `next_token`, are all issued.
    ///
    /// # Panics
    ///
    /// Through `fatal!` when one is broken.
    #[cfg(debug_assertions)]
    pub(crate) fn check_invariants(&self, committed: u64, logger: &Logger) {
        let queued = self.read_index_queue.len();
        if queued != self.pending_read_index.len() || self.next_token <= queued as u64 {
            crate::fatal!(
                logger,
                "read queue of {} does not match {} pending reads (next token {})",
                queued,
                self.pending_read_index.len(),
                self.next_token
            );
        }
        for ctx in [self.read_index_queue.front(), self.read_index_queue.back()]
            .into_iter()
            .flatten()
        {
            match self.pending_read_index.get(ctx) {
                None => crate::fatal!(logger, "read {:?} is queued but not pending", ctx),
                Some(status) if status.index > committed => crate::fatal!(
                    logger,
                    "read {:?} registered at {} past the commit index {}",
                    ctx,
                    status.index,
                    committed
                ),
                Some(_) => {}
            }
        }
    }

    /// The number of pending reads.
    #[inline]
    pub fn pending_read_count(&self) -> usize {
        self.read_index_queue.len()
    }
}

#[cfg(all(test, debug_assertions))]
mod invariant_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eraftpb::Entry;

    fn req(ctx: &[u8]) -> Message {
        Message {
            entries: vec![Entry {
                data: bytes::Bytes::copy_from_slice(ctx),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn logger() -> Logger {
        Logger::root(slog::Discard, slog::o!())
    }

    /// Registers a read acknowledged by node 1, returning the context of
    /// its round (`None` when the context is already pending).
    fn add(ro: &mut ReadOnly, index: u64, ctx: &[u8]) -> Option<Bytes> {
        ro.add_request(index, req(ctx), 1)
            .then(|| ro.last_pending_request_ctx().unwrap())
    }

    #[test]
    fn reads_are_confirmed_in_order_by_a_later_round() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        let c1 = add(&mut ro, 5, b"a").unwrap();
        let c2 = add(&mut ro, 6, b"b").unwrap();
        assert_ne!(c1, c2);
        assert_eq!(ro.pending_read_count(), 2);
        assert_eq!(ro.last_pending_request_ctx(), Some(c2.clone()));
        assert_eq!(ro.recv_ack(2, &c2).unwrap().len(), 2);
        assert_eq!(ro.advance(&c2, &logger()), vec![5, 6]);
        assert_eq!(ro.pending_read_count(), 0);
        assert!(ro.pending_read_index.is_empty());
    }

    #[test]
    fn duplicate_pending_context_is_not_registered_twice() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        assert!(add(&mut ro, 5, b"a").is_some());
        assert!(add(&mut ro, 7, b"a").is_none());
        assert_eq!(ro.pending_read_count(), 1);
        assert_eq!(ro.pending_read_index[&b"a".to_vec()].index, 5);
    }

    /// etcd-io/etcd#20418: a retried read with the same context must not be
    /// confirmed by responses to the earlier round.
    #[test]
    fn retried_read_ignores_acks_of_an_earlier_round() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        let old = add(&mut ro, 5, b"a").unwrap();
        ro.recv_ack(2, &old);
        assert_eq!(ro.advance(&old, &logger()).len(), 1);
        // The retry reuses the caller's context.
        let new = add(&mut ro, 9, b"a").unwrap();
        assert_ne!(old, new);
        // A delayed response to the first round arrives.
        assert!(ro.recv_ack(3, &old).is_none());
        assert!(ro.advance(&old, &logger()).is_empty());
        assert_eq!(ro.pending_read_index[&b"a".to_vec()].acks.len(), 1);
        assert_eq!(ro.pending_read_count(), 1);
    }

    #[test]
    fn rounds_are_found_by_token_after_older_reads_are_confirmed() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        let c1 = add(&mut ro, 5, b"a").unwrap();
        let c2 = add(&mut ro, 6, b"b").unwrap();
        let c3 = add(&mut ro, 7, b"c").unwrap();
        assert_eq!(ro.confirmed_by(&c1), 1);
        assert_eq!(ro.confirmed_by(&c3), 3);
        assert_eq!(ro.advance(&c1, &logger()).len(), 1);
        // The confirmed round names nothing any more; the later ones keep
        // their places.
        assert_eq!(ro.confirmed_by(&c1), 0);
        assert!(ro.recv_ack(2, &c1).is_none());
        assert_eq!(ro.confirmed_by(&c2), 1);
        assert_eq!(ro.confirmed_by(&c3), 2);
        assert_eq!(ro.recv_ack(3, &c3).unwrap().len(), 2);
        assert_eq!(ro.pending_read_index[&b"c".to_vec()].acks.len(), 2);
        assert_eq!(ro.pending_read_index[&b"b".to_vec()].acks.len(), 1);
        // Tokens not handed out yet, or far out of range, name nothing.
        let next = add(&mut ro, 8, b"d").unwrap();
        assert_eq!(ro.confirmed_by(&next), 3);
        assert_eq!(ro.last_pending_request_ctx(), Some(next));
        for token in [0, 6, u64::MAX] {
            assert_eq!(ro.confirmed_by(&token_context(token)), 0, "token {token}");
        }
        assert_eq!(ro.advance(&c3, &logger()).len(), 2);
        assert_eq!(ro.pending_read_count(), 1);
    }

    #[test]
    fn a_new_read_starts_with_only_the_leader_acknowledging() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        let c1 = add(&mut ro, 5, b"a").unwrap();
        ro.recv_ack(2, &c1);
        ro.recv_ack(3, &c1);
        assert_eq!(ro.advance(&c1, &logger()), vec![5]);
        // The confirmed read's set is reused, emptied of its acks.
        let c2 = add(&mut ro, 6, b"b").unwrap();
        let acks = &ro.pending_read_index[&b"b".to_vec()].acks;
        assert_eq!(acks.iter().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(ro.recv_ack(3, &c2).unwrap().len(), 2);
        // A burst of confirmed reads keeps only a few sets.
        for i in 0..20u8 {
            add(&mut ro, 7, &[i]).unwrap();
        }
        let last = ro.last_pending_request_ctx().unwrap();
        assert_eq!(ro.advance(&last, &logger()).len(), 21);
        let spare_acks = &ro.rounds.as_ref().unwrap().spare_acks;
        assert_eq!(spare_acks.len(), SPARE_ACKS);
        assert!(spare_acks.iter().all(|acks| acks.is_empty()));
    }

    #[test]
    fn context_buffer_encodes_every_token_across_refills() {
        let mut buffer = ContextBuffer::default();
        let kept: Vec<Bytes> = (1..=3 * TOKENS_PER_BUFFER as u64)
            .map(|token| buffer.context(token))
            .collect();
        for (ctx, token) in kept.iter().zip(1..) {
            assert_eq!(context_token(ctx), Some(token));
        }
        // Contexts of one buffer share it.
        assert_eq!(kept[1].as_ptr(), kept[0].as_ptr().wrapping_add(TOKEN_LEN));
        // The current token again, an older one, and the very last ones.
        let last = 3 * TOKENS_PER_BUFFER as u64;
        assert_eq!(context_token(&buffer.context(last)), Some(last));
        assert_eq!(context_token(&buffer.context(2)), Some(2));
        assert_eq!(context_token(&buffer.context(u64::MAX)), Some(u64::MAX));
        assert_eq!(
            context_token(&buffer.context(u64::MAX - 1)),
            Some(u64::MAX - 1)
        );
        assert_eq!(context_token(&buffer.context(u64::MAX)), Some(u64::MAX));
    }

    #[test]
    fn a_commit_in_one_term_says_nothing_of_another() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        assert!(!ro.committed_in_term(0));
        assert!(!ro.committed_in_term(3));
        ro.note_committed_in_term(3);
        assert!(ro.committed_in_term(3));
        assert!(!ro.committed_in_term(4));
        assert!(!ro.committed_in_term(0));
        assert!(!ReadOnly::default().committed_in_term(0));
    }

    #[test]
    fn lease_contexts_carry_the_send_tick_and_the_newest_token() {
        let mut ro = ReadOnly::new(ReadOnlyOption::LeaseBased);
        let idle = ro.heartbeat_context(7).unwrap();
        assert_eq!(idle.len(), LEASE_CONTEXT_LEN);
        assert_eq!(context_send_tick(&idle), Some(7));
        // No read is pending: the context names none.
        assert_eq!(context_token(&idle), None);
        assert!(ro.recv_ack(2, &idle).is_none());
        assert_eq!(ro.confirmed_by(&idle), 0);

        assert!(ro.add_request(5, req(b"a"), 1));
        assert!(ro.add_request(6, req(b"b"), 1));
        let round = ro.heartbeat_context(9).unwrap();
        assert_eq!(context_send_tick(&round), Some(9));
        assert_eq!(context_token(&round), Some(2));
        assert_eq!(ro.recv_ack(2, &round).unwrap().len(), 2);
        assert_eq!(ro.confirmed_by(&round), 2);
        assert_eq!(ro.advance(&round, &logger()), vec![5, 6]);
    }

    #[test]
    fn token_and_lease_contexts_are_told_apart_by_length() {
        // A token alone carries no send tick, whatever its value.
        assert_eq!(context_send_tick(&token_context(7)), None);
        assert_eq!(context_token(&token_context(7)), Some(7));
        let lease = lease_context(3, 7);
        assert_eq!(
            (context_send_tick(&lease), context_token(&lease)),
            (Some(3), Some(7))
        );
        for bad in [&b""[..], b"short", &[0; 9], &[0; 15], &[0; 17]] {
            assert_eq!(context_send_tick(bad), None, "{bad:?}");
            assert_eq!(context_token(bad), None, "{bad:?}");
        }
        // Safe mode sends no context while no read is pending, as before.
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        assert_eq!(ro.heartbeat_context(4), None);
        assert!(ro.add_request(5, req(b"a"), 1));
        assert_eq!(ro.heartbeat_context(4), Some(Bytes::from(token_context(1))));
    }

    #[test]
    fn unknown_or_malformed_contexts_are_ignored() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        add(&mut ro, 5, b"a").unwrap();
        assert!(ro.recv_ack(2, b"").is_none());
        assert!(ro.recv_ack(2, b"short").is_none());
        assert!(ro.recv_ack(2, &token_context(999)).is_none());
        assert!(ro.advance(b"garbage", &logger()).is_empty());
        assert_eq!(ro.pending_read_count(), 1);
    }
}
