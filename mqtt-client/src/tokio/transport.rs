//! Transports the adapter can drive: anything that opens an
//! `AsyncRead + AsyncWrite` byte stream. TLS and WebSocket connectors plug
//! in here without changing the handle or the event stream.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Opens a fresh byte stream to the server, once per (re)connect.
pub trait Connector: Send + 'static {
    /// The stream type.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Opens a connection.
    fn connect(&mut self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Plain TCP to `host:port`. The name is resolved on every attempt and each
/// address (IPv4 or IPv6) is tried in turn.
#[derive(Debug, Clone)]
pub struct TcpConnector {
    host: String,
    port: u16,
}

impl TcpConnector {
    /// A connector for `host` (name, IPv4 or IPv6 literal) and `port`.
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        let host = host.into();
        // An IPv6 literal may come in brackets, as in URLs.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map_or(host.clone(), str::to_owned);
        Self { host, port }
    }

    /// A connector for one socket address.
    #[must_use]
    pub fn addr(addr: SocketAddr) -> Self {
        Self {
            host: addr.ip().to_string(),
            port: addr.port(),
        }
    }
}

impl Connector for TcpConnector {
    type Stream = TcpStream;

    async fn connect(&mut self) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
        for addr in tokio::net::lookup_host((self.host.as_str(), self.port)).await? {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}
