//! Zero-copy, `no_std` codec for MQTT-SN v1.2 (MQTT For Sensor Networks,
//! Stanford-Clark & Truong, IBM 2013), for sensor nodes and gateways.
//!
//! It turns one UDP (or radio) datagram into a typed [`Message`] and back:
//! every message of §5.4, both Length forms (§5.2.1), the flags (§5.3.4,
//! including QoS -1), the topic id types, the return codes, and the forwarder
//! encapsulation of §5.5 ([`Frame`]).
//!
//! It is the codec layer of m2m-rs: no sockets, no clock, no state. The
//! gateway state machine (`mqttsn-gateway`) is built on it.
//!
//! ```text
//!   mqttsn-gateway (sessions, sleep, topic registry)
//!        |
//!   mqttsn-codec   datagram (Bytes) <-> Frame / Message   <- this crate
//! ```
//!
//! # Example
//! ```
//! use bytes::Bytes;
//! use mqttsn_codec::{Frame, Message, Publish, QoS, Register, Topic};
//!
//! // A client registers a topic name ...
//! let register = Message::decode(Bytes::from_static(b"\x0f\x0a\x00\x00\x00\x01park/a/12"))?;
//! let Message::Register(Register { msg_id, topic_name, .. }) = &register else { panic!() };
//! assert_eq!((*msg_id, &topic_name[..]), (1, &b"park/a/12"[..]));
//!
//! // ... and publishes to the id the gateway assigned.
//! let publish = Message::from(Publish {
//!     dup: false,
//!     qos: QoS::AtLeastOnce,
//!     retain: false,
//!     topic: Topic::Id(7),
//!     msg_id: 2,
//!     data: Bytes::from_static(b"occupied"),
//! });
//! let mut datagram = Vec::with_capacity(publish.encoded_len());
//! publish.encode(&mut datagram)?;
//! assert_eq!(datagram[..7], [15, 0x0C, 0x20, 0x00, 0x07, 0x00, 0x02]);
//!
//! // A gateway that may sit behind forwarders decodes with `Frame`.
//! let frame = Frame::decode(Bytes::from(datagram))?;
//! assert_eq!(frame.message(), &publish);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Strictness and the no-panic contract
//! Decoding never panics, never loops and never allocates: byte fields
//! ([`Publish::data`], topic names, client ids, will topic and message,
//! gateway addresses, node ids) are [`Bytes`](bytes::Bytes) slices of the
//! datagram. Anything the specification does not allow is a [`DecodeError`]
//! that says what and at which byte: a Length disagreeing with the datagram,
//! truncated fields, trailing bytes, reserved message types, return codes,
//! topic id types and Ctrl bits, flag bits a message does not use, QoS -1
//! outside PUBLISH, a topic field contradicting its TopicIdType, an empty
//! topic name, a ProtocolId other than 0x01. Malformed input is refused,
//! never repaired.
//!
//! Encoding writes the shortest Length form (1 octet up to 255 in total) into
//! any [`BufMut`](bytes::BufMut), and checks the room first, so a fixed
//! `&mut [u8]` on a microcontroller gets [`EncodeError::BufferTooSmall`]
//! rather than a panic. It also refuses what the decoder would refuse (QoS -1
//! outside PUBLISH, empty topic names, a topic kind the message cannot carry),
//! so whatever encodes decodes back. A message decoded from the 3-octet form
//! of a short message re-encodes in the 1-octet form; everything else
//! re-encodes to the same bytes.
//!
//! # MQTT-SN 2.0
//! The v1.2 messages are the [`Message`] enum; [`Header`] and the Length rules
//! are shared with 2.0, and [`MsgType`], [`Message`], [`Topic`] and the error
//! enums are `#[non_exhaustive]`, so 2.0 packets and reason codes can be added
//! beside them without breaking users.
//!
//! # Features
//! - `std` (default): the standard library's integrations of `bytes`. The
//!   crate is `#![no_std]` with `alloc` either way.
//! - `__fuzz` (internal): the [`fuzzing`] module used by the fuzz targets.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod error;
mod flags;
mod forwarder;
mod header;
mod message;
mod parse;
mod return_code;
mod topic;

#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;

pub use error::{DecodeError, EncodeError, Field};
pub use flags::QoS;
pub use forwarder::{Encapsulation, Frame, MAX_NODE_ID_LEN};
pub use header::{Header, MsgType, MAX_LEN, MAX_SHORT_LEN};
pub use message::{
    Advertise, ConnAck, Connect, Disconnect, GwInfo, Message, PingReq, PubAck, PubComp, PubRec,
    PubRel, Publish, RegAck, Register, SearchGw, SubAck, Subscribe, UnsubAck, Unsubscribe, WillMsg,
    WillMsgResp, WillMsgUpd, WillTopic, WillTopicResp,
};
pub use return_code::ReturnCode;
pub use topic::{Topic, TopicIdType};
