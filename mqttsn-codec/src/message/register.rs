//! Topic registration: REGISTER and REGACK (MQTT-SN v1.2 §5.4.10–5.4.11, §6.5).

use bytes::{BufMut, Bytes};

use super::Body;
use crate::error::{DecodeError, EncodeError, Field};
use crate::header::MsgType;
use crate::parse::Reader;
use crate::return_code::ReturnCode;

/// REGISTER (§5.4.10): maps a topic name to a topic id, client to gateway
/// (`topic_id` 0x0000) or gateway to client (the id assigned).
///
/// Wire: `Length MsgType(0x0A) TopicId(2) MsgId(2) TopicName(n)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Register {
    /// The topic id; 0x0000 when a client registers.
    pub topic_id: u16,
    /// Matches the REGACK.
    pub msg_id: u16,
    /// The topic name, never empty on the wire.
    pub topic_name: Bytes,
}

impl Body for Register {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            topic_id: r.u16(Field::TopicId)?,
            msg_id: r.u16(Field::MsgId)?,
            topic_name: r.topic_name()?,
        })
    }

    fn len(&self) -> usize {
        4 + self.topic_name.len()
    }

    fn check(&self) -> Result<(), EncodeError> {
        super::connect::check_topic_name(&self.topic_name, MsgType::Register)
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u16(self.topic_id);
        buf.put_u16(self.msg_id);
        buf.put_slice(&self.topic_name);
    }
}

/// REGACK (§5.4.11): answers REGISTER.
///
/// Wire: `Length(7) MsgType(0x0B) TopicId(2) MsgId(2) ReturnCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RegAck {
    /// The topic id assigned (meaningful when accepted).
    pub topic_id: u16,
    /// The MsgId of the REGISTER answered.
    pub msg_id: u16,
    /// Whether the registration is accepted.
    pub return_code: ReturnCode,
}

impl Body for RegAck {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tests::{assert_refused, assert_wire};

    #[test]
    fn client_register_has_topic_id_zero() {
        let m = Register {
            topic_id: 0,
            msg_id: 1,
            topic_name: Bytes::from_static(b"a/b"),
        };
        assert_wire(
            &m.into(),
            &[0x09, 0x0A, 0x00, 0x00, 0x00, 0x01, b'a', b'/', b'b'],
        );
    }

    #[test]
    fn register_without_topic_name_is_refused() {
        assert_refused(
            &[0x06, 0x0A, 0x00, 0x00, 0x00, 0x01],
            DecodeError::EmptyTopicName {
                msg_type: MsgType::Register,
                offset: 6,
            },
        );
    }

    #[test]
    fn register_without_topic_name_fails_to_encode() {
        assert_eq!(
            crate::Message::from(Register::default()).to_bytes(),
            Err(EncodeError::EmptyTopicName {
                msg_type: MsgType::Register
            })
        );
    }

    #[test]
    fn regack_invalid_topic() {
        let m = RegAck {
            topic_id: 0x0102,
            msg_id: 0x0304,
            return_code: ReturnCode::RejectedInvalidTopicId,
        };
        assert_wire(&m.into(), &[0x07, 0x0B, 0x01, 0x02, 0x03, 0x04, 0x02]);
    }

    #[test]
    fn regack_missing_return_code_is_truncated() {
        assert_refused(
            &[0x06, 0x0B, 0x01, 0x02, 0x03, 0x04],
            DecodeError::Truncated {
                msg_type: MsgType::RegAck,
                field: Field::ReturnCode,
                offset: 6,
            },
        );
    }
}
