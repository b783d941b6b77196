//! The step of followers, candidates and pre-candidates.

use slog::{debug, info};

use crate::eraftpb::{Message, MessageType};
use crate::errors::{Error, Result};
use crate::storage::Storage;
use crate::{ReadState, INVALID_ID};

use super::{Raft, StateRole};

impl<T: Storage> Raft<T> {
    pub(crate) fn step_candidate(&mut self, m: &mut Message) -> Result<()> {
        match m.msg_type() {
            MessageType::MsgPropose => {
                info!(
                    self.logger,
                    "no leader at term {term}; dropping proposal",
                    term = self.term
                );
                return Err(Error::ProposalDropped);
            }
            // A leader of this term exists: §5.2 says step down.
            MessageType::MsgAppend => {
                self.become_follower(m.term, m.from);
                self.heard_from_leader(m.from);
                self.handle_append_entries_owned(m);
            }
            MessageType::MsgHeartbeat => {
                self.become_follower(m.term, m.from);
                self.heard_from_leader(m.from);
                self.handle_heartbeat_ref(m);
            }
            MessageType::MsgSnapshot => {
                self.become_follower(m.term, m.from);
                self.heard_from_leader(m.from);
                self.handle_snapshot(m);
            }
            MessageType::MsgRequestPreVoteResponse | MessageType::MsgRequestVoteResponse => {
                // Only the responses to this node's own round count: a
                // pre-candidate waits for pre-vote answers, a candidate for
                // vote answers.
                let mine = (self.state == StateRole::PreCandidate
                    && m.msg_type() == MessageType::MsgRequestPreVoteResponse)
                    || (self.state == StateRole::Candidate
                        && m.msg_type() == MessageType::MsgRequestVoteResponse);
                if !mine {
                    return Ok(());
                }
                if !self.prs.conf().voters().contains(m.from) {
                    debug!(self.logger, "ignoring a vote from a non-voter"; "from" => m.from);
                    return Ok(());
                }
                self.poll(m.from, m.msg_type(), !m.reject);
                if m.reject && self.state != StateRole::Leader {
                    self.maybe_commit_by_vote(m);
                }
            }
            MessageType::MsgTimeoutNow => {
                debug!(self.logger, "ignored MsgTimeoutNow from {from}", from = m.from; "state" => ?self.state);
            }
            _ => {}
        }
        Ok(())
    }

    /// Notes a message from `leader`, the leader of this term: the election
    /// timer starts again, and in lease mode so does the promise not to
    /// vote that the leader's lease rests on (thesis §6.4.1). Called before
    /// the message is handled, so before any acknowledgement is sent.
    fn heard_from_leader(&mut self, leader: u64) {
        self.election_elapsed = 0;
        self.leader_id = leader;
        self.leader_contact_tick = self.ticks;
    }

    /// Forgets the leader this follower knows (etcd's `ForgetLeader`): the
    /// leader hint becomes `INVALID_ID`, so proposals and reads are no
    /// longer forwarded to a leader the application believes dead, and with
    /// check quorum the node may grant votes before its election timeout
    /// passes (the leader-stickiness check of thesis §4.2.3 and §9.6 applies
    /// only while a leader is known). It does not campaign, change the term
    /// or reset its election timer. The next message from a leader of the
    /// term makes it known again.
    ///
    /// A no-op on leaders, candidates and pre-candidates, and with
    /// [`ReadOnlyOption::LeaseBased`](crate::ReadOnlyOption::LeaseBased)
    /// (as in etcd): lease reads rely on followers not voting while the
    /// leader's lease may hold (thesis §6.4.1).
    pub fn forget_leader(&mut self) {
        if self.state != StateRole::Follower || self.leader_id == INVALID_ID {
            return;
        }
        if self.read_only.option == crate::ReadOnlyOption::LeaseBased {
            info!(self.logger, "ignoring forget_leader: lease-based reads are on"; "leader" => self.leader_id);
            return;
        }
        info!(self.logger, "forgetting leader"; "leader" => self.leader_id, "term" => self.term);
        self.leader_id = INVALID_ID;
    }

    pub(crate) fn step_follower(&mut self, m: &mut Message) -> Result<()> {
        match m.msg_type() {
            MessageType::MsgPropose => {
                if self.leader_id == INVALID_ID {
                    info!(
                        self.logger,
                        "no leader at term {term}; dropping proposal",
                        term = self.term
                    );
                    return Err(Error::ProposalDropped);
                } else if self.disable_proposal_forwarding {
                    info!(
                        self.logger,
                        "not forwarding to leader {leader_id} at term {term}; dropping proposal",
                        leader_id = self.leader_id,
                        term = self.term,
                    );
                    return Err(Error::ProposalDropped);
                }
                m.to = self.leader_id;
                self.send(std::mem::take(m));
            }
            MessageType::MsgAppend => {
                self.heard_from_leader(m.from);
                self.handle_append_entries_owned(m);
            }
            MessageType::MsgHeartbeat => {
                self.heard_from_leader(m.from);
                self.handle_heartbeat_ref(m);
            }
            MessageType::MsgSnapshot => {
                self.heard_from_leader(m.from);
                self.handle_snapshot(m);
            }
            MessageType::MsgTransferLeader => {
                if self.leader_id == INVALID_ID {
                    info!(
                        self.logger,
                        "no leader at term {term}; dropping leader transfer msg",
                        term = self.term
                    );
                    return Ok(());
                }
                m.to = self.leader_id;
                self.send(std::mem::take(m));
            }
            MessageType::MsgTimeoutNow => {
                if self.promotable {
                    info!(
                        self.logger,
                        "[term {term}] received MsgTimeoutNow from {from} and starts an election to get leadership.",
                        term = self.term,
                        from = m.from,
                    );
                    // A transfer skips pre-vote and the lease: the old
                    // leader asked for it (thesis §3.10).
                    self.hup(true);
                } else {
                    info!(
                        self.logger,
                        "received MsgTimeoutNow from {} but is not promotable", m.from
                    );
                }
            }
            MessageType::MsgReadIndex => {
                if self.leader_id == INVALID_ID {
                    info!(
                        self.logger,
                        "no leader at term {term}; dropping index reading msg",
                        term = self.term
                    );
                    return Ok(());
                }
                m.to = self.leader_id;
                self.send(std::mem::take(m));
            }
            MessageType::MsgReadIndexResp => {
                if m.entries.len() != 1 {
                    debug!(
                        self.logger,
                        "invalid format of MsgReadIndexResp from {}", m.from;
                        "entries count" => m.entries.len(),
                    );
                    return Ok(());
                }
                // The read index is the leader's commit index. If this log
                // holds the entry there in the leader's term, Log Matching
                // (§5.3) makes everything up to it the leader's, committed:
                // learn the commit now rather than from the next append.
                // `maybe_commit` never goes past the last index, nor back.
                if self.raft_log.maybe_commit(m.index, m.term) {
                    debug!(self.logger, "learned the commit index from a read response"; "commit" => m.index);
                }
                let rs = ReadState {
                    index: m.index,
                    request_ctx: m.entries[0].data.to_vec(),
                };
                // The index may be past this node's log; the application
                // serves the read once it has applied that far.
                self.read_states.push(rs);
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use slog::{o, Discard, Logger};

    use crate::eraftpb::{ConfState, Message, MessageType};
    use crate::storage::MemStorage;
    use crate::{Config, Raft, ReadOnlyOption, StateRole, INVALID_ID};

    fn follower_of_1(config: Config) -> Raft<MemStorage> {
        let store = MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
        let mut r = Raft::new(&config, store, &Logger::root(Discard, o!())).unwrap();
        let mut heartbeat = Message::new();
        heartbeat.set_msg_type(MessageType::MsgHeartbeat);
        heartbeat.from = 1;
        heartbeat.term = 1;
        r.step(heartbeat).unwrap();
        r.msgs.clear();
        assert_eq!(r.leader_id, 1);
        r
    }

    #[test]
    fn forget_leader_clears_the_hint_and_nothing_else() {
        let mut r = follower_of_1(Config::new(2));
        r.election_elapsed = 3;
        let (term, vote, elapsed) = (r.term, r.vote, r.election_elapsed);
        r.forget_leader();
        assert_eq!(r.leader_id, INVALID_ID);
        assert_eq!(r.state, StateRole::Follower);
        assert_eq!((r.term, r.vote, r.election_elapsed), (term, vote, elapsed));
        assert!(r.msgs.is_empty());
        // Twice is the same as once.
        r.forget_leader();
        assert_eq!(r.leader_id, INVALID_ID);
    }

    #[test]
    fn forget_leader_keeps_the_leader_under_lease_based_reads() {
        let config = Config {
            check_quorum: true,
            read_only_option: ReadOnlyOption::LeaseBased,
            ..Config::new(2)
        };
        let mut r = follower_of_1(config);
        r.forget_leader();
        assert_eq!(r.leader_id, 1);
    }
}
