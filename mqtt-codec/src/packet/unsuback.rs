//! UNSUBACK (MQTT 5.0 §3.11).

use alloc::vec::Vec;
use bytes::BufMut;

use super::put_header;
use super::suback::{encode_ack_list, read_codes};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::property::{Properties, PropertyContext, Props};
use crate::reason_code::ReasonCode;
use crate::version::ProtocolVersion;

/// UNSUBACK. Before MQTT 5.0 it carries only the packet identifier (and
/// `reason_codes` is empty); in 5.0, one reason code per filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet identifier of the UNSUBSCRIBE.
    pub packet_id: u16,
    /// Properties (MQTT 5.0).
    pub properties: Props,
    /// Reason codes (MQTT 5.0).
    pub reason_codes: Vec<ReasonCode>,
}

impl UnsubAck {
    /// An UNSUBACK without properties.
    #[must_use]
    pub fn new(packet_id: u16, reason_codes: Vec<ReasonCode>) -> Self {
        Self {
            packet_id,
            properties: Props::default(),
            reason_codes,
        }
    }

    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = r.u16()?;
        if packet_id == 0 {
            return Err(DecodeError::ZeroPacketId {
                packet_type: PacketType::UnsubAck,
            });
        }
        if !version.is_v5() {
            return Ok(Self::new(packet_id, Vec::new()));
        }
        let properties = Properties::decode(r, PropertyContext::Packet(PacketType::UnsubAck))?;
        let reason_codes = read_codes(r, PacketType::UnsubAck, version)?;
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), EncodeError> {
        if !version.is_v5() {
            if self.packet_id == 0 {
                return Err(EncodeError::ZeroPacketId {
                    packet_type: PacketType::UnsubAck,
                });
            }
            put_header(buf, 0xb0, 2)?;
            buf.put_u16(self.packet_id);
            return Ok(());
        }
        encode_ack_list(
            buf,
            0xb0,
            PacketType::UnsubAck,
            self.packet_id,
            &self.properties,
            &self.reason_codes,
            version,
        )
    }
}
