//! The tokio TCP adapter: listeners, one reader and one writer task per
//! connection, and one task that owns the [`Broker`].
//!
//! Each reader task decodes its own connection with a
//! [`StreamDecoder`] (so decoding runs on every
//! core) and hands whole packets to the broker task through
//! [`Broker::handle_packet`]. Each writer task batches what is queued for its
//! socket into one write. The broker task never holds anything across an
//! `.await` but the channel receive and the sleep until the next deadline.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use mqtt_broker_core::{Broker, Config};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:1883").await?;
//! let broker = Broker::new(Config::default(), 42);
//! mqtt_broker_core::tokio::serve(vec![listener], broker, std::future::pending()).await
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{DecodeError, Packet, ReasonCode, StreamDecoder};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::task::AbortHandle;

use crate::{client_may_send, Broker, ConnId, Event};

/// Largest batch of queued packets written to a socket in one call.
const WRITE_BATCH: usize = 64 * 1024;

enum Input {
    Accepted(TcpStream),
    Packet(ConnId, Packet, usize),
    Malformed(ConnId, DecodeError),
    Forbidden(ConnId),
    Lost(ConnId),
}

/// What the broker task queued for one connection's writer. Smaller than a
/// channel while idle: an empty queue allocates nothing.
#[derive(Default)]
struct Outbox {
    queue: Mutex<Queue>,
    closed: AtomicBool,
    notify: Notify,
}

/// The bytes waiting for one connection's writer, and their total.
#[derive(Default)]
struct Queue {
    items: VecDeque<Bytes>,
    bytes: usize,
}

impl Outbox {
    /// Queues `bytes`; `false` (and nothing queued) when that would hold
    /// more than `limit` bytes for this connection: a slow consumer.
    fn push(&self, bytes: Bytes, limit: usize) -> bool {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.bytes + bytes.len() > limit && !q.items.is_empty() {
            return false;
        }
        q.bytes += bytes.len();
        q.items.push_back(bytes);
        drop(q);
        self.notify.notify_one();
        true
    }

    /// The writer ends once everything queued before is written.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Everything queued (at most about [`WRITE_BATCH`] bytes), and whether
    /// the outbox is closed.
    fn take(&self, batch: &mut VecDeque<Bytes>) -> bool {
        let closed = self.closed.load(Ordering::Acquire);
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let mut size = 0;
        while size < WRITE_BATCH {
            let Some(b) = q.items.pop_front() else { break };
            size += b.len();
            batch.push_back(b);
        }
        q.bytes -= size;
        if q.items.is_empty() && q.items.capacity() > 64 {
            q.items.shrink_to_fit();
        }
        closed && q.items.is_empty()
    }
}

struct Link {
    out: Arc<Outbox>,
    reader: AbortHandle,
    writer: tokio::task::JoinHandle<()>,
}

/// How long a graceful shutdown waits for the last writes.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The adapter's clock: tokio's, so that paused-clock tests control it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs `broker` on `listeners` until `shutdown` completes; then every
/// connection gets DISCONNECT 0x8B (in 5.0) and is closed, waiting at most
/// two seconds for the last writes.
///
/// # Errors
/// Never today (accept errors are logged and retried); the `Result` leaves
/// room for listener failures.
pub async fn serve(
    listeners: Vec<TcpListener>,
    mut broker: Broker,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Input>(1024);
    let mut accepts = Vec::new();
    for l in listeners {
        let tx = tx.clone();
        accepts.push(tokio::spawn(accept_loop(l, tx)));
    }
    let max_packet = usize::try_from(broker.config().max_packet_size).unwrap_or(usize::MAX);
    let max_queue = broker.config().max_write_queue_bytes;
    let mut links: HashMap<ConnId, Link> = HashMap::new();
    tokio::pin!(shutdown);
    loop {
        while let Some(t) = broker.poll_transmit() {
            let Some(link) = links.get(&t.conn) else {
                continue;
            };
            if !link.out.push(t.payload, max_queue) {
                // A slow consumer: drop the connection rather than buffer
                // without bound; the broker handles it as a lost connection
                // (will, session kept for redelivery).
                tracing::warn!(
                    conn = t.conn.0,
                    max_queue,
                    "write queue full, closing slow consumer"
                );
                if let Some(link) = links.remove(&t.conn) {
                    link.reader.abort();
                    link.out.close();
                }
                broker.connection_lost(now(), t.conn);
            }
        }
        while let Some(ev) = broker.poll_event() {
            match ev {
                Event::Connected {
                    conn,
                    client_id,
                    version,
                    session_present,
                } => tracing::info!(
                    conn = conn.0,
                    %client_id,
                    ?version,
                    session_present,
                    "client connected"
                ),
                Event::QueueFull { client_id, limit } => tracing::warn!(
                    %client_id,
                    limit,
                    "queue full: dropping messages for this client"
                ),
                Event::Close { conn, reason } => {
                    tracing::info!(conn = conn.0, reason = reason.0, "closing connection");
                    // The writer ends after it flushed what was queued.
                    if let Some(link) = links.remove(&conn) {
                        link.reader.abort();
                        link.out.close();
                    }
                }
            }
        }
        let wake = broker.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            input = rx.recv() => {
                let Some(input) = input else { break };
                match input {
                    Input::Accepted(stream) => {
                        let conn = broker.open(now());
                        let _ = stream.set_nodelay(true);
                        let peer = stream.peer_addr().ok();
                        tracing::debug!(conn = conn.0, ?peer, "connection accepted");
                        let (r, w) = stream.into_split();
                        let out = Arc::new(Outbox::default());
                        let writer = tokio::spawn(write_loop(w, out.clone()));
                        let reader = tokio::spawn(read_loop(conn, r, max_packet, tx.clone()));
                        links.insert(conn, Link { out, reader: reader.abort_handle(), writer });
                    }
                    Input::Packet(conn, p, size) => {
                        broker.record_bytes_received(size);
                        broker.handle_packet(now(), conn, p);
                    }
                    Input::Malformed(conn, e) => {
                        tracing::debug!(conn = conn.0, error = %e, "malformed input");
                        broker.handle_decode_error(now(), conn, &e);
                    }
                    Input::Forbidden(conn) => {
                        tracing::debug!(conn = conn.0, "packet type only a server sends");
                        broker.handle_violation(now(), conn, ReasonCode::PROTOCOL_ERROR);
                    }
                    Input::Lost(conn) => {
                        tracing::debug!(conn = conn.0, "connection lost");
                        if let Some(link) = links.remove(&conn) {
                            link.out.close();
                        }
                        broker.connection_lost(now(), conn);
                    }
                }
            }
            () = sleep_until(wake) => broker.handle_timeout(now()),
            () = &mut shutdown => break,
        }
    }
    for a in accepts {
        a.abort();
    }
    // Graceful: DISCONNECT 0x8B to 5.0 clients, flushed before the sockets close.
    broker.shutdown(now());
    while let Some(t) = broker.poll_transmit() {
        if let Some(link) = links.get(&t.conn) {
            link.out.push(t.payload, max_queue);
        }
    }
    let mut writers = Vec::new();
    for (_, link) in links {
        link.reader.abort();
        link.out.close();
        writers.push(link.writer);
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        for w in writers {
            let _ = w.await;
        }
    })
    .await;
    Ok(())
}

async fn sleep_until(wake: Option<tokio::time::Instant>) {
    match wake {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn accept_loop(listener: TcpListener, tx: mpsc::Sender<Input>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                if tx.send(Input::Accepted(stream)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn read_loop(conn: ConnId, r: OwnedReadHalf, max: usize, tx: mpsc::Sender<Input>) {
    let mut decoder = StreamDecoder::detect_version(max);
    let mut buf = BytesMut::new();
    loop {
        // Bounded: each iteration consumes a frame or waits for bytes.
        loop {
            if decoder.version().is_some() && buf.first().is_some_and(|&b| !client_may_send(b)) {
                let _ = tx.send(Input::Forbidden(conn)).await;
                return;
            }
            let before = buf.len();
            match decoder.decode(&mut buf) {
                Ok(Some(p)) => {
                    let size = before - buf.len();
                    if let Packet::Connect(c) = &p {
                        decoder.set_version(c.protocol_version);
                    }
                    if tx.send(Input::Packet(conn, p, size)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Input::Malformed(conn, e)).await;
                    return;
                }
            }
        }
        // An idle connection holds no read buffer: wait for readability
        // first, and give the buffer back once every byte was consumed.
        if buf.is_empty() {
            buf = BytesMut::new();
        }
        if r.readable().await.is_err() {
            let _ = tx.send(Input::Lost(conn)).await;
            return;
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        match r.try_read_buf(&mut buf) {
            Ok(0) => {
                let _ = tx.send(Input::Lost(conn)).await;
                return;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => {
                let _ = tx.send(Input::Lost(conn)).await;
                return;
            }
        }
    }
}

async fn write_loop(mut w: OwnedWriteHalf, out: Arc<Outbox>) {
    let mut items = VecDeque::new();
    let mut batch = BytesMut::new();
    loop {
        let done = out.take(&mut items);
        let result = match items.len() {
            0 if done => break,
            0 => {
                // Idle: hold no buffer while waiting.
                items = VecDeque::new();
                out.notify.notified().await;
                continue;
            }
            1 => {
                let one = items.pop_front().unwrap_or_default();
                w.write_all(&one).await
            }
            _ => {
                for b in items.drain(..) {
                    batch.extend_from_slice(&b);
                }
                let r = w.write_all(&batch).await;
                batch = BytesMut::new();
                r
            }
        };
        if result.is_err() {
            return;
        }
    }
    let _ = w.shutdown().await;
}
