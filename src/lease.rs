//! The leader lease of lease-based reads (thesis §6.4.1).
//!
//! With [`ReadOnlyOption::LeaseBased`](crate::ReadOnlyOption::LeaseBased) a
//! leader answers a read from its commit index, without a heartbeat round,
//! while its lease holds. The lease rests on a promise that every node in
//! lease mode keeps: it grants no vote and starts no campaign (a leader
//! transfer aside) within `election_timeout` ticks of hearing from the leader
//! of its term, nor within `election_timeout` ticks of starting, since a
//! restarted node does not remember whom it heard from. The promise is kept
//! whatever happens to the node's term meanwhile: a message of a higher term
//! that is not a vote request moves the node to that term, and a vote
//! request of that same term must still be refused.
//!
//! Each heartbeat of a leader in lease mode carries the tick it was sent at
//! (its `context`, see [`crate::read_only`]); followers echo it. Why an
//! acknowledged heartbeat sent at leader tick `s` rules out a newer leader
//! until the leader's clock reads `s + election_timeout - 1`:
//!
//! 1. The follower processed the heartbeat no earlier than it was sent, and
//!    in the leader's term (a node in a later term does not acknowledge a
//!    heartbeat of an earlier one). So it had not voted in any later
//!    term yet: its term only grows, and its vote and term are durable
//!    before its acknowledgement leaves (the driver contract).
//! 2. From then on it refuses every vote but a transfer's for
//!    `election_timeout` of its own ticks, across restarts (the start rule).
//!    Two nodes tick at the same rate but their tick timers may be offset by
//!    up to one tick, so by the leader's clock that is at least
//!    `election_timeout - 1` ticks after `s`.
//! 3. A newer leader needs the votes of a quorum (§5.2). If the voters whose
//!    acknowledgements are that recent make a quorum with the leader itself
//!    (which votes for no one while it leads), every such quorum holds one
//!    of them, which has not voted for the newer leader. The first newer
//!    leader is elected by ordinary votes, or by transfer votes after this
//!    leader sent `MsgTimeoutNow`: after that the lease is not used again in
//!    the term.
//! 4. So no write of a newer term was acknowledged, and this leader's commit
//!    index (it has committed an entry of its term, thesis §6.4 step 1)
//!    covers every acknowledged write.
//!
//! The quorum is counted over the leader's current configuration, both
//! halves of a joint one, by the same rule as commitment: the overlap that
//! keeps committed entries in every newer leader's log keeps the lease.

use crate::HashMap;

/// What the leader knows of its lease in the current term. Replaced, with
/// the rest of the leader's read state, on every change of term or role.
#[derive(Debug, Clone, Default)]
pub(crate) struct LeaderLease {
    /// Per peer, the send tick of the newest heartbeat of this term it
    /// acknowledged.
    acked_send_ticks: HashMap<u64, u64>,
    /// Whether this leader sent `MsgTimeoutNow` in this term. Its
    /// transferee's vote requests bypass the followers' promise (thesis
    /// §3.10), and a delayed or duplicated `MsgTimeoutNow` can start that
    /// campaign at any later time, so the lease is over for the term.
    transfer_started: bool,
}

impl LeaderLease {
    /// Records that `peer` acknowledged the heartbeat sent at `send_tick`.
    /// Returns false, recording nothing, for a tick not reached yet (`now`):
    /// no heartbeat of this leader carried it.
    pub(crate) fn record_ack(&mut self, peer: u64, send_tick: u64, now: u64) -> bool {
        if send_tick > now {
            return false;
        }
        let acked = self.acked_send_ticks.entry(peer).or_insert(send_tick);
        *acked = (*acked).max(send_tick);
        true
    }

    /// Ends the lease for the rest of the term: a `MsgTimeoutNow` was sent.
    pub(crate) fn end_for_transfer(&mut self) {
        self.transfer_started = true;
    }

    /// Whether a `MsgTimeoutNow` was sent in this term.
    pub(crate) fn transfer_started(&self) -> bool {
        self.transfer_started
    }

    /// Whether `peer` acknowledged a heartbeat sent less than
    /// `duration_ticks` before `now`.
    pub(crate) fn covers(&self, peer: u64, now: u64, duration_ticks: u64) -> bool {
        self.acked_send_ticks
            .get(&peer)
            .is_some_and(|&sent| now.saturating_sub(sent) < duration_ticks)
    }
}

/// How long an acknowledged heartbeat keeps the lease, counted from its send
/// tick: one tick less than the followers' promise of `election_timeout`
/// ticks, for the offset between two nodes' tick timers (step 2 above).
/// `Config::validate` makes `election_timeout` at least 2.
pub(crate) fn lease_duration_ticks(election_timeout: usize) -> u64 {
    (election_timeout as u64).saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_acknowledged_tick_of_each_peer_counts() {
        let mut lease = LeaderLease::default();
        assert!(!lease.covers(2, 0, 9));
        assert!(lease.record_ack(2, 5, 7));
        // A delayed acknowledgement of an older heartbeat does not shorten
        // the lease.
        assert!(lease.record_ack(2, 3, 7));
        assert!(lease.covers(2, 13, 9));
        assert!(!lease.covers(2, 14, 9));
        assert!(!lease.covers(3, 7, 9));
    }

    #[test]
    fn an_acknowledged_tick_not_reached_yet_is_ignored() {
        let mut lease = LeaderLease::default();
        assert!(!lease.record_ack(2, 8, 7));
        assert!(!lease.covers(2, 8, 9));
        assert!(lease.record_ack(2, 7, 7));
        assert!(!lease.record_ack(2, u64::MAX, 7));
        assert!(lease.covers(2, 15, 9));
        assert!(!lease.covers(2, 16, 9));
    }

    #[test]
    fn a_transfer_ends_the_lease_for_good() {
        let mut lease = LeaderLease::default();
        assert!(!lease.transfer_started());
        lease.end_for_transfer();
        assert!(lease.transfer_started());
        lease.record_ack(2, 1, 1);
        assert!(lease.transfer_started());
    }

    #[test]
    fn the_lease_is_one_tick_shorter_than_the_promise() {
        assert_eq!(lease_duration_ticks(10), 9);
        assert_eq!(lease_duration_ticks(2), 1);
    }
}
