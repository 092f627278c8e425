//! DISCONNECT (MQTT-SN v1.2 §5.4.21, §6.12 for sleeping clients).

use bytes::BufMut;

use super::Body;
use crate::error::{DecodeError, Field};
use crate::parse::Reader;

/// DISCONNECT (§5.4.21): closes the connection, or with a duration puts the
/// client to sleep for that many seconds.
///
/// Wire: `Length MsgType(0x18) [Duration(2)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Disconnect {
    /// Sleep duration in seconds; `None` for a plain disconnect.
    pub duration: Option<u16>,
}

impl Body for Disconnect {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let duration = if r.remaining() == 0 {
            None
        } else {
            Some(r.u16(Field::Duration)?)
        };
        Ok(Self { duration })
    }

    fn len(&self) -> usize {
        if self.duration.is_some() {
            2
        } else {
            0
        }
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        if let Some(d) = self.duration {
            buf.put_u16(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::MsgType;
    use crate::message::tests::{assert_refused, assert_wire};

    #[test]
    fn plain_disconnect() {
        assert_wire(&Disconnect::default().into(), &[0x02, 0x18]);
    }

    #[test]
    fn disconnect_to_sleep_for_an_hour() {
        let m = Disconnect {
            duration: Some(3600),
        };
        assert_wire(&m.into(), &[0x04, 0x18, 0x0E, 0x10]);
    }

    #[test]
    fn disconnect_with_one_duration_byte_is_truncated() {
        assert_refused(
            &[0x03, 0x18, 0x0E],
            DecodeError::Truncated {
                msg_type: MsgType::Disconnect,
                field: Field::Duration,
                offset: 2,
            },
        );
    }
}
