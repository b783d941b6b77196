//! A linearizability checker for key-value histories.
//!
//! A history is a list of [`Operation`]s, each with the time its client sent
//! it and the time the answer came back (or `None` when the outcome is
//! unknown: a timeout, a lost connection, a leader that stepped down). The
//! history is *linearizable* (Herlihy and Wing, 1990) when every operation can
//! be given a single point in time between its invocation and its response at
//! which it takes effect, such that the operations, taken in the order of those
//! points, are a legal run of a sequential key-value map. An operation whose
//! outcome is unknown may take effect at any point after its invocation, or
//! never.
//!
//! # The search
//!
//! Keys are independent (linearizability is *local*: a history is
//! linearizable iff its restriction to each object is), so the history is cut
//! into one sub-history per key and each is checked alone. Each key starts
//! absent.
//!
//! For one key, the checker runs the Wing and Gong depth-first search: at every
//! point it may linearize next any pending operation that was invoked before
//! every still-pending *completed* operation responded (otherwise real-time
//! order would be broken), applies it to the current value, and backtracks when
//! a `Get` would return something else. The search succeeds once every
//! completed operation is linearized; operations with unknown outcome left over
//! are the ones that "never happened" or happened after everything observed.
//!
//! Lowe's improvement (Lowe, "Testing for linearizability", 2017) bounds the
//! work: two search states with the same set of linearized operations and the
//! same current value have the same future, so each `(linearized set, value)`
//! pair is explored at most once. Values are interned to small integers so the
//! memo stores a bitset and an integer.
//!
//! An operation whose response time equals another's invocation time is
//! treated as concurrent with it: the checker never reports a violation that
//! depends on the order of two events with the same timestamp.

use std::collections::{BTreeMap, HashMap, HashSet};

/// What a key-value operation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// Set the key to `value`.
    Put {
        /// The value written.
        value: Vec<u8>,
    },
    /// Remove the key.
    Delete,
    /// Read the key; `result` is what the read returned (`None`: absent).
    Get {
        /// The value read, or `None` if the key was absent.
        result: Option<Vec<u8>>,
    },
}

/// One operation of a client, with its invocation and response times.
#[derive(Clone, Debug)]
pub struct Operation {
    /// The client that issued the operation (for reports only).
    pub client: u64,
    /// The key the operation touched.
    pub key: Vec<u8>,
    /// What the operation did (for a `Get`, what it returned).
    pub op: KvOp,
    /// When the client sent the operation (any monotonic unit).
    pub invoke: u64,
    /// When the answer came back; `None` if the outcome is unknown (the
    /// operation may have taken effect at any point after `invoke`, or never).
    pub response: Option<u64>,
}

/// A key whose sub-history has no linearization.
#[derive(Debug)]
pub struct Violation {
    /// The key.
    pub key: Vec<u8>,
    /// Every operation on that key, sorted by invocation time.
    pub ops: Vec<Operation>,
    /// What the search found: how far it got and which operations it could
    /// not place.
    pub explanation: String,
}

/// Checks that `ops` is linearizable as a history of a key-value map whose
/// keys all start absent. Returns the first key (in key order) whose
/// sub-history is not.
///
/// Callers do not record a `Get` whose outcome is unknown: it has no effect.
pub fn check_kv_history(ops: &[Operation]) -> Result<(), Violation> {
    let mut by_key: BTreeMap<&[u8], Vec<&Operation>> = BTreeMap::new();
    for op in ops {
        by_key.entry(&op.key).or_default().push(op);
    }
    for (key, key_ops) in by_key {
        check_one_key(key, &key_ops)?;
    }
    Ok(())
}

/// One operation of a single key's history, with values interned.
#[derive(Clone, Copy, Debug)]
struct Prepared {
    /// What the operation does to, or expects of, the interned value.
    effect: Effect,
    invoke: u64,
    /// `u64::MAX` for an unknown outcome.
    response: u64,
    completed: bool,
}

/// An operation on interned values: `None` is "absent", `Some(i)` the value
/// numbered `i`.
#[derive(Clone, Copy, Debug)]
enum Effect {
    Write(Option<u32>),
    Read(Option<u32>),
}

impl Effect {
    /// The value after this operation runs on `state`, or `None` if it cannot
    /// run there (a read that would return something else).
    fn apply(self, state: Option<u32>) -> Option<Option<u32>> {
        match self {
            Effect::Write(value) => Some(value),
            Effect::Read(expected) => (expected == state).then_some(state),
        }
    }
}

/// A set of operation indices.
#[derive(Clone, PartialEq, Eq, Hash)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(len: usize) -> BitSet {
        BitSet(vec![0; len.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn remove(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    /// The indices below `len` not in the set, in order, skipping full words.
    fn absent_from(&self, len: usize) -> impl Iterator<Item = usize> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, &word)| word != u64::MAX)
            .flat_map(|(w, &word)| {
                (0..64)
                    .filter(move |b| word & (1 << b) == 0)
                    .map(move |b| w * 64 + b)
            })
            .take_while(move |&i| i < len)
    }
}

/// One level of the depth-first search.
struct Frame {
    /// The value after the operations linearized so far.
    state: Option<u32>,
    /// Operations that may be linearized next, in invocation order.
    candidates: Vec<usize>,
    /// The next candidate to try.
    next: usize,
    /// The operation whose linearization led to this frame.
    placed: Option<usize>,
}

fn prepare(ops: &[&Operation]) -> Vec<Prepared> {
    let mut interned: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut intern = |value: Option<&Vec<u8>>| -> Option<u32> {
        value.map(|v| {
            let next = interned.len() as u32;
            *interned.entry(v.clone()).or_insert(next)
        })
    };
    let last_response = ops.iter().filter_map(|op| op.response).max();
    ops.iter()
        // An operation of unknown outcome invoked after every observed
        // response cannot explain anything: it would take effect last.
        .filter(|op| op.response.is_some() || last_response.is_some_and(|r| op.invoke <= r))
        .map(|op| {
            let effect = match &op.op {
                KvOp::Put { value } => Effect::Write(intern(Some(value))),
                KvOp::Delete => Effect::Write(None),
                KvOp::Get { result } => Effect::Read(intern(result.as_ref())),
            };
            Prepared {
                effect,
                invoke: op.invoke,
                response: op.response.unwrap_or(u64::MAX),
                completed: op.response.is_some(),
            }
        })
        .collect()
}

/// The operations not yet linearized that may go next: invoked no later
/// than the earliest response among pending completed operations.
///
/// `ops` is sorted by invocation, so the scan stops at the first pending
/// operation invoked after the smallest response seen so far: every later
/// operation responds later still and cannot lower that bound.
fn candidates(ops: &[Prepared], linearized: &BitSet) -> Vec<usize> {
    let mut deadline = u64::MAX;
    let mut pending = Vec::new();
    for i in linearized.absent_from(ops.len()) {
        if ops[i].invoke > deadline {
            break;
        }
        deadline = deadline.min(ops[i].response);
        pending.push(i);
    }
    pending.retain(|&i| ops[i].invoke <= deadline);
    pending
}

fn check_one_key(key: &[u8], key_ops: &[&Operation]) -> Result<(), Violation> {
    let mut sorted: Vec<&Operation> = key_ops.to_vec();
    sorted.sort_by_key(|op| (op.invoke, op.response.unwrap_or(u64::MAX)));
    let ops = prepare(&sorted);
    let mut remaining_completed = ops.iter().filter(|op| op.completed).count();
    if remaining_completed == 0 {
        return Ok(());
    }
    let mut linearized = BitSet::new(ops.len());
    let mut visited: HashSet<(BitSet, Option<u32>)> = HashSet::new();
    let mut stack = vec![Frame {
        state: None,
        candidates: candidates(&ops, &linearized),
        next: 0,
        placed: None,
    }];
    let mut deepest = 0;
    while let Some(frame) = stack.last_mut() {
        let Some(&op) = frame.candidates.get(frame.next) else {
            let done = stack.pop().expect("the frame just looked at");
            if let Some(op) = done.placed {
                linearized.remove(op);
                remaining_completed += usize::from(ops[op].completed);
            }
            continue;
        };
        frame.next += 1;
        let Some(state) = ops[op].effect.apply(frame.state) else {
            continue;
        };
        linearized.insert(op);
        remaining_completed -= usize::from(ops[op].completed);
        if remaining_completed == 0 {
            return Ok(());
        }
        if visited.insert((linearized.clone(), state)) {
            deepest = deepest.max(stack.len());
            let candidates = candidates(&ops, &linearized);
            stack.push(Frame {
                state,
                candidates,
                next: 0,
                placed: Some(op),
            });
        } else {
            linearized.remove(op);
            remaining_completed += usize::from(ops[op].completed);
        }
    }
    Err(Violation {
        key: key.to_vec(),
        explanation: format!(
            "no linearization of {} operations ({} completed) on this key: the longest \
             linearizable prefix placed {} operations; {} search states explored",
            ops.len(),
            ops.iter().filter(|op| op.completed).count(),
            deepest,
            visited.len()
        ),
        ops: sorted.into_iter().cloned().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(client: u64, value: &str, invoke: u64, response: Option<u64>) -> Operation {
        Operation {
            client,
            key: b"k".to_vec(),
            op: KvOp::Put {
                value: value.as_bytes().to_vec(),
            },
            invoke,
            response,
        }
    }

    fn get(client: u64, result: Option<&str>, invoke: u64, response: u64) -> Operation {
        Operation {
            client,
            key: b"k".to_vec(),
            op: KvOp::Get {
                result: result.map(|r| r.as_bytes().to_vec()),
            },
            invoke,
            response: Some(response),
        }
    }

    fn delete(client: u64, invoke: u64, response: Option<u64>) -> Operation {
        Operation {
            client,
            key: b"k".to_vec(),
            op: KvOp::Delete,
            invoke,
            response,
        }
    }

    fn on_key(mut op: Operation, key: &str) -> Operation {
        op.key = key.as_bytes().to_vec();
        op
    }

    #[test]
    fn empty_history_is_linearizable() {
        assert!(check_kv_history(&[]).is_ok());
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let ops = [
            get(1, None, 0, 1),
            put(1, "a", 2, Some(3)),
            get(2, Some("a"), 4, 5),
            delete(1, 6, Some(7)),
            get(2, None, 8, 9),
        ];
        assert!(check_kv_history(&ops).is_ok());
    }

    #[test]
    fn concurrent_reads_may_see_either_side_of_a_write() {
        let ops = [
            put(1, "a", 0, Some(1)),
            put(1, "b", 2, Some(10)),
            get(2, Some("b"), 3, 4),
            get(3, Some("a"), 3, 5),
        ];
        // Client 3's read linearizes before the write of b, client 2's after.
        assert!(check_kv_history(&ops).is_ok());
    }

    #[test]
    fn stale_read_is_rejected() {
        let ops = [
            put(1, "a", 0, Some(1)),
            put(1, "b", 2, Some(3)),
            get(2, Some("a"), 4, 5),
        ];
        let violation = check_kv_history(&ops).unwrap_err();
        assert_eq!(violation.key, b"k".to_vec());
        assert_eq!(violation.ops.len(), 3);
    }

    #[test]
    fn read_going_back_in_time_is_rejected() {
        // Two reads after a concurrent write: once one read saw the new value,
        // a later read may not see the old one.
        let ops = [
            put(1, "a", 0, Some(1)),
            put(1, "b", 2, Some(20)),
            get(2, Some("b"), 3, 4),
            get(3, Some("a"), 5, 6),
        ];
        assert!(check_kv_history(&ops).is_err());
    }

    #[test]
    fn lost_acknowledged_write_is_rejected() {
        let ops = [put(1, "a", 0, Some(1)), get(2, None, 2, 3)];
        assert!(check_kv_history(&ops).is_err());
    }

    #[test]
    fn write_visible_before_its_invocation_is_rejected() {
        let ops = [get(2, Some("a"), 0, 1), put(1, "a", 2, Some(3))];
        assert!(check_kv_history(&ops).is_err());
    }

    #[test]
    fn unknown_outcome_put_may_appear_later() {
        let ops = [
            put(1, "a", 0, None),
            get(2, None, 1, 2),
            get(2, Some("a"), 10, 11),
        ];
        assert!(check_kv_history(&ops).is_ok());
    }

    #[test]
    fn unknown_outcome_put_may_never_happen() {
        let ops = [
            put(1, "a", 0, None),
            get(2, None, 1, 2),
            get(2, None, 10, 11),
        ];
        assert!(check_kv_history(&ops).is_ok());
    }

    #[test]
    fn unknown_outcome_put_cannot_appear_before_its_invocation() {
        let ops = [get(2, Some("a"), 0, 1), put(1, "a", 2, None)];
        assert!(check_kv_history(&ops).is_err());
    }

    #[test]
    fn unknown_outcome_put_cannot_vanish_once_seen() {
        let ops = [
            put(1, "a", 0, None),
            get(2, Some("a"), 1, 2),
            get(2, None, 3, 4),
        ];
        assert!(check_kv_history(&ops).is_err());
    }

    #[test]
    fn unknown_outcome_delete_may_take_effect() {
        let ops = [
            put(1, "a", 0, Some(1)),
            delete(1, 2, None),
            get(2, Some("a"), 3, 4),
            get(2, None, 5, 6),
        ];
        assert!(check_kv_history(&ops).is_ok());
    }

    #[test]
    fn equal_timestamps_count_as_concurrent() {
        let ops = [put(1, "a", 0, Some(5)), get(2, None, 5, 6)];
        assert!(check_kv_history(&ops).is_ok());
    }

    #[test]
    fn keys_are_checked_independently() {
        let ops = [
            on_key(put(1, "a", 0, Some(1)), "x"),
            on_key(get(2, Some("a"), 2, 3), "x"),
            on_key(get(2, None, 2, 3), "y"),
            on_key(get(3, Some("a"), 4, 5), "y"),
        ];
        let violation = check_kv_history(&ops).unwrap_err();
        assert_eq!(violation.key, b"y".to_vec());
        assert_eq!(violation.ops.len(), 2);
    }

    /// Many clients, every write concurrent with every other and with the
    /// reads: without the memo the search is factorial; with it, the states
    /// are bounded by the subsets of writes times the values.
    #[test]
    fn memoization_bounds_the_search_on_wide_concurrency() {
        let writers = 10;
        let mut ops: Vec<Operation> = (0..writers)
            .map(|c| put(c, &format!("v{c}"), c, Some(1_000)))
            .collect();
        // A read at the end sees the write of the client whose put is
        // invoked first, so the search must put it last among many orders.
        ops.push(get(99, Some("v0"), 1_001, 1_002));
        assert!(check_kv_history(&ops).is_ok());
        // And a read of a value never written fails after exhausting them.
        ops.push(get(99, Some("nope"), 1_003, 1_004));
        let violation = check_kv_history(&ops).unwrap_err();
        let explored: usize = violation
            .explanation
            .split_whitespace()
            .rev()
            .nth(3)
            .and_then(|n| n.parse().ok())
            .expect("the explanation counts the search states");
        // At most one state per (subset of writes, value); 10! orders without.
        assert!(
            explored <= (1 << writers) * (writers as usize + 1),
            "{explored}"
        );
    }

    #[test]
    fn long_sequential_history_is_checked_quickly() {
        let mut ops = Vec::new();
        for i in 0..2_000u64 {
            ops.push(put(1, &format!("{i}"), 4 * i, Some(4 * i + 1)));
            ops.push(get(2, Some(&format!("{i}")), 4 * i + 2, 4 * i + 3));
        }
        assert!(check_kv_history(&ops).is_ok());
    }
}
