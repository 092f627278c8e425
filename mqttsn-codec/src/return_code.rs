//! The ReturnCode octet (MQTT-SN v1.2 §5.3.10).

use core::fmt;

/// A return code of CONNACK, REGACK, PUBACK, SUBACK, WILLTOPICRESP and
/// WILLMSGRESP (§5.3.10). Values 0x04–0xFF are reserved and refused by the
/// decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ReturnCode {
    /// 0x00 Accepted.
    #[default]
    Accepted,
    /// 0x01 Rejected: congestion.
    RejectedCongestion,
    /// 0x02 Rejected: invalid topic ID.
    RejectedInvalidTopicId,
    /// 0x03 Rejected: not supported.
    RejectedNotSupported,
}

impl ReturnCode {
    /// The code for an octet, or `None` for a reserved value.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0x00 => Self::Accepted,
            0x01 => Self::RejectedCongestion,
            0x02 => Self::RejectedInvalidTopicId,
            0x03 => Self::RejectedNotSupported,
            _ => return None,
        })
    }

    /// The octet.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Accepted => 0x00,
            Self::RejectedCongestion => 0x01,
            Self::RejectedInvalidTopicId => 0x02,
            Self::RejectedNotSupported => 0x03,
        }
    }

    /// Whether this is [`ReturnCode::Accepted`].
    pub const fn is_accepted(self) -> bool {
        matches!(self, Self::Accepted)
    }
}

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Accepted => "accepted",
            Self::RejectedCongestion => "rejected: congestion",
            Self::RejectedInvalidTopicId => "rejected: invalid topic id",
            Self::RejectedNotSupported => "rejected: not supported",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defined_codes_round_trip_and_reserved_are_none() {
        for v in 0..=u8::MAX {
            match ReturnCode::from_u8(v) {
                Some(c) => assert_eq!(c.as_u8(), v),
                None => assert!(v >= 0x04),
            }
        }
    }
}
