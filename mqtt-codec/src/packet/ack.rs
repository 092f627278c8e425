//! PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT 5.0 §3.4–§3.7): a packet
//! identifier, then in 5.0 an optional reason code and properties.

use bytes::BufMut;

use super::{put_header, with_len_prefix};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::property::{Properties, PropertyContext, Props};
use crate::reason_code::ReasonCode;
use crate::version::ProtocolVersion;

/// The shape PUBACK, PUBREC, PUBREL and PUBCOMP share.
///
/// In MQTT 5.0 the reason code and properties are omitted on the wire when
/// the code is Success and there are no properties (§3.4.2.1), and the
/// properties alone when empty; before 5.0 only the identifier is sent.
///
/// ```
/// use mqtt_codec::{Ack, Packet, ProtocolVersion};
/// let mut buf = Vec::new();
/// Packet::PubAck(Ack::new(0x1234)).encode(ProtocolVersion::V5, &mut buf).unwrap();
/// assert_eq!(buf, [0x40, 2, 0x12, 0x34]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Packet identifier of the PUBLISH (or PUBREL) acknowledged; never 0.
    pub packet_id: u16,
    /// Reason code (MQTT 5.0; Success before).
    pub reason_code: ReasonCode,
    /// Properties (MQTT 5.0): Reason String and User Properties.
    pub properties: Props,
}

/// PUBACK (§3.4).
pub type PubAck = Ack;
/// PUBREC (§3.5).
pub type PubRec = Ack;
/// PUBREL (§3.6).
pub type PubRel = Ack;
/// PUBCOMP (§3.7).
pub type PubComp = Ack;

impl Ack {
    /// A successful acknowledgement of `packet_id`.
    #[must_use]
    pub fn new(packet_id: u16) -> Self {
        Self {
            packet_id,
            reason_code: ReasonCode::SUCCESS,
            properties: Props::default(),
        }
    }

    /// The same acknowledgement with another reason code.
    #[must_use]
    pub fn with_reason_code(mut self, reason_code: ReasonCode) -> Self {
        self.reason_code = reason_code;
        self
    }

    pub(crate) fn decode(
        r: &mut Reader<'_>,
        packet_type: PacketType,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = r.u16()?;
        if packet_id == 0 {
            return Err(DecodeError::ZeroPacketId { packet_type });
        }
        let mut ack = Self::new(packet_id);
        if version.is_v5() && !r.is_empty() {
            let code = r.u8()?;
            ack.reason_code = ReasonCode(code);
            if !ack.reason_code.is_valid_for(packet_type, version) {
                return Err(DecodeError::InvalidReasonCode { packet_type, code });
            }
            if !r.is_empty() {
                ack.properties = Properties::decode(r, PropertyContext::Packet(packet_type))?;
            }
        }
        Ok(ack)
    }

    pub(crate) fn encode(
        &self,
        packet_type: PacketType,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), EncodeError> {
        if self.packet_id == 0 {
            return Err(EncodeError::ZeroPacketId { packet_type });
        }
        let byte1 = ((packet_type as u8) << 4) | packet_type.required_flags();
        if !version.is_v5()
            || (self.reason_code == ReasonCode::SUCCESS && self.properties.is_empty())
        {
            put_header(buf, byte1, 2)?;
            buf.put_u16(self.packet_id);
            return Ok(());
        }
        if self.properties.is_empty() {
            put_header(buf, byte1, 3)?;
            buf.put_u16(self.packet_id);
            buf.put_u8(self.reason_code.0);
            return Ok(());
        }
        let plen = self
            .properties
            .encoded_len(PropertyContext::Packet(packet_type))?;
        put_header(buf, byte1, 3 + with_len_prefix(plen))?;
        buf.put_u16(self.packet_id);
        buf.put_u8(self.reason_code.0);
        self.properties.encode(plen, buf);
        Ok(())
    }
}
