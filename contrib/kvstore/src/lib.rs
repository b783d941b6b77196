//! `raft-kvstore`: a replicated key-value server, one process per node,
//! built on the `raft` crate's [`RawNode`](raft::RawNode) and the durable
//! `raft-redb` storage.
//!
//! - [`args`]: the command line.
//! - [`transport`]: length-delimited eraftpb messages over tokio TCP.
//! - [`node`]: the raft loop (the crate's driver contract).
//! - [`state_machine`]: the map, its log and snapshot encodings.
//! - [`http`]: the HTTP API.
//! - [`client`]: a minimal HTTP/1.1 client for the load generator and tests.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod args;
pub mod client;
pub mod http;
pub mod node;
pub mod state_machine;
pub mod transport;
