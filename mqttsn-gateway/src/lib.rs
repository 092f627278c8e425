//! Sans-IO MQTT-SN v1.2 gateway to any MQTT broker.
//!
//! `mqttsn-gateway` connects MQTT-SN clients (sensors on UDP, possibly
//! behind forwarders, possibly asleep) to an MQTT broker. The core,
//! [`Gateway`], is a state machine built on `mqttsn-codec` and on
//! `mqtt-client`'s sans-IO [`Client`](mqtt_client::Client): it is fed
//! datagrams, broker bytes and `Instant`s and hands back [`Transmit`]s
//! (datagrams, broker connections to open, bytes to write, connections to
//! close), the next deadline and [`Event`]s. It never reads a clock or
//! touches a socket, so keep-alive, sleep and will handling are testable in
//! virtual time.
//!
//! It runs in both architectures of the specification (§3), chosen by
//! [`Config::mode`]: *transparent* (the default), one MQTT connection per
//! MQTT-SN client, carrying its client id, clean session flag and will, so
//! the broker itself publishes the will when a client is lost; and
//! *aggregating*, one MQTT connection of the gateway for every client, with
//! subscriptions multiplexed, wills published by the gateway and a
//! reconnect with back-off. It handles CONNECT with and without will (WILLTOPICREQ,
//! WILLTOPIC, WILLMSGREQ, WILLMSG), REGISTER/REGACK both ways with a topic
//! table per client, predefined topic ids and short topic names, PUBLISH at
//! QoS 0, 1 and 2 both ways, QoS -1 from clients that never connected
//! (relayed at QoS 0 on one MQTT connection of the gateway's own),
//! SUBSCRIBE/UNSUBSCRIBE (names with wildcards,
//! short names, predefined ids), PINGREQ, DISCONNECT, keep-alive supervision,
//! sleeping clients with a bounded buffer (§6.14), WILLTOPICUPD and
//! WILLMSGUPD (the MQTT connection is renewed with the new will),
//! SEARCHGW/GWINFO, periodic ADVERTISE and the forwarder encapsulation (§5.5).
//!
//! Back-pressure: when the broker side cannot keep up (more unwritten bytes
//! on a broker connection than [`Config::max_backlog`] or, over all of
//! them, [`Config::max_total_backlog`], as the I/O layer reports with
//! [`Gateway::handle_broker_backlog`]; more QoS 1/2 publishes waiting than
//! [`Config::max_inflight`] per client or [`Config::max_pending`] on the
//! shared connection; more handshakes than [`Config::max_connecting`]),
//! QoS 1/2 PUBLISH, REGISTER and SUBSCRIBE are answered with "rejected:
//! congestion", new CONNECTs with CONNACK congestion, and QoS 0/-1
//! publishes are dropped, counted in [`Gateway::stats`] and reported as
//! [`Event::Congested`]. Nothing is buffered without bound.
//!
//! In aggregating mode the broker subscriptions are reference counted: the
//! last client leaving a filter (UNSUBSCRIBE, DISCONNECT or lost) removes
//! it at the broker. Sleeping clients keep their sessions across a loss of
//! the shared connection; after a reconnect to a broker that kept no
//! session, every filter still held is subscribed again.
//!
//! Deadlines live in a binary heap with lazy invalidation:
//! [`Gateway::poll_timeout`] is O(1) and each session's timer update
//! O(log n).
//!
//! # Example: a client connects and publishes at QoS 0
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use mqttsn_gateway::{Config, Gateway, Transmit};
//!
//! let now = Instant::now();
//! let mut gw = Gateway::new(Config::default(), 7, now);
//! let client = "127.0.0.1:40000".parse().unwrap();
//! // CONNECT, clean session, keep-alive 60 s, client id "s1".
//! gw.handle_datagram(now, client, Bytes::from_static(b"\x08\x04\x04\x01\x00\x3cs1"));
//! let Some(Transmit::Open(conn)) = gw.poll_transmit() else { panic!() };
//! let Some(Transmit::Data { data, .. }) = gw.poll_transmit() else { panic!() };
//! assert_eq!(data[0], 0x10); // MQTT CONNECT: open a TCP connection and write it
//! gw.handle_broker_bytes(now, conn, &[0x20, 2, 0, 0]); // CONNACK
//! let Some(Transmit::Datagram { to, data }) = gw.poll_transmit() else { panic!() };
//! assert_eq!((to, &data[..]), (client, &[3, 0x05, 0][..])); // MQTT-SN CONNACK
//! ```
//!
//! # Features
//! - `std` (default, required): the state machine uses `std::time::Instant`.
//! - `tokio`: the `tokio` module, an adapter with one UDP socket for the
//!   clients and one TCP connection per client to the broker.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aggregate;
mod config;
mod core;
mod gateway;
mod output;
mod relay;
mod requests;
mod retry;
mod session;
mod topics;
mod will_update;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;

pub use config::{Advertise, Config, Mode};
pub use gateway::Gateway;
pub use output::{ConnId, Event, Gone, Peer, Stats, Transmit};
