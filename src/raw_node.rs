//! raw_node (in progress)
