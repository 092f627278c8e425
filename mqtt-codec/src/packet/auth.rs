//! AUTH (MQTT 5.0 §3.15): extended authentication exchange.

use bytes::BufMut;

use super::{put_header, with_len_prefix};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::property::{Properties, PropertyContext, Props};
use crate::reason_code::ReasonCode;
use crate::version::ProtocolVersion;

/// AUTH: reason code (Success, Continue authentication, Re-authenticate)
/// and properties (Authentication Method and Data, Reason String, User
/// Properties). An AUTH with Remaining Length 0 means Success (§3.15.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// Reason code.
    pub reason_code: ReasonCode,
    /// Properties.
    pub properties: Props,
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut auth = Self::default();
        if r.is_empty() {
            return Ok(auth);
        }
        let code = r.u8()?;
        auth.reason_code = ReasonCode(code);
        if !auth
            .reason_code
            .is_valid_for(PacketType::Auth, ProtocolVersion::V5)
        {
            return Err(DecodeError::InvalidReasonCode {
                packet_type: PacketType::Auth,
                code,
            });
        }
        if !r.is_empty() {
            auth.properties = Properties::decode(r, PropertyContext::Packet(PacketType::Auth))?;
        }
        Ok(auth)
    }

    pub(crate) fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::PacketNotInVersion {
                packet_type: PacketType::Auth,
                version,
            });
        }
        if self.reason_code == ReasonCode::SUCCESS && self.properties.is_empty() {
            return put_header(buf, 0xf0, 0);
        }
        let plen = self
            .properties
            .encoded_len(PropertyContext::Packet(PacketType::Auth))?;
        put_header(buf, 0xf0, 1 + with_len_prefix(plen))?;
        buf.put_u8(self.reason_code.0);
        self.properties.encode(plen, buf);
        Ok(())
    }
}
