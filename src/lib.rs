//! An embeddable, I/O-free Raft consensus core.
//!
//! (The guide and the driver contract are written in this module's docs.)

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// Panics for a broken local invariant, appending the logger's key-values
/// (such as `raft_id`) to the message.
macro_rules! fatal {
    ($logger:expr, $msg:expr) => {{
        let kv = $crate::util::format_kv_list(&($logger).list());
        if kv.is_empty() {
            panic!("{}", $msg)
        } else {
            panic!("{}, {}", $msg, kv)
        }
    }};
    ($logger:expr, $fmt:expr, $($arg:tt)+) => {{
        fatal!($logger, format!($fmt, $($arg)+))
    }};
}
pub(crate) use fatal;

#[cfg(feature = "default-logger")]
mod logger;

mod confchange;
mod config;
mod errors;
mod log_unstable;
mod quorum;
mod raft;
mod raft_log;
mod read_only;
mod status;
mod tracker;

pub mod prelude;
pub mod raw_node;
pub mod storage;
pub mod util;

pub use raft_proto::eraftpb;

#[cfg(feature = "default-logger")]
pub use logger::default_logger;

pub use self::confchange::{Changer, MapChange, MapChangeType};
pub use self::config::Config;
pub use self::errors::{Error, Result, StorageError};
pub use self::log_unstable::Unstable;
pub use self::quorum::{
    joint::Configuration as JointConfig, majority::Configuration as MajorityConfig, VoteResult,
};
pub use self::raft::{
    vote_resp_msg_type, Raft, SoftState, StateRole, CAMPAIGN_ELECTION, CAMPAIGN_PRE_ELECTION,
    CAMPAIGN_TRANSFER,
};
pub use self::raft_log::RaftLog;
pub use self::read_only::{ReadOnlyOption, ReadState};
pub use self::storage::{GetEntriesContext, RaftState, Storage};
pub use self::tracker::{Inflights, Progress, ProgressState, ProgressTracker};
pub use self::util::{majority, NO_LIMIT};

/// The id that names no node.
pub const INVALID_ID: u64 = 0;
/// The index that names no entry.
pub const INVALID_INDEX: u64 = 0;

type HashMap<K, V> = fxhash::FxHashMap<K, V>;
type HashSet<K> = fxhash::FxHashSet<K>;
