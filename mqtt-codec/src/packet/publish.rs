//! PUBLISH (MQTT 5.0 §3.3): the hot path, decoded without allocation.

use bytes::{Buf, BufMut, Bytes};

use super::{put_header, with_len_prefix};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::primitives::Utf8String;
use crate::property::{Properties, PropertyContext, Props};
use crate::qos::QoS;
use crate::topic::{check_name_bytes, check_name_fast, TopicError};
use crate::version::ProtocolVersion;

/// PUBLISH: an application message.
///
/// `topic` is a zero-copy slice of the frame; it may be empty only in
/// MQTT 5.0 with a Topic Alias property. `packet_id` is 0 for QoS 0 and
/// non-zero otherwise.
///
/// ```
/// use bytes::Bytes;
/// use mqtt_codec::{Publish, QoS, Utf8String};
/// let p = Publish::new(Utf8String::from_static("a/b"), Bytes::from_static(b"hi"))
///     .with_qos(QoS::ExactlyOnce, 10)
///     .with_retain(true);
/// assert_eq!(p.packet_id, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    /// DUP: this may be a redelivery (only with QoS 1 or 2).
    pub dup: bool,
    /// QoS level.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// Topic Name.
    pub topic: Utf8String,
    /// Packet identifier (0 for QoS 0).
    pub packet_id: u16,
    /// Properties (MQTT 5.0).
    pub properties: Props,
    /// Application payload.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 message on `topic`.
    #[must_use]
    pub fn new(topic: Utf8String, payload: Bytes) -> Self {
        Self {
            topic,
            payload,
            ..Self::default()
        }
    }

    /// Sets QoS and packet identifier (use 0 with QoS 0).
    #[must_use]
    pub fn with_qos(mut self, qos: QoS, packet_id: u16) -> Self {
        self.qos = qos;
        self.packet_id = packet_id;
        self
    }

    /// Sets RETAIN.
    #[must_use]
    pub fn with_retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), EncodeError> {
        check_name_bytes(self.topic.as_bytes()).map_err(EncodeError::InvalidTopicName)?;
        if self.topic.is_empty() && !(version.is_v5() && self.properties.topic_alias.is_some()) {
            return Err(EncodeError::InvalidTopicName(TopicError::Empty));
        }
        if self.qos == QoS::AtMostOnce {
            if self.dup {
                return Err(EncodeError::DupWithQos0);
            }
        } else if self.packet_id == 0 {
            return Err(EncodeError::ZeroPacketId {
                packet_type: PacketType::Publish,
            });
        }
        let id_len = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        let mut remaining = 2 + self.topic.len() + id_len + self.payload.len();
        let plen = if version.is_v5() {
            let plen = self
                .properties
                .encoded_len(PropertyContext::Packet(PacketType::Publish))?;
            remaining += with_len_prefix(plen);
            plen
        } else {
            0
        };
        let byte1 =
            0x30 | (u8::from(self.dup) << 3) | (self.qos.as_u8() << 1) | u8::from(self.retain);
        put_header(buf, byte1, remaining)?;
        buf.put_u16(self.topic.len() as u16);
        buf.put_slice(self.topic.as_bytes());
        if id_len > 0 {
            buf.put_u16(self.packet_id);
        }
        if version.is_v5() {
            self.properties.encode(plen, buf);
        }
        buf.put_slice(&self.payload);
        Ok(())
    }
}

/// Decodes a PUBLISH from its whole frame; `pos` is the end of the fixed header.
///
/// Takes the frame by value so the topic is split off and the payload is the
/// rest of the frame: one reference-count increment for the whole packet.
pub(crate) fn decode(
    mut frame: Bytes,
    pos: usize,
    flags: u8,
    version: ProtocolVersion,
) -> Result<Publish, DecodeError> {
    let Some(qos) = QoS::from_u8((flags >> 1) & 3) else {
        return Err(DecodeError::InvalidQos { offset: 0 });
    };
    let dup = flags & 0b1000 != 0;
    if dup && qos == QoS::AtMostOnce {
        return Err(DecodeError::DupWithQos0);
    }
    let at = pos;
    let Some(len_bytes) = frame.get(pos..pos + 2) else {
        return Err(DecodeError::UnexpectedEnd { offset: pos });
    };
    let topic_len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
    let topic_end = pos + 2 + topic_len;
    let Some(raw) = frame.get(pos + 2..topic_end) else {
        return Err(DecodeError::UnexpectedEnd { offset: pos });
    };
    // Fast path: one word-at-a-time pass finds NUL, wildcards and non-ASCII;
    // only non-ASCII topics need the full UTF-8 check.
    let ascii = match check_name_fast(raw) {
        Some(ascii) => ascii,
        None => {
            check_name_bytes(raw)
                .map_err(|error| DecodeError::InvalidTopicName { offset: at, error })?;
            false
        }
    };
    if !ascii && core::str::from_utf8(raw).is_err() {
        return Err(DecodeError::InvalidUtf8 { offset: at });
    }
    let mut next = topic_end;
    let packet_id = if qos == QoS::AtMostOnce {
        0
    } else {
        let Some(id) = frame.get(next..next + 2) else {
            return Err(DecodeError::UnexpectedEnd { offset: next });
        };
        next += 2;
        match u16::from_be_bytes([id[0], id[1]]) {
            0 => {
                return Err(DecodeError::ZeroPacketId {
                    packet_type: PacketType::Publish,
                })
            }
            id => id,
        }
    };
    let properties = if version.is_v5() {
        let mut r = Reader::new(&frame, next);
        let p = Properties::decode(&mut r, PropertyContext::Packet(PacketType::Publish))?;
        next = r.pos();
        p
    } else {
        Props::default()
    };
    // MQTT-4.7.3-1, and §3.3.2.3.4: an empty topic needs a Topic Alias.
    if topic_len == 0 && properties.topic_alias.is_none() {
        return Err(DecodeError::InvalidTopicName {
            offset: at,
            error: TopicError::Empty,
        });
    }
    frame.advance(pos + 2);
    let topic = Utf8String::from_validated(frame.split_to(topic_len));
    frame.advance(next - topic_end);
    Ok(Publish {
        dup,
        qos,
        retain: flags & 1 != 0,
        topic,
        packet_id,
        properties,
        payload: frame,
    })
}
