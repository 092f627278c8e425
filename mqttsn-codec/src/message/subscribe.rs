//! Subscriptions: SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK
//! (MQTT-SN v1.2 §5.4.15–5.4.18, §6.9).

use bytes::BufMut;

use super::connect::{check_qos, check_topic_name};
use super::publish::msg_id_only;
use super::Body;
use crate::error::{DecodeError, EncodeError, Field};
use crate::flags::{self, QoS};
use crate::header::MsgType;
use crate::parse::Reader;
use crate::return_code::ReturnCode;
use crate::topic::{Topic, TopicIdType};

/// SUBSCRIBE (§5.4.15): subscribes to a topic name or filter, a predefined
/// topic id or a short topic name.
///
/// Wire: `Length MsgType(0x12) Flags MsgId(2) TopicName(n) | TopicId(2)`.
/// Flags uses DUP, QoS (0–2) and TopicIdType.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subscribe {
    /// The message is a retransmission.
    pub dup: bool,
    /// Requested QoS (QoS -1 is refused).
    pub qos: QoS,
    /// Matches the SUBACK.
    pub msg_id: u16,
    /// [`Topic::Name`], [`Topic::Predefined`] or [`Topic::Short`].
    pub topic: Topic,
}

/// Unsubscribes from a topic name or filter, a predefined topic id or a short
/// topic name: UNSUBSCRIBE (§5.4.17).
///
/// Wire: `Length MsgType(0x14) Flags MsgId(2) TopicName(n) | TopicId(2)`.
/// Flags uses TopicIdType only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unsubscribe {
    /// Matches the UNSUBACK.
    pub msg_id: u16,
    /// [`Topic::Name`], [`Topic::Predefined`] or [`Topic::Short`].
    pub topic: Topic,
}

/// Reads the topic field of SUBSCRIBE or UNSUBSCRIBE, which fills the rest of
/// the message: a name for the normal type, exactly 2 octets for the others.
fn decode_topic(r: &mut Reader<'_>, id_type: TopicIdType) -> Result<Topic, DecodeError> {
    if id_type == TopicIdType::Normal {
        return r.topic_name().map(Topic::Name);
    }
    if r.remaining() != 2 {
        return Err(DecodeError::TopicLengthMismatch {
            msg_type: r.msg_type(),
            topic_id_type: id_type,
            len: r.remaining(),
            offset: r.offset(),
        });
    }
    Ok(Topic::from_id(id_type, r.u16(Field::Topic)?))
}

fn topic_len(topic: &Topic) -> usize {
    match topic {
        Topic::Name(name) => name.len(),
        _ => 2,
    }
}

fn check_topic(topic: &Topic, msg_type: MsgType) -> Result<(), EncodeError> {
    match topic {
        Topic::Id(_) => Err(EncodeError::TopicNotAllowed { msg_type }),
        Topic::Name(name) => check_topic_name(name, msg_type),
        Topic::Predefined(_) | Topic::Short(_) => Ok(()),
    }
}

fn encode_topic<B: BufMut + ?Sized>(topic: &Topic, buf: &mut B) {
    match (topic, topic.as_id()) {
        (Topic::Name(name), _) => buf.put_slice(name),
        (_, Some(id)) => buf.put_u16(id),
        (_, None) => {}
    }
}

impl Body for Subscribe {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.offset();
        let flags = r.flags(flags::DUP | flags::QOS | flags::TOPIC_ID_TYPE)?;
        let id_type = r.topic_id_type(flags, at)?;
        let qos = r.qos_not_minus_one(flags, at)?;
        Ok(Self {
            dup: flags & flags::DUP != 0,
            qos,
            msg_id: r.u16(Field::MsgId)?,
            topic: decode_topic(r, id_type)?,
        })
    }

    fn len(&self) -> usize {
        3 + topic_len(&self.topic)
    }

    fn check(&self) -> Result<(), EncodeError> {
        check_qos(self.qos, MsgType::Subscribe)?;
        check_topic(&self.topic, MsgType::Subscribe)
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u8(
            flags::bit(self.dup, flags::DUP)
                | self.qos.to_flags()
                | self.topic.id_type().to_flags(),
        );
        buf.put_u16(self.msg_id);
        encode_topic(&self.topic, buf);
    }
}

impl Body for Unsubscribe {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.offset();
        let flags = r.flags(flags::TOPIC_ID_TYPE)?;
        let id_type = r.topic_id_type(flags, at)?;
        Ok(Self {
            msg_id: r.u16(Field::MsgId)?,
            topic: decode_topic(r, id_type)?,
        })
    }

    fn len(&self) -> usize {
        3 + topic_len(&self.topic)
    }

    fn check(&self) -> Result<(), EncodeError> {
        check_topic(&self.topic, MsgType::Unsubscribe)
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u8(self.topic.id_type().to_flags());
        buf.put_u16(self.msg_id);
        encode_topic(&self.topic, buf);
    }
}

/// SUBACK (§5.4.16): answers SUBSCRIBE.
///
/// Wire: `Length(8) MsgType(0x13) Flags TopicId(2) MsgId(2) ReturnCode`.
/// Flags uses QoS (0–2) only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubAck {
    /// Granted QoS.
    pub qos: QoS,
    /// The topic id assigned to a topic name without wildcards; 0x0000 for
    /// wildcard filters, short names and predefined ids.
    pub topic_id: u16,
    /// The MsgId of the SUBSCRIBE answered.
    pub msg_id: u16,
    /// Whether the subscription is accepted.
    pub return_code: ReturnCode,
}

impl Body for SubAck {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.offset();
        let flags = r.flags(flags::QOS)?;
        Ok(Self {
            qos: r.qos_not_minus_one(flags, at)?,
            topic_id: r.u16(Field::TopicId)?,
            msg_id: r.u16(Field::MsgId)?,
            return_code: r.return_code()?,
        })
    }

    fn len(&self) -> usize {
        6
    }

    fn check(&self) -> Result<(), EncodeError> {
        check_qos(self.qos, MsgType::SubAck)
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u8(self.qos.to_flags());
        buf.put_u16(self.topic_id);
        buf.put_u16(self.msg_id);
        buf.put_u8(self.return_code.as_u8());
    }
}

msg_id_only! {
    /// UNSUBACK (§5.4.18): answers UNSUBSCRIBE.
    ///
    /// Wire: `Length(4) MsgType(0x15) MsgId(2)`.
    UnsubAck
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tests::{assert_refused, assert_wire};
    use crate::Message;
    use bytes::Bytes;

    fn name(s: &'static str) -> Topic {
        Topic::Name(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn subscribe_qos1_to_a_wildcard_filter() {
        let m = Subscribe {
            dup: false,
            qos: QoS::AtLeastOnce,
            msg_id: 2,
            topic: name("a/#"),
        };
        assert_wire(&m.into(), &[0x08, 0x12, 0x20, 0x00, 0x02, b'a', b'/', b'#']);
    }

    #[test]
    fn subscribe_to_short_and_predefined_topics() {
        let short = Subscribe {
            dup: true,
            qos: QoS::ExactlyOnce,
            msg_id: 3,
            topic: Topic::Short(*b"ab"),
        };
        assert_wire(&short.into(), &[0x07, 0x12, 0xC2, 0x00, 0x03, b'a', b'b']);
        let predefined = Subscribe {
            dup: false,
            qos: QoS::AtMostOnce,
            msg_id: 4,
            topic: Topic::Predefined(0x0102),
        };
        assert_wire(
            &predefined.into(),
            &[0x07, 0x12, 0x01, 0x00, 0x04, 0x01, 0x02],
        );
    }

    #[test]
    fn short_topic_of_three_bytes_contradicts_its_type() {
        assert_refused(
            &[0x08, 0x12, 0x02, 0x00, 0x03, b'a', b'b', b'c'],
            DecodeError::TopicLengthMismatch {
                msg_type: MsgType::Subscribe,
                topic_id_type: TopicIdType::Short,
                len: 3,
                offset: 5,
            },
        );
    }

    #[test]
    fn subscribe_with_empty_topic_name_is_refused() {
        assert_refused(
            &[0x05, 0x12, 0x00, 0x00, 0x03],
            DecodeError::EmptyTopicName {
                msg_type: MsgType::Subscribe,
                offset: 5,
            },
        );
    }

    #[test]
    fn subscribe_with_qos_minus_one_is_refused() {
        assert_refused(
            &[0x06, 0x12, 0x60, 0x00, 0x03, b'a'],
            DecodeError::QosMinusOneNotAllowed {
                msg_type: MsgType::Subscribe,
                offset: 2,
            },
        );
    }

    #[test]
    fn subscribe_to_a_normal_topic_id_fails_to_encode() {
        let m = Subscribe {
            dup: false,
            qos: QoS::AtMostOnce,
            msg_id: 1,
            topic: Topic::Id(3),
        };
        assert_eq!(
            Message::from(m).to_bytes(),
            Err(EncodeError::TopicNotAllowed {
                msg_type: MsgType::Subscribe
            })
        );
    }

    #[test]
    fn what_would_not_decode_fails_to_encode() {
        let minus_one = SubAck {
            qos: QoS::MinusOne,
            ..SubAck::default()
        };
        assert_eq!(
            Message::from(minus_one).to_bytes(),
            Err(EncodeError::QosMinusOneNotAllowed {
                msg_type: MsgType::SubAck
            })
        );
        let empty = Unsubscribe {
            msg_id: 1,
            topic: Topic::Name(Bytes::new()),
        };
        assert_eq!(
            Message::from(empty).to_bytes(),
            Err(EncodeError::EmptyTopicName {
                msg_type: MsgType::Unsubscribe
            })
        );
    }

    #[test]
    fn suback_grants_qos1_with_a_topic_id() {
        let m = SubAck {
            qos: QoS::AtLeastOnce,
            topic_id: 0x0007,
            msg_id: 2,
            return_code: ReturnCode::Accepted,
        };
        assert_wire(&m.into(), &[0x08, 0x13, 0x20, 0x00, 0x07, 0x00, 0x02, 0x00]);
    }

    #[test]
    fn suback_with_topic_id_type_bits_is_refused() {
        assert_refused(
            &[0x08, 0x13, 0x21, 0x00, 0x07, 0x00, 0x02, 0x00],
            DecodeError::UnusedFlags {
                msg_type: MsgType::SubAck,
                flags: 0x21,
                offset: 2,
            },
        );
    }

    #[test]
    fn unsubscribe_by_name_and_by_predefined_id() {
        let by_name = Unsubscribe {
            msg_id: 5,
            topic: name("a/b"),
        };
        assert_wire(
            &by_name.into(),
            &[0x08, 0x14, 0x00, 0x00, 0x05, b'a', b'/', b'b'],
        );
        let by_id = Unsubscribe {
            msg_id: 6,
            topic: Topic::Predefined(9),
        };
        assert_wire(&by_id.into(), &[0x07, 0x14, 0x01, 0x00, 0x06, 0x00, 0x09]);
    }

    #[test]
    fn unsubscribe_with_qos_flags_is_refused() {
        assert_refused(
            &[0x06, 0x14, 0x20, 0x00, 0x05, b'a'],
            DecodeError::UnusedFlags {
                msg_type: MsgType::Unsubscribe,
                flags: 0x20,
                offset: 2,
            },
        );
    }

    #[test]
    fn predefined_unsubscribe_of_one_byte_contradicts_its_type() {
        assert_refused(
            &[0x06, 0x14, 0x01, 0x00, 0x05, 0x09],
            DecodeError::TopicLengthMismatch {
                msg_type: MsgType::Unsubscribe,
                topic_id_type: TopicIdType::Predefined,
                len: 1,
                offset: 5,
            },
        );
    }

    #[test]
    fn unsuback_carries_the_msg_id() {
        assert_wire(&UnsubAck { msg_id: 5 }.into(), &[0x04, 0x15, 0x00, 0x05]);
    }
}
