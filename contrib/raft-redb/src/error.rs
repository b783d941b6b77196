//! The errors of a [`RedbStorage`](crate::RedbStorage), and how they reach
//! the Raft core as [`raft::Error`].

use std::path::PathBuf;

use raft::StorageError;

/// What went wrong in a [`RedbStorage`](crate::RedbStorage).
///
/// Every variant says what the store was doing. [`Error::Compacted`],
/// [`Error::Unavailable`] and [`Error::SnapshotOutOfDate`] are the
/// conditions the Raft core knows by name and become the matching
/// [`StorageError`]; every other variant becomes [`StorageError::Other`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system operation failed.
    #[error("raft-redb: {what}: {source}")]
    Io {
        /// The operation, with the path it touched.
        what: String,
        /// The error the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The redb database reported an error.
    #[error("raft-redb: {what}: {source}")]
    Database {
        /// The operation that failed.
        what: String,
        /// The error redb reported.
        #[source]
        source: Box<redb::Error>,
    },
    /// Stored data does not decode, or contradicts the rest of the store (a
    /// damaged database file, a snapshot file of the wrong length or
    /// checksum).
    #[error("raft-redb: corrupt store: {what}")]
    Corrupt {
        /// What was found damaged.
        what: String,
    },
    /// The directory holds a file that is not a raft-redb store: not a redb
    /// database, or a redb database with other tables or another format.
    #[error("raft-redb: {path} is not a raft-redb store: {reason}")]
    NotARaftStore {
        /// The database file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// [`initialize_with_conf_state`](crate::RedbStorage::initialize_with_conf_state)
    /// was called on a store that already has a membership, entries or a
    /// snapshot.
    #[error(
        "raft-redb: store already initialized (conf state {conf_state:?}, last index {last_index})"
    )]
    AlreadyInitialized {
        /// The membership the store has.
        conf_state: Box<raft::eraftpb::ConfState>,
        /// The store's last index.
        last_index: u64,
    },
    /// The operation names an index at or before the compaction point that
    /// is no longer stored.
    #[error("raft-redb: {what}: index {index} is compacted (first index {first_index})")]
    Compacted {
        /// The operation.
        what: &'static str,
        /// The index asked for.
        index: u64,
        /// The store's first index.
        first_index: u64,
    },
    /// The operation names an index past the last stored entry.
    #[error("raft-redb: {what}: index {index} is past the last index {last_index}")]
    Unavailable {
        /// The operation.
        what: &'static str,
        /// The index asked for.
        index: u64,
        /// The store's last index.
        last_index: u64,
    },
    /// A snapshot older than the one the store already has (or than its
    /// compaction point).
    #[error("raft-redb: {what}: snapshot index {index} is older than {current}")]
    SnapshotOutOfDate {
        /// The operation.
        what: &'static str,
        /// The snapshot's index.
        index: u64,
        /// The index it had to reach.
        current: u64,
    },
    /// Appended entries that do not continue the log: a gap after the last
    /// index or indexes that do not follow each other.
    #[error("raft-redb: append: {what}")]
    NotContiguous {
        /// The indexes involved.
        what: String,
    },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn db(what: impl Into<String>, source: impl Into<redb::Error>) -> Error {
        Error::Database {
            what: what.into(),
            source: Box::new(source.into()),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> Error {
        Error::Corrupt { what: what.into() }
    }
}

impl From<Error> for raft::Error {
    fn from(e: Error) -> raft::Error {
        match e {
            Error::Compacted { .. } => raft::Error::Store(StorageError::Compacted),
            Error::Unavailable { .. } => raft::Error::Store(StorageError::Unavailable),
            Error::SnapshotOutOfDate { .. } => raft::Error::Store(StorageError::SnapshotOutOfDate),
            other => raft::Error::Store(StorageError::Other(Box::new(other))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_conditions_keep_their_names_and_the_rest_say_what_failed() {
        let compacted = Error::Compacted {
            what: "term",
            index: 2,
            first_index: 4,
        };
        assert_eq!(
            raft::Error::from(compacted),
            raft::Error::Store(StorageError::Compacted)
        );
        let unavailable = Error::Unavailable {
            what: "term",
            index: 9,
            last_index: 5,
        };
        assert_eq!(
            raft::Error::from(unavailable),
            raft::Error::Store(StorageError::Unavailable)
        );
        let old = Error::SnapshotOutOfDate {
            what: "save snapshot",
            index: 3,
            current: 5,
        };
        assert_eq!(
            raft::Error::from(old),
            raft::Error::Store(StorageError::SnapshotOutOfDate)
        );
        let io = Error::io(
            "sync snapshot file /x/snapshot-1",
            std::io::Error::other("disk on fire"),
        );
        match raft::Error::from(io) {
            raft::Error::Store(StorageError::Other(e)) => {
                let text = e.to_string();
                assert!(text.contains("sync snapshot file /x/snapshot-1"), "{text}");
                assert!(text.contains("disk on fire"), "{text}");
            }
            other => panic!("expected StorageError::Other, got {other:?}"),
        }
    }
}
