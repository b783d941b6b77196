//! raft_log (in progress)
