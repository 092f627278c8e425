//! MQTT 5.0 properties (§2.2.2): one struct for every packet, with the
//! packets each property may appear in.

use alloc::boxed::Box;
use alloc::vec::Vec;
use bytes::{BufMut, Bytes};

use crate::error::EncodeError;
use crate::fixed_header::PacketType;
use crate::primitives::{put_varint, Utf8String};
use crate::qos::QoS;

mod codec;
#[cfg(test)]
mod tests;

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
}
