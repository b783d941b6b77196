//! Ticks, campaigns, votes and role transitions (§5.2, §5.4.1, thesis §9.6).

use std::fmt;

use slog::{debug, info, warn};

use crate::eraftpb::{EntryType, Message, MessageType};
use crate::errors::{Error, StorageError};
use crate::quorum::VoteResult;
use crate::storage::{GetEntriesContext, GetEntriesFor, Storage};
use crate::{ReadOnlyOption, INVALID_ID, INVALID_INDEX};

use super::{
    message_priority, vote_resp_msg_type, Raft, StateRole, CAMPAIGN_ELECTION,
    CAMPAIGN_PRE_ELECTION, CAMPAIGN_TRANSFER,
};

/// The byte size of one page when scanning unapplied entries for
/// configuration changes.
const CONF_SCAN_PAGE_BYTES: u64 = 1 << 20;

/// Up to this many voters, a campaign sorts their ids on the stack.
const STACK_VOTERS: usize = 16;

/// What a scan of the committed entries not yet applied found.
enum UnappliedConfChanges {
    /// No configuration change, or only compacted entries (a snapshot
    /// brought their configuration).
    None,
    /// At least one configuration change.
    Some,
    /// The entries could not be read: the storage is fetching them, or
    /// failed. A node that cannot rule a change out must act as if there
    /// were one (it might campaign with a stale voter set otherwise).
    Unknown(Error),
}

/// A number for a log message, computed only if the message is formatted:
/// a line the drain filters out then costs no storage reads.
struct Lazy<F>(F);

impl<F: Fn() -> u64> fmt::Display for Lazy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&(self.0)(), f)
    }
}

impl<T: Storage> Raft<T> {
    /// Advances the node's clock by one tick. Returns true when the tick
    /// produced work (a campaign or a heartbeat) the driver should look at.
    pub fn tick(&mut self) -> bool {
        match self.state {
            StateRole::Follower | StateRole::PreCandidate | StateRole::Candidate => {
                self.tick_election()
            }
            StateRole::Leader => self.tick_heartbeat(),
        }
    }

    /// The tick of a non-leader: campaign once the randomized election
    /// timeout passes without word from a leader (§5.2).
    pub fn tick_election(&mut self) -> bool {
        self.ticks += 1;
        self.election_elapsed += 1;
        if !self.pass_election_timeout() || !self.promotable {
            return false;
        }
        self.election_elapsed = 0;
        let mut m = Message::new();
        m.set_msg_type(MessageType::MsgHup);
        m.from = self.id;
        let _ = self.step(m);
        true
    }

    /// Starts an election unless this node may not: it leads already, it is
    /// not a voter, or it has committed configuration changes it has not
    /// applied (its idea of the voters may be stale, etcd-io/etcd#7280).
    pub(crate) fn hup(&mut self, transfer_leader: bool) {
        if self.state == StateRole::Leader {
            debug!(self.logger, "ignoring MsgHup because already leader");
            return;
        }
        if !self.promotable {
            info!(self.logger, "is not promotable; ignoring MsgHup");
            return;
        }
        if !transfer_leader && self.lease_forbids_vote() {
            // A campaign votes for this node; in lease mode that waits as
            // a vote for another would (thesis §6.4.1). An election
            // timeout never fires this early: it counts from the same
            // contact or a later event.
            info!(
                self.logger,
                "not campaigning: a leader's lease may still rely on this node";
                "remaining ticks" => self.vote_lease_remaining_ticks(),
            );
            return;
        }
        if self.term == u64::MAX {
            // Only a nonsense term from a peer can bring a node here; a
            // campaign would need term + 1.
            warn!(self.logger, "cannot campaign: the term is at its maximum"; "term" => self.term);
            return;
        }
        if self.has_unapplied_conf_changes(GetEntriesFor::Empty(false)) {
            info!(
                self.logger,
                "cannot campaign: there are committed configuration changes not yet applied";
                "applied" => self.raft_log.applied,
                "committed" => self.raft_log.committed,
            );
            return;
        }

        info!(self.logger, "starting a new election"; "term" => self.term);
        if transfer_leader {
            self.campaign(CAMPAIGN_TRANSFER);
        } else if self.pre_vote {
            self.campaign(CAMPAIGN_PRE_ELECTION);
        } else {
            self.campaign(CAMPAIGN_ELECTION);
        }
    }

    /// Whether a configuration change is committed but not yet applied, as
    /// far as this node can tell: entries it cannot read for any reason
    /// but compaction count as holding one (see [`UnappliedConfChanges`]).
    fn has_unapplied_conf_changes(&self, purpose: GetEntriesFor) -> bool {
        match self.scan_unapplied_conf_changes(purpose) {
            UnappliedConfChanges::None => false,
            UnappliedConfChanges::Some => true,
            UnappliedConfChanges::Unknown(err) => {
                warn!(
                    self.logger,
                    "cannot read the committed entries not yet applied; \
                     assuming they hold a configuration change";
                    "applied" => self.raft_log.applied,
                    "committed" => self.raft_log.committed,
                    "err" => %err,
                );
                true
            }
        }
    }

    fn scan_unapplied_conf_changes(&self, purpose: GetEntriesFor) -> UnappliedConfChanges {
        let (applied, committed) = (self.raft_log.applied, self.raft_log.committed);
        if applied >= committed {
            return UnappliedConfChanges::None;
        }
        if self.pending_conf_index > applied && self.pending_conf_index <= committed {
            return UnappliedConfChanges::Some;
        }
        let ctx = GetEntriesContext::new(purpose);
        let mut lo = applied + 1;
        // Scan in pages so a long unapplied tail does not load at once.
        while lo <= committed {
            match self
                .raft_log
                .slice(lo, committed + 1, Some(CONF_SCAN_PAGE_BYTES), ctx)
            {
                Ok(ents) => {
                    let Some(last) = ents.last() else {
                        // A non-empty range must yield an entry.
                        return UnappliedConfChanges::Unknown(Error::Store(
                            StorageError::Unavailable,
                        ));
                    };
                    if ents.iter().any(|e| {
                        matches!(
                            e.entry_type(),
                            EntryType::EntryConfChange | EntryType::EntryConfChangeV2
                        )
                    }) {
                        return UnappliedConfChanges::Some;
                    }
                    lo = last.index + 1;
                }
                // Compacted entries are behind a snapshot, whose
                // configuration this node already holds.
                Err(Error::Store(StorageError::Compacted)) => return UnappliedConfChanges::None,
                Err(err) => return UnappliedConfChanges::Unknown(err),
            }
        }
        UnappliedConfChanges::None
    }

    /// Campaigns for leadership. `campaign_type` is one of
    /// [`CAMPAIGN_PRE_ELECTION`], [`CAMPAIGN_ELECTION`] and
    /// [`CAMPAIGN_TRANSFER`].
    pub fn campaign(&mut self, campaign_type: &'static [u8]) {
        let (vote_msg, term) = if campaign_type == CAMPAIGN_PRE_ELECTION {
            self.become_pre_candidate();
            // A pre-vote asks for the term the node would move to, without
            // moving to it (thesis §9.6).
            (MessageType::MsgRequestPreVote, self.term + 1)
        } else {
            self.become_candidate();
            (MessageType::MsgRequestVote, self.term)
        };
        let self_id = self.id;
        if VoteResult::Won == self.poll(self_id, vote_msg, true) {
            // A single-voter group elects itself at once.
            return;
        }

        let (commit, commit_term) = self.raft_log.commit_info();
        // The voters in ascending order, so requests go out in a
        // deterministic order; on the stack for usual cluster sizes.
        let conf_voters = self.prs.conf().voters();
        let ids = conf_voters.ids();
        let mut stack = [0u64; STACK_VOTERS];
        let mut heap = Vec::new();
        let at_most = conf_voters.incoming().len() + conf_voters.outgoing().len();
        let voters: &mut [u64] = if at_most <= STACK_VOTERS {
            let mut n = 0;
            for (slot, id) in stack.iter_mut().zip(ids.iter()) {
                *slot = id;
                n += 1;
            }
            &mut stack[..n]
        } else {
            heap.extend(ids.iter());
            &mut heap
        };
        voters.sort_unstable();
        let last_index = self.raft_log.last_index();
        let last_term = self.raft_log.last_term();
        for &id in voters.iter() {
            if id == self_id {
                continue;
            }
            info!(
                self.logger,
                "broadcasting vote request";
                "type" => ?vote_msg,
                "term" => term,
                "log term" => last_term,
                "log index" => last_index,
                "to" => id,
            );
            let mut m = Message::new();
            m.set_msg_type(vote_msg);
            m.to = id;
            m.term = term;
            m.index = last_index;
            m.log_term = last_term;
            m.commit = commit;
            m.commit_term = commit_term;
            m.priority = self.priority;
            if self.priority > 0 {
                m.deprecated_priority = self.priority as u64;
            }
            if campaign_type == CAMPAIGN_TRANSFER {
                m.context = bytes::Bytes::from_static(campaign_type);
            }
            self.send(m);
        }
    }

    /// Records a vote and acts on the result: a won pre-vote starts the real
    /// election, a won election makes this node leader, a lost one makes it
    /// a follower.
    pub(crate) fn poll(&mut self, from: u64, t: MessageType, vote: bool) -> VoteResult {
        self.prs.record_vote(from, vote);
        let (granted, rejected, result) = self.prs.tally_votes();
        if from != self.id {
            info!(
                self.logger,
                "received votes response";
                "vote" => vote,
                "from" => from,
                "rejections" => rejected,
                "approvals" => granted,
                "type" => ?t,
                "term" => self.term,
            );
        }
        match result {
            VoteResult::Won => {
                if self.state == StateRole::PreCandidate {
                    self.campaign(CAMPAIGN_ELECTION);
                } else {
                    self.become_leader();
                    self.bcast_append();
                }
            }
            VoteResult::Lost => {
                // The term stays: a lost pre-vote must not raise it.
                let term = self.term;
                self.become_follower(term, INVALID_ID);
            }
            VoteResult::Pending => {}
        }
        result
    }

    /// In lease mode, how many more ticks this node keeps the promise that
    /// lease reads rest on (thesis §6.4.1, see [`crate::lease`]): no vote
    /// and no campaign but a leader transfer's until `election_timeout`
    /// ticks after it last heard from the leader of its term, or started.
    /// 0 in safe mode.
    pub(crate) fn vote_lease_remaining_ticks(&self) -> usize {
        if self.read_only.option != ReadOnlyOption::LeaseBased {
            return 0;
        }
        let since = self.ticks_since_leader_contact();
        (self.election_timeout as u64).saturating_sub(since) as usize
    }

    /// Whether the promise of
    /// [`vote_lease_remaining_ticks`](Self::vote_lease_remaining_ticks)
    /// still holds.
    pub(crate) fn lease_forbids_vote(&self) -> bool {
        self.vote_lease_remaining_ticks() > 0
    }

    /// Ticks since this node last heard from the leader of its term, or
    /// started.
    pub(crate) fn ticks_since_leader_contact(&self) -> u64 {
        self.ticks - self.leader_contact_tick
    }

    /// Answers a vote or pre-vote request whose term already passed the
    /// checks of `step` (§5.2, §5.4.1, thesis §9.6).
    pub(crate) fn handle_vote_request(&mut self, m: &Message) {
        let msg_type = m.msg_type();
        // A node may vote again for the candidate it voted for; it may vote
        // for anyone when it has not voted and knows no leader; and it may
        // always grant a pre-vote for a later term, since a pre-vote
        // records nothing.
        let can_vote = self.vote == m.from
            || (self.vote == INVALID_ID && self.leader_id == INVALID_ID)
            || (msg_type == MessageType::MsgRequestPreVote && m.term > self.term);
        // In lease mode no new vote within the promise (thesis §6.4.1),
        // even in a term this node reached by another message: `step`
        // ignores only requests of a later term. A vote already cast may
        // be repeated, and a transfer's bypasses the promise as it bypasses
        // stickiness (the leader ends its lease when it starts one).
        let lease_ok = !self.lease_forbids_vote()
            || (msg_type == MessageType::MsgRequestVote
                && (self.vote == m.from || m.context.as_ref() == CAMPAIGN_TRANSFER));
        // §5.4.1: only a candidate whose log is at least as up to date.
        let up_to_date = self.raft_log.is_up_to_date(m.index, m.log_term);
        // A lower-priority candidate wins only with a log strictly more up
        // to date than ours, in §5.4.1's order (a later last term, or the
        // same last term and a longer log). raft-rs 0.7 compares only the
        // lengths, so a voter holding a longer log of an older term refuses
        // the only candidates that could win: the group stalls for good.
        let last_term = self.raft_log.last_term();
        let strictly_newer = m.log_term > last_term
            || (m.log_term == last_term && m.index > self.raft_log.last_index());
        let priority_ok = strictly_newer || message_priority(m) >= self.priority;
        // A node that holds no configuration yet (a new server added as a
        // voter before it heard from the leader) votes like any other: the
        // majority that added it may need its vote before it catches up,
        // or the group can never elect again. An id whose node lost its
        // data must not come back empty; see the crate docs, "Adding
        // servers and reusing ids" (tikv/tikv#10533).
        if can_vote && up_to_date && priority_ok && lease_ok {
            self.log_vote(m, "cast");
            let mut resp = Message::new();
            resp.set_msg_type(vote_resp_msg_type(msg_type));
            resp.to = m.from;
            // A granted response names the term of the request, so the
            // pre-candidate can tell it answers its own round.
            resp.term = m.term;
            self.send(resp);
            if msg_type == MessageType::MsgRequestVote {
                self.election_elapsed = 0;
                self.vote = m.from;
            }
        } else {
            self.log_vote(m, "rejected");
            if self.term == 0 {
                // Only a pre-vote reaches here at term 0 (a vote request
                // moved this node to its term). A rejection must carry a
                // term, and one of 0 would be dropped by the pre-candidate
                // anyway: send none, it times out and tries again.
                return;
            }
            let mut resp = Message::new();
            resp.set_msg_type(vote_resp_msg_type(msg_type));
            resp.to = m.from;
            resp.term = rejection_term(self.term, m);
            resp.reject = true;
            let (commit, commit_term) = self.raft_log.commit_info();
            resp.commit = commit;
            resp.commit_term = commit_term;
            self.send(resp);
            self.maybe_commit_by_vote(m);
        }
    }

    fn log_vote(&self, m: &Message, what: &str) {
        info!(
            self.logger,
            "[logterm: {}, index: {}, vote: {}] {} vote for {}",
            Lazy(|| self.raft_log.last_term()),
            Lazy(|| self.raft_log.last_index()),
            self.vote,
            what,
            m.from;
            "msg type" => ?m.msg_type(),
            "msg term" => m.term,
            "msg index" => m.index,
            "msg log term" => m.log_term,
            "term" => self.term,
        );
    }

    /// Learns a commit index from a vote message: if this node's log holds
    /// the sender's committed entry with the same term, the Log Matching
    /// property (§5.3) says every entry up to it is committed here too.
    ///
    /// A candidate that learns of committed configuration changes it has not
    /// applied stops campaigning.
    pub(crate) fn maybe_commit_by_vote(&mut self, m: &Message) {
        if m.commit == 0 || m.commit_term == 0 || self.state == StateRole::Leader {
            return;
        }
        let last_commit = self.raft_log.committed;
        if m.commit <= last_commit || m.commit > self.raft_log.last_index() {
            return;
        }
        if !self.raft_log.match_term(m.commit, m.commit_term) {
            return;
        }
        self.raft_log.commit_to(m.commit);
        if matches!(self.state, StateRole::Candidate | StateRole::PreCandidate)
            && self.has_unapplied_conf_changes(GetEntriesFor::CommitByVote)
        {
            info!(
                self.logger,
                "learned of committed configuration changes; stop campaigning";
                "commit" => m.commit,
            );
            let term = self.term;
            self.become_follower(term, INVALID_ID);
        }
    }

    /// Becomes a follower of `leader_id` in `term`.
    ///
    /// A pending snapshot request survives only within its term. It was
    /// addressed to that term's leader; a later leader may need this
    /// follower's acknowledgement of an entry of its own term to commit
    /// anything (§5.4.2), which a follower waiting for a snapshot never
    /// gives, while no snapshot reaches past what that leader committed: the
    /// request could never end.
    pub fn become_follower(&mut self, term: u64, leader_id: u64) {
        let pending_request_snapshot = if term == self.term {
            self.pending_request_snapshot
        } else {
            if is_set(self.pending_request_snapshot) {
                info!(
                    self.logger,
                    "dropping the snapshot request of an earlier term";
                    "request index" => self.pending_request_snapshot,
                    "term" => self.term,
                    "new term" => term,
                );
            }
            INVALID_INDEX
        };
        self.reset(term);
        self.leader_id = leader_id;
        self.state = StateRole::Follower;
        self.pending_request_snapshot = pending_request_snapshot;
        info!(
            self.logger,
            "became follower at term {term}",
            term = self.term;
        );
    }

    /// Becomes a candidate: a new term, voting for itself (§5.2).
    ///
    /// # Panics
    ///
    /// On a leader.
    pub fn become_candidate(&mut self) {
        assert_ne!(
            self.state,
            StateRole::Leader,
            "invalid transition [leader -> candidate] at term {}",
            self.term
        );
        let term = self.term + 1;
        self.reset(term);
        let id = self.id;
        self.vote = id;
        self.state = StateRole::Candidate;
        info!(
            self.logger,
            "became candidate at term {term}",
            term = self.term
        );
    }

    /// Becomes a pre-candidate: the term and vote stay (thesis §9.6), and
    /// the known leader is forgotten, or with check quorum the group could
    /// stay leaderless (etcd-io/etcd#8334).
    ///
    /// # Panics
    ///
    /// On a leader.
    pub fn become_pre_candidate(&mut self) {
        assert_ne!(
            self.state,
            StateRole::Leader,
            "invalid transition [leader -> pre-candidate] at term {}",
            self.term
        );
        self.state = StateRole::PreCandidate;
        self.prs.reset_votes();
        self.leader_id = INVALID_ID;
        info!(
            self.logger,
            "became pre-candidate at term {term}",
            term = self.term
        );
    }

    /// Becomes the leader of the current term and appends an empty entry,
    /// which, once committed, commits every earlier entry (§5.4.2, §8).
    ///
    /// # Panics
    ///
    /// On a follower.
    pub fn become_leader(&mut self) {
        assert_ne!(
            self.state,
            StateRole::Follower,
            "invalid transition [follower -> leader] at term {}",
            self.term
        );
        let term = self.term;
        self.reset(term);
        self.leader_id = self.id;
        self.state = StateRole::Leader;

        let last_index = self.raft_log.last_index();
        // The entries before this term's first one are not this leader's
        // proposals: they do not count toward the uncommitted size.
        self.uncommitted_state.reset(last_index);
        if let Some(pr) = self.prs.get_mut(self.id) {
            // The leader's own progress replicates by definition.
            pr.become_replicate();
        }
        // Conservatively, any entry in the log may be a configuration
        // change not yet applied (thesis §4.1).
        self.pending_conf_index = last_index;

        let empty = crate::eraftpb::Entry::default();
        if !self.append_entry(&mut [empty]) {
            crate::fatal!(
                self.logger,
                "appending an empty entry should never be dropped"
            );
        }
        info!(
            self.logger,
            "became leader at term {term}",
            term = self.term
        );
    }
}

/// The term a rejection of the vote request `m` carries; never 0, since a
/// vote response without a term is dropped (and refused by `send`).
///
/// Usually this node's term: a vote request with a higher term has already
/// moved it there. A pre-vote does not move terms (thesis §9.6), so this
/// node may be behind the pre-candidate (a node at term 0 sends no
/// rejection at all, see the caller). It then answers with the
/// pre-candidate's own term, the request's minus one: the rejection counts
/// in the pre-candidate's round and moves it to no term it is not in,
/// where the request's term would push it to a term no leader holds and
/// could depose its leader.
fn rejection_term(own_term: u64, m: &Message) -> u64 {
    debug_assert!(own_term > 0, "a node at term 0 sends no rejection");
    if m.term > own_term {
        m.term - 1
    } else {
        own_term
    }
}

/// Whether a pending-snapshot marker is set.
#[inline]
pub(crate) fn is_set(index: u64) -> bool {
    index != INVALID_INDEX
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use slog::{o, Logger};

    use super::*;
    use crate::eraftpb::ConfState;
    use crate::storage::MemStorage;
    use crate::Config;

    fn candidate(cs: ConfState) -> Raft<MemStorage> {
        let store = MemStorage::new_with_conf_state(cs);
        let logger = Logger::root(slog::Discard, o!());
        let mut r = Raft::new(&Config::new(1), store, &logger).unwrap();
        r.campaign(CAMPAIGN_ELECTION);
        r
    }

    fn vote_request_targets(r: &Raft<MemStorage>) -> Vec<u64> {
        assert!(r
            .msgs
            .iter()
            .all(|m| m.msg_type() == MessageType::MsgRequestVote && m.term == 1));
        r.msgs.iter().map(|m| m.to).collect()
    }

    #[test]
    fn vote_requests_go_to_the_other_voters_in_ascending_order() {
        // More voters than fit the stack buffer, learners left out.
        let voters: Vec<u64> = (1..=STACK_VOTERS as u64 + 4).rev().collect();
        let r = candidate(ConfState::from((voters, [100u64, 50])));
        let want: Vec<u64> = (2..=STACK_VOTERS as u64 + 4).collect();
        assert_eq!(vote_request_targets(&r), want);

        let r = candidate(ConfState::from(([9u64, 1, 5, 3], [])));
        assert_eq!(vote_request_targets(&r), vec![3, 5, 9]);

        // Joint: the voters of both halves, each once.
        let cs = ConfState {
            voters: vec![1, 7, 3],
            voters_outgoing: vec![1, 2, 3],
            ..Default::default()
        };
        assert_eq!(vote_request_targets(&candidate(cs)), vec![2, 3, 7]);
    }

    /// A [`MemStorage`] whose reads of entries fail with `error`, as a
    /// storage that fetches in the background or has lost its disk does.
    struct FailingEntries {
        store: MemStorage,
        error: fn() -> StorageError,
    }

    impl Storage for FailingEntries {
        fn initial_state(&self) -> crate::Result<crate::RaftState> {
            self.store.initial_state()
        }
        fn entries(
            &self,
            _low: u64,
            _high: u64,
            _max_size: impl Into<Option<u64>>,
            _context: GetEntriesContext,
        ) -> crate::Result<Vec<crate::eraftpb::Entry>> {
            Err(crate::Error::Store((self.error)()))
        }
        fn term(&self, idx: u64) -> crate::Result<u64> {
            self.store.term(idx)
        }
        fn first_index(&self) -> crate::Result<u64> {
            self.store.first_index()
        }
        fn last_index(&self) -> crate::Result<u64> {
            self.store.last_index()
        }
        fn snapshot(&self, request_index: u64, to: u64) -> crate::Result<crate::eraftpb::Snapshot> {
            self.store.snapshot(request_index, to)
        }
    }

    /// A restarted voter whose entries 2 and 3 are committed but not
    /// applied, on a storage that cannot read them.
    fn restarted_with_unreadable_entries(error: fn() -> StorageError) -> Raft<FailingEntries> {
        let store = MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
        let entries: Vec<_> = (1..=3)
            .map(|index| crate::eraftpb::Entry {
                index,
                term: 1,
                ..Default::default()
            })
            .collect();
        store.wl().append(&entries).unwrap();
        store.wl().set_hardstate(crate::eraftpb::HardState {
            term: 1,
            commit: 3,
            ..Default::default()
        });
        let config = Config {
            applied: 1,
            ..Config::new(1)
        };
        let logger = Logger::root(slog::Discard, o!());
        Raft::new(&config, FailingEntries { store, error }, &logger).unwrap()
    }

    #[test]
    fn unreadable_unapplied_entries_forbid_a_campaign() {
        // Only a compacted range means the configuration it held is already
        // in force (a snapshot brought it); any other error leaves the
        // question open, and a node that may hold an unapplied configuration
        // change must not campaign with a stale voter set.
        for error in [
            (|| StorageError::LogTemporarilyUnavailable) as fn() -> StorageError,
            || StorageError::Unavailable,
        ] {
            let mut r = restarted_with_unreadable_entries(error);
            r.hup(false);
            assert_eq!(r.state, StateRole::Follower, "{:?}", error());
            assert_eq!(r.term, 1);
            assert!(r.msgs.is_empty());
        }
        let mut r = restarted_with_unreadable_entries(|| StorageError::Compacted);
        r.hup(false);
        assert_eq!(r.state, StateRole::Candidate);
    }

    #[test]
    fn lazy_number_is_computed_only_when_formatted() {
        let calls = Cell::new(0);
        let lazy = Lazy(|| {
            calls.set(calls.get() + 1);
            42
        });
        let args = format_args!("{lazy}");
        let _ = args;
        assert_eq!(calls.get(), 0);
        assert_eq!(format!("[{lazy}] [{lazy:>4}]"), "[42] [  42]");
        assert_eq!(calls.get(), 2);
    }
}
