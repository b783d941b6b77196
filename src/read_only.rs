//! Read-only requests (thesis §6.4).

/// How the leader confirms it may answer a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadOnlyOption {
    /// Confirm leadership with a heartbeat round to a quorum (thesis §6.4).
    #[default]
    Safe,
    /// Trust the leader lease (thesis §6.4.1). Requires `check_quorum`, and
    /// is only safe while clock drift is bounded.
    LeaseBased,
}

/// A read that the application may serve once its state machine has applied
/// `index`.
#[derive(Default, Debug, PartialEq, Eq, Clone)]
pub struct ReadState {
    /// The commit index at the time the read was confirmed.
    pub index: u64,
    /// The context the read was requested with.
    pub request_ctx: Vec<u8>,
}
