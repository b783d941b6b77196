//! The flow-control window of a follower in replicate state.
//!
//! The window bounds two things: the number of MsgAppend messages in flight
//! (`Config::max_inflight_msgs`) and, optionally, the payload bytes of their
//! entries (`Config::max_inflight_bytes`, etcd's `MaxInflightBytes`).

use std::fmt;

/// The indexes of the MsgAppend messages sent to one follower and not yet
/// acknowledged, oldest first.
///
/// Each entry is the last log index carried by one message. The leader stops
/// sending appends once `cap` messages are in flight and frees them as the
/// follower's acknowledgements arrive ([`free_to`](Self::free_to)), so a slow
/// follower cannot make the leader queue an unbounded amount of data.
///
/// With a byte limit ([`set_max_bytes`](Self::set_max_bytes)) each message
/// also records the payload bytes of its entries, and the window is full
/// once their sum reaches the limit. A message larger than the limit is
/// still admitted when nothing is in flight (the window must never wedge
/// on one big entry); it then fills the window by itself.
///
/// The ring buffer behind the window is allocated on the first
/// [`add`](Self::add), grows by doubling only when more messages are in
/// flight than it holds (up to `cap`), and is released by
/// [`reset`](Self::reset) and [`maybe_free_buffer`](Self::maybe_free_buffer),
/// so a leader of many quiet groups holds a few slots per follower, not
/// `cap`.
///
/// The ring of byte sizes exists only while a byte limit is set, and
/// grows with the ring of indexes.
#[derive(Clone)]
pub struct Inflights {
    /// Position of the oldest in-flight index in `buffer`.
    start: usize,
    /// Number of in-flight indexes.
    count: usize,
    /// The ring. Empty until the first `add`; once allocated its length is
    /// the ring's modulus. Shorter than `cap` until that many messages were
    /// in flight at once; longer than `cap` only for a while after
    /// [`set_cap`](Self::set_cap) shrank the capacity with messages in
    /// flight.
    buffer: Vec<u64>,
    /// The maximum number of messages in flight.
    cap: usize,
    /// The payload bytes of each message in flight, laid out like `buffer`.
    /// Empty while there is no byte limit (sizes are then not recorded).
    sizes: Vec<u64>,
    /// The sum of the recorded sizes in flight.
    bytes: u64,
    /// The byte limit; 0 means none.
    max_bytes: u64,
}

/// Slots of a freshly allocated ring (or `cap`, when smaller).
const FIRST_RING_SLOTS: usize = 4;

impl Inflights {
    /// Creates an empty window that admits at most `cap` messages. Nothing is
    /// allocated until the first [`add`](Self::add).
    pub fn new(cap: usize) -> Inflights {
        Inflights {
            start: 0,
            count: 0,
            buffer: Vec::new(),
            cap,
            sizes: Vec::new(),
            bytes: 0,
            max_bytes: 0,
        }
    }

    /// Sets the byte limit of the window; 0 (the default) means none.
    ///
    /// Sizes are recorded only while a limit is set: messages already in
    /// flight when a limit is first set count as 0 bytes. Removing the
    /// limit forgets the recorded bytes.
    pub fn set_max_bytes(&mut self, max_bytes: u64) {
        self.max_bytes = max_bytes;
        if max_bytes == 0 {
            self.sizes = Vec::new();
            self.bytes = 0;
        }
    }

    /// The byte limit of the window; 0 means none.
    #[inline]
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The payload bytes in flight, as recorded by
    /// [`add_with_bytes`](Self::add_with_bytes); always 0 without a byte
    /// limit.
    #[inline]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Changes the maximum number of messages in flight.
    ///
    /// Messages already in flight are kept, in order, whatever the new
    /// capacity. When the window shrinks below the number in flight it stays
    /// [`full`](Self::full) until acknowledgements bring the count below the
    /// new capacity; the ring is resized the next time it drains (or right
    /// away when nothing is in flight). A larger capacity lets the ring grow
    /// on later adds.
    pub fn set_cap(&mut self, cap: usize) {
        if cap == self.cap {
            return;
        }
        self.cap = cap;
        if self.count == 0 {
            // Re-allocated on the next `add`.
            self.release_buffer();
        }
    }

    /// The maximum number of messages in flight.
    #[inline]
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Checks whether no more messages may be sent: `cap` messages are in
    /// flight, or a byte limit is set and the bytes in flight reached it.
    #[inline]
    pub fn full(&self) -> bool {
        self.count >= self.cap || (self.max_bytes > 0 && self.bytes >= self.max_bytes)
    }

    /// Records a message whose last entry is `inflight`, counting 0 payload
    /// bytes (see [`add_with_bytes`](Self::add_with_bytes)).
    ///
    /// # Panics
    ///
    /// When the window is [`full`](Self::full).
    pub fn add(&mut self, inflight: u64) {
        self.add_with_bytes(inflight, 0);
    }

    /// Records a message whose last entry is `inflight` and whose entries
    /// carry `bytes` payload bytes (counted only under a byte limit).
    ///
    /// # Panics
    ///
    /// When the window is [`full`](Self::full): the leader must check before
    /// sending, so a full window here is a broken local invariant.
    pub fn add_with_bytes(&mut self, inflight: u64, bytes: u64) {
        assert!(
            !self.full(),
            "cannot add index {inflight} to a full inflights window (count {}, cap {})",
            self.count,
            self.cap
        );
        if self.count == self.buffer.len() {
            // The ring is full but the window is not: double it (the window
            // check above guarantees `cap > count`).
            let slots = (self.buffer.len() * 2).max(FIRST_RING_SLOTS).min(self.cap);
            self.grow_to(slots);
        }
        let mut slot = self.start + self.count;
        if slot >= self.buffer.len() {
            slot -= self.buffer.len();
        }
        self.buffer[slot] = inflight;
        if self.max_bytes > 0 {
            if self.sizes.len() != self.buffer.len() {
                // The limit was set while messages were in flight (or the
                // ring was just allocated): their sizes count as 0.
                self.sizes = vec![0; self.buffer.len()];
            }
            self.sizes[slot] = bytes;
            self.bytes = self.bytes.saturating_add(bytes);
        }
        self.count += 1;
        debug_assert!(self.count <= self.buffer.len() && self.count <= self.cap);
    }

    /// Frees every in-flight message whose index is at most `to`: the
    /// follower acknowledged them. Indexes below the oldest in flight are
    /// stale acknowledgements and free nothing.
    pub fn free_to(&mut self, to: u64) {
        let len = self.buffer.len();
        let mut freed = 0;
        let mut idx = self.start;
        let has_sizes = !self.sizes.is_empty();
        while freed < self.count && self.buffer[idx] <= to {
            if has_sizes {
                self.bytes = self.bytes.saturating_sub(self.sizes[idx]);
            }
            freed += 1;
            idx += 1;
            if idx == len {
                idx = 0;
            }
        }
        debug_assert!(
            freed == self.count || self.buffer[idx] > to,
            "freed up to {to} but kept an index at or below it"
        );
        self.count -= freed;
        self.start = idx;
        if self.count == 0 {
            debug_assert_eq!(self.bytes, 0, "bytes left in an empty window");
            self.bytes = 0;
            // Restart from the front so the next adds are contiguous; also
            // the moment to apply a shrink deferred by `set_cap`.
            self.start = 0;
            if self.buffer.len() > self.cap {
                self.release_buffer();
            }
        }
    }

    /// Frees the oldest in-flight message, if any.
    pub fn free_first_one(&mut self) {
        if self.count > 0 {
            let first = self.buffer[self.start];
            self.free_to(first);
        }
    }

    /// Frees every in-flight message, with its bytes, and releases the
    /// buffer. Keeps the capacity and the byte limit.
    ///
    /// The byte counter must go back to 0 here: a counter that kept the
    /// bytes of messages forgotten on a state change would keep the window
    /// full forever (etcd-io/raft#54).
    pub fn reset(&mut self) {
        self.count = 0;
        self.start = 0;
        self.bytes = 0;
        self.release_buffer();
    }

    /// The number of messages in flight.
    #[inline]
    pub fn count(&self) -> usize {
        self.count
    }

    /// The number of indexes the allocated buffer can hold; 0 when nothing
    /// is allocated.
    #[inline]
    pub fn buffer_capacity(&self) -> usize {
        self.buffer.len()
    }

    /// Checks whether the ring buffer is allocated.
    #[inline]
    pub fn buffer_is_allocated(&self) -> bool {
        self.buffer_capacity() > 0
    }

    /// Releases the buffer when nothing is in flight, e.g. for a follower
    /// that has caught up and gone idle. It is allocated again on the next
    /// [`add`](Self::add).
    pub fn maybe_free_buffer(&mut self) {
        if self.count == 0 {
            self.start = 0;
            self.release_buffer();
        }
    }

    /// Checks the invariants of the window: the count fits the ring, which
    /// is larger than the capacity only while messages are in flight (after
    /// [`set_cap`](Self::set_cap) shrank it); the recorded bytes are the sizes of the
    /// messages in flight, none without a byte limit, and at most the
    /// newest message took them past the limit (each add needs a window
    /// that is not full). O(messages in flight), which `cap` bounds.
    ///
    /// # Panics
    ///
    /// Through `fatal!` when one is broken.
    #[cfg(debug_assertions)]
    pub(crate) fn check_invariants(&self, peer: u64, logger: &slog::Logger) {
        let ring = self.buffer.len();
        // The ring grows up to `cap` only, so this also holds the count to
        // the cap unless `set_cap` shrank it (the ring then stays larger
        // until the window drains).
        if self.count > ring {
            crate::fatal!(
                logger,
                "inflights of peer {} over their limits: count {}, cap {}, ring {}",
                peer,
                self.count,
                self.cap,
                ring
            );
        }
        if ring > self.cap && self.count == 0 {
            crate::fatal!(
                logger,
                "inflights of peer {} keep a ring of {} over the cap {} with nothing in flight",
                peer,
                ring,
                self.cap
            );
        }
        if !self.sizes.is_empty() && self.sizes.len() != ring {
            crate::fatal!(
                logger,
                "inflights of peer {} record {} sizes for a ring of {}",
                peer,
                self.sizes.len(),
                ring
            );
        }
        let recorded: u64 = if self.sizes.is_empty() {
            0
        } else {
            self.slots().map(|slot| self.sizes[slot]).sum()
        };
        if self.bytes != recorded || (self.max_bytes == 0 && self.bytes != 0) {
            crate::fatal!(
                logger,
                "inflights of peer {} count {} bytes but the {} messages in flight carry {} (max bytes {})",
                peer,
                self.bytes,
                self.count,
                recorded,
                self.max_bytes
            );
        }
        if self.max_bytes > 0 && self.count > 0 && !self.sizes.is_empty() {
            let newest = self.sizes[(self.start + self.count - 1) % ring];
            if self.bytes - newest >= self.max_bytes {
                crate::fatal!(
                    logger,
                    "inflights of peer {} carry {} bytes, past the limit {} before the newest message of {}",
                    peer,
                    self.bytes,
                    self.max_bytes,
                    newest
                );
            }
        }
    }

    /// The in-flight indexes, oldest first.
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots().map(|slot| self.buffer[slot])
    }

    fn release_buffer(&mut self) {
        self.buffer = Vec::new();
        self.sizes = Vec::new();
    }

    /// Moves the in-flight indexes into a ring of `len` slots, oldest at
    /// slot 0.
    fn grow_to(&mut self, len: usize) {
        debug_assert!(len >= self.count);
        let mut buffer = Vec::with_capacity(len);
        buffer.extend(self.iter());
        buffer.resize(len, 0);
        if !self.sizes.is_empty() {
            let mut sizes = Vec::with_capacity(len);
            sizes.extend(self.slots().map(|slot| self.sizes[slot]));
            sizes.resize(len, 0);
            self.sizes = sizes;
        }
        self.buffer = buffer;
        self.start = 0;
    }

    /// The ring slots of the in-flight messages, oldest first.
    fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        let len = self.buffer.len();
        (0..self.count).map(move |i| (self.start + i) % len)
    }
}

impl PartialEq for Inflights {
    /// Two windows are equal when they have the same capacity, byte limit
    /// and bytes in flight, and the same indexes in flight, in the same
    /// order, however their buffers are laid out.
    fn eq(&self, other: &Inflights) -> bool {
        self.cap == other.cap
            && self.count == other.count
            && self.max_bytes == other.max_bytes
            && self.bytes == other.bytes
            && self.iter().eq(other.iter())
    }
}

impl Eq for Inflights {}

impl fmt::Debug for Inflights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflights")
            .field("cap", &self.cap)
            .field("inflight", &self.iter().collect::<Vec<_>>())
            .field("bytes", &self.bytes)
            .field("max_bytes", &self.max_bytes)
            .field("buffer_capacity", &self.buffer_capacity())
            .finish()
    }
}

#[cfg(all(test, debug_assertions))]
mod invariant_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(ins: &Inflights) -> Vec<u64> {
        ins.iter().collect()
    }

    #[test]
    fn buffer_is_allocated_on_first_add_only() {
        let mut ins = Inflights::new(4);
        assert!(!ins.buffer_is_allocated());
        assert_eq!(ins.buffer_capacity(), 0);
        ins.add(1);
        assert!(ins.buffer_is_allocated());
        assert_eq!(ins.buffer_capacity(), 4);
    }

    #[test]
    fn window_is_full_at_cap() {
        let mut ins = Inflights::new(3);
        for i in 1..=3 {
            assert!(!ins.full(), "full before adding {i}");
            ins.add(i);
        }
        assert!(ins.full());
        assert_eq!(ins.count(), 3);
        ins.free_first_one();
        assert!(!ins.full());
    }

    #[test]
    #[should_panic(expected = "full inflights window (count 2, cap 2)")]
    fn add_to_full_window_panics_with_numbers() {
        let mut ins = Inflights::new(2);
        ins.add(1);
        ins.add(2);
        ins.add(3);
    }

    #[test]
    #[should_panic(expected = "count 0, cap 0")]
    fn zero_cap_window_admits_nothing() {
        let mut ins = Inflights::new(0);
        assert!(ins.full());
        ins.add(1);
    }

    #[test]
    fn indexes_wrap_around_the_ring() {
        let mut ins = Inflights::new(4);
        for i in 1..=4 {
            ins.add(i * 10);
        }
        ins.free_to(20);
        assert_eq!(contents(&ins), vec![30, 40]);
        ins.add(50);
        ins.add(60);
        // 50 and 60 took the two slots freed at the front of the ring.
        assert_eq!(ins.start, 2);
        assert_eq!(contents(&ins), vec![30, 40, 50, 60]);
        assert!(ins.full());
        ins.free_to(45);
        assert_eq!(contents(&ins), vec![50, 60]);
        assert_eq!(ins.start, 0);
        ins.free_to(60);
        assert_eq!(ins.count(), 0);
        assert_eq!(ins.buffer_capacity(), 4, "draining keeps the buffer");
    }

    #[test]
    fn free_to_ignores_stale_and_partial_acks() {
        let mut ins = Inflights::new(5);
        for i in [3, 5, 7] {
            ins.add(i);
        }
        ins.free_to(2);
        assert_eq!(contents(&ins), vec![3, 5, 7]);
        ins.free_to(4);
        assert_eq!(contents(&ins), vec![5, 7]);
        ins.free_to(4);
        assert_eq!(contents(&ins), vec![5, 7]);
        ins.free_to(100);
        assert!(contents(&ins).is_empty());
        ins.free_to(200);
        assert_eq!(ins.count(), 0);
    }

    #[test]
    fn free_first_one_frees_exactly_the_oldest() {
        let mut ins = Inflights::new(3);
        ins.free_first_one();
        assert_eq!(ins.count(), 0);
        ins.add(4);
        ins.add(9);
        ins.free_first_one();
        assert_eq!(contents(&ins), vec![9]);
    }

    #[test]
    fn reset_and_maybe_free_release_the_buffer() {
        let mut ins = Inflights::new(4);
        ins.add(1);
        ins.maybe_free_buffer();
        assert!(
            ins.buffer_is_allocated(),
            "kept while a message is in flight"
        );
        assert_eq!(contents(&ins), vec![1]);
        ins.free_to(1);
        ins.maybe_free_buffer();
        assert!(!ins.buffer_is_allocated());

        ins.add(2);
        ins.add(3);
        ins.reset();
        assert_eq!(ins.count(), 0);
        assert!(!ins.buffer_is_allocated());
        ins.add(4);
        assert_eq!(contents(&ins), vec![4]);
    }

    #[test]
    fn set_cap_grows_a_busy_window_keeping_its_order() {
        let mut ins = Inflights::new(3);
        for i in 1..=3 {
            ins.add(i);
        }
        ins.free_to(1);
        ins.add(4); // wrapped: the ring holds [4, 2, 3]
        ins.set_cap(5);
        assert_eq!(contents(&ins), vec![2, 3, 4]);
        assert!(!ins.full());
        ins.add(5);
        ins.add(6);
        assert!(ins.full());
        assert_eq!(contents(&ins), vec![2, 3, 4, 5, 6]);
        assert_eq!(ins.buffer_capacity(), 5);
    }

    #[test]
    fn set_cap_shrinking_a_busy_window_keeps_entries_until_drained() {
        let mut ins = Inflights::new(4);
        for i in 1..=4 {
            ins.add(i);
        }
        ins.set_cap(2);
        assert_eq!(contents(&ins), vec![1, 2, 3, 4]);
        assert!(ins.full());
        ins.free_to(2);
        assert!(ins.full(), "two in flight, cap 2");
        ins.free_to(3);
        assert!(!ins.full());
        ins.add(5);
        assert_eq!(contents(&ins), vec![4, 5]);
        assert_eq!(ins.buffer_capacity(), 4, "old ring kept while busy");
        ins.free_to(5);
        assert!(!ins.buffer_is_allocated(), "resized once drained");
        ins.add(6);
        assert_eq!(ins.buffer_capacity(), 2);
    }

    #[test]
    fn set_cap_on_an_idle_window_takes_effect_on_next_add() {
        let mut ins = Inflights::new(4);
        ins.add(1);
        ins.free_to(1);
        ins.set_cap(8);
        assert!(!ins.buffer_is_allocated());
        for i in 2..=9 {
            ins.add(i);
        }
        assert!(ins.full());
        assert_eq!(ins.buffer_capacity(), 8);
        assert_eq!(ins.cap(), 8);
    }

    #[test]
    fn ring_grows_by_doubling_only_as_far_as_the_window_is_used() {
        let mut ins = Inflights::new(256);
        ins.add(1);
        assert_eq!(ins.buffer_capacity(), FIRST_RING_SLOTS);
        // One message in flight at a time never grows the ring.
        for i in 2..100 {
            ins.free_to(i - 1);
            ins.add(i);
        }
        assert_eq!(ins.buffer_capacity(), FIRST_RING_SLOTS);
        for i in 100..104 {
            ins.add(i);
        }
        assert_eq!(ins.count(), 5);
        assert_eq!(ins.buffer_capacity(), 2 * FIRST_RING_SLOTS);
        // Growing keeps the order, also from a wrapped ring.
        assert_eq!(contents(&ins), vec![99, 100, 101, 102, 103]);
        for i in 104..=354 {
            ins.add(i);
        }
        assert!(ins.full());
        assert_eq!(ins.buffer_capacity(), 256, "never past the window");
    }

    #[test]
    fn equality_ignores_buffer_layout() {
        let mut a = Inflights::new(3);
        let mut b = Inflights::new(3);
        for i in 1..=3 {
            a.add(i);
        }
        a.free_to(1);
        b.add(2);
        b.add(3);
        assert_eq!(a, b);
        b.add(4);
        assert_ne!(a, b);
        assert_ne!(Inflights::new(3), Inflights::new(4));
    }

    #[test]
    fn byte_limit_fills_the_window_before_the_count_does() {
        let mut ins = Inflights::new(10);
        ins.set_max_bytes(100);
        ins.add_with_bytes(1, 40);
        ins.add_with_bytes(2, 40);
        assert!(!ins.full(), "80 of 100 bytes");
        ins.add_with_bytes(3, 30);
        assert!(ins.full(), "110 of 100 bytes");
        assert_eq!((ins.count(), ins.bytes()), (3, 110));
        // Acknowledgements free bytes in order, up to the acked index.
        ins.free_to(1);
        assert_eq!(ins.bytes(), 70);
        assert!(!ins.full());
        ins.free_to(3);
        assert_eq!((ins.count(), ins.bytes()), (0, 0));
    }

    #[test]
    fn a_message_larger_than_the_byte_limit_goes_alone() {
        let mut ins = Inflights::new(10);
        ins.set_max_bytes(100);
        assert!(!ins.full(), "an empty window admits anything");
        ins.add_with_bytes(5, 1_000);
        assert!(ins.full(), "and the big message fills it by itself");
        ins.free_first_one();
        assert_eq!(ins.bytes(), 0);
        assert!(!ins.full());
    }

    #[test]
    fn without_a_byte_limit_sizes_are_not_recorded() {
        let mut ins = Inflights::new(3);
        ins.add_with_bytes(1, u64::MAX);
        ins.add_with_bytes(2, u64::MAX);
        assert_eq!(ins.bytes(), 0);
        assert!(!ins.full());
        assert!(ins.sizes.is_empty(), "no ring of sizes without a limit");
    }

    // etcd-io/raft#54: a byte counter that survives a reset keeps the
    // window full forever once the messages it counted are forgotten.
    #[test]
    fn reset_forgets_the_bytes_in_flight() {
        let mut ins = Inflights::new(10);
        ins.set_max_bytes(100);
        ins.add_with_bytes(1, 60);
        ins.add_with_bytes(2, 60);
        assert!(ins.full());
        ins.reset();
        assert_eq!((ins.count(), ins.bytes()), (0, 0));
        assert!(!ins.full());
        assert_eq!(ins.max_bytes(), 100, "the limit is configuration, kept");
        ins.add_with_bytes(3, 60);
        assert!(!ins.full());
    }

    #[test]
    fn bytes_follow_the_ring_through_wraps_and_growth() {
        let mut ins = Inflights::new(3);
        ins.set_max_bytes(1_000);
        ins.add_with_bytes(1, 1);
        ins.add_with_bytes(2, 2);
        ins.add_with_bytes(3, 4);
        ins.free_to(1);
        ins.add_with_bytes(4, 8); // wrapped: slot 0 holds index 4
        assert_eq!(ins.bytes(), 14);
        ins.set_cap(5);
        ins.add_with_bytes(5, 16);
        assert_eq!(ins.bytes(), 30);
        ins.free_to(3);
        assert_eq!(ins.bytes(), 24);
        ins.free_to(5);
        assert_eq!(ins.bytes(), 0);
    }

    #[test]
    fn setting_the_limit_with_messages_in_flight_counts_them_as_empty() {
        let mut ins = Inflights::new(4);
        ins.add_with_bytes(1, 50);
        ins.set_max_bytes(10);
        assert_eq!(ins.bytes(), 0);
        ins.add_with_bytes(2, 10);
        assert!(ins.full());
        ins.free_to(1);
        assert!(ins.full(), "index 2's 10 bytes still in flight");
        ins.free_to(2);
        assert!(!ins.full());
        ins.add_with_bytes(3, 5);
        ins.set_max_bytes(0);
        assert_eq!(ins.bytes(), 0, "removing the limit forgets the bytes");
        assert!(!ins.full());
    }

    proptest::proptest! {
        /// With a byte limit, the window behaves like a queue of (index,
        /// bytes) that is full at `cap` messages or `max_bytes` bytes.
        #[test]
        fn byte_window_matches_a_queue_of_sizes(
            cap in 1usize..6,
            max_bytes in 1u64..50,
            ops in proptest::collection::vec((0u8..5, 0u64..40), 0..60),
        ) {
            let mut ins = Inflights::new(cap);
            ins.set_max_bytes(max_bytes);
            let mut model: std::collections::VecDeque<(u64, u64)> = Default::default();
            let mut next = 1;
            let model_full = |model: &std::collections::VecDeque<(u64, u64)>| {
                model.len() >= cap || model.iter().map(|(_, b)| b).sum::<u64>() >= max_bytes
            };
            for (op, arg) in ops {
                match op {
                    0 | 1 => {
                        if !model_full(&model) {
                            ins.add_with_bytes(next, arg);
                            model.push_back((next, arg));
                            next += 1;
                        }
                    }
                    2 => {
                        ins.free_to(arg);
                        while model.front().is_some_and(|&(f, _)| f <= arg) {
                            model.pop_front();
                        }
                    }
                    3 => {
                        ins.free_first_one();
                        model.pop_front();
                    }
                    _ => {
                        ins.reset();
                        model.clear();
                    }
                }
                proptest::prop_assert_eq!(ins.bytes(), model.iter().map(|(_, b)| b).sum::<u64>());
                proptest::prop_assert_eq!(ins.full(), model_full(&model));
            }
        }
    }

    proptest::proptest! {
        /// The window behaves like a bounded queue of indexes.
        #[test]
        fn window_matches_a_bounded_queue(
            cap in 0usize..6,
            ops in proptest::collection::vec((0u8..5, 0u64..40), 0..60),
        ) {
            let mut ins = Inflights::new(cap);
            let mut model: std::collections::VecDeque<u64> = Default::default();
            let mut model_cap = cap;
            let mut next = 1;
            for (op, arg) in ops {
                match op {
                    0 | 1 => {
                        if model.len() < model_cap {
                            ins.add(next);
                            model.push_back(next);
                            next += 1 + arg % 3;
                        }
                    }
                    2 => {
                        ins.free_to(arg);
                        while model.front().is_some_and(|&f| f <= arg) {
                            model.pop_front();
                        }
                    }
                    3 => {
                        ins.free_first_one();
                        model.pop_front();
                    }
                    _ => {
                        model_cap = arg as usize % 6;
                        ins.set_cap(model_cap);
                    }
                }
                proptest::prop_assert_eq!(contents(&ins), model.iter().copied().collect::<Vec<_>>());
                proptest::prop_assert_eq!(ins.full(), model.len() >= model_cap);
            }
        }
    }
}
