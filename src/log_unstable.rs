//! log_unstable (in progress)
