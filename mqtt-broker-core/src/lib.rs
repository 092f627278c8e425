//! Sans-IO MQTT broker engine for MQTT 3.1, 3.1.1 and 5.0 clients, mixed on
//! one broker.
//!
//! The core, [`Broker`], is a state machine in the sans-IO style: it is fed
//! connections, bytes (or packets already decoded by the adapter) and
//! `Instant`s, and hands back bytes to write ([`Transmit`]), the next
//! deadline and [`Event`]s. It never touches a socket, a clock or the OS
//! random number generator. It is **not** a network server by itself: the
//! `tokio` feature adds [`tokio`](mod@crate::tokio), a TCP adapter, and the
//! `m2m-broker` binary of the workspace's `examples` runs it.
//!
//! What it does today:
//! - CONNECT/CONNACK for 3.1, 3.1.1 and 5.0: client identifier rules,
//!   assigned identifiers, takeover (0x8E), clean start and session expiry,
//!   keep-alive enforced at 1.5 times, Server Keep Alive, a CONNECT timeout,
//!   authentication and authorisation hooks ([`Hooks`]), enhanced
//!   authentication (AUTH exchanges and re-authentication) through
//!   [`Hooks::auth`]; [`AccessControl`] is a ready-made [`Hooks`] with
//!   users, passwords and ACLs of topic patterns ([`access`]).
//! - A subscription trie with `+`, `#` and the `$` rule; shared subscriptions
//!   (`$share/group/filter`, one member in turn, connected members first);
//!   overlapping subscriptions delivered once at the highest QoS with every
//!   subscription identifier; No Local, Retain As Published, Retain
//!   Handling; UNSUBSCRIBE.
//! - QoS 0/1/2 both ways with the session rules of [`mqtt_client::session`]
//!   (inflight window = the client's Receive Maximum, a queue limit with
//!   counted drops reported once per overflow as [`Event::QueueFull`], DUP
//!   redelivery, exactly-once incoming QoS 2 across reconnects).
//! - Retained messages; Message Expiry for retained and queued messages;
//!   wills with Will Delay and DISCONNECT 0x04; topic aliases both ways
//!   (outgoing ones per connection with a least-recently-used or keep-first
//!   policy, [`AliasPolicy`], off by default); Maximum Packet Size both ways
//!   (a message too large for a client is dropped for it, a Reason String
//!   left out, a CONNACK or SUBACK that cannot fit closes the connection);
//!   server DISCONNECT with reason codes and a graceful shutdown (0x8B);
//!   Request Problem Information, Response Information
//!   ([`Config::response_topic_prefix`]) and optional Reason Strings
//!   ([`Config::reason_strings`]).
//! - The `$SYS/broker/...` statistics of Mosquitto, with its names and
//!   formats, `load/...` averages over 1, 5 and 15 minutes included,
//!   published when they change; clients cannot publish to `$` topics.
//!
//! Not yet: persistence, bridging, TLS and WebSocket listeners,
//! `$SYS/broker/heap/...` and `timestamp`.
//!
//! # Example: a QoS 1 message from one client to another
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use mqtt_broker_core::{Broker, Config};
//! use mqtt_codec::{Connect, Packet, ProtocolVersion, Publish, QoS, Subscribe, Subscription, Utf8String};
//!
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now(); // an adapter's clock; the broker never reads one
//! let mut broker = Broker::new(Config::default(), 7);
//! let connect = |id: &'static str| {
//!     let mut c = Connect::new(ProtocolVersion::V5);
//!     c.client_id = Utf8String::from_static(id);
//!     Packet::Connect(Box::new(c))
//! };
//! let (sub, publ) = (broker.open(now), broker.open(now));
//! broker.handle_packet(now, sub, connect("sub"));
//! broker.handle_packet(now, publ, connect("pub"));
//! let s = Subscription::new(Utf8String::from_static("a/+"), QoS::AtLeastOnce);
//! broker.handle_packet(now, sub, Packet::Subscribe(Subscribe::new(1, vec![s])));
//! while broker.poll_transmit().is_some() {} // CONNACKs and SUBACK
//!
//! let p = Publish::new(Utf8String::from_static("a/b"), Bytes::from_static(b"hi"))
//!     .with_qos(QoS::AtLeastOnce, 9);
//! broker.handle_packet(now, publ, Packet::Publish(p));
//! let to_sub = broker.poll_transmit().unwrap();
//! assert_eq!((to_sub.conn, to_sub.payload[0] >> 4), (sub, 3)); // PUBLISH
//! let to_pub = broker.poll_transmit().unwrap();
//! assert_eq!((to_pub.conn, to_pub.payload[0] >> 4), (publ, 4)); // PUBACK
//! ```
//!
//! # Features
//! - `std` (default): required; the engine uses `std` collections and `Instant`.
//! - `tokio`: the TCP adapter [`tokio`](mod@crate::tokio).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod access;
mod alias;
mod auth;
mod broker;
mod config;
mod connect;
mod event;
mod hooks;
mod reason;
mod retain;
mod route;
mod shared;
mod sys;
mod trie;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;

pub use access::{AccessControl, AccessError, Acl, User};
pub use alias::AliasPolicy;
pub use broker::{client_may_send, Broker, ConnId, Event, Stats, Transmit};
pub use config::Config;
pub use hooks::{AllowAll, AuthStep, Hooks};

#[cfg(test)]
mod tests;
