//! An environment of [`RawNode`](raft::RawNode)s driven by the commands of
//! data-driven scenario files (see [`crate::datadriven`]), in the spirit of
//! etcd's interaction tests: each command's output (Readys, messages, log
//! lines of the nodes) is the golden text a scenario pins.
//!
//! Nodes use a [`MemStorage`](raft::storage::MemStorage), a seeded random
//! generator (`Config::rng_seed` is the node id), an election timeout of 10
//! ticks and a heartbeat of 1. Messages a node hands out wait in the
//! environment until a `deliver-msgs` or `stabilize` delivers them.
//!
//! # Commands
//!
//! Nodes and time:
//! - `add-nodes N [voters=(1 2 3)] [learners=(4)] [index=I] [prevote=true]
//!   [checkquorum=true] [read-only=safe|lease] [max-inflight=N]
//!   [max-size-per-msg=N] [max-uncommitted-size=N]
//!   [async-storage-writes=true] [priority=P | priority=(P1 .. PN)]`: adds
//!   `N` nodes with the next ids. Without `voters` and `learners` the nodes
//!   start empty (waiting for a snapshot); with `index` they start from a
//!   snapshot at that index (term 1) instead of an empty log.
//! - `tick-election ID`, `tick-heartbeat ID`: ticks a node through one
//!   election timeout or one heartbeat interval. `tick ID N`: `N` ticks.
//! - `restart ID`: crashes the node and starts it again from what was
//!   durable (see [`node::DurableState`]).
//! - `replace-node ID voters=(..) [learners=(..)]`: a new incarnation of
//!   node `ID`, with the same config but nothing of the old one's storage:
//!   an empty log bootstrapped with the given configuration (a node wiped
//!   and added again under its old id).
//! - `log-level none|debug|info|warn|error`: the least severe node log line
//!   printed (INFO at first).
//! - `storage-error ID call=entries kind=compacted|unavailable|other
//!   [count=N]`: the node's next `N` (1) reads of entries from its storage
//!   fail with that error.
//! - `send-msg type=T from=ID to=ID [term=N] [index=N] [log-term=N]
//!   [commit=N] [reject=true] [reject-hint=N]`: puts a hand-made message in
//!   flight (for messages no well-behaved node sends, or sends late), to be
//!   delivered like any other.
//!
//! Inputs: `campaign ID`, `propose ID DATA`, `propose-conf-change ID
//! [v1=true] [transition=auto|implicit|explicit] CHANGES..` (changes as
//! `v2 l3 r4`; none leaves a joint configuration), `transfer-leadership
//! from=ID to=ID`, `read-index ID CTX`, `report-unreachable ID PEER`,
//! `report-snapshot ID PEER [failure]`, `request-snapshot ID`, `compact ID
//! INDEX`, `set-priority ID P`, `forget-leader ID`.
//!
//! Processing: `process-ready ID..` handles each node's `Ready` like a driver
//! (persist, send, apply, advance); a node with `async-storage-writes` hands
//! its writes and committed entries to background queues instead, which
//! `process-append-thread ID.. [count=N]` and `process-apply-thread ID..`
//! work off. `deliver-msgs [ID..] [type=T] [drop=(ID..)]` delivers the
//! messages in flight to the given nodes (all without ids), only those of
//! type `T` with `type`, and drops those to the `drop` nodes. `stabilize
//! [ID..]` repeats all of that until nothing happens.
//!
//! State: `raft-log ID`, `raft-state`, `status ID` (with the leader's
//! progress of each peer, and the bytes in flight where there are any),
//! `basic-status ID` (`RawNode::basic_status`, then one line per peer from
//! `RawNode::with_progress`).

pub mod format;
pub mod logger;
pub mod node;

use std::collections::BTreeMap;
use std::fmt::Display;

use raft::eraftpb::{
    ConfChange, ConfChangeTransition, ConfChangeV2, ConfState, HardState, Message, SnapshotMetadata,
};
use raft::{Config, ReadOnlyOption, Ready, SnapshotStatus, NO_LIMIT};
use raft_proto::parse_conf_change;
use slog::Level;

use self::logger::SharedOutput;
use self::node::{AppendWork, DurableState, Node};
use crate::datadriven::TestCase;

/// Rounds of `stabilize` after which the nodes are deemed to talk forever.
const MAX_STABILIZE_ROUNDS: usize = 1_000;

/// The election timeout of every node, in ticks.
const ELECTION_TICKS: usize = 10;

/// The heartbeat interval of every node, in ticks.
const HEARTBEAT_TICKS: usize = 1;

/// A group of nodes and the messages in flight between them.
pub struct Env {
    nodes: BTreeMap<u64, Node>,
    /// Messages handed out and not yet delivered or dropped, in send order.
    messages: Vec<Message>,
    output: SharedOutput,
    logger: slog::Logger,
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    /// An empty environment logging at INFO.
    pub fn new() -> Env {
        let output = SharedOutput::new(Some(Level::Info));
        let logger = output.logger();
        Env {
            nodes: BTreeMap::new(),
            messages: Vec::new(),
            output,
            logger,
        }
    }

    /// Runs one command and returns its output (`ok` when it printed
    /// nothing).
    ///
    /// # Panics
    ///
    /// On a malformed command (unknown name, missing or bad argument,
    /// unknown node), naming the case's position.
    pub fn handle(&mut self, case: &TestCase) -> String {
        {
            let mut output = self.output.lock();
            output.text.clear();
            output.indent = 0;
        }
        self.run(case);
        let text = std::mem::take(&mut self.output.lock().text);
        if text.trim().is_empty() {
            "ok".to_owned()
        } else {
            text
        }
    }

    fn run(&mut self, case: &TestCase) {
        match case.cmd.as_str() {
            "add-nodes" => self.add_nodes(case),
            "compact" => {
                let (id, index) = self.two_ids(case);
                let result = self.node(case, id).storage.wl().compact(index);
                self.print_result(result);
                self.print_raft_log(case, id);
            }
            "restart" => {
                let id = self.one_id(case);
                let node = self.node(case, id);
                let result = node.restart();
                self.print_result(result);
            }
            "replace-node" => self.replace_node(case),
            "log-level" => {
                let name = case
                    .bare_words()
                    .next()
                    .unwrap_or_else(|| panic!("{}: log-level needs a level", case.pos));
                let level =
                    logger::parse_level(name).unwrap_or_else(|e| panic!("{}: {e}", case.pos));
                self.output.lock().level = level;
            }
            "process-ready" => {
                for id in self.ids_or_all(case) {
                    self.process_ready(id);
                }
            }
            "process-append-thread" => {
                let count = case.value::<usize>("count");
                for id in self.ids_or_all(case) {
                    self.process_append_thread(id, count);
                }
            }
            "process-apply-thread" => {
                for id in self.ids_or_all(case) {
                    self.process_apply_thread(id);
                }
            }
            "storage-error" => self.storage_error(case),
            "send-msg" => self.send_msg(case),
            "deliver-msgs" => self.deliver_msgs(case),
            "stabilize" => {
                let ids = self.ids_or_all(case);
                self.stabilize(&ids, &case.pos);
            }
            "raft-log" => {
                let id = self.one_id(case);
                self.print_raft_log(case, id);
            }
            "raft-state" => self.print_raft_state(),
            "status" => {
                let id = self.one_id(case);
                self.print_status(case, id);
            }
            "basic-status" => {
                let id = self.one_id(case);
                self.print_basic_status(case, id);
            }
            _ => self.run_input(case),
        }
    }

    /// Runs a command that is an input to one node (a request or a report
    /// from its application or transport).
    fn run_input(&mut self, case: &TestCase) {
        match case.cmd.as_str() {
            "campaign" => {
                let id = self.one_id(case);
                let result = self.node(case, id).raw.campaign();
                self.print_result(result);
            }
            "propose" => {
                let id = self.one_id(case);
                let data = self.words_after_id(case).join(" ");
                let result = self.node(case, id).raw.propose(vec![], data.into_bytes());
                self.print_result(result);
            }
            "propose-conf-change" => self.propose_conf_change(case),
            "tick-election" => self.tick(case, ELECTION_TICKS),
            "tick-heartbeat" => self.tick(case, HEARTBEAT_TICKS),
            "tick" => {
                let count = self.words_after_id(case).first().map_or(1, |w| {
                    w.parse()
                        .unwrap_or_else(|_| panic!("{}: bad tick count {w}", case.pos))
                });
                self.tick(case, count);
            }
            "transfer-leadership" => {
                let from: u64 = self.required(case, "from");
                let to: u64 = self.required(case, "to");
                self.node(case, from).raw.transfer_leader(to);
            }
            "forget-leader" => {
                let id = self.one_id(case);
                self.node(case, id).raw.forget_leader();
            }
            "read-index" => {
                let id = self.one_id(case);
                let ctx = self.words_after_id(case).join(" ");
                self.node(case, id).raw.read_index(ctx.into_bytes());
            }
            "report-unreachable" => {
                let (id, peer) = self.two_ids(case);
                self.node(case, id).raw.report_unreachable(peer);
            }
            "report-snapshot" => {
                let (id, peer) = self.two_ids(case);
                let status = if case.bare_words().any(|w| w == "failure") {
                    SnapshotStatus::Failure
                } else {
                    SnapshotStatus::Finish
                };
                self.node(case, id).raw.report_snapshot(peer, status);
            }
            "request-snapshot" => {
                let id = self.one_id(case);
                let result = self.node(case, id).raw.request_snapshot();
                self.print_result(result);
            }
            "set-priority" => {
                let id = self.one_id(case);
                let priority: i64 = self.words_after_id(case).first().map_or_else(
                    || panic!("{}: set-priority needs a priority", case.pos),
                    |w| {
                        w.parse()
                            .unwrap_or_else(|_| panic!("{}: bad priority {w}", case.pos))
                    },
                );
                self.node(case, id).raw.set_priority(priority);
            }
            other => panic!("{}: unknown command {other:?}", case.pos),
        }
    }

    // ---- argument helpers -------------------------------------------------

    fn node(&mut self, case: &TestCase, id: u64) -> &mut Node {
        self.nodes
            .get_mut(&id)
            .unwrap_or_else(|| panic!("{}: no node {id}", case.pos))
    }

    fn one_id(&self, case: &TestCase) -> u64 {
        let word = case
            .bare_words()
            .next()
            .unwrap_or_else(|| panic!("{}: {} needs a node id", case.pos, case.cmd));
        word.parse()
            .unwrap_or_else(|_| panic!("{}: bad node id {word}", case.pos))
    }

    fn two_ids(&self, case: &TestCase) -> (u64, u64) {
        let numbers: Vec<u64> = case
            .bare_words()
            .take(2)
            .map(|w| {
                w.parse()
                    .unwrap_or_else(|_| panic!("{}: bad number {w}", case.pos))
            })
            .collect();
        match numbers.as_slice() {
            [a, b] => (*a, *b),
            _ => panic!("{}: {} needs two numbers", case.pos, case.cmd),
        }
    }

    /// The bare words after the node id.
    fn words_after_id(&self, case: &TestCase) -> Vec<String> {
        case.bare_words().skip(1).map(str::to_owned).collect()
    }

    fn required<T: std::str::FromStr>(&self, case: &TestCase, key: &str) -> T {
        case.value(key)
            .unwrap_or_else(|| panic!("{}: {} needs {key}=", case.pos, case.cmd))
    }

    /// The node ids named as bare words, or every node's when none is.
    fn ids_or_all(&self, case: &TestCase) -> Vec<u64> {
        let ids = case.bare_ids();
        for id in &ids {
            assert!(self.nodes.contains_key(id), "{}: no node {id}", case.pos);
        }
        if ids.is_empty() {
            self.nodes.keys().copied().collect()
        } else {
            ids
        }
    }

    fn print(&self, line: impl Display) {
        self.output.lock().line(line);
    }

    fn print_result<T>(&self, result: raft::Result<T>) {
        if let Err(e) = result {
            self.print(format!("error: {e}"));
        }
    }

    fn indent(&self, by: isize) {
        let mut output = self.output.lock();
        output.indent = output.indent.saturating_add_signed(by);
    }

    // ---- nodes ----------------------------------------------------------

    fn add_nodes(&mut self, case: &TestCase) {
        let count = self.one_id(case);
        let voters = case.ids("voters");
        let learners = case.ids("learners");
        let bool_arg = |key: &str| case.value::<bool>(key).unwrap_or(false);
        let priorities: Vec<i64> = case
            .arg("priority")
            .unwrap_or_default()
            .iter()
            .map(|p| {
                p.parse()
                    .unwrap_or_else(|_| panic!("{}: bad priority {p}", case.pos))
            })
            .collect();
        assert!(
            priorities.len() <= 1 || priorities.len() as u64 == count,
            "{}: give one priority, or one per node",
            case.pos
        );
        let read_only = match case.arg("read-only").and_then(|v| v.first()) {
            None => ReadOnlyOption::Safe,
            Some(v) if v == "safe" => ReadOnlyOption::Safe,
            Some(v) if v == "lease" => ReadOnlyOption::LeaseBased,
            Some(v) => panic!("{}: read-only is safe or lease, not {v}", case.pos),
        };
        let conf_state = ConfState::from((voters, learners));
        let first_id = self.nodes.keys().last().map_or(1, |id| id + 1);
        for (position, id) in (first_id..first_id + count).enumerate() {
            let config = Config {
                id,
                election_tick: ELECTION_TICKS,
                heartbeat_tick: HEARTBEAT_TICKS,
                max_size_per_msg: case.value("max-size-per-msg").unwrap_or(NO_LIMIT),
                max_inflight_msgs: case.value("max-inflight").unwrap_or(256),
                max_uncommitted_size: case.value("max-uncommitted-size").unwrap_or(NO_LIMIT),
                max_inflight_bytes: case.value("max-inflight-bytes").unwrap_or(0),
                batch_append: bool_arg("batch-append"),
                step_down_on_removal: case.value("step-down-on-removal").unwrap_or(true),
                disable_conf_change_validation: bool_arg("disable-conf-change-validation"),
                check_quorum: bool_arg("checkquorum"),
                pre_vote: bool_arg("prevote"),
                read_only_option: read_only,
                priority: match priorities.as_slice() {
                    [] => 0,
                    [p] => *p,
                    ps => ps[position],
                },
                rng_seed: Some(id),
                ..Default::default()
            };
            let snapshot = case.value::<u64>("index").map(|index| {
                let mut meta = SnapshotMetadata {
                    index,
                    term: 1,
                    ..Default::default()
                };
                meta.set_conf_state(conf_state.clone());
                meta
            });
            let durable = DurableState {
                hard_state: HardState {
                    term: snapshot.as_ref().map_or(0, |m| m.term),
                    commit: snapshot.as_ref().map_or(0, |m| m.index),
                    ..Default::default()
                },
                snapshot,
                bootstrap: conf_state.clone(),
                entries: Vec::new(),
            };
            let mut config = config;
            config.applied = durable.snapshot.as_ref().map_or(0, |m| m.index);
            let async_writes = bool_arg("async-storage-writes");
            match Node::new(config, durable, async_writes, &self.logger) {
                Ok(node) => {
                    self.nodes.insert(id, node);
                }
                Err(e) => self.print(format!("error: cannot add node {id}: {e}")),
            }
        }
    }

    fn tick(&mut self, case: &TestCase, count: usize) {
        let id = self.one_id(case);
        let node = self.node(case, id);
        for _ in 0..count {
            node.raw.tick();
        }
    }

    fn propose_conf_change(&mut self, case: &TestCase) {
        let id = self.one_id(case);
        let text = self.words_after_id(case).join(" ");
        let changes = parse_conf_change(&text).unwrap_or_else(|e| panic!("{}: {e}", case.pos));
        let v1 = case.value::<bool>("v1").unwrap_or(false);
        let transition = match case.arg("transition").and_then(|v| v.first()) {
            None => ConfChangeTransition::Auto,
            Some(t) if t == "auto" => ConfChangeTransition::Auto,
            Some(t) if t == "implicit" => ConfChangeTransition::Implicit,
            Some(t) if t == "explicit" => ConfChangeTransition::Explicit,
            Some(t) => panic!("{}: bad transition {t}", case.pos),
        };
        let node = self.node(case, id);
        let result = if v1 {
            assert!(
                changes.len() == 1,
                "{}: a v1 change has exactly one change",
                case.pos
            );
            let cc = ConfChange {
                change_type: changes[0].change_type,
                node_id: changes[0].node_id,
                ..Default::default()
            };
            node.raw.propose_conf_change(vec![], cc)
        } else {
            let cc = ConfChangeV2 {
                transition: transition.into(),
                changes,
                ..Default::default()
            };
            node.raw.propose_conf_change(vec![], cc)
        };
        self.print_result(result);
    }

    // ---- processing -----------------------------------------------------

    /// Handles one `Ready` of node `id`, if it has one, printing it.
    fn process_ready(&mut self, id: u64) -> bool {
        if !self.nodes[&id].raw.has_ready() {
            return false;
        }
        self.print(format!("> {id} handling Ready"));
        self.indent(2);
        let node = self.nodes.get_mut(&id).expect("the node exists");
        let mut rd = node.raw.ready();
        let ready_text = ready_lines(&rd);
        for line in ready_text {
            self.print(line);
        }
        let snapshot = (!rd.snapshot().is_empty()).then(|| rd.snapshot().clone());
        let hard_state = rd.hs().cloned();
        let node = self.nodes.get_mut(&id).expect("the node exists");
        // The storage serves what a Ready hands out at once, durable or not.
        node.write(snapshot.as_ref(), rd.entries(), hard_state.as_ref());
        // A leader's messages may go out before its own writes (thesis
        // §10.2.1).
        self.messages.extend(rd.take_messages());
        if node.async_writes {
            node.append_work.push_back(AppendWork {
                number: rd.number(),
                snapshot,
                entries: rd.take_entries(),
                hard_state,
                messages: rd.take_persisted_messages(),
            });
            let committed = rd.take_committed_entries();
            if !committed.is_empty() {
                node.apply_work.push_back(committed);
            }
            node.raw.advance_append_async(rd);
        } else {
            node.make_durable(snapshot.as_ref(), rd.entries(), hard_state.as_ref());
            self.messages.extend(rd.take_persisted_messages());
            self.apply_and_advance(id, rd);
        }
        self.indent(-2);
        true
    }

    /// The synchronous end of handling a `Ready` whose writes are durable:
    /// applies its committed entries, advances, and handles the
    /// `LightReady` (printed under `Advanced:` when it holds anything).
    fn apply_and_advance(&mut self, id: u64, mut rd: Ready) {
        let node = self.nodes.get_mut(&id).expect("the node exists");
        let mut errors = node.apply(&rd.take_committed_entries());
        let mut light = node.raw.advance(rd);
        let mut lines = Vec::new();
        if let Some(commit) = light.commit_index() {
            node.write_commit(commit);
            lines.push(format!("Commit:{commit}"));
        }
        let committed = light.take_committed_entries();
        errors.extend(node.apply(&committed));
        node.raw.advance_apply();
        push_block(&mut lines, "CommittedEntries:", &committed, format::entry);
        let messages = light.take_messages();
        push_block(&mut lines, "Messages:", &messages, format::message);
        self.messages.extend(messages);
        if !lines.is_empty() {
            self.print("Advanced:");
            for line in lines {
                self.print(line);
            }
        }
        for e in errors {
            self.print(format!("error: {e}"));
        }
    }

    /// Makes the pending writes of node `id` durable (at most `count`
    /// `Ready`s' worth), sends their persisted messages and reports them
    /// persisted.
    fn process_append_thread(&mut self, id: u64, count: Option<usize>) -> bool {
        let node = self.nodes.get_mut(&id).expect("the node exists");
        let take = count.unwrap_or(usize::MAX).min(node.append_work.len());
        if take == 0 {
            return false;
        }
        let work: Vec<AppendWork> = node.append_work.drain(..take).collect();
        self.print(format!("> {id} processing append thread"));
        self.indent(2);
        for mut item in work {
            let mut lines = vec![format!("Persisted Ready {}:", item.number)];
            if let Some(hs) = &item.hard_state {
                lines.push(format::hard_state(hs));
            }
            if !item.entries.is_empty() {
                lines.push(format!("Entries:{}", format::entries(&item.entries)));
            }
            if let Some(s) = &item.snapshot {
                lines.push(format!("Snapshot {}", format::snapshot(s)));
            }
            push_block(&mut lines, "Messages:", &item.messages, format::message);
            for line in lines {
                self.print(line);
            }
            let node = self.nodes.get_mut(&id).expect("the node exists");
            node.make_durable(
                item.snapshot.as_ref(),
                &item.entries,
                item.hard_state.as_ref(),
            );
            self.messages.append(&mut item.messages);
            node.raw.on_persist_ready(item.number);
        }
        self.indent(-2);
        true
    }

    /// Applies every committed entry handed to node `id`'s apply queue and
    /// reports them applied.
    fn process_apply_thread(&mut self, id: u64) -> bool {
        let node = self.nodes.get_mut(&id).expect("the node exists");
        if node.apply_work.is_empty() {
            return false;
        }
        let work: Vec<_> = node.apply_work.drain(..).collect();
        self.print(format!("> {id} processing apply thread"));
        self.indent(2);
        for entries in work {
            let mut lines = Vec::new();
            push_block(&mut lines, "Applying:", &entries, format::entry);
            for line in lines {
                self.print(line);
            }
            let node = self.nodes.get_mut(&id).expect("the node exists");
            let errors = node.apply(&entries);
            if let Some(last) = entries.last() {
                node.raw.advance_apply_to(last.index);
            }
            for e in errors {
                self.print(format!("error: {e}"));
            }
        }
        self.indent(-2);
        true
    }

    fn replace_node(&mut self, case: &TestCase) {
        let id = self.one_id(case);
        let old = self.node(case, id);
        let config = Config {
            applied: 0,
            ..old.config.clone()
        };
        let async_writes = old.async_writes;
        let durable = DurableState {
            snapshot: None,
            bootstrap: ConfState::from((case.ids("voters"), case.ids("learners"))),
            entries: Vec::new(),
            hard_state: HardState::default(),
        };
        match Node::new(config, durable, async_writes, &self.logger) {
            Ok(node) => {
                self.nodes.insert(id, node);
            }
            Err(e) => self.print(format!("error: cannot replace node {id}: {e}")),
        }
    }

    fn storage_error(&mut self, case: &TestCase) {
        let id = self.one_id(case);
        let call: String = self.required(case, "call");
        assert_eq!(call, "entries", "{}: only entries calls fail", case.pos);
        let kind: String = self.required(case, "kind");
        let error = node::InjectedError::parse(&kind).unwrap_or_else(|| {
            panic!(
                "{}: kind is compacted, unavailable or other, not {kind}",
                case.pos
            )
        });
        let count = case.value("count").unwrap_or(1);
        self.node(case, id)
            .raw
            .raft
            .raft_log
            .store
            .fail_entries(error, count);
    }

    fn send_msg(&mut self, case: &TestCase) {
        let name: String = self.required(case, "type");
        let msg_type = format::parse_message_type(&name)
            .unwrap_or_else(|| panic!("{}: unknown message type {name}", case.pos));
        let mut m = Message {
            from: self.required(case, "from"),
            to: self.required(case, "to"),
            term: case.value("term").unwrap_or(0),
            index: case.value("index").unwrap_or(0),
            log_term: case.value("log-term").unwrap_or(0),
            commit: case.value("commit").unwrap_or(0),
            reject: case.value("reject").unwrap_or(false),
            reject_hint: case.value("reject-hint").unwrap_or(0),
            ..Default::default()
        };
        m.set_msg_type(msg_type);
        self.messages.push(m);
    }

    fn deliver_msgs(&mut self, case: &TestCase) {
        let to = case.bare_ids();
        let drop = case.ids("drop");
        let msg_type = case.arg("type").and_then(|v| v.first()).map(|name| {
            format::parse_message_type(name)
                .unwrap_or_else(|| panic!("{}: unknown message type {name}", case.pos))
        });
        let every_recipient = to.is_empty() && drop.is_empty();
        let (mut chosen, kept): (Vec<Message>, Vec<Message>) = std::mem::take(&mut self.messages)
            .into_iter()
            .partition(|m| {
                msg_type.is_none_or(|t| m.msg_type() == t)
                    && (every_recipient || to.contains(&m.to) || drop.contains(&m.to))
            });
        self.messages = kept;
        for m in chosen.drain(..) {
            if drop.contains(&m.to) {
                self.print(format!("dropped: {}", format::message(&m)));
            } else {
                self.step(m);
            }
        }
    }

    /// Delivers one message to its recipient, printing it (and the error,
    /// if the node refuses it).
    fn step(&mut self, m: Message) {
        self.print(format::message(&m));
        let Some(node) = self.nodes.get_mut(&m.to) else {
            self.print("  dropped: no such node");
            return;
        };
        let result = node.raw.step(m);
        if let Err(e) = result {
            self.print(format!("  error: {e}"));
        }
    }

    /// Delivers every message in flight to `id`, printing them under a
    /// heading. Returns whether there was any.
    fn deliver_to(&mut self, id: u64) -> bool {
        let (to_node, kept): (Vec<Message>, Vec<Message>) = std::mem::take(&mut self.messages)
            .into_iter()
            .partition(|m| m.to == id);
        self.messages = kept;
        if to_node.is_empty() {
            return false;
        }
        self.print(format!("> {id} receiving messages"));
        self.indent(2);
        for m in to_node {
            self.step(m);
        }
        self.indent(-2);
        true
    }

    fn stabilize(&mut self, ids: &[u64], pos: &str) {
        for _ in 0..MAX_STABILIZE_ROUNDS {
            let mut busy = false;
            for &id in ids {
                busy |= self.process_ready(id);
            }
            for &id in ids {
                busy |= self.process_append_thread(id, None);
                busy |= self.process_apply_thread(id);
            }
            for &id in ids {
                busy |= self.deliver_to(id);
            }
            if !busy {
                return;
            }
        }
        panic!("{pos}: the nodes did not stabilize after {MAX_STABILIZE_ROUNDS} rounds");
    }

    // ---- state ------------------------------------------------------------

    fn print_raft_log(&mut self, case: &TestCase, id: u64) {
        let node = self.node(case, id);
        let log = &node.raw.raft.raft_log;
        let (first, last) = (log.first_index(), log.last_index());
        let entries = log.all_entries();
        if entries.is_empty() {
            self.print(format!(
                "log is empty: first index={first}, last index={last}"
            ));
        }
        for e in entries {
            self.print(format::entry(&e));
        }
    }

    fn print_raft_state(&self) {
        for (id, node) in &self.nodes {
            let raft = &node.raw.raft;
            let cs = raft.prs().conf().to_conf_state();
            let membership = if cs.voters.contains(id) || cs.voters_outgoing.contains(id) {
                "Voter"
            } else if cs.learners.contains(id) {
                "Learner"
            } else {
                "Non-Member"
            };
            self.print(format!(
                "{id}: {} ({membership}) Term:{} Lead:{}",
                format::role(raft.state),
                raft.term,
                raft.leader_id
            ));
        }
    }

    fn print_basic_status(&mut self, case: &TestCase, id: u64) {
        let node = self.node(case, id);
        let status = node.raw.basic_status();
        let mut lines = vec![format!(
            "id={} {} {} applied={} lead_transferee={}",
            status.id,
            format::soft_state(&status.ss),
            format::hard_state(&status.hs),
            status.applied,
            status
                .lead_transferee
                .map_or("none".to_owned(), |t| t.to_string()),
        )];
        node.raw.with_progress(|peer, kind, pr| {
            lines.push(format!("{peer}: {kind:?} {}", format::progress(pr)));
        });
        for line in lines {
            self.print(line);
        }
    }

    fn print_status(&mut self, case: &TestCase, id: u64) {
        let node = self.node(case, id);
        let status = node.raw.status();
        let mut lines = vec![format!(
            "{} {} persisted={} applied={}",
            format::soft_state(&status.ss),
            format::hard_state(&status.hs),
            node.raw.raft.raft_log.persisted,
            status.applied
        )];
        if let Some(tracker) = status.progress {
            let learners = tracker.conf().learners();
            for (peer, pr) in tracker.iter() {
                let learner = if learners.contains(peer) {
                    " (learner)"
                } else {
                    ""
                };
                let mut progress = format::progress(pr);
                // A leader's own progress is never marked active; only its
                // followers' activity means anything (check quorum, §6.2).
                if *peer != id && !pr.recent_active {
                    progress.push_str(" inactive");
                }
                lines.push(format!("{peer}: {progress}{learner}"));
            }
        }
        for line in lines {
            self.print(line);
        }
    }
}

/// Appends `title` and one line per item, when there are items.
fn push_block<T>(lines: &mut Vec<String>, title: &str, items: &[T], f: impl Fn(&T) -> String) {
    if items.is_empty() {
        return;
    }
    lines.push(title.to_owned());
    lines.extend(items.iter().map(f));
}

/// The lines describing a `Ready`.
fn ready_lines(rd: &Ready) -> Vec<String> {
    let mut lines = vec![format!("Ready MustSync={}:", rd.must_sync())];
    if let Some(ss) = rd.ss() {
        lines.push(format::soft_state(ss));
    }
    if let Some(hs) = rd.hs() {
        lines.push(format::hard_state(hs));
    }
    if !rd.snapshot().is_empty() {
        lines.push(format!("Snapshot {}", format::snapshot(rd.snapshot())));
    }
    push_block(&mut lines, "Entries:", rd.entries(), format::entry);
    push_block(
        &mut lines,
        "CommittedEntries:",
        rd.committed_entries(),
        format::entry,
    );
    push_block(
        &mut lines,
        "ReadStates:",
        rd.read_states(),
        format::read_state,
    );
    push_block(&mut lines, "Messages:", rd.messages(), format::message);
    push_block(
        &mut lines,
        "PersistedMessages:",
        rd.persisted_messages(),
        format::message,
    );
    lines
}
