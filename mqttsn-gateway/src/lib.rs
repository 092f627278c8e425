//! Sans-IO MQTT-SN v1.2 gateway to any MQTT broker.
//!
//! **Status: not yet implemented.** This crate is reserved in the workspace
//! and holds no API yet. It will contain the gateway state machine on top of
//! `mqttsn-codec` and `mqtt-client`: transparent and aggregating modes,
//! discovery (ADVERTISE, SEARCHGW, GWINFO), the split CONNECT with will,
//! topic registration, predefined topics, QoS -1, sleeping clients; and a
//! tokio UDP adapter behind the `tokio` feature.
#![forbid(unsafe_code)]
