//! MQTT 5.0 properties (§2.2.2): one struct for every packet, with the
//! packets each property may appear in.

use alloc::boxed::Box;
use alloc::vec::Vec;
use bytes::{BufMut, Bytes};

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::primitives::{put_varint, varint_len, Utf8String, VARINT_MAX};
use crate::qos::QoS;
use crate::topic::check_name_bytes;

/// Where a property list sits: a packet, or the will properties of CONNECT
/// (MQTT 5.0 §3.1.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropertyContext {
    /// The properties of a packet of this type.
    Packet(PacketType),
    /// The will properties inside CONNECT's payload.
    Will,
}

impl PropertyContext {
    const fn bit(self) -> u16 {
        match self {
            Self::Packet(t) => 1 << (t as u16),
            Self::Will => 1,
        }
    }

    fn packet_type(self) -> PacketType {
        match self {
            Self::Packet(t) => t,
            Self::Will => PacketType::Connect,
        }
    }
}

const WILL: u16 = 1;
const CONNECT: u16 = 1 << 1;
const CONNACK: u16 = 1 << 2;
const PUBLISH: u16 = 1 << 3;
const ACKS: u16 = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7);
const SUBSCRIBE: u16 = 1 << 8;
const SUBACK: u16 = 1 << 9;
const UNSUBSCRIBE: u16 = 1 << 10;
const UNSUBACK: u16 = 1 << 11;
const DISCONNECT: u16 = 1 << 14;
const AUTH: u16 = 1 << 15;

/// Property identifiers (MQTT 5.0 §2.2.2.2, table 2-4).
#[allow(missing_docs)]
pub mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// The packets (and will) a property may appear in, or `None` for an
/// identifier MQTT 5.0 does not define.
const fn allowed(id: u8) -> Option<u16> {
    Some(match id {
        0x01..=0x03 | 0x08 | 0x09 => PUBLISH | WILL,
        0x0B => PUBLISH | SUBSCRIBE,
        0x11 => CONNECT | CONNACK | DISCONNECT,
        0x12 | 0x13 | 0x1A | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => CONNACK,
        0x15 | 0x16 => CONNECT | CONNACK | AUTH,
        0x17 | 0x19 => CONNECT,
        0x18 => WILL,
        0x1C => CONNACK | DISCONNECT,
        0x1F => CONNACK | ACKS | SUBACK | UNSUBACK | DISCONNECT | AUTH,
        0x21 | 0x22 | 0x27 => CONNECT | CONNACK,
        0x23 => PUBLISH,
        0x26 => {
            WILL | CONNECT
                | CONNACK
                | PUBLISH
                | ACKS
                | SUBSCRIBE
                | SUBACK
                | UNSUBSCRIBE
                | UNSUBACK
                | DISCONNECT
                | AUTH
        }
        _ => return None,
    })
}

/// Whether property `id` may appear in `ctx` (MQTT 5.0 §2.2.2.2).
///
/// ```
/// use mqtt_codec::{PacketType, property::{id, is_allowed, PropertyContext}};
/// assert!(is_allowed(id::TOPIC_ALIAS, PropertyContext::Packet(PacketType::Publish)));
/// assert!(!is_allowed(id::TOPIC_ALIAS, PropertyContext::Will));
/// ```
#[must_use]
pub fn is_allowed(id: u8, ctx: PropertyContext) -> bool {
    allowed(id).is_some_and(|mask| mask & ctx.bit() != 0)
}

/// The properties of one packet (MQTT 5.0 §2.2.2). Absent properties are
/// `None` or empty; user properties keep their order. A PUBLISH without
/// properties allocates nothing.
///
/// Boolean properties (`0` or `1` on the wire) are `bool`s. Encoding writes
/// properties in identifier order, user properties at the place of 0x26.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct Properties {
    /// 0x01 Payload Format Indicator: `true` for UTF-8 payloads.
    pub payload_format_indicator: Option<bool>,
    /// 0x02 Message Expiry Interval, seconds.
    pub message_expiry_interval: Option<u32>,
    /// 0x03 Content Type.
    pub content_type: Option<Utf8String>,
    /// 0x08 Response Topic (a topic name, no wildcards).
    pub response_topic: Option<Utf8String>,
    /// 0x09 Correlation Data.
    pub correlation_data: Option<Bytes>,
    /// 0x0B Subscription Identifiers, 1 to 268,435,455 (several in PUBLISH, one in SUBSCRIBE).
    pub subscription_identifiers: Vec<u32>,
    /// 0x11 Session Expiry Interval, seconds.
    pub session_expiry_interval: Option<u32>,
    /// 0x12 Assigned Client Identifier.
    pub assigned_client_identifier: Option<Utf8String>,
    /// 0x13 Server Keep Alive, seconds.
    pub server_keep_alive: Option<u16>,
    /// 0x15 Authentication Method.
    pub authentication_method: Option<Utf8String>,
    /// 0x16 Authentication Data.
    pub authentication_data: Option<Bytes>,
    /// 0x17 Request Problem Information.
    pub request_problem_information: Option<bool>,
    /// 0x18 Will Delay Interval, seconds.
    pub will_delay_interval: Option<u32>,
    /// 0x19 Request Response Information.
    pub request_response_information: Option<bool>,
    /// 0x1A Response Information.
    pub response_information: Option<Utf8String>,
    /// 0x1C Server Reference.
    pub server_reference: Option<Utf8String>,
    /// 0x1F Reason String.
    pub reason_string: Option<Utf8String>,
    /// 0x21 Receive Maximum (not 0).
    pub receive_maximum: Option<u16>,
    /// 0x22 Topic Alias Maximum.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23 Topic Alias (not 0).
    pub topic_alias: Option<u16>,
    /// 0x24 Maximum QoS (0 or 1).
    pub maximum_qos: Option<QoS>,
    /// 0x25 Retain Available.
    pub retain_available: Option<bool>,
    /// 0x26 User Properties, in wire order.
    pub user_properties: Vec<(Utf8String, Utf8String)>,
    /// 0x27 Maximum Packet Size (not 0).
    pub maximum_packet_size: Option<u32>,
    /// 0x28 Wildcard Subscription Available.
    pub wildcard_subscription_available: Option<bool>,
    /// 0x29 Subscription Identifier Available.
    pub subscription_identifier_available: Option<bool>,
    /// 0x2A Shared Subscription Available.
    pub shared_subscription_available: Option<bool>,
}

/// A packet's [`Properties`], stored out of line: a packet without
/// properties holds a null pointer and allocates nothing, and moving a packet
/// moves 8 bytes instead of the whole property table.
///
/// It dereferences to [`Properties`] (an empty table when absent); mutating
/// it through `DerefMut` allocates the table on first use.
///
/// ```
/// use mqtt_codec::{Props, Utf8String};
/// let mut p = Props::default();
/// assert!(p.is_empty() && p.content_type.is_none());
/// p.content_type = Some(Utf8String::from_static("text/plain"));
/// assert_eq!(p.content_type.as_deref(), Some("text/plain"));
/// ```
#[derive(Clone, Default)]
pub struct Props(Option<Box<Properties>>);

static EMPTY: Properties = Properties::new();

impl Props {
    /// Whether no property is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|p| p.is_empty())
    }

    /// The table, if any property was ever set.
    #[must_use]
    pub fn into_inner(self) -> Option<Box<Properties>> {
        self.0
    }

    pub(crate) fn encoded_len(&self, ctx: PropertyContext) -> Result<usize, EncodeError> {
        self.0.as_ref().map_or(Ok(0), |p| p.encoded_len(ctx))
    }

    pub(crate) fn encode(&self, len: usize, buf: &mut impl BufMut) {
        match &self.0 {
            Some(p) => p.encode(len, buf),
            None => put_varint(buf, 0),
        }
    }
}

impl core::ops::Deref for Props {
    type Target = Properties;
    fn deref(&self) -> &Properties {
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl core::ops::DerefMut for Props {
    fn deref_mut(&mut self) -> &mut Properties {
        self.0.get_or_insert_with(Box::default)
    }
}

impl From<Properties> for Props {
    fn from(p: Properties) -> Self {
        Self(Some(Box::new(p)))
    }
}

impl PartialEq for Props {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Props {}

impl core::fmt::Debug for Props {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&**self, f)
    }
}

fn set<T>(slot: &mut Option<T>, value: T, id: u8) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty { id });
    }
    *slot = Some(value);
    Ok(())
}

fn flag(r: &mut Reader<'_>, id: u8) -> Result<bool, DecodeError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::InvalidPropertyValue { id }),
    }
}

fn nonzero_u16(r: &mut Reader<'_>, id: u8) -> Result<u16, DecodeError> {
    match r.u16()? {
        0 => Err(DecodeError::InvalidPropertyValue { id }),
        v => Ok(v),
    }
}

impl Properties {
    /// An empty table (also what `Default` gives).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            payload_format_indicator: None,
            message_expiry_interval: None,
            content_type: None,
            response_topic: None,
            correlation_data: None,
            subscription_identifiers: Vec::new(),
            session_expiry_interval: None,
            assigned_client_identifier: None,
            server_keep_alive: None,
            authentication_method: None,
            authentication_data: None,
            request_problem_information: None,
            will_delay_interval: None,
            request_response_information: None,
            response_information: None,
            server_reference: None,
            reason_string: None,
            receive_maximum: None,
            topic_alias_maximum: None,
            topic_alias: None,
            maximum_qos: None,
            retain_available: None,
            user_properties: Vec::new(),
            maximum_packet_size: None,
            wildcard_subscription_available: None,
            subscription_identifier_available: None,
            shared_subscription_available: None,
        }
    }

    /// Whether no property is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == EMPTY
    }

    /// Reads a property length and the properties after it. Allocates the
    /// table only when there is at least one property.
    pub(crate) fn decode(r: &mut Reader<'_>, ctx: PropertyContext) -> Result<Props, DecodeError> {
        let at = r.pos();
        let len = r.varint()? as usize;
        if len == 0 {
            return Ok(Props(None));
        }
        if len > r.remaining() {
            return Err(DecodeError::PropertyLength { offset: at });
        }
        let mut r = r.sub(len)?;
        let mut p = Box::<Self>::default();
        let ctx_bit = ctx.bit();
        while !r.is_empty() {
            let at = r.pos();
            let raw = r.varint()?;
            let Some(mask) = u8::try_from(raw).ok().and_then(allowed) else {
                return Err(DecodeError::UnknownProperty {
                    id: raw,
                    offset: at,
                });
            };
            let id = raw as u8;
            if mask & ctx_bit == 0 {
                return Err(DecodeError::PropertyNotAllowed {
                    id,
                    packet_type: ctx.packet_type(),
                });
            }
            p.decode_one(&mut r, id, ctx)?;
        }
        Ok(Props(Some(p)))
    }

    fn decode_one(
        &mut self,
        r: &mut Reader<'_>,
        id: u8,
        ctx: PropertyContext,
    ) -> Result<(), DecodeError> {
        use id::*;
        match id {
            PAYLOAD_FORMAT_INDICATOR => set(&mut self.payload_format_indicator, flag(r, id)?, id),
            MESSAGE_EXPIRY_INTERVAL => set(&mut self.message_expiry_interval, r.u32()?, id),
            CONTENT_TYPE => set(&mut self.content_type, r.utf8()?, id),
            RESPONSE_TOPIC => {
                let t = r.utf8()?;
                if t.is_empty() || check_name_bytes(t.as_bytes()).is_err() {
                    return Err(DecodeError::InvalidPropertyValue { id });
                }
                set(&mut self.response_topic, t, id)
            }
            CORRELATION_DATA => set(&mut self.correlation_data, r.binary()?, id),
            SUBSCRIPTION_IDENTIFIER => {
                let v = r.varint()?;
                if v == 0 {
                    return Err(DecodeError::InvalidPropertyValue { id });
                }
                if ctx != PropertyContext::Packet(PacketType::Publish)
                    && !self.subscription_identifiers.is_empty()
                {
                    return Err(DecodeError::DuplicateProperty { id });
                }
                self.subscription_identifiers.push(v);
                Ok(())
            }
            SESSION_EXPIRY_INTERVAL => set(&mut self.session_expiry_interval, r.u32()?, id),
            ASSIGNED_CLIENT_IDENTIFIER => set(&mut self.assigned_client_identifier, r.utf8()?, id),
            SERVER_KEEP_ALIVE => set(&mut self.server_keep_alive, r.u16()?, id),
            AUTHENTICATION_METHOD => set(&mut self.authentication_method, r.utf8()?, id),
            AUTHENTICATION_DATA => set(&mut self.authentication_data, r.binary()?, id),
            REQUEST_PROBLEM_INFORMATION => {
                set(&mut self.request_problem_information, flag(r, id)?, id)
            }
            WILL_DELAY_INTERVAL => set(&mut self.will_delay_interval, r.u32()?, id),
            REQUEST_RESPONSE_INFORMATION => {
                set(&mut self.request_response_information, flag(r, id)?, id)
            }
            RESPONSE_INFORMATION => set(&mut self.response_information, r.utf8()?, id),
            SERVER_REFERENCE => set(&mut self.server_reference, r.utf8()?, id),
            REASON_STRING => set(&mut self.reason_string, r.utf8()?, id),
            RECEIVE_MAXIMUM => set(&mut self.receive_maximum, nonzero_u16(r, id)?, id),
            TOPIC_ALIAS_MAXIMUM => set(&mut self.topic_alias_maximum, r.u16()?, id),
            TOPIC_ALIAS => set(&mut self.topic_alias, nonzero_u16(r, id)?, id),
            MAXIMUM_QOS => {
                let q = match r.u8()? {
                    0 => QoS::AtMostOnce,
                    1 => QoS::AtLeastOnce,
                    _ => return Err(DecodeError::InvalidPropertyValue { id }),
                };
                set(&mut self.maximum_qos, q, id)
            }
            RETAIN_AVAILABLE => set(&mut self.retain_available, flag(r, id)?, id),
            USER_PROPERTY => {
                let k = r.utf8()?;
                let v = r.utf8()?;
                self.user_properties.push((k, v));
                Ok(())
            }
            MAXIMUM_PACKET_SIZE => match r.u32()? {
                0 => Err(DecodeError::InvalidPropertyValue { id }),
                v => set(&mut self.maximum_packet_size, v, id),
            },
            WILDCARD_SUBSCRIPTION_AVAILABLE => {
                set(&mut self.wildcard_subscription_available, flag(r, id)?, id)
            }
            SUBSCRIPTION_IDENTIFIER_AVAILABLE => set(
                &mut self.subscription_identifier_available,
                flag(r, id)?,
                id,
            ),
            _ => set(&mut self.shared_subscription_available, flag(r, id)?, id),
        }
    }

    /// Calls `f(id, encoded value length)` for every property set.
    fn for_each(
        &self,
        mut f: impl FnMut(u8, usize) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        use id::*;
        let s = |s: &Utf8String| 2 + s.len();
        let b = |b: &Bytes| 2 + b.len();
        macro_rules! one {
            ($field:ident, $id:expr, $len:expr) => {
                if let Some(v) = &self.$field {
                    #[allow(clippy::redundant_closure_call)]
                    f($id, ($len)(v))?;
                }
            };
        }
        one!(payload_format_indicator, PAYLOAD_FORMAT_INDICATOR, |_| 1);
        one!(message_expiry_interval, MESSAGE_EXPIRY_INTERVAL, |_| 4);
        one!(content_type, CONTENT_TYPE, s);
        one!(response_topic, RESPONSE_TOPIC, s);
        one!(correlation_data, CORRELATION_DATA, b);
        for &v in &self.subscription_identifiers {
            f(SUBSCRIPTION_IDENTIFIER, varint_len(v as usize))?;
        }
        one!(session_expiry_interval, SESSION_EXPIRY_INTERVAL, |_| 4);
        one!(assigned_client_identifier, ASSIGNED_CLIENT_IDENTIFIER, s);
        one!(server_keep_alive, SERVER_KEEP_ALIVE, |_| 2);
        one!(authentication_method, AUTHENTICATION_METHOD, s);
        one!(authentication_data, AUTHENTICATION_DATA, b);
        one!(
            request_problem_information,
            REQUEST_PROBLEM_INFORMATION,
            |_| 1
        );
        one!(will_delay_interval, WILL_DELAY_INTERVAL, |_| 4);
        one!(
            request_response_information,
            REQUEST_RESPONSE_INFORMATION,
            |_| 1
        );
        one!(response_information, RESPONSE_INFORMATION, s);
        one!(server_reference, SERVER_REFERENCE, s);
        one!(reason_string, REASON_STRING, s);
        one!(receive_maximum, RECEIVE_MAXIMUM, |_| 2);
        one!(topic_alias_maximum, TOPIC_ALIAS_MAXIMUM, |_| 2);
        one!(topic_alias, TOPIC_ALIAS, |_| 2);
        one!(maximum_qos, MAXIMUM_QOS, |_| 1);
        one!(retain_available, RETAIN_AVAILABLE, |_| 1);
        for (k, v) in &self.user_properties {
            f(USER_PROPERTY, 4 + k.len() + v.len())?;
        }
        one!(maximum_packet_size, MAXIMUM_PACKET_SIZE, |_| 4);
        one!(
            wildcard_subscription_available,
            WILDCARD_SUBSCRIPTION_AVAILABLE,
            |_| 1
        );
        one!(
            subscription_identifier_available,
            SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            |_| 1
        );
        one!(
            shared_subscription_available,
            SHARED_SUBSCRIPTION_AVAILABLE,
            |_| 1
        );
        Ok(())
    }

    /// Length of the properties (without the Property Length in front),
    /// after checking they may appear in `ctx` and fit on the wire.
    pub(crate) fn encoded_len(&self, ctx: PropertyContext) -> Result<usize, EncodeError> {
        let mut total = 0;
        self.for_each(|id, len| {
            if !is_allowed(id, ctx) {
                return Err(EncodeError::PropertyNotAllowed { id });
            }
            total += 1 + len;
            Ok(())
        })?;
        for b in [&self.correlation_data, &self.authentication_data]
            .into_iter()
            .flatten()
        {
            if b.len() > usize::from(u16::MAX) {
                return Err(EncodeError::FieldTooLong { len: b.len() });
            }
        }
        if let Some(&bad) = self
            .subscription_identifiers
            .iter()
            .find(|&&v| v == 0 || v > VARINT_MAX)
        {
            let _ = bad;
            return Err(EncodeError::InvalidPropertyValue {
                id: id::SUBSCRIPTION_IDENTIFIER,
            });
        }
        let zero16 = [self.receive_maximum, self.topic_alias].contains(&Some(0));
        if zero16
            || self.maximum_packet_size == Some(0)
            || self.maximum_qos == Some(QoS::ExactlyOnce)
        {
            return Err(EncodeError::InvalidPropertyValue { id: 0 });
        }
        Ok(total)
    }

    /// Writes Property Length and the properties; `len` comes from [`Self::encoded_len`].
    pub(crate) fn encode(&self, len: usize, buf: &mut impl BufMut) {
        use id::*;
        put_varint(buf, len);
        if len == 0 {
            return;
        }
        let put_s = |buf: &mut dyn BufMut, id: u8, s: &[u8]| {
            buf.put_u8(id);
            buf.put_u16(s.len() as u16);
            buf.put_slice(s);
        };
        let put_flag = |buf: &mut dyn BufMut, id: u8, v: Option<bool>| {
            if let Some(v) = v {
                buf.put_u8(id);
                buf.put_u8(u8::from(v));
            }
        };
        let put_u16 = |buf: &mut dyn BufMut, id: u8, v: Option<u16>| {
            if let Some(v) = v {
                buf.put_u8(id);
                buf.put_u16(v);
            }
        };
        let put_u32 = |buf: &mut dyn BufMut, id: u8, v: Option<u32>| {
            if let Some(v) = v {
                buf.put_u8(id);
                buf.put_u32(v);
            }
        };
        let mut buf: &mut dyn BufMut = buf;
        put_flag(buf, PAYLOAD_FORMAT_INDICATOR, self.payload_format_indicator);
        put_u32(buf, MESSAGE_EXPIRY_INTERVAL, self.message_expiry_interval);
        if let Some(v) = &self.content_type {
            put_s(buf, CONTENT_TYPE, v.as_bytes());
        }
        if let Some(v) = &self.response_topic {
            put_s(buf, RESPONSE_TOPIC, v.as_bytes());
        }
        if let Some(v) = &self.correlation_data {
            put_s(buf, CORRELATION_DATA, v);
        }
        for &v in &self.subscription_identifiers {
            buf.put_u8(SUBSCRIPTION_IDENTIFIER);
            put_varint(&mut buf, v as usize);
        }
        put_u32(buf, SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        if let Some(v) = &self.assigned_client_identifier {
            put_s(buf, ASSIGNED_CLIENT_IDENTIFIER, v.as_bytes());
        }
        put_u16(buf, SERVER_KEEP_ALIVE, self.server_keep_alive);
        if let Some(v) = &self.authentication_method {
            put_s(buf, AUTHENTICATION_METHOD, v.as_bytes());
        }
        if let Some(v) = &self.authentication_data {
            put_s(buf, AUTHENTICATION_DATA, v);
        }
        put_flag(
            buf,
            REQUEST_PROBLEM_INFORMATION,
            self.request_problem_information,
        );
        put_u32(buf, WILL_DELAY_INTERVAL, self.will_delay_interval);
        put_flag(
            buf,
            REQUEST_RESPONSE_INFORMATION,
            self.request_response_information,
        );
        if let Some(v) = &self.response_information {
            put_s(buf, RESPONSE_INFORMATION, v.as_bytes());
        }
        if let Some(v) = &self.server_reference {
            put_s(buf, SERVER_REFERENCE, v.as_bytes());
        }
        if let Some(v) = &self.reason_string {
            put_s(buf, REASON_STRING, v.as_bytes());
        }
        put_u16(buf, RECEIVE_MAXIMUM, self.receive_maximum);
        put_u16(buf, TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        put_u16(buf, TOPIC_ALIAS, self.topic_alias);
        if let Some(q) = self.maximum_qos {
            buf.put_u8(MAXIMUM_QOS);
            buf.put_u8(q.as_u8());
        }
        put_flag(buf, RETAIN_AVAILABLE, self.retain_available);
        for (k, v) in &self.user_properties {
            buf.put_u8(USER_PROPERTY);
            buf.put_u16(k.len() as u16);
            buf.put_slice(k.as_bytes());
            buf.put_u16(v.len() as u16);
            buf.put_slice(v.as_bytes());
        }
        put_u32(buf, MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        put_flag(
            buf,
            WILDCARD_SUBSCRIPTION_AVAILABLE,
            self.wildcard_subscription_available,
        );
        put_flag(
            buf,
            SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            self.subscription_identifier_available,
        );
        put_flag(
            buf,
            SHARED_SUBSCRIPTION_AVAILABLE,
            self.shared_subscription_available,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn decode(bytes: &'static [u8], ctx: PropertyContext) -> Result<Properties, DecodeError> {
        let frame = Bytes::from_static(bytes);
        let mut r = Reader::new(&frame, 0);
        Properties::decode(&mut r, ctx).map(|p| (*p).clone())
    }

    const PUB: PropertyContext = PropertyContext::Packet(PacketType::Publish);

    #[test]
    fn user_properties_keep_their_order() {
        let p = decode(b"\x0e\x26\x00\x01b\x00\x012\x26\x00\x01a\x00\x011", PUB).unwrap();
        let keys: Vec<&str> = p.user_properties.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["b", "a"]);
    }

    #[test]
    fn duplicate_singleton_is_a_protocol_error() {
        assert_eq!(
            decode(b"\x04\x01\x01\x01\x01", PUB),
            Err(DecodeError::DuplicateProperty { id: 1 })
        );
    }

    #[test]
    fn several_subscription_identifiers_allowed_in_publish_only() {
        assert_eq!(
            decode(b"\x04\x0b\x01\x0b\x02", PUB)
                .unwrap()
                .subscription_identifiers,
            vec![1, 2]
        );
        let sub = PropertyContext::Packet(PacketType::Subscribe);
        assert_eq!(
            decode(b"\x04\x0b\x01\x0b\x02", sub),
            Err(DecodeError::DuplicateProperty { id: 0x0b })
        );
    }

    #[test]
    fn property_outside_its_packets_is_rejected() {
        assert_eq!(
            decode(b"\x02\x24\x00", PUB),
            Err(DecodeError::PropertyNotAllowed {
                id: 0x24,
                packet_type: PacketType::Publish
            })
        );
        assert_eq!(
            decode(b"\x05\x18\x00\x00\x00\x01", PUB),
            Err(DecodeError::PropertyNotAllowed {
                id: 0x18,
                packet_type: PacketType::Publish
            })
        );
        assert!(decode(b"\x05\x18\x00\x00\x00\x01", PropertyContext::Will).is_ok());
    }

    #[test]
    fn unknown_and_zero_values_are_rejected() {
        assert!(matches!(
            decode(b"\x02\x04\x01", PUB),
            Err(DecodeError::UnknownProperty { id: 4, .. })
        ));
        assert_eq!(
            decode(b"\x03\x23\x00\x00", PUB),
            Err(DecodeError::InvalidPropertyValue { id: 0x23 })
        );
        assert_eq!(
            decode(b"\x02\x01\x02", PUB),
            Err(DecodeError::InvalidPropertyValue { id: 1 })
        );
    }

    #[test]
    fn truncated_value_is_malformed() {
        assert!(matches!(
            decode(b"\x01\x02", PUB),
            Err(DecodeError::UnexpectedEnd { .. })
        ));
        assert!(matches!(
            decode(b"\x05\x02", PUB),
            Err(DecodeError::PropertyLength { .. })
        ));
    }

    #[test]
    fn every_property_round_trips_in_connack() {
        let ctx = PropertyContext::Packet(PacketType::ConnAck);
        let p = Properties {
            session_expiry_interval: Some(10),
            assigned_client_identifier: Some(Utf8String::from_static("id")),
            server_keep_alive: Some(30),
            authentication_method: Some(Utf8String::from_static("SCRAM")),
            authentication_data: Some(Bytes::from_static(b"\x01")),
            response_information: Some(Utf8String::from_static("r")),
            server_reference: Some(Utf8String::from_static("s")),
            reason_string: Some(Utf8String::from_static("why")),
            receive_maximum: Some(10),
            topic_alias_maximum: Some(5),
            maximum_qos: Some(QoS::AtLeastOnce),
            retain_available: Some(false),
            user_properties: vec![(Utf8String::from_static("k"), Utf8String::from_static("v"))],
            maximum_packet_size: Some(1024),
            wildcard_subscription_available: Some(true),
            subscription_identifier_available: Some(false),
            shared_subscription_available: Some(true),
            ..Properties::default()
        };
        let len = p.encoded_len(ctx).unwrap();
        let mut out = Vec::new();
        p.encode(len, &mut out);
        let frame = Bytes::from(out);
        let mut r = Reader::new(&frame, 0);
        assert_eq!(*Properties::decode(&mut r, ctx).unwrap(), p);
        assert!(r.is_empty());
        assert_eq!(
            p.encoded_len(PUB),
            Err(EncodeError::PropertyNotAllowed { id: 0x11 })
        );
    }
}
