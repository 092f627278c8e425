//! Every MQTT-SN v1.2 message (§5.4) and the [`Message`] enum over them.

mod connect;
mod disconnect;
mod discovery;
mod ping;
mod publish;
mod register;
mod subscribe;
mod will_update;

use bytes::{BufMut, Bytes, BytesMut};

pub use connect::{ConnAck, Connect, WillMsg, WillTopic};
pub use disconnect::Disconnect;
pub use discovery::{Advertise, GwInfo, SearchGw};
pub use ping::PingReq;
pub use publish::{PubAck, PubComp, PubRec, PubRel, Publish};
pub use register::{RegAck, Register};
pub use subscribe::{SubAck, Subscribe, UnsubAck, Unsubscribe};
pub use will_update::{WillMsgResp, WillMsgUpd, WillTopicResp};

use crate::error::{DecodeError, EncodeError};
use crate::header::{self, Header, MsgType};
use crate::parse::Reader;

/// The variable part of one message type: decode, size, encode.
pub(crate) trait Body: Sized {
    /// Reads the fields after MsgType. The caller checks for trailing bytes.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    /// Octets after MsgType.
    fn len(&self) -> usize;
    /// Refuses what this message cannot carry, before anything is written.
    fn check(&self) -> Result<(), EncodeError> {
        Ok(())
    }
    /// Writes the fields after MsgType (room already checked).
    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B);
}

macro_rules! messages {
    ($($(#[$doc:meta])* $v:ident),* $(,)?) => {
        /// One MQTT-SN v1.2 message (§5.4), as a plain datagram carries it.
        ///
        /// Forwarder encapsulations (§5.5) are [`Frame`](crate::Frame)s.
        ///
        /// # Examples
        /// ```
        /// use bytes::Bytes;
        /// use mqttsn_codec::{Message, Publish, QoS, Topic};
        ///
        /// let datagram = Bytes::from_static(&[0x09, 0x0C, 0x20, 0x00, 0x05, 0x00, 0x07, b'h', b'i']);
        /// let msg = Message::decode(datagram.clone())?;
        /// let Message::Publish(publish) = &msg else { panic!("not a PUBLISH") };
        /// assert_eq!(publish.qos, QoS::AtLeastOnce);
        /// assert_eq!(publish.topic, Topic::Id(5));
        /// assert_eq!(publish.data, "hi");
        ///
        /// let mut out = Vec::new();
        /// msg.encode(&mut out)?;
        /// assert_eq!(out, datagram);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Message {
            $($(#[$doc])* $v($v),)*
            /// WILLTOPICREQ (§5.4.6): the gateway asks for the will topic.
            #[doc(alias = "WILLTOPICREQ")]
            WillTopicReq,
            /// WILLTOPIC (§5.4.7). `None` is the empty WILLTOPIC (2 octets, no
            /// Flags, no WillTopic) that deletes the will.
            #[doc(alias = "WILLTOPIC")]
            WillTopic(Option<WillTopic>),
            /// WILLMSGREQ (§5.4.8): the gateway asks for the will message.
            #[doc(alias = "WILLMSGREQ")]
            WillMsgReq,
            /// PINGRESP (§5.4.20).
            #[doc(alias = "PINGRESP")]
            PingResp,
            /// WILLTOPICUPD (§5.4.22). `None` is the empty WILLTOPICUPD that
            /// deletes the will topic and will message.
            #[doc(alias = "WILLTOPICUPD")]
            WillTopicUpd(Option<WillTopic>),
        }

        impl Message {
            /// The MsgType of this message.
            pub const fn msg_type(&self) -> MsgType {
                match self {
                    $(Self::$v(_) => MsgType::$v,)*
                    Self::WillTopicReq => MsgType::WillTopicReq,
                    Self::WillTopic(_) => MsgType::WillTopic,
                    Self::WillMsgReq => MsgType::WillMsgReq,
                    Self::PingResp => MsgType::PingResp,
                    Self::WillTopicUpd(_) => MsgType::WillTopicUpd,
                }
            }

            fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(match r.msg_type() {
                    $(MsgType::$v => Self::$v(<$v as Body>::decode(r)?),)*
                    MsgType::WillTopicReq => Self::WillTopicReq,
                    MsgType::WillTopic => Self::WillTopic(connect::decode_will_topic(r)?),
                    MsgType::WillMsgReq => Self::WillMsgReq,
                    MsgType::PingResp => Self::PingResp,
                    MsgType::WillTopicUpd => Self::WillTopicUpd(connect::decode_will_topic(r)?),
                    MsgType::Encapsulated => {
                        return Err(DecodeError::UnexpectedEncapsulation {
                            offset: r.offset().saturating_sub(1),
                        })
                    }
                })
            }

            fn body_len(&self) -> usize {
                match self {
                    $(Self::$v(m) => m.len(),)*
                    Self::WillTopicReq | Self::WillMsgReq | Self::PingResp => 0,
                    Self::WillTopic(w) | Self::WillTopicUpd(w) => w.as_ref().map_or(0, WillTopic::len),
                }
            }

            pub(crate) fn check(&self) -> Result<(), EncodeError> {
                match self {
                    $(Self::$v(m) => m.check(),)*
                    Self::WillTopic(Some(w)) | Self::WillTopicUpd(Some(w)) => {
                        w.check(self.msg_type())
                    }
                    Self::WillTopicReq
                    | Self::WillTopic(None)
                    | Self::WillMsgReq
                    | Self::PingResp
                    | Self::WillTopicUpd(None) => Ok(()),
                }
            }

            fn encode_body<B: BufMut + ?Sized>(&self, buf: &mut B) {
                match self {
                    $(Self::$v(m) => m.encode(buf),)*
                    Self::WillTopicReq | Self::WillMsgReq | Self::PingResp => {}
                    Self::WillTopic(w) | Self::WillTopicUpd(w) => {
                        if let Some(w) = w {
                            w.encode(buf);
                        }
                    }
                }
            }
        }

        $(
            impl From<$v> for Message {
                fn from(m: $v) -> Self {
                    Self::$v(m)
                }
            }
        )*
    };
}

messages! {
    /// ADVERTISE (§5.4.1).
    Advertise,
    /// SEARCHGW (§5.4.2).
    #[doc(alias = "SEARCHGW")]
    SearchGw,
    /// GWINFO (§5.4.3), from a gateway or from a client.
    #[doc(alias = "GWINFO")]
    GwInfo,
    /// CONNECT (§5.4.4).
    Connect,
    /// CONNACK (§5.4.5).
    #[doc(alias = "CONNACK")]
    ConnAck,
    /// WILLMSG (§5.4.9).
    #[doc(alias = "WILLMSG")]
    WillMsg,
    /// REGISTER (§5.4.10).
    Register,
    /// REGACK (§5.4.11).
    #[doc(alias = "REGACK")]
    RegAck,
    /// PUBLISH (§5.4.12).
    Publish,
    /// PUBACK (§5.4.13).
    #[doc(alias = "PUBACK")]
    PubAck,
    /// PUBCOMP (§5.4.14).
    #[doc(alias = "PUBCOMP")]
    PubComp,
    /// PUBREC (§5.4.14).
    #[doc(alias = "PUBREC")]
    PubRec,
    /// PUBREL (§5.4.14).
    #[doc(alias = "PUBREL")]
    PubRel,
    /// SUBSCRIBE (§5.4.15).
    Subscribe,
    /// SUBACK (§5.4.16).
    #[doc(alias = "SUBACK")]
    SubAck,
    /// UNSUBSCRIBE (§5.4.17).
    Unsubscribe,
    /// UNSUBACK (§5.4.18).
    #[doc(alias = "UNSUBACK")]
    UnsubAck,
    /// PINGREQ (§5.4.19), with or without a client id.
    #[doc(alias = "PINGREQ")]
    PingReq,
    /// DISCONNECT (§5.4.21), with or without a sleep duration.
    Disconnect,
    /// WILLTOPICRESP (§5.4.24).
    #[doc(alias = "WILLTOPICRESP")]
    WillTopicResp,
    /// WILLMSGUPD (§5.4.23).
    #[doc(alias = "WILLMSGUPD")]
    WillMsgUpd,
    /// WILLMSGRESP (§5.4.25).
    #[doc(alias = "WILLMSGRESP")]
    WillMsgResp,
}

impl Message {
    /// Decodes one datagram holding exactly one message.
    ///
    /// Byte slices of the message (client id, topic names, will topic and
    /// message, PUBLISH data, gateway address) are slices of `datagram`: no
    /// copy, no allocation.
    ///
    /// # Errors
    /// A [`DecodeError`] saying what is wrong and at which byte: the Length
    /// field disagreeing with the datagram, a truncated field, trailing bytes,
    /// reserved message types, flags, return codes or topic id types, a topic
    /// field contradicting its TopicIdType, a forwarder encapsulation (use
    /// [`Frame::decode`](crate::Frame::decode) for those).
    pub fn decode(datagram: Bytes) -> Result<Self, DecodeError> {
        Self::decode_from(&datagram, 0)
    }

    /// Decodes the message filling `datagram[start..]`.
    pub(crate) fn decode_from(datagram: &Bytes, start: usize) -> Result<Self, DecodeError> {
        let bytes = datagram.get(start..).unwrap_or_default();
        let header = Header::decode_at(bytes, start)?;
        if header.msg_type == MsgType::Encapsulated {
            // Its Length counts only up to the node id, so check the type first.
            return Err(DecodeError::UnexpectedEncapsulation {
                offset: start + header.size() - 1,
            });
        }
        if usize::from(header.len) != bytes.len() {
            return Err(DecodeError::LengthMismatch {
                declared: usize::from(header.len),
                actual: bytes.len(),
                offset: start,
            });
        }
        let mut r = Reader::new(
            datagram,
            start + header.size(),
            datagram.len(),
            header.msg_type,
        );
        let msg = Self::decode_body(&mut r)?;
        r.finish()?;
        Ok(msg)
    }

    /// The number of octets [`Message::encode`] writes, Length field included.
    /// The 3-octet Length form is used when the total exceeds 255 octets.
    pub fn encoded_len(&self) -> usize {
        header::total_len(self.body_len())
    }

    /// Encodes this message into `buf`, with the shortest Length form.
    ///
    /// # Errors
    /// [`EncodeError::TooLong`] past 65535 octets, [`EncodeError::BufferTooSmall`]
    /// when `buf` cannot take [`Message::encoded_len`] octets,
    /// [`EncodeError::TopicNotAllowed`] for a topic variant the message cannot
    /// carry, [`EncodeError::QosMinusOneNotAllowed`] and
    /// [`EncodeError::EmptyTopicName`] for what the decoder would refuse. So
    /// whatever encodes decodes back to an equal message (except a
    /// [`PingReq`] with an empty `Some` client id, which comes back `None`).
    /// On error nothing is written.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        self.check()?;
        let total = self.encoded_len();
        header::check_room(total, buf)?;
        header::encode(buf, total, self.msg_type());
        self.encode_body(buf);
        Ok(())
    }

    /// Encodes this message into a new [`Bytes`].
    ///
    /// # Errors
    /// As [`Message::encode`].
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::with_capacity(self.encoded_len().min(header::MAX_LEN));
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// `bytes` decodes to `msg`, and `msg` encodes to exactly `bytes`.
    #[track_caller]
    pub(crate) fn assert_wire(msg: &Message, bytes: &[u8]) {
        let decoded = Message::decode(Bytes::copy_from_slice(bytes));
        assert_eq!(decoded.as_ref(), Ok(msg), "decoding {bytes:02x?}");
        assert_eq!(msg.encoded_len(), bytes.len());
        let mut out = Vec::new();
        msg.encode(&mut out).expect("encode");
        assert_eq!(out, bytes);
    }

    /// `bytes` fails to decode with `err`.
    #[track_caller]
    pub(crate) fn assert_refused(bytes: &[u8], err: DecodeError) {
        assert_eq!(Message::decode(Bytes::copy_from_slice(bytes)), Err(err));
    }

    #[test]
    fn unit_messages_are_two_octets() {
        assert_wire(&Message::WillTopicReq, &[0x02, 0x06]);
        assert_wire(&Message::WillMsgReq, &[0x02, 0x08]);
        assert_wire(&Message::PingResp, &[0x02, 0x17]);
    }

    #[test]
    fn unit_message_with_extra_byte_is_refused() {
        assert_refused(
            &[0x03, 0x17, 0x00],
            DecodeError::TrailingBytes {
                msg_type: MsgType::PingResp,
                count: 1,
                offset: 2,
            },
        );
    }

    #[test]
    fn length_disagreeing_with_datagram_is_refused() {
        assert_refused(
            &[0x03, 0x17],
            DecodeError::LengthMismatch {
                declared: 3,
                actual: 2,
                offset: 0,
            },
        );
        assert_refused(
            &[0x02, 0x17, 0x00],
            DecodeError::LengthMismatch {
                declared: 2,
                actual: 3,
                offset: 0,
            },
        );
    }

    #[test]
    fn long_length_form_is_accepted_for_short_messages() {
        let msg = Message::decode(Bytes::from_static(&[0x01, 0x00, 0x04, 0x17])).unwrap();
        assert_eq!(msg, Message::PingResp);
        assert_eq!(msg.to_bytes().unwrap(), &[0x02, 0x17][..]);
    }

    #[test]
    fn encapsulation_is_not_a_plain_message() {
        assert_refused(
            &[0x03, 0xFE, 0x00],
            DecodeError::UnexpectedEncapsulation { offset: 1 },
        );
    }

    #[test]
    fn encode_into_a_small_slice_fails_without_writing() {
        let mut storage = [0xAAu8; 1];
        let mut buf = &mut storage[..];
        assert_eq!(
            Message::PingResp.encode(&mut buf),
            Err(EncodeError::BufferTooSmall {
                needed: 2,
                remaining: 1
            })
        );
        assert_eq!(storage, [0xAA]);
    }
}
