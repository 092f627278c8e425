//! The tokio adapter: a cloneable [`Client`] handle, an [`Events`] stream
//! and a [`Driver`] task that owns the transport and the machine.
//!
//! [`new`] returns the three; spawn [`Driver::run`]. The driver reads,
//! feeds [`crate::Client`], writes what it asks, sleeps until its deadline
//! and reconnects by its back-off policy. It is generic over a
//! [`Connector`], so TLS or WebSocket transports plug in later; [`TcpConnector`]
//! does TCP over IPv4 and IPv6.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use mqtt_client::tokio::{new, TcpConnector};
//! use mqtt_client::{Config, Event};
//! use mqtt_codec::{Publish, QoS, Subscription, Utf8String};
//!
//! let (client, mut events, driver) = new(Config::new("demo"), TcpConnector::new("localhost", 1883));
//! tokio::spawn(driver.run());
//! client.subscribe(vec![Subscription::new(Utf8String::from_static("a/#"), QoS::AtLeastOnce)], None).await?;
//! let msg = Publish::new(Utf8String::from_static("a/b"), Bytes::from_static(b"hi")).with_qos(QoS::AtLeastOnce, 0);
//! client.publish(msg).await?;
//! while let Some(ev) = events.recv().await {
//!     if let Event::Message(m) = ev { println!("{} {:?}", m.topic, m.payload); break; }
//! }
//! client.disconnect().await?;
//! # Ok(()) }
//! ```
#![allow(clippy::disallowed_methods)] // the adapter owns the clock and seeds the machine

mod transport;

use std::io;
use std::time::Instant;

use bytes::BytesMut;
use mqtt_codec::{Auth, Publish, QoS, ReasonCode, Subscription, Utf8String};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{mpsc, oneshot};

pub use transport::{Connector, TcpConnector};

use crate::{CommandError, Config, DisconnectReason, Event, PublishError};

/// Errors of the handle's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The driver task ended.
    #[error("the client driver has stopped")]
    DriverGone,
    /// `publish` refused.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// `subscribe`, `unsubscribe` or `auth` refused.
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// What ended [`Driver::run`] with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The connection failed and the policy does not reconnect.
    #[error("connection failed: {0}")]
    Io(#[from] io::Error),
    /// The connection ended for this reason and the policy does not reconnect.
    #[error("disconnected: {0:?}")]
    Disconnected(DisconnectReason),
}

enum Command {
    /// Without a reply channel: `publish_nowait`.
    Publish(Publish, Option<oneshot::Sender<Result<Option<u16>, Error>>>),
    Subscribe(
        Vec<Subscription>,
        Option<u32>,
        oneshot::Sender<Result<u16, Error>>,
    ),
    Unsubscribe(Vec<Utf8String>, oneshot::Sender<Result<u16, Error>>),
    Auth(Auth, oneshot::Sender<Result<(), Error>>),
    Disconnect(ReasonCode, oneshot::Sender<Result<(), Error>>),
}

/// A handle to the client; clone it freely. Commands go to the [`Driver`].
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
}

/// The stream of [`Event`]s. Keep reading it (or drop it): the driver
/// holds up to 1024 undelivered events and then waits for the reader.
#[derive(Debug)]
pub struct Events(mpsc::Receiver<Event>);

impl Events {
    /// The next event; `None` once the driver has stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.0.recv().await
    }
}

/// The task that owns the transport and the machine: spawn [`Driver::run`].
#[derive(Debug)]
pub struct Driver<C: Connector> {
    machine: crate::Client,
    connector: C,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// The handle, the event stream and the driver for `config` over
/// `connector`. The machine's PRNG is seeded from the OS.
pub fn new<C: Connector>(config: Config, connector: C) -> (Client, Events, Driver<C>) {
    with_seed(config, connector, os_seed())
}

/// As [`new`] with a given seed (reproducible client ids and jitter).
pub fn with_seed<C: Connector>(
    config: Config,
    connector: C,
    seed: u64,
) -> (Client, Events, Driver<C>) {
    let (ctx, crx) = mpsc::channel(256);
    let (etx, erx) = mpsc::channel(1024);
    let machine = crate::Client::new(config, seed, now());
    (
        Client { commands: ctx },
        Events(erx),
        Driver {
            machine,
            connector,
            commands: crx,
            events: etx,
        },
    )
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn os_seed() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

impl Client {
    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command,
    ) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| Error::DriverGone)?;
        rx.await.map_err(|_| Error::DriverGone)?
    }

    /// Publishes `msg` (see [`crate::Client::publish`]). Waits while the
    /// send queue is full. Returns the packet identifier for QoS 1 and 2.
    ///
    /// # Errors
    /// [`Error::Publish`], or [`Error::DriverGone`].
    pub async fn publish(&self, msg: Publish) -> Result<Option<u16>, Error> {
        self.call(|tx| Command::Publish(msg, Some(tx))).await
    }

    /// Queues `msg` for the driver and returns without waiting for it, as
    /// soon as the command channel has room: the fastest way to publish a
    /// stream of messages. Completion of QoS 1 and 2 messages still comes
    /// as [`Event::Published`]; a message the machine refuses is logged
    /// (tracing, `warn`) and dropped.
    ///
    /// # Errors
    /// [`Error::DriverGone`].
    pub async fn publish_nowait(&self, msg: Publish) -> Result<(), Error> {
        self.commands
            .send(Command::Publish(msg, None))
            .await
            .map_err(|_| Error::DriverGone)
    }

    /// Subscribes (see [`crate::Client::subscribe`]).
    ///
    /// # Errors
    /// [`Error::Command`], or [`Error::DriverGone`].
    pub async fn subscribe(
        &self,
        filters: Vec<Subscription>,
        subscription_id: Option<u32>,
    ) -> Result<u16, Error> {
        self.call(|tx| Command::Subscribe(filters, subscription_id, tx))
            .await
    }

    /// Unsubscribes (see [`crate::Client::unsubscribe`]).
    ///
    /// # Errors
    /// [`Error::Command`], or [`Error::DriverGone`].
    pub async fn unsubscribe(&self, filters: Vec<Utf8String>) -> Result<u16, Error> {
        self.call(|tx| Command::Unsubscribe(filters, tx)).await
    }

    /// Sends AUTH (MQTT 5.0).
    ///
    /// # Errors
    /// [`Error::Command`], or [`Error::DriverGone`].
    pub async fn auth(&self, auth: Auth) -> Result<(), Error> {
        self.call(|tx| Command::Auth(auth, tx)).await
    }

    /// Sends DISCONNECT (normal disconnection) and stops the driver once it
    /// is written.
    ///
    /// # Errors
    /// [`Error::DriverGone`] if the driver had already stopped.
    pub async fn disconnect(&self) -> Result<(), Error> {
        self.disconnect_with(ReasonCode::NORMAL_DISCONNECTION).await
    }

    /// Sends DISCONNECT with `reason` (MQTT 5.0; e.g. 0x04 to have the will
    /// published) and stops the driver.
    ///
    /// # Errors
    /// [`Error::DriverGone`] if the driver had already stopped.
    pub async fn disconnect_with(&self, reason: ReasonCode) -> Result<(), Error> {
        self.call(|tx| Command::Disconnect(reason, tx)).await
    }
}

/// Most commands applied before the driver writes.
const BATCH: usize = 256;

/// One I/O wake-up of the driver.
enum Wake {
    Read(io::Result<usize>),
    Timeout,
    Command(Option<Command>),
}

impl<C: Connector> Driver<C> {
    /// Runs until `disconnect` is called or every [`Client`] handle is
    /// dropped (`Ok`), or the connection is lost and the policy does not
    /// reconnect (`Err`).
    ///
    /// # Errors
    /// [`DriverError`] as above.
    pub async fn run(mut self) -> Result<(), DriverError> {
        let mut first = true;
        let mut blocked: Option<Command> = None;
        let mut handles_gone = false;
        loop {
            // Connect, now or at the back-off deadline; commands still apply meanwhile.
            if !first {
                loop {
                    let Some(at) = self.machine.reconnect_at() else {
                        return if self.machine.is_closed() {
                            Ok(())
                        } else {
                            Err(DriverError::Disconnected(DisconnectReason::ConnectionLost))
                        };
                    };
                    if handles_gone {
                        self.machine
                            .disconnect(now(), ReasonCode::NORMAL_DISCONNECTION);
                        self.deliver_events().await;
                        continue;
                    }
                    let accept_commands = blocked.is_none();
                    tokio::select! {
                        () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => break,
                        c = self.commands.recv(), if accept_commands => match c {
                            None => handles_gone = true,
                            Some(c) => blocked = self.apply(now(), c),
                        },
                    }
                    self.deliver_events().await;
                }
            }
            first = false;
            let timeout = self.machine.config().connect_timeout;
            let opened = match tokio::time::timeout(timeout, self.connector.connect()).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
            };
            let mut stream = match opened {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "connect failed");
                    self.machine.connect_failed(now());
                    self.deliver_events().await;
                    if self.machine.reconnect_at().is_none() {
                        return Err(DriverError::Io(e));
                    }
                    continue;
                }
            };
            self.machine.connect(now());
            let mut buf = BytesMut::with_capacity(16 * 1024);
            let mut down: Option<DisconnectReason> = None;
            while down.is_none() {
                while let Some(bytes) = self.machine.poll_transmit() {
                    if stream.write_all(&bytes).await.is_err() {
                        self.machine.connection_lost(now());
                        break;
                    }
                }
                down = self.deliver_events().await;
                if down.is_some() {
                    break;
                }
                if handles_gone && blocked.is_none() {
                    self.machine
                        .disconnect(now(), ReasonCode::NORMAL_DISCONNECTION);
                    continue;
                }
                let wake = self.machine.poll_timeout();
                let accept_commands = blocked.is_none() && !handles_gone;
                let w = tokio::select! {
                    r = stream.read_buf(&mut buf) => Wake::Read(r),
                    () = sleep_until_or_forever(wake) => Wake::Timeout,
                    c = self.commands.recv(), if accept_commands => Wake::Command(c),
                };
                let now = now();
                match w {
                    Wake::Read(Ok(0) | Err(_)) => self.machine.connection_lost(now),
                    Wake::Read(Ok(_)) => {
                        self.machine.handle_bytes(now, &buf);
                        buf.clear();
                    }
                    Wake::Timeout => self.machine.handle_timeout(now),
                    Wake::Command(None) => handles_gone = true,
                    Wake::Command(Some(c)) => {
                        blocked = self.apply(now, c);
                        // Let senders queue more before writing, so a burst of
                        // publishes goes out in one write.
                        let mut yielded = false;
                        for _ in 0..BATCH {
                            if blocked.is_some() {
                                break;
                            }
                            match self.commands.try_recv() {
                                Ok(c) => {
                                    blocked = self.apply(now, c);
                                    yielded = false;
                                }
                                Err(_) if !yielded => {
                                    tokio::task::yield_now().await;
                                    yielded = true;
                                }
                                Err(_) => break,
                            }
                        }
                    }
                }
                if let Some(c) = blocked.take() {
                    blocked = self.apply(now, c);
                }
            }
            // Flush what the machine still wants written (DISCONNECT), then close.
            while let Some(bytes) = self.machine.poll_transmit() {
                if stream.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            let _ = stream.shutdown().await;
            drop(stream);
            if self.machine.is_closed() {
                return Ok(());
            }
        }
    }

    /// Sends pending events to the stream; returns the reason if one of them
    /// says the connection is down.
    async fn deliver_events(&mut self) -> Option<DisconnectReason> {
        let mut down = None;
        while let Some(ev) = self.machine.poll_event() {
            if let Event::Disconnected { reason, .. } = &ev {
                down = Some(*reason);
            }
            // A dropped event stream is fine: the application only publishes.
            let _ = self.events.send(ev).await;
        }
        down
    }

    /// Applies a command; returns it back if it must wait (queue full).
    fn apply(&mut self, now: Instant, c: Command) -> Option<Command> {
        match c {
            Command::Publish(p, reply) => {
                // Wait for room rather than fail, while acknowledgements can still make some.
                if p.qos != QoS::AtMostOnce
                    && !self.machine.can_queue()
                    && self.machine.session().inflight_len() > 0
                {
                    return Some(Command::Publish(p, reply));
                }
                let r = self.machine.publish(now, p);
                match reply {
                    Some(reply) => {
                        let _ = reply.send(r.map_err(Error::from));
                    }
                    None => {
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "publish_nowait: message dropped");
                        }
                    }
                }
            }
            Command::Subscribe(f, id, reply) => {
                let _ = reply.send(self.machine.subscribe(now, f, id).map_err(Error::from));
            }
            Command::Unsubscribe(f, reply) => {
                let _ = reply.send(self.machine.unsubscribe(now, f).map_err(Error::from));
            }
            Command::Auth(a, reply) => {
                let _ = reply.send(self.machine.auth(now, a).map_err(Error::from));
            }
            Command::Disconnect(reason, reply) => {
                self.machine.disconnect(now, reason);
                let _ = reply.send(Ok(()));
            }
        }
        None
    }
}

async fn sleep_until_or_forever(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
