//! The tokio TCP adapter: listeners, one task per connection, and one task
//! that owns the [`Broker`].
//!
//! Each connection task decodes its own connection with a
//! [`StreamDecoder`] (so decoding runs on every
//! core), hands whole packets to the broker task through
//! [`Broker::handle_packet`], and writes what the broker queued for it with
//! vectored writes (no copy into a batch buffer). An idle connection holds
//! no read or write buffer: the task waits for readiness and allocates only
//! when bytes arrive. The broker task never holds anything across an
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

use std::collections::HashMap;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use mqtt_codec::{DecodeError, Packet, ReasonCode, StreamDecoder};
use tokio::io::AsyncWrite;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::broker::ConnIdHash;
use crate::{client_may_send, Broker, ConnId, Event};

/// Largest batch of queued packets written to a socket in one call.
const WRITE_BATCH: usize = 64 * 1024;

/// Most inputs the broker task takes from its channel at once.
const INPUT_BATCH: usize = 256;

/// Most buffers in one vectored write.
const MAX_SLICES: usize = 64;

enum Input {
    Accepted(TcpStream),
    Packet(ConnId, Packet, usize),
    Malformed(ConnId, DecodeError),
    Forbidden(ConnId),
    Lost(ConnId),
}

/// What the broker task queued for one connection's task. Smaller than a
/// channel while idle: an empty queue allocates nothing.
#[derive(Default)]
struct Outbox {
    queue: Mutex<Queue>,
    /// What the connection task took from the queue and is writing. Only
    /// that task locks it; it lives here rather than in the task so that
    /// the task stays small (tokio rounds a task up to 128-byte lines).
    /// Vectors rather than `VecDeque`s (8 bytes less each): the outbox
    /// then fits a smaller allocator bucket (memory per idle connection).
    sending: Mutex<Vec<Bytes>>,
}

/// The bytes waiting for one connection, their total, and the task to wake.
#[derive(Default)]
struct Queue {
    items: Vec<Bytes>,
    waker: Option<Waker>,
    bytes: u32,
    closed: bool,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `bytes`; `false` (and nothing queued) when that would hold
    /// more than `limit` bytes for this connection: a slow consumer.
    fn push(&self, bytes: Bytes, limit: usize) -> bool {
        let mut q = self.lock();
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        if q.bytes as usize + bytes.len() > limit.min(u32::MAX as usize) && !q.items.is_empty() {
            return false;
        }
        q.bytes += len;
        q.items.push(bytes);
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// The connection task stops reading and ends once everything queued
    /// before is written.
    fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Moves what is queued (at most about [`WRITE_BATCH`] bytes) to the
    /// empty `batch`; when nothing was queued, `waker` is woken by the next
    /// push and neither queue keeps its capacity (an idle connection holds
    /// none). Returns whether the outbox is closed, and whether it is then
    /// empty.
    fn take(&self, batch: &mut Vec<Bytes>, waker: &Waker) -> (bool, bool) {
        let mut q = self.lock();
        if q.items.is_empty() {
            q.items = Vec::new();
            *batch = Vec::new();
        } else if q.items.len() <= MAX_SLICES && q.bytes as usize <= WRITE_BATCH {
            // Busy: the two queues trade places, so neither grows again.
            std::mem::swap(&mut q.items, batch);
            q.bytes = 0;
        } else {
            let (mut size, mut n) = (0, 0);
            while size < WRITE_BATCH && batch.len() + n < MAX_SLICES {
                let Some(b) = q.items.get(n) else { break };
                size += b.len();
                n += 1;
            }
            batch.extend(q.items.drain(..n));
            q.bytes -= u32::try_from(size).unwrap_or(q.bytes);
        }
        if q.items.is_empty() && !q.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            q.waker = Some(waker.clone());
        }
        (q.closed, q.closed && q.items.is_empty())
    }
}

struct Link {
    out: Arc<Outbox>,
    task: tokio::task::JoinHandle<()>,
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
    let mut links: HashMap<ConnId, Link, ConnIdHash> = HashMap::default();
    let mut inputs = Vec::with_capacity(INPUT_BATCH);
    let timer = tokio::time::sleep_until(far_future());
    tokio::pin!(timer);
    let mut armed = None;
    tokio::pin!(shutdown);
    loop {
        hand_out(&mut broker, &mut links, max_queue);
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
                    // The task ends after it flushed what was queued.
                    if let Some(link) = links.remove(&conn) {
                        link.out.close();
                    }
                }
            }
        }
        // One timer, moved only when the next deadline changes (not a new
        // timer entry per input).
        let wake = broker.poll_timeout().map(tokio::time::Instant::from_std);
        if wake != armed {
            armed = wake;
            if let Some(t) = wake {
                timer.as_mut().reset(t);
            }
        }
        tokio::select! {
            n = rx.recv_many(&mut inputs, INPUT_BATCH) => {
                if n == 0 {
                    break;
                }
                // A batch of inputs, then the transmits of all of them: fewer
                // wake-ups, and packets for one connection go out together.
                let now = now();
                for input in inputs.drain(..) {
                    match input {
                        Input::Accepted(stream) => {
                            let conn = broker.open(now);
                            let _ = stream.set_nodelay(true);
                            let peer = stream.peer_addr().ok();
                            tracing::debug!(conn = conn.0, ?peer, "connection accepted");
                            let out = Arc::new(Outbox::default());
                            let task = tokio::spawn(ConnTask::new(conn, stream, max_packet, tx.clone(), out.clone()));
                            links.insert(conn, Link { out, task });
                        }
                        Input::Packet(conn, p, size) => {
                            broker.record_bytes_received(size);
                            broker.handle_packet(now, conn, p);
                        }
                        Input::Malformed(conn, e) => {
                            tracing::debug!(conn = conn.0, error = %e, "malformed input");
                            broker.handle_decode_error(now, conn, &e);
                        }
                        Input::Forbidden(conn) => {
                            tracing::debug!(conn = conn.0, "packet type only a server sends");
                            broker.handle_violation(now, conn, ReasonCode::PROTOCOL_ERROR);
                        }
                        Input::Lost(conn) => {
                            tracing::debug!(conn = conn.0, "connection lost");
                            if let Some(link) = links.remove(&conn) {
                                link.out.close();
                            }
                            broker.connection_lost(now, conn);
                        }
                    }
                }
            }
            () = &mut timer, if armed.is_some() => {
                armed = None;
                broker.handle_timeout(now());
            }
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
        link.out.close();
        writers.push(link.task);
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        for w in writers {
            let _ = w.await;
        }
    })
    .await;
    Ok(())
}

/// Queues the broker's transmits on their connections. A connection whose
/// queue is full (a slow consumer) is dropped rather than buffered without
/// bound; the broker handles it as a lost connection (will, session kept
/// for redelivery).
fn hand_out(broker: &mut Broker, links: &mut HashMap<ConnId, Link, ConnIdHash>, max_queue: usize) {
    while let Some(t) = broker.poll_transmit() {
        let Some(link) = links.get(&t.conn) else {
            continue;
        };
        if !link.out.push(t.payload, max_queue) {
            tracing::warn!(
                conn = t.conn.0,
                max_queue,
                "write queue full, closing slow consumer"
            );
            // Dropped at once, without flushing what it did not read.
            if let Some(link) = links.remove(&t.conn) {
                link.task.abort();
            }
            broker.connection_lost(now(), t.conn);
        }
    }
}

/// A deadline for a timer that is not armed.
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365)
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

/// First read on a connection, in bytes; doubled (up to [`WRITE_BATCH`])
/// each time a read fills the buffer.
const FIRST_READ: u32 = 512;

/// Reads in a row before a busy connection lets other tasks run.
const READS_PER_POLL: usize = 16;

/// One connection: reads and decodes (until closed or broken), hands the
/// packets to the broker task, and writes what the broker queued, until the
/// broker closes the outbox and everything queued was written.
///
/// A future written by hand rather than an `async fn`: it waits through the
/// socket's own readiness slots and the outbox's waker, so an idle
/// connection's task holds no waiter nodes and stays a few hundred bytes.
struct ConnTask {
    conn: ConnId,
    stream: TcpStream,
    decoder: StreamDecoder,
    /// Empty (no allocation) while the connection is idle.
    buf: BytesMut,
    tx: mpsc::Sender<Input>,
    out: Arc<Outbox>,
    read_size: u32,
    reading: bool,
    /// The socket failed: the task ends once the broker was told.
    broken: bool,
    /// An input waiting for room in the broker's channel (allocated only
    /// then): nothing more is read or decoded before it went through.
    blocked: Option<Pin<Box<dyn Future<Output = bool> + Send>>>,
}

impl ConnTask {
    fn new(
        conn: ConnId,
        stream: TcpStream,
        max: usize,
        tx: mpsc::Sender<Input>,
        out: Arc<Outbox>,
    ) -> Self {
        Self {
            conn,
            stream,
            decoder: StreamDecoder::detect_version(max),
            buf: BytesMut::new(),
            read_size: FIRST_READ,
            tx,
            out,
            reading: true,
            broken: false,
            blocked: None,
        }
    }

    /// Hands `input` to the broker task, waiting (in `blocked`) when its
    /// channel is full; `false` when the broker task is gone.
    fn send(&mut self, cx: &mut Context<'_>, input: Input) -> bool {
        match self.tx.try_send(input) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(input)) => {
                let tx = self.tx.clone();
                let mut f = Box::pin(async move { tx.send(input).await.is_ok() });
                match f.as_mut().poll(cx) {
                    Poll::Ready(ok) => ok,
                    Poll::Pending => {
                        self.blocked = Some(f);
                        true
                    }
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Stops reading and tells the broker why.
    fn stop(&mut self, cx: &mut Context<'_>, input: Input) {
        self.reading = false;
        self.send(cx, input);
    }

    /// Hands every whole packet in the buffer to the broker task.
    fn forward(&mut self, cx: &mut Context<'_>) {
        // Bounded: each turn consumes a frame or stops.
        while self.reading && self.blocked.is_none() {
            let conn = self.conn;
            if self.decoder.version().is_some()
                && self.buf.first().is_some_and(|&b| !client_may_send(b))
            {
                return self.stop(cx, Input::Forbidden(conn));
            }
            let before = self.buf.len();
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(p)) => {
                    let size = before - self.buf.len();
                    if let Packet::Connect(c) = &p {
                        self.decoder.set_version(c.protocol_version);
                    }
                    if !self.send(cx, Input::Packet(conn, p, size)) {
                        self.reading = false;
                    }
                }
                Ok(None) => break,
                Err(e) => return self.stop(cx, Input::Malformed(conn, e)),
            }
        }
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            // Every byte consumed: give the buffer back.
            self.buf = BytesMut::new();
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) {
        for _ in 0..READS_PER_POLL {
            self.forward(cx);
            if !self.reading || self.blocked.is_some() {
                return;
            }
            match self.stream.poll_read_ready(cx) {
                Poll::Pending => return,
                Poll::Ready(Err(_)) => return self.stop(cx, Input::Lost(self.conn)),
                Poll::Ready(Ok(())) => {}
            }
            let want = self.read_size as usize;
            if self.buf.capacity() - self.buf.len() < want / 2 {
                self.buf.reserve(want);
            }
            let room = self.buf.capacity() - self.buf.len();
            match self.stream.try_read_buf(&mut self.buf) {
                Ok(0) => return self.stop(cx, Input::Lost(self.conn)),
                Ok(n) => {
                    if n == room && want < WRITE_BATCH {
                        self.read_size *= 2;
                    }
                }
                // Readiness was cleared: the next turn registers for more.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return self.stop(cx, Input::Lost(self.conn)),
            }
        }
        self.forward(cx);
        // A busy connection: let the others run, then go on.
        cx.waker().wake_by_ref();
    }

    /// Writes what is queued; `Ok(true)` once the outbox is closed and
    /// everything was written.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let mut pending = self
            .out
            .sending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Bounded: each turn writes bytes, or returns.
        loop {
            if pending.is_empty() {
                let (closed, done) = self.out.take(&mut pending, cx.waker());
                if closed {
                    self.reading = false;
                }
                if pending.is_empty() {
                    return Ok(done);
                }
            }
            match self.stream.poll_write_ready(cx) {
                Poll::Pending => return Ok(false),
                Poll::Ready(r) => r?,
            }
            try_flush(&self.stream, &mut pending)?;
        }
    }
}

impl Future for ConnTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some(f) = this.blocked.as_mut() {
            if let Poll::Ready(ok) = f.as_mut().poll(cx) {
                this.blocked = None;
                if !ok {
                    this.reading = false;
                }
            }
        }
        if !this.broken {
            match this.poll_write(cx) {
                Ok(true) => {
                    let _ = Pin::new(&mut this.stream).poll_shutdown(cx);
                    return Poll::Ready(());
                }
                Ok(false) => {}
                Err(_) => this.broken = true,
            }
        }
        if this.broken {
            if this.reading && this.blocked.is_none() {
                this.stop(cx, Input::Lost(this.conn));
            }
            return if this.blocked.is_none() {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        }
        this.poll_read(cx);
        Poll::Pending
    }
}

/// Writes as much of `pending` as the socket takes now, in vectored writes;
/// what is written leaves the queue.
fn try_flush(stream: &TcpStream, pending: &mut Vec<Bytes>) -> io::Result<()> {
    // Bounded: each turn writes at least one byte or stops.
    while !pending.is_empty() {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = pending
            .iter()
            .zip(slices.iter_mut())
            .map(|(b, s)| *s = IoSlice::new(b))
            .count();
        let mut written = match stream.try_write_vectored(&slices[..n]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(w) => w,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut done = 0;
        while written > 0 {
            let Some(front) = pending.get_mut(done) else {
                break;
            };
            if front.len() <= written {
                written -= front.len();
                done += 1;
            } else {
                front.advance(written);
                written = 0;
            }
        }
        pending.drain(..done);
    }
    Ok(())
}
