//! One Raft node with in-memory storage, driven by a simulated clock.
//!
//! The node elects itself, then five key/value proposals are made, each with
//! a callback that runs when its entry is applied. Time is simulated: each
//! loop iteration is 100 ms of "clock", and a tick is due every 100 ms, so
//! the program never sleeps and always ends.
//!
//! Run it with `cargo run --example single_mem_node`.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::rc::Rc;

use raft::prelude::*;
use raft::storage::MemStorage;
use raft::StateRole;

/// Runs when a proposal's entry has been applied, with its log index.
type Callback = Box<dyn FnOnce(u64)>;

/// The application state machine: a key/value map.
#[derive(Default)]
struct KvStore {
    map: BTreeMap<String, String>,
}

impl KvStore {
    fn apply(&mut self, command: &[u8]) {
        let text = String::from_utf8_lossy(command);
        if let Some((key, value)) = text.split_once('=') {
            self.map.insert(key.to_owned(), value.to_owned());
        }
    }
}

const TICK_INTERVAL_MS: u64 = 100;
const MAX_SIMULATED_MS: u64 = 60_000;

fn main() -> ExitCode {
    let logger = raft::default_logger();
    let config = Config {
        election_tick: 10,
        heartbeat_tick: 3,
        ..Config::new(1)
    };
    let storage = MemStorage::new_with_conf_state((vec![1], vec![]));
    let mut node = match RawNode::new(&config, storage, &logger) {
        Ok(node) => node,
        Err(e) => {
            eprintln!("cannot create the node: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut kv = KvStore::default();
    let mut callbacks: HashMap<u64, Callback> = HashMap::new();
    let mut next_proposal: u64 = 1;
    const PROPOSALS: u64 = 5;
    // How many callbacks have run; shared with the callbacks.
    let done = Rc::new(Cell::new(0u64));

    let mut clock_ms = 0;
    let mut next_tick_ms = 0;
    while clock_ms <= MAX_SIMULATED_MS {
        if clock_ms >= next_tick_ms {
            node.tick();
            next_tick_ms += TICK_INTERVAL_MS;
        }

        // Propose once we lead, one proposal per simulated second.
        if node.raft.state == StateRole::Leader
            && next_proposal <= PROPOSALS
            && clock_ms % 1_000 == 0
        {
            let id = next_proposal;
            let command = format!("key{id}=value{id}");
            // The proposal id rides in the entry's context, to find the
            // callback when the entry is applied.
            match node.propose(id.to_be_bytes().to_vec(), command.clone().into_bytes()) {
                Ok(()) => {
                    let done = done.clone();
                    let proposed_at = clock_ms;
                    callbacks.insert(
                        id,
                        Box::new(move |index| {
                            println!(
                                "[{proposed_at:>5} ms] proposal {id} ({command}) applied at index {index}"
                            );
                            done.set(done.get() + 1);
                        }),
                    );
                    next_proposal += 1;
                }
                Err(e) => println!("proposal {id} dropped ({e}); retrying later"),
            }
        }

        on_ready(&mut node, &mut kv, &mut callbacks);

        if done.get() == PROPOSALS {
            break;
        }
        clock_ms += TICK_INTERVAL_MS;
    }

    let status = node.status();
    if done.get() != PROPOSALS {
        eprintln!(
            "only {} of {PROPOSALS} proposals applied within {MAX_SIMULATED_MS} simulated ms",
            done.get()
        );
        return ExitCode::FAILURE;
    }
    println!(
        "done after {clock_ms} simulated ms: term {}, commit {}, applied {}, {} keys: {:?}",
        status.hs.term,
        status.hs.commit,
        status.applied,
        kv.map.len(),
        kv.map
    );
    ExitCode::SUCCESS
}

/// One turn of the driver loop (see the crate documentation's contract).
fn on_ready(
    node: &mut RawNode<MemStorage>,
    kv: &mut KvStore,
    callbacks: &mut HashMap<u64, Callback>,
) {
    if !node.has_ready() {
        return;
    }
    let store = node.store().clone();
    let mut rd = node.ready();

    // A lone node has nobody to talk to; a real one would send these now.
    let _ = rd.take_messages();

    // Persist: snapshot, entries, hard state.
    if !rd.snapshot().is_empty() {
        store.wl().apply_snapshot(rd.snapshot().clone()).unwrap();
    }
    store.wl().append(rd.entries()).unwrap();
    if let Some(hs) = rd.hs() {
        store.wl().set_hardstate(hs.clone());
    }

    // Only now may persisted messages go out (there are none here).
    let _ = rd.take_persisted_messages();

    apply(rd.take_committed_entries(), kv, callbacks);

    let mut light = node.advance(rd);
    if let Some(commit) = light.commit_index() {
        store.wl().mut_hard_state().commit = commit;
    }
    let _ = light.take_messages();
    apply(light.take_committed_entries(), kv, callbacks);
    node.advance_apply();
}

fn apply(entries: Vec<Entry>, kv: &mut KvStore, callbacks: &mut HashMap<u64, Callback>) {
    for entry in entries {
        // A new leader's empty entry carries nothing to apply.
        if entry.data.is_empty() || entry.get_entry_type() != EntryType::EntryNormal {
            continue;
        }
        kv.apply(&entry.data);
        if let Ok(id) = <[u8; 8]>::try_from(entry.context.as_ref()) {
            if let Some(callback) = callbacks.remove(&u64::from_be_bytes(id)) {
                callback(entry.index);
            }
        }
    }
}
