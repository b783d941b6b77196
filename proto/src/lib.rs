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
//!   [`stringify_conf_change`].

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
