//! An application's imports: the three crate roots, `raft_proto::prelude`
//! and `raft_proto::util` glob-imported together resolve every name it uses
//! without ambiguity.

use harness::*;
use raft::*;
use raft_proto::prelude::*;
use raft_proto::util::*;
use raft_proto::*;

#[test]
fn roots_and_preludes_glob_import_together() {
    let logger = raft::default_logger();
    let storage = storage::MemStorage::new_with_conf_state(ConfState::from((vec![1], vec![])));
    let config = Config {
        id: 1,
        ..Default::default()
    };
    let mut node = RawNode::new(&config, storage, &logger).unwrap();
    node.campaign().unwrap();
    let ready: Ready = node.ready();
    assert!(ready.hs().is_some());
    // Names from raft_proto's root and util, next to raft's.
    let change: ConfChangeSingle = new_conf_change_single(2, ConfChangeType::AddNode);
    assert_eq!(stringify_conf_change(&[change]), "v2");
    assert!(conf_state_eq(
        &ConfState::from((vec![1], vec![])),
        &ConfState::from((vec![1, 1], vec![]))
    ));
    let message = Message {
        msg_type: MessageType::MsgHeartbeat.into(),
        ..Default::default()
    };
    assert_eq!(message.get_msg_type(), MessageType::MsgHeartbeat);
    // And the harness's.
    let network = Network::new(vec![None, None], &logger);
    assert_eq!(network.peers.len(), 2);
    assert_eq!(NO_LIMIT, u64::MAX);
}
