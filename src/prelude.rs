//! Everything an application driving a [`RawNode`] usually needs, for a glob
//! import: `use raft::prelude::*;`.

pub use crate::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, EntryType, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};

pub use crate::config::Config;
pub use crate::raw_node::{Peer, RawNode, Ready, SnapshotStatus};
pub use crate::read_only::{ReadOnlyOption, ReadState};
pub use crate::status::Status;
pub use crate::{Progress, Raft, RaftState, Storage};
