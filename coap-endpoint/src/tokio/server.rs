//! A CoAP server: a [`Router`] of resources served over one UDP socket.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use coap_codec::MessageBuilder;
use tokio::net::{ToSocketAddrs, UdpSocket};
use tokio::sync::mpsc;

use super::driver::{Command, Driver};
use crate::server::{Attributes, Resource, Router};
use crate::{Config, Endpoint, IncomingId};

/// A CoAP server. Add resources, take a [`ServerHandle`] if handlers answer
/// later or something must stop the server, then `run` it.
///
/// Handlers run on the server's task, one request at a time: keep them
/// short, and answer slow requests with
/// [`Outcome::Later`](crate::server::Outcome::Later) plus
/// [`ServerHandle::respond`] from another task.
#[derive(Debug)]
pub struct Server {
    driver: Driver,
    commands: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
}

/// Talks to a running [`Server`]: late responses and shutdown. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl ServerHandle {
    /// Answers a request whose handler returned `Outcome::Later`. Returns
    /// false when the server has stopped.
    pub fn respond(&self, id: IncomingId, response: MessageBuilder) -> bool {
        self.commands
            .send(Command::Respond {
                id,
                message: response,
            })
            .is_ok()
    }

    /// Notifies the observers of the resource at `path` (RFC 7641 §4.2)
    /// with `response` (see [`Endpoint::notify`](crate::Endpoint::notify)).
    /// Returns false when the server has stopped.
    pub fn notify(&self, path: &str, response: MessageBuilder, confirmable: bool) -> bool {
        self.commands
            .send(Command::Notify {
                resource: path.to_owned(),
                message: response,
                confirmable,
            })
            .is_ok()
    }

    /// Asks the server to stop: it serves no new requests and returns from
    /// `run` once its separate responses are acknowledged (or after 5 s).
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }
}

impl core::fmt::Debug for Driver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("router", &self.router)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `addr` (`"0.0.0.0:5683"`, `"[::]:5683"`) with the default
    /// configuration.
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
        Ok(Self {
            driver: Driver::new(socket, endpoint, Some(Router::new()), rx),
            commands: tx,
            local,
        })
    }

    /// The socket's local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The resource tree.
    pub fn router(&mut self) -> &mut Router {
        self.driver.router.get_or_insert_with(Router::new)
    }

    /// Adds (or replaces) the resource at `path`.
    pub fn add(
        &mut self,
        path: &str,
        resource: impl Resource,
        attributes: Attributes,
    ) -> &mut Self {
        self.router().add(path, resource, attributes);
        self
    }

    /// Also serves requests sent to the IPv4 multicast `group` on `port`
    /// (e.g. [`ALL_COAP_NODES_V4`](crate::multicast::ALL_COAP_NODES_V4) on
    /// 5683), joined on `interface` (`0.0.0.0` for the default). The group
    /// socket is bound with `SO_REUSEADDR`, so several servers on one host
    /// can join the same group and port; each gets a copy of every request.
    /// Answers go out from the unicast socket after a random leisure, and
    /// error responses are not sent (RFC 7252 §8.2). The unicast socket must
    /// be bound to a specific address (not `0.0.0.0`) when `port` is its own.
    ///
    /// # Errors
    /// When the group socket cannot be bound or joined.
    pub async fn join_multicast_v4(
        &mut self,
        group: Ipv4Addr,
        port: u16,
        interface: Ipv4Addr,
    ) -> io::Result<()> {
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_address(true)?;
        s.set_nonblocking(true)?;
        s.bind(&SocketAddr::from((group, port)).into())?;
        s.join_multicast_v4(&group, &interface)?;
        self.driver.multicast = Some(UdpSocket::from_std(s.into())?);
        Ok(())
    }

    /// As [`join_multicast_v4`](Self::join_multicast_v4) for an IPv6 group
    /// such as `ff02::fd` ([`all_coap_nodes_v6`](crate::multicast::all_coap_nodes_v6)),
    /// on the interface with index `interface` (0 for the default). The
    /// group socket binds `[::]:port`, so `port` must differ from the
    /// unicast socket's, and anything sent to that port counts as multicast.
    ///
    /// # Errors
    /// When the group socket cannot be bound or joined.
    pub async fn join_multicast_v6(
        &mut self,
        group: Ipv6Addr,
        port: u16,
        interface: u32,
    ) -> io::Result<()> {
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_address(true)?;
        s.set_only_v6(true)?;
        s.set_nonblocking(true)?;
        // A link-local group cannot be bound without a scope; bind the
        // wildcard address on the group's port instead.
        s.bind(&SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port).into())?;
        s.join_multicast_v6(&group, interface)?;
        self.driver.multicast = Some(UdpSocket::from_std(s.into())?);
        Ok(())
    }

    /// How long `run` waits, after a shutdown request, for its CONs to be
    /// acknowledged (default 5 s).
    pub fn set_linger(&mut self, linger: std::time::Duration) {
        self.driver.linger = linger;
    }

    /// A handle for late responses and shutdown.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            commands: self.commands.clone(),
        }
    }

    /// Serves until [`ServerHandle::shutdown`].
    ///
    /// # Errors
    /// When the socket fails.
    pub async fn run(self) -> io::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Serves on the current thread with a blocking socket until
    /// [`ServerHandle::shutdown`]: the fewest system calls per request (one
    /// receive, one send), for throughput. Timers have a resolution of 5 ms;
    /// a multicast group socket is not served in this mode. Call it from
    /// `tokio::task::spawn_blocking` so handlers can still `tokio::spawn`.
    ///
    /// # Errors
    /// When the socket fails.
    pub fn run_blocking(self) -> io::Result<()> {
        let Self {
            driver, commands, ..
        } = self;
        let _keep = commands;
        driver.run_blocking()
    }

    /// Serves until `signal` resolves (e.g. `tokio::signal::ctrl_c`) or
    /// [`ServerHandle::shutdown`], then shuts down gracefully.
    ///
    /// # Errors
    /// When the socket fails.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> io::Result<()> {
        let Self {
            driver, commands, ..
        } = self;
        // Keep one sender so the command channel stays open while serving.
        let _keep = commands;
        driver.run(signal).await
    }
}
