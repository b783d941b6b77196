//! Test support: real `raft-kvstore` processes on loopback ports, a guard
//! that kills them all however the test ends, and polling with deadlines.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use raft_kvstore::client::{Client, Response};
use serde::Deserialize;

/// `GET /status`, as the server sends it.
#[derive(Clone, Debug, Deserialize)]
pub struct Status {
    pub id: u64,
    pub role: String,
    pub leader: u64,
    pub term: u64,
    pub commit: u64,
    pub applied: u64,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
}

/// Wall time, for deadlines and history timestamps.
#[expect(
    clippy::disallowed_methods,
    reason = "end-to-end tests of real processes need wall time"
)]
pub fn now() -> Instant {
    Instant::now()
}

/// Polls `probe` every 20 ms until it returns `Some` or `within` passes;
/// the panic names `what` and the last thing `probe` saw.
pub fn wait_for<T>(
    what: &str,
    within: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = now() + within;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if now() >= deadline => {
                panic!("timed out after {within:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => pause(),
        }
    }
}

/// The short interval between two polls.
#[expect(
    clippy::disallowed_methods,
    reason = "the interval between two polls of a real process"
)]
pub fn pause() {
    std::thread::sleep(Duration::from_millis(20));
}

/// A loopback address with a port nobody listens on right now.
pub fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("bound address")
}

pub struct NodeSpec {
    pub raft: SocketAddr,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
}

/// The processes of one test, killed (SIGKILL) when dropped.
pub struct Cluster {
    pub specs: BTreeMap<u64, NodeSpec>,
    pub children: BTreeMap<u64, Child>,
    root: PathBuf,
    extra_args: Vec<String>,
}

impl Cluster {
    /// Chooses addresses and a fresh data directory for nodes `ids`.
    pub fn new(name: &str, ids: &[u64], extra_args: &[&str]) -> Cluster {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create the test directory");
        let mut cluster = Cluster {
            specs: BTreeMap::new(),
            children: BTreeMap::new(),
            root,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
        };
        for id in ids {
            cluster.add_spec(*id);
        }
        cluster
    }

    pub fn add_spec(&mut self, id: u64) {
        let spec = NodeSpec {
            raft: free_address(),
            http: free_address(),
            data_dir: self.root.join(format!("node-{id}")),
        };
        self.specs.insert(id, spec);
    }

    /// `ID=ADDR,...` for every node with a spec.
    pub fn cluster_arg(&self) -> String {
        self.specs
            .iter()
            .map(|(id, spec)| format!("{id}={}", spec.raft))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts node `id` (its log goes to `node-ID.log` in the test directory).
    pub fn start(&mut self, id: u64, join: bool, cluster: &str) {
        let spec = &self.specs[&id];
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.root.join(format!("node-{id}.log")))
            .expect("open the node's log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_raft-kvstore"));
        command
            .args(["--id", &id.to_string(), "--cluster", cluster])
            .args(["--http", &spec.http.to_string()])
            .arg("--data-dir")
            .arg(&spec.data_dir)
            .args(&self.extra_args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log);
        if join {
            command.arg("--join");
        }
        let child = command.spawn().expect("start raft-kvstore");
        self.children.insert(id, child);
    }

    pub fn client(&self, id: u64) -> Client {
        Client::new(self.specs[&id].http, Duration::from_secs(5))
    }

    pub fn status(&self, id: u64) -> Result<Status, String> {
        let response = self
            .client(id)
            .request("GET", "/status", b"")
            .map_err(|e| format!("node {id}: {e}"))?;
        if response.status != 200 {
            return Err(format!(
                "node {id}: {} {}",
                response.status,
                response.text()
            ));
        }
        serde_json::from_slice(&response.body).map_err(|e| format!("node {id}: {e}"))
    }

    /// The leader all of `ids` agree on, once they do.
    pub fn wait_for_leader(&self, ids: &[u64], within: Duration) -> u64 {
        wait_for("one leader that every node names", within, || {
            let statuses: Result<Vec<Status>, String> =
                ids.iter().map(|id| self.status(*id)).collect();
            let statuses = statuses?;
            let leader = statuses[0].leader;
            let agreed = leader != 0
                && ids.contains(&leader)
                && statuses
                    .iter()
                    .all(|s| s.leader == leader && s.term == statuses[0].term)
                && statuses
                    .iter()
                    .any(|s| s.id == leader && s.role == "leader");
            if agreed {
                Ok(leader)
            } else {
                Err(format!("{statuses:?}"))
            }
        })
    }

    /// Kills node `id` with SIGKILL.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.children.remove(&id) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM to node `id` and waits for it to exit.
    pub fn terminate(&mut self, id: u64, within: Duration) -> ExitStatus {
        let mut child = self.children.remove(&id).expect("node is running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        wait_for("the node to exit after SIGTERM", within, || {
            child
                .try_wait()
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "still running".to_owned())
        })
    }

    /// Sends a request to node `id`.
    pub fn request(
        &self,
        id: u64,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> std::io::Result<Response> {
        self.client(id).request(method, path, body)
    }

    /// The log of node `id`, for failure messages.
    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.root.join(format!("node-{id}.log"))).unwrap_or_default()
    }

    /// Removes the test directory (after a success).
    pub fn clean_up(mut self) {
        for id in self.children.keys().copied().collect::<Vec<_>>() {
            self.kill(id);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("node logs kept in {}", self.root.display());
        }
    }
}

/// A small seeded generator (splitmix64) for the clients' choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
