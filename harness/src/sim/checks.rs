//! The safety checks run after every step.
//!
//! Each check is a rule of the Raft paper (Ongaro and Ousterhout, 2014) or of
//! the driver contract, checked against what the simulation observed:
//!
//! - **Election safety** (§5.2): at most one leader per term.
//! - **Log matching** (§5.3): two entries with the same index and term carry
//!   the same data and follow entries of the same term.
//! - **Leader completeness** (§5.4): a node that becomes leader of term `T`
//!   holds every entry committed in a term before `T`.
//! - **State machine safety** (§5.4.3): one committed entry per index; every
//!   node applies a prefix of that one log, contiguously and exactly once,
//!   across restarts.
//! - **Commitment** (§5.4.2, Figure 8): a leader moves its commit index
//!   only to an entry of its own term; earlier entries commit with it,
//!   never by counting the replicas that hold them.
//! - **Persistent state** (§5.1, Figure 2): a node grants a vote or
//!   acknowledges entries only once the vote, its term and the entries are
//!   durable (the driver sends `persisted_messages` after persisting); the
//!   term, vote and commit a node
//!   hands out to persist never go backwards, and a node grants at most one
//!   vote per term (tracked from the vote messages it actually sent).
//! - **Reads** (thesis §6.4): a `ReadState` reaches the node that issued its
//!   context, once (unless the network duplicates messages), and its index
//!   covers every write acknowledged before the read was issued. A leader
//!   doing safe reads keeps no read pending once the acknowledgements of
//!   its round make a quorum of the current configuration (also after a
//!   configuration change shrank the quorum): it answers it at once.
//! - **Membership** (thesis §4.1): every node applying the configuration
//!   change at an index gets the same configuration.
//! - **Addressing**: a node never sends a message to itself and always
//!   names itself as the sender.
//! - **Bounded resources** (checked in `mod.rs`): no step ends with more
//!   than `MAX_IN_FLIGHT` messages in flight; a message storm would
//!   otherwise exhaust memory before any other check fired.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use raft::eraftpb::{ConfState, Entry, HardState, Message, MessageType};
use raft::{RawNode, ReadOnlyOption, ReadState, StateRole};

use super::node::{Applied, Effects, SimStorage};

/// What the checks remember between steps.
#[derive(Debug, Default)]
pub struct Checker {
    /// The leader seen in each term.
    leaders: BTreeMap<u64, u64>,
    /// Leaderships already checked for completeness: (id, term).
    checked_leaders: BTreeMap<u64, u64>,
    /// The commit index each node was last seen with as leader: id ->
    /// (term, commit).
    leader_commits: BTreeMap<u64, (u64, u64)>,
    /// The candidate each (voter, incarnation, term) granted a vote to.
    votes: BTreeMap<(u64, u64, u64), u64>,
    /// (index, term) -> (data hash, term of the entry before, if known).
    log: BTreeMap<(u64, u64), (u64, Option<u64>)>,
    /// Index -> term of the entry committed there.
    committed: BTreeMap<u64, u64>,
    /// Index -> the lowest term of a leader seen with that index committed.
    committed_in_term: BTreeMap<u64, u64>,
    /// Index -> (term, data hash) of the entry applied there.
    applied: BTreeMap<u64, (u64, u64)>,
    /// The last hard state each (node, incarnation) handed out.
    hard_states: BTreeMap<(u64, u64), HardState>,
    /// Index -> configuration after the change applied there.
    confs: BTreeMap<u64, ConfState>,
    /// Read context -> its record.
    reads: BTreeMap<Vec<u8>, ReadRecord>,
    /// The violations found, in order.
    pub violations: Vec<String>,
}

/// What is known of a read issued with `read_index`.
#[derive(Debug)]
struct ReadRecord {
    issuer: u64,
    /// The highest index of a write acknowledged before the read was issued.
    min_index: u64,
    seen: u32,
}

/// A 64-bit FNV-1a hash of entry data.
pub fn data_hash(data: &[u8]) -> u64 {
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    data.hash(&mut hasher);
    hasher.finish()
}

/// FNV-1a, so hashes do not depend on the process (the std hasher's keys
/// are random).
pub struct Fnv(pub u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// What `m` promises that the sender's durable state (`hard_state`, log up
/// to `last_index`) does not hold, if anything: a granted vote, or an
/// acknowledged entry, not yet persisted (Figure 2: "updated on stable
/// storage before responding to RPCs"). Pre-votes promise nothing.
pub fn unpersisted_promise(m: &Message, hard_state: &HardState, last_index: u64) -> Option<String> {
    let what = match m.get_msg_type() {
        MessageType::MsgRequestVoteResponse if !m.reject => {
            let voted =
                hard_state.term > m.term || (hard_state.term == m.term && hard_state.vote == m.to);
            if voted {
                return None;
            }
            format!("granted its vote in term {} to {}", m.term, m.to)
        }
        MessageType::MsgAppendResponse if !m.reject => {
            if hard_state.term >= m.term && last_index >= m.index {
                return None;
            }
            format!("acknowledged index {} in term {}", m.index, m.term)
        }
        _ => return None,
    };
    Some(format!(
        "persistent state (§5.1): node {} {what} before persisting it (durable: term {}, \
         vote {}, last index {last_index})",
        m.from, hard_state.term, hard_state.vote
    ))
}

impl Checker {
    fn violation(&mut self, text: String) {
        self.violations.push(text);
    }

    /// Every check on what one node incarnation did while handling a
    /// `Ready` or a background write: addressing and votes of its messages,
    /// log matching of what it wrote, its hard states, its read states
    /// (`duplicates_possible` when the network may deliver a message twice)
    /// and what it applied.
    pub fn effects(
        &mut self,
        node: u64,
        incarnation: u64,
        effects: &Effects,
        duplicates_possible: bool,
    ) {
        for m in &effects.messages {
            self.message(node, incarnation, m);
        }
        for (previous, entries) in &effects.appended {
            self.appended(node, *previous, entries);
        }
        for hs in &effects.hard_states {
            self.hard_state(node, incarnation, hs);
        }
        for rs in &effects.read_states {
            self.read_state(node, rs, duplicates_possible);
        }
        for applied in &effects.applied {
            self.applied(node, applied);
        }
    }

    /// [`leader`](Self::leader) for a running node, if it leads, reading
    /// its log where it is readable.
    pub fn observe(&mut self, id: u64, raw: &RawNode<SimStorage>) {
        let raft = &raw.raft;
        if raft.state != StateRole::Leader {
            return;
        }
        let log = &raft.raft_log;
        let readable = |index: u64| index + 1 >= log.first_index() && index <= log.last_index();
        let term_at = |index: u64| log.term(index).ok().filter(|_| readable(index));
        self.leader(id, raft.term, log.committed, log.first_index(), term_at);
        let reads = &raft.read_only;
        if reads.option != ReadOnlyOption::Safe {
            return;
        }
        let confirmed = reads.read_index_queue.iter().find_map(|context| {
            let acks = &reads.pending_read_index.get(context)?.acks;
            raft.prs().has_quorum(acks).then_some((context, acks))
        });
        if let Some((context, acks)) = confirmed {
            let mut acks: Vec<u64> = acks.iter().copied().collect();
            acks.sort_unstable();
            self.confirmed_read_pending(id, raft.term, context, &acks);
        }
    }

    /// Election safety and leader completeness for a node that is leader of
    /// `term`; `term_at` reads its log (`None` if compacted or missing),
    /// `first_index` is its first entry. Also records its commit index as
    /// committed in `term`.
    pub fn leader(
        &mut self,
        id: u64,
        term: u64,
        committed: u64,
        first_index: u64,
        term_at: impl Fn(u64) -> Option<u64>,
    ) {
        match self.leaders.insert(term, id) {
            Some(other) if other != id => self.violation(format!(
                "election safety (§5.2): nodes {other} and {id} are both leader of term {term}"
            )),
            _ => {}
        }
        if self.checked_leaders.get(&id) != Some(&term) {
            self.checked_leaders.insert(id, term);
            self.check_completeness(id, term, first_index, &term_at);
        }
        if let Some((seen_term, seen_commit)) = self.leader_commits.insert(id, (term, committed)) {
            let moved = seen_term == term && committed > seen_commit;
            match term_at(committed) {
                Some(entry_term) if moved && entry_term != term => self.violation(format!(
                    "commitment (§5.4.2): node {id}, leader of term {term}, moved its commit \
                     index from {seen_commit} to {committed}, an entry of term {entry_term}"
                )),
                _ => {}
            }
        }
        let from = self
            .committed_in_term
            .keys()
            .next_back()
            .map_or(1, |i| i + 1);
        for index in from..=committed {
            self.committed_in_term.insert(index, term);
            if let Some(entry_term) = term_at(index) {
                self.committed(index, entry_term, id);
            }
        }
    }

    /// A leader doing safe reads has a read pending (`context`) whose
    /// acknowledgements already make a quorum of its configuration.
    pub fn confirmed_read_pending(&mut self, id: u64, term: u64, context: &[u8], acks: &[u64]) {
        self.violation(format!(
            "reads (thesis §6.4): node {id}, leader of term {term}, keeps the read {:?} \
             pending although the acknowledgements of {acks:?} make a quorum",
            String::from_utf8_lossy(context)
        ));
    }

    fn check_completeness(
        &mut self,
        id: u64,
        term: u64,
        first_index: u64,
        term_at: &impl Fn(u64) -> Option<u64>,
    ) {
        let missing = self.committed.iter().find(|(&index, &entry_term)| {
            let before = self
                .committed_in_term
                .get(&index)
                .is_some_and(|&t| t < term);
            before && index + 1 >= first_index && term_at(index) != Some(entry_term)
        });
        if let Some((&index, &entry_term)) = missing {
            self.violation(format!(
                "leader completeness (§5.4): node {id} became leader of term {term} without \
                 the entry committed at index {index} (term {entry_term}); its log has {:?}",
                term_at(index)
            ));
        }
    }

    fn committed(&mut self, index: u64, term: u64, by: u64) {
        match self.committed.insert(index, term) {
            Some(other) if other != term => self.violation(format!(
                "state machine safety (§5.4.3): index {index} committed with term {other}, \
                 then node {by} committed term {term} there"
            )),
            _ => {}
        }
    }

    /// Addressing and vote-once checks on a message `node` sent. A
    /// forwarded proposal, read or leader transfer request keeps its
    /// original sender (a transfer request names the transferee).
    pub fn message(&mut self, node: u64, incarnation: u64, m: &Message) {
        let forwarded = matches!(
            m.get_msg_type(),
            MessageType::MsgPropose | MessageType::MsgReadIndex | MessageType::MsgTransferLeader
        );
        if m.to == node || (m.from != node && !forwarded) {
            self.violation(format!(
                "addressing: node {node} sent {:?} from {} to {}",
                m.get_msg_type(),
                m.from,
                m.to
            ));
        }
        if m.get_msg_type() == MessageType::MsgRequestVoteResponse && !m.reject {
            let key = (node, incarnation, m.term);
            match self.votes.insert(key, m.to) {
                Some(other) if other != m.to => self.violation(format!(
                    "persistent state (§5.1): node {node} voted for {other} and then for {} \
                     in term {}",
                    m.to, m.term
                )),
                _ => {}
            }
        }
    }

    /// Log matching on entries `node` wrote, `previous_term` being the term
    /// of the entry before the first (if readable).
    pub fn appended(&mut self, node: u64, previous_term: Option<u64>, entries: &[Entry]) {
        let mut previous = previous_term;
        for entry in entries {
            let value = (data_hash(&entry.data), previous);
            match self.log.get(&(entry.index, entry.term)) {
                Some(&(hash, prev)) => {
                    let prev_differs = matches!((prev, previous), (Some(a), Some(b)) if a != b);
                    if hash != value.0 || prev_differs {
                        self.violation(format!(
                            "log matching (§5.3): node {node} wrote index {} term {} with \
                             different data or a different previous term than another node",
                            entry.index, entry.term
                        ));
                    }
                }
                None => {
                    self.log.insert((entry.index, entry.term), value);
                }
            }
            previous = Some(entry.term);
        }
    }

    /// Starts the hard-state history of a restarted node from what it
    /// persisted: what it handed out but lost in the crash was never promised.
    pub fn restarted(&mut self, node: u64, incarnation: u64, durable: &HardState) {
        self.hard_states
            .insert((node, incarnation), durable.clone());
    }

    /// Term, vote and commit never go backwards in what one node incarnation
    /// hands out to persist.
    pub fn hard_state(&mut self, node: u64, incarnation: u64, hs: &HardState) {
        let key = (node, incarnation);
        if let Some(last) = self.hard_states.get(&key) {
            let vote_changed = hs.term == last.term && last.vote != 0 && hs.vote != last.vote;
            if hs.term < last.term || hs.commit < last.commit || vote_changed {
                let text =
                    format!("persistent state (§5.1): node {node} persisted {hs:?} after {last:?}");
                self.violation(text);
            }
        }
        self.hard_states.insert(key, hs.clone());
    }

    /// State machine safety, contiguity and membership on what `node` applied.
    pub fn applied(&mut self, node: u64, applied: &Applied) {
        match applied {
            Applied::Snapshot {
                previous,
                index,
                term,
            } => {
                if index < previous {
                    self.violation(format!(
                        "apply order: node {node} restored snapshot {index} after applying \
                         {previous}"
                    ));
                }
                self.committed(*index, *term, node);
            }
            Applied::Entry {
                previous,
                entry,
                conf_state,
            } => {
                if entry.index != previous + 1 {
                    self.violation(format!(
                        "apply order: node {node} applied index {} after {previous} \
                         (exactly once, contiguously)",
                        entry.index
                    ));
                    return;
                }
                self.committed(entry.index, entry.term, node);
                let value = (entry.term, data_hash(&entry.data));
                match self.applied.insert(entry.index, value) {
                    Some(other) if other != value => self.violation(format!(
                        "state machine safety (§5.4.3): node {node} applied a different entry \
                         at index {} (term {} vs {})",
                        entry.index, entry.term, other.0
                    )),
                    _ => {}
                }
                if let Some(cs) = conf_state {
                    match self.confs.insert(entry.index, cs.clone()) {
                        Some(other) if other != *cs => self.violation(format!(
                            "membership (thesis §4.1): node {node} reached {cs:?} at index {}, \
                             another node {other:?}",
                            entry.index
                        )),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Records a read issued on `issuer` after writes up to `min_index` were
    /// acknowledged.
    pub fn read_issued(&mut self, ctx: Vec<u8>, issuer: u64, min_index: u64) {
        self.reads.insert(
            ctx,
            ReadRecord {
                issuer,
                min_index,
                seen: 0,
            },
        );
    }

    /// Checks a `ReadState` handed out by `node`.
    pub fn read_state(&mut self, node: u64, rs: &ReadState, duplicates_possible: bool) {
        let Some(record) = self.reads.get_mut(&rs.request_ctx) else {
            self.violation(format!(
                "reads: node {node} got a read state for a context never issued: {:?}",
                rs.request_ctx
            ));
            return;
        };
        record.seen += 1;
        let (issuer, min_index, seen) = (record.issuer, record.min_index, record.seen);
        if issuer != node {
            self.violation(format!(
                "reads (thesis §6.4): the read issued on node {issuer} was answered on node {node}"
            ));
        }
        if seen > 1 && !duplicates_possible {
            self.violation(format!(
                "reads: node {node} got the read state of one context {seen} times"
            ));
        }
        if rs.index < min_index {
            self.violation(format!(
                "reads (thesis §6.4): node {node} got read index {} but a write at index \
                 {min_index} was acknowledged before the read was issued",
                rs.index
            ));
        }
    }

    /// The last configuration change applied by anyone, if any.
    pub fn last_conf(&self) -> Option<&ConfState> {
        self.confs.values().next_back()
    }

    /// The highest index known committed.
    pub fn max_committed(&self) -> u64 {
        self.committed.keys().next_back().copied().unwrap_or(0)
    }
}
