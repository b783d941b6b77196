//! Messages between nodes: tokio TCP, one length-delimited frame per encoded
//! eraftpb `Message`.
//!
//! Each peer has a task that owns an outgoing connection and a bounded
//! queue. The raft loop never waits on the network: [`Transport::send`]
//! only tries to enqueue. A full queue drops the message and the loop tells
//! raft with `report_unreachable` (raft then probes the peer instead of
//! streaming to it); a failed snapshot send is reported as
//! `SnapshotStatus::Failure` and a written one as `Finish`. A lost
//! connection is redialled with exponential backoff, and what was queued
//! meanwhile is dropped (and reported) rather than delivered stale.
//!
//! Incoming connections carry no handshake: every message names its sender.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use slog::{debug, info, Logger};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::{Framed, FramedRead, LengthDelimitedCodec};

/// Largest frame accepted or sent: room for a snapshot of a large map.
pub const MAX_FRAME_BYTES: usize = 256 << 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(1000);

/// What the network tells the raft loop.
#[derive(Debug)]
pub enum NetworkEvent {
    /// A message arrived from a peer.
    Message(Box<Message>),
    /// Messages to this peer were dropped: raft should stop assuming they
    /// arrive (`report_unreachable`).
    Unreachable(u64),
    /// A snapshot to this peer was written to its connection (`true`) or
    /// lost (`false`).
    SnapshotSent(u64, bool),
}

fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_codec()
}

/// Outgoing connections, one task and queue per peer.
pub struct Transport {
    runtime: Handle,
    peers: HashMap<u64, Peer>,
    events: mpsc::Sender<NetworkEvent>,
    queue_capacity: usize,
    logger: Logger,
}

struct Peer {
    address: String,
    queue: mpsc::Sender<Message>,
    task: JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Transport {
    /// A transport with no peers yet, whose peer tasks run on `runtime`;
    /// drop and snapshot events go to `events`.
    pub fn new(
        runtime: Handle,
        events: mpsc::Sender<NetworkEvent>,
        queue_capacity: usize,
        logger: Logger,
    ) -> Self {
        Transport {
            runtime,
            peers: HashMap::new(),
            events,
            queue_capacity,
            logger,
        }
    }

    /// Starts (or, if the address changed, restarts) the task that sends to
    /// `id` at `address`.
    pub fn set_peer(&mut self, id: u64, address: String) {
        if self
            .peers
            .get(&id)
            .is_some_and(|peer| peer.address == address)
        {
            return;
        }
        info!(self.logger, "peer address"; "peer" => id, "address" => &address);
        let (queue, receiver) = mpsc::channel(self.queue_capacity);
        let task = self.runtime.spawn(peer_task(
            id,
            address.clone(),
            receiver,
            self.events.clone(),
            self.logger.new(slog::o!("peer" => id)),
        ));
        self.peers.insert(
            id,
            Peer {
                address,
                queue,
                task,
            },
        );
    }

    /// Stops sending to `id`.
    pub fn remove_peer(&mut self, id: u64) {
        if self.peers.remove(&id).is_some() {
            info!(self.logger, "peer removed"; "peer" => id);
        }
    }

    /// Enqueues each message for its peer. Returns the peers some message
    /// could not be queued for, and the peers a snapshot could not be queued
    /// for; the caller reports both to raft.
    pub fn send(&mut self, messages: Vec<Message>) -> Dropped {
        let mut dropped = Dropped::default();
        for message in messages {
            let to = message.to;
            let is_snapshot = message.get_msg_type() == MessageType::MsgSnapshot;
            let queued = match self.peers.get(&to) {
                Some(peer) => peer.queue.try_send(message).is_ok(),
                None => {
                    debug!(self.logger, "no address for peer, message dropped"; "to" => to);
                    false
                }
            };
            if !queued {
                if !dropped.unreachable.contains(&to) {
                    dropped.unreachable.push(to);
                }
                if is_snapshot {
                    dropped.snapshots.push(to);
                }
            }
        }
        dropped
    }
}

/// Peers whose messages [`Transport::send`] could not queue.
#[derive(Debug, Default)]
pub struct Dropped {
    /// Each peer some message was dropped for, once.
    pub unreachable: Vec<u64>,
    /// Each peer a snapshot was dropped for.
    pub snapshots: Vec<u64>,
}

async fn peer_task(
    id: u64,
    address: String,
    mut queue: mpsc::Receiver<Message>,
    events: mpsc::Sender<NetworkEvent>,
    logger: Logger,
) {
    let mut backoff = FIRST_BACKOFF;
    'connect: loop {
        // Wait for something to send before dialling.
        let Some(first) = queue.recv().await else {
            return;
        };
        let mut connection = match TcpStream::connect(&address).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                backoff = FIRST_BACKOFF;
                Framed::new(stream, codec())
            }
            Err(error) => {
                debug!(logger, "connect failed"; "address" => &address, "error" => %error, "retry_in_ms" => backoff.as_millis());
                let mut lost = vec![first];
                while let Ok(message) = queue.try_recv() {
                    lost.push(message);
                }
                if report_lost(id, &lost, &events).await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue 'connect;
            }
        };
        let mut next = Some(first);
        loop {
            // Write everything queued, then flush once.
            let mut batch = Vec::new();
            if let Some(message) = next.take() {
                batch.push(message);
            }
            while batch.len() < 256 {
                match queue.try_recv() {
                    Ok(message) => batch.push(message),
                    Err(_) => break,
                }
            }
            let mut result = Ok(());
            for message in &batch {
                let bytes = Bytes::from(
                    message
                        .write_to_bytes()
                        .expect("a raft message always encodes"),
                );
                result = connection.feed(bytes).await;
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() {
                result = SinkExt::<Bytes>::flush(&mut connection).await;
            }
            match result {
                Ok(()) => {
                    for message in &batch {
                        if message.get_msg_type() == MessageType::MsgSnapshot {
                            let event = NetworkEvent::SnapshotSent(id, true);
                            if events.send(event).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                Err(error) => {
                    debug!(logger, "send failed"; "error" => %error);
                    if report_lost(id, &batch, &events).await.is_err() {
                        return;
                    }
                    continue 'connect;
                }
            }
            match queue.recv().await {
                Some(message) => next = Some(message),
                None => return,
            }
        }
    }
}

async fn report_lost(
    id: u64,
    lost: &[Message],
    events: &mpsc::Sender<NetworkEvent>,
) -> Result<(), mpsc::error::SendError<NetworkEvent>> {
    for message in lost {
        if message.get_msg_type() == MessageType::MsgSnapshot {
            events.send(NetworkEvent::SnapshotSent(id, false)).await?;
        }
    }
    events.send(NetworkEvent::Unreachable(id)).await
}

/// Accepts peer connections on `listener` and forwards every decoded
/// message to `events`. A frame that does not decode closes that
/// connection (logged); nothing a peer sends can stop the listener.
pub async fn listen(listener: TcpListener, events: mpsc::Sender<NetworkEvent>, logger: Logger) {
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                debug!(logger, "accept failed"; "error" => %error);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(receive(stream, from, events.clone(), logger.clone()));
    }
}

async fn receive(
    stream: TcpStream,
    from: SocketAddr,
    events: mpsc::Sender<NetworkEvent>,
    logger: Logger,
) {
    let mut frames = FramedRead::new(stream, codec());
    while let Some(frame) = frames.next().await {
        let message = match frame.map_err(|e| e.to_string()).and_then(|bytes| {
            Message::parse_from_tokio_bytes(&bytes.freeze()).map_err(|e| e.to_string())
        }) {
            Ok(message) => message,
            Err(error) => {
                debug!(logger, "bad frame from peer, connection closed"; "from" => %from, "error" => error);
                return;
            }
        };
        if events
            .send(NetworkEvent::Message(Box::new(message)))
            .await
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn logger() -> Logger {
        Logger::root(slog::Discard, slog::o!())
    }

    fn message(to: u64, msg_type: MessageType, index: u64) -> Message {
        Message {
            msg_type: msg_type.into(),
            from: 1,
            to,
            index,
            ..Default::default()
        }
    }

    async fn next_event(events: &mut mpsc::Receiver<NetworkEvent>) -> NetworkEvent {
        tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("an event within 10 s")
            .expect("the event channel is open")
    }

    #[tokio::test]
    async fn messages_arrive_in_order_at_the_peer_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (inbound_sender, mut inbound) = mpsc::channel(16);
        tokio::spawn(listen(listener, inbound_sender, logger()));
        let (events, _outbound_events) = mpsc::channel(16);
        let mut transport = Transport::new(Handle::current(), events, 16, logger());
        transport.set_peer(2, address);
        let sent: Vec<Message> = (1..=5)
            .map(|i| message(2, MessageType::MsgAppend, i))
            .collect();
        let dropped = transport.send(sent.clone());
        assert!(dropped.unreachable.is_empty());
        for expected in sent {
            match next_event(&mut inbound).await {
                NetworkEvent::Message(received) => assert_eq!(*received, expected),
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_full_queue_drops_the_message_and_names_the_peer_once() {
        // A runtime that is never driven: the peer task never drains its
        // queue, so the queue's bound is what decides.
        let idle = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (events, _events) = mpsc::channel(16);
        let mut transport = Transport::new(idle.handle().clone(), events, 2, logger());
        transport.set_peer(2, "127.0.0.1:9".to_owned());
        let fits = transport.send(vec![
            message(2, MessageType::MsgAppend, 1),
            message(2, MessageType::MsgAppend, 2),
        ]);
        assert!(fits.unreachable.is_empty() && fits.snapshots.is_empty());
        let dropped = transport.send(vec![
            message(2, MessageType::MsgAppend, 3),
            message(2, MessageType::MsgSnapshot, 4),
        ]);
        assert_eq!(dropped.unreachable, vec![2]);
        assert_eq!(dropped.snapshots, vec![2]);
    }

    #[test]
    fn a_message_to_an_unknown_peer_is_dropped_and_reported() {
        let idle = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (events, _events) = mpsc::channel(16);
        let mut transport = Transport::new(idle.handle().clone(), events, 2, logger());
        let dropped = transport.send(vec![message(7, MessageType::MsgHeartbeat, 0)]);
        assert_eq!(dropped.unreachable, vec![7]);
        assert!(dropped.snapshots.is_empty());
    }

    #[tokio::test]
    async fn a_snapshot_to_a_dead_address_is_reported_failed_and_the_peer_unreachable() {
        // Bind then close a port so that nothing listens there.
        let address = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let (events_sender, mut events) = mpsc::channel(16);
        let mut transport = Transport::new(Handle::current(), events_sender, 16, logger());
        transport.set_peer(3, address);
        transport.send(vec![message(3, MessageType::MsgSnapshot, 9)]);
        assert!(matches!(
            next_event(&mut events).await,
            NetworkEvent::SnapshotSent(3, false)
        ));
        assert!(matches!(
            next_event(&mut events).await,
            NetworkEvent::Unreachable(3)
        ));
    }

    #[tokio::test]
    async fn a_written_snapshot_is_reported_finished() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (inbound_sender, mut inbound) = mpsc::channel(16);
        tokio::spawn(listen(listener, inbound_sender, logger()));
        let (events_sender, mut events) = mpsc::channel(16);
        let mut transport = Transport::new(Handle::current(), events_sender, 16, logger());
        transport.set_peer(2, address);
        transport.send(vec![message(2, MessageType::MsgSnapshot, 9)]);
        assert!(matches!(
            next_event(&mut events).await,
            NetworkEvent::SnapshotSent(2, true)
        ));
        assert!(matches!(
            next_event(&mut inbound).await,
            NetworkEvent::Message(m) if m.get_msg_type() == MessageType::MsgSnapshot
        ));
    }

    #[tokio::test]
    async fn a_garbage_frame_closes_only_its_own_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (inbound_sender, mut inbound) = mpsc::channel(16);
        tokio::spawn(listen(listener, inbound_sender, logger()));
        // A frame of four bytes that are not a protobuf message.
        let mut rogue = TcpStream::connect(address).await.unwrap();
        rogue
            .write_all(&[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff])
            .await
            .unwrap();
        let (events, _events) = mpsc::channel(16);
        let mut transport = Transport::new(Handle::current(), events, 16, logger());
        transport.set_peer(2, address.to_string());
        transport.send(vec![message(2, MessageType::MsgHeartbeat, 0)]);
        assert!(matches!(
            next_event(&mut inbound).await,
            NetworkEvent::Message(m) if m.get_msg_type() == MessageType::MsgHeartbeat
        ));
    }
}
