//! Apply pacing: committed entries are paged through `RawNode::ready` by
//! `max_committed_size_per_ready` (etcd's committed-entries paging bug), and a leader may hand out
//! committed entries it has not yet persisted, up to
//! `max_apply_unpersisted_log_limit`.

mod test_util;

use protobuf::Message as PbMessage;
use raft::eraftpb::*;
use raft::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use test_util::*;

// etcd's committed-entries paging bug: paging committed entries across many entries,
// with proposals interleaved with Ready handling at random (seeded), hands
// out every entry exactly once, in order, each page non-empty and within the
// size limit unless it is a single entry.
#[test]
fn pagination_across_many_entries_applies_every_entry_exactly_once() {
    for seed in 0..8u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let limit = rng.gen_range(0..400u64);
        let storage = new_storage(vec![1]);
        let mut node = TestRaft::builder(1)
            .configure(|c| c.max_committed_size_per_ready = limit)
            .storage(storage.clone())
            .raw_node();
        node.campaign().unwrap();

        let mut proposed = vec![];
        let mut pages = vec![];
        let total = 300;
        while proposed.len() < total || node.has_ready() {
            if proposed.len() < total && rng.gen_bool(0.6) {
                for _ in 0..rng.gen_range(1..8) {
                    let len = rng.gen_range(0..120);
                    let data = format!("{}:{}", proposed.len(), "x".repeat(len));
                    node.propose(vec![], data.clone().into_bytes()).unwrap();
                    proposed.push(data);
                }
            }
            if let Some(handled) = handle_ready(&mut node, &storage) {
                pages.extend(handled.committed);
            }
        }

        let applied = check_pages(&pages, limit, &format!("seed {seed}"));
        // The leader's empty entry, then every proposal in order.
        assert_eq!(applied.first().map(|e| e.index), Some(1), "seed {seed}");
        let datas: Vec<String> = applied
            .iter()
            .filter(|e| !e.data.is_empty())
            .map(|e| String::from_utf8(e.data.to_vec()).unwrap())
            .collect();
        assert_eq!(datas, proposed, "seed {seed}");
        assert_eq!(node.raft.raft_log.applied, applied.last().unwrap().index);
        assert!(pages.len() > 1, "seed {seed}: nothing was paged");
    }
}

/// A follower given a long committed run pages it out; with a zero limit,
/// one entry per page.
#[test]
fn follower_pages_a_long_committed_run() {
    for (limit, want_pages) in [(0u64, Some(100)), (200, None), (NO_LIMIT, Some(1))] {
        let storage = new_storage(vec![1, 2]);
        let mut node = TestRaft::builder(2)
            .configure(|c| c.max_committed_size_per_ready = limit)
            .storage(storage.clone())
            .raw_node();
        let mut app = new_message(1, 2, MessageType::MsgAppend, 0);
        app.term = 1;
        app.commit = 100;
        app.entries = (1..=100)
            .map(|i| new_entry(1, i, Some(&format!("entry {i}"))))
            .collect();
        node.step(app).unwrap();

        let pages = handle_readies(&mut node, &storage).committed;
        let applied = check_pages(&pages, limit, &format!("limit {limit}"));
        assert_eq!(applied.len(), 100, "limit {limit}");
        assert_eq!(applied.last().unwrap().index, 100);
        if let Some(want) = want_pages {
            assert_eq!(pages.len(), want, "limit {limit}");
        } else {
            assert!(
                pages.len() > 1 && pages.len() < 100,
                "limit {limit}: {}",
                pages.len()
            );
        }
    }
}

/// With `max_apply_unpersisted_log_limit`, a leader hands out entries a
/// quorum of followers holds before its own write is durable, but never more
/// than the limit past what it has persisted.
#[test]
fn leader_applies_unpersisted_entries_up_to_the_limit() {
    for limit in [0u64, 3, 100] {
        let storage = new_storage(vec![1, 2, 3]);
        let mut node = TestRaft::builder(1)
            .configure(|c| c.max_apply_unpersisted_log_limit = limit)
            .storage(storage.clone())
            .raw_node();
        node.raft.become_candidate();
        node.raft.become_leader();
        // Persist the empty entry and commit it through node 2.
        handle_ready(&mut node, &storage).expect("the new leader's Ready");
        node.step(ack(2, 1)).unwrap();
        handle_readies(&mut node, &storage);
        assert_eq!(node.raft.raft_log.committed, 1);
        assert_eq!(node.raft.raft_log.persisted, 1);

        for i in 0..5 {
            node.propose(vec![], format!("p{i}").into_bytes()).unwrap();
        }
        // The write of entries 2..=6 starts but is not durable yet; they are
        // visible in the storage already (the driver contract).
        let mut rd = node.ready();
        let ents = rd.take_entries();
        assert_eq!(ents.last().unwrap().index, 6, "limit {limit}");
        storage.wl().append(&ents).unwrap();
        let number = rd.number();
        node.advance_append_async(rd);

        // Both followers hold them: committed without the leader's write.
        node.step(ack(2, 6)).unwrap();
        node.step(ack(3, 6)).unwrap();
        assert_eq!(node.raft.raft_log.committed, 6, "limit {limit}");
        assert_eq!(node.raft.raft_log.persisted, 1);

        let mut rd = node.ready();
        let early: Vec<u64> = rd
            .take_committed_entries()
            .iter()
            .map(|e| e.index)
            .collect();
        let want_last = std::cmp::min(6, 1 + limit);
        let want: Vec<u64> = (2..=want_last).collect();
        assert_eq!(early, want, "limit {limit}");
        node.advance_append_async(rd);

        node.on_persist_ready(number);
        assert_eq!(node.raft.raft_log.persisted, 6);
        let mut rd = node.ready();
        let late: Vec<u64> = rd
            .take_committed_entries()
            .iter()
            .map(|e| e.index)
            .collect();
        let want: Vec<u64> = (want_last + 1..=6).collect();
        assert_eq!(late, want, "limit {limit}: the rest comes once durable");
        node.advance_append_async(rd);
        node.advance_apply();
        assert_eq!(node.raft.raft_log.applied, 6);
    }
}

// ---- helpers ----

/// Checks the pages follow each other without a gap or a repeat and keep
/// to the size limit (a page over it holds one entry); returns all entries.
fn check_pages(pages: &[Vec<Entry>], limit: u64, what: &str) -> Vec<Entry> {
    let mut all: Vec<Entry> = vec![];
    for (i, page) in pages.iter().enumerate() {
        let size: u64 = page.iter().map(|e| e.compute_size()).sum();
        assert!(
            page.len() == 1 || size <= limit,
            "{what}: page {i} of {} entries is {size} bytes, over {limit}",
            page.len()
        );
        for e in page {
            if let Some(prev) = all.last() {
                assert_eq!(
                    e.index,
                    prev.index + 1,
                    "{what}: page {i} skips or repeats after {}",
                    prev.index
                );
            }
            all.push(e.clone());
        }
    }
    all
}

fn ack(from: u64, index: u64) -> Message {
    let mut m = new_message(from, 1, MessageType::MsgAppendResponse, 0);
    m.term = 1;
    m.index = index;
    m
}
