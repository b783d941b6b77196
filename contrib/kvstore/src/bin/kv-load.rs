//! `kv-load`: a load generator for `raft-kvstore`.
//!
//! `kv-load --http 127.0.0.1:8001[,ADDR...] --mode put|get [--concurrency 16]
//! [--requests 20000] [--keys 1000] [--value-bytes 100]`
//!
//! Starts `--concurrency` client threads, each with one keep-alive
//! connection to one of the `--http` nodes (round robin), which together send
//! `--requests` requests (`PUT /kv/k{n}` or linearizable `GET /kv/k{n}` over
//! `--keys` keys), then prints throughput and latency percentiles. A `get`
//! run first writes every key once so reads find values.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft_kvstore::client::Client;

struct Options {
    nodes: Vec<SocketAddr>,
    put: bool,
    concurrency: usize,
    requests: u64,
    keys: u64,
    value_bytes: usize,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        nodes: Vec::new(),
        put: true,
        concurrency: 16,
        requests: 20_000,
        keys: 1000,
        value_bytes: 100,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag} wants a positive number"))
        };
        match flag.as_str() {
            "--http" => {
                for address in value.split(',') {
                    let address = address.parse().map_err(|_| {
                        format!("--http wants HOST:PORT[,HOST:PORT], got {address:?}")
                    })?;
                    options.nodes.push(address);
                }
            }
            "--mode" => {
                options.put = match value.as_str() {
                    "put" => true,
                    "get" => false,
                    _ => return Err("--mode is put or get".to_owned()),
                }
            }
            "--concurrency" => options.concurrency = number()? as usize,
            "--requests" => options.requests = number()?,
            "--keys" => options.keys = number()?,
            "--value-bytes" => options.value_bytes = number()? as usize,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if options.nodes.is_empty() {
        return Err("--http is required".to_owned());
    }
    Ok(options)
}

/// One client's loop: take request numbers from `next` until `total`.
fn worker(
    mut client: Client,
    put: bool,
    options: (u64, u64, usize),
    next: &AtomicU64,
) -> (Vec<Duration>, u64) {
    let (total, keys, value_bytes) = options;
    let value = vec![b'v'; value_bytes];
    let mut latencies = Vec::new();
    let mut errors = 0;
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= total {
            return (latencies, errors);
        }
        let path = format!("/kv/k{}", n % keys);
        let (method, body, ok): (&str, &[u8], &[u16]) = if put {
            ("PUT", &value, &[204])
        } else {
            ("GET", &[], &[200, 404])
        };
        #[expect(
            clippy::disallowed_methods,
            reason = "a load generator measures wall time"
        )]
        let start = Instant::now();
        match client.request(method, &path, body) {
            Ok(response) if ok.contains(&response.status) => latencies.push(start.elapsed()),
            Ok(response) => {
                errors += 1;
                if errors <= 3 {
                    eprintln!(
                        "kv-load: {method} {path}: {} {}",
                        response.status,
                        response.text().trim()
                    );
                }
            }
            Err(e) => {
                errors += 1;
                if errors <= 3 {
                    eprintln!("kv-load: {method} {path}: {e}");
                }
            }
        }
    }
}

fn run(options: &Options, put: bool, requests: u64) -> (Vec<Duration>, u64, Duration) {
    let next = Arc::new(AtomicU64::new(0));
    #[expect(
        clippy::disallowed_methods,
        reason = "a load generator measures wall time"
    )]
    let start = Instant::now();
    let handles: Vec<_> = (0..options.concurrency)
        .map(|i| {
            let client = Client::new(
                options.nodes[i % options.nodes.len()],
                Duration::from_secs(10),
            );
            let next = Arc::clone(&next);
            let shape = (requests, options.keys, options.value_bytes);
            std::thread::spawn(move || worker(client, put, shape, &next))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for handle in handles {
        let (mut some, failed) = handle.join().expect("a load worker does not panic");
        latencies.append(&mut some);
        errors += failed;
    }
    (latencies, errors, start.elapsed())
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * fraction) as usize).min(sorted.len() - 1);
    sorted[index].as_secs_f64() * 1000.0
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(reason) => {
            eprintln!("kv-load: {reason}");
            return ExitCode::from(2);
        }
    };
    if !options.put {
        let (_, errors, _) = run(&options, true, options.keys);
        if errors > 0 {
            eprintln!("kv-load: {errors} errors while writing the keys to read");
            return ExitCode::FAILURE;
        }
    }
    let (mut latencies, errors, elapsed) = run(&options, options.put, options.requests);
    latencies.sort();
    let done = latencies.len() as f64;
    println!(
        "{}: {} ok, {} errors, {} clients over {} node(s), {:.2} s, {:.0} ops/s, latency ms p50 {:.2} p99 {:.2} max {:.2}",
        if options.put { "put" } else { "get" },
        latencies.len(),
        errors,
        options.concurrency,
        options.nodes.len(),
        elapsed.as_secs_f64(),
        done / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
