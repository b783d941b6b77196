//! A conformance kit for [`Storage`] implementations: the behaviour the Raft
//! core relies on, written once and run against any storage.
//!
//! The core reads the durable log only through [`Storage`], and the
//! contract it expects is the one [`MemStorage`] implements: terms are
//! known from the compaction point to the last index, `entries` returns a
//! half-open range cut to a size limit but never empty, compacted ranges
//! give [`StorageError::Compacted`] and ranges past the log
//! [`StorageError::Unavailable`], the first index is the compaction point
//! plus one, and every kind of write moves these bounds the same way.
//!
//! To check a storage of your own, implement [`KitStorage`] for it (or for
//! a thin wrapper, when the orphan rule forbids implementing it directly):
//! the writes the kit needs, mapped to your storage's write API, and
//! [`KitStorage::reopen`] when the storage is durable, so that every check
//! also verifies that what was written survives a restart. Then call
//! [`run_all`] from a test with a function that makes a fresh, empty
//! storage:
//!
//! ```
//! use harness::storage_kit;
//! use raft::storage::MemStorage;
//!
//! storage_kit::run_all(MemStorage::new);
//! ```
//!
//! Each check is also a public function taking a fresh storage, for a test
//! per check. The checks do not test what storages may legitimately do
//! differently: how a misused write fails (`MemStorage` panics on an append
//! that leaves a gap, a durable store may return an error), or which
//! snapshot [`Storage::snapshot`] returns beyond its contract (at least the
//! requested index, or [`StorageError::SnapshotTemporarilyUnavailable`]).

use protobuf::Message as _;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::storage::MemStorage;
use raft::{Error, GetEntriesContext, Result, Storage, StorageError};

/// The writes the kit drives a storage with. Each method persists one
/// change as the storage's application would after a `Ready`.
pub trait KitStorage: Storage + Sized {
    /// Gives an empty storage its first membership.
    fn initialize(&self, cs: ConfState) -> Result<()>;

    /// Appends `ents` (contiguous, starting at or after the first index and
    /// at most one past the last index), first discarding every stored
    /// entry from `ents[0].index` on.
    fn append(&self, ents: &[Entry]) -> Result<()>;

    /// Replaces the whole log with `snapshot`, as when a `Ready` carries
    /// one: the snapshot becomes the compaction point, the commit index
    /// moves to its index, the term rises to its term if higher, and the
    /// membership becomes its. A snapshot below the first index gives
    /// [`StorageError::SnapshotOutOfDate`] and changes nothing.
    fn apply_snapshot(&self, snapshot: Snapshot) -> Result<()>;

    /// Drops the entries before `compact_index`: a no-op at or below the
    /// first index, [`StorageError::Unavailable`] past `last_index + 1`.
    fn compact(&self, compact_index: u64) -> Result<()>;

    /// Replaces the hard state.
    fn set_hard_state(&self, hs: HardState) -> Result<()>;

    /// Sets the commit index: [`StorageError::Compacted`] below the
    /// compaction point, [`StorageError::Unavailable`] past the last index.
    fn set_commit(&self, commit: u64) -> Result<()>;

    /// Replaces the membership.
    fn set_conf_state(&self, cs: ConfState) -> Result<()>;

    /// Closes the storage and opens it again from what it persisted. An
    /// in-memory storage returns itself (the default).
    fn reopen(self) -> Self {
        self
    }
}

impl KitStorage for MemStorage {
    fn initialize(&self, cs: ConfState) -> Result<()> {
        self.initialize_with_conf_state(cs);
        Ok(())
    }

    fn append(&self, ents: &[Entry]) -> Result<()> {
        self.wl().append(ents)
    }

    fn apply_snapshot(&self, snapshot: Snapshot) -> Result<()> {
        self.wl().apply_snapshot(snapshot)
    }

    fn compact(&self, compact_index: u64) -> Result<()> {
        self.wl().compact(compact_index)
    }

    fn set_hard_state(&self, hs: HardState) -> Result<()> {
        self.wl().set_hardstate(hs);
        Ok(())
    }

    fn set_commit(&self, commit: u64) -> Result<()> {
        self.wl().commit_to(commit)
    }

    fn set_conf_state(&self, cs: ConfState) -> Result<()> {
        self.wl().set_conf_state(cs);
        Ok(())
    }
}

/// Runs every check, each on a fresh storage from `make`.
pub fn run_all<S: KitStorage>(make: impl Fn() -> S) {
    new_storage_is_empty(make());
    initialize_sets_the_membership(make());
    term_is_known_from_the_compaction_point_to_the_last_entry(make());
    entries_return_the_half_open_range(make());
    entries_stop_at_max_size_but_return_at_least_one(make());
    append_truncates_a_conflicting_suffix(make());
    compact_keeps_the_term_of_the_compaction_point(make());
    compact_past_the_last_index_is_refused(make());
    apply_snapshot_replaces_the_log(make());
    apply_snapshot_below_the_first_index_is_out_of_date(make());
    snapshot_honours_the_requested_index(make());
    hard_state_commit_and_membership_persist(make());
    set_commit_must_name_a_stored_index(make());
    random_writes_match_a_plain_model(make(), 0x5EED_0001, 300);
}

fn store(e: StorageError) -> Error {
    Error::Store(e)
}

fn ctx() -> GetEntriesContext {
    GetEntriesContext::empty(false)
}

/// An entry with a payload, so sizes differ from entry to entry.
pub fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: vec![index as u8; (index % 7) as usize].into(),
        ..Default::default()
    }
}

fn entries(range: std::ops::RangeInclusive<u64>, term: impl Fn(u64) -> u64) -> Vec<Entry> {
    range.map(|i| entry(i, term(i))).collect()
}

fn voters(ids: &[u64]) -> ConfState {
    ConfState {
        voters: ids.to_vec(),
        ..Default::default()
    }
}

fn snapshot(index: u64, term: u64, cs: ConfState) -> Snapshot {
    let mut s = Snapshot::default();
    let meta = s.mut_metadata();
    meta.index = index;
    meta.term = term;
    meta.set_conf_state(cs);
    s
}

/// Compacted at (3, 3), holding entries 4@4 and 5@5, reopened.
fn storage_3_to_5<S: KitStorage>(s: S) -> S {
    s.initialize(voters(&[1, 2, 3])).unwrap();
    s.append(&entries(1..=5, |i| i)).unwrap();
    s.compact(4).unwrap();
    s.reopen()
}

/// Asserts the bounds and every term from below the compaction point to
/// past the last index.
fn assert_log<S: Storage>(s: &S, compacted: (u64, u64), log: &[Entry], when: &str) {
    let (compacted_index, compacted_term) = compacted;
    let last = compacted_index + log.len() as u64;
    assert_eq!(
        s.first_index().unwrap(),
        compacted_index + 1,
        "first index {when}"
    );
    assert_eq!(s.last_index().unwrap(), last, "last index {when}");
    if compacted_index > 0 {
        assert_eq!(
            s.term(compacted_index - 1),
            Err(store(StorageError::Compacted)),
            "term below the compaction point {when}"
        );
    }
    assert_eq!(
        s.term(compacted_index),
        Ok(compacted_term),
        "term of the compaction point {when}"
    );
    for e in log {
        assert_eq!(s.term(e.index), Ok(e.term), "term {} {when}", e.index);
    }
    assert_eq!(
        s.term(last + 1),
        Err(store(StorageError::Unavailable)),
        "term past the last index {when}"
    );
    assert_eq!(
        s.entries(compacted_index + 1, last + 1, None, ctx())
            .unwrap(),
        log,
        "all entries {when}"
    );
}

/// A new storage has no entries, no membership, and a first index of 1.
pub fn new_storage_is_empty<S: KitStorage>(s: S) {
    let s = s.reopen();
    let state = s.initial_state().unwrap();
    assert!(
        !state.initialized(),
        "new storage has {:?}",
        state.conf_state
    );
    assert_eq!(state.hard_state, HardState::default());
    assert_log(&s, (0, 0), &[], "of a new storage");
    assert_eq!(s.entries(1, 1, None, ctx()).unwrap(), vec![]);
}

/// Initializing gives the storage its membership, and nothing else.
pub fn initialize_sets_the_membership<S: KitStorage>(s: S) {
    s.initialize(voters(&[1, 2])).unwrap();
    let s = s.reopen();
    let state = s.initial_state().unwrap();
    assert!(state.initialized());
    assert_eq!(state.conf_state, voters(&[1, 2]));
    assert_eq!(state.hard_state, HardState::default());
    assert_log(&s, (0, 0), &[], "after initializing");
}

/// `term` answers from the compaction point to the last index:
/// Compacted below, Unavailable above.
pub fn term_is_known_from_the_compaction_point_to_the_last_entry<S: KitStorage>(s: S) {
    let s = storage_3_to_5(s);
    let cases = [
        (2, Err(store(StorageError::Compacted))),
        (3, Ok(3)),
        (4, Ok(4)),
        (5, Ok(5)),
        (6, Err(store(StorageError::Unavailable))),
    ];
    for (idx, want) in cases {
        assert_eq!(s.term(idx), want, "term({idx})");
    }
    assert_eq!(s.first_index().unwrap(), 4);
    assert_eq!(s.last_index().unwrap(), 5);
}

/// `entries(low, high)` is `[low, high)`; a low below the first index is
/// Compacted.
pub fn entries_return_the_half_open_range<S: KitStorage>(s: S) {
    let s = storage_3_to_5(s);
    s.append(&[entry(6, 6)]).unwrap();
    let s = s.reopen();
    let cases = [
        (2, 6, Err(store(StorageError::Compacted))),
        (3, 4, Err(store(StorageError::Compacted))),
        (4, 5, Ok(vec![entry(4, 4)])),
        (4, 6, Ok(vec![entry(4, 4), entry(5, 5)])),
        (5, 7, Ok(vec![entry(5, 5), entry(6, 6)])),
        (4, 7, Ok(vec![entry(4, 4), entry(5, 5), entry(6, 6)])),
        (6, 6, Ok(vec![])),
        (7, 7, Ok(vec![])),
    ];
    for (lo, hi, want) in cases {
        assert_eq!(s.entries(lo, hi, None, ctx()), want, "entries [{lo}, {hi})");
    }
}

/// The size limit counts encoded entry sizes, stops before the total would
/// exceed it, and always lets the first entry through.
pub fn entries_stop_at_max_size_but_return_at_least_one<S: KitStorage>(s: S) {
    let s = storage_3_to_5(s);
    s.append(&[entry(6, 6)]).unwrap();
    let s = s.reopen();
    let size = |e: &Entry| e.compute_size();
    let (e4, e5, e6) = (entry(4, 4), entry(5, 5), entry(6, 6));
    let one = size(&e4);
    let two = one + size(&e5);
    let three = two + size(&e6);
    let cases: [(Option<u64>, usize); 8] = [
        (None, 3),
        (Some(raft::NO_LIMIT), 3),
        (Some(0), 1),
        (Some(one), 1),
        (Some(two - 1), 1),
        (Some(two), 2),
        (Some(three - 1), 2),
        (Some(three), 3),
    ];
    for (max, want) in cases {
        let got = s.entries(4, 7, max, ctx()).unwrap();
        assert_eq!(
            got,
            [&e4, &e5, &e6][..want]
                .iter()
                .map(|e| (*e).clone())
                .collect::<Vec<_>>(),
            "max size {max:?}"
        );
    }
}

/// Appending replaces every stored entry from the first appended index on.
pub fn append_truncates_a_conflicting_suffix<S: KitStorage>(s: S) {
    let mut s = storage_3_to_5(s);
    let steps: [(&[Entry], &[Entry], &str); 5] = [
        (
            &[entry(4, 4), entry(5, 5)],
            &[entry(4, 4), entry(5, 5)],
            "the same entries",
        ),
        (
            &[entry(4, 6), entry(5, 6)],
            &[entry(4, 6), entry(5, 6)],
            "a conflict at the first index",
        ),
        (
            &[entry(5, 7), entry(6, 7)],
            &[entry(4, 6), entry(5, 7), entry(6, 7)],
            "a conflict in the middle that extends the log",
        ),
        (
            &[entry(5, 8)],
            &[entry(4, 6), entry(5, 8)],
            "a shorter batch, dropping the tail",
        ),
        (
            &[entry(6, 8)],
            &[entry(4, 6), entry(5, 8), entry(6, 8)],
            "a batch right after the last index",
        ),
    ];
    for (appended, want, what) in steps {
        s.append(appended).unwrap();
        s = s.reopen();
        assert_log(&s, (3, 3), want, &format!("after appending {what}"));
    }
    s.append(&[]).unwrap();
    assert_eq!(
        s.last_index().unwrap(),
        6,
        "an empty append changes nothing"
    );
}

/// Compaction moves the first index; the term of the new compaction point
/// stays readable; compacting at or below the first index is a no-op.
pub fn compact_keeps_the_term_of_the_compaction_point<S: KitStorage>(s: S) {
    let s = storage_3_to_5(s);
    s.append(&[entry(6, 6), entry(7, 7)]).unwrap();
    s.compact(2).unwrap();
    s.compact(4).unwrap();
    let s = s.reopen();
    assert_log(
        &s,
        (3, 3),
        &entries(4..=7, |i| i),
        "after no-op compactions",
    );

    s.compact(6).unwrap();
    let s = s.reopen();
    assert_log(&s, (5, 5), &entries(6..=7, |i| i), "after compacting to 6");
    assert_eq!(
        s.entries(5, 6, None, ctx()),
        Err(store(StorageError::Compacted))
    );

    // Compacting everything leaves an empty log after index 7, which
    // appends continue.
    s.compact(8).unwrap();
    let s = s.reopen();
    assert_log(&s, (7, 7), &[], "after compacting everything");
    s.append(&[entry(8, 8)]).unwrap();
    let s = s.reopen();
    assert_log(
        &s,
        (7, 7),
        &[entry(8, 8)],
        "after appending to an empty log",
    );
}

/// Compacting past `last_index + 1` would drop entries never stored: it is
/// refused with Unavailable and changes nothing.
pub fn compact_past_the_last_index_is_refused<S: KitStorage>(s: S) {
    let s = storage_3_to_5(s);
    assert_eq!(s.compact(7), Err(store(StorageError::Unavailable)));
    let s = s.reopen();
    assert_log(
        &s,
        (3, 3),
        &entries(4..=5, |i| i),
        "after a refused compaction",
    );
}

/// A snapshot replaces the log, sets the commit index to its index, raises
/// (never lowers) the term, and brings its membership.
pub fn apply_snapshot_replaces_the_log<S: KitStorage>(s: S) {
    let s = storage_3_to_5(s);
    s.set_hard_state(HardState {
        term: 5,
        vote: 2,
        commit: 5,
        ..Default::default()
    })
    .unwrap();
    // A snapshot inside the log still replaces all of it.
    s.apply_snapshot(snapshot(4, 7, voters(&[4, 5]))).unwrap();
    let s = s.reopen();
    assert_log(&s, (4, 7), &[], "after a snapshot at 4");
    let state = s.initial_state().unwrap();
    assert_eq!(
        (state.hard_state.term, state.hard_state.commit),
        (7, 4),
        "term rises to the snapshot's, commit moves to its index"
    );
    assert_eq!(state.conf_state, voters(&[4, 5]));

    // A snapshot from an older term does not lower the term.
    s.set_hard_state(HardState {
        term: 9,
        vote: 1,
        commit: 4,
        ..Default::default()
    })
    .unwrap();
    s.apply_snapshot(snapshot(10, 8, voters(&[1]))).unwrap();
    let s = s.reopen();
    let hs = s.initial_state().unwrap().hard_state;
    assert_eq!((hs.term, hs.commit), (9, 10));
    assert_log(&s, (10, 8), &[], "after a snapshot past the log");
    s.append(&[entry(11, 9)]).unwrap();
    let s = s.reopen();
    assert_log(
        &s,
        (10, 8),
        &[entry(11, 9)],
        "after appending to a snapshot",
    );
}

/// A snapshot below the first index is out of date and changes nothing.
pub fn apply_snapshot_below_the_first_index_is_out_of_date<S: KitStorage>(s: S) {
    let s = storage_3_to_5(s);
    for idx in [2, 3] {
        assert_eq!(
            s.apply_snapshot(snapshot(idx, 3, voters(&[9]))),
            Err(store(StorageError::SnapshotOutOfDate)),
            "snapshot at {idx}"
        );
    }
    let s = s.reopen();
    assert_log(
        &s,
        (3, 3),
        &entries(4..=5, |i| i),
        "after refused snapshots",
    );
    assert_eq!(s.initial_state().unwrap().conf_state, voters(&[1, 2, 3]));
}

/// Whatever a storage's snapshot policy, `snapshot(request_index)` gives a
/// snapshot at or past `request_index`, or asks the core to try later.
/// After a snapshot was applied, the one returned for index 0 is it.
pub fn snapshot_honours_the_requested_index<S: KitStorage>(s: S) {
    let s = storage_3_to_5(s);
    s.apply_snapshot(snapshot(6, 6, voters(&[1, 2]))).unwrap();
    s.append(&entries(7..=9, |_| 7)).unwrap();
    let s = s.reopen();
    let got = s.snapshot(0, 2).unwrap();
    let meta = got.metadata();
    assert_eq!((meta.index, meta.term), (6, 6));
    assert_eq!(*meta.conf_state(), voters(&[1, 2]));
    for request in [0, 5, 6, 7, 9, 12] {
        match s.snapshot(request, 2) {
            Ok(snap) => assert!(
                snap.metadata().index >= request,
                "snapshot for request {request} is at {}",
                snap.metadata().index
            ),
            Err(e) => assert_eq!(
                e,
                store(StorageError::SnapshotTemporarilyUnavailable),
                "request {request}"
            ),
        }
    }
}

/// The hard state, the commit index and the membership read back as
/// written.
pub fn hard_state_commit_and_membership_persist<S: KitStorage>(s: S) {
    let s = storage_3_to_5(s);
    let hs = HardState {
        term: 5,
        vote: 3,
        commit: 4,
        ..Default::default()
    };
    s.set_hard_state(hs.clone()).unwrap();
    let s = s.reopen();
    assert_eq!(s.initial_state().unwrap().hard_state, hs);
    s.set_commit(5).unwrap();
    s.set_conf_state(voters(&[1, 2, 3, 4])).unwrap();
    let s = s.reopen();
    let state = s.initial_state().unwrap();
    assert_eq!(
        state.hard_state,
        HardState { commit: 5, ..hs },
        "set_commit changes only the commit index"
    );
    assert_eq!(state.conf_state, voters(&[1, 2, 3, 4]));
}

/// A commit index names the compaction point or a stored entry.
pub fn set_commit_must_name_a_stored_index<S: KitStorage>(s: S) {
    let s = storage_3_to_5(s);
    assert_eq!(s.set_commit(2), Err(store(StorageError::Compacted)));
    assert_eq!(s.set_commit(6), Err(store(StorageError::Unavailable)));
    let s = s.reopen();
    assert_eq!(s.initial_state().unwrap().hard_state.commit, 0);
    s.set_commit(3).unwrap();
    assert_eq!(s.initial_state().unwrap().hard_state.commit, 3);
}

/// The plain model the random check compares against: the compaction
/// point, the entries after it, the hard state and the membership.
#[derive(Debug, Clone, Default)]
struct Model {
    compacted: (u64, u64),
    log: Vec<Entry>,
    hard_state: HardState,
    conf_state: ConfState,
}

impl Model {
    fn first(&self) -> u64 {
        self.compacted.0 + 1
    }

    fn last(&self) -> u64 {
        self.compacted.0 + self.log.len() as u64
    }

    fn last_term(&self) -> u64 {
        self.log.last().map_or(self.compacted.1, |e| e.term)
    }

    /// The expected answer of `entries(low, high, max)`.
    fn entries(&self, low: u64, high: u64, max: u64) -> Vec<Entry> {
        let from = (low - self.first()) as usize;
        let to = (high - self.first()) as usize;
        let mut size = 0u64;
        let mut out = Vec::new();
        for e in &self.log[from..to] {
            size += e.compute_size();
            if !out.is_empty() && size > max {
                break;
            }
            out.push(e.clone());
        }
        out
    }
}

/// A seeded random sequence of `steps` writes of every kind (appends with
/// conflicting suffixes, compactions, snapshots, hard states, commits,
/// membership changes), checking after each one that bounds, terms,
/// entries (with random size limits) and the initial state match a plain
/// model; the storage is reopened every few steps.
pub fn random_writes_match_a_plain_model<S: KitStorage>(s: S, seed: u64, steps: usize) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut s = s;
    let mut m = Model::default();
    s.initialize(voters(&[1])).unwrap();
    m.conf_state = voters(&[1]);
    for step in 0..steps {
        let what = random_write(&s, &mut m, &mut rng);
        if rng.gen_ratio(1, 8) {
            s = s.reopen();
        }
        let when = format!("after step {step} ({what}), seed {seed:#x}");
        assert_log(&s, m.compacted, &m.log, &when);
        let state = s.initial_state().unwrap();
        assert_eq!(state.hard_state, m.hard_state, "hard state {when}");
        assert_eq!(state.conf_state, m.conf_state, "membership {when}");
        if m.last() >= m.first() {
            let low = rng.gen_range(m.first()..=m.last());
            let high = rng.gen_range(low..=m.last() + 1);
            let max = rng.gen_range(0..200);
            assert_eq!(
                s.entries(low, high, max, ctx()).unwrap(),
                m.entries(low, high, max),
                "entries [{low}, {high}) within {max} bytes {when}"
            );
        }
    }
}

/// Applies one random write to both the storage and the model and says
/// what it was.
fn random_write<S: KitStorage>(s: &S, m: &mut Model, rng: &mut SmallRng) -> String {
    match rng.gen_range(0..10) {
        0..=4 => {
            // Append, often replacing a suffix, with a term at or above the
            // last one.
            let start = rng.gen_range(m.first()..=m.last() + 1);
            let count = rng.gen_range(1..=6);
            let term = m.last_term().max(m.hard_state.term) + rng.gen_range(0..2);
            let ents: Vec<Entry> = (start..start + count)
                .map(|i| Entry {
                    index: i,
                    term,
                    data: vec![rng.gen(); rng.gen_range(0..40)].into(),
                    ..Default::default()
                })
                .collect();
            s.append(&ents).unwrap();
            m.log.truncate((start - m.first()) as usize);
            m.log.extend(ents);
            format!("append {start}..{}@{term}", start + count)
        }
        5 => {
            // Compact, sometimes past the end (refused).
            let to = rng.gen_range(m.first().saturating_sub(1)..=m.last() + 2);
            let got = s.compact(to);
            if to > m.last() + 1 {
                assert_eq!(got, Err(store(StorageError::Unavailable)), "compact {to}");
            } else {
                got.unwrap();
                if to > m.first() {
                    let drop = (to - m.first()) as usize;
                    m.compacted = (to - 1, m.log[drop - 1].term);
                    m.log.drain(..drop);
                }
            }
            format!("compact {to}")
        }
        6 => {
            // Install a snapshot, sometimes out of date.
            let index = rng.gen_range(m.compacted.0.saturating_sub(1)..=m.last() + 3);
            let term = m.last_term() + rng.gen_range(0..2);
            let cs = voters(&[1, rng.gen_range(2..5)]);
            let got = s.apply_snapshot(snapshot(index, term, cs.clone()));
            if index < m.first() {
                assert_eq!(
                    got,
                    Err(store(StorageError::SnapshotOutOfDate)),
                    "snapshot {index}"
                );
            } else {
                got.unwrap();
                m.compacted = (index, term);
                m.log.clear();
                m.hard_state.term = m.hard_state.term.max(term);
                m.hard_state.commit = index;
                m.conf_state = cs;
            }
            format!("snapshot {index}@{term}")
        }
        7 => {
            let hs = HardState {
                term: m.hard_state.term + rng.gen_range(0..2),
                vote: rng.gen_range(0..4),
                commit: rng.gen_range(m.compacted.0..=m.last()),
                ..Default::default()
            };
            s.set_hard_state(hs.clone()).unwrap();
            m.hard_state = hs;
            "hard state".to_string()
        }
        8 => {
            let commit = rng.gen_range(m.compacted.0..=m.last());
            s.set_commit(commit).unwrap();
            m.hard_state.commit = commit;
            format!("commit {commit}")
        }
        _ => {
            let cs = voters(&[1, rng.gen_range(2..9)]);
            s.set_conf_state(cs.clone()).unwrap();
            m.conf_state = cs;
            "membership".to_string()
        }
    }
}
