//! A CoAP client over one UDP socket.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use coap_codec::uri::{CoapUri, Host, Scheme};
use coap_codec::{Code, Message, MessageBuilder, MessageType};
use tokio::net::{ToSocketAddrs, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::driver::{Command, Driver};
use crate::{Config, Endpoint, RequestError};

/// Why a client request did not get a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No ACK after MAX_RETRANSMIT retransmissions, or no response in time.
    #[error("request timed out")]
    Timeout,
    /// The server answered with RST.
    #[error("server answered with reset")]
    Reset,
    /// The endpoint refused the request.
    #[error("request refused")]
    Rejected(#[source] RequestError),
    /// The URI is not a `coap://` URI this client can use.
    #[error("bad URI")]
    Uri(#[source] coap_codec::uri::UriError),
    /// `coaps://` and the TCP schemes are not supported by this client.
    #[error("unsupported URI scheme")]
    UnsupportedScheme,
    /// The URI's host did not resolve to an address.
    #[error("host did not resolve")]
    Resolve,
    /// The client has shut down.
    #[error("client closed")]
    Closed,
    /// A block-wise transfer failed: the representation changed, the body
    /// is too large, or the blocks did not fit together (RFC 7959).
    #[error("block-wise transfer failed")]
    BlockTransfer,
}

/// An observation started with [`Client::observe`]: the notifications of
/// a resource, in freshness order (RFC 7641 §3.4). Dropping it stops the
/// observation passively (the next notification is rejected with RST).
#[derive(Debug)]
pub struct Observation {
    id: crate::RequestId,
    notifications: mpsc::UnboundedReceiver<Message<Bytes>>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Observation {
    /// The next notification (the first is the registration's response), or
    /// `None` once the observation has ended (a response without Observe,
    /// an error, a timeout, or the client closed).
    pub async fn next(&mut self) -> Option<Message<Bytes>> {
        self.notifications.recv().await
    }

    /// Ends the observation actively: a GET with Observe 1 (RFC 7641
    /// §3.6). Its response is the last item of [`next`](Self::next).
    pub fn cancel(&self) {
        let _ = self.commands.send(Command::CancelObserve(self.id));
    }
}

/// A CoAP client: requests by URI or by message, CON or NON, and
/// multicast. Cheap to clone; every clone shares one socket and endpoint,
/// driven by a task spawned on the current tokio runtime.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
    task: std::sync::Arc<std::sync::Mutex<Option<JoinHandle<io::Result<()>>>>>,
}

impl Client {
    /// Binds a UDP socket at `addr` (`"0.0.0.0:0"`, `"[::]:0"`) with the
    /// default configuration.
    ///
    /// # Errors
    /// When the socket cannot be bound.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::bind_with(addr, Config::default()).await
    }

    /// As [`bind`](Self::bind), with a configuration.
    ///
    /// # Errors
    /// When the socket cannot be bound.
    pub async fn bind_with(addr: impl ToSocketAddrs, config: Config) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        let local = socket.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let endpoint = Endpoint::new(config, super::os_seed());
        let driver = Driver::new(socket, endpoint, None, rx);
        let task = tokio::spawn(driver.run(std::future::pending()));
        Ok(Self {
            commands: tx,
            local,
            task: std::sync::Arc::new(std::sync::Mutex::new(Some(task))),
        })
    }

    /// The socket's local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends `request` to `peer` with a fresh token (CON unless its type is
    /// NON) and waits for the response.
    ///
    /// # Errors
    /// [`ClientError`]: timeout, reset, refused, or the client is closed.
    pub async fn send(
        &self,
        peer: SocketAddr,
        request: MessageBuilder,
    ) -> Result<Message<Bytes>, ClientError> {
        self.send_inner(peer, request, false).await
    }

    /// As [`send`](Self::send), keeping the token in `request` (which may be
    /// empty).
    ///
    /// # Errors
    /// As `send`.
    pub async fn send_with_token(
        &self,
        peer: SocketAddr,
        request: MessageBuilder,
    ) -> Result<Message<Bytes>, ClientError> {
        self.send_inner(peer, request, true).await
    }

    async fn send_inner(
        &self,
        peer: SocketAddr,
        message: MessageBuilder,
        keep_token: bool,
    ) -> Result<Message<Bytes>, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Request {
                peer,
                message,
                keep_token,
                reply,
            })
            .map_err(|_| ClientError::Closed)?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// GET `uri` (CON).
    ///
    /// # Errors
    /// As [`request`](Self::request).
    pub async fn get(&self, uri: &str) -> Result<Message<Bytes>, ClientError> {
        self.request(Code::GET, uri, Bytes::new()).await
    }

    /// A CON request with `method` to `uri` (`coap://host:port/path?query`)
    /// with a payload (empty for none).
    ///
    /// # Errors
    /// [`ClientError::Uri`] or [`ClientError::Resolve`] for a bad URI, else
    /// as [`send`](Self::send).
    pub async fn request(
        &self,
        method: Code,
        uri: &str,
        payload: impl Into<Bytes>,
    ) -> Result<Message<Bytes>, ClientError> {
        let (peer, msg) = Self::prepare(method, uri).await?;
        self.send(peer, msg.payload(payload)).await
    }

    /// Parses `uri` and resolves its host: the destination and a CON
    /// request carrying the URI's options, ready for more options.
    ///
    /// # Errors
    /// [`ClientError::Uri`], [`ClientError::UnsupportedScheme`] or
    /// [`ClientError::Resolve`].
    pub async fn prepare(
        method: Code,
        uri: &str,
    ) -> Result<(SocketAddr, MessageBuilder), ClientError> {
        let uri = CoapUri::parse(uri).map_err(ClientError::Uri)?;
        if uri.scheme != Scheme::Coap {
            return Err(ClientError::UnsupportedScheme);
        }
        let peer = resolve(&uri).await?;
        let msg = MessageBuilder::new(MessageType::Confirmable, method).uri(&uri);
        Ok((peer, msg))
    }

    /// Observes a resource (RFC 7641): sends `request` (a GET or FETCH)
    /// with Observe 0 and returns the stream of notifications. Large
    /// notifications are reassembled from blocks (RFC 7959 §2.6).
    ///
    /// # Errors
    /// [`ClientError::Rejected`] or [`ClientError::Closed`].
    pub async fn observe(
        &self,
        peer: SocketAddr,
        request: MessageBuilder,
    ) -> Result<Observation, ClientError> {
        let (tx, notifications) = mpsc::unbounded_channel();
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Observe {
                peer,
                message: request,
                notifications: tx,
                reply,
            })
            .map_err(|_| ClientError::Closed)?;
        let id = rx.await.map_err(|_| ClientError::Closed)??;
        Ok(Observation {
            id,
            notifications,
            commands: self.commands.clone(),
        })
    }

    /// Sends a NON `request` to a multicast `group` and collects every
    /// response that arrives within `window` (RFC 7252 §8.1).
    ///
    /// # Errors
    /// [`ClientError::Closed`].
    pub async fn multicast(
        &self,
        group: SocketAddr,
        request: MessageBuilder,
        window: Duration,
    ) -> Result<Vec<(SocketAddr, Message<Bytes>)>, ClientError> {
        let (reply, mut rx) = mpsc::unbounded_channel();
        self.commands
            .send(Command::Multicast {
                group,
                message: request,
                reply,
            })
            .map_err(|_| ClientError::Closed)?;
        let mut out = Vec::new();
        let deadline = tokio::time::sleep(window);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(x) => out.push(x),
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
        Ok(out)
    }

    /// A CoAP ping (empty CON): `Ok` when the peer answers with RST.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] when it does not.
    pub async fn ping(&self, peer: SocketAddr) -> Result<(), ClientError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Ping { peer, reply })
            .map_err(|_| ClientError::Closed)?;
        rx.await.map_err(|_| ClientError::Closed)?.map(|_| ())
    }

    /// Stops the client after its unacknowledged CONs are acknowledged (or
    /// a linger of 5 s), and waits for that.
    pub async fn shutdown(self) {
        let _ = self.commands.send(Command::Shutdown);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The first address of the URI's host and port.
async fn resolve(uri: &CoapUri) -> Result<SocketAddr, ClientError> {
    match &uri.host {
        Host::Ip(ip) => Ok(SocketAddr::new(*ip, uri.port)),
        Host::Name(name) => tokio::net::lookup_host((name.as_str(), uri.port))
            .await
            .map_err(|_| ClientError::Resolve)?
            .next()
            .ok_or(ClientError::Resolve),
    }
}
