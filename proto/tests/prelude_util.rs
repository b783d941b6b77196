//! `raft_proto::prelude` and `raft_proto::util`, the raft-rs 0.7 modules, as
//! an application imports them: both globs together.

use protobuf::Message as _;
use raft_proto::prelude::*;
use raft_proto::util::*;

#[test]
fn prelude_names_every_message_and_enum_type() {
    let entry = Entry {
        entry_type: EntryType::EntryConfChangeV2.into(),
        ..Default::default()
    };
    let message = Message {
        msg_type: MessageType::MsgAppend.into(),
        entries: vec![entry],
        snapshot: Some(Snapshot {
            metadata: Some(SnapshotMetadata {
                conf_state: Some(ConfState::default()).into(),
                index: 3,
                ..Default::default()
            })
            .into(),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    };
    let hard_state = HardState {
        term: 2,
        ..Default::default()
    };
    let change = ConfChange {
        change_type: ConfChangeType::AddLearnerNode.into(),
        ..Default::default()
    };
    let change_v2 = ConfChangeV2 {
        transition: ConfChangeTransition::Explicit.into(),
        changes: vec![ConfChangeSingle::default()],
        ..Default::default()
    };
    assert_eq!(
        message.entries[0].entry_type(),
        EntryType::EntryConfChangeV2
    );
    assert_eq!(message.get_snapshot().get_metadata().index, 3);
    assert_eq!(hard_state.term, 2);
    assert_eq!(change.change_type(), ConfChangeType::AddLearnerNode);
    assert_eq!(change_v2.transition(), ConfChangeTransition::Explicit);
}

#[test]
fn util_builds_conf_states_and_single_changes() {
    let conf_state: ConfState = (vec![1, 2, 3], vec![4]).into();
    assert_eq!(conf_state.voters, vec![1, 2, 3]);
    assert_eq!(conf_state.learners, vec![4]);
    let single = new_conf_change_single(4, ConfChangeType::RemoveNode);
    assert_eq!(single.node_id, 4);
    assert_eq!(single.change_type(), ConfChangeType::RemoveNode);
    // What `util` builds is the wire type the prelude names.
    let bytes = single.write_to_bytes().unwrap();
    assert_eq!(ConfChangeSingle::parse_from_bytes(&bytes).unwrap(), single);
}

#[test]
fn util_helper_is_the_root_helper() {
    // The same function under two paths, so glob-importing the root and
    // `util` together is not ambiguous.
    let from_util: fn(u64, ConfChangeType) -> ConfChangeSingle = new_conf_change_single;
    let from_root: fn(u64, ConfChangeType) -> ConfChangeSingle = raft_proto::new_conf_change_single;
    assert_eq!(
        from_util(7, ConfChangeType::AddNode),
        from_root(7, ConfChangeType::AddNode)
    );
}
