//! Wire types (`eraftpb`) for the `raft` crate, generated from
//! `eraftpb.proto` at build time, plus a compatibility layer with the
//! raft-rs 0.7 spelling of the generated API.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod protos {
    include!(concat!(env!("OUT_DIR"), "/protos/mod.rs"));
}

pub use protos::eraftpb;
