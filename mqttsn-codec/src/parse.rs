//! Private field reader over one message of a datagram. nom stays in here.

use bytes::Bytes;
use nom::number::complete::{be_u16, be_u8};
use nom::IResult;

use crate::error::{DecodeError, Field};
use crate::flags::{self, QoS};
use crate::header::MsgType;
use crate::return_code::ReturnCode;
use crate::topic::TopicIdType;

/// Reads the variable part of one message. Offsets are absolute in the datagram,
/// and every [`Bytes`] handed out is a slice of it (no copy).
pub(crate) struct Reader<'a> {
    datagram: &'a Bytes,
    input: &'a [u8],
    offset: usize,
    msg_type: MsgType,
}

impl<'a> Reader<'a> {
    /// A reader over `datagram[start..end]`, the variable part of a `msg_type`.
    /// The caller guarantees `start <= end <= datagram.len()`.
    pub(crate) fn new(datagram: &'a Bytes, start: usize, end: usize, msg_type: MsgType) -> Self {
        let input = datagram.get(start..end).unwrap_or_default();
        Self {
            datagram,
            input,
            offset: start,
            msg_type,
        }
    }

    pub(crate) const fn msg_type(&self) -> MsgType {
        self.msg_type
    }

    pub(crate) const fn offset(&self) -> usize {
        self.offset
    }

    pub(crate) const fn remaining(&self) -> usize {
        self.input.len()
    }

    fn run<O>(
        &mut self,
        field: Field,
        parser: impl FnOnce(&'a [u8]) -> IResult<&'a [u8], O>,
    ) -> Result<O, DecodeError> {
        match parser(self.input) {
            Ok((rest, value)) => {
                self.offset += self.input.len() - rest.len();
                self.input = rest;
                Ok(value)
            }
            Err(_) => Err(DecodeError::Truncated {
                msg_type: self.msg_type,
                field,
                offset: self.offset,
            }),
        }
    }

    pub(crate) fn u8(&mut self, field: Field) -> Result<u8, DecodeError> {
        self.run(field, be_u8)
    }

    pub(crate) fn u16(&mut self, field: Field) -> Result<u16, DecodeError> {
        self.run(field, be_u16)
    }

    /// Everything left, as a slice of the datagram.
    pub(crate) fn rest(&mut self) -> Bytes {
        let (start, len) = (self.offset, self.input.len());
        self.offset += len;
        self.input = &[];
        self.datagram.slice(start..start + len)
    }

    /// Everything left as a topic name, refused when empty.
    pub(crate) fn topic_name(&mut self) -> Result<Bytes, DecodeError> {
        if self.input.is_empty() {
            return Err(DecodeError::EmptyTopicName {
                msg_type: self.msg_type,
                offset: self.offset,
            });
        }
        Ok(self.rest())
    }

    /// A Flags octet that may set only the bits in `allowed`.
    pub(crate) fn flags(&mut self, allowed: u8) -> Result<u8, DecodeError> {
        let offset = self.offset;
        let value = self.u8(Field::Flags)?;
        if value & !allowed != 0 {
            return Err(DecodeError::UnusedFlags {
                msg_type: self.msg_type,
                flags: value,
                offset,
            });
        }
        Ok(value)
    }

    /// The QoS of the Flags octet just read at `flags_at`, refusing QoS -1.
    pub(crate) fn qos_not_minus_one(&self, flags: u8, flags_at: usize) -> Result<QoS, DecodeError> {
        match QoS::from_flags(flags) {
            QoS::MinusOne => Err(DecodeError::QosMinusOneNotAllowed {
                msg_type: self.msg_type,
                offset: flags_at,
            }),
            qos => Ok(qos),
        }
    }

    /// The TopicIdType of the Flags octet just read at `flags_at`.
    pub(crate) fn topic_id_type(
        &self,
        flags: u8,
        flags_at: usize,
    ) -> Result<TopicIdType, DecodeError> {
        TopicIdType::from_flags(flags & flags::TOPIC_ID_TYPE).ok_or(
            DecodeError::ReservedTopicIdType {
                msg_type: self.msg_type,
                offset: flags_at,
            },
        )
    }

    pub(crate) fn return_code(&mut self) -> Result<ReturnCode, DecodeError> {
        let offset = self.offset;
        let value = self.u8(Field::ReturnCode)?;
        ReturnCode::from_u8(value).ok_or(DecodeError::ReservedReturnCode {
            msg_type: self.msg_type,
            value,
            offset,
        })
    }

    /// Fails when bytes are left over.
    pub(crate) const fn finish(&self) -> Result<(), DecodeError> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                msg_type: self.msg_type,
                count: self.input.len(),
                offset: self.offset,
            })
        }
    }
}
