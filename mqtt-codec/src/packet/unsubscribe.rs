//! UNSUBSCRIBE (MQTT 5.0 §3.10).

use alloc::vec::Vec;
use bytes::BufMut;

use super::{put_binary, put_header, with_len_prefix};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::primitives::Utf8String;
use crate::property::{Properties, PropertyContext, Props};
use crate::topic::check_filter;
use crate::version::ProtocolVersion;

/// UNSUBSCRIBE: at least one topic filter (MQTT-3.10.3-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet identifier (non-zero).
    pub packet_id: u16,
    /// Properties (MQTT 5.0): User Properties.
    pub properties: Props,
    /// The filters to remove.
    pub filters: Vec<Utf8String>,
}

impl Unsubscribe {
    /// An UNSUBSCRIBE without properties.
    #[must_use]
    pub fn new(packet_id: u16, filters: Vec<Utf8String>) -> Self {
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
                packet_type: PacketType::Unsubscribe,
            });
        }
        let properties = if version.is_v5() {
            Properties::decode(r, PropertyContext::Packet(PacketType::Unsubscribe))?
        } else {
            Props::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let (filter, at) = r.string()?;
            check_filter(filter.as_bytes())
                .map_err(|error| DecodeError::InvalidTopicFilter { offset: at, error })?;
            filters.push(filter);
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters {
                packet_type: PacketType::Unsubscribe,
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
                packet_type: PacketType::Unsubscribe,
            });
        }
        if self.filters.is_empty() {
            return Err(EncodeError::EmptyList {
                packet_type: PacketType::Unsubscribe,
            });
        }
        let mut remaining = 2;
        for f in &self.filters {
            check_filter(f.as_bytes()).map_err(EncodeError::InvalidTopicFilter)?;
            remaining += 2 + f.len();
        }
        let plen = if version.is_v5() {
            let plen = self
                .properties
                .encoded_len(PropertyContext::Packet(PacketType::Unsubscribe))?;
            remaining += with_len_prefix(plen);
            plen
        } else {
            0
        };
        put_header(buf, 0xa2, remaining)?;
        buf.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.encode(plen, buf);
        }
        for f in &self.filters {
            put_binary(buf, f.as_bytes());
        }
        Ok(())
    }
}
