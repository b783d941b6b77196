//! The simulated network: a queue of messages in flight, each due at a
//! step, with drops, duplicates, delays (which reorder) and cut links.
//!
//! A message sent at step `t` is due at `t + 1` unless delayed; messages due
//! at the same step are delivered in the order they were sent. A cut link
//! drops what crosses it at delivery time, so cutting a link also loses the
//! messages already in flight on it, as a real partition does.

use std::collections::{BTreeMap, BTreeSet};

use raft::eraftpb::{Message, MessageType};
use rand::rngs::StdRng;
use rand::Rng;

use super::params::FaultWeights;

/// The messages in flight and the links cut.
#[derive(Debug, Default)]
pub struct Network {
    /// Messages by (due step, send sequence).
    in_flight: BTreeMap<(u64, u64), Message>,
    next_sequence: u64,
    /// Directed links `(from, to)` that drop everything.
    cut: BTreeSet<(u64, u64)>,
    /// Counters for the report.
    pub sent: u64,
    /// Messages dropped by faults or cuts.
    pub dropped: u64,
    /// Snapshots lost, as (from, to): a real transport tells the sender
    /// (`report_snapshot` with `Failure`), or its leader would wait forever.
    pub lost_snapshots: Vec<(u64, u64)>,
}

impl Network {
    /// Queues `m` (sent at step `now`), applying the message faults.
    pub fn send(&mut self, m: Message, now: u64, rng: &mut StdRng, faults: &FaultWeights) {
        self.sent += 1;
        if roll(rng, faults.drop) {
            self.lose(&m);
            return;
        }
        if roll(rng, faults.duplicate) {
            let due = now + 1 + rng.gen_range(0..20);
            self.enqueue(due, m.clone());
        }
        let due = if roll(rng, faults.delay) {
            now + 1 + rng.gen_range(1..30)
        } else {
            now + 1
        };
        self.enqueue(due, m);
    }

    fn enqueue(&mut self, due: u64, m: Message) {
        self.in_flight.insert((due, self.next_sequence), m);
        self.next_sequence += 1;
    }

    /// Takes the messages due at or before `now`, minus those crossing a
    /// cut link.
    pub fn take_due(&mut self, now: u64) -> Vec<Message> {
        let later = self.in_flight.split_off(&(now + 1, 0));
        let due = std::mem::replace(&mut self.in_flight, later);
        let mut out = Vec::with_capacity(due.len());
        for (_, m) in due {
            if self.cut.contains(&(m.from, m.to)) {
                self.lose(&m);
            } else {
                out.push(m);
            }
        }
        out
    }

    /// Counts a lost message, remembering lost snapshots.
    pub fn lose(&mut self, m: &Message) {
        self.dropped += 1;
        if m.get_msg_type() == MessageType::MsgSnapshot {
            self.lost_snapshots.push((m.from, m.to));
        }
    }

    /// Cuts the link from `a` to `b`, and back too if `both_ways`.
    pub fn cut(&mut self, a: u64, b: u64, both_ways: bool) {
        self.cut.insert((a, b));
        if both_ways {
            self.cut.insert((b, a));
        }
    }

    /// Cuts every link between `node` and the `others`.
    pub fn isolate(&mut self, node: u64, others: &[u64]) {
        for &other in others.iter().filter(|&&o| o != node) {
            self.cut(node, other, true);
        }
    }

    /// Cuts every link between the two sides.
    pub fn partition(&mut self, side: &[u64], other_side: &[u64]) {
        for &a in side {
            for &b in other_side {
                self.cut(a, b, true);
            }
        }
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// The links cut, for the report.
    pub fn cut_links(&self) -> &BTreeSet<(u64, u64)> {
        &self.cut
    }

    /// How many messages are in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

/// True with probability `per_thousand / 1000`.
pub fn roll(rng: &mut StdRng, per_thousand: u32) -> bool {
    per_thousand > 0 && rng.gen_range(0..1000) < per_thousand
}
