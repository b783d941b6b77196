//! The replicated state: a sorted map of byte keys to byte values, plus the
//! raft address of every member, and the encodings of what goes through the
//! log (a [`Proposal`]) and into a snapshot ([`SnapshotData`]).
//!
//! Both encodings are serde types written with postcard: varint lengths and
//! raw bytes, so a key or value costs its length plus one or two bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A change to the map, as replicated through the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Sets `key` to `value`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// Removes `key` if present.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
}

/// Identifies one client request across the cluster: the node that proposed
/// it, that node's process incarnation (random per start, so a request
/// number reused after a restart can never match an old entry), and a
/// counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId {
    /// The proposing node's raft id.
    pub origin: u64,
    /// Random per process start.
    pub incarnation: u64,
    /// Increments per request within the incarnation.
    pub sequence: u64,
}

/// The data of a normal log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Who waits for this entry to be applied.
    pub request: RequestId,
    /// What to do.
    pub command: Command,
}

/// The context of a conf change entry: who waits for it and, for an added
/// node, the address every member must use to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberContext {
    /// Who waits for this entry to be applied.
    pub request: RequestId,
    /// The raft address of an added node.
    pub address: Option<String>,
}

/// What a snapshot carries: the whole map and the member addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotData {
    /// Every key and its value.
    pub map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Raft address of each member known when the snapshot was taken.
    pub addresses: BTreeMap<u64, String>,
}

/// Encodes a serde value compactly.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain data (maps, vectors, integers, strings) to a vector
    // has no failure case.
    postcard::to_stdvec(value).expect("postcard encodes plain data into a Vec")
}

/// Decodes a value written by [`encode`].
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

/// The key-value map and member addresses, with the index of the last
/// entry applied to them.
#[derive(Debug, Default)]
pub struct StateMachine {
    data: SnapshotData,
    applied: u64,
}

impl StateMachine {
    /// Rebuilds the state from a snapshot's data taken at `index`. Empty data
    /// (a node that never had a snapshot) is the empty state.
    pub fn restore(bytes: &[u8], index: u64) -> Result<StateMachine, postcard::Error> {
        let data = if bytes.is_empty() {
            SnapshotData::default()
        } else {
            decode(bytes)?
        };
        Ok(StateMachine {
            data,
            applied: index,
        })
    }

    /// Encodes the whole state for a snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        encode(&self.data)
    }

    /// The index of the last entry applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Records that the entry at `index` has been applied, whatever it held
    /// (an empty entry, a conf change, or a command).
    ///
    /// # Panics
    ///
    /// If `index` is not the next one: entries apply in order, once.
    pub fn advance_applied(&mut self, index: u64) {
        assert!(
            index == self.applied + 1,
            "applying entry {index} after entry {}: entries must apply in order",
            self.applied
        );
        self.applied = index;
    }

    /// Applies a command (its entry's index already recorded with
    /// [`advance_applied`](Self::advance_applied)).
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::Put { key, value } => {
                self.data.map.insert(key, value);
            }
            Command::Delete { key } => {
                self.data.map.remove(&key);
            }
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Vec<u8>> {
        self.data.map.get(key)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.data.map.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.data.map.is_empty()
    }

    /// The known raft address of every member.
    pub fn addresses(&self) -> &BTreeMap<u64, String> {
        &self.data.addresses
    }

    /// Records the raft address of `id`.
    pub fn set_address(&mut self, id: u64, address: String) {
        self.data.addresses.insert(id, address);
    }

    /// Forgets the raft address of a removed member.
    pub fn remove_address(&mut self, id: u64) {
        self.data.addresses.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str) -> Command {
        Command::Put {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    #[test]
    fn put_overwrites_and_delete_removes() {
        let mut sm = StateMachine::default();
        sm.advance_applied(1);
        sm.apply(put("a", "1"));
        sm.advance_applied(2);
        sm.apply(put("a", "2"));
        assert_eq!(sm.get(b"a"), Some(&b"2".to_vec()));
        sm.advance_applied(3);
        sm.apply(Command::Delete { key: b"a".to_vec() });
        assert_eq!(sm.get(b"a"), None);
        assert_eq!(sm.applied(), 3);
    }

    #[test]
    fn snapshot_round_trips_map_addresses_and_index() {
        let mut sm = StateMachine::default();
        sm.advance_applied(1);
        sm.apply(put("k", "v"));
        sm.set_address(4, "127.0.0.1:7004".to_owned());
        let restored = StateMachine::restore(&sm.snapshot(), 7).unwrap();
        assert_eq!(restored.get(b"k"), Some(&b"v".to_vec()));
        assert_eq!(restored.addresses().get(&4).unwrap(), "127.0.0.1:7004");
        assert_eq!(restored.applied(), 7);
    }

    #[test]
    fn empty_snapshot_data_is_the_empty_state() {
        let sm = StateMachine::restore(&[], 0).unwrap();
        assert!(sm.is_empty());
        assert!(sm.addresses().is_empty());
    }

    #[test]
    fn garbage_snapshot_data_is_an_error() {
        assert!(StateMachine::restore(&[0xff, 0xff, 0xff], 1).is_err());
    }

    #[test]
    #[should_panic(expected = "must apply in order")]
    fn applying_out_of_order_panics() {
        let mut sm = StateMachine::default();
        sm.advance_applied(2);
    }

    #[test]
    fn proposal_encoding_is_compact() {
        let proposal = Proposal {
            request: RequestId {
                origin: 1,
                incarnation: 5,
                sequence: 9,
            },
            command: put("key", "value"),
        };
        let bytes = encode(&proposal);
        // Three one-byte varints, a variant tag, two length bytes, 8 data bytes.
        assert_eq!(bytes.len(), 3 + 1 + 2 + 8);
        assert_eq!(decode::<Proposal>(&bytes).unwrap(), proposal);
    }
}
