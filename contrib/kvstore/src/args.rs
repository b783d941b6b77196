//! The command line of `raft-kvstore`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Usage text printed with any argument error.
pub const USAGE: &str = "usage: raft-kvstore --id ID --cluster ID=HOST:PORT[,ID=HOST:PORT...] \
--http HOST:PORT --data-dir DIR [--join] [--tick-ms MS] [--snapshot-interval ENTRIES] \
[--compact-margin ENTRIES] [--request-timeout-ms MS] [--peer-queue MESSAGES]";

/// Parsed options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// This node's raft id (non-zero).
    pub id: u64,
    /// Raft address of each node named on the command line; this node's own
    /// entry is the address it listens on for peers.
    pub cluster: BTreeMap<u64, SocketAddr>,
    /// Address of the HTTP API.
    pub http: SocketAddr,
    /// Where the raft log, hard state and snapshots live.
    pub data_dir: PathBuf,
    /// Start with no membership and wait to be added by the leader, instead
    /// of bootstrapping a cluster whose voters are the `--cluster` ids.
    pub join: bool,
    /// Milliseconds between raft ticks.
    pub tick_ms: u64,
    /// Take a snapshot every this many applied entries.
    pub snapshot_interval: u64,
    /// Entries kept in the log behind a snapshot, so that a slightly lagging
    /// follower gets entries rather than a whole snapshot.
    pub compact_margin: u64,
    /// How long an HTTP request waits for its write or read.
    pub request_timeout_ms: u64,
    /// Messages queued per peer before new ones are dropped.
    pub peer_queue: usize,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut id = None;
    let mut cluster = None;
    let mut http = None;
    let mut data_dir = None;
    let mut join = false;
    let mut tick_ms = 100;
    let mut snapshot_interval = 1000;
    let mut compact_margin = 100;
    let mut request_timeout_ms = 3000;
    let mut peer_queue = 4096;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--join" {
            join = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--id" => id = Some(number(&flag, &value)?),
            "--cluster" => cluster = Some(parse_cluster(&value)?),
            "--http" => http = Some(address(&flag, &value)?),
            "--data-dir" => data_dir = Some(PathBuf::from(value)),
            "--tick-ms" => tick_ms = number(&flag, &value)?,
            "--snapshot-interval" => snapshot_interval = number(&flag, &value)?,
            "--compact-margin" => compact_margin = number(&flag, &value)?,
            "--request-timeout-ms" => request_timeout_ms = number(&flag, &value)?,
            "--peer-queue" => peer_queue = number(&flag, &value)? as usize,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let id = id.ok_or("--id is required")?;
    let cluster = cluster.ok_or("--cluster is required")?;
    if id == 0 {
        return Err("--id must not be 0 (raft reserves it for \"none\")".to_owned());
    }
    if !cluster.contains_key(&id) {
        return Err(format!("--cluster has no address for this node's id {id}"));
    }
    for (name, value) in [
        ("--tick-ms", tick_ms),
        ("--snapshot-interval", snapshot_interval),
        ("--request-timeout-ms", request_timeout_ms),
        ("--peer-queue", peer_queue as u64),
    ] {
        if value == 0 {
            return Err(format!("{name} must be positive"));
        }
    }
    Ok(Options {
        id,
        cluster,
        http: http.ok_or("--http is required")?,
        data_dir: data_dir.ok_or("--data-dir is required")?,
        join,
        tick_ms,
        snapshot_interval,
        compact_margin,
        request_timeout_ms,
        peer_queue,
    })
}

fn number(flag: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} wants a number, got {value:?}"))
}

fn address(flag: &str, value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} wants HOST:PORT with a numeric host, got {value:?}"))
}

fn parse_cluster(value: &str) -> Result<BTreeMap<u64, SocketAddr>, String> {
    let mut cluster = BTreeMap::new();
    for member in value.split(',') {
        let (id, addr) = member
            .split_once('=')
            .ok_or_else(|| format!("--cluster entry {member:?} is not ID=HOST:PORT"))?;
        let id = number("--cluster", id)?;
        if id == 0 {
            return Err("--cluster ids must not be 0".to_owned());
        }
        if cluster.insert(id, address("--cluster", addr)?).is_some() {
            return Err(format!("--cluster names id {id} twice"));
        }
    }
    Ok(cluster)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_the_documented_command_line() {
        let options = parse(args(
            "--id 1 --cluster 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 \
             --http 127.0.0.1:8001 --data-dir /tmp/n1",
        ))
        .unwrap();
        assert_eq!(options.id, 1);
        assert_eq!(options.cluster.len(), 3);
        assert_eq!(options.cluster[&2], "127.0.0.1:7002".parse().unwrap());
        assert_eq!(options.http, "127.0.0.1:8001".parse().unwrap());
        assert!(!options.join);
        assert_eq!(options.tick_ms, 100);
    }

    #[test]
    fn join_and_tuning_flags() {
        let options = parse(args(
            "--id 4 --cluster 1=127.0.0.1:7001,4=127.0.0.1:7004 --http 127.0.0.1:8004 \
             --data-dir d --join --tick-ms 20 --snapshot-interval 50 --compact-margin 5",
        ))
        .unwrap();
        assert!(options.join);
        assert_eq!(
            (
                options.tick_ms,
                options.snapshot_interval,
                options.compact_margin
            ),
            (20, 50, 5)
        );
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        let base = "--cluster 1=127.0.0.1:7001 --http 127.0.0.1:8001 --data-dir d";
        for (line, reason) in [
            (base.to_owned(), "--id is required"),
            (format!("--id 2 {base}"), "no address for this node's id 2"),
            (format!("--id 0 {base}"), "must not be 0"),
            (format!("--id x {base}"), "wants a number"),
            (format!("--id 1 {base} --bogus 1"), "unknown argument --bogus"),
            (
                "--id 1 --cluster 1=127.0.0.1:7001,1=127.0.0.1:7002 --http 127.0.0.1:1 --data-dir d"
                    .to_owned(),
                "names id 1 twice",
            ),
            (
                "--id 1 --cluster 1=localhost --http 127.0.0.1:1 --data-dir d".to_owned(),
                "wants HOST:PORT",
            ),
            (format!("--id 1 {base} --tick-ms 0"), "--tick-ms must be positive"),
            (format!("--id 1 {base} --tick-ms"), "--tick-ms needs a value"),
        ] {
            let error = parse(args(&line)).unwrap_err();
            assert!(error.contains(reason), "{line}: {error}");
        }
    }
}
