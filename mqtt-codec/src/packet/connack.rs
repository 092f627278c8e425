//! CONNACK (MQTT 5.0 §3.2, MQTT 3.1.1 §3.2).

use bytes::BufMut;

use super::{put_header, with_len_prefix};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::property::{Properties, PropertyContext, Props};
use crate::reason_code::ReasonCode;
use crate::version::ProtocolVersion;

/// CONNACK: session present flag, reason code (the return code 0–5 before
/// MQTT 5.0, see [`reason_code::v3`](crate::reason_code::v3)) and, in 5.0,
/// properties.
///
/// ```
/// use mqtt_codec::{ConnAck, Packet, ProtocolVersion};
/// let mut buf = Vec::new();
/// Packet::ConnAck(ConnAck::default()).encode(ProtocolVersion::V3_1_1, &mut buf).unwrap();
/// assert_eq!(buf, [0x20, 2, 0, 0]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// Session Present (§3.2.2.1.1).
    pub session_present: bool,
    /// Connect reason code (5.0) or return code (3.1.1).
    pub reason_code: ReasonCode,
    /// Properties (MQTT 5.0).
    pub properties: Props,
}

impl ConnAck {
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        let code = r.u8()?;
        let reason_code = ReasonCode(code);
        // MQTT-3.2.2-1: bits 7-1 reserved; MQTT-3.2.2-6: no session with an error.
        if flags & 0xfe != 0 || (flags == 1 && code != 0) {
            return Err(DecodeError::InvalidConnAckFlags { flags });
        }
        if !reason_code.is_valid_for(PacketType::ConnAck, version) {
            return Err(DecodeError::InvalidReasonCode {
                packet_type: PacketType::ConnAck,
                code,
            });
        }
        let properties = if version.is_v5() {
            Properties::decode(r, PropertyContext::Packet(PacketType::ConnAck))?
        } else {
            Props::default()
        };
        Ok(Self {
            session_present: flags == 1,
            reason_code,
            properties,
        })
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), EncodeError> {
        let flags = u8::from(self.session_present);
        if !version.is_v5() {
            put_header(buf, 0x20, 2)?;
            buf.put_u8(flags);
            buf.put_u8(self.reason_code.0);
            return Ok(());
        }
        let plen = self
            .properties
            .encoded_len(PropertyContext::Packet(PacketType::ConnAck))?;
        put_header(buf, 0x20, 2 + with_len_prefix(plen))?;
        buf.put_u8(flags);
        buf.put_u8(self.reason_code.0);
        self.properties.encode(plen, buf);
        Ok(())
    }
}
