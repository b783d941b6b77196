//! The raft loop: one task that owns the [`RawNode`], the storage and the
//! state machine, and drives them by the crate's driver contract.
//!
//! Each turn it waits for a tick, a peer message or a client request, takes
//! whatever else is already queued (so many proposals share one `Ready` and
//! one disk write), then handles the `Ready`: send the leader's messages,
//! persist snapshot, entries and hard state in one `RedbStorage::write`,
//! send the persisted messages, apply committed entries, serve reads whose
//! index is applied, advance, and take a snapshot every
//! `--snapshot-interval` applied entries.
//!
//! Writes are answered when their entry is applied here, so a follower
//! serves writes too: it proposes locally and raft forwards the proposal to
//! the leader. Reads go through `read_index` (thesis §6.4), also from any
//! node. A request that raft drops on the way (a leader change) is never
//! answered by the loop; the HTTP layer's timeout answers it (504, outcome
//! unknown).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::{ConfChangeV2, ConfState, EntryType, HardState, Snapshot};
use raft::prelude::{ConfChange, ConfChangeType, Config, Entry, RawNode, SnapshotStatus};
use raft::{Error as RaftError, StateRole, Storage, StorageError};
use raft_redb::{RedbStorage, WriteBatch};
use serde::Serialize;
use slog::{debug, error, info, warn, Logger};
use tokio::sync::{mpsc, oneshot, watch};

use crate::args::Options;
use crate::state_machine::{
    decode, encode, Command, MemberContext, Proposal, RequestId, StateMachine,
};
use crate::transport::{Dropped, NetworkEvent, Transport};

/// Where the answer to a request goes.
pub type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// A client request for the raft loop.
#[derive(Debug)]
pub enum Request {
    /// Set a key; answered once applied.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
        /// The answer.
        reply: Reply<()>,
    },
    /// Remove a key; answered once applied.
    Delete {
        /// The key.
        key: Vec<u8>,
        /// The answer.
        reply: Reply<()>,
    },
    /// Read a key linearizably.
    Get {
        /// The key.
        key: Vec<u8>,
        /// The value, or `None` if absent.
        reply: Reply<Option<Vec<u8>>>,
    },
    /// Add a voter reachable at `address`.
    AddMember {
        /// The new node's raft id.
        id: u64,
        /// The new node's raft address.
        address: String,
        /// The answer, once the change is applied.
        reply: Reply<()>,
    },
    /// Remove a member.
    RemoveMember {
        /// The node's raft id.
        id: u64,
        /// The answer, once the change is applied.
        reply: Reply<()>,
    },
    /// Report this node's view of the cluster.
    Status {
        /// The answer.
        reply: oneshot::Sender<StatusReport>,
    },
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// No leader is known, so nothing can be committed or read.
    NoLeader,
    /// Raft refused the request for the given reason.
    Refused(String),
    /// The request was not answered in time; a write may still take effect.
    Timeout,
    /// The request is malformed.
    BadRequest(String),
    /// The node is stopping.
    ShuttingDown,
}

/// This node's view of the cluster, served as `GET /status`.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// This node's raft id.
    pub id: u64,
    /// `leader`, `candidate`, `pre-candidate` or `follower`.
    pub role: &'static str,
    /// The known leader, 0 if none.
    pub leader: u64,
    /// The current term.
    pub term: u64,
    /// The commit index.
    pub commit: u64,
    /// The last index applied to the state machine.
    pub applied: u64,
    /// Voting members.
    pub voters: Vec<u64>,
    /// Non-voting members.
    pub learners: Vec<u64>,
    /// Number of keys in the map.
    pub keys: usize,
}

struct PendingRead {
    key: Vec<u8>,
    reply: Reply<Option<Vec<u8>>>,
}

/// The raft loop's state.
pub struct Node {
    raw: RawNode<RedbStorage>,
    storage: RedbStorage,
    state: StateMachine,
    conf_state: ConfState,
    transport: Transport,
    options: Options,
    incarnation: u64,
    sequence: u64,
    pending_writes: HashMap<RequestId, Reply<()>>,
    pending_reads: HashMap<Vec<u8>, PendingRead>,
    /// Reads whose read index is known, waiting for it to be applied.
    ready_reads: Vec<(u64, PendingRead)>,
    last_snapshot_index: u64,
    /// A member was added: snapshot at once, so that the snapshot the
    /// leader sends the new node names it in its conf state (a node drops
    /// a snapshot whose conf state does not contain it).
    snapshot_due: bool,
    deferred_drops: Dropped,
    logger: Logger,
}

fn storage_error(context: &str, error: impl std::fmt::Debug) -> String {
    format!("{context}: {error:?}")
}

impl Node {
    /// Opens (or bootstraps) the node's storage and builds the raft node.
    ///
    /// A node without `--join` whose storage is empty bootstraps the cluster
    /// named by `--cluster`: it stores a snapshot at index 1, term 1 whose
    /// conf state has every `--cluster` id as a voter and whose data holds
    /// their addresses. Every such node writes the identical snapshot, so
    /// they agree on index 1. Starting from a snapshot rather than an empty
    /// log means a node added later always gets a snapshot first (the log
    /// before index 2 does not exist), and so learns the membership and the
    /// addresses before any entry.
    pub fn open(
        options: &Options,
        mut transport: Transport,
        logger: Logger,
    ) -> Result<Node, String> {
        let storage = RedbStorage::open(&options.data_dir)
            .map_err(|e| storage_error("cannot open the data directory", e))?;
        let initial = storage
            .initial_state()
            .map_err(|e| storage_error("cannot read the stored raft state", e))?;
        if !initial.initialized() && !options.join {
            info!(logger, "bootstrapping a new cluster"; "voters" => ?options.cluster.keys().collect::<Vec<_>>());
            storage
                .write(&bootstrap_batch(options))
                .map_err(|e| storage_error("cannot write the bootstrap snapshot", e))?;
        }
        let snapshot = match storage.snapshot(0, options.id) {
            Ok(snapshot) => snapshot,
            Err(RaftError::Store(StorageError::SnapshotTemporarilyUnavailable)) => {
                Snapshot::default()
            }
            Err(e) => return Err(storage_error("cannot read the stored snapshot", e)),
        };
        let index = snapshot.get_metadata().index;
        let state = StateMachine::restore(&snapshot.data, index)
            .map_err(|e| storage_error("the stored snapshot does not decode", e))?;
        let conf_state = storage.conf_state();
        let config = Config {
            id: options.id,
            election_tick: 10,
            heartbeat_tick: 2,
            applied: index,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            check_quorum: true,
            pre_vote: true,
            ..Default::default()
        };
        let raw = RawNode::new(&config, storage.clone(), &logger)
            .map_err(|e| storage_error("cannot start raft", e))?;
        for (id, address) in &options.cluster {
            if *id != options.id {
                transport.set_peer(*id, address.to_string());
            }
        }
        for (id, address) in state.addresses() {
            if *id != options.id {
                transport.set_peer(*id, address.clone());
            }
        }
        info!(logger, "raft node started";
            "applied" => index, "term" => raw.raft.term, "voters" => ?conf_state.voters,
            "commit" => raw.raft.raft_log.committed);
        Ok(Node {
            raw,
            storage,
            state,
            conf_state,
            transport,
            options: options.clone(),
            incarnation: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
            sequence: 0,
            pending_writes: HashMap::new(),
            pending_reads: HashMap::new(),
            ready_reads: Vec::new(),
            last_snapshot_index: index,
            snapshot_due: false,
            deferred_drops: Dropped::default(),
            logger,
        })
    }

    /// Runs until `shutdown` turns true (or its sender goes away). Every
    /// write is durable before the loop returns; unanswered requests are
    /// dropped, which their HTTP handlers answer as "shutting down".
    pub async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut events: mpsc::Receiver<NetworkEvent>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut ticker = tokio::time::interval(Duration::from_millis(self.options.tick_ms));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                _ = ticker.tick() => self.on_tick(),
                Some(event) = events.recv() => self.on_event(event),
                Some(request) = requests.recv() => self.on_request(request),
            }
            // Take what else is queued, so that it shares this Ready.
            for _ in 0..4096 {
                match events.try_recv() {
                    Ok(event) => self.on_event(event),
                    Err(_) => break,
                }
            }
            for _ in 0..4096 {
                match requests.try_recv() {
                    Ok(request) => self.on_request(request),
                    Err(_) => break,
                }
            }
            self.on_ready();
        }
        info!(self.logger, "raft loop stopped"; "applied" => self.state.applied());
    }

    fn on_tick(&mut self) {
        self.raw.tick();
        // Forget requests whose HTTP handler gave up (timeout).
        self.pending_writes.retain(|_, reply| !reply.is_closed());
        self.pending_reads.retain(|_, read| !read.reply.is_closed());
        self.ready_reads.retain(|(_, read)| !read.reply.is_closed());
    }

    fn on_event(&mut self, event: NetworkEvent) {
        match event {
            NetworkEvent::Message(message) => {
                let (from, msg_type) = (message.from, message.get_msg_type());
                if let Err(e) = self.raw.step(*message) {
                    debug!(self.logger, "message ignored"; "from" => from, "type" => ?msg_type, "error" => %e);
                }
            }
            NetworkEvent::Unreachable(id) => self.raw.report_unreachable(id),
            NetworkEvent::SnapshotSent(id, delivered) => {
                let status = if delivered {
                    SnapshotStatus::Finish
                } else {
                    SnapshotStatus::Failure
                };
                info!(self.logger, "snapshot sent"; "to" => id, "status" => ?status);
                self.raw.report_snapshot(id, status);
            }
        }
    }

    fn next_request_id(&mut self) -> RequestId {
        self.sequence += 1;
        RequestId {
            origin: self.options.id,
            incarnation: self.incarnation,
            sequence: self.sequence,
        }
    }

    fn refusal(&self, error: RaftError) -> ApiError {
        if self.raw.raft.leader_id == 0 {
            ApiError::NoLeader
        } else {
            ApiError::Refused(format!("raft refused the proposal: {error}"))
        }
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Put { key, value, reply } => {
                self.propose(Command::Put { key, value }, reply);
            }
            Request::Delete { key, reply } => self.propose(Command::Delete { key }, reply),
            Request::Get { key, reply } => {
                if self.raw.raft.leader_id == 0 {
                    let _ = reply.send(Err(ApiError::NoLeader));
                    return;
                }
                let context = encode(&self.next_request_id());
                self.raw.read_index(context.clone());
                self.pending_reads
                    .insert(context, PendingRead { key, reply });
            }
            Request::AddMember { id, address, reply } => {
                let change = ConfChangeType::AddNode;
                self.propose_member_change(change, id, Some(address), reply);
            }
            Request::RemoveMember { id, reply } => {
                if !self.conf_state.voters.contains(&id) && !self.conf_state.learners.contains(&id)
                {
                    let reason = format!("node {id} is not a member");
                    let _ = reply.send(Err(ApiError::BadRequest(reason)));
                    return;
                }
                self.propose_member_change(ConfChangeType::RemoveNode, id, None, reply);
            }
            Request::Status { reply } => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn propose(&mut self, command: Command, reply: Reply<()>) {
        let request = self.next_request_id();
        let data = encode(&Proposal { request, command });
        match self.raw.propose(vec![], data) {
            Ok(()) => {
                self.pending_writes.insert(request, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(self.refusal(e)));
            }
        }
    }

    fn propose_member_change(
        &mut self,
        change_type: ConfChangeType,
        id: u64,
        address: Option<String>,
        reply: Reply<()>,
    ) {
        let request = self.next_request_id();
        let change = ConfChange {
            change_type: change_type.into(),
            node_id: id,
            context: encode(&MemberContext { request, address }).into(),
            ..Default::default()
        };
        match self.raw.propose_conf_change(vec![], change) {
            Ok(()) => {
                self.pending_writes.insert(request, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(self.refusal(e)));
            }
        }
    }

    fn status(&self) -> StatusReport {
        let raft = &self.raw.raft;
        StatusReport {
            id: raft.id,
            role: match raft.state {
                StateRole::Leader => "leader",
                StateRole::Candidate => "candidate",
                StateRole::PreCandidate => "pre-candidate",
                StateRole::Follower => "follower",
            },
            leader: raft.leader_id,
            term: raft.term,
            commit: raft.raft_log.committed,
            applied: self.state.applied(),
            voters: self.conf_state.voters.clone(),
            learners: self.conf_state.learners.clone(),
            keys: self.state.len(),
        }
    }

    fn send(&mut self, messages: Vec<raft::prelude::Message>) {
        if messages.is_empty() {
            return;
        }
        let dropped = self.transport.send(messages);
        self.deferred_drops.unreachable.extend(dropped.unreachable);
        self.deferred_drops.snapshots.extend(dropped.snapshots);
    }

    fn on_ready(&mut self) {
        if !self.raw.has_ready() {
            return;
        }
        let mut ready = self.raw.ready();
        if let Some(soft) = ready.ss() {
            info!(self.logger, "role changed"; "role" => ?soft.raft_state, "leader" => soft.leader_id, "term" => self.raw.raft.term);
        }
        // Step 4: a leader's messages go out before its own write.
        self.send(ready.take_messages());
        // Step 5: persist snapshot, entries and hard state together.
        let snapshot = (!ready.snapshot().is_empty()).then(|| ready.snapshot().clone());
        let batch = WriteBatch {
            snapshot: snapshot.clone(),
            entries: ready.take_entries(),
            hard_state: ready.hs().cloned(),
        };
        if batch.snapshot.is_some() || !batch.entries.is_empty() || batch.hard_state.is_some() {
            if let Err(e) = self.storage.write(&batch) {
                panic!("raft-kvstore: cannot persist a Ready, stopping: {e:?}");
            }
        }
        if let Some(snapshot) = snapshot {
            self.install_snapshot(&snapshot);
        }
        // Step 6: acknowledgements and votes only once durable.
        self.send(ready.take_persisted_messages());
        // Step 7: apply, and note the reads.
        self.apply(ready.take_committed_entries());
        for read in ready.take_read_states() {
            if let Some(pending) = self.pending_reads.remove(&read.request_ctx[..]) {
                self.ready_reads.push((read.index, pending));
            }
        }
        // Step 8: advance.
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            if let Err(e) = self.storage.set_commit(commit) {
                panic!("raft-kvstore: cannot persist commit index {commit}: {e:?}");
            }
        }
        self.send(light.take_messages());
        self.apply(light.take_committed_entries());
        self.raw.advance_apply();
        self.serve_reads();
        self.maybe_snapshot();
        let drops = std::mem::take(&mut self.deferred_drops);
        for id in drops.unreachable {
            self.raw.report_unreachable(id);
        }
        for id in drops.snapshots {
            self.raw.report_snapshot(id, SnapshotStatus::Failure);
        }
    }

    fn install_snapshot(&mut self, snapshot: &Snapshot) {
        let metadata = snapshot.get_metadata();
        match StateMachine::restore(&snapshot.data, metadata.index) {
            Ok(state) => self.state = state,
            Err(e) => panic!(
                "raft-kvstore: snapshot at index {} does not decode: {e}",
                metadata.index
            ),
        }
        self.conf_state = metadata.get_conf_state().clone();
        self.last_snapshot_index = metadata.index;
        let addresses: Vec<(u64, String)> = self
            .state
            .addresses()
            .iter()
            .map(|(id, address)| (*id, address.clone()))
            .collect();
        for (id, address) in addresses {
            if id != self.options.id {
                self.transport.set_peer(id, address);
            }
        }
        info!(self.logger, "snapshot installed"; "index" => metadata.index, "keys" => self.state.len(), "voters" => ?self.conf_state.voters);
    }

    fn apply(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            if entry.index <= self.state.applied() {
                // Covered by a snapshot installed in this same Ready.
                continue;
            }
            self.state.advance_applied(entry.index);
            match entry.get_entry_type() {
                EntryType::EntryNormal => self.apply_normal(&entry),
                EntryType::EntryConfChange => match ConfChange::parse_from_tokio_bytes(&entry.data)
                {
                    Ok(change) => self.apply_conf_change(&change, &change.context, entry.index),
                    Err(e) => {
                        error!(self.logger, "undecodable conf change entry"; "index" => entry.index, "error" => %e)
                    }
                },
                EntryType::EntryConfChangeV2 => {
                    match ConfChangeV2::parse_from_tokio_bytes(&entry.data) {
                        Ok(change) => self.apply_conf_change(&change, &change.context, entry.index),
                        Err(e) => {
                            error!(self.logger, "undecodable conf change entry"; "index" => entry.index, "error" => %e)
                        }
                    }
                }
            }
        }
    }

    fn apply_normal(&mut self, entry: &Entry) {
        if entry.data.is_empty() {
            // A new leader's empty entry.
            return;
        }
        match decode::<Proposal>(&entry.data) {
            Ok(proposal) => {
                self.state.apply(proposal.command);
                if let Some(reply) = self.pending_writes.remove(&proposal.request) {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                error!(self.logger, "undecodable entry skipped"; "index" => entry.index, "error" => %e)
            }
        }
    }

    fn apply_conf_change(
        &mut self,
        change: &impl raft_proto::ConfChangeI,
        context: &[u8],
        index: u64,
    ) {
        match self.raw.apply_conf_change(change) {
            Ok(conf_state) => {
                if let Err(e) = self.storage.set_conf_state(conf_state.clone()) {
                    panic!("raft-kvstore: cannot persist the conf state at {index}: {e:?}");
                }
                self.conf_state = conf_state;
            }
            Err(e) => {
                warn!(self.logger, "conf change rejected"; "index" => index, "error" => %e);
            }
        }
        let context = match decode::<MemberContext>(context) {
            Ok(context) => context,
            Err(e) => {
                warn!(self.logger, "conf change without a member context"; "index" => index, "error" => %e);
                return;
            }
        };
        for single in change.as_v2().changes.iter() {
            let id = single.node_id;
            match single.get_change_type() {
                ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                    self.snapshot_due = true;
                    if let Some(address) = &context.address {
                        self.state.set_address(id, address.clone());
                        if id != self.options.id {
                            self.transport.set_peer(id, address.clone());
                        }
                    }
                }
                ConfChangeType::RemoveNode => {
                    self.state.remove_address(id);
                    if id != self.options.id {
                        self.transport.remove_peer(id);
                    }
                }
            }
        }
        info!(self.logger, "membership changed"; "index" => index, "voters" => ?self.conf_state.voters, "learners" => ?self.conf_state.learners);
        if let Some(reply) = self.pending_writes.remove(&context.request) {
            let _ = reply.send(Ok(()));
        }
    }

    fn serve_reads(&mut self) {
        let applied = self.state.applied();
        let mut waiting = Vec::new();
        for (index, read) in self.ready_reads.drain(..) {
            if index <= applied {
                let value = self.state.get(&read.key).cloned();
                let _ = read.reply.send(Ok(value));
            } else {
                waiting.push((index, read));
            }
        }
        self.ready_reads = waiting;
    }

    fn maybe_snapshot(&mut self) {
        let applied = self.state.applied();
        let interval_passed = applied >= self.last_snapshot_index + self.options.snapshot_interval;
        if !(interval_passed || self.snapshot_due) || applied == self.last_snapshot_index {
            return;
        }
        self.snapshot_due = false;
        let data = self.state.snapshot();
        if let Err(e) = self
            .storage
            .save_snapshot(applied, self.conf_state.clone(), &data)
        {
            panic!("raft-kvstore: cannot save a snapshot at {applied}: {e:?}");
        }
        self.last_snapshot_index = applied;
        let compact_to = applied.saturating_sub(self.options.compact_margin);
        let first = self.storage.first_index().unwrap_or(0);
        if compact_to > first {
            if let Err(e) = self.storage.compact(compact_to) {
                panic!("raft-kvstore: cannot compact the log to {compact_to}: {e:?}");
            }
        }
        info!(self.logger, "snapshot taken"; "index" => applied, "bytes" => data.len(), "compacted_to" => compact_to);
    }
}

fn bootstrap_batch(options: &Options) -> WriteBatch {
    let mut state = StateMachine::default();
    for (id, address) in &options.cluster {
        state.set_address(*id, address.to_string());
    }
    let mut snapshot = Snapshot {
        data: state.snapshot().into(),
        ..Default::default()
    };
    let metadata = snapshot.mut_metadata();
    metadata.index = 1;
    metadata.term = 1;
    metadata.mut_conf_state().voters = options.cluster.keys().copied().collect();
    WriteBatch {
        snapshot: Some(snapshot),
        entries: Vec::new(),
        hard_state: Some(HardState {
            term: 1,
            vote: 0,
            commit: 1,
            ..Default::default()
        }),
    }
}
