//! The replication state of a follower, as seen by the leader.

use std::fmt;

/// How the leader sends entries to a follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressState {
    /// The leader does not know where the follower's log ends. It sends at
    /// most one append per heartbeat interval and moves `next_idx` back on
    /// each rejection until the logs match (§5.3).
    #[default]
    Probe,
    /// The follower's log is known to match up to `matched`. The leader
    /// streams appends optimistically, bounded by the inflight window.
    Replicate,
    /// The follower needs entries the leader has compacted, so the leader
    /// sent a snapshot (§7) and sends nothing else until it is applied or
    /// reported failed.
    Snapshot,
}

impl fmt::Display for ProgressState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ProgressState::Probe => "StateProbe",
            ProgressState::Replicate => "StateReplicate",
            ProgressState::Snapshot => "StateSnapshot",
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_display_with_their_etcd_names() {
        assert_eq!(ProgressState::Probe.to_string(), "StateProbe");
        assert_eq!(ProgressState::Replicate.to_string(), "StateReplicate");
        assert_eq!(ProgressState::Snapshot.to_string(), "StateSnapshot");
        assert_eq!(ProgressState::default(), ProgressState::Probe);
    }
}
