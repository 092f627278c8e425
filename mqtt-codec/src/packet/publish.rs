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

/// The part of a PUBLISH before its properties: flags, validated topic,
/// packet identifier.
struct Head {
    qos: QoS,
    dup: bool,
    /// Frame offset of the topic's two-byte length.
    at: usize,
    topic_len: usize,
    packet_id: u16,
    /// Frame offset after the packet identifier (Property Length in 5.0).
    next: usize,
}

/// Reads and checks flags, topic and packet identifier; `pos` is the end of
/// the fixed header. Touches only the bytes (no reference counting).
#[inline(always)]
fn decode_head(frame: &[u8], pos: usize, flags: u8) -> Result<Head, DecodeError> {
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
    Ok(Head {
        qos,
        dup,
        at,
        topic_len,
        packet_id,
        next,
    })
}

/// MQTT-4.7.3-1, and §3.3.2.3.4: an empty topic needs a Topic Alias.
#[inline(always)]
fn check_topic_present(head: &Head, has_alias: bool) -> Result<(), DecodeError> {
    if head.topic_len == 0 && !has_alias {
        return Err(DecodeError::InvalidTopicName {
            offset: head.at,
            error: TopicError::Empty,
        });
    }
    Ok(())
}

/// Decodes a PUBLISH from its whole frame; `pos` is the end of the fixed header.
///
/// Takes the frame by value so the topic is split off and the payload is the
/// rest of the frame: one reference-count increment for the whole packet.
#[inline]
pub(crate) fn decode(
    mut frame: Bytes,
    pos: usize,
    flags: u8,
    version: ProtocolVersion,
) -> Result<Publish, DecodeError> {
    let head = decode_head(&frame, pos, flags)?;
    let mut next = head.next;
    let properties = if version.is_v5() {
        let mut r = Reader::new(&frame, next);
        let p = Properties::decode(&mut r, PropertyContext::Packet(PacketType::Publish))?;
        next = r.pos();
        p
    } else {
        Props::default()
    };
    check_topic_present(&head, properties.topic_alias.is_some())?;
    let topic_end = pos + 2 + head.topic_len;
    frame.advance(pos + 2);
    let topic = Utf8String::from_validated(frame.split_to(head.topic_len));
    frame.advance(next - topic_end);
    Ok(Publish {
        dup: head.dup,
        qos: head.qos,
        retain: flags & 1 != 0,
        topic,
        packet_id: head.packet_id,
        properties,
        payload: frame,
    })
}

/// A PUBLISH validated in place and kept as its frame: one [`Bytes`] handle
/// for the whole packet, with topic, properties and payload read from it on
/// demand.
///
/// [`StreamDecoder::decode_lazy`](crate::StreamDecoder::decode_lazy) hands
/// these out. Decoding checks everything [`Packet::decode`](crate::Packet::decode)
/// checks (flags, QoS, packet identifier, topic UTF-8, U+0000 and
/// wildcards, every MQTT 5.0 property: allowed, not duplicated, valid
/// value), but builds nothing: no allocation, and one reference count for
/// the packet instead of one per topic, payload and string property. The
/// property table is built only when [`PublishFrame::properties`] asks for
/// it; [`PublishFrame::into_publish`] gives the owned [`Publish`].
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_codec::{LazyPacket, ProtocolVersion, QoS, StreamDecoder};
///
/// // QoS 1 PUBLISH to "a/b", packet identifier 7, MQTT 5.0 Topic Alias 3, payload "hi".
/// let mut buf = BytesMut::from(&b"\x32\x0d\x00\x03a/b\x00\x07\x03\x23\x00\x03hi"[..]);
/// let mut dec = StreamDecoder::new(ProtocolVersion::V5, 1024);
/// let Some(LazyPacket::Publish(p)) = dec.decode_lazy(&mut buf)? else { unreachable!() };
/// assert_eq!((p.topic(), p.qos(), p.packet_id()), ("a/b", QoS::AtLeastOnce, 7));
/// assert_eq!((p.topic_alias(), p.payload()), (Some(3), &b"hi"[..]));
/// let owned = p.into_publish();
/// assert_eq!(owned.properties.topic_alias, Some(3));
/// # Ok::<(), mqtt_codec::DecodeError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PublishFrame {
    frame: Bytes,
    byte1_flags: u8,
    qos: QoS,
    packet_id: u16,
    topic_alias: Option<u16>,
    /// Offset of the topic's first byte.
    topic_start: usize,
    topic_end: usize,
    /// Offset of the Property Length, when there are properties.
    props_at: Option<usize>,
    payload_start: usize,
}

impl PublishFrame {
    /// Validates a PUBLISH frame; `pos` is the end of the fixed header.
    #[inline(always)]
    pub(crate) fn decode(
        frame: Bytes,
        pos: usize,
        flags: u8,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let head = decode_head(&frame, pos, flags)?;
        let (props_at, topic_alias, payload_start) = if version.is_v5() {
            let mut r = Reader::new(&frame, head.next);
            let (any, alias) = Properties::validate_publish(&mut r)?;
            (any.then_some(head.next), alias, r.pos())
        } else {
            (None, None, head.next)
        };
        check_topic_present(&head, topic_alias.is_some())?;
        Ok(Self {
            frame,
            byte1_flags: flags,
            qos: head.qos,
            packet_id: head.packet_id,
            topic_alias,
            topic_start: pos + 2,
            topic_end: pos + 2 + head.topic_len,
            props_at,
            payload_start,
        })
    }

    /// DUP: this may be a redelivery.
    #[must_use]
    #[inline]
    pub fn dup(&self) -> bool {
        self.byte1_flags & 0b1000 != 0
    }

    /// QoS level.
    #[must_use]
    #[inline]
    pub fn qos(&self) -> QoS {
        self.qos
    }

    /// RETAIN.
    #[must_use]
    #[inline]
    pub fn retain(&self) -> bool {
        self.byte1_flags & 1 != 0
    }

    /// Packet identifier (0 for QoS 0).
    #[must_use]
    #[inline]
    pub fn packet_id(&self) -> u16 {
        self.packet_id
    }

    /// The Topic Name's bytes (validated UTF-8; empty only with a Topic Alias).
    #[must_use]
    #[inline]
    pub fn topic_bytes(&self) -> &[u8] {
        &self.frame[self.topic_start..self.topic_end]
    }

    /// The Topic Name. Like [`Utf8String::as_str`] this re-runs
    /// `core::str::from_utf8` (the crate has no `unsafe`); [`Self::topic_bytes`] is free.
    #[must_use]
    pub fn topic(&self) -> &str {
        // Validated when decoded, so this never takes the error branch.
        core::str::from_utf8(self.topic_bytes()).unwrap_or_default()
    }

    /// The Topic Name as a zero-copy [`Utf8String`] (one reference count).
    #[must_use]
    pub fn topic_string(&self) -> Utf8String {
        Utf8String::from_validated(self.frame.slice(self.topic_start..self.topic_end))
    }

    /// The Topic Alias property (MQTT 5.0), if present.
    #[must_use]
    #[inline]
    pub fn topic_alias(&self) -> Option<u16> {
        self.topic_alias
    }

    /// Whether the packet carries any MQTT 5.0 property.
    #[must_use]
    #[inline]
    pub fn has_properties(&self) -> bool {
        self.props_at.is_some()
    }

    /// The properties, built from the frame on each call: allocates the
    /// table when there is any property; strings in it are zero-copy slices.
    #[must_use]
    pub fn properties(&self) -> Props {
        let Some(at) = self.props_at else {
            return Props::default();
        };
        let mut r = Reader::new(&self.frame, at);
        // Validated with the same rules when decoded: the error branch is
        // never taken.
        Properties::decode(&mut r, PropertyContext::Packet(PacketType::Publish)).unwrap_or_default()
    }

    /// The application payload.
    #[must_use]
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.frame[self.payload_start..]
    }

    /// The application payload as a zero-copy [`Bytes`] (one reference count).
    #[must_use]
    pub fn payload_bytes(&self) -> Bytes {
        self.frame.slice(self.payload_start..)
    }

    /// The whole packet as received, fixed header included: it can be
    /// forwarded unchanged to a peer of the same protocol version.
    #[must_use]
    #[inline]
    pub fn as_bytes(&self) -> &Bytes {
        &self.frame
    }

    /// The owned [`Publish`], zero-copy: topic and payload become slices of
    /// the frame, the properties are built as [`Self::properties`] does.
    #[must_use]
    pub fn into_publish(self) -> Publish {
        let properties = self.properties();
        let topic = self.topic_string();
        let mut payload = self.frame;
        payload.advance(self.payload_start);
        Publish {
            dup: self.byte1_flags & 0b1000 != 0,
            qos: self.qos,
            retain: self.byte1_flags & 1 != 0,
            topic,
            packet_id: self.packet_id,
            properties,
            payload,
        }
    }
}

impl From<PublishFrame> for Publish {
    fn from(p: PublishFrame) -> Self {
        p.into_publish()
    }
}

impl core::fmt::Debug for PublishFrame {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PublishFrame")
            .field("dup", &self.dup())
            .field("qos", &self.qos)
            .field("retain", &self.retain())
            .field("topic", &self.topic())
            .field("packet_id", &self.packet_id)
            .field("properties", &self.properties())
            .field("payload", &self.payload_bytes())
            .finish()
    }
}
