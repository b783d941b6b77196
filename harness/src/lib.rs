//! An in-memory test network for the `raft` crate.
//!
//! [`Network`] wires several [`Raft`] nodes together, each behind an
//! [`Interface`] that persists its log into a [`MemStorage`] the way a real
//! driver would. Messages are delivered synchronously in FIFO order; links can
//! be cut, peers isolated, message types ignored and links made lossy. Losses
//! are drawn from a seeded generator, so a failing test replays exactly.
//!
//! Test helpers (building configs, nodes, messages) live in each test
//! suite's `test_util` module, not here: tests glob-import `raft::*`,
//! `raft_proto::*` and `harness::*` together, so this crate exports only
//! [`Interface`] and [`Network`], plus modules: [`datadriven`], the
//! runner of data-driven scenario files; [`interaction`], the
//! environment of `RawNode`s that interaction scenarios drive;
//! [`fuzzing`], the logic of the fuzz targets, so that stable tests can
//! replay their corpus; [`linearizability`], a checker of key-value
//! histories; [`sim`], the seeded cluster simulator; and [`storage_kit`], the conformance checks any
//! [`raft::Storage`] implementation can run.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod datadriven;
pub mod fuzzing;
pub mod interaction;
pub mod linearizability;
pub mod sim;
pub mod storage_kit;

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};

use raft::eraftpb::{ConfState, Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, Raft, Result, NO_LIMIT};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use slog::Logger;

/// The std `HashMap` with the `fxhash` hasher, as the `raft` crate uses.
type HashMap<K, V> = fxhash::FxHashMap<K, V>;

/// Deliveries after which [`Network::send`] gives up: a protocol that never
/// goes quiet is a livelock, better reported than hung on.
const MAX_DELIVERIES_PER_SEND: usize = 1_000_000;

/// The seed of a network's message-loss generator when none is set.
const DEFAULT_DROP_SEED: u64 = 0x5EED_D20F;

/// One node of a [`Network`]: a raft, or `None` for a node that silently
/// drops everything sent to it (a crashed or black-hole peer).
///
/// It dereferences to the [`Raft`] it holds; dereferencing a `None`
/// interface panics.
pub struct Interface {
    /// The node, or `None` for a node that drops all messages.
    pub raft: Option<Raft<MemStorage>>,
}

impl Interface {
    /// Wraps a raft node.
    pub fn new(r: Raft<MemStorage>) -> Interface {
        Interface { raft: Some(r) }
    }

    /// Steps a message into the node. A `None` interface drops it and
    /// returns `Ok`.
    pub fn step(&mut self, m: Message) -> Result<()> {
        match self.raft.as_mut() {
            Some(raft) => raft.step(m),
            None => Ok(()),
        }
    }

    /// Takes the messages the node has queued for sending.
    pub fn read_messages(&mut self) -> Vec<Message> {
        match self.raft.as_mut() {
            Some(raft) => std::mem::take(&mut raft.msgs),
            None => Vec::new(),
        }
    }

    /// Makes everything the node holds in memory durable, as a driver does
    /// between `ready` and `advance`: the unstable snapshot is applied to
    /// the [`MemStorage`], then the unstable entries are appended to it, and
    /// each is reported persisted to the node. The node's hard state is
    /// written to the storage too, so a node rebuilt from the storage
    /// restarts where this one stood.
    pub fn persist(&mut self) {
        let Some(raft) = self.raft.as_mut() else {
            return;
        };
        if let Some(snapshot) = raft.raft_log.unstable_snapshot().clone() {
            let index = snapshot.metadata.index;
            raft.raft_log.stable_snap(index);
            if let Err(e) = raft.raft_log.store.wl().apply_snapshot(snapshot) {
                panic!(
                    "node {}: MemStorage refused the unstable snapshot at index {}: {:?}",
                    raft.id, index, e
                );
            }
            raft.on_persist_snap(index);
            raft.commit_apply(index);
        }
        let unstable = raft.raft_log.unstable_entries().to_vec();
        if let Some(last) = unstable.last() {
            let (last_index, last_term) = (last.index, last.term);
            raft.raft_log.stable_entries(last_index, last_term);
            if let Err(e) = raft.raft_log.store.wl().append(&unstable) {
                panic!(
                    "node {}: MemStorage refused entries [{}, {}]: {:?}",
                    raft.id, unstable[0].index, last_index, e
                );
            }
            raft.on_persist_entries(last_index, last_term);
        }
        let hard_state = raft.hard_state();
        raft.raft_log.store.wl().set_hardstate(hard_state);
    }
}

impl From<Option<Raft<MemStorage>>> for Interface {
    fn from(raft: Option<Raft<MemStorage>>) -> Self {
        Interface { raft }
    }
}

impl From<Raft<MemStorage>> for Interface {
    fn from(raft: Raft<MemStorage>) -> Self {
        Interface { raft: Some(raft) }
    }
}

impl Deref for Interface {
    type Target = Raft<MemStorage>;

    fn deref(&self) -> &Raft<MemStorage> {
        self.raft
            .as_ref()
            .expect("this Interface holds no raft (a None peer that drops messages)")
    }
}

impl DerefMut for Interface {
    fn deref_mut(&mut self) -> &mut Raft<MemStorage> {
        self.raft
            .as_mut()
            .expect("this Interface holds no raft (a None peer that drops messages)")
    }
}

/// A directed link between two peers, `(from, to)`.
type Link = (u64, u64);

/// A group of raft nodes exchanging messages in memory.
///
/// Peers are numbered `1..=n`. Delivery is synchronous and FIFO; each
/// delivered message is followed by persisting the receiver, so replies
/// carry only durable state.
pub struct Network {
    /// The nodes, by id.
    pub peers: HashMap<u64, Interface>,
    /// The storage of each node, by id (shared with the node's raft log).
    pub storage: HashMap<u64, MemStorage>,
    /// The probability of dropping a message on each directed link.
    drop_rates: HashMap<Link, f64>,
    /// Message types that are never delivered.
    ignored: Vec<MessageType>,
    /// The generator deciding lossy-link drops.
    rng: StdRng,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            peers: HashMap::default(),
            storage: HashMap::default(),
            drop_rates: HashMap::default(),
            ignored: Vec::new(),
            rng: StdRng::seed_from_u64(DEFAULT_DROP_SEED),
        }
    }
}

impl Network {
    /// The configuration tests use unless they say otherwise: election
    /// timeout 10 ticks, heartbeat 1 tick, no message size limit, an
    /// in-flight window of 256.
    pub fn default_config() -> Config {
        Config {
            election_tick: 10,
            heartbeat_tick: 1,
            max_size_per_msg: NO_LIMIT,
            max_inflight_msgs: 256,
            ..Default::default()
        }
    }

    /// Builds a network of `peers.len()` nodes with
    /// [`default_config`](Self::default_config). See
    /// [`new_with_config`](Self::new_with_config).
    pub fn new(peers: Vec<Option<Interface>>, l: &Logger) -> Network {
        let config = Network::default_config();
        Network::new_with_config(peers, &config, l)
    }

    /// Builds a network of `peers.len()` nodes; the node at position `i`
    /// gets id `i + 1`.
    ///
    /// A `None` entry becomes a fresh voter of a group of all the ids, with a
    /// new [`MemStorage`] and `config` (with its id set). Its random
    /// generator is seeded with `config.rng_seed + id` (or `id` when
    /// `rng_seed` is `None`), so elections replay exactly. A `Some` entry is
    /// kept as is; its raft, if any, must have the id of its position.
    pub fn new_with_config(peers: Vec<Option<Interface>>, config: &Config, l: &Logger) -> Network {
        let ids: Vec<u64> = (1..=peers.len() as u64).collect();
        let mut network = Network::default();
        for (peer, id) in peers.into_iter().zip(ids.iter().copied()) {
            match peer {
                None => {
                    let conf_state = ConfState::from((ids.clone(), Vec::<u64>::new()));
                    let store = MemStorage::new_with_conf_state(conf_state);
                    let mut node_config = config.clone();
                    node_config.id = id;
                    node_config.rng_seed = Some(config.rng_seed.unwrap_or(0).wrapping_add(id));
                    let raft = match Raft::new(&node_config, store.clone(), l) {
                        Ok(raft) => raft,
                        Err(e) => panic!("cannot build node {id} of the network: {e:?}"),
                    };
                    network.storage.insert(id, store);
                    network.peers.insert(id, Interface::new(raft));
                }
                Some(interface) => {
                    if let Some(raft) = interface.raft.as_ref() {
                        assert_eq!(
                            raft.id,
                            id,
                            "the raft at position {} of the peer list must have id {}, has {}",
                            id - 1,
                            id,
                            raft.id
                        );
                        network.storage.insert(id, raft.raft_log.store.clone());
                    }
                    network.peers.insert(id, interface);
                }
            }
        }
        network
    }

    /// Reseeds the generator that decides lossy-link drops.
    pub fn set_seed(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    /// Never deliver messages of type `t` (until [`recover`](Self::recover)).
    pub fn ignore(&mut self, t: MessageType) {
        if !self.ignored.contains(&t) {
            self.ignored.push(t);
        }
    }

    /// Keeps the messages the network would deliver: drops ignored types,
    /// messages to ids not in the network, and messages on lossy links with
    /// the link's probability.
    pub fn filter(&mut self, msgs: impl IntoIterator<Item = Message>) -> Vec<Message> {
        let mut kept = Vec::new();
        for m in msgs {
            if self.ignored.contains(&m.msg_type()) || !self.peers.contains_key(&m.to) {
                continue;
            }
            let rate = self.drop_rates.get(&(m.from, m.to)).copied().unwrap_or(0.0);
            let dropped = if rate >= 1.0 {
                true
            } else if rate > 0.0 {
                self.rng.gen::<f64>() < rate
            } else {
                false
            };
            if !dropped {
                kept.push(m);
            }
        }
        kept
    }

    /// Takes the messages every node has queued, in ascending id order, and
    /// filters them.
    pub fn read_messages(&mut self) -> Vec<Message> {
        let mut ids: Vec<u64> = self.peers.keys().copied().collect();
        ids.sort_unstable();
        let mut msgs = Vec::new();
        for id in ids {
            if let Some(peer) = self.peers.get_mut(&id) {
                msgs.extend(peer.read_messages());
            }
        }
        self.filter(msgs)
    }

    /// Delivers `msgs` and everything they cause until the network is
    /// quiet. Messages go out in FIFO order; after each delivery the
    /// receiver persists, and its replies (filtered) join the end of the
    /// queue. `msgs` themselves are not filtered, so a test can inject a
    /// message on a cut link; use [`filter_and_send`](Self::filter_and_send)
    /// otherwise. Step errors are ignored.
    ///
    /// # Panics
    ///
    /// When the nodes are still talking after a million deliveries (a
    /// livelock).
    pub fn send(&mut self, msgs: Vec<Message>) {
        let mut queue: VecDeque<Message> = msgs.into();
        let mut deliveries = 0;
        while let Some(m) = queue.pop_front() {
            deliveries += 1;
            assert!(
                deliveries <= MAX_DELIVERIES_PER_SEND,
                "the network did not go quiet after {MAX_DELIVERIES_PER_SEND} deliveries; \
                 the last was {m:?}"
            );
            let Some(peer) = self.peers.get_mut(&m.to) else {
                continue;
            };
            let _ = peer.step(m);
            peer.persist();
            let replies = peer.read_messages();
            queue.extend(self.filter(replies));
        }
    }

    /// Filters `msgs`, then [`send`](Self::send)s what is left.
    pub fn filter_and_send(&mut self, msgs: Vec<Message>) {
        let msgs = self.filter(msgs);
        self.send(msgs);
    }

    /// Filters `msgs` and steps each into its receiver once, without
    /// persisting or delivering replies (they stay queued in the nodes).
    /// Returns the first step error.
    pub fn dispatch(&mut self, msgs: impl IntoIterator<Item = Message>) -> Result<()> {
        for m in self.filter(msgs) {
            if let Some(peer) = self.peers.get_mut(&m.to) {
                peer.step(m)?;
            }
        }
        Ok(())
    }

    /// Drops messages from `from` to `to` with probability `perc` (0.0 to
    /// 1.0), drawn from the network's seeded generator.
    pub fn drop(&mut self, from: u64, to: u64, perc: f64) {
        self.drop_rates.insert((from, to), perc);
    }

    /// Drops every message between `one` and `other`, both ways.
    pub fn cut(&mut self, one: u64, other: u64) {
        self.drop(one, other, 1.0);
        self.drop(other, one, 1.0);
    }

    /// Drops every message between `id` and the other peers.
    pub fn isolate(&mut self, id: u64) {
        let others: Vec<u64> = self.peers.keys().copied().filter(|&p| p != id).collect();
        for other in others {
            self.cut(id, other);
        }
    }

    /// Heals every link and stops ignoring message types.
    pub fn recover(&mut self) {
        self.drop_rates.clear();
        self.ignored.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::eraftpb::MessageType;

    fn message(from: u64, to: u64, t: MessageType) -> Message {
        let mut m = Message {
            from,
            to,
            ..Default::default()
        };
        m.set_msg_type(t);
        m
    }

    /// A network whose peers are all `None`: `filter` only needs the ids.
    fn black_holes(n: usize) -> Network {
        let l = Logger::root(slog::Discard, slog::o!());
        Network::new((0..n).map(|_| Some(Interface::from(None))).collect(), &l)
    }

    fn heartbeats(count: usize) -> Vec<Message> {
        (0..count)
            .map(|i| {
                let mut m = message(1, 2, MessageType::MsgHeartbeat);
                m.commit = i as u64;
                m
            })
            .collect()
    }

    fn delivered_commits(network: &mut Network, msgs: Vec<Message>) -> Vec<u64> {
        network.filter(msgs).iter().map(|m| m.commit).collect()
    }

    #[test]
    fn seeded_drops_replay_exactly() {
        let mut a = black_holes(2);
        let mut b = black_holes(2);
        a.set_seed(42);
        b.set_seed(42);
        a.drop(1, 2, 0.5);
        b.drop(1, 2, 0.5);
        let first = delivered_commits(&mut a, heartbeats(1000));
        let second = delivered_commits(&mut b, heartbeats(1000));
        assert_eq!(first, second);
        // Roughly half get through, so the rate is honoured at all.
        assert!(first.len() > 400 && first.len() < 600, "{}", first.len());

        let mut c = black_holes(2);
        c.set_seed(43);
        c.drop(1, 2, 0.5);
        assert_ne!(first, delivered_commits(&mut c, heartbeats(1000)));
    }

    #[test]
    fn drops_apply_per_direction() {
        let mut network = black_holes(2);
        network.drop(1, 2, 1.0);
        assert!(network.filter(heartbeats(10)).is_empty());
        let back = vec![message(2, 1, MessageType::MsgHeartbeatResponse)];
        assert_eq!(network.filter(back).len(), 1);
    }

    #[test]
    fn cut_isolate_and_recover() {
        let mut network = black_holes(3);
        let all_pairs = || {
            let mut msgs = Vec::new();
            for from in 1..=3 {
                for to in 1..=3 {
                    if from != to {
                        msgs.push(message(from, to, MessageType::MsgAppend));
                    }
                }
            }
            msgs
        };
        let links = |msgs: Vec<Message>| -> Vec<(u64, u64)> {
            msgs.iter().map(|m| (m.from, m.to)).collect()
        };

        network.cut(1, 2);
        assert_eq!(
            links(network.filter(all_pairs())),
            vec![(1, 3), (2, 3), (3, 1), (3, 2)]
        );

        network.recover();
        assert_eq!(network.filter(all_pairs()).len(), 6);

        network.isolate(3);
        assert_eq!(links(network.filter(all_pairs())), vec![(1, 2), (2, 1)]);

        network.recover();
        assert_eq!(network.filter(all_pairs()).len(), 6);
    }

    #[test]
    fn ignore_drops_a_type_until_recover() {
        let mut network = black_holes(2);
        network.ignore(MessageType::MsgAppend);
        let msgs = vec![
            message(1, 2, MessageType::MsgAppend),
            message(1, 2, MessageType::MsgHeartbeat),
        ];
        let kept = network.filter(msgs.clone());
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].msg_type(), MessageType::MsgHeartbeat);
        network.recover();
        assert_eq!(network.filter(msgs).len(), 2);
    }

    #[test]
    fn messages_to_unknown_peers_are_dropped() {
        let mut network = black_holes(2);
        let msgs = vec![
            message(1, 7, MessageType::MsgAppend),
            message(1, 2, MessageType::MsgAppend),
        ];
        let kept = network.filter(msgs);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].to, 2);
        // send does not panic on them either.
        network.send(vec![message(1, 9, MessageType::MsgHeartbeat)]);
    }

    #[test]
    #[should_panic(expected = "holds no raft")]
    fn deref_of_a_black_hole_panics_clearly() {
        let interface = Interface::from(None);
        let _ = interface.term;
    }
}
