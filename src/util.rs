//! Small helpers shared across the crate and exposed to callers.

use std::fmt::Write as _;

use fxhash::FxHashSet;
use protobuf::{Message as PbMessage, UnknownFields};

use crate::eraftpb::{Entry, Message};
use crate::HashSet;

/// A number to represent that there is no limit.
pub const NO_LIMIT: u64 = u64::MAX;

/// Truncates `entries` so that their total encoded size does not exceed
/// `max`, keeping at least one entry whatever its size, so a single large
/// entry still makes progress.
///
/// `None` and [`NO_LIMIT`] leave the vector untouched.
pub fn limit_size<T: PbMessage + Clone>(entries: &mut Vec<T>, max: Option<u64>) {
    if entries.len() <= 1 {
        return;
    }
    let max = match max {
        None | Some(NO_LIMIT) => return,
        Some(max) => max,
    };

    let mut size = 0;
    let limit = entries
        .iter()
        .take_while(|&e| {
            if size == 0 {
                size += e.compute_size();
                return true;
            }
            size += e.compute_size();
            size <= max
        })
        .count();

    entries.truncate(limit);
}

/// Encoded size bound of an entry's fields besides `data` and `context`:
/// five one-byte tags, three varints of at most 10 bytes, two length
/// prefixes of at most 10 bytes and a one-byte bool.
const ENTRY_FIXED_SIZE_BOUND: u64 = 5 + 3 * 10 + 2 * 10 + 1 + 1;

/// An entry's unknown fields when it has none.
const NO_UNKNOWN_FIELDS: UnknownFields = UnknownFields::new();

/// An upper bound of `e.compute_size()` that reads no more than lengths, or
/// `None` when the entry carries unknown fields (whose size only the exact
/// computation knows).
fn entry_size_bound(e: &Entry) -> Option<u64> {
    // Compared with an empty set: one pointer test, where iterating the
    // set builds an iterator over its hash map. A set that was emptied
    // again compares unequal and only costs the exact computation.
    if *e.unknown_fields() != NO_UNKNOWN_FIELDS {
        return None;
    }
    Some(e.data.len() as u64 + e.context.len() as u64 + ENTRY_FIXED_SIZE_BOUND)
}

/// The sum of [`entry_size_bound`] over `entries` (an upper bound of their
/// encoded size), or `None` when one of them carries unknown fields.
pub(crate) fn entries_size_bound(entries: &[Entry]) -> Option<u64> {
    entries.iter().try_fold(0u64, |sum, e| {
        Some(sum.saturating_add(entry_size_bound(e)?))
    })
}

/// How many of `entries` [`limit_size`] would keep for `max`, without
/// touching them: callers can then copy only those.
pub(crate) fn entries_within_size(entries: &[Entry], max: Option<u64>) -> usize {
    let max = match max {
        _ if entries.len() <= 1 => return entries.len(),
        None | Some(NO_LIMIT) => return entries.len(),
        Some(max) => max,
    };
    // The common case, a batch far below the limit, is decided from cheap
    // bounds; only a batch near the limit pays for exact protobuf sizes.
    let bound = entries_size_bound(entries);
    if bound.is_some_and(|bound| bound <= max) {
        return entries.len();
    }
    let mut size = 0;
    entries
        .iter()
        .take_while(|&e| {
            let first = size == 0;
            size += e.compute_size();
            first || size <= max
        })
        .count()
}

/// Whether `first` followed by `second` fit in one message of at most
/// `max` bytes, as [`entries_within_size`] counts them (a single entry
/// always fits). For merging entries into a queued message.
pub(crate) fn concatenation_within_size(
    first: &[Entry],
    second: &[Entry],
    max: Option<u64>,
) -> bool {
    let max = match max {
        _ if first.len() + second.len() <= 1 => return true,
        None | Some(NO_LIMIT) => return true,
        Some(max) => max,
    };
    let all = || first.iter().chain(second);
    let bound = all().try_fold(0u64, |sum, e| {
        Some(sum.saturating_add(entry_size_bound(e)?))
    });
    if bound.is_some_and(|bound| bound <= max) {
        return true;
    }
    all().map(|e| e.compute_size()).sum::<u64>() <= max
}

/// [`limit_size`] for entries, deciding most batches from cheap bounds.
pub(crate) fn limit_entries_size(entries: &mut Vec<Entry>, max: Option<u64>) {
    let keep = entries_within_size(entries, max);
    entries.truncate(keep);
}

/// Checks that `ents` continue the entries already in `msg`: true when
/// either side is empty or the first of `ents` follows the last of `msg`.
pub fn is_continuous_ents(msg: &Message, ents: &[Entry]) -> bool {
    if !msg.entries.is_empty() && !ents.is_empty() {
        let expected_next_idx = msg.entries.last().unwrap().index + 1;
        return expected_next_idx == ents.first().unwrap().index;
    }
    true
}

/// The size of a majority of `total` voters.
#[inline]
pub fn majority(total: usize) -> usize {
    (total / 2) + 1
}

/// A union of two sets of ids, read without allocating a merged set.
///
/// Ids in both sets are reported once.
#[derive(Clone, Debug)]
pub struct Union<'a> {
    first: &'a HashSet<u64>,
    second: &'a HashSet<u64>,
}

impl<'a> Union<'a> {
    /// Creates a union of the two sets.
    pub fn new(first: &'a HashSet<u64>, second: &'a HashSet<u64>) -> Union<'a> {
        Union { first, second }
    }

    /// Checks whether `id` is in either set.
    pub fn contains(&self, id: u64) -> bool {
        self.first.contains(&id) || self.second.contains(&id)
    }

    /// Iterates over the ids of the union, each once.
    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        let (first, second) = (self.first, self.second);
        first.union(second).cloned()
    }

    /// Checks whether both sets are empty.
    pub fn is_empty(&self) -> bool {
        self.first.is_empty() && self.second.is_empty()
    }

    /// The number of distinct ids in the union. O(n).
    pub fn len(&self) -> usize {
        self.first.len() + self.second.len() - self.second.intersection(self.first).count()
    }
}

/// The payload bytes of an entry: its data and context, without the
/// encoding overhead. One rule for every byte limit on payloads: the
/// uncommitted-size limit (`Config::max_uncommitted_size`) and the inflight
/// byte limit (`Config::max_inflight_bytes`) both count these bytes, as
/// etcd's `payloadSize` counts an entry's data.
#[inline]
pub(crate) fn payload_size(e: &Entry) -> usize {
    e.data.len() + e.context.len()
}

/// The approximate in-memory payload size of an entry: its data and context
/// plus 12 bytes for the index, term and type. Used for the uncommitted-size
/// limit and the unstable-entries accounting, where an exact protobuf size
/// would cost a traversal.
#[inline]
pub fn entry_approximate_size(e: &Entry) -> usize {
    e.data.len() + e.context.len() + 12
}

/// Formats a set of ids in ascending order, for stable log and error output.
pub(crate) fn format_ids<'a>(ids: impl IntoIterator<Item = &'a u64>) -> String {
    let mut v: Vec<u64> = ids.into_iter().copied().collect();
    v.sort_unstable();
    let mut s = String::new();
    for (i, id) in v.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{id}");
    }
    s
}

/// Renders a logger's key-values as `key: value, ...`, so a panic message
/// carries the same context as the log lines before it.
pub(crate) fn format_kv_list(kv_list: &slog::OwnedKVList) -> String {
    struct Collect(String);
    impl slog::Serializer for Collect {
        fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments) -> slog::Result {
            if !self.0.is_empty() {
                self.0.push_str(", ");
            }
            let _ = write!(self.0, "{key}: {val}");
            Ok(())
        }
    }
    let mut c = Collect(String::new());
    let record = slog::record_static!(slog::Level::Critical, "");
    let _ = slog::KV::serialize(
        kv_list,
        &slog::Record::new(&record, &format_args!(""), slog::b!()),
        &mut c,
    );
    c.0
}

/// Builds an `FxHashSet` from ids.
pub(crate) fn id_set(ids: impl IntoIterator<Item = u64>) -> HashSet<u64> {
    let mut s = FxHashSet::default();
    s.extend(ids);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn entry(index: u64, term: u64, data: &'static [u8]) -> Entry {
        Entry {
            index,
            term,
            data: Bytes::from_static(data),
            ..Default::default()
        }
    }

    #[test]
    fn limit_size_keeps_at_least_one_entry() {
        let ents: Vec<Entry> = (1..=5).map(|i| entry(i, i, b"")).collect();
        let size = ents[0].compute_size();
        let cases: Vec<(Option<u64>, usize)> = vec![
            (None, 5),
            (Some(NO_LIMIT), 5),
            (Some(0), 1),
            (Some(size - 1), 1),
            (Some(size), 1),
            (Some(size * 2), 2),
            (Some(size * 2 + 1), 2),
            (Some(size * 3 - 1), 2),
            (Some(size * 3), 3),
            (Some(size * 5), 5),
        ];
        for (max, want) in cases {
            let mut v = ents.clone();
            limit_size(&mut v, max);
            assert_eq!(v.len(), want, "max {max:?}");
            assert_eq!(v[..], ents[..want]);
        }
        let mut empty: Vec<Entry> = vec![];
        limit_size(&mut empty, Some(0));
        assert!(empty.is_empty());
    }

    #[test]
    fn continuity_of_entries_in_a_message() {
        let mut m = Message::default();
        assert!(is_continuous_ents(&m, &[entry(5, 1, b"")]));
        m.entries = vec![entry(3, 1, b""), entry(4, 1, b"")];
        assert!(is_continuous_ents(&m, &[]));
        assert!(is_continuous_ents(&m, &[entry(5, 1, b"")]));
        assert!(!is_continuous_ents(&m, &[entry(6, 1, b"")]));
        assert!(!is_continuous_ents(&m, &[entry(4, 1, b"")]));
    }

    #[test]
    fn majority_of_n() {
        let cases = [
            (0, 1),
            (1, 1),
            (2, 2),
            (3, 2),
            (4, 3),
            (5, 3),
            (6, 4),
            (7, 4),
        ];
        for (n, want) in cases {
            assert_eq!(majority(n), want, "n {n}");
        }
    }

    #[test]
    fn union_counts_shared_ids_once() {
        let a = id_set([1, 2, 3]);
        let b = id_set([3, 4]);
        let u = Union::new(&a, &b);
        assert_eq!(u.len(), 4);
        assert!(!u.is_empty());
        assert!(u.contains(4) && u.contains(1) && !u.contains(5));
        let mut ids: Vec<u64> = u.iter().collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![1, 2, 3, 4]);
        let e = HashSet::default();
        assert!(Union::new(&e, &e).is_empty());
        assert_eq!(Union::new(&e, &e).len(), 0);
    }

    #[test]
    fn approximate_size_counts_data_context_and_header() {
        let mut e = entry(1, 1, b"abcd");
        e.context = Bytes::from_static(b"xy");
        assert_eq!(entry_approximate_size(&e), 4 + 2 + 12);
        assert_eq!(entry_approximate_size(&Entry::default()), 12);
    }

    #[test]
    fn fatal_appends_the_logger_context() {
        let logger = slog::Logger::root(slog::Discard, slog::o!("raft_id" => 7u64));
        let got = std::panic::catch_unwind(|| crate::fatal!(logger, "broken {}", 3));
        let msg = *got.unwrap_err().downcast::<String>().unwrap();
        assert_eq!(msg, "broken 3, raft_id: 7");
    }

    #[test]
    fn ids_format_sorted() {
        assert_eq!(format_ids(&id_set([3, 1, 2])), "1 2 3");
        assert_eq!(format_ids(&id_set([])), "");
    }
}
