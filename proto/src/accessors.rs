//! The raft-rs 0.7 spelling of the generated API.
//!
//! raft-rs 0.7 was built on rust-protobuf 2, whose generated getters were
//! called `get_f()`; rust-protobuf 3 calls them `f()`. Applications written
//! against 0.7 keep compiling because every field also gets a `get_f()` that
//! returns exactly what `f()` returns. Enum fields read through these getters
//! turn an unknown wire number into the enum's default (number 0), as `f()`
//! does; read the pub field (`EnumOrUnknown`) to see the raw number.
//!
//! rust-protobuf 2 enums also had `values()`, listing every variant; here it is
//! an inherent method returning the variants in number order.
//!
//! The `f()`, `set_f`, `mut_f`, `take_f`, `clear_f` and `has_f` accessors,
//! including those of repeated fields, come from the code generator and are
//! not repeated here.

use bytes::Bytes;

use crate::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, EntryType, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};

/// Adds `get_f()` to a message type for each listed field, delegating to the
/// generated `f()` so both spellings always agree.
macro_rules! get_accessors {
    ($message:ty { $($getter:ident => $field:ident : $returns:ty),* $(,)? }) => {
        impl $message {
            $(
                #[doc = concat!(
                    "Returns the `", stringify!($field), "` field, like [`Self::",
                    stringify!($field), "`] (the raft-rs 0.7 name)."
                )]
                #[inline]
                pub fn $getter(&self) -> $returns {
                    self.$field()
                }
            )*
        }
    };
}

get_accessors!(Entry {
    get_entry_type => entry_type: EntryType,
    get_term => term: u64,
    get_index => index: u64,
    get_data => data: &[u8],
    get_sync_log => sync_log: bool,
    get_context => context: &[u8],
});

get_accessors!(SnapshotMetadata {
    get_conf_state => conf_state: &ConfState,
    get_index => index: u64,
    get_term => term: u64,
});

get_accessors!(Snapshot {
    get_data => data: &[u8],
    get_metadata => metadata: &SnapshotMetadata,
});

get_accessors!(Message {
    get_msg_type => msg_type: MessageType,
    get_to => to: u64,
    get_from => from: u64,
    get_term => term: u64,
    get_log_term => log_term: u64,
    get_index => index: u64,
    get_entries => entries: &[Entry],
    get_commit => commit: u64,
    get_snapshot => snapshot: &Snapshot,
    get_reject => reject: bool,
    get_reject_hint => reject_hint: u64,
    get_context => context: &[u8],
    get_request_snapshot => request_snapshot: u64,
    get_deprecated_priority => deprecated_priority: u64,
    get_commit_term => commit_term: u64,
    get_priority => priority: i64,
});

get_accessors!(HardState {
    get_term => term: u64,
    get_vote => vote: u64,
    get_commit => commit: u64,
});

get_accessors!(ConfState {
    get_voters => voters: &[u64],
    get_learners => learners: &[u64],
    get_voters_outgoing => voters_outgoing: &[u64],
    get_learners_next => learners_next: &[u64],
    get_auto_leave => auto_leave: bool,
});

get_accessors!(ConfChange {
    get_id => id: u64,
    get_change_type => change_type: ConfChangeType,
    get_node_id => node_id: u64,
    get_context => context: &[u8],
});

get_accessors!(ConfChangeSingle {
    get_change_type => change_type: ConfChangeType,
    get_node_id => node_id: u64,
});

get_accessors!(ConfChangeV2 {
    get_transition => transition: ConfChangeTransition,
    get_changes => changes: &[ConfChangeSingle],
    get_context => context: &[u8],
});

/// Adds `values()` to an enum, listing its variants from the generator's own
/// table so a variant added to the `.proto` cannot be forgotten here.
macro_rules! enum_values {
    ($($enumeration:ty),* $(,)?) => {
        $(
            impl $enumeration {
                /// Every variant, in wire-number order (the raft-rs 0.7 `values()`).
                #[inline]
                pub fn values() -> &'static [Self] {
                    <Self as protobuf::Enum>::VALUES
                }
            }
        )*
    };
}

enum_values!(EntryType, MessageType, ConfChangeTransition, ConfChangeType);

// Compile-time check that the bytes fields are `bytes::Bytes`, as raft-rs 0.7's
// API has them (the generator's `tokio_bytes` option).
const _: fn(&Entry) -> &Bytes = |entry| &entry.data;

#[cfg(test)]
mod tests {
    use protobuf::{Enum, EnumOrUnknown};

    use super::*;

    #[test]
    fn get_accessors_return_what_the_generated_accessors_return() {
        let mut message = Message::new();
        message.set_msg_type(MessageType::MsgAppend);
        message.set_to(2);
        message.set_from(1);
        message.set_term(7);
        message.set_log_term(6);
        message.set_index(41);
        message.set_commit(40);
        message.set_reject(true);
        message.set_reject_hint(39);
        message.set_context(Bytes::from_static(b"ctx"));
        message.set_request_snapshot(5);
        message.set_deprecated_priority(3);
        message.set_commit_term(6);
        message.set_priority(-4);
        let mut entry = Entry::new();
        entry.set_entry_type(EntryType::EntryConfChangeV2);
        entry.set_term(7);
        entry.set_index(42);
        entry.set_data(Bytes::from_static(b"data"));
        entry.set_sync_log(true);
        entry.set_context(Bytes::from_static(b"entry ctx"));
        message.mut_entries().push(entry.clone());
        message.mut_snapshot().mut_metadata().set_index(9);

        assert_eq!(message.get_msg_type(), MessageType::MsgAppend);
        assert_eq!(message.get_to(), 2);
        assert_eq!(message.get_from(), 1);
        assert_eq!(message.get_term(), 7);
        assert_eq!(message.get_log_term(), 6);
        assert_eq!(message.get_index(), 41);
        assert_eq!(message.get_entries(), &[entry.clone()][..]);
        assert_eq!(message.get_commit(), 40);
        assert_eq!(message.get_snapshot().get_metadata().get_index(), 9);
        assert!(message.get_reject());
        assert_eq!(message.get_reject_hint(), 39);
        assert_eq!(message.get_context(), b"ctx");
        assert_eq!(message.get_request_snapshot(), 5);
        assert_eq!(message.get_deprecated_priority(), 3);
        assert_eq!(message.get_commit_term(), 6);
        assert_eq!(message.get_priority(), -4);

        assert_eq!(entry.get_entry_type(), EntryType::EntryConfChangeV2);
        assert_eq!(entry.get_term(), 7);
        assert_eq!(entry.get_index(), 42);
        assert_eq!(entry.get_data(), b"data");
        assert!(entry.get_sync_log());
        assert_eq!(entry.get_context(), b"entry ctx");
    }

    #[test]
    fn get_accessors_of_conf_types_and_state() {
        let mut conf_state = ConfState::new();
        conf_state.set_voters(vec![1, 2]);
        conf_state.set_learners(vec![3]);
        conf_state.set_voters_outgoing(vec![1]);
        conf_state.set_learners_next(vec![4]);
        conf_state.set_auto_leave(true);
        assert_eq!(conf_state.get_voters(), &[1, 2]);
        assert_eq!(conf_state.get_learners(), &[3]);
        assert_eq!(conf_state.get_voters_outgoing(), &[1]);
        assert_eq!(conf_state.get_learners_next(), &[4]);
        assert!(conf_state.get_auto_leave());

        let mut metadata = SnapshotMetadata::new();
        metadata.set_conf_state(conf_state.clone());
        metadata.set_index(10);
        metadata.set_term(3);
        assert_eq!(metadata.get_conf_state(), &conf_state);
        assert_eq!(metadata.get_index(), 10);
        assert_eq!(metadata.get_term(), 3);
        let mut snapshot = Snapshot::new();
        snapshot.set_data(Bytes::from_static(b"snap"));
        snapshot.set_metadata(metadata.clone());
        assert_eq!(snapshot.get_data(), b"snap");
        assert_eq!(snapshot.get_metadata(), &metadata);

        let hard_state = HardState {
            term: 5,
            vote: 2,
            commit: 4,
            ..Default::default()
        };
        assert_eq!(
            (
                hard_state.get_term(),
                hard_state.get_vote(),
                hard_state.get_commit()
            ),
            (5, 2, 4)
        );

        let mut change = ConfChange::new();
        change.set_id(11);
        change.set_change_type(ConfChangeType::RemoveNode);
        change.set_node_id(3);
        change.set_context(Bytes::from_static(b"v1"));
        assert_eq!(change.get_id(), 11);
        assert_eq!(change.get_change_type(), ConfChangeType::RemoveNode);
        assert_eq!(change.get_node_id(), 3);
        assert_eq!(change.get_context(), b"v1");

        let mut single = ConfChangeSingle::new();
        single.set_change_type(ConfChangeType::AddLearnerNode);
        single.set_node_id(8);
        assert_eq!(single.get_change_type(), ConfChangeType::AddLearnerNode);
        assert_eq!(single.get_node_id(), 8);

        let mut change_v2 = ConfChangeV2::new();
        change_v2.set_transition(ConfChangeTransition::Explicit);
        change_v2.mut_changes().push(single.clone());
        change_v2.set_context(Bytes::from_static(b"v2"));
        assert_eq!(change_v2.get_transition(), ConfChangeTransition::Explicit);
        assert_eq!(change_v2.get_changes(), &[single][..]);
        assert_eq!(change_v2.get_context(), b"v2");
    }

    #[test]
    fn enum_getter_reads_an_unknown_number_as_the_default_variant() {
        let message = Message {
            msg_type: EnumOrUnknown::from_i32(99),
            ..Default::default()
        };
        assert_eq!(message.get_msg_type(), MessageType::MsgHup);
        assert_eq!(message.msg_type.value(), 99);
    }

    /// Checks that `values()` lists `count` variants whose numbers are
    /// exactly `0..count`, in order.
    fn assert_values_are_dense_and_ordered<E: Enum + std::fmt::Debug>(values: &[E], count: i32) {
        let numbers: Vec<i32> = values.iter().map(Enum::value).collect();
        assert_eq!(numbers, (0..count).collect::<Vec<_>>(), "{values:?}");
    }

    #[test]
    fn values_lists_every_variant_in_number_order() {
        assert_eq!(
            EntryType::values(),
            &[
                EntryType::EntryNormal,
                EntryType::EntryConfChange,
                EntryType::EntryConfChangeV2
            ]
        );
        assert_eq!(
            ConfChangeTransition::values(),
            &[
                ConfChangeTransition::Auto,
                ConfChangeTransition::Implicit,
                ConfChangeTransition::Explicit
            ]
        );
        assert_eq!(
            ConfChangeType::values(),
            &[
                ConfChangeType::AddNode,
                ConfChangeType::RemoveNode,
                ConfChangeType::AddLearnerNode
            ]
        );
        assert_eq!(MessageType::values()[0], MessageType::MsgHup);
        assert_eq!(
            MessageType::values()[18],
            MessageType::MsgRequestPreVoteResponse
        );
        assert_values_are_dense_and_ordered(EntryType::values(), 3);
        assert_values_are_dense_and_ordered(MessageType::values(), 19);
        assert_values_are_dense_and_ordered(ConfChangeTransition::values(), 3);
        assert_values_are_dense_and_ordered(ConfChangeType::values(), 3);
        // No number past the listed ones names a variant.
        assert_eq!(MessageType::from_i32(19), None);
        assert_eq!(EntryType::from_i32(3), None);
    }
}
