//! Connection set-up: CONNECT, CONNACK, WILLTOPIC, WILLMSG
//! (MQTT-SN v1.2 §5.4.4–5.4.9, §6.3).

use bytes::{BufMut, Bytes};

use super::Body;
use crate::error::{DecodeError, EncodeError, Field};
use crate::flags::{self, QoS};
use crate::header::MsgType;
use crate::parse::Reader;
use crate::return_code::ReturnCode;

/// The only ProtocolId of MQTT-SN v1.2 (§5.3.8).
pub(crate) const PROTOCOL_ID_V1_2: u8 = 0x01;

/// CONNECT (§5.4.4): a client opens a connection.
///
/// Wire: `Length MsgType(0x04) Flags ProtocolId(0x01) Duration(2) ClientId(n)`.
/// Flags uses Will and CleanSession only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Connect {
    /// The client will send WILLTOPIC and WILLMSG when asked.
    pub will: bool,
    /// Start a clean session.
    pub clean_session: bool,
    /// Keep-alive timer in seconds.
    pub duration: u16,
    /// The client id (the spec asks for 1–23 characters; the codec does not
    /// enforce the bounds, gateways may).
    pub client_id: Bytes,
}

impl Body for Connect {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.flags(flags::WILL | flags::CLEAN_SESSION)?;
        let at = r.offset();
        let protocol_id = r.u8(Field::ProtocolId)?;
        if protocol_id != PROTOCOL_ID_V1_2 {
            return Err(DecodeError::UnsupportedProtocolId {
                value: protocol_id,
                offset: at,
            });
        }
        Ok(Self {
            will: flags & flags::WILL != 0,
            clean_session: flags & flags::CLEAN_SESSION != 0,
            duration: r.u16(Field::Duration)?,
            client_id: r.rest(),
        })
    }

    fn len(&self) -> usize {
        4 + self.client_id.len()
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u8(
            flags::bit(self.will, flags::WILL)
                | flags::bit(self.clean_session, flags::CLEAN_SESSION),
        );
        buf.put_u8(PROTOCOL_ID_V1_2);
        buf.put_u16(self.duration);
        buf.put_slice(&self.client_id);
    }
}

/// CONNACK (§5.4.5): the gateway answers CONNECT.
///
/// Wire: `Length(3) MsgType(0x05) ReturnCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnAck {
    /// Whether the connection is accepted.
    pub return_code: ReturnCode,
}

impl Body for ConnAck {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            return_code: r.return_code()?,
        })
    }

    fn len(&self) -> usize {
        1
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u8(self.return_code.as_u8());
    }
}

/// The will topic of WILLTOPIC (§5.4.7) and WILLTOPICUPD (§5.4.22).
///
/// Wire: `Length MsgType(0x07 or 0x1A) Flags WillTopic(n)`; Flags uses QoS
/// and Retain only. The empty form of both messages (no Flags, no topic)
/// is `None` in [`Message::WillTopic`](crate::Message::WillTopic) and
/// [`Message::WillTopicUpd`](crate::Message::WillTopicUpd).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct WillTopic {
    /// QoS of the will message (QoS -1 is refused).
    pub qos: QoS,
    /// Publish the will message retained.
    pub retain: bool,
    /// The will topic name, never empty on the wire.
    pub topic: Bytes,
}

impl WillTopic {
    pub(crate) fn check(&self, msg_type: MsgType) -> Result<(), EncodeError> {
        check_qos(self.qos, msg_type)?;
        check_topic_name(&self.topic, msg_type)
    }

    pub(crate) fn len(&self) -> usize {
        1 + self.topic.len()
    }

    pub(crate) fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u8(self.qos.to_flags() | flags::bit(self.retain, flags::RETAIN));
        buf.put_slice(&self.topic);
    }
}

/// Decodes WILLTOPIC or WILLTOPICUPD: nothing at all is the empty form.
pub(crate) fn decode_will_topic(r: &mut Reader<'_>) -> Result<Option<WillTopic>, DecodeError> {
    if r.remaining() == 0 {
        return Ok(None);
    }
    let at = r.offset();
    let flags = r.flags(flags::QOS | flags::RETAIN)?;
    Ok(Some(WillTopic {
        qos: r.qos_not_minus_one(flags, at)?,
        retain: flags & flags::RETAIN != 0,
        topic: r.topic_name()?,
    }))
}

/// Refuses QoS -1 outside PUBLISH, as the decoder does.
pub(crate) const fn check_qos(qos: QoS, msg_type: MsgType) -> Result<(), EncodeError> {
    match qos {
        QoS::MinusOne => Err(EncodeError::QosMinusOneNotAllowed { msg_type }),
        _ => Ok(()),
    }
}

/// Refuses an empty topic name, as the decoder does.
pub(crate) fn check_topic_name(name: &Bytes, msg_type: MsgType) -> Result<(), EncodeError> {
    if name.is_empty() {
        Err(EncodeError::EmptyTopicName { msg_type })
    } else {
        Ok(())
    }
}

/// WILLMSG (§5.4.9): the will message, sent after WILLMSGREQ.
///
/// Wire: `Length MsgType(0x09) WillMsg(n)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct WillMsg {
    /// The will message.
    pub will_msg: Bytes,
}

impl Body for WillMsg {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { will_msg: r.rest() })
    }

    fn len(&self) -> usize {
        self.will_msg.len()
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_slice(&self.will_msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tests::{assert_refused, assert_wire};
    use crate::Message;

    #[test]
    fn connect_with_will_and_clean_session() {
        let m = Connect {
            will: true,
            clean_session: true,
            duration: 60,
            client_id: Bytes::from_static(b"node1"),
        };
        assert_wire(
            &m.into(),
            &[
                0x0B, 0x04, 0x0C, 0x01, 0x00, 0x3C, b'n', b'o', b'd', b'e', b'1',
            ],
        );
    }

    #[test]
    fn connect_with_other_protocol_id_is_refused() {
        assert_refused(
            &[0x07, 0x04, 0x04, 0x02, 0x00, 0x3C, b'a'],
            DecodeError::UnsupportedProtocolId {
                value: 0x02,
                offset: 3,
            },
        );
    }

    #[test]
    fn connect_with_qos_flag_is_refused() {
        assert_refused(
            &[0x07, 0x04, 0x24, 0x01, 0x00, 0x3C, b'a'],
            DecodeError::UnusedFlags {
                msg_type: MsgType::Connect,
                flags: 0x24,
                offset: 2,
            },
        );
    }

    #[test]
    fn connack_rejected_congestion() {
        let m = ConnAck {
            return_code: ReturnCode::RejectedCongestion,
        };
        assert_wire(&m.into(), &[0x03, 0x05, 0x01]);
    }

    #[test]
    fn connack_with_reserved_return_code_is_refused() {
        assert_refused(
            &[0x03, 0x05, 0x04],
            DecodeError::ReservedReturnCode {
                msg_type: MsgType::ConnAck,
                value: 0x04,
                offset: 2,
            },
        );
    }

    #[test]
    fn willtopic_qos1_retained() {
        let m = Message::WillTopic(Some(WillTopic {
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: Bytes::from_static(b"w/x"),
        }));
        assert_wire(&m, &[0x06, 0x07, 0x30, b'w', b'/', b'x']);
    }

    #[test]
    fn empty_willtopic_deletes_the_will() {
        assert_wire(&Message::WillTopic(None), &[0x02, 0x07]);
    }

    #[test]
    fn willtopic_with_flags_but_no_topic_is_refused() {
        assert_refused(
            &[0x03, 0x07, 0x00],
            DecodeError::EmptyTopicName {
                msg_type: MsgType::WillTopic,
                offset: 3,
            },
        );
    }

    #[test]
    fn willtopic_with_qos_minus_one_is_refused() {
        assert_refused(
            &[0x04, 0x07, 0x60, b'w'],
            DecodeError::QosMinusOneNotAllowed {
                msg_type: MsgType::WillTopic,
                offset: 2,
            },
        );
    }

    #[test]
    fn will_topic_that_would_not_decode_fails_to_encode() {
        let empty = Message::WillTopic(Some(WillTopic::default()));
        assert_eq!(
            empty.to_bytes(),
            Err(EncodeError::EmptyTopicName {
                msg_type: MsgType::WillTopic
            })
        );
        let minus_one = Message::WillTopicUpd(Some(WillTopic {
            qos: QoS::MinusOne,
            retain: false,
            topic: Bytes::from_static(b"w"),
        }));
        assert_eq!(
            minus_one.to_bytes(),
            Err(EncodeError::QosMinusOneNotAllowed {
                msg_type: MsgType::WillTopicUpd
            })
        );
    }

    #[test]
    fn willmsg_may_be_empty_or_not() {
        let m = WillMsg {
            will_msg: Bytes::from_static(b"bye"),
        };
        assert_wire(&m.into(), &[0x05, 0x09, b'b', b'y', b'e']);
        assert_wire(&WillMsg::default().into(), &[0x02, 0x09]);
    }
}
