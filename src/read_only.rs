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

use std::collections::VecDeque;

use bytes::Bytes;
use slog::Logger;

use crate::eraftpb::Message;
use crate::{HashMap, HashSet};

/// How the leader confirms it may answer a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadOnlyOption {
    /// Confirm leadership with a heartbeat round to a quorum (thesis §6.4).
    #[default]
    Safe,
    /// Trust the leader lease (thesis §6.4.1). Requires `check_quorum`, and
    /// is only safe while clock drift is bounded.
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
    /// Emptied acknowledgement sets of confirmed reads, reused by the next
    /// reads so that registering one does not allocate.
    spare_acks: Vec<HashSet<u64>>,
    /// Where the heartbeat contexts of read rounds are written.
    contexts: ContextBuffer,
    /// A term in which this node is known to have committed an entry of
    /// its own (0 when none is known); see
    /// [`committed_in_term`](Self::committed_in_term).
    committed_term: u64,
}

/// How many emptied acknowledgement sets [`ReadOnly`] keeps for reuse: enough
/// for a few reads in flight at once, without holding on to the sets of a
/// large burst.
const SPARE_ACKS: usize = 8;

/// The length of a heartbeat context that carries a read token.
const TOKEN_LEN: usize = std::mem::size_of::<u64>();

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

fn context_token(ctx: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = ctx.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
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

    /// Registers a read at commit index `index`, acknowledged by `self_id`.
    /// Returns the heartbeat context of its round, or `None` when a read
    /// with the same context is already pending (it will answer both).
    pub(crate) fn add_request(&mut self, index: u64, req: Message, self_id: u64) -> Option<Bytes> {
        if self
            .pending_read_index
            .contains_key(&req.entries[0].data[..])
        {
            return None;
        }
        let ctx = req.entries[0].data.to_vec();
        let token = self.next_token;
        self.next_token += 1;
        let mut acks = self.spare_acks.pop().unwrap_or_default();
        acks.insert(self_id);
        let status = ReadIndexStatus { req, index, acks };
        self.pending_read_index.insert(ctx.clone(), status);
        self.read_index_queue.push_back(ctx);
        debug_assert_eq!(
            self.read_index_queue.len(),
            self.pending_read_index.len(),
            "read queue and pending map disagree"
        );
        Some(self.contexts.context(token))
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
                if self.spare_acks.len() < SPARE_ACKS {
                    acks.clear();
                    self.spare_acks.push(acks);
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
        Some(self.contexts.context(self.next_token - 1))
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

    #[test]
    fn reads_are_confirmed_in_order_by_a_later_round() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        let c1 = ro.add_request(5, req(b"a"), 1).unwrap();
        let c2 = ro.add_request(6, req(b"b"), 1).unwrap();
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
        assert!(ro.add_request(5, req(b"a"), 1).is_some());
        assert!(ro.add_request(7, req(b"a"), 1).is_none());
        assert_eq!(ro.pending_read_count(), 1);
        assert_eq!(ro.pending_read_index[&b"a".to_vec()].index, 5);
    }

    /// etcd-io/etcd#20418: a retried read with the same context must not be
    /// confirmed by responses to the earlier round.
    #[test]
    fn retried_read_ignores_acks_of_an_earlier_round() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        let old = ro.add_request(5, req(b"a"), 1).unwrap();
        ro.recv_ack(2, &old);
        assert_eq!(ro.advance(&old, &logger()).len(), 1);
        // The retry reuses the caller's context.
        let new = ro.add_request(9, req(b"a"), 1).unwrap();
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
        let c1 = ro.add_request(5, req(b"a"), 1).unwrap();
        let c2 = ro.add_request(6, req(b"b"), 1).unwrap();
        let c3 = ro.add_request(7, req(b"c"), 1).unwrap();
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
        let next = ro.add_request(8, req(b"d"), 1).unwrap();
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
        let c1 = ro.add_request(5, req(b"a"), 1).unwrap();
        ro.recv_ack(2, &c1);
        ro.recv_ack(3, &c1);
        assert_eq!(ro.advance(&c1, &logger()), vec![5]);
        // The confirmed read's set is reused, emptied of its acks.
        let c2 = ro.add_request(6, req(b"b"), 1).unwrap();
        let acks = &ro.pending_read_index[&b"b".to_vec()].acks;
        assert_eq!(acks.iter().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(ro.recv_ack(3, &c2).unwrap().len(), 2);
        // A burst of confirmed reads keeps only a few sets.
        for i in 0..20u8 {
            ro.add_request(7, req(&[i]), 1).unwrap();
        }
        let last = ro.last_pending_request_ctx().unwrap();
        assert_eq!(ro.advance(&last, &logger()).len(), 21);
        assert_eq!(ro.spare_acks.len(), SPARE_ACKS);
        assert!(ro.spare_acks.iter().all(|acks| acks.is_empty()));
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
    fn unknown_or_malformed_contexts_are_ignored() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        ro.add_request(5, req(b"a"), 1).unwrap();
        assert!(ro.recv_ack(2, b"").is_none());
        assert!(ro.recv_ack(2, b"short").is_none());
        assert!(ro.recv_ack(2, &token_context(999)).is_none());
        assert!(ro.advance(b"garbage", &logger()).is_empty());
        assert_eq!(ro.pending_read_count(), 1);
    }
}
