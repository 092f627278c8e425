//! The Flags octet (MQTT-SN v1.2 §5.3.4) and the QoS levels it carries.
//!
//! ```text
//!   bit   7     6  5     4       3       2            1  0
//!       DUP    QoS    Retain   Will  CleanSession  TopicIdType
//! ```
//! Each message uses only some of these; the decoder refuses the others set.

/// DUP: the message is being re-sent (bit 7).
pub(crate) const DUP: u8 = 0x80;
/// QoS bits 6 and 5.
pub(crate) const QOS: u8 = 0x60;
/// Retain (bit 4).
pub(crate) const RETAIN: u8 = 0x10;
/// Will (bit 3): CONNECT asks the gateway for WILLTOPICREQ / WILLMSGREQ.
pub(crate) const WILL: u8 = 0x08;
/// CleanSession (bit 2).
pub(crate) const CLEAN_SESSION: u8 = 0x04;
/// TopicIdType bits 1 and 0.
pub(crate) const TOPIC_ID_TYPE: u8 = 0x03;

/// Quality of service (§5.3.4, §6.8 for QoS -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum QoS {
    /// QoS 0, flag bits 0b00.
    #[default]
    AtMostOnce,
    /// QoS 1, flag bits 0b01.
    AtLeastOnce,
    /// QoS 2, flag bits 0b10.
    ExactlyOnce,
    /// QoS -1, flag bits 0b11 (§6.8): PUBLISH without a connection, to a
    /// predefined topic id or a short topic name. Only PUBLISH carries it.
    #[doc(alias = "-1")]
    MinusOne,
}

impl QoS {
    /// The QoS in a Flags octet.
    pub const fn from_flags(flags: u8) -> Self {
        match (flags & QOS) >> 5 {
            0 => Self::AtMostOnce,
            1 => Self::AtLeastOnce,
            2 => Self::ExactlyOnce,
            _ => Self::MinusOne,
        }
    }

    /// This QoS as bits 6–5 of a Flags octet.
    pub const fn to_flags(self) -> u8 {
        let bits = match self {
            Self::AtMostOnce => 0,
            Self::AtLeastOnce => 1,
            Self::ExactlyOnce => 2,
            Self::MinusOne => 3,
        };
        bits << 5
    }
}

/// Puts `bit` in a Flags octet when `on`.
pub(crate) const fn bit(on: bool, bit: u8) -> u8 {
    if on {
        bit
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_minus_one_is_both_bits() {
        assert_eq!(QoS::MinusOne.to_flags(), 0b0110_0000);
        assert_eq!(QoS::from_flags(0b0110_0000), QoS::MinusOne);
    }

    #[test]
    fn qos_ignores_other_flag_bits() {
        for q in [
            QoS::AtMostOnce,
            QoS::AtLeastOnce,
            QoS::ExactlyOnce,
            QoS::MinusOne,
        ] {
            assert_eq!(QoS::from_flags(q.to_flags() | !QOS), q);
        }
    }
}
