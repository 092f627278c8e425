//! The fixed header (MQTT 5.0 §2.1): packet type, flags, Remaining Length.

use crate::error::DecodeError;
use crate::primitives::decode_varint;
use crate::version::ProtocolVersion;

/// MQTT control packet types (MQTT 5.0 §2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PacketType {
    /// 1: client requests a connection.
    Connect = 1,
    /// 2: connect acknowledgment.
    #[doc(alias = "CONNACK")]
    ConnAck = 2,
    /// 3: publish message.
    Publish = 3,
    /// 4: QoS 1 publish acknowledgment.
    #[doc(alias = "PUBACK")]
    PubAck = 4,
    /// 5: QoS 2 publish received (part 1).
    #[doc(alias = "PUBREC")]
    PubRec = 5,
    /// 6: QoS 2 publish release (part 2).
    #[doc(alias = "PUBREL")]
    PubRel = 6,
    /// 7: QoS 2 publish complete (part 3).
    #[doc(alias = "PUBCOMP")]
    PubComp = 7,
    /// 8: subscribe request.
    Subscribe = 8,
    /// 9: subscribe acknowledgment.
    #[doc(alias = "SUBACK")]
    SubAck = 9,
    /// 10: unsubscribe request.
    Unsubscribe = 10,
    /// 11: unsubscribe acknowledgment.
    #[doc(alias = "UNSUBACK")]
    UnsubAck = 11,
    /// 12: ping request.
    #[doc(alias = "PINGREQ")]
    PingReq = 12,
    /// 13: ping response.
    #[doc(alias = "PINGRESP")]
    PingResp = 13,
    /// 14: disconnect notification.
    Disconnect = 14,
    /// 15: authentication exchange (MQTT 5.0 only).
    Auth = 15,
}

impl PacketType {
    /// The packet type with this 4-bit value in `version`.
    #[must_use]
    pub const fn from_u8(value: u8, version: ProtocolVersion) -> Option<Self> {
        Some(match value {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 if version.is_v5() => Self::Auth,
            _ => return None,
        })
    }

    /// The fixed header flags every packet but PUBLISH must carry (MQTT 5.0 §2.1.3):
    /// `0b0010` for PUBREL, SUBSCRIBE and UNSUBSCRIBE, 0 otherwise.
    #[must_use]
    pub const fn required_flags(self) -> u8 {
        match self {
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
}

/// A parsed fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The first byte: packet type (high nibble) and flags (low nibble).
    pub byte1: u8,
    /// Remaining Length: the bytes after the fixed header.
    pub remaining_length: usize,
    /// Size of the fixed header itself (2 to 5 bytes).
    pub header_len: usize,
}

impl FixedHeader {
    /// Parses a fixed header from the start of `buf`; `Ok(None)` when `buf`
    /// ends inside it.
    ///
    /// # Errors
    /// [`DecodeError::MalformedRemainingLength`] for a Remaining Length longer
    /// than four bytes or not minimally encoded.
    #[inline]
    pub fn parse(buf: &[u8]) -> Result<Option<Self>, DecodeError> {
        let Some(&byte1) = buf.first() else {
            return Ok(None);
        };
        match decode_varint(&buf[1..]) {
            Ok(Some((len, n))) => Ok(Some(Self {
                byte1,
                remaining_length: len as usize,
                header_len: 1 + n,
            })),
            Ok(None) => Ok(None),
            Err(()) => Err(DecodeError::MalformedRemainingLength),
        }
    }

    /// Whole packet size: header plus Remaining Length.
    #[must_use]
    pub const fn packet_len(&self) -> usize {
        self.header_len + self.remaining_length
    }

    /// The four flag bits.
    #[must_use]
    pub const fn flags(&self) -> u8 {
        self.byte1 & 0x0f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_two_byte_remaining_length() {
        let h = FixedHeader::parse(&[0x30, 0xc1, 0x02]).unwrap().unwrap();
        assert_eq!(h.remaining_length, 321);
        assert_eq!(h.header_len, 3);
        assert_eq!(h.packet_len(), 324);
    }

    #[test]
    fn five_byte_remaining_length_is_malformed() {
        assert_eq!(
            FixedHeader::parse(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(DecodeError::MalformedRemainingLength)
        );
    }

    #[test]
    fn auth_exists_only_in_v5() {
        assert_eq!(PacketType::from_u8(15, ProtocolVersion::V3_1_1), None);
        assert_eq!(
            PacketType::from_u8(15, ProtocolVersion::V5),
            Some(PacketType::Auth)
        );
        assert_eq!(PacketType::from_u8(0, ProtocolVersion::V5), None);
    }
}
