//! Will updates during a session: WILLTOPICRESP, WILLMSGUPD, WILLMSGRESP
//! (MQTT-SN v1.2 §5.4.22–5.4.25, §6.4). WILLTOPICUPD is
//! [`Message::WillTopicUpd`](crate::Message::WillTopicUpd) over
//! [`WillTopic`](crate::WillTopic).

use bytes::{BufMut, Bytes};

use super::Body;
use crate::error::DecodeError;
use crate::parse::Reader;
use crate::return_code::ReturnCode;

macro_rules! return_code_only {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name {
            /// Whether the update is accepted.
            pub return_code: ReturnCode,
        }

        impl Body for $name {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    return_code: r.return_code()?,
                })
            }

            fn len(&self) -> usize {
                1
            }

            fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
                buf.put_u8(self.return_code.as_u8());
            }
        }
    };
}

return_code_only! {
    /// WILLTOPICRESP (§5.4.24): answers WILLTOPICUPD.
    ///
    /// Wire: `Length(3) MsgType(0x1B) ReturnCode`.
    WillTopicResp
}

return_code_only! {
    /// WILLMSGRESP (§5.4.25): answers WILLMSGUPD.
    ///
    /// Wire: `Length(3) MsgType(0x1D) ReturnCode`.
    WillMsgResp
}

/// WILLMSGUPD (§5.4.23): replaces the will message.
///
/// Wire: `Length MsgType(0x1C) WillMsg(n)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct WillMsgUpd {
    /// The new will message.
    pub will_msg: Bytes,
}

impl Body for WillMsgUpd {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { will_msg: r.rest() })
    }

    fn len(&self) -> usize {
        self.will_msg.len()
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) {
        buf.put_slice(&self.will_msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::QoS;
    use crate::message::tests::assert_wire;
    use crate::{Message, WillTopic};

    #[test]
    fn willtopicupd_sets_a_new_will_topic() {
        let m = Message::WillTopicUpd(Some(WillTopic {
            qos: QoS::ExactlyOnce,
            retain: false,
            topic: Bytes::from_static(b"lw"),
        }));
        assert_wire(&m, &[0x05, 0x1A, 0x40, b'l', b'w']);
    }

    #[test]
    fn empty_willtopicupd_deletes_the_will() {
        assert_wire(&Message::WillTopicUpd(None), &[0x02, 0x1A]);
    }

    #[test]
    fn will_responses_carry_a_return_code() {
        let accepted = WillTopicResp {
            return_code: ReturnCode::Accepted,
        };
        assert_wire(&accepted.into(), &[0x03, 0x1B, 0x00]);
        let rejected = WillMsgResp {
            return_code: ReturnCode::RejectedNotSupported,
        };
        assert_wire(&rejected.into(), &[0x03, 0x1D, 0x03]);
    }

    #[test]
    fn willmsgupd_carries_the_message() {
        let m = WillMsgUpd {
            will_msg: Bytes::from_static(b"gone"),
        };
        assert_wire(&m.into(), &[0x06, 0x1C, b'g', b'o', b'n', b'e']);
    }
}
