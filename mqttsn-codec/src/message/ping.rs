//! Keep-alive: PINGREQ (MQTT-SN v1.2 §5.4.19, §6.14); PINGRESP is
//! [`Message::PingResp`](crate::Message::PingResp).

use bytes::{BufMut, Bytes};

use super::Body;
use crate::error::DecodeError;
use crate::parse::Reader;

/// PINGREQ (§5.4.19): keep-alive, or a sleeping client waking up to collect
/// its buffered messages (then with its client id, §6.14).
///
/// Wire: `Length MsgType(0x16) [ClientId(n)]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PingReq {
    /// The client id of a sleeping client that is awake; `None` for a plain
    /// keep-alive. An empty `Some` encodes as `None`.
    pub client_id: Option<Bytes>,
}

impl Body for PingReq {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let client_id = (r.remaining() > 0).then(|| r.rest());
        Ok(Self { client_id })
    }

    fn len(&self) -> usize {
        self.client_id.as_ref().map_or(0, Bytes::len)
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        if let Some(id) = &self.client_id {
            buf.put_slice(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tests::assert_wire;

    #[test]
    fn pingreq_without_client_id() {
        assert_wire(&PingReq::default().into(), &[0x02, 0x16]);
    }

    #[test]
    fn pingreq_of_an_awake_client() {
        let m = PingReq {
            client_id: Some(Bytes::from_static(b"s1")),
        };
        assert_wire(&m.into(), &[0x04, 0x16, b's', b'1']);
    }
}
