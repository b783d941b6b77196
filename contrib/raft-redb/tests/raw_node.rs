//! Three `RawNode`s on raft-redb driven end to end: replication, a saved
//! snapshot and compaction on the leader, a lagging follower caught up by
//! that snapshot (data included, read back through `Storage::snapshot`),
//! and every node restarted from its directory with exactly the state it
//! had acknowledged.

use std::path::PathBuf;

use raft::eraftpb::{ConfState, EntryType, Message};
use raft::{Config, RawNode, StateRole, Storage};
use raft_redb::{RedbStorage, WriteBatch};

/// One node: its store, its `RawNode`, and its state machine (the applied
/// proposals, in order).
struct Node {
    id: u64,
    dir: PathBuf,
    store: RedbStorage,
    raw: RawNode<RedbStorage>,
    applied: Vec<Vec<u8>>,
    applied_index: u64,
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

/// The state machine image kept in snapshots: each proposal, length-prefixed.
fn encode_image(applied: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in applied {
        out.extend_from_slice(&(item.len() as u32).to_be_bytes());
        out.extend_from_slice(item);
    }
    out
}

fn decode_image(mut image: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !image.is_empty() {
        let len = u32::from_be_bytes(image[..4].try_into().unwrap()) as usize;
        out.push(image[4..4 + len].to_vec());
        image = &image[4 + len..];
    }
    out
}

impl Node {
    /// Opens the node's store (creating it with the cluster's membership
    /// the first time) and starts a `RawNode` on it, restoring the state
    /// machine from the stored snapshot.
    fn start(id: u64, dir: PathBuf) -> Node {
        let store = RedbStorage::open(&dir).unwrap();
        if !store.initial_state().unwrap().initialized() {
            store
                .initialize_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])))
                .unwrap();
        }
        let (applied, applied_index) = match store.snapshot(0, id) {
            Ok(snap) => (decode_image(&snap.data), snap.metadata().index),
            Err(_) => (Vec::new(), 0),
        };
        let config = Config {
            id,
            election_tick: 10,
            heartbeat_tick: 1,
            applied: applied_index,
            ..Default::default()
        };
        let raw = RawNode::new(&config, store.clone(), &logger()).unwrap();
        Node {
            id,
            dir,
            store,
            raw,
            applied,
            applied_index,
        }
    }

    fn restart(self) -> Node {
        let Node {
            id,
            dir,
            store,
            raw,
            ..
        } = self;
        // The store closes when its last clone (the RawNode's) goes.
        drop(raw);
        drop(store);
        Node::start(id, dir)
    }

    fn apply(&mut self, entries: Vec<raft::eraftpb::Entry>) {
        for e in entries {
            if e.get_entry_type() == EntryType::EntryNormal && !e.data.is_empty() {
                self.applied.push(e.data.to_vec());
            }
            self.applied_index = e.index;
        }
    }

    /// Handles one `Ready` the way the crate docs describe; returns the
    /// messages to send.
    fn handle_ready(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        if !self.raw.has_ready() {
            return out;
        }
        let mut rd = self.raw.ready();
        out.extend(rd.take_messages());
        let batch = WriteBatch::from_ready(&mut rd);
        self.store.write(&batch).unwrap();
        if let Some(snap) = &batch.snapshot {
            self.applied = decode_image(&snap.data);
            self.applied_index = snap.metadata().index;
        }
        out.extend(rd.take_persisted_messages());
        self.apply(rd.take_committed_entries());
        let mut light = self.raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            self.store.set_commit(commit).unwrap();
        }
        out.extend(light.take_messages());
        self.apply(light.take_committed_entries());
        self.raw.advance_apply();
        out
    }
}

struct Cluster {
    nodes: Vec<Node>,
    /// Messages to or from this node are dropped.
    isolated: Option<u64>,
    _scratch: Scratch,
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Cluster {
    fn new() -> Cluster {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("raft-redb-rawnode-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let nodes = (1..=3)
            .map(|id| Node::start(id, root.join(format!("node-{id}"))))
            .collect();
        Cluster {
            nodes,
            isolated: None,
            _scratch: Scratch(root),
        }
    }

    fn node(&mut self, id: u64) -> &mut Node {
        &mut self.nodes[id as usize - 1]
    }

    /// Handles Readys and delivers messages until nothing moves.
    fn settle(&mut self) {
        for _ in 0..1000 {
            let mut mail = Vec::new();
            for node in &mut self.nodes {
                mail.extend(node.handle_ready());
            }
            if mail.is_empty() {
                return;
            }
            for m in mail {
                if self.isolated == Some(m.to) || self.isolated == Some(m.from) {
                    continue;
                }
                // A node may refuse a stale message; the test only needs
                // the ones that matter to arrive.
                let _ = self.node(m.to).raw.step(m);
            }
        }
        panic!("the cluster did not settle");
    }

    fn propose(&mut self, leader: u64, from: usize, count: usize) {
        for i in from..from + count {
            self.node(leader)
                .raw
                .propose(vec![], format!("proposal {i}").into_bytes())
                .unwrap();
            self.settle();
        }
    }
}

#[test]
fn a_cluster_on_redb_replicates_snapshots_and_restarts_with_what_it_acknowledged() {
    let mut c = Cluster::new();
    c.node(1).raw.campaign().unwrap();
    c.settle();
    assert_eq!(c.node(1).raw.raft.state, StateRole::Leader);

    // Node 3 misses ten proposals.
    c.isolated = Some(3);
    c.propose(1, 0, 10);
    let leader_applied = c.node(1).applied.clone();
    assert_eq!(leader_applied.len(), 10);
    assert_eq!(c.node(2).applied, leader_applied);
    assert!(c.node(3).applied.is_empty());

    // The leader snapshots its state machine and drops the log it covers.
    let (index, image) = {
        let leader = c.node(1);
        (leader.applied_index, encode_image(&leader.applied))
    };
    let cs = c.node(1).store.conf_state();
    c.node(1).store.save_snapshot(index, cs, &image).unwrap();
    c.node(1).store.compact(index + 1).unwrap();
    assert_eq!(c.node(1).store.first_index().unwrap(), index + 1);

    // Node 2 restarts from disk with its log and hard state.
    let before = (
        c.node(2).store.hard_state(),
        c.node(2).raw.raft.raft_log.last_index(),
    );
    let node2 = c.nodes.remove(1).restart();
    c.nodes.insert(1, node2);
    assert_eq!(
        (
            c.node(2).raw.raft.hard_state(),
            c.node(2).raw.raft.raft_log.last_index()
        ),
        before
    );
    assert_eq!(c.node(2).raw.raft.raft_log.committed, before.0.commit);

    // Node 3 comes back; only the snapshot can catch it up.
    c.isolated = None;
    c.propose(1, 10, 5);
    let all = c.node(1).applied.clone();
    assert_eq!(all.len(), 15);
    for id in [2, 3] {
        assert_eq!(c.node(id).applied, all, "node {id}");
    }
    let snap3 = c.node(3).store.snapshot(0, 1).unwrap();
    assert_eq!(snap3.metadata().index, index);
    assert_eq!(
        snap3.data.as_ref(),
        image.as_slice(),
        "node 3 kept the image"
    );
    assert_eq!(c.node(3).store.first_index().unwrap(), index + 1);

    // Every node restarts with what it acknowledged, and the cluster goes
    // on from there.
    let before: Vec<_> = c
        .nodes
        .iter()
        .map(|n| {
            (
                n.raw.raft.hard_state(),
                n.raw.raft.raft_log.last_index(),
                n.raw.raft.raft_log.committed,
            )
        })
        .collect();
    let nodes = std::mem::take(&mut c.nodes);
    c.nodes = nodes.into_iter().map(Node::restart).collect();
    let after: Vec<_> = c
        .nodes
        .iter()
        .map(|n| {
            (
                n.raw.raft.hard_state(),
                n.raw.raft.raft_log.last_index(),
                n.raw.raft.raft_log.committed,
            )
        })
        .collect();
    assert_eq!(after, before);
    c.node(2).raw.campaign().unwrap();
    c.settle();
    assert_eq!(c.node(2).raw.raft.state, StateRole::Leader);
    c.propose(2, 15, 3);
    for id in [1, 2, 3] {
        let n = c.node(id);
        assert_eq!(n.applied.len(), 18, "node {id}");
        assert_eq!(n.applied[17], b"proposal 17");
    }
    let node1 = &c.nodes[0];
    assert!(node1.dir.exists());
}
