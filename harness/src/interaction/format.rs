//! Compact one-line text forms of the raft types a scenario prints:
//! messages, entries, hard and soft state, snapshots, progress.

use std::fmt::Write as _;

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeTransition, ConfChangeV2, ConfState, Entry, EntryType, HardState,
    Message, MessageType, Snapshot, SnapshotMetadata,
};
use raft::{Progress, ProgressState, ReadState, SoftState, StateRole};
use raft_proto::stringify_conf_change;

/// The short name of a message type (etcd's spelling, `MsgApp` for
/// `MsgAppend`), as scenarios print and filter them.
pub fn message_type_name(t: MessageType) -> &'static str {
    match t {
        MessageType::MsgHup => "MsgHup",
        MessageType::MsgBeat => "MsgBeat",
        MessageType::MsgPropose => "MsgProp",
        MessageType::MsgAppend => "MsgApp",
        MessageType::MsgAppendResponse => "MsgAppResp",
        MessageType::MsgRequestVote => "MsgVote",
        MessageType::MsgRequestVoteResponse => "MsgVoteResp",
        MessageType::MsgSnapshot => "MsgSnap",
        MessageType::MsgHeartbeat => "MsgHeartbeat",
        MessageType::MsgHeartbeatResponse => "MsgHeartbeatResp",
        MessageType::MsgUnreachable => "MsgUnreachable",
        MessageType::MsgSnapStatus => "MsgSnapStatus",
        MessageType::MsgCheckQuorum => "MsgCheckQuorum",
        MessageType::MsgTransferLeader => "MsgTransferLeader",
        MessageType::MsgTimeoutNow => "MsgTimeoutNow",
        MessageType::MsgReadIndex => "MsgReadIndex",
        MessageType::MsgReadIndexResp => "MsgReadIndexResp",
        MessageType::MsgRequestPreVote => "MsgPreVote",
        MessageType::MsgRequestPreVoteResponse => "MsgPreVoteResp",
    }
}

/// Parses a message type by its short name (`MsgApp`) or its full name
/// (`MsgAppend`).
pub fn parse_message_type(name: &str) -> Option<MessageType> {
    MessageType::values()
        .iter()
        .copied()
        .find(|&t| message_type_name(t) == name || format!("{t:?}") == name)
}

/// Quotes bytes as a string literal, escaping what is not printable ASCII.
fn quote(bytes: &[u8]) -> String {
    let mut text = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => text.push_str("\\\""),
            b'\\' => text.push_str("\\\\"),
            0x20..=0x7e => text.push(b as char),
            _ => {
                let _ = write!(text, "\\x{b:02x}");
            }
        }
    }
    text.push('"');
    text
}

/// The text form of a conf change entry's payload, such as `v2 l3` or
/// `v2 transition=explicit`; `leave-joint` for an empty V2 change.
fn conf_change_text(entry: &Entry) -> String {
    match entry.entry_type() {
        EntryType::EntryConfChange => match ConfChange::parse_from_bytes(&entry.data) {
            Ok(cc) => {
                let single = raft_proto::new_conf_change_single(cc.node_id, cc.change_type());
                stringify_conf_change(&[single])
            }
            Err(e) => format!("<undecodable ConfChange: {e}>"),
        },
        _ => match ConfChangeV2::parse_from_bytes(&entry.data) {
            Ok(cc) if cc.changes.is_empty() => "leave-joint".to_owned(),
            Ok(cc) => {
                let mut text = stringify_conf_change(&cc.changes);
                match cc.transition() {
                    ConfChangeTransition::Auto => {}
                    ConfChangeTransition::Implicit => text.push_str(" transition=implicit"),
                    ConfChangeTransition::Explicit => text.push_str(" transition=explicit"),
                }
                text
            }
            Err(e) => format!("<undecodable ConfChangeV2: {e}>"),
        },
    }
}

/// An entry as `term/index type payload`, such as `1/11 EntryNormal "foo"`.
pub fn entry(e: &Entry) -> String {
    match e.entry_type() {
        EntryType::EntryNormal => format!("{}/{} EntryNormal {}", e.term, e.index, quote(&e.data)),
        t => format!("{}/{} {t:?} {}", e.term, e.index, conf_change_text(e)),
    }
}

/// Entries as `[e1, e2]`.
pub fn entries(es: &[Entry]) -> String {
    let parts: Vec<String> = es.iter().map(entry).collect();
    format!("[{}]", parts.join(", "))
}

fn ids(ids: &[u64]) -> String {
    let parts: Vec<String> = ids.iter().map(u64::to_string).collect();
    format!("({})", parts.join(" "))
}

/// A conf state in etcd's form: `voters=(1 2)&&(1) learners=(3)
/// learners_next=(4) autoleave`.
pub fn conf_state(cs: &ConfState) -> String {
    let mut text = format!("voters={}", ids(&cs.voters));
    if !cs.voters_outgoing.is_empty() {
        let _ = write!(text, "&&{}", ids(&cs.voters_outgoing));
    }
    if !cs.learners.is_empty() {
        let _ = write!(text, " learners={}", ids(&cs.learners));
    }
    if !cs.learners_next.is_empty() {
        let _ = write!(text, " learners_next={}", ids(&cs.learners_next));
    }
    if cs.auto_leave {
        text.push_str(" autoleave");
    }
    text
}

/// Snapshot metadata as `Index:10 Term:1 ConfState:voters=(1 2 3)`.
pub fn snapshot_metadata(meta: &SnapshotMetadata) -> String {
    let cs = meta.conf_state.as_ref().cloned().unwrap_or_default();
    format!(
        "Index:{} Term:{} ConfState:{}",
        meta.index,
        meta.term,
        conf_state(&cs)
    )
}

/// A snapshot by its metadata (the harness's snapshots carry no data).
pub fn snapshot(s: &Snapshot) -> String {
    snapshot_metadata(s.metadata.get_or_default())
}

/// A message on one line, such as `1->2 MsgApp Term:1 Log:1/10 Commit:10
/// Entries:[1/11 EntryNormal "foo"]`. Fields that are zero or empty are left
/// out.
pub fn message(m: &Message) -> String {
    let name = match m.msg_type.enum_value() {
        Ok(t) => message_type_name(t).to_owned(),
        Err(number) => format!("MsgUnknown({number})"),
    };
    let mut text = format!("{}->{} {name} Term:{}", m.from, m.to, m.term);
    if m.log_term != 0 || m.index != 0 {
        let _ = write!(text, " Log:{}/{}", m.log_term, m.index);
    }
    if m.reject {
        let _ = write!(text, " Rejected (Hint: {})", m.reject_hint);
    }
    if m.commit != 0 {
        let _ = write!(text, " Commit:{}", m.commit);
    }
    if m.commit_term != 0 {
        let _ = write!(text, " CommitTerm:{}", m.commit_term);
    }
    if m.request_snapshot != 0 {
        let _ = write!(text, " RequestSnapshot:{}", m.request_snapshot);
    }
    if m.priority != 0 {
        let _ = write!(text, " Priority:{}", m.priority);
    }
    if !m.context.is_empty() {
        let _ = write!(text, " Context:{}", quote(&m.context));
    }
    if !m.entries.is_empty() {
        let _ = write!(text, " Entries:{}", entries(&m.entries));
    }
    if let Some(s) = m.snapshot.as_ref() {
        if !s.is_empty() {
            let _ = write!(text, " Snapshot: {}", snapshot(s));
        }
    }
    text
}

/// A hard state as `HardState Term:1 Vote:1 Commit:3`.
pub fn hard_state(hs: &HardState) -> String {
    format!(
        "HardState Term:{} Vote:{} Commit:{}",
        hs.term, hs.vote, hs.commit
    )
}

/// A soft state as `Lead:1 State:StateLeader`.
pub fn soft_state(ss: &SoftState) -> String {
    format!("Lead:{} State:{}", ss.leader_id, role(ss.raft_state))
}

/// A role as etcd names it (`StateLeader`).
pub fn role(role: StateRole) -> String {
    format!("State{role:?}")
}

/// A read state as `Index:10 Ctx:"a"`.
pub fn read_state(rs: &ReadState) -> String {
    format!("Index:{} Ctx:{}", rs.index, quote(&rs.request_ctx))
}

/// A follower's progress as the leader tracks it, such as `StateReplicate
/// match=11 next=12 inflight=1`.
pub fn progress(pr: &Progress) -> String {
    let state = match pr.state {
        ProgressState::Probe => "StateProbe",
        ProgressState::Replicate => "StateReplicate",
        ProgressState::Snapshot => "StateSnapshot",
    };
    let mut text = format!("{state} match={} next={}", pr.matched, pr.next_idx);
    if pr.state == ProgressState::Snapshot {
        let _ = write!(text, " pending_snapshot={}", pr.pending_snapshot);
    }
    if pr.pending_request_snapshot != 0 {
        let _ = write!(
            text,
            " pending_request_snapshot={}",
            pr.pending_request_snapshot
        );
    }
    if pr.paused {
        text.push_str(" paused");
    }
    if pr.ins.count() > 0 {
        let _ = write!(text, " inflight={}", pr.ins.count());
        if pr.ins.bytes() > 0 {
            let _ = write!(text, " inflight_bytes={}", pr.ins.bytes());
        }
        if pr.ins.full() {
            text.push_str("[full]");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_print_only_what_they_carry() {
        let m = Message {
            msg_type: MessageType::MsgAppend.into(),
            from: 1,
            to: 2,
            term: 1,
            log_term: 1,
            index: 10,
            commit: 10,
            entries: vec![Entry {
                term: 1,
                index: 11,
                data: b"foo".to_vec().into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            message(&m),
            "1->2 MsgApp Term:1 Log:1/10 Commit:10 Entries:[1/11 EntryNormal \"foo\"]"
        );
        let m = Message {
            msg_type: MessageType::MsgAppendResponse.into(),
            from: 2,
            to: 1,
            term: 3,
            index: 4,
            reject: true,
            reject_hint: 2,
            ..Default::default()
        };
        assert_eq!(
            message(&m),
            "2->1 MsgAppResp Term:3 Log:0/4 Rejected (Hint: 2)"
        );
    }

    #[test]
    fn conf_change_entries_print_their_changes() {
        let cc = ConfChangeV2 {
            changes: raft_proto::parse_conf_change("v2 l3").unwrap(),
            transition: ConfChangeTransition::Explicit.into(),
            ..Default::default()
        };
        let e = Entry {
            entry_type: EntryType::EntryConfChangeV2.into(),
            term: 2,
            index: 5,
            data: cc.write_to_bytes().unwrap().into(),
            ..Default::default()
        };
        assert_eq!(entry(&e), "2/5 EntryConfChangeV2 v2 l3 transition=explicit");
        assert_eq!(quote(b"a\"\x01"), "\"a\\\"\\x01\"");
    }

    #[test]
    fn message_types_parse_by_short_and_full_name() {
        assert_eq!(parse_message_type("MsgApp"), Some(MessageType::MsgAppend));
        assert_eq!(
            parse_message_type("MsgRequestPreVote"),
            Some(MessageType::MsgRequestPreVote)
        );
        assert_eq!(parse_message_type("MsgNope"), None);
    }
}
