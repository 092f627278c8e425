//! Sans-IO MQTT 3.1.1 and 5.0 client, with a tokio adapter.
//!
//! `mqtt-client` is the client layer of m2m-rs, built on `mqtt-codec`. The
//! core, [`Client`], is a state machine: it is fed bytes and `Instant`s and
//! hands back bytes to send, the next deadline and [`Event`]s. It never
//! touches a socket, a clock or the OS random number generator, so every
//! keep-alive, redelivery and reconnect is testable in virtual time.
//!
//! - CONNECT for 3.1.1 and 5.0 (will, credentials, clean start, session
//!   expiry, properties), keep-alive with PINGREQ and a PINGRESP timeout,
//!   DISCONNECT with a reason code, AUTH exchanges ([`Event::Auth`],
//!   [`Client::auth`]).
//! - QoS 0, 1 and 2 in both directions with the session rules of MQTT 5.0
//!   §4.1–4.4 ([`session`], shared with `mqtt-broker-core`): packet
//!   identifiers, an inflight window bounded by the server's Receive
//!   Maximum, DUP redelivery after a reconnect that kept the session,
//!   exactly-once delivery of incoming QoS 2 messages.
//! - SUBSCRIBE / UNSUBSCRIBE with 5.0 options and subscription identifiers,
//!   topic aliases (incoming, and outgoing when enabled), request/response
//!   helpers ([`message`]).
//! - Reconnect with exponential back-off and jitter from the injected seed
//!   ([`Backoff`]); when the server did not keep the session the client
//!   resubscribes and sends unacknowledged messages again.
//!
//! It is **not** an I/O library: the `tokio` feature adds the adapter
//! (the `tokio` module) that owns a TCP connection and drives the
//! machine.
//!
//! ```text
//!   transport bytes ──► Client::handle_bytes ──► poll_event ──► application
//!   transport ◄── poll_transmit ◄── Client::publish / subscribe ◄──┘
//!                 poll_timeout ──► sleep ──► handle_timeout
//! ```
//!
//! # Example: one QoS 1 publish, with the server played by hand
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use mqtt_client::{Client, Config, Event};
//! use mqtt_codec::{Publish, QoS, Utf8String};
//!
//! let now = Instant::now();
//! let mut client = Client::new(Config::new("demo"), 1, now);
//! client.connect(now);
//! let connect = client.poll_transmit().unwrap(); // write this to the socket
//! assert_eq!(connect[0], 0x10);
//! client.handle_bytes(now, &[0x20, 2, 0, 0]); // CONNACK, accepted
//! assert!(matches!(client.poll_event(), Some(Event::Connected { session_present: false, .. })));
//!
//! let msg = Publish::new(Utf8String::from_static("a/b"), Bytes::from_static(b"hi"))
//!     .with_qos(QoS::AtLeastOnce, 0);
//! let id = client.publish(now, msg)?.unwrap();
//! assert!(client.poll_transmit().is_some()); // the PUBLISH
//! client.handle_bytes(now, &[0x40, 2, 0, id as u8]); // PUBACK
//! assert_eq!(client.poll_event(), Some(Event::Published { packet_id: id, qos: QoS::AtLeastOnce }));
//! # Ok::<(), mqtt_client::PublishError>(())
//! ```
//!
//! # Features
//! - `tokio`: the `tokio` module, an adapter (TCP over IPv4 and IPv6,
//!   generic over any `AsyncRead + AsyncWrite` transport).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod alias;
mod client;
mod config;
mod error;
mod event;
mod keepalive;
pub mod message;
mod reconnect;
mod rng;
pub mod session;

#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

pub use client::Client;
pub use config::Config;
pub use error::{CommandError, PublishError};
pub use event::{DisconnectReason, Event};
pub use reconnect::Backoff;
