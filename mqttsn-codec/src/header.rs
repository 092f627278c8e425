//! The message header: Length (1 or 3 octets) and MsgType (MQTT-SN v1.2 §5.2).

use core::fmt;

use bytes::BufMut;

use crate::error::{DecodeError, EncodeError};

/// The largest total length the 1-octet Length form expresses (§5.2.1).
pub const MAX_SHORT_LEN: usize = 255;
/// The largest total length of any message (3-octet form, §5.2.1).
pub const MAX_LEN: usize = 0xFFFF;
/// The first Length octet that announces the 3-octet form (§5.2.1).
const LONG_FORM_MARKER: u8 = 0x01;

/// The MsgType octet (MQTT-SN v1.2 §5.2.2, Table 3).
///
/// Reserved values have no variant: the decoder refuses them with
/// [`DecodeError::ReservedMsgType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[repr(u8)]
pub enum MsgType {
    /// ADVERTISE, 0x00.
    Advertise = 0x00,
    /// SEARCHGW, 0x01.
    #[doc(alias = "SEARCHGW")]
    SearchGw = 0x01,
    /// GWINFO, 0x02.
    #[doc(alias = "GWINFO")]
    GwInfo = 0x02,
    /// CONNECT, 0x04.
    Connect = 0x04,
    /// CONNACK, 0x05.
    #[doc(alias = "CONNACK")]
    ConnAck = 0x05,
    /// WILLTOPICREQ, 0x06.
    #[doc(alias = "WILLTOPICREQ")]
    WillTopicReq = 0x06,
    /// WILLTOPIC, 0x07.
    #[doc(alias = "WILLTOPIC")]
    WillTopic = 0x07,
    /// WILLMSGREQ, 0x08.
    #[doc(alias = "WILLMSGREQ")]
    WillMsgReq = 0x08,
    /// WILLMSG, 0x09.
    #[doc(alias = "WILLMSG")]
    WillMsg = 0x09,
    /// REGISTER, 0x0A.
    Register = 0x0A,
    /// REGACK, 0x0B.
    #[doc(alias = "REGACK")]
    RegAck = 0x0B,
    /// PUBLISH, 0x0C.
    Publish = 0x0C,
    /// PUBACK, 0x0D.
    #[doc(alias = "PUBACK")]
    PubAck = 0x0D,
    /// PUBCOMP, 0x0E.
    #[doc(alias = "PUBCOMP")]
    PubComp = 0x0E,
    /// PUBREC, 0x0F.
    #[doc(alias = "PUBREC")]
    PubRec = 0x0F,
    /// PUBREL, 0x10.
    #[doc(alias = "PUBREL")]
    PubRel = 0x10,
    /// SUBSCRIBE, 0x12.
    Subscribe = 0x12,
    /// SUBACK, 0x13.
    #[doc(alias = "SUBACK")]
    SubAck = 0x13,
    /// UNSUBSCRIBE, 0x14.
    Unsubscribe = 0x14,
    /// UNSUBACK, 0x15.
    #[doc(alias = "UNSUBACK")]
    UnsubAck = 0x15,
    /// PINGREQ, 0x16.
    #[doc(alias = "PINGREQ")]
    PingReq = 0x16,
    /// PINGRESP, 0x17.
    #[doc(alias = "PINGRESP")]
    PingResp = 0x17,
    /// DISCONNECT, 0x18.
    Disconnect = 0x18,
    /// WILLTOPICUPD, 0x1A.
    #[doc(alias = "WILLTOPICUPD")]
    WillTopicUpd = 0x1A,
    /// WILLTOPICRESP, 0x1B.
    #[doc(alias = "WILLTOPICRESP")]
    WillTopicResp = 0x1B,
    /// WILLMSGUPD, 0x1C.
    #[doc(alias = "WILLMSGUPD")]
    WillMsgUpd = 0x1C,
    /// WILLMSGRESP, 0x1D.
    #[doc(alias = "WILLMSGRESP")]
    WillMsgResp = 0x1D,
    /// Forwarder encapsulation, 0xFE (§5.5).
    Encapsulated = 0xFE,
}

impl MsgType {
    /// The type for a MsgType octet, or `None` for a reserved value.
    ///
    /// ```
    /// use mqttsn_codec::MsgType;
    /// assert_eq!(MsgType::from_u8(0x0C), Some(MsgType::Publish));
    /// assert_eq!(MsgType::from_u8(0x03), None);
    /// ```
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0x00 => Self::Advertise,
            0x01 => Self::SearchGw,
            0x02 => Self::GwInfo,
            0x04 => Self::Connect,
            0x05 => Self::ConnAck,
            0x06 => Self::WillTopicReq,
            0x07 => Self::WillTopic,
            0x08 => Self::WillMsgReq,
            0x09 => Self::WillMsg,
            0x0A => Self::Register,
            0x0B => Self::RegAck,
            0x0C => Self::Publish,
            0x0D => Self::PubAck,
            0x0E => Self::PubComp,
            0x0F => Self::PubRec,
            0x10 => Self::PubRel,
            0x12 => Self::Subscribe,
            0x13 => Self::SubAck,
            0x14 => Self::Unsubscribe,
            0x15 => Self::UnsubAck,
            0x16 => Self::PingReq,
            0x17 => Self::PingResp,
            0x18 => Self::Disconnect,
            0x1A => Self::WillTopicUpd,
            0x1B => Self::WillTopicResp,
            0x1C => Self::WillMsgUpd,
            0x1D => Self::WillMsgResp,
            0xFE => Self::Encapsulated,
            _ => return None,
        })
    }

    /// The MsgType octet.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The specification's name, e.g. `"WILLTOPICUPD"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Advertise => "ADVERTISE",
            Self::SearchGw => "SEARCHGW",
            Self::GwInfo => "GWINFO",
            Self::Connect => "CONNECT",
            Self::ConnAck => "CONNACK",
            Self::WillTopicReq => "WILLTOPICREQ",
            Self::WillTopic => "WILLTOPIC",
            Self::WillMsgReq => "WILLMSGREQ",
            Self::WillMsg => "WILLMSG",
            Self::Register => "REGISTER",
            Self::RegAck => "REGACK",
            Self::Publish => "PUBLISH",
            Self::PubAck => "PUBACK",
            Self::PubComp => "PUBCOMP",
            Self::PubRec => "PUBREC",
            Self::PubRel => "PUBREL",
            Self::Subscribe => "SUBSCRIBE",
            Self::SubAck => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::UnsubAck => "UNSUBACK",
            Self::PingReq => "PINGREQ",
            Self::PingResp => "PINGRESP",
            Self::Disconnect => "DISCONNECT",
            Self::WillTopicUpd => "WILLTOPICUPD",
            Self::WillTopicResp => "WILLTOPICRESP",
            Self::WillMsgUpd => "WILLMSGUPD",
            Self::WillMsgResp => "WILLMSGRESP",
            Self::Encapsulated => "ENCAPSULATED",
        }
    }
}

impl fmt::Display for MsgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A decoded message header (§5.2): the total length and the message type.
///
/// Useful to route a datagram before decoding it whole; [`Message::decode`]
/// and [`Frame::decode`] read it themselves.
///
/// [`Message::decode`]: crate::Message::decode
/// [`Frame::decode`]: crate::Frame::decode
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total length of the message in octets, Length field included.
    pub len: u16,
    /// Whether the 3-octet Length form was used.
    pub long_form: bool,
    /// The message type.
    pub msg_type: MsgType,
}

impl Header {
    /// Reads the header at the start of `bytes`. It checks that the declared
    /// length covers the header itself, not that `bytes` has that many octets.
    ///
    /// # Errors
    /// [`DecodeError::TruncatedHeader`], [`DecodeError::InvalidLength`],
    /// [`DecodeError::ReservedMsgType`].
    ///
    /// # Examples
    /// ```
    /// use mqttsn_codec::{Header, MsgType};
    /// let h = Header::decode(&[0x01, 0x01, 0x04, 0x0C]).unwrap();
    /// assert_eq!((h.len, h.long_form, h.msg_type), (260, true, MsgType::Publish));
    /// assert_eq!(h.size(), 4);
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_at(bytes, 0)
    }

    /// As [`Header::decode`], with offsets in errors shifted by `base`.
    pub(crate) fn decode_at(bytes: &[u8], base: usize) -> Result<Self, DecodeError> {
        let truncated = DecodeError::TruncatedHeader {
            len: bytes.len(),
            offset: base,
        };
        let (len, long_form, type_at) = match *bytes {
            [LONG_FORM_MARKER, hi, lo, ..] => (u16::from_be_bytes([hi, lo]), true, 3),
            [LONG_FORM_MARKER, ..] => return Err(truncated),
            [len, _, ..] => (u16::from(len), false, 1),
            _ => return Err(truncated),
        };
        let size = type_at + 1;
        if usize::from(len) < size {
            return Err(DecodeError::InvalidLength {
                declared: usize::from(len),
                offset: base,
            });
        }
        let Some(&octet) = bytes.get(type_at) else {
            return Err(truncated);
        };
        let msg_type = MsgType::from_u8(octet).ok_or(DecodeError::ReservedMsgType {
            value: octet,
            offset: base + type_at,
        })?;
        Ok(Self {
            len,
            long_form,
            msg_type,
        })
    }

    /// Octets taken by Length and MsgType: 2, or 4 in the 3-octet form.
    pub const fn size(&self) -> usize {
        if self.long_form {
            4
        } else {
            2
        }
    }
}

/// Total length of a message whose variable part (after MsgType) has
/// `body_len` octets: the 1-octet Length form up to 255 in all, else the
/// 3-octet form (§5.2.1).
pub(crate) const fn total_len(body_len: usize) -> usize {
    if body_len + 2 <= MAX_SHORT_LEN {
        body_len + 2
    } else {
        body_len + 4
    }
}

/// Checks that a message of `total` octets can be written to `buf`.
pub(crate) fn check_room<B: BufMut + ?Sized>(total: usize, buf: &B) -> Result<(), EncodeError> {
    if total > MAX_LEN {
        return Err(EncodeError::TooLong { len: total });
    }
    let remaining = buf.remaining_mut();
    if remaining < total {
        return Err(EncodeError::BufferTooSmall {
            needed: total,
            remaining,
        });
    }
    Ok(())
}

/// Writes Length and MsgType for a message of `total` octets
/// (`total` as from [`total_len`], checked by [`check_room`]).
pub(crate) fn encode<B: BufMut + ?Sized>(buf: &mut B, total: usize, msg_type: MsgType) {
    match u8::try_from(total) {
        Ok(short) if total <= MAX_SHORT_LEN => buf.put_u8(short),
        _ => {
            buf.put_u8(LONG_FORM_MARKER);
            buf.put_u16(u16::try_from(total).unwrap_or(u16::MAX));
        }
    }
    buf.put_u8(msg_type.as_u8());
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn every_non_reserved_octet_round_trips() {
        for v in 0..=u8::MAX {
            if let Some(t) = MsgType::from_u8(v) {
                assert_eq!(t.as_u8(), v);
            }
        }
    }

    #[test]
    fn reserved_msg_types_are_refused() {
        for v in [0x03, 0x11, 0x19, 0x1E, 0x80, 0xFD, 0xFF] {
            assert_eq!(
                Header::decode(&[2, v]),
                Err(DecodeError::ReservedMsgType {
                    value: v,
                    offset: 1
                })
            );
        }
    }

    #[test]
    fn short_and_long_forms_decode() {
        let h = Header::decode(&[0x02, 0x17]).unwrap();
        assert_eq!((h.len, h.long_form, h.size()), (2, false, 2));
        let h = Header::decode(&[0x01, 0x00, 0x04, 0x17]).unwrap();
        assert_eq!((h.len, h.long_form, h.size()), (4, true, 4));
    }

    #[test]
    fn length_smaller_than_header_is_invalid() {
        for bytes in [&[0x00, 0x17][..], &[0x01, 0x00, 0x03, 0x17]] {
            assert!(matches!(
                Header::decode(bytes),
                Err(DecodeError::InvalidLength { offset: 0, .. })
            ));
        }
    }

    #[test]
    fn short_input_is_a_truncated_header() {
        for bytes in [&[][..], &[0x05], &[0x01], &[0x01, 0x00, 0x05]] {
            assert!(matches!(
                Header::decode(bytes),
                Err(DecodeError::TruncatedHeader { .. })
            ));
        }
    }

    #[test]
    fn three_octet_form_starts_above_255() {
        assert_eq!(total_len(253), 255);
        assert_eq!(total_len(254), 258);
        let mut v = Vec::new();
        encode(&mut v, 255, MsgType::Publish);
        assert_eq!(v, [0xFF, 0x0C]);
        v.clear();
        encode(&mut v, 258, MsgType::Publish);
        assert_eq!(v, [0x01, 0x01, 0x02, 0x0C]);
    }

    #[test]
    fn room_is_checked_before_writing() {
        let mut small = [0u8; 3];
        let buf = &mut small[..];
        assert_eq!(
            check_room(4, &buf),
            Err(EncodeError::BufferTooSmall {
                needed: 4,
                remaining: 3
            })
        );
        assert_eq!(
            check_room(MAX_LEN + 1, &Vec::<u8>::new()),
            Err(EncodeError::TooLong { len: MAX_LEN + 1 })
        );
    }
}
