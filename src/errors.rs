//! Errors returned by the raft crate.
//!
//! The failure policy: a `Result` for caller misuse and for
//! conditions storage reports; a message from a peer never panics a node; a
//! broken local invariant panics with the relevant numbers.

use std::error;

use thiserror::Error;

/// The error type of raft.
#[derive(Debug, Error)]
pub enum Error {
    /// An IO error occurred.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A storage error occurred.
    #[error("{0}")]
    Store(#[from] StorageError),
    /// Raft cannot step the local message.
    #[error("raft: cannot step raft local message")]
    StepLocalMsg,
    /// The raft peer is not found and thus cannot step.
    #[error("raft: cannot step as peer not found")]
    StepPeerNotFound,
    /// The proposal of changes was dropped.
    #[error("raft: proposal dropped")]
    ProposalDropped,
    /// The configuration is invalid.
    #[error("{0}")]
    ConfigInvalid(String),
    /// A protobuf message codec failed in some manner.
    #[error("protobuf codec error {0:?}")]
    CodecError(#[from] protobuf::Error),
    /// The node exists, but should not.
    #[error("The node {id} already exists in the {set} set.")]
    Exists {
        /// The node id.
        id: u64,
        /// The node set.
        set: &'static str,
    },
    /// The node does not exist, but should.
    #[error("The node {id} is not in the {set} set.")]
    NotExists {
        /// The node id.
        id: u64,
        /// The node set.
        set: &'static str,
    },
    /// A configuration change is not allowed.
    #[error("{0}")]
    ConfChangeError(String),
    /// The request snapshot was dropped.
    #[error("raft: request snapshot dropped")]
    RequestSnapshotDropped,
}

impl PartialEq for Error {
    /// Errors compare by variant (and by payload where the payload is comparable).
    fn eq(&self, other: &Error) -> bool {
        match (self, other) {
            (Error::StepPeerNotFound, Error::StepPeerNotFound) => true,
            (Error::ProposalDropped, Error::ProposalDropped) => true,
            (Error::Store(e1), Error::Store(e2)) => e1 == e2,
            (Error::Io(e1), Error::Io(e2)) => e1.kind() == e2.kind(),
            (Error::StepLocalMsg, Error::StepLocalMsg) => true,
            (Error::ConfigInvalid(e1), Error::ConfigInvalid(e2)) => e1 == e2,
            (Error::RequestSnapshotDropped, Error::RequestSnapshotDropped) => true,
            (Error::ConfChangeError(e1), Error::ConfChangeError(e2)) => e1 == e2,
            (Error::CodecError(e1), Error::CodecError(e2)) => e1.to_string() == e2.to_string(),
            (Error::Exists { id: i1, set: s1 }, Error::Exists { id: i2, set: s2 }) => {
                i1 == i2 && s1 == s2
            }
            (Error::NotExists { id: i1, set: s1 }, Error::NotExists { id: i2, set: s2 }) => {
                i1 == i2 && s1 == s2
            }
            _ => false,
        }
    }
}

/// An error with the storage.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The storage was compacted and not accessible.
    #[error("log compacted")]
    Compacted,
    /// The log is not available.
    #[error("log unavailable")]
    Unavailable,
    /// The log is being fetched asynchronously; the caller is told through
    /// `RawNode::on_entries_fetched` when it is ready.
    #[error("log is temporarily unavailable")]
    LogTemporarilyUnavailable,
    /// The snapshot is out of date.
    #[error("snapshot out of date")]
    SnapshotOutOfDate,
    /// The snapshot is being created; try again later.
    #[error("snapshot is temporarily unavailable")]
    SnapshotTemporarilyUnavailable,
    /// Some other error occurred.
    #[error("unknown error {0}")]
    Other(#[from] Box<dyn error::Error + Sync + Send>),
}

impl PartialEq for StorageError {
    fn eq(&self, other: &StorageError) -> bool {
        matches!(
            (self, other),
            (StorageError::Compacted, StorageError::Compacted)
                | (StorageError::Unavailable, StorageError::Unavailable)
                | (
                    StorageError::LogTemporarilyUnavailable,
                    StorageError::LogTemporarilyUnavailable
                )
                | (
                    StorageError::SnapshotOutOfDate,
                    StorageError::SnapshotOutOfDate
                )
                | (
                    StorageError::SnapshotTemporarilyUnavailable,
                    StorageError::SnapshotTemporarilyUnavailable,
                )
        )
    }
}

/// A result type that wraps up the raft errors.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn errors_compare_by_variant_and_payload() {
        assert_eq!(
            Error::from(io::Error::other("oh no!")),
            Error::from(io::Error::other("oh yes!"))
        );
        assert_ne!(
            Error::from(io::Error::new(io::ErrorKind::NotFound, "error")),
            Error::from(io::Error::other("error"))
        );
        assert_eq!(
            Error::Store(StorageError::Compacted),
            Error::Store(StorageError::Compacted)
        );
        assert_ne!(
            Error::Store(StorageError::Compacted),
            Error::Store(StorageError::Unavailable)
        );
        assert_ne!(Error::StepPeerNotFound, Error::ProposalDropped);
        assert_eq!(
            Error::ConfigInvalid("a".into()),
            Error::ConfigInvalid("a".into())
        );
        assert_ne!(
            Error::ConfigInvalid("a".into()),
            Error::ConfigInvalid("b".into())
        );
        assert_eq!(
            Error::Exists {
                id: 1,
                set: "voters"
            },
            Error::Exists {
                id: 1,
                set: "voters"
            }
        );
        assert_ne!(
            Error::Exists {
                id: 1,
                set: "voters"
            },
            Error::NotExists {
                id: 1,
                set: "voters"
            }
        );
        let other: Box<dyn error::Error + Send + Sync> = "x".into();
        assert_ne!(StorageError::Other(other), StorageError::Compacted);
    }

    #[test]
    fn errors_display_a_useful_message() {
        assert_eq!(
            Error::Exists {
                id: 3,
                set: "learners"
            }
            .to_string(),
            "The node 3 already exists in the learners set."
        );
        assert_eq!(
            Error::Store(StorageError::Compacted).to_string(),
            "log compacted"
        );
        assert_eq!(Error::ProposalDropped.to_string(), "raft: proposal dropped");
    }
}
