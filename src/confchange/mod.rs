//! confchange (in progress)
