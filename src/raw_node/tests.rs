use slog::Discard;

use protobuf::Message as _;

use super::*;
use crate::storage::MemStorage;

fn logger() -> Logger {
    Logger::root(Discard, slog::o!())
}

fn config(id: u64) -> Config {
    Config {
        election_tick: 10,
        heartbeat_tick: 1,
        rng_seed: Some(id),
        ..Config::new(id)
    }
}

fn new_node(id: u64, voters: &[u64]) -> RawNode<MemStorage> {
    let store = MemStorage::new_with_conf_state((voters.to_vec(), Vec::<u64>::new()));
    RawNode::new(&config(id), store, &logger()).unwrap()
}

/// Persists what `rd` asks for into the node's MemStorage.
fn persist(node: &RawNode<MemStorage>, rd: &Ready) {
    let store = node.store().clone();
    let mut core = store.wl();
    if !rd.snapshot().is_empty() {
        core.apply_snapshot(rd.snapshot().clone()).unwrap();
    }
    core.append(rd.entries()).unwrap();
    if let Some(hs) = rd.hs() {
        core.set_hardstate(hs.clone());
    }
}

/// Handles one Ready synchronously; returns (messages to send, applied
/// entries).
fn handle_ready(node: &mut RawNode<MemStorage>) -> (Vec<Message>, Vec<Entry>) {
    let mut rd = node.ready();
    persist(node, &rd);
    let mut msgs = rd.take_messages();
    msgs.extend(rd.take_persisted_messages());
    let mut applied = rd.take_committed_entries();
    let mut light = node.advance(rd);
    if let Some(commit) = light.commit_index() {
        node.store().wl().mut_hard_state().commit = commit;
    }
    msgs.extend(light.take_messages());
    applied.extend(light.take_committed_entries());
    node.advance_apply();
    (msgs, applied)
}

/// A single-voter node that has elected itself and applied its empty
/// entry.
fn single_leader() -> RawNode<MemStorage> {
    let mut node = new_node(1, &[1]);
    node.campaign().unwrap();
    while node.has_ready() {
        handle_ready(&mut node);
    }
    assert_eq!(node.raft.state, StateRole::Leader);
    node
}

fn msg(t: MessageType, from: u64, to: u64, term: u64) -> Message {
    Message {
        msg_type: t.into(),
        from,
        to,
        term,
        ..Default::default()
    }
}

#[test]
fn step_rejects_local_message_types() {
    let mut node = new_node(1, &[1, 2, 3]);
    for t in [
        MessageType::MsgHup,
        MessageType::MsgBeat,
        MessageType::MsgUnreachable,
        MessageType::MsgSnapStatus,
        MessageType::MsgCheckQuorum,
    ] {
        assert_eq!(
            node.step(msg(t, 2, 1, 0)),
            Err(Error::StepLocalMsg),
            "{t:?}"
        );
    }
    assert!(!node.has_ready(), "a rejected message changed nothing");
}

#[test]
fn step_rejects_responses_from_untracked_peers() {
    let mut node = new_node(1, &[1, 2, 3]);
    for t in [
        MessageType::MsgAppendResponse,
        MessageType::MsgRequestVoteResponse,
        MessageType::MsgHeartbeatResponse,
        MessageType::MsgRequestPreVoteResponse,
    ] {
        assert_eq!(
            node.step(msg(t, 9, 1, 0)),
            Err(Error::StepPeerNotFound),
            "{t:?}"
        );
        assert_eq!(
            node.step(msg(t, 2, 1, 0)),
            Ok(()),
            "{t:?} from a tracked peer"
        );
    }
    // A request from an unknown node is not a response: it is stepped.
    assert_eq!(node.step(msg(MessageType::MsgHeartbeat, 9, 1, 1)), Ok(()));
}

#[test]
fn step_ignores_unknown_message_types() {
    let mut node = new_node(1, &[1, 2, 3]);
    let mut m = msg(MessageType::MsgAppend, 2, 1, 5);
    m.msg_type = protobuf::EnumOrUnknown::from_i32(77);
    assert_eq!(node.step(m), Ok(()));
    assert_eq!(node.raft.term, 0, "the unknown message was not stepped");
}

#[test]
fn is_local_msg_matches_exactly_the_local_types() {
    let local: Vec<_> = MessageType::values()
        .iter()
        .copied()
        .filter(|t| is_local_msg(*t))
        .collect();
    assert_eq!(
        local,
        vec![
            MessageType::MsgHup,
            MessageType::MsgBeat,
            MessageType::MsgUnreachable,
            MessageType::MsgSnapStatus,
            MessageType::MsgCheckQuorum,
        ]
    );
}

#[test]
fn ready_reports_soft_and_hard_state_only_when_changed() {
    let mut node = new_node(1, &[1]);
    assert!(
        !node.has_ready(),
        "a fresh follower has nothing to hand out"
    );
    node.campaign().unwrap();
    let rd = node.ready();
    assert_eq!(
        rd.ss(),
        Some(&SoftState {
            leader_id: 1,
            raft_state: StateRole::Leader
        })
    );
    let hs = rd.hs().expect("term and vote changed").clone();
    assert_eq!((hs.term, hs.vote), (1, 1));
    persist(&node, &rd);
    let light = node.advance(rd);
    assert_eq!(light.commit_index(), Some(1), "the empty entry commits");
    node.advance_apply();
    node.store().wl().mut_hard_state().commit = 1;
    // Nothing changed since: no ss, no hs.
    let rd = node.ready();
    assert_eq!(rd.ss(), None);
    assert_eq!(rd.hs(), None);
    node.advance(rd);
    assert!(!node.has_ready());
}

#[test]
fn ready_numbers_increase_by_one() {
    let mut node = new_node(1, &[1]);
    node.campaign().unwrap();
    let mut last = 0;
    for i in 0..5 {
        node.propose(vec![], vec![i]).unwrap();
        let rd = node.ready();
        assert_eq!(rd.number(), last + 1);
        last = rd.number();
        persist(&node, &rd);
        node.advance(rd);
    }
}

#[test]
fn must_sync_for_term_vote_entries_but_not_commit_alone() {
    let mut node = new_node(1, &[1, 2, 3]);
    // A newer leader appends one entry: term changed and entries present.
    let mut app = msg(MessageType::MsgAppend, 2, 1, 2);
    app.entries = vec![Entry {
        index: 1,
        term: 2,
        ..Default::default()
    }];
    node.step(app).unwrap();
    let rd = node.ready();
    assert!(rd.must_sync());
    assert_eq!(rd.entries().len(), 1);
    persist(&node, &rd);
    node.advance(rd);

    // A heartbeat moves only the commit index: no sync needed.
    let mut hb = msg(MessageType::MsgHeartbeat, 2, 1, 2);
    hb.commit = 1;
    node.step(hb).unwrap();
    let rd = node.ready();
    assert_eq!(rd.hs().map(|hs| hs.commit), Some(1));
    assert!(rd.entries().is_empty());
    assert!(!rd.must_sync(), "a commit-only change need not be synced");
    persist(&node, &rd);
    node.advance(rd);

    // A vote for a candidate of a newer term changes term and vote.
    let mut vote = msg(MessageType::MsgRequestVote, 3, 1, 3);
    vote.index = 1;
    vote.log_term = 2;
    node.step(vote).unwrap();
    let rd = node.ready();
    assert_eq!(rd.hs().map(|hs| (hs.term, hs.vote)), Some((3, 3)));
    assert!(rd.must_sync(), "a vote must be durable before it is sent");
    assert!(rd.messages().is_empty());
    assert_eq!(rd.persisted_messages().len(), 1);
}

#[test]
fn candidate_messages_wait_for_persistence_and_leader_messages_do_not() {
    let mut node = new_node(1, &[1, 2, 3]);
    node.campaign().unwrap();
    let rd = node.ready();
    assert!(rd.messages().is_empty());
    let votes: Vec<_> = rd
        .persisted_messages()
        .iter()
        .map(|m| (m.msg_type.enum_value().unwrap(), m.to))
        .collect();
    assert_eq!(
        votes,
        vec![
            (MessageType::MsgRequestVote, 2),
            (MessageType::MsgRequestVote, 3)
        ]
    );
    persist(&node, &rd);
    node.advance(rd);

    node.step(msg(MessageType::MsgRequestVoteResponse, 2, 1, 1))
        .unwrap();
    assert_eq!(node.raft.state, StateRole::Leader);
    let rd = node.ready();
    assert!(rd.persisted_messages().is_empty());
    assert!(!rd.messages().is_empty());
    assert!(rd
        .messages()
        .iter()
        .all(|m| m.msg_type.enum_value() == Ok(MessageType::MsgAppend)));
}

#[test]
fn committed_entries_are_paged_and_each_handed_out_once() {
    let mut node = single_leader();
    node.raft.max_committed_size_per_ready = 64;
    let first = node.raft.raft_log.last_index() + 1;
    for i in 0..50u8 {
        node.propose(vec![], vec![i; 16]).unwrap();
    }
    let mut applied = Vec::new();
    let mut rounds = 0;
    while node.has_ready() {
        let (_, entries) = handle_ready(&mut node);
        assert!(entries.len() < 50, "paging limits a batch");
        applied.extend(entries);
        rounds += 1;
        assert!(rounds < 200, "paging does not terminate");
    }
    let indexes: Vec<u64> = applied.iter().map(|e| e.index).collect();
    let expected: Vec<u64> = (first..first + 50).collect();
    assert_eq!(indexes, expected);
    for (i, e) in applied.iter().enumerate() {
        assert_eq!(e.data.as_ref(), &[i as u8; 16][..]);
    }
    assert!(rounds > 2, "the size limit forced several pages");
}

#[test]
fn restart_with_applied_hands_out_only_later_entries() {
    let mut node = single_leader();
    for i in 0..10u8 {
        node.propose(vec![], vec![i]).unwrap();
    }
    while node.has_ready() {
        handle_ready(&mut node);
    }
    let last = node.raft.raft_log.last_index();
    assert_eq!(node.raft.raft_log.committed, last);
    let store = node.store().clone();
    drop(node);

    let applied = last - 4;
    let cfg = Config {
        applied,
        ..config(1)
    };
    let mut node = RawNode::new(&cfg, store, &logger()).unwrap();
    node.campaign().unwrap();
    let mut handed_out = Vec::new();
    while node.has_ready() {
        let (_, entries) = handle_ready(&mut node);
        handed_out.extend(entries.into_iter().map(|e| e.index));
    }
    let new_last = node.raft.raft_log.last_index();
    let expected: Vec<u64> = (applied + 1..=new_last).collect();
    assert_eq!(handed_out, expected, "nothing at or below applied again");
}

#[test]
fn async_persistence_commits_only_after_on_persist_ready() {
    let mut node = single_leader();
    let store = node.store().clone();
    let committed = node.raft.raft_log.committed;
    node.propose(vec![], b"a".to_vec()).unwrap();
    let rd1 = node.ready();
    store.wl().append(rd1.entries()).unwrap();
    let n1 = rd1.number();
    node.advance_append_async(rd1);
    node.propose(vec![], b"b".to_vec()).unwrap();
    let rd2 = node.ready();
    assert_eq!(rd2.entries().len(), 1, "entries of rd1 not repeated");
    store.wl().append(rd2.entries()).unwrap();
    let n2 = rd2.number();
    node.advance_append_async(rd2);
    assert_eq!(
        node.raft.raft_log.committed, committed,
        "nothing durable yet"
    );

    node.on_persist_ready(n1);
    assert_eq!(node.raft.raft_log.committed, committed + 1);
    node.on_persist_ready(n2);
    assert_eq!(node.raft.raft_log.committed, committed + 2);
    let mut rd = node.ready();
    assert_eq!(rd.hs().map(|hs| hs.commit), Some(committed + 2));
    let data: Vec<_> = rd
        .take_committed_entries()
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert_eq!(data, vec![Bytes::from("a"), Bytes::from("b")]);
    node.advance_append_async(rd);
    node.advance_apply();
    assert_eq!(node.status().applied, committed + 2);
    assert!(!node.has_ready());
}

#[test]
fn status_shows_progress_only_on_a_leader() {
    let node = new_node(1, &[1, 2, 3]);
    let status = node.status();
    assert_eq!(status.id, 1);
    assert!(status.progress.is_none());
    let node = single_leader();
    let status = node.status();
    assert_eq!(status.ss.raft_state, StateRole::Leader);
    assert_eq!(status.applied, node.raft.raft_log.committed);
    assert!(status.progress.unwrap().get(1).is_some());
}

#[test]
fn propose_conf_change_encodes_v1_and_v2_entries() {
    use crate::eraftpb::{ConfChange, ConfChangeType, ConfChangeV2};
    let mut node = single_leader();
    let cc = ConfChange {
        change_type: ConfChangeType::AddNode.into(),
        node_id: 2,
        ..Default::default()
    };
    node.propose_conf_change(b"ctx".to_vec(), cc.clone())
        .unwrap();
    let (_, entries) = handle_ready(&mut node);
    let entry = entries.last().unwrap();
    assert_eq!(
        entry.entry_type.enum_value(),
        Ok(EntryType::EntryConfChange)
    );
    assert_eq!(entry.context.as_ref(), b"ctx");
    let decoded = ConfChange::parse_from_bytes(&entry.data).unwrap();
    assert_eq!(decoded, cc);
    let cs = node.apply_conf_change(&decoded).unwrap();
    assert_eq!(cs.voters, vec![1, 2]);

    let cc2 = ConfChangeV2 {
        changes: vec![crate::eraftpb::ConfChangeSingle {
            change_type: ConfChangeType::AddLearnerNode.into(),
            node_id: 3,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut node = single_leader();
    node.propose_conf_change(vec![], cc2.clone()).unwrap();
    let (_, entries) = handle_ready(&mut node);
    let entry = entries.last().unwrap();
    assert_eq!(
        entry.entry_type.enum_value(),
        Ok(EntryType::EntryConfChangeV2)
    );
    assert_eq!(ConfChangeV2::parse_from_bytes(&entry.data).unwrap(), cc2);
    let cs = node.apply_conf_change(&cc2).unwrap();
    assert_eq!((cs.voters, cs.learners), (vec![1], vec![3]));
}

#[test]
#[expect(deprecated, reason = "the deprecated helper is still part of the API")]
fn is_empty_snap_checks_the_index() {
    let mut s = Snapshot::default();
    assert!(is_empty_snap(&s));
    s.mut_metadata().index = 3;
    assert!(!is_empty_snap(&s));
}
