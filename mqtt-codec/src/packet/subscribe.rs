//! SUBSCRIBE (MQTT 5.0 §3.8) and subscription options.

use alloc::vec::Vec;
use bytes::BufMut;

use super::{put_binary, put_header, with_len_prefix};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::primitives::Utf8String;
use crate::property::{Properties, PropertyContext, Props};
use crate::qos::QoS;
use crate::topic::check_filter;
use crate::version::ProtocolVersion;

/// Retain Handling option (MQTT 5.0 §3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription did not exist.
    SendAtNewSubscribe = 1,
    /// 2: do not send them.
    DoNotSend = 2,
}

/// Subscription options byte (MQTT 5.0 §3.8.3.1). Before 5.0 only `qos`
/// is on the wire and the other fields must keep their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// No Local: do not receive own publications.
    pub no_local: bool,
    /// Retain As Published.
    pub retain_as_published: bool,
    /// Retain Handling.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    fn to_byte(self) -> u8 {
        self.qos.as_u8()
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }
}

/// One topic filter and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Topic filter (may be a `$share/...` shared subscription).
    pub filter: Utf8String,
    /// Options.
    pub options: SubscriptionOptions,
}

impl Subscription {
    /// A subscription to `filter` with maximum QoS `qos`.
    #[must_use]
    pub fn new(filter: Utf8String, qos: QoS) -> Self {
        Self {
            filter,
            options: SubscriptionOptions {
                qos,
                ..SubscriptionOptions::default()
            },
        }
    }
}

/// SUBSCRIBE: at least one filter (MQTT-3.8.3-2).
///
/// ```
/// use mqtt_codec::{Packet, ProtocolVersion, QoS, Subscribe, Subscription, Utf8String};
/// let s = Subscribe::new(10, vec![Subscription::new(Utf8String::from_static("a/+"), QoS::AtLeastOnce)]);
/// let mut buf = Vec::new();
/// Packet::Subscribe(s).encode(ProtocolVersion::V3_1_1, &mut buf).unwrap();
/// assert_eq!(buf, [0x82, 8, 0, 10, 0, 3, b'a', b'/', b'+', 1]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet identifier (non-zero).
    pub packet_id: u16,
    /// Properties (MQTT 5.0): Subscription Identifier, User Properties.
    pub properties: Props,
    /// The filters.
    pub filters: Vec<Subscription>,
}

impl Subscribe {
    /// A SUBSCRIBE without properties.
    #[must_use]
    pub fn new(packet_id: u16, filters: Vec<Subscription>) -> Self {
        Self {
            packet_id,
            properties: Props::default(),
            filters,
        }
    }

    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = r.u16()?;
        if packet_id == 0 {
            return Err(DecodeError::ZeroPacketId {
                packet_type: PacketType::Subscribe,
            });
        }
        let properties = if version.is_v5() {
            Properties::decode(r, PropertyContext::Packet(PacketType::Subscribe))?
        } else {
            Props::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let (filter, at) = r.string()?;
            check_filter(filter.as_bytes())
                .map_err(|error| DecodeError::InvalidTopicFilter { offset: at, error })?;
            let opt_at = r.pos();
            let b = r.u8()?;
            let reserved = if version.is_v5() { 0xc0 } else { 0xfc };
            if b & reserved != 0 {
                return Err(DecodeError::ReservedSubscriptionOptions { options: b });
            }
            let Some(qos) = QoS::from_u8(b & 3) else {
                return Err(DecodeError::InvalidQos { offset: opt_at });
            };
            let retain_handling = match (b >> 4) & 3 {
                0 => RetainHandling::SendAtSubscribe,
                1 => RetainHandling::SendAtNewSubscribe,
                2 => RetainHandling::DoNotSend,
                _ => return Err(DecodeError::InvalidRetainHandling),
            };
            let no_local = b & 0x04 != 0;
            if no_local && filter.as_bytes().starts_with(b"$share/") {
                return Err(DecodeError::NoLocalOnSharedSubscription);
            }
            filters.push(Subscription {
                filter,
                options: SubscriptionOptions {
                    qos,
                    no_local,
                    retain_as_published: b & 0x08 != 0,
                    retain_handling,
                },
            });
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters {
                packet_type: PacketType::Subscribe,
            });
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), EncodeError> {
        if self.packet_id == 0 {
            return Err(EncodeError::ZeroPacketId {
                packet_type: PacketType::Subscribe,
            });
        }
        if self.filters.is_empty() {
            return Err(EncodeError::EmptyList {
                packet_type: PacketType::Subscribe,
            });
        }
        let mut remaining = 2;
        for s in &self.filters {
            check_filter(s.filter.as_bytes()).map_err(EncodeError::InvalidTopicFilter)?;
            remaining += 3 + s.filter.len();
        }
        let plen = if version.is_v5() {
            let plen = self
                .properties
                .encoded_len(PropertyContext::Packet(PacketType::Subscribe))?;
            remaining += with_len_prefix(plen);
            plen
        } else {
            0
        };
        put_header(buf, 0x82, remaining)?;
        buf.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.encode(plen, buf);
        }
        for s in &self.filters {
            put_binary(buf, s.filter.as_bytes());
            let b = if version.is_v5() {
                s.options.to_byte()
            } else {
                s.options.qos.as_u8()
            };
            buf.put_u8(b);
        }
        Ok(())
    }
}
