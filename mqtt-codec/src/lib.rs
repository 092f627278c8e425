//! Zero-copy, `no_std` MQTT 3.1, 3.1.1 and 5.0 codec.
//!
//! `mqtt-codec` turns bytes into typed MQTT control packets and back, for
//! all three protocol versions: every packet type (AUTH in 5.0), every
//! MQTT 5.0 property with the packets it may appear in, reason codes with
//! their names, the UTF-8 and topic rules, and a streaming decoder that
//! frames packets from a TCP byte stream. It is the codec layer of m2m-rs,
//! shared by the broker, the client and the MQTT-SN gateway.
//!
//! It is **not** a client or a broker: it does no I/O, keeps no session
//! state and never reads a clock. Rules that need state (a second CONNECT,
//! a Topic Alias above the negotiated maximum, an unknown packet identifier)
//! belong to `mqtt-broker-core` and `mqtt-client`.
//!
//! Decoding is strict where the specification is normative: reserved bits,
//! QoS 3, packet identifier 0, malformed variable byte integers, invalid
//! UTF-8 or U+0000, wildcards in topic names, invalid filters, contradictory
//! will flags, properties that are unknown, duplicated or not allowed in the
//! packet. Each [`DecodeError`] maps to the reason code a server answers with
//! ([`DecodeError::reason_code`]). Malformed input never panics, and memory
//! use is bounded by the input: a packet that announces 256 MB costs nothing
//! until its bytes arrive, and not even then if it exceeds the configured
//! maximum. Topics, payloads and strings are [`bytes::Bytes`] slices of the
//! received buffer; decoding a PUBLISH without properties does not allocate,
//! and MQTT 5.0 properties live in one out-of-line table ([`Props`]).
//!
//! For the PUBLISH hot path, [`StreamDecoder::decode_lazy`] returns a
//! [`PublishFrame`]: the same checks (properties included), but the packet
//! stays one [`bytes::Bytes`] handle on its frame, with topic, payload and
//! properties read from it on demand. It never allocates, even with
//! properties, and costs one reference count per packet instead of one per
//! field; [`PublishFrame::into_publish`] turns it into a [`Publish`].
//!
//! Parsing is a small hand-written cursor over the frame rather than parser
//! combinators: every field is length-prefixed, and the PUBLISH hot path
//! scans the topic a word at a time.
//!
//! ```text
//!  socket bytes ─► BytesMut ─► StreamDecoder ─► Packet ─► broker / client
//!                                                  │
//!  socket ◄─ BytesMut ◄──────── Packet::encode ◄───┘
//! ```
//!
//! # Example
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mqtt_codec::{Packet, ProtocolVersion, Publish, QoS, StreamDecoder, Utf8String};
//!
//! // Encode a QoS 1 PUBLISH with an MQTT 5.0 property.
//! let mut publish = Publish::new(Utf8String::from_static("sensors/7/temp"), Bytes::from_static(b"21.5"))
//!     .with_qos(QoS::AtLeastOnce, 1);
//! publish.properties.content_type = Some(Utf8String::from_static("text/plain"));
//! let mut wire = BytesMut::new();
//! Packet::Publish(publish.clone()).encode(ProtocolVersion::V5, &mut wire)?;
//!
//! // Decode it as it arrives from a stream, in two parts.
//! let mut decoder = StreamDecoder::new(ProtocolVersion::V5, 64 * 1024);
//! let second = wire.split_off(5);
//! assert_eq!(decoder.decode(&mut wire)?, None); // need more bytes
//! wire.unsplit(second);
//! let Some(Packet::Publish(got)) = decoder.decode(&mut wire)? else { unreachable!() };
//! assert_eq!(got, publish);
//! assert!(mqtt_codec::topic::matches("sensors/+/temp", &got.topic));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//! - `std` (default): `std` integrations of `bytes`.
//! - `tokio-util`: [`codec::MqttCodec`], a `tokio_util::codec` Decoder and
//!   Encoder (needs `std`).
//!
//! Specifications: MQTT Version 5.0 (OASIS Standard, 7 March 2019), MQTT
//! Version 3.1.1 (OASIS Standard, 29 October 2014), MQTT V3.1 (IBM, 2010).
//! Section numbers in the docs refer to MQTT 5.0 unless stated.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod fixed_header;
mod packet;
mod parse;
mod primitives;
pub mod property;
mod qos;
pub mod reason_code;
mod stream;
pub mod topic;
mod version;

#[cfg(feature = "tokio-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-util")))]
pub mod codec;

#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;

pub use error::{DecodeError, EncodeError};
pub use fixed_header::{FixedHeader, PacketType};
pub use packet::{
    Ack, Auth, ConnAck, Connect, Disconnect, LastWill, LazyPacket, Packet, PubAck, PubComp, PubRec,
    PubRel, Publish, PublishFrame, RetainHandling, SubAck, Subscribe, Subscription,
    SubscriptionOptions, UnsubAck, Unsubscribe,
};
pub use primitives::{
    decode_varint, has_discouraged_code_points, validate_utf8, varint_len, StringError, Utf8String,
    VARINT_MAX,
};
pub use property::{Properties, Props};
pub use qos::QoS;
pub use reason_code::ReasonCode;
pub use stream::{StreamDecoder, MAX_PACKET_SIZE};
pub use topic::TopicError;
pub use version::ProtocolVersion;
