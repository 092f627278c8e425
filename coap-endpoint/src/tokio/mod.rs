//! The tokio adapter: one UDP socket drives an [`Endpoint`](crate::Endpoint).
//!
//! This is the only module that touches sockets, clocks and the OS's
//! randomness. One task owns the endpoint; the loop drains datagrams to
//! send, dispatches events, then waits for the socket, a command, or the
//! endpoint's next deadline. Time is read from `tokio::time::Instant`, so a
//! paused test clock drives it.
//!
//! ```no_run
//! use coap_codec::{Code, ContentFormat};
//! use coap_endpoint::server::{handler, Attributes, Outcome};
//! use coap_endpoint::tokio::{Client, Server};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let mut server = Server::bind("127.0.0.1:0").await?;
//! server.add("/hello", handler(|_| Outcome::content(ContentFormat::TEXT_PLAIN, "world")), Attributes::new());
//! let addr = server.local_addr();
//! let handle = server.handle();
//! tokio::spawn(server.run());
//!
//! let client = Client::bind("127.0.0.1:0").await?;
//! let response = client.get(&format!("coap://{addr}/hello")).await.unwrap();
//! assert_eq!(response.payload(), b"world");
//! handle.shutdown();
//! # Ok(()) }
//! ```
#![allow(clippy::disallowed_methods)]

mod blocking;
mod client;
mod driver;
mod server;

pub use client::{Client, ClientError, Observation};
pub use server::{Server, ServerHandle};

/// A seed for the endpoint's PRNG from the OS (hash keys are randomised
/// per process by the standard library).
fn os_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// The current time, from tokio's clock (pausable in tests).
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}
