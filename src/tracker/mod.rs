//! tracker (in progress)
