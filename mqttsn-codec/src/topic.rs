//! Topics: full names, normal topic ids, predefined ids and short names
//! (MQTT-SN v1.2 §3 "Topic Id", §5.3.4 TopicIdType, §5.3.11–5.3.12).

use core::fmt;

use bytes::Bytes;

/// The TopicIdType flag bits (§5.3.4). 0b11 is reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TopicIdType {
    /// 0b00: a normal topic id (PUBLISH) or a topic name (SUBSCRIBE, UNSUBSCRIBE).
    Normal,
    /// 0b01: a predefined topic id.
    Predefined,
    /// 0b10: a short topic name of two octets.
    Short,
}

impl TopicIdType {
    /// The bits 1–0 of a Flags octet, or `None` for the reserved 0b11.
    pub const fn from_flags(flags: u8) -> Option<Self> {
        match flags & 0b11 {
            0b00 => Some(Self::Normal),
            0b01 => Some(Self::Predefined),
            0b10 => Some(Self::Short),
            _ => None,
        }
    }

    /// This type as bits 1–0 of a Flags octet.
    pub const fn to_flags(self) -> u8 {
        match self {
            Self::Normal => 0b00,
            Self::Predefined => 0b01,
            Self::Short => 0b10,
        }
    }
}

impl fmt::Display for TopicIdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Normal => "normal",
            Self::Predefined => "predefined",
            Self::Short => "short",
        })
    }
}

/// A topic as PUBLISH, SUBSCRIBE and UNSUBSCRIBE carry it.
///
/// | variant | PUBLISH | SUBSCRIBE / UNSUBSCRIBE | TopicIdType |
/// |---|---|---|---|
/// | [`Topic::Id`] | yes | no | normal |
/// | [`Topic::Name`] | no | yes | normal |
/// | [`Topic::Predefined`] | yes | yes | predefined |
/// | [`Topic::Short`] | yes | yes | short |
///
/// Encoding a variant a message cannot carry fails with
/// [`EncodeError::TopicNotAllowed`](crate::EncodeError::TopicNotAllowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Topic {
    /// A topic name or filter (SUBSCRIBE, UNSUBSCRIBE), a slice of the datagram.
    Name(Bytes),
    /// A normal topic id, assigned by REGISTER/REGACK or SUBACK (PUBLISH).
    Id(u16),
    /// A predefined topic id, known to client and gateway beforehand.
    Predefined(u16),
    /// A short topic name of exactly two characters.
    Short([u8; 2]),
}

impl Topic {
    /// The TopicIdType this topic is sent with.
    pub const fn id_type(&self) -> TopicIdType {
        match self {
            Self::Name(_) | Self::Id(_) => TopicIdType::Normal,
            Self::Predefined(_) => TopicIdType::Predefined,
            Self::Short(_) => TopicIdType::Short,
        }
    }

    /// The 2-octet TopicId field, for every variant but [`Topic::Name`].
    pub(crate) const fn as_id(&self) -> Option<u16> {
        match self {
            Self::Name(_) => None,
            Self::Id(id) | Self::Predefined(id) => Some(*id),
            Self::Short(name) => Some(u16::from_be_bytes(*name)),
        }
    }

    /// The topic a 2-octet TopicId field means under `id_type` in PUBLISH.
    pub(crate) const fn from_id(id_type: TopicIdType, raw: u16) -> Self {
        match id_type {
            TopicIdType::Normal => Self::Id(raw),
            TopicIdType::Predefined => Self::Predefined(raw),
            TopicIdType::Short => Self::Short(raw.to_be_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_name_is_the_two_octets_in_order() {
        let t = Topic::from_id(TopicIdType::Short, 0x6162);
        assert_eq!(t, Topic::Short(*b"ab"));
        assert_eq!(t.as_id(), Some(0x6162));
    }

    #[test]
    fn reserved_topic_id_type_is_none() {
        assert_eq!(TopicIdType::from_flags(0xFF), None);
        assert_eq!(TopicIdType::from_flags(0xFE), Some(TopicIdType::Short));
    }
}
