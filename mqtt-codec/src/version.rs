//! Protocol versions and their detection from a CONNECT packet.

use crate::error::DecodeError;
use crate::primitives::decode_varint;

/// An MQTT protocol version, named by its CONNECT protocol level
/// (MQTT 5.0 §3.1.2.2, MQTT 3.1.1 §3.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// MQTT 3.1: protocol name `MQIsdp`, level 3. Packets other than CONNECT
    /// have the 3.1.1 layout.
    V3_1,
    /// MQTT 3.1.1 (OASIS Standard, 2014): protocol name `MQTT`, level 4.
    #[default]
    V3_1_1,
    /// MQTT 5.0 (OASIS Standard, 2019): protocol name `MQTT`, level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT.
    #[must_use]
    pub const fn level(self) -> u8 {
        match self {
            Self::V3_1 => 3,
            Self::V3_1_1 => 4,
            Self::V5 => 5,
        }
    }

    /// The version with this protocol level, if any.
    #[must_use]
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            3 => Some(Self::V3_1),
            4 => Some(Self::V3_1_1),
            5 => Some(Self::V5),
            _ => None,
        }
    }

    /// The protocol name CONNECT carries: `MQIsdp` for 3.1, `MQTT` after.
    #[must_use]
    pub const fn protocol_name(self) -> &'static str {
        match self {
            Self::V3_1 => "MQIsdp",
            _ => "MQTT",
        }
    }

    /// Whether this is MQTT 5.0 (properties and reason codes on the wire).
    #[must_use]
    pub const fn is_v5(self) -> bool {
        matches!(self, Self::V5)
    }

    /// Reads the protocol version from the start of a CONNECT packet, so a
    /// server that has not yet seen a packet knows how to decode it.
    ///
    /// Returns `Ok(None)` when `buf` is too short to tell yet.
    ///
    /// # Errors
    /// [`DecodeError`] when `buf` does not start with a CONNECT, or its
    /// protocol name or level is not one this crate speaks.
    ///
    /// # Examples
    /// ```
    /// use mqtt_codec::ProtocolVersion;
    /// let connect = [0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0, 0];
    /// assert_eq!(ProtocolVersion::from_connect(&connect), Ok(Some(ProtocolVersion::V5)));
    /// assert_eq!(ProtocolVersion::from_connect(&connect[..5]), Ok(None));
    /// ```
    pub fn from_connect(buf: &[u8]) -> Result<Option<Self>, DecodeError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        if first >> 4 != 1 {
            return Err(DecodeError::InvalidPacketType {
                packet_type: first >> 4,
            });
        }
        let Some((remaining, len_len)) =
            decode_varint(&buf[1..]).map_err(|()| DecodeError::MalformedRemainingLength)?
        else {
            return Ok(None);
        };
        // Look only inside this packet, even if `buf` holds more.
        let start = 1 + len_len;
        let end = start.saturating_add(remaining as usize);
        let complete = buf.len() >= end;
        let body = &buf[start..end.min(buf.len())];
        let short = |need: usize| {
            if complete {
                Err(DecodeError::UnexpectedEnd {
                    offset: start + body.len().min(need),
                })
            } else {
                Ok(None)
            }
        };
        if body.len() < 2 {
            return short(0);
        }
        let name_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
        if body.len() < 2 + name_len + 1 {
            return short(2);
        }
        let name = &body[2..2 + name_len];
        let level = body[2 + name_len];
        let version =
            Self::from_level(level).ok_or(DecodeError::UnsupportedProtocolLevel { level })?;
        if name != version.protocol_name().as_bytes() {
            if name == b"MQTT" || name == b"MQIsdp" {
                return Err(DecodeError::UnsupportedProtocolLevel { level });
            }
            return Err(DecodeError::InvalidProtocolName);
        }
        Ok(Some(version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip() {
        for v in [
            ProtocolVersion::V3_1,
            ProtocolVersion::V3_1_1,
            ProtocolVersion::V5,
        ] {
            assert_eq!(ProtocolVersion::from_level(v.level()), Some(v));
        }
        assert_eq!(ProtocolVersion::from_level(6), None);
    }

    #[test]
    fn detects_mqisdp_as_3_1() {
        let c = [
            0x10, 0x0f, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 2, 0, 10, 0, 1, b'p',
        ];
        assert_eq!(
            ProtocolVersion::from_connect(&c),
            Ok(Some(ProtocolVersion::V3_1))
        );
    }

    #[test]
    fn rejects_mqtt_name_with_level_3() {
        let c = [
            0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 3, 2, 0, 10, 0, 1, b'p',
        ];
        assert_eq!(
            ProtocolVersion::from_connect(&c),
            Err(DecodeError::UnsupportedProtocolLevel { level: 3 })
        );
    }

    #[test]
    fn name_longer_than_the_packet_is_malformed() {
        let c = [0x10, 0x04, 0x52, 0x00, 0x04, b'M', 0x10, 0];
        assert_eq!(
            ProtocolVersion::from_connect(&c),
            Err(DecodeError::UnexpectedEnd { offset: 4 })
        );
        assert_eq!(ProtocolVersion::from_connect(&c[..4]), Ok(None));
    }

    #[test]
    fn rejects_non_connect_first_packet() {
        assert!(ProtocolVersion::from_connect(&[0x30, 0]).is_err());
    }
}
