//! DISCONNECT (MQTT 5.0 §3.14).

use bytes::BufMut;

use super::{put_header, with_len_prefix};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::property::{Properties, PropertyContext, Props};
use crate::reason_code::ReasonCode;
use crate::version::ProtocolVersion;

/// DISCONNECT. Before MQTT 5.0 it has no content; in 5.0 a reason code and
/// properties (Session Expiry Interval, Reason String, Server Reference,
/// User Properties), both omitted for a normal disconnection without
/// properties (§3.14.2.1).
///
/// ```
/// use mqtt_codec::{Disconnect, Packet, ProtocolVersion, ReasonCode};
/// let mut buf = Vec::new();
/// let d = Disconnect { reason_code: ReasonCode::PROTOCOL_ERROR, ..Disconnect::default() };
/// Packet::Disconnect(d).encode(ProtocolVersion::V5, &mut buf).unwrap();
/// assert_eq!(buf, [0xe0, 1, 0x82]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// Reason code (MQTT 5.0).
    pub reason_code: ReasonCode,
    /// Properties (MQTT 5.0).
    pub properties: Props,
}

impl Disconnect {
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let mut d = Self::default();
        if !version.is_v5() || r.is_empty() {
            return Ok(d);
        }
        let code = r.u8()?;
        d.reason_code = ReasonCode(code);
        if !d.reason_code.is_valid_for(PacketType::Disconnect, version) {
            return Err(DecodeError::InvalidReasonCode {
                packet_type: PacketType::Disconnect,
                code,
            });
        }
        if !r.is_empty() {
            d.properties = Properties::decode(r, PropertyContext::Packet(PacketType::Disconnect))?;
        }
        Ok(d)
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), EncodeError> {
        if !version.is_v5()
            || (self.reason_code == ReasonCode::SUCCESS && self.properties.is_empty())
        {
            return put_header(buf, 0xe0, 0);
        }
        if self.properties.is_empty() {
            put_header(buf, 0xe0, 1)?;
            buf.put_u8(self.reason_code.0);
            return Ok(());
        }
        let plen = self
            .properties
            .encoded_len(PropertyContext::Packet(PacketType::Disconnect))?;
        put_header(buf, 0xe0, 1 + with_len_prefix(plen))?;
        buf.put_u8(self.reason_code.0);
        self.properties.encode(plen, buf);
        Ok(())
    }
}
