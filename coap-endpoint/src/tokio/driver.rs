//! The loop that owns the endpoint and the socket.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use coap_codec::{Message, MessageBuilder};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::client::ClientError;
use super::now;
use crate::server::{Request, Router};
use crate::{Endpoint, Event, IncomingId, RequestFailure, RequestId};

/// What a handle asks the driver to do.
pub(crate) enum Command {
    Request {
        peer: SocketAddr,
        message: MessageBuilder,
        keep_token: bool,
        reply: oneshot::Sender<Result<Message<Bytes>, ClientError>>,
    },
    Multicast {
        group: SocketAddr,
        message: MessageBuilder,
        reply: mpsc::UnboundedSender<(SocketAddr, Message<Bytes>)>,
    },
    Ping {
        peer: SocketAddr,
        reply: oneshot::Sender<Result<Message<Bytes>, ClientError>>,
    },
    Respond {
        id: IncomingId,
        message: MessageBuilder,
    },
    Observe {
        peer: SocketAddr,
        message: MessageBuilder,
        notifications: mpsc::UnboundedSender<Message<Bytes>>,
        reply: oneshot::Sender<Result<RequestId, ClientError>>,
    },
    CancelObserve(RequestId),
    Notify {
        resource: String,
        message: MessageBuilder,
        confirmable: bool,
    },
    Shutdown,
}

pub(super) enum Waiter {
    One(oneshot::Sender<Result<Message<Bytes>, ClientError>>),
    Many(mpsc::UnboundedSender<(SocketAddr, Message<Bytes>)>),
    Observe(mpsc::UnboundedSender<Message<Bytes>>),
}

/// How often requests whose caller stopped waiting are cancelled.
const WAITER_SWEEP: Duration = Duration::from_secs(1);

/// Datagrams read per wake-up before the loop sends and dispatches.
const RECV_BATCH: usize = 64;

pub(crate) struct Driver {
    pub(crate) socket: UdpSocket,
    pub(crate) multicast: Option<UdpSocket>,
    pub(crate) endpoint: Endpoint,
    pub(crate) router: Option<Router>,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) linger: Duration,
    pub(super) waiters: HashMap<RequestId, Waiter>,
    pub(super) rx: BytesMut,
}

impl Driver {
    pub(crate) fn new(
        socket: UdpSocket,
        endpoint: Endpoint,
        router: Option<Router>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Self {
        Self {
            socket,
            multicast: None,
            endpoint,
            router,
            commands,
            linger: Duration::from_secs(5),
            waiters: HashMap::new(),
            rx: BytesMut::new(),
        }
    }

    /// Runs until `shutdown` resolves, a `Shutdown` command arrives, or
    /// (client only) every handle is dropped; then lingers until our CONs
    /// are acknowledged or the linger time has passed.
    pub(crate) async fn run(mut self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        tokio::pin!(shutdown);
        let mut stopping: Option<tokio::time::Instant> = None;
        let mut commands_open = true;
        // One timer, re-armed only when the deadline moves.
        let sleep = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(sleep);
        let mut armed: Option<tokio::time::Instant> = None;
        let mut next_sweep = tokio::time::Instant::now() + WAITER_SWEEP;
        loop {
            if tokio::time::Instant::now() >= next_sweep {
                self.cancel_abandoned();
                next_sweep = tokio::time::Instant::now() + WAITER_SWEEP;
            }
            self.dispatch();
            self.flush().await?;
            if let Some(deadline) = stopping {
                // Graceful: requests already accepted get their (late)
                // responses, and our CONs their ACKs, within the linger.
                let busy = self.endpoint.has_unacknowledged() || self.endpoint.usage().incoming > 0;
                if !busy || tokio::time::Instant::now() >= deadline {
                    return Ok(());
                }
            }
            let wake = self
                .endpoint
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            let wake = match (wake, stopping) {
                (Some(w), Some(s)) => Some(w.min(s)),
                (w, s) => w.or(s),
            };
            if wake != armed {
                if let Some(w) = wake {
                    sleep.as_mut().reset(w);
                }
                armed = wake;
            }
            let multicast = self.multicast.as_ref();
            tokio::select! {
                biased;
                r = self.socket.readable() => {
                    r?;
                    self.receive(false);
                }
                r = readable(multicast) => {
                    r?;
                    self.receive(true);
                }
                cmd = self.commands.recv(), if commands_open => match cmd {
                    Some(Command::Shutdown) => {
                        if stopping.is_none() {
                            stopping = Some(self.begin_shutdown());
                        }
                    }
                    Some(cmd) => self.apply(cmd),
                    None => {
                        commands_open = false;
                        if stopping.is_none() {
                            stopping = Some(self.begin_shutdown());
                        }
                    }
                },
                () = &mut shutdown, if stopping.is_none() => stopping = Some(self.begin_shutdown()),
                () = &mut sleep, if armed.is_some() => {
                    armed = None;
                    self.endpoint.handle_timeout(now());
                }
            }
        }
    }

    /// Cancels the requests whose caller dropped its future (RFC 7252 has no
    /// message for this: the endpoint just stops retransmitting).
    pub(super) fn cancel_abandoned(&mut self) {
        let gone: Vec<RequestId> = self
            .waiters
            .iter()
            .filter(|(_, w)| match w {
                Waiter::One(tx) => tx.is_closed(),
                Waiter::Many(tx) => tx.is_closed(),
                Waiter::Observe(tx) => tx.is_closed(),
            })
            .map(|(id, _)| *id)
            .collect();
        let t = now();
        for id in gone {
            self.waiters.remove(&id);
            self.endpoint.cancel(t, id);
        }
    }

    pub(super) fn begin_shutdown(&mut self) -> tokio::time::Instant {
        tracing::debug!("shutting down: no new requests served");
        self.router = None;
        tokio::time::Instant::now() + self.linger
    }

    fn receive(&mut self, multicast: bool) {
        let max = self.endpoint.config().max_message_size + 1;
        for _ in 0..RECV_BATCH {
            if self.rx.capacity() - self.rx.len() < max {
                self.rx.reserve((max * 32).max(64 * 1024));
            }
            let socket = match (multicast, &self.multicast) {
                (true, Some(s)) => s,
                _ => &self.socket,
            };
            match socket.try_recv_buf_from(&mut self.rx) {
                Ok((_, from)) => {
                    let datagram = self.rx.split().freeze();
                    tracing::trace!(%from, len = datagram.len(), multicast, "datagram in");
                    let t = now();
                    if multicast {
                        self.endpoint.handle_multicast_datagram(t, from, datagram);
                    } else {
                        self.endpoint.handle_datagram(t, from, datagram);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::debug!(error = %e, "recv failed");
                    return;
                }
            }
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        while let Some(t) = self.endpoint.poll_transmit() {
            match self.socket.try_send_to(&t.payload, t.destination) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(e) = self.socket.send_to(&t.payload, t.destination).await {
                        tracing::debug!(error = %e, to = %t.destination, "send failed");
                    }
                }
                Err(e) => tracing::debug!(error = %e, to = %t.destination, "send failed"),
            }
        }
        Ok(())
    }

    pub(super) fn dispatch(&mut self) {
        let t = now();
        if let Some(r) = self.router.as_mut() {
            r.sync(&mut self.endpoint);
        }
        while let Some(ev) = self.endpoint.poll_event() {
            match ev {
                Event::Request {
                    id,
                    from,
                    request,
                    multicast,
                } => {
                    let (answer, observe) = match self.router.as_mut() {
                        Some(router) => (
                            router.handle(&Request {
                                id,
                                from,
                                message: &request,
                                multicast,
                                now: t,
                            }),
                            router.observable_key(&request),
                        ),
                        None => (
                            Some(crate::server::response(
                                coap_codec::Code::SERVICE_UNAVAILABLE,
                            )),
                            None,
                        ),
                    };
                    if let Some(resp) = answer {
                        crate::server::answer(&mut self.endpoint, t, id, observe.as_deref(), resp);
                    }
                }
                Event::Notification { id, response, .. } => {
                    if let Some(Waiter::Observe(tx)) = self.waiters.get(&id) {
                        let _ = tx.send(response);
                    }
                }
                Event::Response { id, from, response } => match self.waiters.get(&id) {
                    Some(Waiter::Many(tx)) => {
                        let _ = tx.send((from, response));
                    }
                    Some(Waiter::Observe(tx)) => {
                        let _ = tx.send(response);
                        self.waiters.remove(&id);
                    }
                    Some(Waiter::One(_)) => {
                        if let Some(Waiter::One(tx)) = self.waiters.remove(&id) {
                            let _ = tx.send(Ok(response));
                        }
                    }
                    None => {}
                },
                Event::RequestFailed { id, error } => {
                    if let Some(Waiter::One(tx)) = self.waiters.remove(&id) {
                        let _ = tx.send(Err(match error {
                            RequestFailure::Reset => ClientError::Reset,
                            RequestFailure::Timeout => ClientError::Timeout,
                            _ => ClientError::BlockTransfer,
                        }));
                    }
                }
                Event::Pong { id, .. } => {
                    if let Some(Waiter::One(tx)) = self.waiters.remove(&id) {
                        let empty = Message::decode(Bytes::from_static(&[0x70, 0, 0, 0]));
                        let _ = tx.send(empty.map_err(|_| ClientError::Closed));
                    }
                }
                Event::MulticastDone { id } => {
                    self.waiters.remove(&id);
                }
            }
        }
        // Handlers may have added or removed non-atomic resources.
        if let Some(r) = self.router.as_mut() {
            r.sync(&mut self.endpoint);
        }
    }

    pub(super) fn apply(&mut self, cmd: Command) {
        let t = now();
        match cmd {
            Command::Request {
                peer,
                message,
                keep_token,
                reply,
            } => {
                let r = if keep_token {
                    self.endpoint.request_with_token(t, peer, message)
                } else {
                    self.endpoint.request(t, peer, message)
                };
                match r {
                    Ok(id) => {
                        self.waiters.insert(id, Waiter::One(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(ClientError::Rejected(e)));
                    }
                }
            }
            Command::Multicast {
                group,
                message,
                reply,
            } => {
                if let Ok(id) = self.endpoint.request_multicast(t, group, message) {
                    self.waiters.insert(id, Waiter::Many(reply));
                }
            }
            Command::Ping { peer, reply } => match self.endpoint.ping(t, peer) {
                Ok(id) => {
                    self.waiters.insert(id, Waiter::One(reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(ClientError::Rejected(e)));
                }
            },
            Command::Respond { id, message } => {
                crate::server::respond_or_fail(&mut self.endpoint, t, id, message);
            }
            Command::Observe {
                peer,
                message,
                notifications,
                reply,
            } => match self.endpoint.observe(t, peer, message) {
                Ok(id) => {
                    self.waiters.insert(id, Waiter::Observe(notifications));
                    let _ = reply.send(Ok(id));
                }
                Err(e) => {
                    let _ = reply.send(Err(ClientError::Rejected(e)));
                }
            },
            Command::CancelObserve(id) => {
                self.endpoint.cancel_observe(t, id);
            }
            Command::Notify {
                resource,
                message,
                confirmable,
            } => {
                self.endpoint.notify(t, &resource, message, confirmable);
            }
            Command::Shutdown => {}
        }
    }
}

async fn readable(socket: Option<&UdpSocket>) -> io::Result<()> {
    match socket {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}
