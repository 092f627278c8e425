//! M2M proxy: HTTP <-> CoAP (RFC 8075), CoAP forward and reverse proxying
//! with a Max-Age/ETag cache, Observe surfaced to HTTP clients, and a
//! CoAP <-> MQTT bridge.
//!
//! **Status: not yet implemented.** This crate is reserved in the workspace
//! and holds no API yet.
#![forbid(unsafe_code)]
