//! `raft-kvstore --id 1 --cluster 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
//! --http 127.0.0.1:8001 --data-dir DIR [--join]`: one node of a replicated
//! key-value store. See the crate documentation and the README.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use raft_kvstore::args::{self, Options, USAGE};
use raft_kvstore::node::Node;
use raft_kvstore::{http, transport};
use slog::{error, info, o, Logger};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot, watch};

fn main() -> ExitCode {
    let options = match args::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(reason) => {
            eprintln!("raft-kvstore: {reason}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The raft crate already logs through slog with a RUST_LOG filter
    // (slog-envlogger); the server uses the same logger.
    let logger = raft::default_logger().new(o!("node" => options.id));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("raft-kvstore: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(options, logger.clone()));
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Tells `main` that the raft thread ended, however it ended (a panic
/// included), by being dropped.
struct RaftThreadDone(Option<oneshot::Sender<()>>);

impl Drop for RaftThreadDone {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            let _ = done.send(());
        }
    }
}

async fn serve(options: Options, logger: Logger) -> ExitCode {
    let raft_address = options.cluster[&options.id];
    let raft_listener = match TcpListener::bind(raft_address).await {
        Ok(listener) => listener,
        Err(e) => {
            error!(logger, "cannot listen for peers"; "address" => %raft_address, "error" => %e);
            return ExitCode::FAILURE;
        }
    };
    let http_listener = match TcpListener::bind(options.http).await {
        Ok(listener) => listener,
        Err(e) => {
            error!(logger, "cannot listen for HTTP"; "address" => %options.http, "error" => %e);
            return ExitCode::FAILURE;
        }
    };
    let (event_sender, events) = mpsc::channel(8192);
    let transport = transport::Transport::new(
        tokio::runtime::Handle::current(),
        event_sender.clone(),
        options.peer_queue,
        logger.clone(),
    );
    let node = match Node::open(&options, transport, logger.clone()) {
        Ok(node) => node,
        Err(reason) => {
            error!(logger, "cannot start"; "reason" => reason);
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(transport::listen(
        raft_listener,
        event_sender,
        logger.clone(),
    ));

    let (request_sender, requests) = mpsc::channel(8192);
    let (stop_raft, shutdown) = watch::channel(false);
    let (done_sender, mut raft_done) = oneshot::channel();
    // The raft loop writes to disk synchronously, so it gets its own thread
    // (and a current-thread runtime for its timers and channels) rather than
    // blocking a worker that serves HTTP and the network.
    let raft_thread = std::thread::Builder::new()
        .name("raft".to_owned())
        .spawn(move || {
            let _done = RaftThreadDone(Some(done_sender));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a current-thread runtime builds");
            runtime.block_on(node.run(requests, events, shutdown));
        });
    let raft_thread = match raft_thread {
        Ok(thread) => thread,
        Err(e) => {
            error!(logger, "cannot start the raft thread"; "error" => %e);
            return ExitCode::FAILURE;
        }
    };

    let timeout = Duration::from_millis(options.request_timeout_ms);
    let (stop_http, http_stopped) = oneshot::channel::<()>();
    let server = axum::serve(http_listener, http::router(request_sender, timeout))
        .with_graceful_shutdown(async {
            let _ = http_stopped.await;
        });
    let http_task = tokio::spawn(async move { server.await });
    info!(logger, "serving"; "raft" => %raft_address, "http" => %options.http);

    let (mut terminate, mut interrupt) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
        _ => {
            error!(logger, "cannot install signal handlers");
            return ExitCode::FAILURE;
        }
    };
    let crashed = tokio::select! {
        _ = terminate.recv() => { info!(logger, "SIGTERM: shutting down"); false }
        _ = interrupt.recv() => { info!(logger, "SIGINT: shutting down"); false }
        _ = &mut raft_done => { error!(logger, "the raft loop stopped unexpectedly"); true }
    };
    // Stop the raft loop first: it finishes the Ready in hand, so everything
    // acknowledged is durable, and drops unanswered requests (answered 503).
    let _ = stop_raft.send(true);
    let raft_panicked = !matches!(
        tokio::task::spawn_blocking(move || raft_thread.join()).await,
        Ok(Ok(()))
    );
    let _ = stop_http.send(());
    if tokio::time::timeout(Duration::from_secs(2), http_task)
        .await
        .is_err()
    {
        info!(
            logger,
            "HTTP connections still open at shutdown, closing them"
        );
    }
    info!(logger, "stopped");
    if crashed || raft_panicked {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
