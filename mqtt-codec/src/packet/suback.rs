//! SUBACK (MQTT 5.0 §3.9).

use alloc::vec::Vec;
use bytes::BufMut;

use super::{put_header, with_len_prefix};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::property::{Properties, PropertyContext, Props};
use crate::reason_code::ReasonCode;
use crate::version::ProtocolVersion;

/// SUBACK: one reason code per filter of the SUBSCRIBE, in order.
///
/// Before MQTT 5.0 the codes are 0, 1, 2 (granted QoS) and 0x80 (failure);
/// encoding maps every 5.0 error code to 0x80 there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: u16,
    /// Properties (MQTT 5.0): Reason String, User Properties.
    pub properties: Props,
    /// Reason codes.
    pub reason_codes: Vec<ReasonCode>,
}

impl SubAck {
    /// A SUBACK without properties.
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
                packet_type: PacketType::SubAck,
            });
        }
        let properties = if version.is_v5() {
            Properties::decode(r, PropertyContext::Packet(PacketType::SubAck))?
        } else {
            Props::default()
        };
        let reason_codes = read_codes(r, PacketType::SubAck, version)?;
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
        encode_ack_list(
            buf,
            0x90,
            PacketType::SubAck,
            self.packet_id,
            &self.properties,
            &self.reason_codes,
            version,
        )
    }
}

/// Reads a non-empty list of reason codes valid for `packet_type`.
pub(crate) fn read_codes(
    r: &mut Reader<'_>,
    packet_type: PacketType,
    version: ProtocolVersion,
) -> Result<Vec<ReasonCode>, DecodeError> {
    if r.is_empty() {
        return Err(DecodeError::NoReasonCodes { packet_type });
    }
    let mut codes = Vec::with_capacity(r.remaining());
    while !r.is_empty() {
        let code = r.u8()?;
        if !ReasonCode(code).is_valid_for(packet_type, version) {
            return Err(DecodeError::InvalidReasonCode { packet_type, code });
        }
        codes.push(ReasonCode(code));
    }
    Ok(codes)
}

/// Writes SUBACK or (5.0) UNSUBACK.
pub(crate) fn encode_ack_list(
    buf: &mut impl BufMut,
    byte1: u8,
    packet_type: PacketType,
    packet_id: u16,
    properties: &Properties,
    codes: &[ReasonCode],
    version: ProtocolVersion,
) -> Result<(), EncodeError> {
    if packet_id == 0 {
        return Err(EncodeError::ZeroPacketId { packet_type });
    }
    if codes.is_empty() {
        return Err(EncodeError::EmptyList { packet_type });
    }
    let mut remaining = 2 + codes.len();
    let plen = if version.is_v5() {
        let plen = properties.encoded_len(PropertyContext::Packet(packet_type))?;
        remaining += with_len_prefix(plen);
        plen
    } else {
        0
    };
    put_header(buf, byte1, remaining)?;
    buf.put_u16(packet_id);
    if version.is_v5() {
        properties.encode(plen, buf);
        for c in codes {
            buf.put_u8(c.0);
        }
    } else {
        for c in codes {
            buf.put_u8(if c.0 <= 2 { c.0 } else { 0x80 });
        }
    }
    Ok(())
}
