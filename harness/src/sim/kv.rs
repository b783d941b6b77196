//! The replicated state machine (a small key-value map) and the simulated
//! clients whose history is checked for linearizability.
//!
//! Writes go through the log as proposals carrying a unique operation id;
//! the machine applies each id once (a forwarded proposal duplicated by the
//! network is committed twice, and real services deduplicate the same way).
//! Reads go through `read_index` (thesis §6.4) and are answered from the
//! local machine once it has applied the read's index.

use std::collections::{BTreeMap, BTreeSet};

use raft::eraftpb::ConfState;

use crate::linearizability::{KvOp, Operation};

/// The keys clients touch: few, so operations collide.
pub const KEYS: [&[u8]; 3] = [b"a", b"b", b"c"];

/// A write, as carried in an entry's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The unique operation id.
    pub op_id: u64,
    /// The key.
    pub key: Vec<u8>,
    /// The new value, or `None` for a delete.
    pub value: Option<Vec<u8>>,
}

impl Command {
    /// Encodes the command as entry data.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.op_id.to_le_bytes().to_vec();
        out.push(self.key.len() as u8);
        out.extend(&self.key);
        if let Some(value) = &self.value {
            out.push(1);
            out.extend(value);
        } else {
            out.push(0);
        }
        out
    }

    /// Decodes entry data written by [`encode`](Self::encode).
    pub fn decode(data: &[u8]) -> Option<Command> {
        let op_id = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
        let key_len = *data.get(8)? as usize;
        let key = data.get(9..9 + key_len)?.to_vec();
        let value = match data.get(9 + key_len)? {
            0 => None,
            _ => Some(data.get(10 + key_len..)?.to_vec()),
        };
        Some(Command { op_id, key, value })
    }
}

/// The key-value state machine of one node, durable together with its
/// applied index (each apply is one atomic write of the application).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KvMachine {
    /// The index of the last entry applied.
    pub applied: u64,
    /// The membership as of `applied` (thesis §4.1: persisted with it).
    pub conf_state: ConfState,
    /// The map.
    pub map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Operation ids already applied (for deduplication).
    pub applied_ops: BTreeSet<u64>,
}

impl KvMachine {
    /// Applies a write; returns whether it was new (not a duplicate).
    pub fn apply(&mut self, command: &Command) -> bool {
        if !self.applied_ops.insert(command.op_id) {
            return false;
        }
        match &command.value {
            Some(value) => self.map.insert(command.key.clone(), value.clone()),
            None => self.map.remove(&command.key),
        };
        true
    }

    /// Encodes the map and deduplication set as snapshot data (the applied
    /// index and membership travel in the snapshot's metadata).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((self.map.len() as u64).to_le_bytes());
        for (key, value) in &self.map {
            for part in [key, value] {
                out.extend((part.len() as u64).to_le_bytes());
                out.extend(part);
            }
        }
        out.extend((self.applied_ops.len() as u64).to_le_bytes());
        for op in &self.applied_ops {
            out.extend(op.to_le_bytes());
        }
        out
    }

    /// Rebuilds a machine from snapshot data, index and membership.
    pub fn decode(data: &[u8], applied: u64, conf_state: ConfState) -> KvMachine {
        let mut machine = KvMachine {
            applied,
            conf_state,
            ..KvMachine::default()
        };
        if data.is_empty() {
            return machine;
        }
        let mut reader = Reader { data, at: 0 };
        for _ in 0..reader.u64() {
            let key = reader.bytes();
            let value = reader.bytes();
            machine.map.insert(key, value);
        }
        for _ in 0..reader.u64() {
            let op = reader.u64();
            machine.applied_ops.insert(op);
        }
        machine
    }
}

/// Reads what [`KvMachine::encode`] wrote.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u64(&mut self) -> u64 {
        let bytes = &self.data[self.at..self.at + 8];
        self.at += 8;
        u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = self.u64() as usize;
        let out = self.data[self.at..self.at + len].to_vec();
        self.at += len;
        out
    }
}

/// What a client is waiting for.
#[derive(Clone, Debug)]
pub struct PendingOp {
    /// The operation id (also the read context for a get).
    pub op_id: u64,
    /// The node the client sent it to.
    pub node: u64,
    /// The key.
    pub key: Vec<u8>,
    /// The write, or `None` for a get.
    pub write: Option<Option<Vec<u8>>>,
    /// The step it was invoked at.
    pub invoke: u64,
}

/// The clients and the history they produce.
#[derive(Debug, Default)]
pub struct Clients {
    /// Per client, the operation in flight.
    pub pending: BTreeMap<u64, PendingOp>,
    /// The history so far.
    pub history: Vec<Operation>,
    /// Completed operations (for the report).
    pub completed: u64,
    /// Operations whose outcome stayed unknown.
    pub unknown: u64,
}

impl Clients {
    /// Records the outcome of the operation `op_id`, if a client waits for it:
    /// `result` is `Some(read value)` for a get, ignored for a write.
    pub fn respond(&mut self, op_id: u64, now: u64, read: Option<Option<Vec<u8>>>) -> bool {
        let Some((&client, _)) = self.pending.iter().find(|(_, p)| p.op_id == op_id) else {
            return false;
        };
        let pending = self.pending.remove(&client).expect("just found");
        let op = match (pending.write, read) {
            (Some(Some(value)), _) => KvOp::Put { value },
            (Some(None), _) => KvOp::Delete,
            (None, Some(result)) => KvOp::Get { result },
            (None, None) => return false,
        };
        self.history.push(Operation {
            client,
            key: pending.key,
            op,
            invoke: pending.invoke,
            response: Some(now),
        });
        self.completed += 1;
        true
    }

    /// Gives up on an operation: a write's outcome becomes unknown, a get is
    /// forgotten (an unanswered read has no effect).
    pub fn abandon(&mut self, client: u64) {
        let Some(pending) = self.pending.remove(&client) else {
            return;
        };
        self.unknown += 1;
        let op = match pending.write {
            Some(Some(value)) => KvOp::Put { value },
            Some(None) => KvOp::Delete,
            None => return,
        };
        self.history.push(Operation {
            client,
            key: pending.key,
            op,
            invoke: pending.invoke,
            response: None,
        });
    }

    /// Abandons every operation sent to `node` (it crashed).
    pub fn abandon_node(&mut self, node: u64) {
        let clients: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.node == node)
            .map(|(&c, _)| c)
            .collect();
        for client in clients {
            self.abandon(client);
        }
    }

    /// Abandons operations older than `timeout` steps.
    pub fn time_out(&mut self, now: u64, timeout: u64) {
        let late: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.invoke + timeout < now)
            .map(|(&c, _)| c)
            .collect();
        for client in late {
            self.abandon(client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_round_trips() {
        for value in [None, Some(vec![]), Some(b"xyz".to_vec())] {
            let c = Command {
                op_id: 77,
                key: b"k".to_vec(),
                value,
            };
            assert_eq!(Command::decode(&c.encode()), Some(c));
        }
        assert_eq!(Command::decode(b"short"), None);
    }

    #[test]
    fn machine_round_trips_and_deduplicates() {
        let mut m = KvMachine::default();
        let put = Command {
            op_id: 1,
            key: b"a".to_vec(),
            value: Some(b"1".to_vec()),
        };
        assert!(m.apply(&put));
        assert!(!m.apply(&put));
        m.applied = 9;
        let back = KvMachine::decode(&m.encode(), 9, ConfState::default());
        assert_eq!(back, m);
    }
}
