//! raft-redb beyond the shared storage contract: snapshot data files,
//! group commit, atomic failures, damaged and foreign files, and a
//! `RawNode` restarted from disk.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, Storage, StorageError};
use raft_redb::{Error, RedbStorage, WriteBatch};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "raft-redb-store-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        Scratch(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn db_file(&self) -> PathBuf {
        self.0.join("raft.redb")
    }

    /// The files in `snapshots/`, sorted.
    fn snapshot_files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.0.join("snapshots"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: format!("entry {index}").into_bytes().into(),
        ..Default::default()
    }
}

fn voters(ids: &[u64]) -> ConfState {
    ConfState::from((ids.to_vec(), vec![]))
}

fn snapshot(index: u64, term: u64, data: &[u8]) -> Snapshot {
    let mut s = Snapshot {
        data: data.to_vec().into(),
        ..Default::default()
    };
    let meta = s.mut_metadata();
    meta.index = index;
    meta.term = term;
    meta.set_conf_state(voters(&[1, 2, 3]));
    s
}

fn append(s: &RedbStorage, ents: Vec<Entry>) {
    s.write(&WriteBatch {
        entries: ents,
        ..Default::default()
    })
    .unwrap();
}

fn all_entries(s: &RedbStorage) -> Vec<Entry> {
    let (first, last) = (s.first_index().unwrap(), s.last_index().unwrap());
    s.entries(first, last + 1, None, GetEntriesContext::empty(false))
        .unwrap()
}

fn other_error_text(e: raft::Error) -> String {
    match e {
        raft::Error::Store(StorageError::Other(e)) => e.to_string(),
        other => panic!("expected StorageError::Other, got {other:?}"),
    }
}

#[test]
fn storage_is_shared_by_clones_and_crosses_threads() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync_clone::<RedbStorage>();
    let dir = Scratch::new();
    let a = RedbStorage::open(dir.path()).unwrap();
    let b = a.clone();
    std::thread::spawn(move || append(&b, vec![entry(1, 1)]))
        .join()
        .unwrap();
    assert_eq!(a.last_index().unwrap(), 1);
}

#[test]
fn one_batch_persists_snapshot_then_entries_then_hard_state() {
    let dir = Scratch::new();
    let s = RedbStorage::open(dir.path()).unwrap();
    append(&s, (1..=3).map(|i| entry(i, 1)).collect());
    let hs = HardState {
        term: 4,
        vote: 2,
        commit: 5,
        ..Default::default()
    };
    s.write(&WriteBatch {
        snapshot: Some(snapshot(5, 3, b"image at 5")),
        entries: vec![entry(6, 4), entry(7, 4)],
        hard_state: Some(hs.clone()),
    })
    .unwrap();
    drop(s);
    let s = RedbStorage::open(dir.path()).unwrap();
    assert_eq!(s.first_index().unwrap(), 6);
    assert_eq!(s.term(5).unwrap(), 3);
    assert_eq!(all_entries(&s), [entry(6, 4), entry(7, 4)]);
    assert_eq!(s.hard_state(), hs, "the batch's hard state is written last");
    assert_eq!(s.conf_state(), voters(&[1, 2, 3]));
    let snap = s.snapshot(0, 2).unwrap();
    assert_eq!((snap.metadata().index, snap.metadata().term), (5, 3));
    assert_eq!(snap.data.as_ref(), b"image at 5");
}

#[test]
fn saved_snapshot_is_served_with_its_data_and_replaces_the_old_file() {
    let dir = Scratch::new();
    let s = RedbStorage::open(dir.path()).unwrap();
    s.initialize_with_conf_state(voters(&[1])).unwrap();
    assert_eq!(
        s.snapshot(0, 2),
        Err(raft::Error::Store(
            StorageError::SnapshotTemporarilyUnavailable
        )),
        "no snapshot saved yet"
    );
    append(&s, (1..=10).map(|i| entry(i, 1 + i / 5)).collect());
    // Regression (found by the crash test): a snapshot at index 0 was
    // recorded although `Storage::snapshot` can never serve it.
    assert!(matches!(
        s.save_snapshot(0, voters(&[1]), b"nothing"),
        Err(Error::SnapshotOutOfDate { index: 0, .. })
    ));
    assert!(dir.snapshot_files().is_empty());
    s.save_snapshot(4, voters(&[1, 2]), b"first image").unwrap();
    assert_eq!(dir.snapshot_files().len(), 1);
    s.save_snapshot(8, voters(&[1, 2, 3]), b"second image")
        .unwrap();
    assert_eq!(dir.snapshot_files().len(), 1, "the old file is removed");
    s.compact(9).unwrap();
    drop(s);

    let s = RedbStorage::open(dir.path()).unwrap();
    let snap = s.snapshot(0, 2).unwrap();
    let meta = snap.metadata();
    assert_eq!((meta.index, meta.term), (8, 2), "term looked up in the log");
    assert_eq!(*meta.conf_state(), voters(&[1, 2, 3]));
    assert_eq!(snap.data.as_ref(), b"second image");
    assert_eq!(s.first_index().unwrap(), 9);
    // Saving a snapshot leaves the membership of the store alone.
    assert_eq!(s.conf_state(), voters(&[1]));
    assert_eq!(
        s.snapshot(9, 2),
        Err(raft::Error::Store(
            StorageError::SnapshotTemporarilyUnavailable
        )),
        "a request past the saved snapshot waits for a newer one"
    );
    // Older snapshots and unknown terms are refused.
    assert!(matches!(
        s.save_snapshot(6, voters(&[1]), b"older"),
        Err(Error::Compacted { .. })
    ));
    assert!(matches!(
        s.save_snapshot(11, voters(&[1]), b"future"),
        Err(Error::Unavailable { .. })
    ));
    append(&s, vec![entry(11, 3)]);
    s.save_snapshot(9, voters(&[1]), b"third").unwrap();
    s.compact(10).unwrap();
    // Compacted past 8 does not matter: the store's snapshot is at 9 now.
    assert!(matches!(
        s.save_snapshot(10, voters(&[1]), b"x")
            .and_then(|_| s.save_snapshot(9, voters(&[1]), b"y")),
        Err(Error::Compacted { .. }) | Err(Error::SnapshotOutOfDate { .. })
    ));
    assert_eq!(dir.snapshot_files().len(), 1);
}

#[test]
fn write_group_is_one_transaction_in_order() {
    let dir = Scratch::new();
    let s = RedbStorage::open(dir.path()).unwrap();
    let batches = [
        WriteBatch {
            entries: (1..=4).map(|i| entry(i, 1)).collect(),
            hard_state: Some(HardState {
                term: 1,
                commit: 2,
                ..Default::default()
            }),
            ..Default::default()
        },
        WriteBatch {
            // Replaces 3 and 4 written by the batch before.
            entries: vec![entry(3, 2), entry(4, 2), entry(5, 2)],
            hard_state: Some(HardState {
                term: 2,
                vote: 1,
                commit: 3,
                ..Default::default()
            }),
            ..Default::default()
        },
        WriteBatch::default(),
    ];
    s.write_group(&batches).unwrap();
    drop(s);
    let s = RedbStorage::open(dir.path()).unwrap();
    assert_eq!(
        all_entries(&s),
        [
            entry(1, 1),
            entry(2, 1),
            entry(3, 2),
            entry(4, 2),
            entry(5, 2)
        ]
    );
    assert_eq!(s.hard_state().commit, 3);
    assert_eq!(s.hard_state().vote, 1);
}

#[test]
fn a_failed_write_changes_nothing_even_after_reopening() {
    let dir = Scratch::new();
    let s = RedbStorage::open(dir.path()).unwrap();
    append(&s, (1..=3).map(|i| entry(i, 1)).collect());
    let good = WriteBatch {
        entries: vec![entry(4, 2)],
        hard_state: Some(HardState {
            term: 2,
            ..Default::default()
        }),
        snapshot: None,
    };
    let gap = WriteBatch {
        entries: vec![entry(9, 2)],
        ..Default::default()
    };
    let err = s.write_group(&[good.clone(), gap]).unwrap_err();
    assert!(matches!(err, Error::NotContiguous { .. }), "{err}");
    let with_snapshot = WriteBatch {
        snapshot: Some(snapshot(7, 2, b"never visible")),
        entries: vec![entry(9, 2), entry(11, 2)],
        ..Default::default()
    };
    let err = s.write(&with_snapshot).unwrap_err();
    assert!(matches!(err, Error::NotContiguous { .. }), "{err}");
    let below = WriteBatch {
        entries: vec![entry(0, 2)],
        ..Default::default()
    };
    assert!(matches!(s.write(&below), Err(Error::Compacted { .. })));

    let unchanged = |s: &RedbStorage| {
        assert_eq!(
            all_entries(s),
            (1..=3).map(|i| entry(i, 1)).collect::<Vec<_>>()
        );
        assert_eq!(s.hard_state(), HardState::default());
        assert_eq!(
            s.snapshot(0, 1),
            Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable
            ))
        );
    };
    unchanged(&s);
    drop(s);
    unchanged(&RedbStorage::open(dir.path()).unwrap());
    assert!(
        dir.snapshot_files().is_empty(),
        "the failed batch's snapshot file is removed: {:?}",
        dir.snapshot_files()
    );
    // The good batch alone goes through.
    RedbStorage::open(dir.path()).unwrap().write(&good).unwrap();
}

#[test]
fn initializing_twice_is_refused() {
    let dir = Scratch::new();
    let s = RedbStorage::open(dir.path()).unwrap();
    s.initialize_with_conf_state(voters(&[1, 2])).unwrap();
    let err = s.initialize_with_conf_state(voters(&[3])).unwrap_err();
    assert!(matches!(err, Error::AlreadyInitialized { .. }), "{err}");
    let fresh_with_entries = Scratch::new();
    let s = RedbStorage::open(fresh_with_entries.path()).unwrap();
    append(&s, vec![entry(1, 1)]);
    assert!(matches!(
        s.initialize_with_conf_state(voters(&[1])),
        Err(Error::AlreadyInitialized { .. })
    ));
}

#[test]
fn a_second_open_of_the_same_store_is_an_error_not_a_panic() {
    let dir = Scratch::new();
    let _first = RedbStorage::open(dir.path()).unwrap();
    let err = RedbStorage::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err}");
    assert!(err.to_string().contains("open database"), "{err}");
}

#[test]
fn garbage_in_the_database_file_is_not_a_raft_store() {
    let dir = Scratch::new();
    fs::create_dir_all(dir.path()).unwrap();
    for garbage in [
        b"definitely not a database".repeat(200),
        vec![0u8; 8192],
        vec![0xff; 3],
    ] {
        fs::write(dir.db_file(), &garbage).unwrap();
        let err = RedbStorage::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, Error::NotARaftStore { .. } | Error::Corrupt { .. }),
            "{} bytes of garbage: {err:?}",
            garbage.len()
        );
    }
}

#[test]
fn a_redb_file_of_another_schema_is_not_a_raft_store() {
    let dir = Scratch::new();
    fs::create_dir_all(dir.path()).unwrap();
    {
        let db = redb::Database::create(dir.db_file()).unwrap();
        let txn = db.begin_write().unwrap();
        let def: redb::TableDefinition<u32, u32> = redb::TableDefinition::new("users");
        txn.open_table(def).unwrap().insert(1, 2).unwrap();
        txn.commit().unwrap();
    }
    let err = RedbStorage::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NotARaftStore { .. }), "{err:?}");
    assert!(err.to_string().contains("users"), "{err}");

    // Our table names with other types.
    fs::remove_file(dir.db_file()).unwrap();
    {
        let db = redb::Database::create(dir.db_file()).unwrap();
        let txn = db.begin_write().unwrap();
        let def: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("raft_meta");
        txn.open_table(def).unwrap().insert(1, 2).unwrap();
        txn.commit().unwrap();
    }
    let err = RedbStorage::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NotARaftStore { .. }), "{err:?}");

    // Our layout with another format marker (a future version).
    fs::remove_file(dir.db_file()).unwrap();
    {
        let db = redb::Database::create(dir.db_file()).unwrap();
        let txn = db.begin_write().unwrap();
        let def: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("raft_meta");
        txn.open_table(def)
            .unwrap()
            .insert("format", b"raft-redb format 99".as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let err = RedbStorage::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NotARaftStore { .. }), "{err:?}");
    assert!(err.to_string().contains("format 99"), "{err}");
}

#[test]
fn a_truncated_snapshot_file_is_reported_at_open() {
    let dir = Scratch::new();
    let s = RedbStorage::open(dir.path()).unwrap();
    s.write(&WriteBatch {
        snapshot: Some(snapshot(5, 2, &[7u8; 1000])),
        ..Default::default()
    })
    .unwrap();
    drop(s);
    let [file] = &dir.snapshot_files()[..] else {
        panic!("one snapshot file expected: {:?}", dir.snapshot_files());
    };
    let path = dir.path().join("snapshots").join(file);
    fs::write(&path, [7u8; 400]).unwrap();
    let err = RedbStorage::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains(file.as_str()), "{err}");
    fs::remove_file(&path).unwrap();
    let err = RedbStorage::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "a missing file: {err:?}");
}

#[test]
fn a_damaged_snapshot_file_is_a_storage_error_naming_it() {
    let dir = Scratch::new();
    let s = RedbStorage::open(dir.path()).unwrap();
    s.write(&WriteBatch {
        snapshot: Some(snapshot(5, 2, &[7u8; 1000])),
        ..Default::default()
    })
    .unwrap();
    let [file] = &dir.snapshot_files()[..] else {
        panic!("one snapshot file expected: {:?}", dir.snapshot_files());
    };
    let path = dir.path().join("snapshots").join(file);
    let mut data = fs::read(&path).unwrap();
    data[500] ^= 0x10;
    fs::write(&path, &data).unwrap();
    let text = other_error_text(s.snapshot(0, 2).unwrap_err());
    assert!(
        text.contains("checksum") && text.contains(file.as_str()),
        "{text}"
    );
}

#[test]
fn stale_snapshot_files_from_a_crash_are_removed_at_open() {
    let dir = Scratch::new();
    let s = RedbStorage::open(dir.path()).unwrap();
    s.write(&WriteBatch {
        snapshot: Some(snapshot(5, 2, b"kept")),
        ..Default::default()
    })
    .unwrap();
    drop(s);
    let kept = dir.snapshot_files();
    let snapshots = dir.path().join("snapshots");
    // A file renamed into place whose transaction never committed, and a
    // temporary file a crash interrupted.
    fs::write(snapshots.join("snapshot-00000000000000aa.snap"), b"orphan").unwrap();
    fs::write(snapshots.join("snapshot-00000000000000ab.tmp"), b"half").unwrap();
    let s = RedbStorage::open(dir.path()).unwrap();
    assert_eq!(dir.snapshot_files(), kept);
    assert_eq!(s.snapshot(0, 1).unwrap().data.as_ref(), b"kept");
    // New files are numbered past every name seen, never reusing one.
    s.save_snapshot(5, voters(&[1]), b"next").unwrap();
    assert_eq!(dir.snapshot_files(), ["snapshot-00000000000000ac.snap"]);
}

#[test]
fn io_errors_reach_the_core_as_storage_errors_saying_what_failed() {
    let dir = Scratch::new();
    let s = RedbStorage::open(dir.path()).unwrap();
    // The snapshot directory replaced by a file: writing a snapshot fails.
    fs::remove_dir_all(dir.path().join("snapshots")).unwrap();
    fs::write(dir.path().join("snapshots"), b"in the way").unwrap();
    let err = s
        .write(&WriteBatch {
            snapshot: Some(snapshot(5, 2, b"data")),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let text = other_error_text(err.into());
    assert!(text.contains("create snapshot file"), "{text}");
    assert_eq!(s.last_index().unwrap(), 0, "nothing was written");
}

#[test]
fn damaged_bytes_in_the_database_file_give_errors_not_panics() {
    let dir = Scratch::new();
    let s = RedbStorage::open(dir.path()).unwrap();
    s.initialize_with_conf_state(voters(&[1, 2, 3])).unwrap();
    append(&s, (1..=50).map(|i| entry(i, 1)).collect());
    drop(s);
    let pristine = fs::read(dir.db_file()).unwrap();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for offset in (0..pristine.len()).step_by(pristine.len() / 53 + 1) {
        let mut damaged = pristine.clone();
        for b in &mut damaged[offset..(offset + 16).min(pristine.len())] {
            *b ^= 0xA5;
        }
        fs::write(dir.db_file(), &damaged).unwrap();
        let outcome = std::panic::catch_unwind(|| match RedbStorage::open(dir.path()) {
            Err(e) => format!("open: {}", variant(&e)),
            Ok(s) => {
                let (first, last) = (s.first_index().unwrap(), s.last_index().unwrap());
                match s.entries(first, last + 1, None, GetEntriesContext::empty(false)) {
                    Ok(ents) if ents == (1..=50).map(|i| entry(i, 1)).collect::<Vec<_>>() => {
                        "intact".to_string()
                    }
                    Ok(_) => "entries differ".to_string(),
                    Err(e) => format!("read: {}", e.to_string().contains("corrupt")),
                }
            }
        });
        let outcome = outcome.unwrap_or_else(|_| format!("PANIC at offset {offset}"));
        *outcomes.entry(outcome).or_default() += 1;
    }
    println!("{outcomes:#?}");
    // Every outcome is the intact log or a typed error: no panic, and no
    // entry read back different from what was written.
    assert!(
        outcomes
            .keys()
            .all(|k| k == "intact" || k.starts_with("open: ") || k.starts_with("read: ")),
        "{outcomes:#?}"
    );
    assert!(
        outcomes.keys().any(|k| k != "intact"),
        "no damage was detected: {outcomes:#?}"
    );
}

fn variant(e: &Error) -> &'static str {
    match e {
        Error::Io { .. } => "Io",
        Error::Database { .. } => "Database",
        Error::Corrupt { .. } => "Corrupt",
        Error::NotARaftStore { .. } => "NotARaftStore",
        _ => "other",
    }
}
