//! The tokio adapter: one UDP socket for the clients, one TCP connection per
//! client to the broker. It owns the sockets and the clock and stays thin:
//! read, feed the [`Gateway`], carry out its [`Transmit`]s, sleep until its
//! deadline.
//!
//! Batching: after each wake-up the adapter takes the datagrams and broker
//! reports already waiting (up to a batch) without going back to the
//! scheduler, carrying out each one's transmits before the next; bytes for a
//! broker connection are appended to its buffer and the connection's writer
//! task writes out whatever has gathered in one call. (Writing from the
//! gateway task itself was tried: it made the tail latency worse on a busy
//! 2-core machine and QoS 1 slower, as the writes no longer ran beside the
//! gateway task.)
//!
//! Back-pressure: the bytes waiting for a broker connection are reported to
//! the gateway ([`Gateway::handle_broker_backlog`]), which refuses or drops
//! client traffic past [`Config::max_backlog`]; a connection whose backlog
//! still reaches four times that (at least 256 KiB more) is dropped (its
//! clients are told, as for any lost broker connection).
// The adapter is the one place that reads the clock (clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::{Buf as _, Bytes, BytesMut};
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, Notify};

use crate::{Config, ConnId, Event, Gateway, Transmit};

/// Reports queued from the broker connections to the gateway task; a full
/// queue makes the readers wait, so TCP flow control slows the broker down.
const UPSTREAM_QUEUE: usize = 1024;

/// Most inputs (datagrams, broker reports) taken in a row per wake-up.
const BATCH: usize = 64;

/// How long a closed broker connection may take to write what is left.
const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// What a broker connection task reports.
enum Upstream {
    Bytes(ConnId, Bytes),
    /// The writer made progress: the backlog shrank.
    Drained(ConnId),
    Closed(ConnId),
}

/// The write side of one broker connection, shared by the gateway task
/// (which appends) and the connection's writer task (which drains).
#[derive(Default)]
struct WriteState {
    /// Bytes the socket did not take yet.
    buf: BytesMut,
    /// The gateway dropped the connection: write what is left, then shut down.
    closed: bool,
    /// The backlog last reported to the gateway.
    reported: usize,
}

struct Writer {
    state: Mutex<WriteState>,
    wake: Notify,
}

impl Writer {
    fn lock(&self) -> std::sync::MutexGuard<'_, WriteState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `data` for the writer task; returns the backlog.
    fn push(&self, data: &[u8]) -> usize {
        let mut st = self.lock();
        st.buf.extend_from_slice(data);
        self.wake.notify_one();
        st.buf.len()
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }
}

/// Runs a gateway on `socket`, connecting to the MQTT broker at `broker`,
/// until an I/O error on the UDP socket.
///
/// # Errors
/// An error receiving from or sending on the UDP socket.
pub async fn run(socket: UdpSocket, broker: SocketAddr, config: Config) -> io::Result<()> {
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let max_backlog = config.max_backlog.max(1);
    let mut gw = Gateway::new(config, seed, Instant::now());
    let (up_tx, mut up_rx) = mpsc::channel::<Upstream>(UPSTREAM_QUEUE);
    let mut writers: HashMap<ConnId, Arc<Writer>> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    let mut last_warn: Option<Instant> = None;
    // Past this a connection is dropped: the gateway stops writing to it
    // at max_backlog, so only answers and keep-alives come on top.
    let hard_limit = (4 * max_backlog).max(max_backlog + 256 * 1024);
    // Inputs taken in a row without waiting (see BATCH).
    let mut batch = 0;
    loop {
        while let Some(t) = gw.poll_transmit() {
            match t {
                Transmit::Datagram { to, data } => {
                    // A full socket buffer or an unreachable client must not stop the gateway.
                    match socket.try_send_to(&data, to) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            let _ = socket.send_to(&data, to).await;
                        }
                        _ => {}
                    }
                }
                Transmit::Open(conn) => {
                    let w = Arc::new(Writer {
                        state: Mutex::new(WriteState::default()),
                        wake: Notify::new(),
                    });
                    writers.insert(conn, w.clone());
                    tokio::spawn(connection(conn, broker, w, up_tx.clone(), max_backlog));
                }
                Transmit::Data { conn, data } => {
                    let Some(w) = writers.get(&conn) else {
                        continue;
                    };
                    let backlog = w.push(&data);
                    if backlog > hard_limit {
                        tracing::warn!(
                            ?conn,
                            backlog,
                            "broker not reading: dropping its connection"
                        );
                        if let Some(w) = writers.remove(&conn) {
                            w.close();
                        }
                        gw.handle_broker_closed(Instant::now(), conn);
                        continue;
                    }
                    report(&mut gw, conn, w, backlog, max_backlog);
                }
                Transmit::Close(conn) => {
                    if let Some(w) = writers.remove(&conn) {
                        w.close();
                    }
                }
            }
        }
        while let Some(ev) = gw.poll_event() {
            if let Event::Congested { peer, dropped } = ev {
                tracing::debug!(client = %peer.addr, dropped, "broker side congested");
                if last_warn.is_none_or(|t: Instant| t.elapsed().as_secs() >= 1) {
                    let s = gw.stats();
                    tracing::warn!(
                        rejected = s.rejected_congestion,
                        dropped = s.dropped_congestion,
                        "broker side congested: refusing or dropping client traffic (totals so far)"
                    );
                    last_warn = Some(Instant::now());
                }
            }
        }
        // Take what is already waiting, one input at a time (so the
        // backlog the gateway sees is never more than one input old), up to
        // BATCH in a row; then wait.
        if batch > 0 && batch < BATCH {
            batch += 1;
            match socket.try_recv_from(&mut buf) {
                Ok((n, from)) => {
                    gw.handle_datagram(Instant::now(), from, Bytes::copy_from_slice(&buf[..n]));
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if let Ok(up) = up_rx.try_recv() {
                upstream(&mut gw, &mut writers, up, max_backlog);
                continue;
            }
        }
        batch = 1;
        let deadline = gw.poll_timeout().map(tokio::time::Instant::from_std);
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let (n, from) = r?;
                gw.handle_datagram(Instant::now(), from, Bytes::copy_from_slice(&buf[..n]));
            }
            Some(up) = up_rx.recv() => upstream(&mut gw, &mut writers, up, max_backlog),
            () = sleep => gw.handle_timeout(Instant::now()),
        }
    }
}

/// Reports `conn`'s backlog to the gateway when it changed; one under a
/// quarter of `max_backlog` counts as none, so a broker that keeps up costs
/// no reports.
fn report(gw: &mut Gateway, conn: ConnId, w: &Writer, backlog: usize, max_backlog: usize) {
    let backlog = if backlog >= max_backlog / 4 {
        backlog
    } else {
        0
    };
    let mut st = w.lock();
    if st.reported != backlog {
        st.reported = backlog;
        drop(st);
        gw.handle_broker_backlog(Instant::now(), conn, backlog);
    }
}

fn upstream(
    gw: &mut Gateway,
    writers: &mut HashMap<ConnId, Arc<Writer>>,
    up: Upstream,
    max_backlog: usize,
) {
    match up {
        Upstream::Bytes(conn, data) => gw.handle_broker_bytes(Instant::now(), conn, &data),
        Upstream::Drained(conn) => {
            if let Some(w) = writers.get(&conn) {
                let backlog = w.lock().buf.len();
                report(gw, conn, w, backlog, max_backlog);
            }
        }
        Upstream::Closed(conn) => {
            if let Some(w) = writers.remove(&conn) {
                w.close();
            }
            gw.handle_broker_closed(Instant::now(), conn);
        }
    }
}

/// One broker connection: connect, then copy bytes both ways until either
/// side ends. [`Writer::close`] (the gateway's `Close`) ends it.
async fn connection(
    conn: ConnId,
    broker: SocketAddr,
    w: Arc<Writer>,
    up: mpsc::Sender<Upstream>,
    max_backlog: usize,
) {
    let Ok(stream) = TcpStream::connect(broker).await else {
        let _ = up.send(Upstream::Closed(conn)).await;
        return;
    };
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let read_up = up.clone();
    let read = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let data = Bytes::copy_from_slice(&buf[..n]);
                    if read_up.send(Upstream::Bytes(conn, data)).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = read_up.send(Upstream::Closed(conn)).await;
    });
    let mut linger = None;
    let failed = loop {
        let (pending, closed) = {
            let st = w.lock();
            (!st.buf.is_empty(), st.closed)
        };
        if !pending {
            if closed {
                break false;
            }
            w.wake.notified().await;
            continue;
        }
        // Once the gateway closed the connection, what is left gets a
        // bounded time: a broker that stopped reading must not keep it.
        let writable = if closed {
            let until = *linger.get_or_insert_with(|| tokio::time::Instant::now() + CLOSE_LINGER);
            match tokio::time::timeout_at(until, writer.writable()).await {
                Ok(r) => r,
                Err(_) => break false,
            }
        } else {
            // A close (or more bytes) wakes it too.
            tokio::select! {
                r = writer.writable() => r,
                () = w.wake.notified() => continue,
            }
        };
        if writable.is_err() {
            break true;
        }
        let drained = {
            let mut st = w.lock();
            match writer.try_write(&st.buf) {
                Ok(n) => {
                    st.buf.advance(n);
                    // Tell the gateway when the backlog it knows of shrank
                    // by half or below what it reports: it may accept
                    // traffic again.
                    let left = st.buf.len();
                    st.reported > 0 && (left <= st.reported / 2 || left < max_backlog / 4)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
                Err(_) => break true,
            }
        };
        if drained && up.send(Upstream::Drained(conn)).await.is_err() {
            break true;
        }
    };
    // Dropping the write half shuts the write direction down, so the
    // broker sees the end of our stream.
    drop(writer);
    if failed {
        let _ = up.send(Upstream::Closed(conn)).await;
    }
    read.abort();
}
