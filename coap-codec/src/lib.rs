//! Zero-copy, `no_std` CoAP codec: RFC 7252 messages, every registered
//! option, URIs, RFC 6690 link format and RFC 8323 framing for TCP and
//! WebSockets.
//!
//! This is the bottom layer of m2m-rs: bytes in, typed messages out, and
//! back. It does no I/O, reads no clock and keeps no state: retransmission,
//! deduplication, Observe and block-wise transfer live in `coap-endpoint`.
//!
//! ```text
//!  coap-endpoint (sans-IO state machine) ─┐
//!                                         ▼
//!  datagram ──► Message::decode ──► Message<Bytes> (view: header, token, Options, payload)
//!  MessageBuilder / MessageWriter ──► any BufMut ──► datagram or TCP/WebSocket frame
//! ```
//!
//! # Example
//!
//! ```
//! use coap_codec::{Code, ContentFormat, Message, MessageBuilder, MessageType};
//!
//! // A client builds a confirmable GET from a URI...
//! let uri = coap_codec::uri::CoapUri::parse("coap://[::1]/sensors/temp?unit=c").unwrap();
//! let request = MessageBuilder::new(MessageType::Confirmable, Code::GET)
//!     .with_message_id(0x1234)
//!     .with_token(&[0x71, 0x4b])
//!     .uri(&uri)
//!     .to_bytes()
//!     .unwrap();
//!
//! // ...the server decodes it without copying...
//! let req = Message::decode(request).unwrap();
//! assert_eq!(req.options().path().unwrap(), "/sensors/temp");
//! assert_eq!(req.options().uri_query().next().unwrap().unwrap(), "unit=c");
//!
//! // ...and piggybacks a response on the ACK.
//! let response = MessageBuilder::response_to(&req, Code::CONTENT)
//!     .content_format(ContentFormat::TEXT_PLAIN)
//!     .payload("22.5")
//!     .to_bytes()
//!     .unwrap();
//! let resp = Message::decode(response).unwrap();
//! assert_eq!(resp.message_type(), MessageType::Acknowledgement);
//! assert_eq!(resp.token(), req.token());
//! assert_eq!(resp.payload(), b"22.5");
//! ```
//!
//! # What is here
//! - [`Message`]: a validated zero-copy view over a datagram; decoding it
//!   allocates nothing. [`Options`] iterates and looks up options, with a
//!   typed accessor for every registered option.
//! - [`MessageBuilder`] (owned, options kept sorted) and [`MessageWriter`]
//!   (streaming, no allocation) serialise into any [`bytes::BufMut`].
//! - [`Code`], [`OptionNumber`] and [`ContentFormat`]: newtypes with the
//!   registered values as constants, so unknown values round-trip.
//! - [`uri`]: RFC 7252 §6.4 (URI to options) and §6.5 (options to URI).
//! - [`link_format`]: RFC 6690 documents, parse, serialise and filter.
//! - [`tcp`]: RFC 8323 framing for TCP/TLS and WebSockets, signaling codes.
//!
//! # No-panic contract
//! Every decoder in this crate accepts arbitrary bytes. Malformed input is
//! a typed error that says what was wrong and at which byte; it never
//! panics, never loops, and never allocates more than the input's size.
//! Fuzz targets and property tests hold the crate to this.
//!
//! # Features
//! - `std` (default): `std` integrations of `bytes`. Without it the crate
//!   is `#![no_std]` and needs only `alloc`.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod builder;
mod code;
mod content_format;
mod display;
mod error;
mod header;
pub mod link_format;
mod message;
pub mod option;
mod parse;
pub mod tcp;
mod token;
pub mod uri;

pub use builder::{MessageBuilder, MessageWriter};
pub use code::{Code, CodeKind};
pub use content_format::ContentFormat;
pub use error::{DecodeError, EncodeError, OptionValueError};
pub use header::{Header, MessageType, VERSION};
pub use message::Message;
pub use option::{
    decode_uint, encode_uint, Block, CoapOption, NoResponse, OptionFormat, OptionNumber, Options,
    OptionsIter, UintBuf,
};
pub use token::Token;

#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;
