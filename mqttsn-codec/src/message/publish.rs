//! Publishing: PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP
//! (MQTT-SN v1.2 §5.4.12–5.4.14, §6.6–6.8).

use bytes::{BufMut, Bytes};

use super::Body;
use crate::error::{DecodeError, EncodeError, Field};
use crate::flags::{self, QoS};
use crate::header::MsgType;
use crate::parse::Reader;
use crate::return_code::ReturnCode;
use crate::topic::Topic;

/// PUBLISH (§5.4.12): application data to a topic.
///
/// Wire: `Length MsgType(0x0C) Flags TopicId(2) MsgId(2) Data(n)`. Flags uses
/// DUP, QoS (0, 1, 2 or -1), Retain and TopicIdType; the TopicId field is a
/// normal topic id, a predefined topic id or a 2-character short name.
///
/// §6.8 sends QoS -1 only to predefined ids and short names; the codec decodes
/// a QoS -1 PUBLISH to a normal topic id all the same (it is well formed) and
/// leaves the refusal to the gateway, which knows which ids exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Publish {
    /// The message is a retransmission.
    pub dup: bool,
    /// Quality of service, QoS -1 included.
    pub qos: QoS,
    /// Retain at the broker.
    pub retain: bool,
    /// [`Topic::Id`], [`Topic::Predefined`] or [`Topic::Short`].
    pub topic: Topic,
    /// Relevant for QoS 1 and 2; 0x0000 otherwise (§5.3.7).
    pub msg_id: u16,
    /// The payload, a slice of the datagram.
    pub data: Bytes,
}

impl Body for Publish {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.offset();
        let flags = r.flags(flags::DUP | flags::QOS | flags::RETAIN | flags::TOPIC_ID_TYPE)?;
        let id_type = r.topic_id_type(flags, at)?;
        Ok(Self {
            dup: flags & flags::DUP != 0,
            qos: QoS::from_flags(flags),
            retain: flags & flags::RETAIN != 0,
            topic: Topic::from_id(id_type, r.u16(Field::TopicId)?),
            msg_id: r.u16(Field::MsgId)?,
            data: r.rest(),
        })
    }

    fn len(&self) -> usize {
        5 + self.data.len()
    }

    fn check(&self) -> Result<(), EncodeError> {
        match self.topic {
            Topic::Name(_) => Err(EncodeError::TopicNotAllowed {
                msg_type: MsgType::Publish,
            }),
            _ => Ok(()),
        }
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u8(
            flags::bit(self.dup, flags::DUP)
                | self.qos.to_flags()
                | flags::bit(self.retain, flags::RETAIN)
                | self.topic.id_type().to_flags(),
        );
        buf.put_u16(self.topic.as_id().unwrap_or(0));
        buf.put_u16(self.msg_id);
        buf.put_slice(&self.data);
    }
}

/// PUBACK (§5.4.13): acknowledges a QoS 1 PUBLISH, or rejects any PUBLISH.
///
/// Wire: `Length(7) MsgType(0x0D) TopicId(2) MsgId(2) ReturnCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PubAck {
    /// The TopicId of the PUBLISH answered.
    pub topic_id: u16,
    /// The MsgId of the PUBLISH answered.
    pub msg_id: u16,
    /// Accepted, or why the PUBLISH is rejected.
    pub return_code: ReturnCode,
}

impl Body for PubAck {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            topic_id: r.u16(Field::TopicId)?,
            msg_id: r.u16(Field::MsgId)?,
            return_code: r.return_code()?,
        })
    }

    fn len(&self) -> usize {
        5
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u16(self.topic_id);
        buf.put_u16(self.msg_id);
        buf.put_u8(self.return_code.as_u8());
    }
}

macro_rules! msg_id_only {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name {
            /// The MsgId of the exchange.
            pub msg_id: u16,
        }

        impl Body for $name {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    msg_id: r.u16(Field::MsgId)?,
                })
            }

            fn len(&self) -> usize {
                2
            }

            fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
                buf.put_u16(self.msg_id);
            }
        }
    };
}
pub(crate) use msg_id_only;

msg_id_only! {
    /// PUBREC (§5.4.14): first answer to a QoS 2 PUBLISH.
    ///
    /// Wire: `Length(4) MsgType(0x0F) MsgId(2)`.
    PubRec
}

msg_id_only! {
    /// PUBREL (§5.4.14): answers PUBREC.
    ///
    /// Wire: `Length(4) MsgType(0x10) MsgId(2)`.
    PubRel
}

msg_id_only! {
    /// PUBCOMP (§5.4.14): answers PUBREL and ends the QoS 2 exchange.
    ///
    /// Wire: `Length(4) MsgType(0x0E) MsgId(2)`.
    PubComp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tests::{assert_refused, assert_wire};
    use crate::Message;
    use alloc::vec;
    use alloc::vec::Vec;

    fn publish(topic: Topic, qos: QoS, data: &'static [u8]) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic,
            msg_id: 0,
            data: Bytes::from_static(data),
        }
    }

    #[test]
    fn publish_qos0_to_a_normal_topic_id() {
        let m = publish(Topic::Id(0x0001), QoS::AtMostOnce, b"21.5");
        assert_wire(
            &m.into(),
            &[
                0x0B, 0x0C, 0x00, 0x00, 0x01, 0x00, 0x00, b'2', b'1', b'.', b'5',
            ],
        );
    }

    #[test]
    fn publish_qos2_dup_retain_to_a_predefined_topic() {
        let mut m = publish(Topic::Predefined(0x00FF), QoS::ExactlyOnce, b"x");
        m.dup = true;
        m.retain = true;
        m.msg_id = 0x1234;
        assert_wire(&m.into(), &[0x08, 0x0C, 0xD1, 0x00, 0xFF, 0x12, 0x34, b'x']);
    }

    #[test]
    fn publish_qos_minus_one_to_a_short_topic() {
        let m = publish(Topic::Short(*b"tp"), QoS::MinusOne, b"");
        assert_wire(&m.into(), &[0x07, 0x0C, 0x62, b't', b'p', 0x00, 0x00]);
    }

    #[test]
    fn publish_with_reserved_topic_id_type_is_refused() {
        assert_refused(
            &[0x07, 0x0C, 0x03, 0x00, 0x01, 0x00, 0x00],
            DecodeError::ReservedTopicIdType {
                msg_type: MsgType::Publish,
                offset: 2,
            },
        );
    }

    #[test]
    fn publish_with_will_flag_is_refused() {
        assert_refused(
            &[0x07, 0x0C, 0x08, 0x00, 0x01, 0x00, 0x00],
            DecodeError::UnusedFlags {
                msg_type: MsgType::Publish,
                flags: 0x08,
                offset: 2,
            },
        );
    }

    #[test]
    fn publish_cut_in_the_msg_id_is_truncated() {
        assert_refused(
            &[0x06, 0x0C, 0x00, 0x00, 0x01, 0x00],
            DecodeError::Truncated {
                msg_type: MsgType::Publish,
                field: Field::MsgId,
                offset: 5,
            },
        );
    }

    #[test]
    fn long_publish_uses_the_three_octet_length() {
        let data: Vec<u8> = vec![0xAB; 300];
        let m = Message::from(Publish {
            data: Bytes::from(data.clone()),
            ..publish(Topic::Id(1), QoS::AtMostOnce, b"")
        });
        let mut wire = vec![0x01, 0x01, 0x35, 0x0C, 0x00, 0x00, 0x01, 0x00, 0x00];
        wire.extend_from_slice(&data);
        assert_eq!(wire.len(), 0x0135);
        assert_wire(&m, &wire);
    }

    #[test]
    fn publish_at_the_length_boundary() {
        // 250 bytes of data: 2 + 5 + 248 = 255 fits the short form; 249 does not.
        let short = Message::from(Publish {
            data: Bytes::from(vec![0u8; 248]),
            ..publish(Topic::Id(1), QoS::AtMostOnce, b"")
        });
        assert_eq!(short.encoded_len(), 255);
        assert_eq!(short.to_bytes().unwrap()[0], 0xFF);
        let long = Message::from(Publish {
            data: Bytes::from(vec![0u8; 249]),
            ..publish(Topic::Id(1), QoS::AtMostOnce, b"")
        });
        assert_eq!(long.encoded_len(), 258);
        assert_eq!(long.to_bytes().unwrap()[..4], [0x01, 0x01, 0x02, 0x0C]);
    }

    #[test]
    fn publish_too_long_for_the_length_field_fails_to_encode() {
        let m = Message::from(Publish {
            data: Bytes::from(vec![0u8; 65_531]),
            ..publish(Topic::Id(1), QoS::AtMostOnce, b"")
        });
        assert_eq!(m.to_bytes(), Err(EncodeError::TooLong { len: 65_540 }));
    }

    #[test]
    fn publish_to_a_topic_name_fails_to_encode() {
        let m = publish(Topic::Name(Bytes::from_static(b"a")), QoS::AtMostOnce, b"");
        assert_eq!(
            Message::from(m).to_bytes(),
            Err(EncodeError::TopicNotAllowed {
                msg_type: MsgType::Publish
            })
        );
    }

    #[test]
    fn puback_rejects_with_invalid_topic_id() {
        let m = PubAck {
            topic_id: 5,
            msg_id: 9,
            return_code: ReturnCode::RejectedInvalidTopicId,
        };
        assert_wire(&m.into(), &[0x07, 0x0D, 0x00, 0x05, 0x00, 0x09, 0x02]);
    }

    #[test]
    fn qos2_handshake_messages() {
        assert_wire(&PubRec { msg_id: 0x0102 }.into(), &[0x04, 0x0F, 0x01, 0x02]);
        assert_wire(&PubRel { msg_id: 0x0102 }.into(), &[0x04, 0x10, 0x01, 0x02]);
        assert_wire(
            &PubComp { msg_id: 0x0102 }.into(),
            &[0x04, 0x0E, 0x01, 0x02],
        );
    }
}
