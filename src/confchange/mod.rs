//! Membership changes: computing the configuration that results from a
//! list of changes (one at a time, or through a joint configuration, thesis
//! §4.3), and rebuilding a tracker from a `ConfState`.

mod changer;
mod restore;

pub use self::changer::Changer;
pub(crate) use self::restore::restore;

/// How the set of tracked peers changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapChangeType {
    /// A peer joins: it gets a fresh progress.
    Add,
    /// A peer leaves: its progress is dropped.
    Remove,
}

/// The progress changes that go with a new configuration, to apply in
/// order with [`ProgressTracker::apply_conf`](crate::ProgressTracker::apply_conf).
/// A peer removed and added again in one change appears twice (remove, then
/// add), so it starts over with a fresh progress.
pub type MapChange = Vec<(u64, MapChangeType)>;
