//! Typed decode and encode errors: each says what was wrong and where.

use core::fmt;

use crate::header::MsgType;
use crate::topic::TopicIdType;

/// A field of an MQTT-SN message, named in [`DecodeError::Truncated`]
/// (MQTT-SN v1.2 §5.3 lists the fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The 1- or 3-octet Length field (§5.2.1).
    Length,
    /// The MsgType octet (§5.2.2).
    MsgType,
    /// The Flags octet (§5.3.4).
    Flags,
    /// The ProtocolId octet of CONNECT (§5.3.8).
    ProtocolId,
    /// A 2-octet Duration (§5.3.3).
    Duration,
    /// The GwId octet (§5.3.6).
    GwId,
    /// The Radius octet of SEARCHGW (§5.3.9).
    Radius,
    /// A 2-octet TopicId (§5.3.11).
    TopicId,
    /// A 2-octet MsgId (§5.3.7).
    MsgId,
    /// A ReturnCode octet (§5.3.10).
    ReturnCode,
    /// A topic field of SUBSCRIBE or UNSUBSCRIBE (TopicName or TopicId, §5.4.15).
    Topic,
    /// The Ctrl octet of a forwarder encapsulation (§5.5).
    Ctrl,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Length => "length",
            Self::MsgType => "msg type",
            Self::Flags => "flags",
            Self::ProtocolId => "protocol id",
            Self::Duration => "duration",
            Self::GwId => "gw id",
            Self::Radius => "radius",
            Self::TopicId => "topic id",
            Self::MsgId => "msg id",
            Self::ReturnCode => "return code",
            Self::Topic => "topic",
            Self::Ctrl => "ctrl",
        })
    }
}

/// Why a datagram is not a valid MQTT-SN v1.2 message.
///
/// Every `offset` is a byte offset into the datagram handed to the decoder
/// (for an encapsulated message too, so it points into the outer datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The datagram (or the part left for an encapsulated message) is too short
    /// to hold a Length and a MsgType (§5.2).
    #[error("{len} bytes at byte {offset} cannot hold a length and a msg type")]
    TruncatedHeader {
        /// Bytes available.
        len: usize,
        /// Where the header starts.
        offset: usize,
    },
    /// The Length field declares fewer octets than its own header (§5.2.1).
    #[error(
        "length field at byte {offset} declares {declared} bytes, less than the header itself"
    )]
    InvalidLength {
        /// The declared total length.
        declared: usize,
        /// Where the Length field starts.
        offset: usize,
    },
    /// The Length field disagrees with the size of the datagram (§5.2.1).
    #[error("length field at byte {offset} declares {declared} bytes but {actual} are there")]
    LengthMismatch {
        /// The declared total length.
        declared: usize,
        /// The bytes actually available for the message.
        actual: usize,
        /// Where the Length field starts.
        offset: usize,
    },
    /// The MsgType octet holds a reserved value (§5.2.2: 0x03, 0x11, 0x19,
    /// 0x1E–0xFD, 0xFF).
    #[error("reserved msg type {value:#04x} at byte {offset}")]
    ReservedMsgType {
        /// The octet.
        value: u8,
        /// Where the MsgType octet is.
        offset: usize,
    },
    /// A forwarder encapsulation (§5.5) where a plain message was expected:
    /// use [`Frame::decode`](crate::Frame::decode), which accepts both, and
    /// which refuses an encapsulation nested in another.
    #[error("forwarder encapsulation at byte {offset} where a plain message was expected")]
    UnexpectedEncapsulation {
        /// Where the encapsulation's MsgType octet is.
        offset: usize,
    },
    /// The message ends inside a field.
    #[error("{msg_type}: {field} truncated at byte {offset}")]
    Truncated {
        /// The message being decoded.
        msg_type: MsgType,
        /// The field cut short.
        field: Field,
        /// Where the field starts.
        offset: usize,
    },
    /// Bytes remain after the last field of a fixed-format message.
    #[error("{msg_type}: {count} unexpected bytes after the last field at byte {offset}")]
    TrailingBytes {
        /// The message being decoded.
        msg_type: MsgType,
        /// How many bytes are left over.
        count: usize,
        /// Where they start.
        offset: usize,
    },
    /// The Flags octet sets a bit this message does not use (§5.3.4 lists,
    /// per message, which flags are relevant).
    #[error("{msg_type}: flags {flags:#04x} at byte {offset} set bits this message does not use")]
    UnusedFlags {
        /// The message being decoded.
        msg_type: MsgType,
        /// The Flags octet.
        flags: u8,
        /// Where the Flags octet is.
        offset: usize,
    },
    /// The TopicIdType bits hold the reserved value 0b11 (§5.3.4).
    #[error("{msg_type}: reserved topic id type 0b11 at byte {offset}")]
    ReservedTopicIdType {
        /// The message being decoded.
        msg_type: MsgType,
        /// Where the Flags octet is.
        offset: usize,
    },
    /// QoS -1 (flag bits 0b11) outside PUBLISH (§6.8: it exists only for
    /// publishing without a connection).
    #[error("{msg_type}: qos -1 at byte {offset} is only allowed in PUBLISH")]
    QosMinusOneNotAllowed {
        /// The message being decoded.
        msg_type: MsgType,
        /// Where the Flags octet is.
        offset: usize,
    },
    /// A ReturnCode octet holds a reserved value (§5.3.10: 0x04–0xFF).
    #[error("{msg_type}: reserved return code {value:#04x} at byte {offset}")]
    ReservedReturnCode {
        /// The message being decoded.
        msg_type: MsgType,
        /// The octet.
        value: u8,
        /// Where it is.
        offset: usize,
    },
    /// CONNECT's ProtocolId is not 0x01, the only value of v1.2 (§5.3.8).
    #[error("CONNECT: protocol id {value:#04x} at byte {offset} is not 0x01")]
    UnsupportedProtocolId {
        /// The octet.
        value: u8,
        /// Where it is.
        offset: usize,
    },
    /// The topic field contradicts the TopicIdType flags: a predefined topic id
    /// or a short topic name takes exactly 2 octets (§5.4.15, §5.4.17).
    #[error("{msg_type}: a {topic_id_type} topic takes 2 bytes, got {len} at byte {offset}")]
    TopicLengthMismatch {
        /// The message being decoded.
        msg_type: MsgType,
        /// The type the flags announced.
        topic_id_type: TopicIdType,
        /// The bytes the topic field actually has.
        len: usize,
        /// Where the topic field starts.
        offset: usize,
    },
    /// A topic name (REGISTER, SUBSCRIBE, UNSUBSCRIBE, WILLTOPIC, WILLTOPICUPD)
    /// is empty: MQTT topic names have at least one character, and the will
    /// messages delete the will with the 2-octet form, not with an empty name.
    #[error("{msg_type}: empty topic name at byte {offset}")]
    EmptyTopicName {
        /// The message being decoded.
        msg_type: MsgType,
        /// Where the topic name would start.
        offset: usize,
    },
    /// A forwarder encapsulation uses the 3-octet Length form, which §5.5 does
    /// not have (its Length is one octet).
    #[error("forwarder encapsulation at byte {offset} uses the 3-octet length form")]
    LongFormEncapsulation {
        /// Where the Length field starts.
        offset: usize,
    },
    /// The Ctrl octet of a forwarder encapsulation sets reserved bits 2–7 (§5.5).
    #[error("forwarder encapsulation: ctrl {ctrl:#04x} at byte {offset} sets reserved bits")]
    ReservedCtrlBits {
        /// The Ctrl octet.
        ctrl: u8,
        /// Where it is.
        offset: usize,
    },
}

/// Why a message cannot be encoded. Nothing is written to the buffer when
/// encoding fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message would be longer than the 65535 octets the 3-octet Length
    /// field can express (§5.2.1).
    #[error("message of {len} bytes exceeds the 65535-byte limit")]
    TooLong {
        /// The length the message would have.
        len: usize,
    },
    /// The buffer cannot take the whole message.
    #[error("message needs {needed} bytes, buffer has room for {remaining}")]
    BufferTooSmall {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes the buffer can still take.
        remaining: usize,
    },
    /// The topic variant cannot be carried by this message in v1.2: PUBLISH
    /// takes a topic id, a predefined id or a short name (never a full name);
    /// SUBSCRIBE and UNSUBSCRIBE take a name, a predefined id or a short name
    /// (never a normal topic id).
    #[error("{msg_type} cannot carry this kind of topic")]
    TopicNotAllowed {
        /// The message being encoded.
        msg_type: MsgType,
    },
    /// QoS -1 in a message other than PUBLISH (the decoder refuses it too).
    #[error("{msg_type} cannot carry qos -1")]
    QosMinusOneNotAllowed {
        /// The message being encoded.
        msg_type: MsgType,
    },
    /// An empty topic name in REGISTER, SUBSCRIBE, UNSUBSCRIBE, WILLTOPIC or
    /// WILLTOPICUPD (the decoder refuses it too; the will messages delete the
    /// will with `None`).
    #[error("{msg_type} cannot carry an empty topic name")]
    EmptyTopicName {
        /// The message being encoded.
        msg_type: MsgType,
    },
    /// A forwarder encapsulation's radius does not fit in 2 bits (§5.5).
    #[error("forwarder radius {radius} does not fit in 2 bits")]
    RadiusOutOfRange {
        /// The radius given.
        radius: u8,
    },
    /// A wireless node id longer than the 252 octets the 1-octet Length of a
    /// forwarder encapsulation leaves room for (§5.5).
    #[error("wireless node id of {len} bytes exceeds 252 bytes")]
    NodeIdTooLong {
        /// The node id's length.
        len: usize,
    },
}
