//! Wire types (`eraftpb`) for the `raft` crate, generated from
//! `eraftpb.proto` at build time, plus a compatibility layer with the
//! raft-rs 0.7 spelling of the generated API.
//!
//! The field numbers in `eraftpb.proto` are the wire contract with existing
//! raft-rs clusters and never change. Decoding bytes from the network with
//! [`protobuf::Message::parse_from_bytes`] never panics: bad bytes give an
//! `Err`.
//!
//! An enum field holding a number this version does not know decodes
//! without error; the pub field (`protobuf::EnumOrUnknown`) keeps the
//! number, while the accessors (`msg_type()`, `get_msg_type()`, ...) read it
//! as the enum's default, number 0 (for `MessageType` that is `MsgHup`).
//! Code that must not mistake an unknown message for its default checks
//! `msg_type.enum_value()` first.
//!
//! Besides the generated accessors, this crate adds:
//! - `get_f()` for every field and `values()` for every enum (the raft-rs 0.7
//!   names);
//! - [`Snapshot::is_empty`](eraftpb::Snapshot::is_empty), `ConfState: From<(voters,
//!   learners)>`, [`conf_state_eq`];
//! - [`ConfChangeI`] over both conf change forms,
//!   [`ConfChangeV2::enter_joint`](eraftpb::ConfChangeV2::enter_joint),
//!   [`ConfChangeV2::leave_joint`](eraftpb::ConfChangeV2::leave_joint),
//!   [`new_conf_change_single`], and the text form [`parse_conf_change`] /
//!   [`stringify_conf_change`];
//! - the raft-rs 0.7 modules [`prelude`] (every message and enum type) and
//!   [`util`].
//!
//! Like raft-rs 0.7's, the root holds modules named `prelude` and `util`, as
//! the `raft` crate's root does: a program that glob-imports both roots
//! (`use raft::*; use raft_proto::*;`) compiles, but must name those modules
//! with their crate (`raft::prelude::Config`), since an unqualified
//! `prelude::` or `util::` would be ambiguous.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod protos {
    include!(concat!(env!("OUT_DIR"), "/protos/mod.rs"));
}

mod accessors;
mod conf_change;
mod conf_state;

pub use conf_change::{
    new_conf_change_single, parse_conf_change, stringify_conf_change, ConfChangeI,
};
pub use conf_state::conf_state_eq;
pub use protos::eraftpb;

/// Every `eraftpb` message and enum type, for a glob import:
/// `use raft_proto::prelude::*;`. `raft::prelude` re-exports the same
/// types, so both preludes can be glob-imported together.
pub mod prelude {
    pub use crate::eraftpb::{
        ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2,
        ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
    };
}

/// Helpers for building wire types, where raft-rs 0.7 kept them.
///
/// In raft-rs 0.7 this module holds the conversion of a `(voters, learners)`
/// pair of id iterators into a non-joint [`ConfState`](eraftpb::ConfState):
/// `ConfState::from((vec![1, 2, 3], vec![4]))`. A trait implementation needs
/// no import, so the conversion works with or without this module; it lives
/// beside the other `ConfState` helpers. [`new_conf_change_single`] is
/// re-exported here too, so `use raft_proto::util::*;` brings the builders
/// into scope.
///
/// ```
/// use raft_proto::prelude::*;
/// use raft_proto::util::*;
///
/// let conf_state = ConfState::from((vec![1, 2], vec![3]));
/// assert_eq!(conf_state.voters, vec![1, 2]);
/// let change = new_conf_change_single(3, ConfChangeType::RemoveNode);
/// assert_eq!(change.node_id, 3);
/// ```
pub mod util {
    pub use crate::conf_change::new_conf_change_single;
}
