//! The tokio adapter: one UDP socket for the clients, one TCP connection per
//! client to the broker. It owns the sockets and the clock and stays thin:
//! read, feed the [`Gateway`], carry out its [`Transmit`]s, sleep until its
//! deadline.
// The adapter is the one place that reads the clock (clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::{Config, ConnId, Gateway, Transmit};

/// Byte batches queued towards one broker connection. Past this the broker
/// is not keeping up: the connection is dropped (its clients are told, as
/// for any lost broker connection) rather than buffered without bound.
const WRITE_QUEUE: usize = 1024;

/// Reports queued from the broker connections to the gateway task; a full
/// queue makes the readers wait, so TCP flow control slows the broker down.
const UPSTREAM_QUEUE: usize = 1024;

/// What a broker connection task reports.
enum Upstream {
    Bytes(ConnId, Bytes),
    Closed(ConnId),
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
    let mut gw = Gateway::new(config, seed, Instant::now());
    let (up_tx, mut up_rx) = mpsc::channel::<Upstream>(UPSTREAM_QUEUE);
    let mut writers: HashMap<ConnId, mpsc::Sender<Bytes>> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        while let Some(t) = gw.poll_transmit() {
            match t {
                Transmit::Datagram { to, data } => {
                    // A full socket buffer or an unreachable client must not stop the gateway.
                    let _ = socket.send_to(&data, to).await;
                }
                Transmit::Open(conn) => {
                    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
                    writers.insert(conn, tx);
                    tokio::spawn(connection(conn, broker, rx, up_tx.clone()));
                }
                Transmit::Data { conn, data } => {
                    let full = writers.get(&conn).is_some_and(|w| {
                        matches!(w.try_send(data), Err(mpsc::error::TrySendError::Full(_)))
                    });
                    if full {
                        tracing::warn!(conn = ?conn, "broker not keeping up: dropping its connection");
                        writers.remove(&conn);
                        gw.handle_broker_closed(Instant::now(), conn);
                    }
                }
                Transmit::Close(conn) => {
                    writers.remove(&conn);
                }
            }
        }
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
            Some(up) = up_rx.recv() => match up {
                Upstream::Bytes(conn, data) => gw.handle_broker_bytes(Instant::now(), conn, &data),
                Upstream::Closed(conn) => {
                    writers.remove(&conn);
                    gw.handle_broker_closed(Instant::now(), conn);
                }
            },
            () = sleep => gw.handle_timeout(Instant::now()),
        }
        while gw.poll_event().is_some() {}
    }
}

/// One broker connection: connect, then copy bytes both ways until either
/// side ends. The writer channel closing (the gateway's `Close`) ends it.
async fn connection(
    conn: ConnId,
    broker: SocketAddr,
    mut rx: mpsc::Receiver<Bytes>,
    up: mpsc::Sender<Upstream>,
) {
    let Ok(stream) = TcpStream::connect(broker).await else {
        let _ = up.send(Upstream::Closed(conn)).await;
        return;
    };
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
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
    while let Some(data) = rx.recv().await {
        if writer.write_all(&data).await.is_err() {
            break;
        }
    }
    let _ = writer.shutdown().await;
    read.abort();
}
