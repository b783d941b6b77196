//! Durable append throughput of raft-redb (placeholder, filled in below).
fn main() {}
