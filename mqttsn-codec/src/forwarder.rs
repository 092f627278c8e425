//! Forwarder encapsulation (MQTT-SN v1.2 §5.5) and [`Frame`], what one
//! datagram carries: a plain message or an encapsulated one.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::header::{self, Header, MsgType};
use crate::message::Message;

/// Bits 2–7 of the Ctrl octet are reserved (§5.5).
const RADIUS_MASK: u8 = 0b11;
/// The Length octet counts itself, MsgType and Ctrl, plus the node id (§5.5).
const FIXED_LEN: usize = 3;
/// The longest wireless node id the 1-octet Length leaves room for.
pub const MAX_NODE_ID_LEN: usize = 255 - FIXED_LEN;

/// A message relayed by a forwarder between a wireless node and a gateway (§5.5).
///
/// Wire: `Length MsgType(0xFE) Ctrl WirelessNodeId(n) MQTT-SN message`, where
/// the 1-octet Length counts up to the end of the node id, and the inner
/// message has its own Length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Encapsulation {
    /// Broadcast radius, Ctrl bits 0–1 (relevant from gateway to forwarder).
    pub radius: u8,
    /// The wireless node id, as the forwarder identifies the node.
    pub wireless_node_id: Bytes,
    /// The message sent by or to the node.
    pub message: Message,
}

/// What one datagram carries: a plain message or a forwarder encapsulation.
///
/// # Examples
/// ```
/// use bytes::Bytes;
/// use mqttsn_codec::{Frame, Message};
///
/// // A PINGRESP to wireless node 0x2A, radius 1, through a forwarder.
/// let datagram = Bytes::from_static(&[0x04, 0xFE, 0x01, 0x2A, 0x02, 0x17]);
/// let Frame::Encapsulated(enc) = Frame::decode(datagram.clone())? else { panic!() };
/// assert_eq!(enc.radius, 1);
/// assert_eq!(enc.wireless_node_id, &[0x2A][..]);
/// assert_eq!(enc.message, Message::PingResp);
/// assert_eq!(Frame::Encapsulated(enc).to_bytes()?, datagram);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Frame {
    /// A plain message.
    Message(Message),
    /// A message inside a forwarder encapsulation.
    Encapsulated(Encapsulation),
}

impl From<Message> for Frame {
    fn from(m: Message) -> Self {
        Self::Message(m)
    }
}

impl From<Encapsulation> for Frame {
    fn from(e: Encapsulation) -> Self {
        Self::Encapsulated(e)
    }
}

impl Frame {
    /// Decodes one datagram: a plain message, or a forwarder encapsulation
    /// around one (never around another encapsulation).
    ///
    /// # Errors
    /// As [`Message::decode`], plus [`DecodeError::ReservedCtrlBits`], an
    /// encapsulation Length shorter than 3 ([`DecodeError::InvalidLength`]),
    /// longer than the datagram ([`DecodeError::LengthMismatch`]) or in the
    /// 3-octet form ([`DecodeError::LongFormEncapsulation`]), and
    /// [`DecodeError::UnexpectedEncapsulation`] for a nested one.
    pub fn decode(datagram: Bytes) -> Result<Self, DecodeError> {
        let header = Header::decode(&datagram)?;
        if header.msg_type != MsgType::Encapsulated {
            return Message::decode_from(&datagram, 0).map(Self::Message);
        }
        if header.long_form {
            return Err(DecodeError::LongFormEncapsulation { offset: 0 });
        }
        let len = usize::from(header.len);
        if len < FIXED_LEN {
            return Err(DecodeError::InvalidLength {
                declared: len,
                offset: 0,
            });
        }
        if len > datagram.len() {
            return Err(DecodeError::LengthMismatch {
                declared: len,
                actual: datagram.len(),
                offset: 0,
            });
        }
        let ctrl = datagram.get(2).copied().unwrap_or_default();
        if ctrl & !RADIUS_MASK != 0 {
            return Err(DecodeError::ReservedCtrlBits { ctrl, offset: 2 });
        }
        let message = Message::decode_from(&datagram, len)?;
        Ok(Self::Encapsulated(Encapsulation {
            radius: ctrl,
            wireless_node_id: datagram.slice(FIXED_LEN..len),
            message,
        }))
    }

    /// The message carried, encapsulated or not.
    pub const fn message(&self) -> &Message {
        match self {
            Self::Message(m) | Self::Encapsulated(Encapsulation { message: m, .. }) => m,
        }
    }

    /// The number of octets [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Message(m) => m.encoded_len(),
            Self::Encapsulated(e) => FIXED_LEN + e.wireless_node_id.len() + e.message.encoded_len(),
        }
    }

    /// Encodes the frame into `buf`.
    ///
    /// # Errors
    /// As [`Message::encode`], plus [`EncodeError::RadiusOutOfRange`] and
    /// [`EncodeError::NodeIdTooLong`]. On error nothing is written.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        let e = match self {
            Self::Message(m) => return m.encode(buf),
            Self::Encapsulated(e) => e,
        };
        if e.radius > RADIUS_MASK {
            return Err(EncodeError::RadiusOutOfRange { radius: e.radius });
        }
        let node_len = e.wireless_node_id.len();
        let Ok(outer_len) = u8::try_from(FIXED_LEN + node_len) else {
            return Err(EncodeError::NodeIdTooLong { len: node_len });
        };
        e.message.check()?;
        let inner = e.message.encoded_len();
        if inner > header::MAX_LEN {
            return Err(EncodeError::TooLong { len: inner });
        }
        let needed = usize::from(outer_len) + inner;
        let remaining = buf.remaining_mut();
        if remaining < needed {
            return Err(EncodeError::BufferTooSmall { needed, remaining });
        }
        buf.put_u8(outer_len);
        buf.put_u8(MsgType::Encapsulated.as_u8());
        buf.put_u8(e.radius);
        buf.put_slice(&e.wireless_node_id);
        e.message.encode(buf)
    }

    /// Encodes the frame into a new [`Bytes`].
    ///
    /// # Errors
    /// As [`Frame::encode`].
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::with_capacity(self.encoded_len().min(2 * header::MAX_LEN));
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Connect, Publish};
    use crate::{QoS, Topic};
    use alloc::vec;

    fn decode(bytes: &[u8]) -> Result<Frame, DecodeError> {
        Frame::decode(Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn plain_message_is_a_plain_frame() {
        assert_eq!(decode(&[0x02, 0x17]), Ok(Frame::Message(Message::PingResp)));
    }

    #[test]
    fn encapsulated_connect_round_trips() {
        let inner = Connect {
            will: false,
            clean_session: true,
            duration: 10,
            client_id: Bytes::from_static(b"n"),
        };
        let frame = Frame::Encapsulated(Encapsulation {
            radius: 0,
            wireless_node_id: Bytes::from_static(&[0x00, 0x13, 0xA2]),
            message: inner.into(),
        });
        let wire = [
            0x06, 0xFE, 0x00, 0x00, 0x13, 0xA2, 0x07, 0x04, 0x04, 0x01, 0x00, 0x0A, b'n',
        ];
        assert_eq!(decode(&wire).as_ref(), Ok(&frame));
        assert_eq!(frame.encoded_len(), wire.len());
        assert_eq!(frame.to_bytes().unwrap(), &wire[..]);
    }

    #[test]
    fn encapsulated_long_publish_keeps_the_inner_three_octet_length() {
        let data = Bytes::from(vec![7u8; 400]);
        let frame = Frame::Encapsulated(Encapsulation {
            radius: 3,
            wireless_node_id: Bytes::new(),
            message: Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: Topic::Id(1),
                msg_id: 0,
                data,
            }
            .into(),
        });
        let bytes = frame.to_bytes().unwrap();
        assert_eq!(bytes[..7], [0x03, 0xFE, 0x03, 0x01, 0x01, 0x99, 0x0C]);
        assert_eq!(Frame::decode(bytes).unwrap(), frame);
    }

    #[test]
    fn reserved_ctrl_bits_are_refused() {
        assert_eq!(
            decode(&[0x03, 0xFE, 0x04, 0x02, 0x17]),
            Err(DecodeError::ReservedCtrlBits {
                ctrl: 0x04,
                offset: 2
            })
        );
    }

    #[test]
    fn nested_encapsulation_is_refused() {
        assert_eq!(
            decode(&[0x03, 0xFE, 0x00, 0x03, 0xFE, 0x00, 0x02, 0x17]),
            Err(DecodeError::UnexpectedEncapsulation { offset: 4 })
        );
    }

    #[test]
    fn encapsulation_without_inner_message_is_truncated() {
        assert_eq!(
            decode(&[0x04, 0xFE, 0x00, 0x01]),
            Err(DecodeError::TruncatedHeader { len: 0, offset: 4 })
        );
    }

    #[test]
    fn encapsulation_length_beyond_datagram_is_refused() {
        assert_eq!(
            decode(&[0x09, 0xFE, 0x00, 0x01]),
            Err(DecodeError::LengthMismatch {
                declared: 9,
                actual: 4,
                offset: 0
            })
        );
    }

    #[test]
    fn encapsulation_with_three_octet_length_is_refused() {
        assert_eq!(
            decode(&[0x01, 0x00, 0x05, 0xFE, 0x00, 0x02, 0x17]),
            Err(DecodeError::LongFormEncapsulation { offset: 0 })
        );
    }

    #[test]
    fn encapsulation_length_too_short_for_ctrl_is_refused() {
        assert_eq!(
            decode(&[0x02, 0xFE, 0x02, 0x17]),
            Err(DecodeError::InvalidLength {
                declared: 2,
                offset: 0
            })
        );
    }

    #[test]
    fn inner_errors_point_into_the_outer_datagram() {
        assert_eq!(
            decode(&[0x04, 0xFE, 0x00, 0x01, 0x03, 0x05, 0x09]),
            Err(DecodeError::ReservedReturnCode {
                msg_type: MsgType::ConnAck,
                value: 0x09,
                offset: 6
            })
        );
    }

    #[test]
    fn radius_and_node_id_limits_are_checked_on_encode() {
        let mut e = Encapsulation {
            radius: 4,
            wireless_node_id: Bytes::new(),
            message: Message::PingResp,
        };
        assert_eq!(
            Frame::from(e.clone()).to_bytes(),
            Err(EncodeError::RadiusOutOfRange { radius: 4 })
        );
        e.radius = 0;
        e.wireless_node_id = Bytes::from(vec![0; MAX_NODE_ID_LEN + 1]);
        assert_eq!(
            Frame::from(e.clone()).to_bytes(),
            Err(EncodeError::NodeIdTooLong { len: 253 })
        );
        e.wireless_node_id = Bytes::from(vec![0; MAX_NODE_ID_LEN]);
        let bytes = Frame::from(e.clone()).to_bytes().unwrap();
        assert_eq!(bytes[0], 0xFF);
        assert_eq!(Frame::decode(bytes), Ok(Frame::Encapsulated(e)));
    }
}
