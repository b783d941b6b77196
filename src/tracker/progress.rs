//! What the leader knows about one follower's log.

use std::cmp;

use super::inflights::Inflights;
use super::state::ProgressState;
use crate::INVALID_INDEX;

/// The leader's view of one peer (voter or learner): how far its log is
/// known to match, what to send next, and how to send it.
///
/// Invariant kept by every method here: `matched < next_idx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The highest index known to be replicated on the peer (§5.3
    /// `matchIndex`).
    pub matched: u64,
    /// The index of the next entry to send (§5.3 `nextIndex`).
    pub next_idx: u64,
    /// How entries are sent to the peer. See [`ProgressState`].
    pub state: ProgressState,
    /// In probe state: a probe was sent and the next one waits for a
    /// response or a heartbeat interval.
    pub paused: bool,
    /// In snapshot state: the index of the snapshot being sent. Replication
    /// resumes once the peer has matched it.
    pub pending_snapshot: u64,
    /// The index at which the peer asked for a snapshot (e.g. after its
    /// state machine was lost); [`INVALID_INDEX`] when it did not ask.
    pub pending_request_snapshot: u64,
    /// Whether the peer was heard from since the last check-quorum round.
    /// A leader with check-quorum steps down when a quorum stays silent for
    /// an election timeout.
    pub recent_active: bool,
    /// The appends in flight to the peer in replicate state.
    pub ins: Inflights,
    /// The commit group of the peer for group commit; 0 means none assigned.
    pub commit_group_id: u64,
    /// The highest commit index the peer reported.
    pub committed_index: u64,
}

impl Progress {
    /// Creates the progress of a peer that has nothing matched yet, in probe
    /// state, with an inflight window of `ins_size` messages.
    pub fn new(next_idx: u64, ins_size: usize) -> Progress {
        Progress {
            matched: 0,
            next_idx,
            state: ProgressState::default(),
            paused: false,
            pending_snapshot: 0,
            pending_request_snapshot: INVALID_INDEX,
            recent_active: false,
            ins: Inflights::new(ins_size),
            commit_group_id: 0,
            committed_index: 0,
        }
    }

    /// Forgets what was learned about the peer, as a new leader does for
    /// every peer (§5.3: nextIndex starts just past the leader's log,
    /// matchIndex at 0): `matched = 0`, `next_idx = next_idx`, probe state,
    /// no snapshot pending or requested, not recently active, nothing in
    /// flight. Keeps `commit_group_id` (configuration, not observation) and
    /// `committed_index` (a peer's commit never goes back).
    pub fn reset(&mut self, next_idx: u64) {
        self.matched = 0;
        self.next_idx = next_idx;
        self.state = ProgressState::default();
        self.paused = false;
        self.pending_snapshot = 0;
        self.pending_request_snapshot = INVALID_INDEX;
        self.recent_active = false;
        self.ins.reset();
    }

    fn reset_state(&mut self, state: ProgressState) {
        self.paused = false;
        self.pending_snapshot = 0;
        self.state = state;
        self.ins.reset();
    }

    /// Moves to probe state. After a snapshot the peer is probed just past
    /// the snapshot (or past `matched` if that is further), otherwise just
    /// past `matched`.
    pub fn become_probe(&mut self) {
        if self.state == ProgressState::Snapshot {
            let pending_snapshot = self.pending_snapshot;
            self.reset_state(ProgressState::Probe);
            self.next_idx = cmp::max(self.matched, pending_snapshot).saturating_add(1);
        } else {
            self.reset_state(ProgressState::Probe);
            self.next_idx = self.matched.saturating_add(1);
        }
        debug_assert!(self.matched < self.next_idx);
    }

    /// Moves to replicate state, streaming from just past `matched`.
    pub fn become_replicate(&mut self) {
        self.reset_state(ProgressState::Replicate);
        self.next_idx = self.matched.saturating_add(1);
    }

    /// Moves to snapshot state while a snapshot at `snapshot_idx` is sent.
    pub fn become_snapshot(&mut self, snapshot_idx: u64) {
        self.reset_state(ProgressState::Snapshot);
        self.pending_snapshot = snapshot_idx;
    }

    /// Forgets the pending snapshot after the application reported that
    /// sending it failed; the next probe then starts from `matched`.
    pub fn snapshot_failure(&mut self) {
        self.pending_snapshot = 0;
    }

    /// Checks whether the peer, in snapshot state, has matched the pending
    /// snapshot (so it can be probed again).
    pub fn is_snapshot_caught_up(&self) -> bool {
        self.state == ProgressState::Snapshot && self.matched >= self.pending_snapshot
    }

    /// Records that the peer acknowledged the log up to `n`. Returns whether
    /// `matched` rose; if so, a paused probe is resumed. `next_idx` never
    /// falls behind `n + 1`. Older acknowledgements change nothing.
    pub fn maybe_update(&mut self, n: u64) -> bool {
        let raised = self.matched < n;
        if raised {
            self.matched = n;
            self.resume();
        }
        self.next_idx = cmp::max(self.next_idx, n.saturating_add(1));
        debug_assert!(self.matched < self.next_idx && self.matched >= n);
        raised
    }

    /// Records the commit index the peer reported; it never goes back.
    pub fn update_committed(&mut self, committed_index: u64) {
        self.committed_index = cmp::max(self.committed_index, committed_index);
    }

    /// Advances `next_idx` past `n` after an append up to `n` was sent,
    /// before it is acknowledged (replicate state).
    pub fn optimistic_update(&mut self, n: u64) {
        debug_assert!(
            n >= self.matched,
            "optimistic update to {n} below matched {}",
            self.matched
        );
        self.next_idx = n.saturating_add(1);
    }

    /// Handles a rejected append: the peer refused the entry at `rejected`
    /// and hinted that its log may match up to `match_hint`; a non-zero
    /// `request_snapshot` means the peer asks for a snapshot instead. Returns
    /// false when the rejection is stale (it answers an append the leader
    /// has moved past) and changed nothing.
    ///
    /// `next_idx` never goes to or below `matched` (etcd-io/raft#149, tikv/raft-rs#555: a stale or
    /// lying hint must not make the leader resend what is already matched,
    /// nor break `matched < next_idx`).
    ///
    /// One exception lowers `matched`: in replicate state, a rejection of
    /// `matched` itself whose hint is below it says the peer does not hold
    /// `matched`. The acknowledgement it came from was then stale, sent by
    /// an earlier incarnation of a peer removed and added again in this
    /// term (tikv/raft-rs#571, etcd-io/raft#349); the leader cannot tell the
    /// incarnations apart by the messages, and if it trusted `matched` it
    /// would send appends the peer rejects, forever. Probing from the hint
    /// costs at most one round trip when the rejection was itself the stale
    /// one. Safe for commitment: the commit index never moves back, and such
    /// an acknowledgement names an entry before the re-add, which was
    /// committed before the new incarnation was tracked.
    pub fn maybe_decr_to(&mut self, rejected: u64, match_hint: u64, request_snapshot: u64) -> bool {
        let asks_snapshot = request_snapshot != INVALID_INDEX;
        if self.state == ProgressState::Replicate {
            if rejected == self.matched && !asks_snapshot && match_hint < self.matched {
                self.matched = match_hint;
                self.become_probe();
                return true;
            }
            // Everything up to `matched` is acknowledged, so a rejection at
            // or below it answers an older append. A snapshot request is
            // taken even when it rejects `matched` itself.
            if rejected < self.matched || (rejected == self.matched && !asks_snapshot) {
                return false;
            }
            if asks_snapshot {
                self.pending_request_snapshot = request_snapshot;
            } else {
                // Appends after `matched` are in flight and will be
                // rejected too; restart right after `matched` (§5.3).
                self.next_idx = self.matched.saturating_add(1);
            }
            return true;
        }

        // Probe (or snapshot) state: only the probe at `next_idx - 1` is
        // outstanding, so any other rejection is stale.
        if self.next_idx.checked_sub(1) != Some(rejected) && !asks_snapshot {
            return false;
        }
        if asks_snapshot {
            if self.pending_request_snapshot == INVALID_INDEX {
                self.pending_request_snapshot = request_snapshot;
            }
        } else {
            if rejected == self.matched && match_hint < self.matched {
                // The probe of `matched` itself is refused: the peer does
                // not hold what an acknowledgement said (an earlier
                // incarnation's, arriving late). Believe the rejection, as
                // in replicate state, or probe the same index forever.
                self.matched = match_hint;
            }
            // Jump back to the follower's hint (fast backtracking, §5.3 end)
            // but never below what it has already matched.
            let hinted = cmp::min(rejected, match_hint.saturating_add(1));
            self.next_idx = cmp::max(hinted, self.matched.saturating_add(1));
        }
        self.resume();
        debug_assert!(self.matched < self.next_idx);
        true
    }

    /// Checks the invariants of the peer's progress: `matched < next_idx`;
    /// only replicate state has appends in flight; only snapshot state a
    /// pending snapshot; only probe state pauses; and those of the
    /// inflight window.
    ///
    /// # Panics
    ///
    /// Through `fatal!` when one is broken.
    #[cfg(debug_assertions)]
    pub(crate) fn check_invariants(&self, peer: u64, logger: &slog::Logger) {
        if self.matched >= self.next_idx {
            crate::fatal!(
                logger,
                "progress of peer {}: matched {} is not below next_idx {}",
                peer,
                self.matched,
                self.next_idx
            );
        }
        let in_flight = self.ins.count();
        let misplaced = match self.state {
            ProgressState::Probe => in_flight > 0 || self.pending_snapshot != 0,
            ProgressState::Replicate => self.paused || self.pending_snapshot != 0,
            ProgressState::Snapshot => in_flight > 0 || self.paused,
        };
        if misplaced {
            crate::fatal!(
                logger,
                "progress of peer {} in state {:?}: {} in flight, paused {}, pending snapshot {}",
                peer,
                self.state,
                in_flight,
                self.paused,
                self.pending_snapshot
            );
        }
        self.ins.check_invariants(peer, logger);
    }

    /// Checks whether sending appends to the peer must wait: a probe is
    /// outstanding, the inflight window is full (by message count or, with
    /// `Config::max_inflight_bytes`, by payload bytes), or a snapshot is on
    /// its way.
    pub fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.paused,
            ProgressState::Replicate => self.ins.full(),
            ProgressState::Snapshot => true,
        }
    }

    /// Stops probing until [`resume`](Self::resume).
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Allows the next probe.
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// Records that an append ending at `last` was sent, counting no
    /// payload bytes: see [`sent_entries`](Self::sent_entries).
    ///
    /// # Panics
    ///
    /// In snapshot state, where the leader sends no appends.
    pub fn update_state(&mut self, last: u64) {
        self.sent_entries(last, 0);
    }

    /// Records that an append ending at `last`, whose entries carry
    /// `payload_bytes` bytes, was sent: in replicate state `next_idx` moves
    /// past it and it enters the inflight window (its bytes count against
    /// the window's byte limit); in probe state probing pauses until the
    /// peer answers.
    ///
    /// # Panics
    ///
    /// In snapshot state, where the leader sends no appends.
    pub fn sent_entries(&mut self, last: u64, payload_bytes: u64) {
        match self.state {
            ProgressState::Replicate => {
                self.optimistic_update(last);
                self.ins.add_with_bytes(last, payload_bytes);
            }
            ProgressState::Probe => self.pause(),
            ProgressState::Snapshot => panic!(
                "append up to {last} sent to a peer in snapshot state \
                 (matched {}, next_idx {}, pending_snapshot {})",
                self.matched, self.next_idx, self.pending_snapshot
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(state: ProgressState, matched: u64, next_idx: u64) -> Progress {
        let mut pr = Progress::new(next_idx, 256);
        pr.state = state;
        pr.matched = matched;
        pr
    }

    #[test]
    fn new_progress_probes_with_nothing_matched() {
        let pr = Progress::new(7, 16);
        assert_eq!((pr.matched, pr.next_idx), (0, 7));
        assert_eq!(pr.state, ProgressState::Probe);
        assert!(!pr.paused && !pr.recent_active && !pr.is_paused());
        assert_eq!(pr.pending_request_snapshot, INVALID_INDEX);
        assert_eq!(pr.ins, Inflights::new(16));
    }

    #[test]
    fn reset_forgets_observations_but_keeps_group_and_commit() {
        let mut pr = progress(ProgressState::Replicate, 5, 9);
        pr.ins.add(7);
        pr.recent_active = true;
        pr.pending_request_snapshot = 4;
        pr.commit_group_id = 2;
        pr.committed_index = 3;
        pr.reset(11);
        assert_eq!((pr.matched, pr.next_idx), (0, 11));
        assert_eq!(pr.state, ProgressState::Probe);
        assert!(!pr.recent_active && !pr.paused);
        assert_eq!(pr.pending_request_snapshot, INVALID_INDEX);
        assert_eq!(pr.ins.count(), 0);
        assert!(!pr.ins.buffer_is_allocated());
        assert_eq!((pr.commit_group_id, pr.committed_index), (2, 3));
    }

    #[test]
    fn become_probe_starts_after_matched_or_snapshot() {
        // (state, matched, next, pending_snapshot, want next)
        let cases = [
            (ProgressState::Replicate, 1, 5, 0, 2),
            (ProgressState::Probe, 3, 9, 0, 4),
            (ProgressState::Snapshot, 1, 5, 10, 11),
            (ProgressState::Snapshot, 1, 5, 0, 2),
            (ProgressState::Snapshot, 12, 13, 10, 13),
        ];
        for (i, (state, matched, next, pending, want)) in cases.into_iter().enumerate() {
            let mut pr = progress(state, matched, next);
            pr.pending_snapshot = pending;
            pr.paused = true;
            pr.become_probe();
            assert_eq!(pr.state, ProgressState::Probe, "#{i}");
            assert_eq!(pr.next_idx, want, "#{i}");
            assert_eq!(pr.pending_snapshot, 0, "#{i}");
            assert!(!pr.paused, "#{i}");
        }
    }

    #[test]
    fn become_replicate_streams_after_matched() {
        let mut pr = progress(ProgressState::Probe, 1, 5);
        pr.become_replicate();
        assert_eq!(pr.state, ProgressState::Replicate);
        assert_eq!((pr.matched, pr.next_idx), (1, 2));
    }

    #[test]
    fn become_snapshot_records_the_snapshot_and_clears_the_window() {
        let mut pr = progress(ProgressState::Replicate, 1, 5);
        pr.ins.add(4);
        pr.become_snapshot(10);
        assert_eq!(pr.state, ProgressState::Snapshot);
        assert_eq!(pr.pending_snapshot, 10);
        assert_eq!((pr.matched, pr.next_idx), (1, 5));
        assert_eq!(pr.ins.count(), 0);
        assert!(pr.is_paused());
    }

    #[test]
    fn snapshot_failure_probes_from_matched() {
        let mut pr = progress(ProgressState::Probe, 3, 4);
        pr.become_snapshot(10);
        pr.snapshot_failure();
        assert_eq!(pr.pending_snapshot, 0);
        pr.become_probe();
        assert_eq!(pr.next_idx, 4);
    }

    #[test]
    fn snapshot_is_caught_up_once_matched_reaches_it() {
        let mut pr = progress(ProgressState::Probe, 3, 4);
        assert!(!pr.is_snapshot_caught_up(), "not in snapshot state");
        pr.become_snapshot(10);
        assert!(!pr.is_snapshot_caught_up());
        pr.maybe_update(9);
        assert!(!pr.is_snapshot_caught_up());
        pr.maybe_update(10);
        assert!(pr.is_snapshot_caught_up());
    }

    #[test]
    fn maybe_update_raises_match_and_next_only() {
        let (matched, next) = (5, 7);
        // (update, want matched, want next, want raised)
        let cases = [
            (matched - 1, matched, next, false),
            (matched, matched, next, false),
            (matched + 1, matched + 1, next, true),
            (matched + 2, matched + 2, next + 1, true),
        ];
        for (i, (n, want_match, want_next, want_raised)) in cases.into_iter().enumerate() {
            let mut pr = progress(ProgressState::Probe, matched, next);
            pr.pause();
            assert_eq!(pr.maybe_update(n), want_raised, "#{i}");
            assert_eq!(pr.matched, want_match, "#{i}");
            assert_eq!(pr.next_idx, want_next, "#{i}");
            assert_eq!(pr.paused, !want_raised, "#{i}: a raise resumes");
        }
    }

    #[test]
    fn update_committed_never_goes_back() {
        let mut pr = Progress::new(1, 1);
        pr.update_committed(5);
        pr.update_committed(3);
        assert_eq!(pr.committed_index, 5);
        pr.update_committed(6);
        assert_eq!(pr.committed_index, 6);
    }

    #[test]
    fn optimistic_update_moves_next_past_the_sent_entries() {
        let mut pr = progress(ProgressState::Replicate, 1, 2);
        pr.optimistic_update(9);
        assert_eq!((pr.matched, pr.next_idx), (1, 10));
    }

    #[test]
    fn maybe_decr_to_in_replicate_state() {
        // (matched, next, rejected, hint, want result, want next)
        let cases = [
            // Rejecting an index at or below matched is stale.
            (5, 10, 5, 5, false, 10),
            (5, 10, 4, 4, false, 10),
            // Otherwise restart right after matched, whatever the hint.
            (5, 10, 9, 9, true, 6),
            (5, 10, 9, 2, true, 6),
        ];
        for (i, (matched, next, rejected, hint, want, want_next)) in cases.into_iter().enumerate() {
            let mut pr = progress(ProgressState::Replicate, matched, next);
            assert_eq!(
                pr.maybe_decr_to(rejected, hint, INVALID_INDEX),
                want,
                "#{i}"
            );
            assert_eq!((pr.matched, pr.next_idx), (matched, want_next), "#{i}");
        }
    }

    #[test]
    fn rejection_of_matched_itself_below_the_hint_lowers_matched() {
        // The peer rejects `matched` and hints it holds only up to 2: the
        // acknowledgement of 5 was stale (an earlier incarnation's). Probe
        // from the hint instead of sending appends it rejects forever.
        let mut pr = progress(ProgressState::Replicate, 5, 8);
        pr.ins.add(7);
        assert!(pr.maybe_decr_to(5, 2, INVALID_INDEX));
        assert_eq!((pr.matched, pr.next_idx), (2, 3));
        assert_eq!(pr.state, ProgressState::Probe);
        assert_eq!(pr.ins.count(), 0);
        // A hint at `matched` says the peer holds it: stale, as before.
        let mut pr = progress(ProgressState::Replicate, 5, 8);
        assert!(!pr.maybe_decr_to(5, 5, INVALID_INDEX));
        assert_eq!((pr.matched, pr.next_idx), (5, 8));
    }

    #[test]
    fn probe_of_matched_itself_refused_below_the_hint_lowers_matched() {
        // Probe state with `matched` 22 from a late acknowledgement of an
        // earlier incarnation; the new one holds only up to 14 and refuses
        // the probe at 22. Found by the simulator (seed 20065988, high
        // faults): the leader probed 22 forever.
        let mut pr = progress(ProgressState::Probe, 22, 23);
        pr.pause();
        assert!(pr.maybe_decr_to(22, 14, INVALID_INDEX));
        assert_eq!((pr.matched, pr.next_idx), (14, 15));
        // A hint at `matched` says the peer holds it: nothing to lower.
        let mut pr = progress(ProgressState::Probe, 22, 23);
        assert!(pr.maybe_decr_to(22, 22, INVALID_INDEX));
        assert_eq!((pr.matched, pr.next_idx), (22, 23));
    }

    #[test]
    fn maybe_decr_to_in_probe_state() {
        // (matched, next, rejected, hint, want result, want next)
        let cases = [
            // Only a rejection of next - 1 answers the outstanding probe.
            (0, 10, 5, 5, false, 10),
            (0, 10, 10, 10, false, 10),
            (0, 0, 0, 0, false, 0),
            // Go back to the hint + 1 ...
            (0, 10, 9, 9, true, 9),
            (0, 10, 9, 4, true, 5),
            (0, 10, 9, 0, true, 1),
            // ... or to the rejected index when the hint is past it.
            (0, 10, 9, 20, true, 9),
            (0, 10, 9, u64::MAX, true, 9),
        ];
        for (i, (matched, next, rejected, hint, want, want_next)) in cases.into_iter().enumerate() {
            let mut pr = progress(ProgressState::Probe, matched, next);
            pr.pause();
            assert_eq!(
                pr.maybe_decr_to(rejected, hint, INVALID_INDEX),
                want,
                "#{i}"
            );
            assert_eq!(pr.next_idx, want_next, "#{i}");
            assert_eq!(pr.paused, !want, "#{i}: a real rejection resumes probing");
        }
    }

    /// etcd-io/raft#149, tikv/raft-rs#555/#557: a rejection whose
    /// hint is below `matched` must not move `next_idx` to or below
    /// `matched`.
    #[test]
    fn probe_rejection_never_moves_next_to_or_below_matched() {
        let mut pr = progress(ProgressState::Probe, 5, 8);
        assert!(pr.maybe_decr_to(7, 2, INVALID_INDEX));
        assert_eq!(pr.next_idx, 6);
        assert!(pr.matched < pr.next_idx);

        // Rejecting exactly the matched index with a low hint says the
        // peer does not hold `matched`: both move back together, so
        // `next_idx` still stays past `matched` (see
        // `probe_of_matched_itself_refused_below_the_hint_lowers_matched`).
        let mut pr = progress(ProgressState::Probe, 5, 6);
        assert!(pr.maybe_decr_to(5, 0, INVALID_INDEX));
        assert_eq!((pr.matched, pr.next_idx), (0, 1));
    }

    #[test]
    fn snapshot_request_is_recorded_in_replicate_state() {
        let mut pr = progress(ProgressState::Replicate, 5, 10);
        // Taken even when it rejects `matched` itself, and next is kept.
        assert!(pr.maybe_decr_to(5, 5, 7));
        assert_eq!(pr.pending_request_snapshot, 7);
        assert_eq!(pr.next_idx, 10);
        // Still stale below matched.
        let mut pr = progress(ProgressState::Replicate, 5, 10);
        assert!(!pr.maybe_decr_to(4, 4, 7));
        assert_eq!(pr.pending_request_snapshot, INVALID_INDEX);
    }

    #[test]
    fn snapshot_request_is_recorded_once_in_probe_state() {
        let mut pr = progress(ProgressState::Probe, 5, 10);
        pr.pause();
        // Accepted even though 3 is not the outstanding probe.
        assert!(pr.maybe_decr_to(3, 3, 7));
        assert_eq!(pr.pending_request_snapshot, 7);
        assert_eq!(pr.next_idx, 10);
        assert!(!pr.paused);
        assert!(pr.maybe_decr_to(3, 3, 8));
        assert_eq!(pr.pending_request_snapshot, 7, "the first request is kept");
    }

    #[test]
    fn paused_depends_on_state() {
        let mut pr = progress(ProgressState::Probe, 0, 1);
        assert!(!pr.is_paused());
        pr.pause();
        assert!(pr.is_paused());
        pr.resume();
        assert!(!pr.is_paused());

        let mut pr = Progress::new(1, 2);
        pr.become_replicate();
        pr.pause();
        assert!(!pr.is_paused(), "replicate ignores the probe flag");
        pr.update_state(1);
        pr.update_state(2);
        assert!(pr.is_paused(), "window full");
        pr.ins.free_to(1);
        assert!(!pr.is_paused());

        pr.become_snapshot(5);
        assert!(pr.is_paused());
    }

    #[test]
    fn update_state_in_replicate_fills_the_window() {
        let mut pr = progress(ProgressState::Replicate, 3, 4);
        pr.update_state(6);
        pr.update_state(9);
        assert_eq!(pr.next_idx, 10);
        assert_eq!(pr.ins.count(), 2);
        pr.ins.free_to(6);
        assert_eq!(pr.ins.count(), 1);
    }

    #[test]
    fn sent_entries_pauses_replication_once_the_byte_limit_is_reached() {
        let mut pr = progress(ProgressState::Replicate, 3, 4);
        pr.ins.set_max_bytes(100);
        pr.sent_entries(5, 60);
        assert!(!pr.is_paused());
        pr.sent_entries(7, 60);
        assert!(pr.is_paused(), "120 of 100 bytes in flight");
        assert_eq!((pr.next_idx, pr.ins.count(), pr.ins.bytes()), (8, 2, 120));
        // The acknowledgement of index 5 frees its 60 bytes.
        assert!(pr.maybe_update(5));
        pr.ins.free_to(5);
        assert!(!pr.is_paused());
        assert_eq!(pr.ins.bytes(), 60);
    }

    // etcd-io/raft#54: every state change resets the window, bytes
    // included, or a follower that left replicate state with bytes in
    // flight would come back paused for good.
    #[test]
    fn state_changes_forget_the_bytes_in_flight() {
        type Change = fn(&mut Progress);
        let changes: [(&str, Change); 4] = [
            ("probe", |pr| pr.become_probe()),
            ("replicate", |pr| pr.become_replicate()),
            ("snapshot", |pr| pr.become_snapshot(9)),
            ("reset", |pr| pr.reset(9)),
        ];
        for (name, change) in changes {
            let mut pr = progress(ProgressState::Replicate, 3, 4);
            pr.ins.set_max_bytes(100);
            pr.sent_entries(5, 150);
            assert!(pr.is_paused());
            change(&mut pr);
            assert_eq!(pr.ins.bytes(), 0, "{name}");
            assert_eq!(pr.ins.max_bytes(), 100, "{name} keeps the limit");
            pr.become_replicate();
            assert!(!pr.is_paused(), "{name}");
        }
    }

    #[test]
    fn update_state_in_probe_pauses() {
        let mut pr = progress(ProgressState::Probe, 3, 4);
        pr.update_state(6);
        assert!(pr.paused);
        assert_eq!(pr.next_idx, 4, "probe does not move next optimistically");
    }

    #[test]
    #[should_panic(expected = "snapshot state (matched 3, next_idx 4, pending_snapshot 9)")]
    fn update_state_in_snapshot_panics() {
        let mut pr = progress(ProgressState::Probe, 3, 4);
        pr.become_snapshot(9);
        pr.update_state(6);
    }

    proptest::proptest! {
        /// `matched < next_idx` survives any sequence of responses.
        #[test]
        fn next_stays_above_matched(
            ops in proptest::collection::vec((0u8..6, 0u64..30, 0u64..30), 0..50),
        ) {
            let mut pr = Progress::new(1, 4);
            for (op, a, b) in ops {
                match op {
                    0 => { pr.maybe_update(a); }
                    1 => { pr.maybe_decr_to(a, b, INVALID_INDEX); }
                    2 => pr.become_probe(),
                    3 => pr.become_replicate(),
                    4 => pr.become_snapshot(a),
                    _ => {
                        if pr.state != ProgressState::Snapshot && !pr.is_paused() {
                            let last = pr.next_idx + a % 3;
                            pr.update_state(last);
                        }
                    }
                }
                proptest::prop_assert!(
                    pr.matched < pr.next_idx,
                    "matched {} next {}", pr.matched, pr.next_idx
                );
            }
        }
    }
}
