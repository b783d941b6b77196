//! Five Raft nodes, each on its own thread, talking over `std::sync::mpsc`
//! channels.
//!
//! Node 1 starts as the only voter and elects itself; nodes 2 to 5 are added
//! one by one with configuration changes; then 100 key/value pairs are
//! proposed, and the program waits until all five nodes have applied all of
//! them, stops every thread and prints a summary.
//!
//! Time is a round counter, not the wall clock: in each round the main thread
//! tells every node to take the messages sent to it in earlier rounds, tick
//! once and handle its `Ready`s, and waits for all five to report. Messages
//! are stepped in a fixed order (by sender, then by sending order), so a run
//! is the same on any machine, however loaded. The run is bounded: if it does
//! not finish within `MAX_ROUNDS`, it stops the nodes and fails with a
//! message.
//!
//! Run it with `cargo run --example five_mem_node`.

use std::collections::{BTreeMap, HashMap};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};

use protobuf::Message as _;
use raft::prelude::*;
use raft::storage::MemStorage;
use raft::StateRole;

const NODES: u64 = 5;
const PUTS: usize = 100;
const PUTS_PER_ROUND: usize = 10;
const MAX_ROUNDS: u64 = 2_000;

/// What a node thread receives.
enum ToNode {
    /// A raft message from a peer, sent during the given round.
    Raft(Message, u64),
    /// Run round `round`, first proposing `proposals`.
    Round {
        round: u64,
        proposals: Vec<Proposal>,
    },
    /// Exit the thread.
    Stop,
}

/// A request the main thread hands to the leader.
#[derive(Clone, Debug)]
enum Proposal {
    Put { key: String, value: String },
    AddVoter(u64),
}

/// What a node tells the main thread after each round.
#[derive(Clone, Debug, Default)]
struct Report {
    id: u64,
    role: StateRole,
    term: u64,
    leader: u64,
    commit: u64,
    voters: Vec<u64>,
    puts_applied: usize,
}

enum ToMain {
    Report(Report),
    Crashed(u64, String),
}

/// What a node thread returns when it stops: its state machine and the order
/// in which it applied the puts.
struct Final {
    id: u64,
    kv: BTreeMap<String, String>,
    order: Vec<String>,
}

/// One node: the raft node plus the application's state around it.
struct Node {
    id: u64,
    raw: RawNode<MemStorage>,
    store: MemStorage,
    peers: HashMap<u64, Sender<ToNode>>,
    round: u64,
    voters: Vec<u64>,
    kv: BTreeMap<String, String>,
    order: Vec<String>,
}

impl Node {
    fn new(id: u64, peers: HashMap<u64, Sender<ToNode>>) -> raft::Result<Node> {
        // Every node boots with the same initial membership, {1}; the others
        // learn that they joined by applying the conf-change entries.
        let store = MemStorage::new_with_conf_state((vec![1], vec![]));
        let config = Config {
            election_tick: 10,
            heartbeat_tick: 3,
            rng_seed: Some(id),
            ..Config::new(id)
        };
        let logger = raft::default_logger();
        let raw = RawNode::new(&config, store.clone(), &logger)?;
        Ok(Node {
            id,
            raw,
            store,
            peers,
            round: 0,
            voters: vec![1],
            kv: BTreeMap::new(),
            order: Vec::new(),
        })
    }

    fn run(mut self, inbox: Receiver<ToNode>, main: Sender<ToMain>) -> Final {
        let mut pending: Vec<(Message, u64)> = Vec::new();
        for command in inbox.iter() {
            match command {
                ToNode::Raft(m, sent_in) => pending.push((m, sent_in)),
                ToNode::Stop => break,
                ToNode::Round { round, proposals } => {
                    self.round = round;
                    // Messages of earlier rounds only, by sender, in order.
                    let (now, later): (Vec<_>, Vec<_>) =
                        pending.drain(..).partition(|(_, sent)| *sent < round);
                    pending = later;
                    let mut now: Vec<Message> = now.into_iter().map(|(m, _)| m).collect();
                    now.sort_by_key(|m| m.from);
                    for m in now {
                        // Stale messages are normal; the node ignores them.
                        let _ = self.raw.step(m);
                    }
                    for proposal in proposals {
                        self.propose(proposal);
                    }
                    self.raw.tick();
                    while self.raw.has_ready() {
                        self.handle_ready();
                    }
                    if main.send(ToMain::Report(self.report())).is_err() {
                        break;
                    }
                }
            }
        }
        Final {
            id: self.id,
            kv: self.kv,
            order: self.order,
        }
    }

    fn propose(&mut self, proposal: Proposal) {
        let result = match &proposal {
            Proposal::Put { key, value } => self
                .raw
                .propose(vec![], format!("{key}={value}").into_bytes()),
            Proposal::AddVoter(id) => {
                let cc = ConfChange {
                    change_type: ConfChangeType::AddNode.into(),
                    node_id: *id,
                    ..Default::default()
                };
                self.raw.propose_conf_change(vec![], cc)
            }
        };
        if let Err(e) = result {
            println!("node {}: proposal {proposal:?} dropped: {e}", self.id);
        }
    }

    fn send(&self, msgs: Vec<Message>) {
        for m in msgs {
            if let Some(peer) = self.peers.get(&m.to) {
                // A peer that already stopped no longer needs it.
                let _ = peer.send(ToNode::Raft(m, self.round));
            }
        }
    }

    /// One turn of the driver loop (see the crate documentation's contract).
    fn handle_ready(&mut self) {
        let mut rd = self.raw.ready();
        self.send(rd.take_messages());

        let store = self.store.clone();
        if !rd.snapshot().is_empty() {
            store.wl().apply_snapshot(rd.snapshot().clone()).unwrap();
        }
        store.wl().append(rd.entries()).unwrap();
        if let Some(hs) = rd.hs() {
            store.wl().set_hardstate(hs.clone());
        }
        self.send(rd.take_persisted_messages());
        self.apply(rd.take_committed_entries());

        let mut light = self.raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            store.wl().mut_hard_state().commit = commit;
        }
        self.send(light.take_messages());
        self.apply(light.take_committed_entries());
        self.raw.advance_apply();
    }

    fn apply(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            match entry.get_entry_type() {
                EntryType::EntryNormal if !entry.data.is_empty() => {
                    let text = String::from_utf8_lossy(&entry.data).into_owned();
                    if let Some((key, value)) = text.split_once('=') {
                        self.kv.insert(key.to_owned(), value.to_owned());
                    }
                    self.order.push(text);
                }
                EntryType::EntryNormal => {}
                EntryType::EntryConfChange => {
                    let cc = ConfChange::parse_from_bytes(&entry.data)
                        .expect("a conf change we proposed decodes");
                    let cs = self
                        .raw
                        .apply_conf_change(&cc)
                        .expect("adding a voter is a valid change");
                    self.voters = cs.voters.clone();
                    self.store.wl().set_conf_state(cs);
                }
                EntryType::EntryConfChangeV2 => {
                    let cc = ConfChangeV2::parse_from_bytes(&entry.data)
                        .expect("a conf change we proposed decodes");
                    let cs = self.raw.apply_conf_change(&cc).expect("valid change");
                    self.voters = cs.voters.clone();
                    self.store.wl().set_conf_state(cs);
                }
            }
        }
    }

    fn report(&self) -> Report {
        let status = self.raw.status();
        Report {
            id: self.id,
            role: status.ss.raft_state,
            term: status.hs.term,
            leader: status.ss.leader_id,
            commit: status.hs.commit,
            voters: self.voters.clone(),
            puts_applied: self.order.len(),
        }
    }
}

/// The main thread's plan.
enum Phase {
    Electing,
    AddingVoter { id: u64, proposed: bool },
    Writing { proposed: usize },
    Done,
}

fn main() -> ExitCode {
    let mut senders = HashMap::new();
    let mut receivers = Vec::new();
    for id in 1..=NODES {
        let (tx, rx) = mpsc::channel();
        senders.insert(id, tx);
        receivers.push((id, rx));
    }
    let (main_tx, main_rx) = mpsc::channel();
    let mut handles: Vec<JoinHandle<Option<Final>>> = Vec::new();
    for (id, rx) in receivers {
        let peers = senders.clone();
        let main_tx = main_tx.clone();
        handles.push(thread::spawn(move || {
            let run = panic::catch_unwind(AssertUnwindSafe(|| {
                Node::new(id, peers).map(|node| node.run(rx, main_tx.clone()))
            }));
            match run {
                Ok(Ok(done)) => Some(done),
                Ok(Err(e)) => {
                    let _ = main_tx.send(ToMain::Crashed(id, e.to_string()));
                    None
                }
                Err(_) => {
                    let _ = main_tx.send(ToMain::Crashed(id, "panicked".to_owned()));
                    None
                }
            }
        }));
    }
    drop(main_tx);

    let outcome = drive(&senders, &main_rx);

    for sender in senders.values() {
        let _ = sender.send(ToNode::Stop);
    }
    let finals: Vec<Final> = handles
        .into_iter()
        .filter_map(|h| h.join().ok().flatten())
        .collect();

    match outcome.and_then(|rounds| check(&finals).map(|()| rounds)) {
        Ok(rounds) => {
            println!("all {NODES} nodes applied {PUTS} puts in {rounds} rounds:");
            for f in &finals {
                println!(
                    "  node {}: {} keys, first {:?}, last {:?}",
                    f.id,
                    f.kv.len(),
                    f.order.first(),
                    f.order.last()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("five_mem_node failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs rounds until every node applied every put; returns the round count.
fn drive(
    senders: &HashMap<u64, Sender<ToNode>>,
    main_rx: &Receiver<ToMain>,
) -> Result<u64, String> {
    let mut phase = Phase::Electing;
    let mut reports: BTreeMap<u64, Report> = BTreeMap::new();
    for round in 1..=MAX_ROUNDS {
        let leader = reports
            .values()
            .filter(|r| r.role == StateRole::Leader)
            .max_by_key(|r| r.term)
            .map(|r| r.id);
        let mut proposals = Vec::new();
        match &mut phase {
            // Proposals go to the leader; wait for one.
            _ if leader.is_none() => {}
            Phase::AddingVoter { id, proposed } if !*proposed => {
                proposals.push(Proposal::AddVoter(*id));
                *proposed = true;
            }
            Phase::Writing { proposed } => {
                while *proposed < PUTS && proposals.len() < PUTS_PER_ROUND {
                    proposals.push(Proposal::Put {
                        key: format!("key{:03}", *proposed),
                        value: format!("value{}", *proposed),
                    });
                    *proposed += 1;
                }
            }
            _ => {}
        }
        for id in 1..=NODES {
            let mine = if Some(id) == leader {
                std::mem::take(&mut proposals)
            } else {
                Vec::new()
            };
            senders[&id]
                .send(ToNode::Round {
                    round,
                    proposals: mine,
                })
                .map_err(|_| format!("node {id} stopped unexpectedly"))?;
        }
        for _ in 1..=NODES {
            match main_rx.recv() {
                Ok(ToMain::Report(r)) => {
                    reports.insert(r.id, r);
                }
                Ok(ToMain::Crashed(id, why)) => return Err(format!("node {id} crashed: {why}")),
                Err(_) => return Err("every node stopped".to_owned()),
            }
        }

        let leader_report = leader.and_then(|id| reports.get(&id));
        phase = match phase {
            Phase::Electing if reports.values().any(|r| r.role == StateRole::Leader) => {
                println!("round {round}: node {} is leader", reports[&1].leader);
                Phase::AddingVoter {
                    id: 2,
                    proposed: false,
                }
            }
            Phase::AddingVoter { id, proposed: true }
                if leader_report.is_some_and(|r| r.voters.contains(&id)) =>
            {
                println!("round {round}: node {id} joined as a voter");
                if id == NODES {
                    Phase::Writing { proposed: 0 }
                } else {
                    Phase::AddingVoter {
                        id: id + 1,
                        proposed: false,
                    }
                }
            }
            Phase::Writing { proposed }
                if proposed == PUTS && reports.values().all(|r| r.puts_applied == PUTS) =>
            {
                println!(
                    "round {round}: all nodes applied {PUTS} puts (commit {})",
                    reports[&1].commit
                );
                Phase::Done
            }
            other => other,
        };
        if matches!(phase, Phase::Done) {
            return Ok(round);
        }
    }
    Err(format!(
        "not done after {MAX_ROUNDS} rounds; last reports: {:?}",
        reports.values().collect::<Vec<_>>()
    ))
}

/// Every node holds the same map and applied the same puts in the same order,
/// each exactly once.
fn check(finals: &[Final]) -> Result<(), String> {
    if finals.len() != NODES as usize {
        return Err(format!(
            "only {} of {NODES} nodes stopped cleanly",
            finals.len()
        ));
    }
    let reference = &finals[0];
    if reference.order.len() != PUTS || reference.kv.len() != PUTS {
        return Err(format!(
            "node {} applied {} puts, {} keys; expected {PUTS}",
            reference.id,
            reference.order.len(),
            reference.kv.len()
        ));
    }
    for f in &finals[1..] {
        if f.order != reference.order || f.kv != reference.kv {
            return Err(format!(
                "node {} disagrees with node {}",
                f.id, reference.id
            ));
        }
    }
    Ok(())
}
