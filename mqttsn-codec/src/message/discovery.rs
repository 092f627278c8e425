//! Gateway discovery: ADVERTISE, SEARCHGW, GWINFO (MQTT-SN v1.2 §5.4.1–5.4.3, §6.1).

use bytes::{BufMut, Bytes};

use super::Body;
use crate::error::{DecodeError, Field};
use crate::parse::Reader;

/// ADVERTISE (§5.4.1): a gateway announces itself periodically.
///
/// Wire: `Length(5) MsgType(0x00) GwId Duration(2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Advertise {
    /// The gateway's id.
    pub gw_id: u8,
    /// Seconds until the next ADVERTISE.
    pub duration: u16,
}

impl Body for Advertise {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            gw_id: r.u8(Field::GwId)?,
            duration: r.u16(Field::Duration)?,
        })
    }

    fn len(&self) -> usize {
        3
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u8(self.gw_id);
        buf.put_u16(self.duration);
    }
}

/// SEARCHGW (§5.4.2): a client looks for a gateway.
///
/// Wire: `Length(3) MsgType(0x01) Radius`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SearchGw {
    /// Broadcast radius, in hops.
    pub radius: u8,
}

impl Body for SearchGw {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            radius: r.u8(Field::Radius)?,
        })
    }

    fn len(&self) -> usize {
        1
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u8(self.radius);
    }
}

/// GWINFO (§5.4.3): the answer to SEARCHGW, from a gateway or from a client
/// that knows one.
///
/// Wire: `Length MsgType(0x02) GwId GwAdd(n)`. A gateway leaves GwAdd out; a
/// client puts the gateway's address there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GwInfo {
    /// The gateway's id.
    pub gw_id: u8,
    /// The gateway's address, empty when a gateway sends GWINFO itself.
    pub gw_add: Bytes,
}

impl Body for GwInfo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            gw_id: r.u8(Field::GwId)?,
            gw_add: r.rest(),
        })
    }

    fn len(&self) -> usize {
        1 + self.gw_add.len()
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_u8(self.gw_id);
        buf.put_slice(&self.gw_add);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::MsgType;
    use crate::message::tests::{assert_refused, assert_wire};
    use crate::Message;

    #[test]
    fn advertise_carries_gw_id_and_duration() {
        let m = Advertise {
            gw_id: 1,
            duration: 900,
        };
        assert_wire(&m.into(), &[0x05, 0x00, 0x01, 0x03, 0x84]);
    }

    #[test]
    fn searchgw_carries_radius() {
        assert_wire(&SearchGw { radius: 2 }.into(), &[0x03, 0x01, 0x02]);
    }

    #[test]
    fn gwinfo_from_a_gateway_has_no_address() {
        let m = GwInfo {
            gw_id: 7,
            gw_add: Bytes::new(),
        };
        assert_wire(&m.into(), &[0x03, 0x02, 0x07]);
    }

    #[test]
    fn gwinfo_from_a_client_has_the_gateway_address() {
        let m = GwInfo {
            gw_id: 7,
            gw_add: Bytes::from_static(&[192, 0, 2, 1, 0x07, 0x5C]),
        };
        assert_wire(
            &Message::GwInfo(m),
            &[0x09, 0x02, 0x07, 192, 0, 2, 1, 0x07, 0x5C],
        );
    }

    #[test]
    fn truncated_advertise_names_the_duration() {
        assert_refused(
            &[0x04, 0x00, 0x01, 0x03],
            DecodeError::Truncated {
                msg_type: MsgType::Advertise,
                field: Field::Duration,
                offset: 3,
            },
        );
    }
}
