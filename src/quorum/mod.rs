//! quorum (in progress)
