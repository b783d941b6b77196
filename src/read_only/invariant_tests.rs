//! Each invariant of [`ReadOnly::check_invariants`] fails on a queue built
//! to break it.

use bytes::Bytes;
use slog::{o, Logger};

use super::{ReadOnly, ReadOnlyOption};
use crate::eraftpb::{Entry, Message, MessageType};

fn logger() -> Logger {
    Logger::root(slog::Discard, o!("raft_id" => 2))
}

fn read(ctx: &'static [u8]) -> Message {
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgReadIndex);
    m.entries = vec![Entry {
        data: Bytes::from_static(ctx),
        ..Default::default()
    }];
    m
}

/// Two reads registered at commit indexes 3 and 4.
fn two_reads() -> ReadOnly {
    let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
    assert!(ro.add_request(3, read(b"a"), 1));
    assert!(ro.add_request(4, read(b"b"), 1));
    ro.check_invariants(4, &logger());
    ro
}

#[test]
fn reads_confirmed_in_order_keep_the_queue_consistent() {
    let mut ro = two_reads();
    let (ctx, _, index) = ro.pop_confirmed(&logger());
    assert_eq!((ctx, index), (b"a".to_vec(), 3));
    ro.check_invariants(4, &logger());
    ro.pop_confirmed(&logger());
    ro.check_invariants(4, &logger());
    assert_eq!(ro.pending_read_count(), 0);
}

#[test]
#[should_panic(
    expected = "read queue of 2 does not match 1 pending reads (next token 3), raft_id: 2"
)]
fn a_queued_read_missing_from_the_map_fails() {
    let mut ro = two_reads();
    ro.pending_read_index.remove(&b"b"[..]);
    ro.check_invariants(4, &logger());
}

#[test]
#[should_panic(expected = "read [97] is queued but not pending")]
fn a_queue_naming_other_reads_than_the_map_fails() {
    let mut ro = two_reads();
    let status = ro.pending_read_index.remove(&b"a"[..]).unwrap();
    ro.pending_read_index.insert(b"z".to_vec(), status);
    ro.check_invariants(4, &logger());
}

#[test]
#[should_panic(expected = "registered at 4 past the commit index 3")]
fn a_read_registered_past_the_commit_index_fails() {
    two_reads().check_invariants(3, &logger());
}
