//! The wire format of `eraftpb`: golden encodings written by hand from the
//! protobuf encoding rules, round trips of every message, and decoding of
//! hostile bytes.
//!
//! Encoding rules used by the golden bytes (proto3):
//! - each field is a record `tag value`, with `tag = field_number << 3 |
//!   wire_type` written as a varint; wire type 0 is a varint, 2 is a
//!   length-delimited value (`length` varint, then that many bytes);
//! - varints hold 7 bits per byte, least significant group first, the high bit
//!   set on every byte but the last (300 = `AC 02`); a negative `int64` is its
//!   two's complement, so it always takes 10 bytes;
//! - fields holding their default value (0, false, empty) are not written;
//! - a repeated scalar (`repeated uint64`, only in `ConfState`) is written
//!   unpacked, one varint record per element, because `eraftpb.proto` marks
//!   it `[packed = false]`: raft-rs 0.7's generator (rust-protobuf 2) writes
//!   it that way regardless of proto3's packed default. Readers accept both
//!   forms;
//! - a repeated message is one length-delimited record per element, even an
//!   element with every field at its default (`length 0`);
//! - fields are written in the order `eraftpb.proto` declares them, which is
//!   raft-rs 0.7's declaration order and not always field-number order
//!   (`Entry.context` before `sync_log`, `Message.commit_term` after
//!   `commit`, `Message.request_snapshot` before `reject`, `ConfChange.id`
//!   last). The `*_fields_in_declaration_order` tests pin each message's
//!   order; the `raft-compare` crate's `wire_bytes` test checks the bytes
//!   against raft-rs 0.7's own encoder.
//!
//! A changed field number, wire type or declaration order changes the bytes
//! and fails a test.

use bytes::Bytes;
use proptest::prelude::*;
use protobuf::{Enum, EnumOrUnknown, Message as _};
use raft_proto::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, EntryType, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};
use raft_proto::new_conf_change_single;

/// Encodes `value`, checks the bytes against `expected` and `compute_size`,
/// and checks that decoding gives `value` back.
fn assert_golden<M: protobuf::Message + PartialEq + std::fmt::Debug>(value: &M, expected: &[u8]) {
    let encoded = value.write_to_bytes().unwrap();
    assert_eq!(encoded, expected, "encoding of {value:?}");
    assert_eq!(value.compute_size(), expected.len() as u64);
    assert_eq!(&M::parse_from_bytes(expected).unwrap(), value);
}

fn full_entry() -> Entry {
    Entry {
        entry_type: EntryType::EntryConfChange.into(),
        term: 300,
        index: 3,
        data: Bytes::from_static(b"ab"),
        sync_log: true,
        context: Bytes::from_static(b"c"),
        ..Default::default()
    }
}

#[test]
fn entry_golden_bytes() {
    #[rustfmt::skip]
    let expected = [
        0x08, 0x01,             // 1 entry_type, varint: EntryConfChange = 1
        0x10, 0xAC, 0x02,       // 2 term, varint: 300 = 0b10_0101100 -> AC 02
        0x18, 0x03,             // 3 index, varint: 3
        0x22, 0x02, b'a', b'b', // 4 data, length-delimited: 2 bytes "ab"
        0x32, 0x01, b'c',       // 6 context, length-delimited: 1 byte "c"
        0x28, 0x01,             // 5 sync_log, varint: true (declared after context)
    ];
    assert_golden(&full_entry(), &expected);
}

#[test]
fn default_entry_encodes_to_nothing() {
    assert_golden(&Entry::default(), &[]);
}

#[test]
fn hard_state_golden_bytes() {
    let hard_state = HardState {
        term: 5,
        vote: 3,
        commit: 150,
        ..Default::default()
    };
    #[rustfmt::skip]
    let expected = [
        0x08, 0x05,       // 1 term, varint: 5
        0x10, 0x03,       // 2 vote, varint: 3
        0x18, 0x96, 0x01, // 3 commit, varint: 150 = 0b1_0010110 -> 96 01
    ];
    assert_golden(&hard_state, &expected);
}

fn full_conf_state() -> ConfState {
    ConfState {
        voters: vec![1, 2, 3],
        learners: vec![4],
        voters_outgoing: vec![1, 200],
        learners_next: vec![6],
        auto_leave: true,
        ..Default::default()
    }
}

#[test]
fn conf_state_golden_bytes_are_unpacked() {
    #[rustfmt::skip]
    let expected = [
        0x08, 0x01, 0x08, 0x02, 0x08, 0x03, // 1 voters, one varint record each: 1, 2, 3
        0x10, 0x04,                         // 2 learners: 4
        0x18, 0x01, 0x18, 0xC8, 0x01,       // 3 voters_outgoing: 1, then 200 = C8 01
        0x20, 0x06,                         // 4 learners_next: 6
        0x28, 0x01,                         // 5 auto_leave, varint: true
    ];
    assert_golden(&full_conf_state(), &expected);
}

#[test]
fn conf_state_decodes_packed_repeated_fields() {
    // Readers accept a repeated scalar packed too (what a proto3 writer that
    // follows the packed default sends, this crate before 0.8 included), and
    // both forms mixed in one field.
    #[rustfmt::skip]
    let packed = [
        0x0A, 0x02, 0x01, 0x02,       // 1 voters, packed: 2 bytes of varints 1 2
        0x08, 0x03,                   // 1 voters, varint record: 3
        0x12, 0x01, 0x04,             // 2 learners, packed: 1 byte, 4
        0x1A, 0x03, 0x01, 0xC8, 0x01, // 3 voters_outgoing, packed: 3 bytes, 1 then 200
        0x22, 0x01, 0x06,             // 4 learners_next, packed: 1 byte, 6
        0x28, 0x01,                   // 5 auto_leave: true
    ];
    assert_eq!(
        ConfState::parse_from_bytes(&packed).unwrap(),
        full_conf_state()
    );
}

#[test]
fn conf_change_golden_bytes() {
    let change = ConfChange {
        id: 1,
        change_type: ConfChangeType::AddLearnerNode.into(),
        node_id: 4,
        context: Bytes::from_static(b"x"),
        ..Default::default()
    };
    #[rustfmt::skip]
    let expected = [
        0x10, 0x02,       // 2 change_type, varint: AddLearnerNode = 2
        0x18, 0x04,       // 3 node_id, varint: 4
        0x22, 0x01, b'x', // 4 context, length-delimited: "x"
        0x08, 0x01,       // 1 id, varint: 1 (declared last)
    ];
    assert_golden(&change, &expected);
}

#[test]
fn conf_change_v2_golden_bytes() {
    let change = ConfChangeV2 {
        transition: ConfChangeTransition::Explicit.into(),
        changes: vec![
            new_conf_change_single(7, ConfChangeType::AddLearnerNode),
            new_conf_change_single(3, ConfChangeType::RemoveNode),
            new_conf_change_single(0, ConfChangeType::AddNode),
        ],
        context: Bytes::from_static(b"x"),
        ..Default::default()
    };
    #[rustfmt::skip]
    let expected = [
        0x08, 0x02,             // 1 transition, varint: Explicit = 2
        0x12, 0x04,             // 2 changes[0], length-delimited: 4 bytes of ConfChangeSingle
        0x08, 0x02,             //   1 change_type: AddLearnerNode = 2
        0x10, 0x07,             //   2 node_id: 7
        0x12, 0x04,             // 2 changes[1], 4 bytes
        0x08, 0x01,             //   1 change_type: RemoveNode = 1
        0x10, 0x03,             //   2 node_id: 3
        0x12, 0x00,             // 2 changes[2]: AddNode = 0 and node 0 are defaults, 0 bytes
        0x1A, 0x01, b'x',       // 3 context, length-delimited: "x"
    ];
    assert_golden(&change, &expected);
}

fn full_message() -> Message {
    let snapshot = Snapshot {
        data: Bytes::from_static(b"s"),
        metadata: Some(SnapshotMetadata {
            conf_state: Some(ConfState::from((vec![1], vec![]))).into(),
            index: 8,
            term: 4,
            ..Default::default()
        })
        .into(),
        ..Default::default()
    };
    let first = Entry {
        term: 5,
        index: 11,
        data: Bytes::from_static(b"x"),
        ..Default::default()
    };
    Message {
        msg_type: MessageType::MsgAppend.into(),
        to: 2,
        from: 1,
        term: 5,
        log_term: 4,
        index: 10,
        entries: vec![first, Entry::default()],
        commit: 9,
        snapshot: Some(snapshot).into(),
        reject: true,
        reject_hint: 7,
        context: Bytes::from_static(b"c"),
        request_snapshot: 6,
        deprecated_priority: 3,
        commit_term: 4,
        priority: -2,
        ..Default::default()
    }
}

#[rustfmt::skip]
const FULL_MESSAGE_BYTES: &[u8] = &[
    0x08, 0x03,             // 1 msg_type, varint: MsgAppend = 3
    0x10, 0x02,             // 2 to: 2
    0x18, 0x01,             // 3 from: 1
    0x20, 0x05,             // 4 term: 5
    0x28, 0x04,             // 5 log_term: 4
    0x30, 0x0A,             // 6 index: 10
    0x3A, 0x07,             // 7 entries[0], length-delimited: 7 bytes of Entry
    0x10, 0x05,             //   2 term: 5
    0x18, 0x0B,             //   3 index: 11
    0x22, 0x01, b'x',       //   4 data: "x"
    0x3A, 0x00,             // 7 entries[1]: the default Entry, 0 bytes but present
    0x40, 0x09,             // 8 commit: 9
    0x78, 0x04,             // 15 commit_term: 4 (declared right after commit)
    0x4A, 0x0D,             // 9 snapshot, length-delimited: 13 bytes of Snapshot
    0x0A, 0x01, b's',       //   1 data: "s"
    0x12, 0x08,             //   2 metadata: 8 bytes of SnapshotMetadata
    0x0A, 0x02,             //     1 conf_state: 2 bytes of ConfState
    0x08, 0x01,             //       1 voters, one varint record: 1
    0x10, 0x08,             //     2 index: 8
    0x18, 0x04,             //     3 term: 4
    0x68, 0x06,             // 13 request_snapshot: 6 (declared before reject)
    0x50, 0x01,             // 10 reject: true (tag 10 << 3 | 0 = 0x50)
    0x58, 0x07,             // 11 reject_hint: 7
    0x62, 0x01, b'c',       // 12 context, length-delimited: "c"
    0x70, 0x03,             // 14 deprecated_priority: 3
    0x80, 0x01,             // 16 priority: tag 16 << 3 = 128 needs two varint bytes
    0xFE, 0xFF, 0xFF, 0xFF, 0xFF, // -2 as int64: two's complement 0xFFFF_FFFF_FFFF_FFFE,
    0xFF, 0xFF, 0xFF, 0xFF, 0x01, //   a 10-byte varint
];

#[test]
fn message_with_entries_and_snapshot_golden_bytes() {
    assert_golden(&full_message(), FULL_MESSAGE_BYTES);
}

/// The field numbers of the top-level records of `bytes`, in the order they
/// were written. Understands the two wire types eraftpb uses: varint (0) and
/// length-delimited (2).
fn emitted_field_order(bytes: &[u8]) -> Vec<u64> {
    fn varint(bytes: &[u8], at: &mut usize) -> u64 {
        let mut value = 0;
        for shift in (0..64).step_by(7) {
            let byte = bytes[*at];
            *at += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        value
    }
    let mut order = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let tag = varint(bytes, &mut at);
        match tag & 7 {
            0 => {
                varint(bytes, &mut at);
            }
            2 => at += varint(bytes, &mut at) as usize,
            wire_type => panic!("wire type {wire_type} in {bytes:02X?}"),
        }
        order.push(tag >> 3);
    }
    order
}

/// Encodes `value`, which must set every field once, and checks its fields
/// come out in `declared` order.
fn assert_field_order<M: protobuf::MessageFull>(value: &M, declared: &[u64]) {
    let bytes = value.write_to_bytes().unwrap();
    assert_eq!(
        M::descriptor().fields().count(),
        declared.len(),
        "every field of {} must be in the order",
        M::descriptor().name()
    );
    assert_eq!(
        emitted_field_order(&bytes),
        declared,
        "field order of {}",
        M::descriptor().name()
    );
}

#[test]
fn entry_fields_in_declaration_order() {
    // context (6, tag 0x32) is written before sync_log (5, tag 0x28).
    assert_field_order(&full_entry(), &[1, 2, 3, 4, 6, 5]);
    let bytes = full_entry().write_to_bytes().unwrap();
    let context_at = bytes.iter().position(|&byte| byte == 0x32).unwrap();
    let sync_log_at = bytes.iter().position(|&byte| byte == 0x28).unwrap();
    assert!(context_at < sync_log_at, "{bytes:02X?}");
}

#[test]
fn message_fields_in_declaration_order() {
    let mut message = full_message();
    message.entries.truncate(1);
    assert_field_order(
        &message,
        &[1, 2, 3, 4, 5, 6, 7, 8, 15, 9, 13, 10, 11, 12, 14, 16],
    );
}

#[test]
fn conf_change_fields_in_declaration_order() {
    let change = ConfChange {
        id: 9,
        change_type: ConfChangeType::RemoveNode.into(),
        node_id: 2,
        context: Bytes::from_static(b"c"),
        ..Default::default()
    };
    assert_field_order(&change, &[2, 3, 4, 1]);
}

#[test]
fn other_messages_fields_in_declaration_order() {
    // These declare their fields in field-number order, as raft-rs 0.7 does.
    let metadata = SnapshotMetadata {
        conf_state: Some(ConfState::from((vec![1], vec![]))).into(),
        index: 2,
        term: 1,
        ..Default::default()
    };
    assert_field_order(&metadata, &[1, 2, 3]);
    let snapshot = Snapshot {
        data: Bytes::from_static(b"d"),
        metadata: Some(metadata).into(),
        ..Default::default()
    };
    assert_field_order(&snapshot, &[1, 2]);
    let hard_state = HardState {
        term: 1,
        vote: 2,
        commit: 3,
        ..Default::default()
    };
    assert_field_order(&hard_state, &[1, 2, 3]);
    let conf_state = ConfState {
        voters: vec![1],
        learners: vec![2],
        voters_outgoing: vec![3],
        learners_next: vec![4],
        auto_leave: true,
        ..Default::default()
    };
    assert_field_order(&conf_state, &[1, 2, 3, 4, 5]);
    let single = new_conf_change_single(3, ConfChangeType::RemoveNode);
    assert_field_order(&single, &[1, 2]);
    let change_v2 = ConfChangeV2 {
        transition: ConfChangeTransition::Explicit.into(),
        changes: vec![single],
        context: Bytes::from_static(b"c"),
        ..Default::default()
    };
    assert_field_order(&change_v2, &[1, 2, 3]);
}

#[test]
fn enum_numbers_match_the_wire_contract() {
    let entry_types = [
        (EntryType::EntryNormal, 0),
        (EntryType::EntryConfChange, 1),
        (EntryType::EntryConfChangeV2, 2),
    ];
    for (variant, number) in entry_types {
        assert_eq!(variant.value(), number, "{variant:?}");
    }
    use MessageType::*;
    let message_types = [
        (MsgHup, 0),
        (MsgBeat, 1),
        (MsgPropose, 2),
        (MsgAppend, 3),
        (MsgAppendResponse, 4),
        (MsgRequestVote, 5),
        (MsgRequestVoteResponse, 6),
        (MsgSnapshot, 7),
        (MsgHeartbeat, 8),
        (MsgHeartbeatResponse, 9),
        (MsgUnreachable, 10),
        (MsgSnapStatus, 11),
        (MsgCheckQuorum, 12),
        (MsgTransferLeader, 13),
        (MsgTimeoutNow, 14),
        (MsgReadIndex, 15),
        (MsgReadIndexResp, 16),
        (MsgRequestPreVote, 17),
        (MsgRequestPreVoteResponse, 18),
    ];
    for (variant, number) in message_types {
        assert_eq!(variant.value(), number, "{variant:?}");
    }
    assert_eq!(MessageType::values().len(), message_types.len());
    let transitions = [
        (ConfChangeTransition::Auto, 0),
        (ConfChangeTransition::Implicit, 1),
        (ConfChangeTransition::Explicit, 2),
    ];
    for (variant, number) in transitions {
        assert_eq!(variant.value(), number, "{variant:?}");
    }
    let change_types = [
        (ConfChangeType::AddNode, 0),
        (ConfChangeType::RemoveNode, 1),
        (ConfChangeType::AddLearnerNode, 2),
    ];
    for (variant, number) in change_types {
        assert_eq!(variant.value(), number, "{variant:?}");
    }
}

/// Encodes and decodes `value`, which must have every field set, and checks
/// nothing is lost and no field was left at its default.
fn assert_round_trip<M: protobuf::MessageFull + PartialEq + std::fmt::Debug>(value: M) {
    let bytes = value.write_to_bytes().unwrap();
    assert_eq!(M::parse_from_bytes(&bytes).unwrap(), value);
    let descriptor = M::descriptor();
    for field in descriptor.fields() {
        let set = match field.runtime_field_type() {
            protobuf::reflect::RuntimeFieldType::Singular(_) => field.has_field(&value),
            _ => !field.get_repeated(&value).is_empty(),
        };
        assert!(set, "{} is at its default in {value:?}", field.full_name());
    }
}

#[test]
fn every_message_type_round_trips_with_all_fields_set() {
    assert_round_trip(full_entry());
    assert_round_trip(full_conf_state());
    assert_round_trip(HardState {
        term: u64::MAX,
        vote: 2,
        commit: 1,
        ..Default::default()
    });
    let metadata = SnapshotMetadata {
        conf_state: Some(full_conf_state()).into(),
        index: 12,
        term: 3,
        ..Default::default()
    };
    assert_round_trip(metadata.clone());
    assert_round_trip(Snapshot {
        data: Bytes::from(vec![0u8; 300]),
        metadata: Some(metadata).into(),
        ..Default::default()
    });
    assert_round_trip(full_message());
    assert_round_trip(ConfChange {
        id: 4,
        change_type: ConfChangeType::RemoveNode.into(),
        node_id: 5,
        context: Bytes::from_static(b"ctx"),
        ..Default::default()
    });
    assert_round_trip(new_conf_change_single(2, ConfChangeType::AddLearnerNode));
    assert_round_trip(ConfChangeV2 {
        transition: ConfChangeTransition::Implicit.into(),
        changes: vec![new_conf_change_single(1, ConfChangeType::RemoveNode)],
        context: Bytes::from_static(b"ctx"),
        ..Default::default()
    });
}

#[test]
fn unknown_message_type_decodes_and_reads_as_msg_hup() {
    // 1 msg_type, varint 99: a number no MessageType has.
    let message = Message::parse_from_bytes(&[0x08, 0x63, 0x10, 0x02]).unwrap();
    assert_eq!(message.msg_type.value(), 99);
    assert_eq!(message.msg_type.enum_value(), Err(99));
    // The accessors read the default instead; a receiver that must not treat
    // the message as MsgHup checks `msg_type.enum_value()` first.
    assert_eq!(message.msg_type(), MessageType::MsgHup);
    assert_eq!(message.get_msg_type(), MessageType::MsgHup);
    assert_eq!(message.to, 2);
    // The number survives a re-encode.
    assert_eq!(message.write_to_bytes().unwrap(), [0x08, 0x63, 0x10, 0x02]);
}

#[test]
fn negative_enum_number_decodes_as_unknown() {
    // 1 entry_type, varint -1 (10 bytes of two's complement).
    let bytes = [
        0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
    ];
    let entry = Entry::parse_from_bytes(&bytes).unwrap();
    assert_eq!(entry.entry_type, EnumOrUnknown::from_i32(-1));
    assert_eq!(entry.entry_type(), EntryType::EntryNormal);
}

#[test]
fn unknown_fields_from_a_newer_peer_are_skipped() {
    let mut bytes = vec![0x08, 0x03]; // 1 msg_type: MsgAppend
    bytes.extend_from_slice(&[0xA0, 0x06, 0x05]); // 100 (tag 800 = A0 06), varint: 5
    bytes.extend_from_slice(&[0xA2, 0x06, 0x02, 0xFF, 0xFF]); // 100, length-delimited: 2 bytes
    bytes.extend_from_slice(&[0x10, 0x02]); // 2 to: 2
    let message = Message::parse_from_bytes(&bytes).unwrap();
    assert_eq!(message.msg_type(), MessageType::MsgAppend);
    assert_eq!(message.to, 2);
}

#[test]
fn deeply_nested_groups_give_an_error_not_a_stack_overflow() {
    // Field 100 with wire type 3 (start group), 100 000 times: skipping an
    // unknown group recurses, which the runtime bounds (protobuf >= 3.7.2).
    let bytes: Vec<u8> = [0xA3, 0x06].repeat(100_000);
    assert!(Message::parse_from_bytes(&bytes).is_err());
    assert!(Entry::parse_from_bytes(&bytes).is_err());
}

#[test]
fn truncated_encodings_give_errors() {
    // Every strict prefix that ends inside a record is an error; prefixes that
    // end on a record boundary are valid shorter messages. Neither panics.
    let mut errors = 0;
    for len in 0..FULL_MESSAGE_BYTES.len() {
        if Message::parse_from_bytes(&FULL_MESSAGE_BYTES[..len]).is_err() {
            errors += 1;
        }
    }
    assert!(
        errors > FULL_MESSAGE_BYTES.len() / 2,
        "only {errors} prefixes failed"
    );
    // Cut inside the 10-byte priority varint.
    let cut = &FULL_MESSAGE_BYTES[..FULL_MESSAGE_BYTES.len() - 1];
    assert!(Message::parse_from_bytes(cut).is_err());
}

/// Decodes `bytes` as each top-level type raft receives or stores. Returns
/// whether the message decode succeeded; a panic fails the test.
fn decode_all(bytes: &[u8]) -> bool {
    let _ = Entry::parse_from_bytes(bytes);
    let _ = ConfChangeV2::parse_from_bytes(bytes);
    let _ = ConfChange::parse_from_bytes(bytes);
    let _ = Snapshot::parse_from_bytes(bytes);
    let _ = ConfState::parse_from_bytes(bytes);
    match Message::parse_from_bytes(bytes) {
        Ok(message) => {
            // Reading every accessor of whatever decoded must not panic either.
            let _ = (message.msg_type(), message.get_snapshot().is_empty());
            for entry in message.get_entries() {
                let _ = entry.get_entry_type();
            }
            // What decoded encodes again.
            message.write_to_bytes().is_ok()
        }
        Err(_) => false,
    }
}

/// One edit of a valid encoding.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Remove { at: usize },
    Truncate { at: usize },
}

fn apply(mutations: &[Mutation], original: &[u8]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for mutation in mutations {
        let len = bytes.len().max(1);
        match *mutation {
            Mutation::Flip { at, byte } if !bytes.is_empty() => bytes[at % len] = byte,
            Mutation::Insert { at, byte } => bytes.insert(at % (bytes.len() + 1), byte),
            Mutation::Remove { at } if !bytes.is_empty() => {
                bytes.remove(at % len);
            }
            Mutation::Truncate { at } => bytes.truncate(at % (bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

fn any_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        1 => any::<usize>().prop_map(|at| Mutation::Remove { at }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_all(&bytes);
    }

    #[test]
    fn decoding_mutated_encodings_never_panics(
        mutations in prop::collection::vec(any_mutation(), 1..6),
    ) {
        decode_all(&apply(&mutations, FULL_MESSAGE_BYTES));
        let conf_change = ConfChangeV2 {
            transition: ConfChangeTransition::Implicit.into(),
            changes: vec![new_conf_change_single(3, ConfChangeType::AddNode); 3],
            ..Default::default()
        };
        decode_all(&apply(&mutations, &conf_change.write_to_bytes().unwrap()));
    }

    #[test]
    fn messages_round_trip(
        msg_type in 0i32..19,
        ids in any::<(u64, u64, u64, u64)>(),
        priority in any::<i64>(),
        entries in prop::collection::vec((any::<u64>(), prop::collection::vec(any::<u8>(), 0..8)), 0..4),
        voters in prop::collection::vec(any::<u64>(), 0..4),
    ) {
        let mut message = Message {
            msg_type: EnumOrUnknown::from_i32(msg_type),
            to: ids.0,
            from: ids.1,
            term: ids.2,
            index: ids.3,
            priority,
            entries: entries
                .into_iter()
                .map(|(index, data)| Entry { index, data: data.into(), ..Default::default() })
                .collect(),
            ..Default::default()
        };
        message.mut_snapshot().mut_metadata().mut_conf_state().voters = voters;
        let bytes = message.write_to_bytes().unwrap();
        prop_assert_eq!(Message::parse_from_bytes(&bytes).unwrap(), message);
    }
}

#[test]
fn conf_change_single_default_is_add_node_zero() {
    // Not a field-number check: pins that an all-default change decodes from
    // nothing, which the golden ConfChangeV2 relies on.
    assert_eq!(
        ConfChangeSingle::parse_from_bytes(&[]).unwrap(),
        new_conf_change_single(0, ConfChangeType::AddNode)
    );
}
