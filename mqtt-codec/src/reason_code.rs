//! Reason codes (MQTT 5.0 §2.4) and the MQTT 3.1.1 return codes that share
//! their byte.

use crate::fixed_header::PacketType;
use crate::version::ProtocolVersion;

/// A reason code byte. MQTT 5.0 §2.4 lists them; each packet accepts a subset
/// ([`ReasonCode::is_valid_for`]). In MQTT 3.1.1 the same type carries the
/// CONNACK return code (0–5) and the SUBACK return codes (0, 1, 2, 0x80).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ReasonCode(pub u8);

macro_rules! codes {
    ($($name:ident = $v:literal, $text:literal;)*) => {
        impl ReasonCode {
            $(#[doc = concat!("`", stringify!($v), "` ", $text, ".")]
            pub const $name: Self = Self($v);)*
        }
    };
}

codes! {
    SUCCESS = 0x00, "Success (also Normal disconnection, Granted QoS 0)";
    NORMAL_DISCONNECTION = 0x00, "Normal disconnection";
    GRANTED_QOS_0 = 0x00, "Granted QoS 0";
    GRANTED_QOS_1 = 0x01, "Granted QoS 1";
    GRANTED_QOS_2 = 0x02, "Granted QoS 2";
    DISCONNECT_WITH_WILL_MESSAGE = 0x04, "Disconnect with Will Message";
    NO_MATCHING_SUBSCRIBERS = 0x10, "No matching subscribers";
    NO_SUBSCRIPTION_EXISTED = 0x11, "No subscription existed";
    CONTINUE_AUTHENTICATION = 0x18, "Continue authentication";
    RE_AUTHENTICATE = 0x19, "Re-authenticate";
    UNSPECIFIED_ERROR = 0x80, "Unspecified error";
    MALFORMED_PACKET = 0x81, "Malformed Packet";
    PROTOCOL_ERROR = 0x82, "Protocol Error";
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83, "Implementation specific error";
    UNSUPPORTED_PROTOCOL_VERSION = 0x84, "Unsupported Protocol Version";
    CLIENT_IDENTIFIER_NOT_VALID = 0x85, "Client Identifier not valid";
    BAD_USER_NAME_OR_PASSWORD = 0x86, "Bad User Name or Password";
    NOT_AUTHORIZED = 0x87, "Not authorized";
    SERVER_UNAVAILABLE = 0x88, "Server unavailable";
    SERVER_BUSY = 0x89, "Server busy";
    BANNED = 0x8A, "Banned";
    SERVER_SHUTTING_DOWN = 0x8B, "Server shutting down";
    BAD_AUTHENTICATION_METHOD = 0x8C, "Bad authentication method";
    KEEP_ALIVE_TIMEOUT = 0x8D, "Keep Alive timeout";
    SESSION_TAKEN_OVER = 0x8E, "Session taken over";
    TOPIC_FILTER_INVALID = 0x8F, "Topic Filter invalid";
    TOPIC_NAME_INVALID = 0x90, "Topic Name invalid";
    PACKET_IDENTIFIER_IN_USE = 0x91, "Packet Identifier in use";
    PACKET_IDENTIFIER_NOT_FOUND = 0x92, "Packet Identifier not found";
    RECEIVE_MAXIMUM_EXCEEDED = 0x93, "Receive Maximum exceeded";
    TOPIC_ALIAS_INVALID = 0x94, "Topic Alias invalid";
    PACKET_TOO_LARGE = 0x95, "Packet too large";
    MESSAGE_RATE_TOO_HIGH = 0x96, "Message rate too high";
    QUOTA_EXCEEDED = 0x97, "Quota exceeded";
    ADMINISTRATIVE_ACTION = 0x98, "Administrative action";
    PAYLOAD_FORMAT_INVALID = 0x99, "Payload format invalid";
    RETAIN_NOT_SUPPORTED = 0x9A, "Retain not supported";
    QOS_NOT_SUPPORTED = 0x9B, "QoS not supported";
    USE_ANOTHER_SERVER = 0x9C, "Use another server";
    SERVER_MOVED = 0x9D, "Server moved";
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E, "Shared Subscriptions not supported";
    CONNECTION_RATE_EXCEEDED = 0x9F, "Connection rate exceeded";
    MAXIMUM_CONNECT_TIME = 0xA0, "Maximum connect time";
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1, "Subscription Identifiers not supported";
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2, "Wildcard Subscriptions not supported";
}

/// MQTT 3.1.1 CONNACK return codes (MQTT 3.1.1 §3.2.2.3).
pub mod v3 {
    use super::ReasonCode;
    /// 0: Connection Accepted.
    pub const CONNECTION_ACCEPTED: ReasonCode = ReasonCode(0);
    /// 1: unacceptable protocol version.
    pub const UNACCEPTABLE_PROTOCOL_VERSION: ReasonCode = ReasonCode(1);
    /// 2: identifier rejected.
    pub const IDENTIFIER_REJECTED: ReasonCode = ReasonCode(2);
    /// 3: server unavailable.
    pub const SERVER_UNAVAILABLE: ReasonCode = ReasonCode(3);
    /// 4: bad user name or password.
    pub const BAD_USER_NAME_OR_PASSWORD: ReasonCode = ReasonCode(4);
    /// 5: not authorized.
    pub const NOT_AUTHORIZED: ReasonCode = ReasonCode(5);
    /// 0x80: SUBACK failure.
    pub const SUBACK_FAILURE: ReasonCode = ReasonCode(0x80);
}

const CONNACK: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
const PUBACK: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL: &[u8] = &[0x00, 0x92];
const SUBACK: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
const UNSUBACK: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
const DISCONNECT: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
const AUTH: &[u8] = &[0x00, 0x18, 0x19];

impl ReasonCode {
    /// Whether the code is 0x80 or above (MQTT 5.0 §2.4).
    #[must_use]
    pub const fn is_error(self) -> bool {
        self.0 >= 0x80
    }

    /// Whether a packet of this type may carry this code in `version`.
    ///
    /// ```
    /// use mqtt_codec::{PacketType, ProtocolVersion, ReasonCode};
    /// assert!(ReasonCode::NO_MATCHING_SUBSCRIBERS.is_valid_for(PacketType::PubAck, ProtocolVersion::V5));
    /// assert!(!ReasonCode::NO_MATCHING_SUBSCRIBERS.is_valid_for(PacketType::PubRel, ProtocolVersion::V5));
    /// ```
    #[must_use]
    pub fn is_valid_for(self, packet_type: PacketType, version: ProtocolVersion) -> bool {
        if !version.is_v5() {
            return match packet_type {
                PacketType::ConnAck => self.0 <= 5,
                PacketType::SubAck => matches!(self.0, 0 | 1 | 2 | 0x80),
                _ => self.0 == 0,
            };
        }
        let set = match packet_type {
            PacketType::ConnAck => CONNACK,
            PacketType::PubAck | PacketType::PubRec => PUBACK,
            PacketType::PubRel | PacketType::PubComp => PUBREL,
            PacketType::SubAck => SUBACK,
            PacketType::UnsubAck => UNSUBACK,
            PacketType::Disconnect => DISCONNECT,
            PacketType::Auth => AUTH,
            _ => return false,
        };
        set.contains(&self.0)
    }

    /// The specification's name for this code in a packet of `packet_type`
    /// (0x00 is "Success", "Normal disconnection" or "Granted QoS 0"), or
    /// `None` for a byte MQTT 5.0 does not define.
    ///
    /// ```
    /// use mqtt_codec::{PacketType, ReasonCode};
    /// assert_eq!(ReasonCode(0x87).name(PacketType::SubAck), Some("Not authorized"));
    /// assert_eq!(ReasonCode(0).name(PacketType::Disconnect), Some("Normal disconnection"));
    /// ```
    #[must_use]
    pub fn name(self, packet_type: PacketType) -> Option<&'static str> {
        Some(match (self.0, packet_type) {
            (0x00, PacketType::Disconnect) => "Normal disconnection",
            (0x00, PacketType::SubAck) => "Granted QoS 0",
            (0x00, _) => "Success",
            (0x01, _) => "Granted QoS 1",
            (0x02, _) => "Granted QoS 2",
            (0x04, _) => "Disconnect with Will Message",
            (0x10, _) => "No matching subscribers",
            (0x11, _) => "No subscription existed",
            (0x18, _) => "Continue authentication",
            (0x19, _) => "Re-authenticate",
            (0x80, _) => "Unspecified error",
            (0x81, _) => "Malformed Packet",
            (0x82, _) => "Protocol Error",
            (0x83, _) => "Implementation specific error",
            (0x84, _) => "Unsupported Protocol Version",
            (0x85, _) => "Client Identifier not valid",
            (0x86, _) => "Bad User Name or Password",
            (0x87, _) => "Not authorized",
            (0x88, _) => "Server unavailable",
            (0x89, _) => "Server busy",
            (0x8A, _) => "Banned",
            (0x8B, _) => "Server shutting down",
            (0x8C, _) => "Bad authentication method",
            (0x8D, _) => "Keep Alive timeout",
            (0x8E, _) => "Session taken over",
            (0x8F, _) => "Topic Filter invalid",
            (0x90, _) => "Topic Name invalid",
            (0x91, _) => "Packet Identifier in use",
            (0x92, _) => "Packet Identifier not found",
            (0x93, _) => "Receive Maximum exceeded",
            (0x94, _) => "Topic Alias invalid",
            (0x95, _) => "Packet too large",
            (0x96, _) => "Message rate too high",
            (0x97, _) => "Quota exceeded",
            (0x98, _) => "Administrative action",
            (0x99, _) => "Payload format invalid",
            (0x9A, _) => "Retain not supported",
            (0x9B, _) => "QoS not supported",
            (0x9C, _) => "Use another server",
            (0x9D, _) => "Server moved",
            (0x9E, _) => "Shared Subscriptions not supported",
            (0x9F, _) => "Connection rate exceeded",
            (0xA0, _) => "Maximum connect time",
            (0xA1, _) => "Subscription Identifiers not supported",
            (0xA2, _) => "Wildcard Subscriptions not supported",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_has_a_name() {
        for set in [CONNACK, PUBACK, PUBREL, SUBACK, UNSUBACK, DISCONNECT, AUTH] {
            for &c in set {
                assert!(
                    ReasonCode(c).name(PacketType::Disconnect).is_some(),
                    "{c:#x}"
                );
            }
        }
        assert_eq!(ReasonCode(0x03).name(PacketType::ConnAck), None);
    }

    #[test]
    fn v3_connack_accepts_return_codes_0_to_5() {
        let v = ProtocolVersion::V3_1_1;
        assert!(ReasonCode(5).is_valid_for(PacketType::ConnAck, v));
        assert!(!ReasonCode(6).is_valid_for(PacketType::ConnAck, v));
        assert!(ReasonCode(0x80).is_valid_for(PacketType::SubAck, v));
        assert!(!ReasonCode(0x87).is_valid_for(PacketType::SubAck, v));
    }

    #[test]
    fn auth_takes_only_three_codes() {
        let v = ProtocolVersion::V5;
        assert!(ReasonCode::CONTINUE_AUTHENTICATION.is_valid_for(PacketType::Auth, v));
        assert!(!ReasonCode::MALFORMED_PACKET.is_valid_for(PacketType::Auth, v));
    }
}
