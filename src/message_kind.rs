//! One classification of [`MessageType`]: which types only the local node
//! steps, which answer a request of this node, which may come without a
//! term, and how [`Raft::send`](crate::Raft) sets the term of each.
//!
//! Stepping (the term rules of §5.1), sending and `RawNode::step` all ask
//! here, so that a rule is written once.

use crate::eraftpb::MessageType;

/// Where a message of a type comes from, which decides whether it may
/// lack a term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Stepped by the local node only (its tick, or `RawNode`'s report
    /// methods), never received from the network.
    Local,
    /// A request the application steps directly (a proposal, a read, a
    /// leadership transfer request), without a term; a follower may forward
    /// it to the leader.
    Request,
    /// Sent by a peer in its term.
    Peer,
}

/// The origin of every type, written out so that a new type must be
/// classified.
fn origin(t: MessageType) -> Origin {
    use MessageType::*;
    match t {
        MsgHup | MsgBeat | MsgUnreachable | MsgSnapStatus | MsgCheckQuorum => Origin::Local,
        MsgPropose | MsgReadIndex | MsgTransferLeader => Origin::Request,
        MsgAppend
        | MsgAppendResponse
        | MsgRequestVote
        | MsgRequestVoteResponse
        | MsgSnapshot
        | MsgHeartbeat
        | MsgHeartbeatResponse
        | MsgTimeoutNow
        | MsgReadIndexResp
        | MsgRequestPreVote
        | MsgRequestPreVoteResponse => Origin::Peer,
    }
}

/// Whether `t` is a type only the local node steps, never a message from
/// the network.
pub(crate) fn is_local(t: MessageType) -> bool {
    origin(t) == Origin::Local
}

/// Whether a message of type `t` may come without a term (an allow-list:
/// local messages and the application's requests). Any other message
/// without a term is malformed, and dropped.
pub(crate) fn may_have_zero_term(t: MessageType) -> bool {
    origin(t) != Origin::Peer
}

/// Whether `t` answers a request this node sent, so its sender must be a
/// peer the node tracks (`MsgUnreachable` included, as in raft-rs: it
/// reports on a tracked peer).
pub(crate) fn is_response(t: MessageType) -> bool {
    use MessageType::*;
    matches!(
        t,
        MsgAppendResponse
            | MsgRequestVoteResponse
            | MsgHeartbeatResponse
            | MsgUnreachable
            | MsgRequestPreVoteResponse
    )
}

/// How [`Raft::send`](crate::Raft) sets the term of an outgoing message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendTerm {
    /// Votes and their responses: the sender sets the term itself (a
    /// pre-vote names a term the node is not in yet, a granted response
    /// echoes the request's), and it must not be 0.
    SetBySender,
    /// Proposals and reads forwarded to the leader travel without a term,
    /// as the application stepped them.
    Unset,
    /// Everything else carries the sender's current term.
    Current,
}

/// How `send` sets the term of a message of type `t`.
pub(crate) fn send_term(t: MessageType) -> SendTerm {
    use MessageType::*;
    match t {
        MsgRequestVote | MsgRequestPreVote | MsgRequestVoteResponse | MsgRequestPreVoteResponse => {
            SendTerm::SetBySender
        }
        MsgPropose | MsgReadIndex => SendTerm::Unset,
        _ => SendTerm::Current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types_where(f: impl Fn(MessageType) -> bool) -> Vec<MessageType> {
        MessageType::values()
            .iter()
            .copied()
            .filter(|t| f(*t))
            .collect()
    }

    #[test]
    fn only_local_types_and_application_requests_may_lack_a_term() {
        use MessageType::*;
        assert_eq!(
            types_where(may_have_zero_term),
            vec![
                MsgHup,
                MsgBeat,
                MsgPropose,
                MsgUnreachable,
                MsgSnapStatus,
                MsgCheckQuorum,
                MsgTransferLeader,
                MsgReadIndex,
            ]
        );
        assert_eq!(
            types_where(is_local),
            vec![
                MsgHup,
                MsgBeat,
                MsgUnreachable,
                MsgSnapStatus,
                MsgCheckQuorum
            ]
        );
    }

    #[test]
    fn votes_carry_their_own_term_and_forwarded_requests_none() {
        use MessageType::*;
        assert_eq!(
            types_where(|t| send_term(t) == SendTerm::SetBySender),
            vec![
                MsgRequestVote,
                MsgRequestVoteResponse,
                MsgRequestPreVote,
                MsgRequestPreVoteResponse
            ]
        );
        assert_eq!(
            types_where(|t| send_term(t) == SendTerm::Unset),
            vec![MsgPropose, MsgReadIndex]
        );
        // A response always comes from a peer in a term.
        assert!(types_where(is_response)
            .into_iter()
            .all(|t| t == MsgUnreachable || !may_have_zero_term(t)));
    }
}
