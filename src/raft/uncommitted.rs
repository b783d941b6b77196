//! The leader's account of uncommitted proposal bytes, which bounds memory
//! when followers cannot keep up (`Config::max_uncommitted_size`).
//!
//! Each entry this leader appends is recorded with its index and payload
//! size and forgotten when the commit index passes it, so the account cannot
//! leak (cockroachdb/cockroach#31689, etcd-io/raft#11): it never depends on the application handing entries
//! back, and a new leader starts from zero, ignoring entries of earlier terms.

use std::collections::VecDeque;

use crate::eraftpb::Entry;
use crate::storage::Storage;
use crate::util::{payload_size, NO_LIMIT};

use super::Raft;

#[derive(Debug)]
pub(crate) struct UncommittedState {
    max_uncommitted_size: u64,
    /// Entries at or below this index were appended before this leadership.
    last_log_tail_index: u64,
    /// The account, created by the first entry it records: only a leader
    /// with a limit ever has one, so followers do not carry its fields
    /// inline (an idle replica's memory matters with many groups).
    account: Option<Box<UncommittedAccount>>,
}

#[derive(Debug, Default)]
struct UncommittedAccount {
    /// The sum of the sizes in `entries`.
    uncommitted_size: usize,
    /// (index, payload size) of entries appended by this leader and not yet
    /// committed, oldest first. Empty entries are not recorded.
    entries: VecDeque<(u64, usize)>,
}

impl UncommittedState {
    pub(crate) fn new(max_uncommitted_size: u64) -> Self {
        UncommittedState {
            max_uncommitted_size,
            last_log_tail_index: 0,
            account: None,
        }
    }

    pub(crate) fn reset(&mut self, last_log_tail_index: u64) {
        self.account = None;
        self.last_log_tail_index = last_log_tail_index;
    }

    fn is_no_limit(&self) -> bool {
        self.max_uncommitted_size == NO_LIMIT
    }

    /// The payload bytes recorded and not yet committed.
    fn uncommitted_size(&self) -> usize {
        self.account
            .as_ref()
            .map_or(0, |account| account.uncommitted_size)
    }

    /// Whether entries of `size` bytes fit. An empty entry always fits, and
    /// so does anything when nothing is uncommitted, so a single large
    /// proposal is not refused forever.
    fn fits(&self, size: usize) -> bool {
        let uncommitted_size = self.uncommitted_size();
        size == 0
            || uncommitted_size == 0
            || (size + uncommitted_size) as u64 <= self.max_uncommitted_size
    }

    pub(crate) fn track(&mut self, ents: &[Entry]) {
        if self.is_no_limit() {
            return;
        }
        for e in ents {
            let size = payload_size(e);
            if size > 0 && e.index > self.last_log_tail_index {
                let account = self.account.get_or_insert_with(Default::default);
                account.uncommitted_size += size;
                account.entries.push_back((e.index, size));
            }
        }
    }

    pub(crate) fn on_commit(&mut self, committed: u64) {
        let Some(account) = self.account.as_mut() else {
            return;
        };
        while let Some(&(index, size)) = account.entries.front() {
            if index > committed {
                break;
            }
            account.uncommitted_size -= size;
            account.entries.pop_front();
        }
    }
}

impl<T: Storage> Raft<T> {
    /// The payload bytes of this leader's uncommitted proposals.
    pub fn uncommitted_size(&self) -> usize {
        self.uncommitted_state.uncommitted_size()
    }

    /// Checks whether `ents` fit under `max_uncommitted_size`. Their bytes
    /// are counted when they are appended.
    pub fn maybe_increase_uncommitted_size(&mut self, ents: &[Entry]) -> bool {
        if self.uncommitted_state.is_no_limit() {
            return true;
        }
        let size: usize = ents.iter().map(payload_size).sum();
        if !self.uncommitted_state.fits(size) {
            slog::debug!(
                self.logger,
                "appending new entries would exceed the uncommitted entry size limit; dropping proposal";
                "size" => size,
                "uncommitted" => self.uncommitted_state.uncommitted_size(),
                "max" => self.uncommitted_state.max_uncommitted_size,
            );
            return false;
        }
        true
    }

    /// Forgets committed entries up to the last of `ents`. The commit path
    /// already does this, so calling it again is harmless; it is kept for
    /// drivers written against raft-rs 0.7.
    pub fn reduce_uncommitted_size(&mut self, ents: &[Entry]) {
        if let Some(last) = ents.last() {
            let upto = std::cmp::min(last.index, self.raft_log.committed);
            self.uncommitted_state.on_commit(upto);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, size: usize) -> Entry {
        Entry {
            index,
            data: vec![0u8; size].into(),
            ..Default::default()
        }
    }

    #[test]
    fn commit_releases_exactly_what_was_tracked() {
        let mut s = UncommittedState::new(100);
        s.reset(3);
        // Index 3 predates this leadership: not counted.
        s.track(&[entry(3, 50), entry(4, 10), entry(5, 0), entry(6, 20)]);
        assert_eq!(s.uncommitted_size(), 30);
        s.on_commit(4);
        assert_eq!(s.uncommitted_size(), 20);
        s.on_commit(4);
        assert_eq!(s.uncommitted_size(), 20);
        s.on_commit(10);
        assert_eq!(s.uncommitted_size(), 0);
        assert!(s.account.as_ref().unwrap().entries.is_empty());
    }

    #[test]
    fn limit_admits_empty_entries_and_a_first_large_one() {
        let mut s = UncommittedState::new(100);
        s.reset(0);
        assert!(s.fits(500));
        s.track(&[entry(1, 90)]);
        assert!(s.fits(10));
        assert!(!s.fits(11));
        assert!(s.fits(0));
    }

    #[test]
    fn no_limit_tracks_nothing() {
        let mut s = UncommittedState::new(NO_LIMIT);
        s.track(&[entry(1, 90)]);
        assert_eq!(s.uncommitted_size(), 0);
        assert!(s.account.is_none(), "no account without a limit");
    }

    #[test]
    fn reset_forgets_the_account() {
        let mut s = UncommittedState::new(100);
        s.reset(0);
        assert!(
            s.account.is_none(),
            "an account is created by its first entry"
        );
        s.track(&[entry(1, 90)]);
        assert_eq!(s.uncommitted_size(), 90);
        s.reset(1);
        assert!(s.account.is_none());
        assert_eq!(s.uncommitted_size(), 0);
        assert!(s.fits(100));
    }
}
