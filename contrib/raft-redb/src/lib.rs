//! A durable [`raft::Storage`] on [redb](https://docs.rs/redb), a pure-Rust
//! embedded database with ACID, crash-safe transactions.
//!
//! [`RedbStorage`] keeps a node's log, hard state, membership and snapshot
//! metadata in one redb file (`raft.redb`) in a directory of its own, and
//! the snapshot data in a file beside it (`snapshots/`), named in the
//! database with its length and CRC-32C. Every write is one transaction,
//! synced to disk before it returns; reopening the directory gives a
//! `RawNode` exactly the state that was last acknowledged.
//!
//! # The driver loop
//!
//! The application persists what each `Ready` asks before it acknowledges
//! it, and everything else the core reads comes back through
//! [`raft::Storage`]:
//!
//! 1. [`RedbStorage::open`] the node's directory; on the very first start
//!    of a new cluster, [`RedbStorage::initialize_with_conf_state`].
//! 2. Create the `RawNode` with a clone of the storage.
//! 3. For each `Ready`: build a [`WriteBatch`] (its snapshot, entries and
//!    hard state, [`WriteBatch::from_ready`] does it) and
//!    [`RedbStorage::write`] it, *then* send the persisted messages and
//!    call `advance`. Drivers that persist asynchronously collect several
//!    `Ready`s and persist them with one [`RedbStorage::write_group`] (one
//!    fsync), then call `on_persist_ready` with the last one's number.
//! 4. For the `LightReady` that `advance` returns, persist its commit index
//!    with [`RedbStorage::set_commit`].
//! 5. After applying a configuration change, persist the new membership
//!    with [`RedbStorage::set_conf_state`].
//! 6. Now and then, take a snapshot of the state machine at the applied
//!    index, [`RedbStorage::save_snapshot`] it and
//!    [`RedbStorage::compact`] the log up to it. A snapshot the core sends
//!    to a lagging follower is the one saved last.
//!
//! ```
//! use raft::eraftpb::ConfState;
//! use raft::{Config, RawNode, Storage};
//! use raft_redb::{RedbStorage, WriteBatch};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("raft-redb-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let storage = RedbStorage::open(&dir)?;
//! storage.initialize_with_conf_state(ConfState::from((vec![1], vec![])))?;
//!
//! let config = Config { id: 1, ..Default::default() };
//! let logger = raft::default_logger();
//! let mut node = RawNode::new(&config, storage.clone(), &logger)?;
//! node.campaign()?;
//! node.propose(vec![], b"hello".to_vec())?;
//! while node.has_ready() {
//!     let mut ready = node.ready();
//!     storage.write(&WriteBatch::from_ready(&mut ready))?;
//!     // ... send ready.persisted_messages(), apply committed entries ...
//!     let mut light = node.advance(ready);
//!     if let Some(commit) = light.commit_index() {
//!         storage.set_commit(commit)?;
//!     }
//!     // ... apply light.take_committed_entries() ...
//!     node.advance_apply();
//! }
//! drop(node);
//! drop(storage);
//!
//! // A restart finds everything that was written.
//! let reopened = RedbStorage::open(&dir)?;
//! let last = reopened.last_index()?;
//! let entries = reopened.entries(last, last + 1, None, raft::GetEntriesContext::empty(false))?;
//! assert_eq!(entries[0].data.as_ref(), b"hello");
//! assert_eq!(reopened.hard_state().commit, last);
//! # drop(reopened);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Every failure is an [`Error`] saying what failed: a damaged or foreign
//! file is [`Error::Corrupt`] or [`Error::NotARaftStore`], never a panic.
//! Through the [`raft::Storage`] trait, errors reach the core as
//! [`raft::StorageError`]: the conditions it knows by name (compacted,
//! unavailable, snapshot out of date) keep their names, everything else is
//! [`raft::StorageError::Other`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checksum;
mod error;
mod snapshot_file;
mod store;

pub use error::Error;
pub use store::RedbStorage;

use raft::eraftpb::{Entry, HardState, Snapshot};

/// What one `Ready` asks to persist: a snapshot to install, entries to
/// append, a new hard state. [`RedbStorage::write`] persists it in one
/// durable transaction, in that order.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    /// A snapshot the `Ready` asks to install, data included. It replaces
    /// the whole log.
    pub snapshot: Option<Snapshot>,
    /// Entries to append; stored entries from the first one's index on are
    /// replaced.
    pub entries: Vec<Entry>,
    /// The hard state to persist.
    pub hard_state: Option<HardState>,
}

impl WriteBatch {
    /// Whether the batch asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.entries.is_empty() && self.hard_state.is_none()
    }

    /// The batch for `ready`: its snapshot when it has one, its entries
    /// (taken out of it) and its hard state when it changed.
    pub fn from_ready(ready: &mut raft::Ready) -> WriteBatch {
        let snapshot = ready.snapshot();
        WriteBatch {
            snapshot: (!snapshot.is_empty()).then(|| snapshot.clone()),
            entries: ready.take_entries(),
            hard_state: ready.hs().cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_empty_only_when_it_asks_for_nothing() {
        assert!(WriteBatch::default().is_empty());
        let with_hs = WriteBatch {
            hard_state: Some(HardState::default()),
            ..Default::default()
        };
        assert!(!with_hs.is_empty());
        let with_entry = WriteBatch {
            entries: vec![Entry::default()],
            ..Default::default()
        };
        assert!(!with_entry.is_empty());
        let with_snapshot = WriteBatch {
            snapshot: Some(Snapshot::default()),
            ..Default::default()
        };
        assert!(!with_snapshot.is_empty());
    }
}
