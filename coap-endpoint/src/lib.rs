//! Sans-IO CoAP endpoint (RFC 7252): client and server roles in one state
//! machine, a resource-tree server API, and a thin tokio adapter.
//!
//! This is the middle layer of m2m-rs. Below it, `coap-codec` turns bytes
//! into messages; this crate adds what needs state and time: CON
//! retransmission with exponential back-off, ACK/RST, message-ID
//! deduplication, NSTART and PROBING_RATE, token matching, piggybacked and
//! separate responses, NON, multicast with leisure, and a [`server::Router`]
//! of resources with `/.well-known/core` (RFC 6690).
//!
//! What it is not: the [`Endpoint`] owns no socket, reads no clock and no
//! global randomness. It is fed datagrams and `Instant`s and hands back
//! datagrams to send, the next deadline and events, so every
//! retransmission and expiry is testable in virtual time. Only the `tokio`
//! module (behind the feature of that name) touches sockets and clocks.
//!
//! ```text
//!   your application / examples (coap-server, coap-client)
//!      │ request / respond / cancel        ▲ poll_event
//!      ▼                                   │
//!   Endpoint ◄── handle_datagram(now, from, bytes), handle_timeout(now)
//!      │ poll_transmit, poll_timeout
//!      ▼
//!   tokio adapter (one UDP socket) ── or your own loop, or a simulator
//! ```
//!
//! # Example: a request and its piggybacked response, in memory
//!
//! ```
//! use std::time::Instant;
//! use coap_codec::{Code, ContentFormat, MessageBuilder, MessageType};
//! use coap_endpoint::server::{Attributes, Outcome, Router, handler};
//! use coap_endpoint::{Config, Endpoint, Event};
//!
//! let now = Instant::now();
//! let (server_addr, client_addr) = ("127.0.0.1:5683".parse().unwrap(), "127.0.0.1:40000".parse().unwrap());
//! let mut server = Endpoint::new(Config::default(), 1);
//! let mut router = Router::new();
//! router.add("/hello", handler(|_req| Outcome::content(ContentFormat::TEXT_PLAIN, "world")), Attributes::new().title("Greeting"));
//!
//! let mut client = Endpoint::new(Config::default(), 2);
//! let id = client.request(now, server_addr, MessageBuilder::new(MessageType::Confirmable, Code::GET).path("/hello")).unwrap();
//! while let Some(t) = client.poll_transmit() { server.handle_datagram(now, client_addr, t.payload); }
//! router.serve(now, &mut server);
//! while let Some(t) = server.poll_transmit() { client.handle_datagram(now, server_addr, t.payload); }
//! let Some(Event::Response { id: rid, response, .. }) = client.poll_event() else { panic!("no response") };
//! assert_eq!((rid, response.code(), response.payload()), (id, Code::CONTENT, &b"world"[..]));
//! ```
//!
//! # What is here
//! - [`Endpoint`]: the RFC 7252 message and request layers. CON
//!   retransmission (ACK_TIMEOUT, ACK_RANDOM_FACTOR, MAX_RETRANSMIT from
//!   [`Config`]), ACK/RST, CoAP ping, message IDs per peer, deduplication
//!   for EXCHANGE_LIFETIME / NON_LIFETIME answering duplicates from a
//!   cache, NSTART, PROBING_RATE, 4.02/RST for unrecognised critical
//!   options, piggybacked and separate responses, NON, No-Response
//!   (RFC 7967), multicast requests and leisure-delayed multicast answers.
//!   Every table has a limit with a safe default; [`Endpoint::usage`] and
//!   [`Endpoint::stats`] show memory and counters.
//! - [`server`]: a [`server::Router`] of [`server::Resource`]s with a
//!   handler per method, answers now or later, children created by
//!   POST/PUT, link attributes and `/.well-known/core` with RFC 6690
//!   filtering; 4.04, 4.05, 4.06 and 4.15 where they belong.
//! - Observe (RFC 7641), server side: [`Endpoint::accept_observer`]
//!   registers a client, [`Endpoint::notify`] sends each observer a
//!   notification with its token and a growing 24-bit sequence number, CON
//!   when asked and at least every `Config::notification_con_interval`
//!   (24 h); an RST or an unacknowledged CON notification removes the
//!   observer, as does a GET with Observe 1. Limits per resource and peer.
//!   The [`server::Router`] registers observers of resources marked
//!   `observable` by itself.
//! - Observe, client side: [`Endpoint::observe`] delivers
//!   [`Event::Notification`]s in the order of the freshness rule (§3.4,
//!   [`observe::is_fresh`]), re-registers when Max-Age lapses, and stops
//!   with [`Endpoint::cancel_observe`] (Observe 1) or [`Endpoint::cancel`]
//!   (RST to the next notification).
//! - Block-wise transfer (RFC 7959): a response too large for a datagram,
//!   or asked for in blocks, is sliced per Block2 with Size2 and an ETag;
//!   a client reassembles Block2 bodies (failing on an ETag change) and
//!   sends request bodies larger than `Config::block_szx` in Block1 blocks,
//!   following a smaller size the server asks for. A server reassembles
//!   Block1 bodies atomically (2.31 Continue, 4.08 Request Entity
//!   Incomplete, 4.13 with Size1), keyed on the client and the request's
//!   options including Request-Tag but not the token, within limits of
//!   body size, transfers per peer and in all, and age. Resources marked
//!   [`server::Attributes::non_atomic`] (or paths given to
//!   [`Endpoint::set_non_atomic`]) get the body block by block instead
//!   (RFC 7959 §2.5), each block once and in order
//!   ([`server::Request::block1`]), within the same limits.
//! - [`multicast`]: the "All CoAP Nodes" addresses.
//!
//! # Features
//! - `tokio`: [`tokio::Client`] and [`tokio::Server`] over one UDP socket
//!   (IPv4 or IPv6), multicast group sockets, graceful shutdown, and
//!   [`tokio::Server::run_blocking`] for a dedicated-thread server.
//!
//! Not yet here (later issues): DTLS and OSCORE; BERT (RFC 8323). Options of those pass
//! through unchanged.
#![forbid(unsafe_code)]
// Tests start their virtual clocks at an arbitrary real instant.
#![cfg_attr(test, allow(clippy::disallowed_methods))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod block;
mod config;
mod dedup;
mod endpoint;
mod event;
mod exchange;
mod follow;
mod hash;
mod incoming;
pub mod multicast;
pub mod observe;
mod reliability;
mod rng;
pub mod server;
mod timer;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;

pub use config::Config;
pub use endpoint::Endpoint;
pub use event::{
    Event, IncomingId, RequestError, RequestFailure, RequestId, RespondError, Stats, Transmit,
    Usage,
};

pub use coap_codec;
