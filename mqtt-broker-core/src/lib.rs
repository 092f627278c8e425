//! Sans-IO MQTT broker engine for MQTT 3.1, 3.1.1 and 5.0 clients.
//!
//! **Status: not yet implemented.** This crate is reserved in the workspace
//! and holds no API yet. It will contain, on top of `mqtt-codec` and the
//! session rules of `mqtt-client`: sessions and session expiry, QoS 0/1/2
//! with inflight windows and redelivery, retained messages, wills, a
//! wildcard subscription trie, shared subscriptions, every MQTT 5 feature,
//! authentication and ACL hooks, persistence and bridging; and thin tokio
//! adapters (TCP, TLS, WebSocket) behind the `tokio` feature.
#![forbid(unsafe_code)]
