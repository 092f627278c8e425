//! Decode and encode errors, each mapped to the MQTT 5.0 reason code a
//! server answers with (MQTT 5.0 §4.13).

use crate::fixed_header::PacketType;
use crate::reason_code::ReasonCode;
use crate::topic::TopicError;
use crate::version::ProtocolVersion;

/// Why a packet could not be decoded.
///
/// Offsets count from the first byte of the frame (the fixed header).
/// [`DecodeError::reason_code`] gives the reason code a server sends in
/// its CONNACK or DISCONNECT before closing the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The Remaining Length has more than four bytes or is not minimally encoded.
    #[error("malformed remaining length")]
    MalformedRemainingLength,
    /// The packet (fixed header included) is larger than the configured maximum.
    #[error("packet of {size} bytes exceeds the maximum of {max}")]
    PacketTooLarge {
        /// Announced packet size.
        size: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The frame passed to [`Packet::decode`](crate::Packet::decode) is shorter or longer
    /// than its fixed header announces.
    #[error("frame of {actual} bytes but its header announces {expected}")]
    FrameLength {
        /// Length announced by the fixed header (header included).
        expected: usize,
        /// Length of the frame.
        actual: usize,
    },
    /// Packet type 0, or 15 before MQTT 5.0.
    #[error("invalid packet type {packet_type}")]
    InvalidPacketType {
        /// The four high bits of the first byte.
        packet_type: u8,
    },
    /// The packet type exists only in a later protocol version (AUTH before 5.0).
    #[error("{packet_type:?} does not exist in {version:?}")]
    PacketNotInVersion {
        /// The packet.
        packet_type: PacketType,
        /// The version in use.
        version: ProtocolVersion,
    },
    /// Reserved flag bits of the fixed header are wrong (MQTT 5.0 §2.1.3).
    #[error("{packet_type:?}: invalid fixed header flags {flags:#x}")]
    InvalidHeaderFlags {
        /// The packet.
        packet_type: PacketType,
        /// The four low bits of the first byte.
        flags: u8,
    },
    /// The packet ends before a field does.
    #[error("packet ends inside a field at byte {offset}")]
    UnexpectedEnd {
        /// Where the incomplete field starts.
        offset: usize,
    },
    /// Bytes left after the last field of a packet.
    #[error("{count} unexpected bytes at the end of {packet_type:?}")]
    TrailingBytes {
        /// The packet.
        packet_type: PacketType,
        /// Number of extra bytes.
        count: usize,
    },
    /// A variable byte integer inside the packet is longer than four bytes
    /// or not minimally encoded (MQTT 5.0 §1.5.5).
    #[error("malformed variable byte integer at byte {offset}")]
    MalformedVarInt {
        /// Where the integer starts.
        offset: usize,
    },
    /// A UTF-8 string is not well-formed UTF-8 (MQTT 5.0 §1.5.4).
    #[error("invalid UTF-8 in string at byte {offset}")]
    InvalidUtf8 {
        /// Where the string starts.
        offset: usize,
    },
    /// A UTF-8 string contains U+0000 (MQTT-1.5.4-2).
    #[error("string at byte {offset} contains U+0000")]
    NullCharacter {
        /// Where the string starts.
        offset: usize,
    },
    /// CONNECT's protocol name is neither `MQTT` nor `MQIsdp` (for level 3).
    #[error("invalid protocol name")]
    InvalidProtocolName,
    /// CONNECT's protocol level is not 3, 4 or 5.
    #[error("unsupported protocol level {level}")]
    UnsupportedProtocolLevel {
        /// The level byte.
        level: u8,
    },
    /// CONNECT flags break a rule of MQTT 5.0 §3.1.2.3 (reserved bit, will QoS/retain
    /// without will flag, will QoS 3, password without user name before 5.0).
    #[error("invalid connect flags {flags:#x}")]
    InvalidConnectFlags {
        /// The connect flags byte.
        flags: u8,
    },
    /// QoS 3 in a PUBLISH header or a subscription (MQTT-3.3.1-4).
    #[error("QoS 3 at byte {offset}")]
    InvalidQos {
        /// Where the QoS bits are.
        offset: usize,
    },
    /// DUP set on a QoS 0 PUBLISH (MQTT-3.3.1-2).
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupWithQos0,
    /// A packet identifier of 0 where one is required (MQTT-2.2.1-3).
    #[error("{packet_type:?} has packet identifier 0")]
    ZeroPacketId {
        /// The packet.
        packet_type: PacketType,
    },
    /// SUBSCRIBE or UNSUBSCRIBE without any topic filter (MQTT-3.8.3-2, MQTT-3.10.3-2).
    #[error("{packet_type:?} without topic filters")]
    NoTopicFilters {
        /// The packet.
        packet_type: PacketType,
    },
    /// SUBACK or UNSUBACK without reason codes.
    #[error("{packet_type:?} without reason codes")]
    NoReasonCodes {
        /// The packet.
        packet_type: PacketType,
    },
    /// The Topic Name of a PUBLISH or will is not valid (MQTT 5.0 §4.7).
    #[error("invalid topic name at byte {offset}: {error}")]
    InvalidTopicName {
        /// Where the topic starts.
        offset: usize,
        /// What is wrong with it.
        error: TopicError,
    },
    /// A topic filter is not valid (MQTT 5.0 §4.7.1).
    #[error("invalid topic filter at byte {offset}: {error}")]
    InvalidTopicFilter {
        /// Where the filter starts.
        offset: usize,
        /// What is wrong with it.
        error: TopicError,
    },
    /// Reserved bits of a subscription options byte are set (MQTT-3.8.3-5).
    #[error("reserved subscription option bits in {options:#x}")]
    ReservedSubscriptionOptions {
        /// The options byte.
        options: u8,
    },
    /// Retain Handling 3 (MQTT 5.0 §3.8.3.1).
    #[error("retain handling 3 is reserved")]
    InvalidRetainHandling,
    /// No Local set on a shared subscription (MQTT-3.8.3-4).
    #[error("no local on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// A property identifier that MQTT 5.0 does not define.
    #[error("unknown property {id:#x} at byte {offset}")]
    UnknownProperty {
        /// The identifier.
        id: u32,
        /// Where it is.
        offset: usize,
    },
    /// A property this packet must not carry (MQTT 5.0 §2.2.2.2).
    #[error("property {id:#x} is not allowed in {packet_type:?}")]
    PropertyNotAllowed {
        /// The identifier.
        id: u8,
        /// The packet.
        packet_type: PacketType,
    },
    /// A property that may appear once appears twice.
    #[error("property {id:#x} appears more than once")]
    DuplicateProperty {
        /// The identifier.
        id: u8,
    },
    /// A property value outside its range (e.g. Receive Maximum 0).
    #[error("invalid value for property {id:#x}")]
    InvalidPropertyValue {
        /// The identifier.
        id: u8,
    },
    /// The property length runs past the end of the packet.
    #[error("property length overruns the packet at byte {offset}")]
    PropertyLength {
        /// Where the property length is.
        offset: usize,
    },
    /// A reason code that this packet type must not carry.
    #[error("reason code {code:#x} is not valid in {packet_type:?}")]
    InvalidReasonCode {
        /// The packet.
        packet_type: PacketType,
        /// The code.
        code: u8,
    },
    /// In version detection mode, the first packet is not CONNECT (MQTT-3.1.0-1).
    #[error("first packet has type {packet_type}, not CONNECT")]
    FirstPacketNotConnect {
        /// The four high bits of its first byte.
        packet_type: u8,
    },
    /// CONNACK acknowledge flags with reserved bits, or session present with an error.
    #[error("invalid CONNACK acknowledge flags {flags:#x}")]
    InvalidConnAckFlags {
        /// The flags byte.
        flags: u8,
    },
}

impl DecodeError {
    /// The MQTT 5.0 reason code a server sends before closing the connection
    /// (in CONNACK for a bad CONNECT, in DISCONNECT otherwise).
    ///
    /// ```
    /// use mqtt_codec::{Packet, ProtocolVersion, ReasonCode};
    /// // QoS 3 PUBLISH
    /// let err = Packet::decode(ProtocolVersion::V5, bytes::Bytes::from_static(&[0x36, 3, 0, 1, b'a']))
    ///     .unwrap_err();
    /// assert_eq!(err.reason_code(), ReasonCode::MALFORMED_PACKET);
    /// ```
    #[must_use]
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::PacketTooLarge { .. } => ReasonCode::PACKET_TOO_LARGE,
            Self::UnsupportedProtocolLevel { .. } => ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            Self::ZeroPacketId { .. }
            | Self::NoTopicFilters { .. }
            | Self::DuplicateProperty { .. }
            | Self::InvalidPropertyValue { .. }
            | Self::InvalidReasonCode { .. }
            | Self::InvalidRetainHandling
            | Self::NoLocalOnSharedSubscription
            | Self::PacketNotInVersion { .. }
            | Self::FirstPacketNotConnect { .. } => ReasonCode::PROTOCOL_ERROR,
            _ => ReasonCode::MALFORMED_PACKET,
        }
    }
}

/// Why a packet could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The packet would exceed 268,435,455 bytes of Remaining Length.
    #[error("remaining length {len} exceeds 268435455")]
    PacketTooLarge {
        /// The remaining length it would need.
        len: usize,
    },
    /// A string or binary field is longer than 65,535 bytes.
    #[error("field of {len} bytes exceeds 65535")]
    FieldTooLong {
        /// Its length.
        len: usize,
    },
    /// The packet type does not exist in this protocol version.
    #[error("{packet_type:?} does not exist in {version:?}")]
    PacketNotInVersion {
        /// The packet.
        packet_type: PacketType,
        /// The version asked for.
        version: ProtocolVersion,
    },
    /// A packet identifier of 0 where one is required.
    #[error("{packet_type:?} needs a non-zero packet identifier")]
    ZeroPacketId {
        /// The packet.
        packet_type: PacketType,
    },
    /// An invalid topic name.
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// An invalid topic filter.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// SUBSCRIBE, UNSUBSCRIBE, SUBACK or UNSUBACK with an empty list.
    #[error("{packet_type:?} needs at least one entry")]
    EmptyList {
        /// The packet.
        packet_type: PacketType,
    },
    /// A property value the wire cannot carry (e.g. a subscription identifier above 268,435,455).
    #[error("invalid value for property {id:#x}")]
    InvalidPropertyValue {
        /// The identifier.
        id: u8,
    },
    /// A property this packet must not carry (MQTT 5.0 §2.2.2.2).
    #[error("property {id:#x} is not allowed here")]
    PropertyNotAllowed {
        /// The identifier.
        id: u8,
    },
    /// DUP set on a QoS 0 PUBLISH (MQTT-3.3.1-2).
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupWithQos0,
    /// A password without a user name, which MQTT 3.1.1 forbids (MQTT-3.1.2-22).
    #[error("password without user name before MQTT 5.0")]
    PasswordWithoutUsername,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_reason_codes_servers_send() {
        assert_eq!(
            DecodeError::PacketTooLarge { size: 10, max: 5 }.reason_code(),
            ReasonCode::PACKET_TOO_LARGE
        );
        assert_eq!(
            DecodeError::DuplicateProperty { id: 1 }.reason_code(),
            ReasonCode::PROTOCOL_ERROR
        );
        assert_eq!(
            DecodeError::InvalidUtf8 { offset: 4 }.reason_code(),
            ReasonCode::MALFORMED_PACKET
        );
        assert_eq!(
            DecodeError::UnsupportedProtocolLevel { level: 6 }.reason_code(),
            ReasonCode::UNSUPPORTED_PROTOCOL_VERSION
        );
    }

    #[test]
    fn messages_are_lowercase_without_period() {
        let msg = alloc::format!("{}", DecodeError::InvalidUtf8 { offset: 3 });
        assert_eq!(msg, "invalid UTF-8 in string at byte 3");
        assert!(!msg.ends_with('.'));
    }
}
