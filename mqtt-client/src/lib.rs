//! Sans-IO MQTT client for MQTT 3.1.1 and 5.0.
//!
//! **Status: not yet implemented.** This crate is reserved in the workspace
//! and holds no API yet. It will contain the client state machine (CONNECT,
//! keep-alive, QoS 0/1/2 flows, subscriptions, reconnect with back-off), the
//! MQTT session state shared with `mqtt-broker-core` (MQTT 5.0 §4.1), and a
//! tokio adapter behind the `tokio` feature.
#![forbid(unsafe_code)]
