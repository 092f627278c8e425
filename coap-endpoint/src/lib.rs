//! Sans-IO CoAP endpoint: client and server roles in one state machine.
//!
//! **Status: not yet implemented.** This crate is reserved in the workspace
//! and holds no API yet. It will contain, on top of [`coap-codec`]:
//!
//! - the RFC 7252 message layer: CON retransmission with exponential
//!   back-off, ACK/RST, message-ID deduplication, NSTART, NON;
//! - the request layer: token matching, piggybacked and separate responses;
//! - Observe (RFC 7641) and block-wise transfer (RFC 7959), both roles;
//! - a resource-tree server API with `/.well-known/core` (RFC 6690);
//! - a thin tokio UDP adapter behind the `tokio` feature.
//!
//! Time and randomness are injected: the machine never reads a clock.
//!
//! [`coap-codec`]: https://docs.rs/coap-codec
#![forbid(unsafe_code)]
