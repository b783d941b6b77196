//! Crash tests: a child process writes seeded random `Ready`-like batches
//! through raft-redb and reports each write on stdout once it returned;
//! the parent kills it with SIGKILL after a seeded number of reports,
//! reopens the store, and checks that it holds exactly the state after the
//! last reported write, or after the one write that was in flight.
//!
//! The child is this test binary, run again on the ignored test
//! `crash_writer_child` with the store directory, the seed and the number
//! of the first write in its environment. Both sides derive write `n` from
//! the seed, `n` and the state before it, so the parent knows every write
//! the child made.
//!
//! `cargo test` runs 20 kill cycles; `CRASH_CYCLES=1000 cargo test -p
//! raft-redb --release --test crash` runs more.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, Storage, StorageError};
use raft_redb::{RedbStorage, WriteBatch};

const ENV_DIR: &str = "RAFT_REDB_CRASH_DIR";
const ENV_SEED: &str = "RAFT_REDB_CRASH_SEED";
const ENV_START: &str = "RAFT_REDB_CRASH_START";

/// Kill cycles in one store before the next store starts fresh.
const KILLS_PER_STORE: usize = 10;
/// The child stops by itself after this many writes (the parent kills it
/// long before).
const CHILD_WRITE_LIMIT: u64 = 2_000;

/// What a store holds, as the model computes it and as read back.
#[derive(Debug, Clone, Default, PartialEq)]
struct State {
    hard_state: HardState,
    conf_state: ConfState,
    /// The compaction point: index and term.
    compacted: (u64, u64),
    /// The entries after it.
    log: Vec<Entry>,
    /// The snapshot `Storage::snapshot` serves: metadata and data.
    snapshot: Option<(SnapshotMetadata, Vec<u8>)>,
}

impl State {
    fn first(&self) -> u64 {
        self.compacted.0 + 1
    }

    fn last(&self) -> u64 {
        self.compacted.0 + self.log.len() as u64
    }

    fn last_term(&self) -> u64 {
        self.log.last().map_or(self.compacted.1, |e| e.term)
    }

    fn term(&self, index: u64) -> u64 {
        if index == self.compacted.0 {
            self.compacted.1
        } else {
            self.log[(index - self.first()) as usize].term
        }
    }

    /// Reads everything back from `s`.
    fn read(s: &RedbStorage) -> State {
        let first = s.first_index().unwrap();
        let last = s.last_index().unwrap();
        let raft_state = s.initial_state().unwrap();
        let snapshot = match s.snapshot(0, 0) {
            Ok(snap) => Some((snap.metadata().clone(), snap.data.to_vec())),
            Err(raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable)) => None,
            Err(e) => panic!("reading the snapshot: {e}"),
        };
        State {
            hard_state: raft_state.hard_state,
            conf_state: raft_state.conf_state,
            compacted: (first - 1, s.term(first - 1).unwrap()),
            log: s
                .entries(first, last + 1, None, GetEntriesContext::empty(false))
                .unwrap(),
            snapshot,
        }
    }
}

/// One write the child makes.
#[derive(Debug, Clone)]
enum Op {
    /// `write` (one batch) or `write_group` (several).
    Batches(Vec<WriteBatch>),
    SetCommit(u64),
    SetConfState(ConfState),
    SaveSnapshot {
        index: u64,
        conf_state: ConfState,
        data: Vec<u8>,
    },
    Compact(u64),
}

fn voters(rng: &mut StdRng) -> ConfState {
    let n = rng.gen_range(1..=5);
    ConfState::from(((1..=n).collect::<Vec<u64>>(), vec![]))
}

fn payload(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rng.fill(&mut data[..]);
    data
}

fn payload_up_to(rng: &mut StdRng, max_len: usize) -> Vec<u8> {
    let len = rng.gen_range(0..max_len);
    payload(rng, len)
}

/// A batch a `Ready` could carry, valid on `state`: sometimes a snapshot,
/// usually entries that may replace an uncommitted suffix, often a hard
/// state.
fn random_batch(rng: &mut StdRng, state: &State) -> WriteBatch {
    let mut batch = WriteBatch::default();
    let mut after = state.clone();
    if rng.gen_ratio(1, 12) {
        let index = rng.gen_range(after.first()..=after.last() + 5);
        let term = after.last_term() + rng.gen_range(0..2);
        let mut snap = Snapshot {
            data: payload_up_to(rng, 20_000).into(),
            ..Default::default()
        };
        let meta = snap.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(voters(rng));
        apply_batch(
            &mut after,
            &WriteBatch {
                snapshot: Some(snap.clone()),
                ..Default::default()
            },
        );
        batch.snapshot = Some(snap);
    }
    if rng.gen_ratio(4, 5) {
        // Never replace committed entries, as the core never does.
        let lowest = after.first().max(after.hard_state.commit + 1);
        let start = rng.gen_range(lowest..=after.last() + 1);
        let term = after.last_term().max(after.hard_state.term) + rng.gen_range(0..2);
        let count = rng.gen_range(1..=40);
        batch.entries = (start..start + count)
            .map(|index| Entry {
                index,
                term,
                data: payload(rng, 128).into(),
                ..Default::default()
            })
            .collect();
        apply_batch(
            &mut after,
            &WriteBatch {
                entries: batch.entries.clone(),
                ..Default::default()
            },
        );
    }
    if batch.is_empty() || rng.gen_bool(0.6) {
        let hs = &after.hard_state;
        batch.hard_state = Some(HardState {
            term: hs.term.max(after.last_term()) + rng.gen_range(0..2),
            vote: rng.gen_range(0..4),
            commit: rng.gen_range(hs.commit.max(after.compacted.0)..=after.last()),
            ..Default::default()
        });
    }
    batch
}

/// Write number `n` on `state`, drawn from `seed` and `n` alone.
fn op(seed: u64, n: u64, state: &State) -> Op {
    let mut rng = StdRng::seed_from_u64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let commit = state.hard_state.commit;
    let snapshot_index = state.snapshot.as_ref().map_or(0, |(m, _)| m.index);
    match rng.gen_range(0..20) {
        0..=11 => Op::Batches(vec![random_batch(&mut rng, state)]),
        12..=14 => {
            let mut scratch = state.clone();
            let batches = (0..rng.gen_range(2..=4))
                .map(|_| {
                    let b = random_batch(&mut rng, &scratch);
                    apply_batch(&mut scratch, &b);
                    b
                })
                .collect();
            Op::Batches(batches)
        }
        15 if commit < state.last() => Op::SetCommit(rng.gen_range(commit + 1..=state.last())),
        16 => Op::SetConfState(voters(&mut rng)),
        17 | 18 if commit >= snapshot_index.max(state.compacted.0).max(1) => Op::SaveSnapshot {
            index: rng.gen_range(snapshot_index.max(state.compacted.0).max(1)..=commit),
            conf_state: voters(&mut rng),
            data: payload_up_to(&mut rng, 30_000),
        },
        _ if snapshot_index >= state.first() => {
            Op::Compact(rng.gen_range(state.first() + 1..=snapshot_index + 1))
        }
        _ => Op::Batches(vec![random_batch(&mut rng, state)]),
    }
}

fn apply_batch(state: &mut State, batch: &WriteBatch) {
    if let Some(snap) = &batch.snapshot {
        let meta = snap.metadata();
        state.compacted = (meta.index, meta.term);
        state.log.clear();
        state.hard_state.term = state.hard_state.term.max(meta.term);
        state.hard_state.commit = meta.index;
        state.conf_state = meta.conf_state().clone();
        state.snapshot = Some((meta.clone(), snap.data.to_vec()));
    }
    if let Some(first) = batch.entries.first() {
        let keep = (first.index - state.first()) as usize;
        state.log.truncate(keep);
        state.log.extend(batch.entries.iter().cloned());
    }
    if let Some(hs) = &batch.hard_state {
        state.hard_state = hs.clone();
    }
}

/// The model: what `op` does to `state`.
fn apply(state: &mut State, op: &Op) {
    match op {
        Op::Batches(batches) => batches.iter().for_each(|b| apply_batch(state, b)),
        Op::SetCommit(commit) => state.hard_state.commit = *commit,
        Op::SetConfState(cs) => state.conf_state = cs.clone(),
        Op::SaveSnapshot {
            index,
            conf_state,
            data,
        } => {
            let meta = SnapshotMetadata {
                index: *index,
                term: state.term(*index),
                conf_state: Some(conf_state.clone()).into(),
                ..Default::default()
            };
            state.snapshot = Some((meta, data.clone()));
        }
        Op::Compact(to) => {
            if *to > state.first() {
                let drop = (*to - state.first()) as usize;
                state.compacted = (to - 1, state.log[drop - 1].term);
                state.log.drain(..drop);
            }
        }
    }
}

/// Makes `op` durable through the store.
fn perform(store: &RedbStorage, op: &Op) -> Result<(), raft_redb::Error> {
    match op {
        Op::Batches(batches) if batches.len() == 1 => store.write(&batches[0]),
        Op::Batches(batches) => store.write_group(batches),
        Op::SetCommit(commit) => store.set_commit(*commit),
        Op::SetConfState(cs) => store.set_conf_state(cs.clone()),
        Op::SaveSnapshot {
            index,
            conf_state,
            data,
        } => store.save_snapshot(*index, conf_state.clone(), data),
        Op::Compact(to) => store.compact(*to),
    }
}

/// The state after the first `n` writes of `seed`, and write `n` itself.
fn replay(seed: u64, n: u64) -> State {
    let mut state = State::default();
    for i in 0..n {
        let op = op(seed, i, &state);
        apply(&mut state, &op);
    }
    state
}

fn env_u64(name: &str) -> u64 {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} not set"))
        .parse()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The child: opens the store, checks it holds the state after the writes
/// before its first one, then writes and reports until killed.
#[test]
#[ignore = "the crash writer, run by the crash tests as a child process"]
fn crash_writer_child() {
    let dir = PathBuf::from(std::env::var(ENV_DIR).expect("RAFT_REDB_CRASH_DIR not set"));
    let seed = env_u64(ENV_SEED);
    let start = env_u64(ENV_START);
    let store = RedbStorage::open(&dir).expect("open the store");
    let mut state = replay(seed, start);
    assert_eq!(State::read(&store), state, "the store the child opened");
    let mut out = std::io::stdout().lock();
    // libtest has printed "test crash_writer_child ... " without a line
    // break: start the reports on a line of their own.
    writeln!(out).unwrap();
    for n in start..start + CHILD_WRITE_LIMIT {
        let op = op(seed, n, &state);
        perform(&store, &op).unwrap_or_else(|e| panic!("write {n} ({op:?}): {e}"));
        apply(&mut state, &op);
        writeln!(out, "ack {n}").unwrap();
        out.flush().unwrap();
    }
}

/// Runs the child on `dir` from write `start`, kills it after `kill_after`
/// reports, and returns how many writes it reported in all.
fn run_child_and_kill(dir: &Path, seed: u64, start: u64, kill_after: u64) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_writer_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir)
        .env(ENV_SEED, seed.to_string())
        .env(ENV_START, start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the crash writer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = 0;
    let mut killed = false;
    if kill_after == 0 {
        child.kill().unwrap();
        killed = true;
    } else {
        for line in lines.by_ref() {
            let line = line.unwrap();
            let Some(n) = line.strip_prefix("ack ") else {
                continue;
            };
            assert_eq!(n.parse::<u64>().unwrap(), start + acked, "reports in order");
            acked += 1;
            if acked >= kill_after {
                child.kill().unwrap();
                killed = true;
                break;
            }
        }
    }
    // Reports written before the kill are still in the pipe.
    for line in lines {
        if let Some(n) = line.unwrap().strip_prefix("ack ") {
            assert_eq!(n.parse::<u64>().unwrap(), start + acked, "reports in order");
            acked += 1;
        }
    }
    let status = child.wait().unwrap();
    if !killed || status.success() {
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        panic!(
            "the crash writer ended by itself ({status}) after {acked} writes from {start}, seed {seed}:\n{stderr}"
        );
    }
    acked
}

/// What the kill cycles on one store saw.
#[derive(Debug, Default)]
struct Tally {
    /// Writes found durable after the kills.
    durable_writes: u64,
    /// Kills after which the write in flight was found complete.
    in_flight_found: u64,
}

/// Kill cycles on one fresh store.
fn crash_cycles(seed: u64, kills: usize) -> Tally {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("raft-redb-crash-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut durable = 0u64;
    let mut state = State::default();
    let mut tally = Tally::default();
    for cycle in 0..kills {
        // Sometimes right away (during open and recovery), usually after a
        // few writes.
        let kill_after = if rng.gen_ratio(1, 8) {
            0
        } else {
            rng.gen_range(1..=12)
        };
        let acked = run_child_and_kill(&dir, seed, durable, kill_after);
        let mut expected = state.clone();
        for n in durable..durable + acked {
            let op = op(seed, n, &expected);
            apply(&mut expected, &op);
        }
        let in_flight = {
            let mut s = expected.clone();
            let op = op(seed, durable + acked, &s);
            apply(&mut s, &op);
            s
        };
        let store = RedbStorage::open(&dir)
            .unwrap_or_else(|e| panic!("reopening after kill {cycle} of seed {seed}: {e}"));
        let found = State::read(&store);
        drop(store);
        let context = format!(
            "seed {seed}, kill {cycle}: writes {durable}..{} reported, killed after {kill_after}",
            durable + acked
        );
        if found == expected {
            durable += acked;
            state = expected;
        } else if found == in_flight {
            durable += acked + 1;
            state = in_flight;
            tally.in_flight_found += 1;
        } else {
            panic!(
                "{context}: the store holds neither the state after the last reported write \
                 nor after the one in flight\nfound:    {}\nexpected: {}",
                summary(&found),
                summary(&expected)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    tally.durable_writes = durable;
    tally
}

fn summary(s: &State) -> String {
    format!(
        "hs {:?}, cs {:?}, compacted {:?}, last {} (term {}), snapshot {:?}",
        s.hard_state,
        s.conf_state.voters,
        s.compacted,
        s.last(),
        s.last_term(),
        s.snapshot.as_ref().map(|(m, d)| (m.index, m.term, d.len()))
    )
}

#[test]
fn acknowledged_writes_survive_sigkill_and_nothing_half_written_shows() {
    let cycles: usize = std::env::var("CRASH_CYCLES")
        .ok()
        .map(|v| v.parse().expect("CRASH_CYCLES is a number"))
        .unwrap_or(20);
    let stores = cycles.div_ceil(KILLS_PER_STORE);
    let (mut writes, mut in_flight) = (0, 0);
    for store in 0..stores {
        let kills = KILLS_PER_STORE.min(cycles - store * KILLS_PER_STORE);
        let tally = crash_cycles(0xC0FFEE + store as u64, kills);
        writes += tally.durable_writes;
        in_flight += tally.in_flight_found;
    }
    println!(
        "{cycles} kill cycles on {stores} stores: {writes} durable writes checked, \
         {in_flight} kills found the write in flight complete"
    );
    assert!(writes > 0, "no write was ever acknowledged");
}

#[test]
fn the_model_replays_deterministically() {
    // Both processes derive the same writes only if generation depends on
    // nothing but the seed, the write number and the state.
    let a = replay(7, 200);
    let b = replay(7, 200);
    assert_eq!(a, b);
    assert!(a.last() > 0 && a.hard_state.commit > 0, "{}", summary(&a));
    assert_ne!(replay(8, 200), a, "another seed, other writes");
}
