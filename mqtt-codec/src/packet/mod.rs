//! The control packets (MQTT 5.0 §3) and the [`Packet`] enum that decodes
//! and encodes them for any protocol version.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

use alloc::boxed::Box;
use bytes::{BufMut, Bytes};

pub use ack::{Ack, PubAck, PubComp, PubRec, PubRel};
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, LastWill};
pub use disconnect::Disconnect;
pub(crate) use publish::decode as decode_publish;
pub use publish::{Publish, PublishFrame};
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, Subscription, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::{FixedHeader, PacketType};
use crate::parse::Reader;
use crate::primitives::{put_varint, varint_len, VARINT_MAX};
use crate::version::ProtocolVersion;

/// One MQTT control packet of any version.
///
/// # Examples
/// ```
/// use bytes::{Bytes, BytesMut};
/// use mqtt_codec::{Packet, ProtocolVersion, Publish, QoS, Utf8String};
///
/// let publish = Publish::new(Utf8String::from_static("sensors/1"), Bytes::from_static(b"21.5"))
///     .with_qos(QoS::AtLeastOnce, 7);
/// let mut buf = BytesMut::new();
/// Packet::Publish(publish.clone()).encode(ProtocolVersion::V5, &mut buf)?;
/// let decoded = Packet::decode(ProtocolVersion::V5, buf.freeze())?;
/// assert_eq!(decoded, Packet::Publish(publish));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Packet {
    /// CONNECT (§3.1); boxed because it is large and rare.
    Connect(Box<Connect>),
    /// CONNACK (§3.2).
    #[doc(alias = "CONNACK")]
    ConnAck(ConnAck),
    /// PUBLISH (§3.3).
    Publish(Publish),
    /// PUBACK (§3.4).
    #[doc(alias = "PUBACK")]
    PubAck(PubAck),
    /// PUBREC (§3.5).
    #[doc(alias = "PUBREC")]
    PubRec(PubRec),
    /// PUBREL (§3.6).
    #[doc(alias = "PUBREL")]
    PubRel(PubRel),
    /// PUBCOMP (§3.7).
    #[doc(alias = "PUBCOMP")]
    PubComp(PubComp),
    /// SUBSCRIBE (§3.8).
    Subscribe(Subscribe),
    /// SUBACK (§3.9).
    #[doc(alias = "SUBACK")]
    SubAck(SubAck),
    /// UNSUBSCRIBE (§3.10).
    Unsubscribe(Unsubscribe),
    /// UNSUBACK (§3.11).
    #[doc(alias = "UNSUBACK")]
    UnsubAck(UnsubAck),
    /// PINGREQ (§3.12).
    #[doc(alias = "PINGREQ")]
    PingReq,
    /// PINGRESP (§3.13).
    #[doc(alias = "PINGRESP")]
    PingResp,
    /// DISCONNECT (§3.14).
    Disconnect(Disconnect),
    /// AUTH (§3.15, MQTT 5.0 only).
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    #[must_use]
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// Decodes one whole frame (fixed header included) in `version`.
    ///
    /// CONNECT is self-describing: its own protocol name and level decide how
    /// it is read, whatever `version` says. Topics, payloads and strings are
    /// zero-copy slices of `frame`.
    ///
    /// # Errors
    /// [`DecodeError`] for any malformed or forbidden content, including a
    /// frame whose length differs from what its fixed header announces.
    pub fn decode(version: ProtocolVersion, frame: Bytes) -> Result<Self, DecodeError> {
        let Some(header) = FixedHeader::parse(&frame)? else {
            return Err(DecodeError::FrameLength {
                expected: 2,
                actual: frame.len(),
            });
        };
        if header.packet_len() != frame.len() {
            return Err(DecodeError::FrameLength {
                expected: header.packet_len(),
                actual: frame.len(),
            });
        }
        Self::decode_frame(version, &header, frame)
    }

    /// Decodes a frame whose fixed header has been parsed and whose length matches it.
    #[inline]
    pub(crate) fn decode_frame(
        version: ProtocolVersion,
        header: &FixedHeader,
        frame: Bytes,
    ) -> Result<Self, DecodeError> {
        let type_bits = header.byte1 >> 4;
        let Some(packet_type) = PacketType::from_u8(type_bits, version) else {
            if type_bits == 15 {
                return Err(DecodeError::PacketNotInVersion {
                    packet_type: PacketType::Auth,
                    version,
                });
            }
            return Err(DecodeError::InvalidPacketType {
                packet_type: type_bits,
            });
        };
        let flags = header.flags();
        if packet_type == PacketType::Publish {
            return publish::decode(frame, header.header_len, flags, version).map(Self::Publish);
        }
        let mut r = Reader::new(&frame, header.header_len);
        // CONNECT checks its own flags: MQTT 3.1 leaves them unspecified.
        if packet_type != PacketType::Connect && flags != packet_type.required_flags() {
            return Err(DecodeError::InvalidHeaderFlags { packet_type, flags });
        }
        let packet = match packet_type {
            PacketType::Connect => Self::Connect(Box::new(Connect::decode(&mut r, flags)?)),
            PacketType::ConnAck => Self::ConnAck(ConnAck::decode(&mut r, version)?),
            PacketType::PubAck => Self::PubAck(Ack::decode(&mut r, packet_type, version)?),
            PacketType::PubRec => Self::PubRec(Ack::decode(&mut r, packet_type, version)?),
            PacketType::PubRel => Self::PubRel(Ack::decode(&mut r, packet_type, version)?),
            PacketType::PubComp => Self::PubComp(Ack::decode(&mut r, packet_type, version)?),
            PacketType::Subscribe => Self::Subscribe(Subscribe::decode(&mut r, version)?),
            PacketType::SubAck => Self::SubAck(SubAck::decode(&mut r, version)?),
            PacketType::Unsubscribe => Self::Unsubscribe(Unsubscribe::decode(&mut r, version)?),
            PacketType::UnsubAck => Self::UnsubAck(UnsubAck::decode(&mut r, version)?),
            PacketType::PingReq => Self::PingReq,
            PacketType::PingResp => Self::PingResp,
            PacketType::Disconnect => Self::Disconnect(Disconnect::decode(&mut r, version)?),
            _ => Self::Auth(Auth::decode(&mut r)?),
        };
        if !r.is_empty() {
            return Err(DecodeError::TrailingBytes {
                packet_type,
                count: r.remaining(),
            });
        }
        Ok(packet)
    }

    /// Encodes the packet for `version` into `buf`.
    ///
    /// CONNECT is written for its own [`Connect::protocol_version`]. Before
    /// MQTT 5.0, properties and reason codes that the version cannot carry
    /// are left out (a SUBACK error code becomes 0x80).
    ///
    /// # Errors
    /// [`EncodeError`] if the packet breaks a rule the decoder enforces
    /// (packet identifier 0, invalid topic, property in the wrong packet,
    /// field or packet too long). Nothing is written then.
    pub fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), EncodeError> {
        match self {
            Self::Connect(c) => c.encode(buf),
            Self::ConnAck(c) => c.encode(version, buf),
            Self::Publish(p) => p.encode(version, buf),
            Self::PubAck(a) => a.encode(PacketType::PubAck, version, buf),
            Self::PubRec(a) => a.encode(PacketType::PubRec, version, buf),
            Self::PubRel(a) => a.encode(PacketType::PubRel, version, buf),
            Self::PubComp(a) => a.encode(PacketType::PubComp, version, buf),
            Self::Subscribe(s) => s.encode(version, buf),
            Self::SubAck(s) => s.encode(version, buf),
            Self::Unsubscribe(u) => u.encode(version, buf),
            Self::UnsubAck(u) => u.encode(version, buf),
            Self::PingReq => {
                buf.put_slice(&[0xc0, 0]);
                Ok(())
            }
            Self::PingResp => {
                buf.put_slice(&[0xd0, 0]);
                Ok(())
            }
            Self::Disconnect(d) => d.encode(version, buf),
            Self::Auth(a) => a.encode(version, buf),
        }
    }
}

/// What [`StreamDecoder::decode_lazy`](crate::StreamDecoder::decode_lazy)
/// returns: a PUBLISH kept as its validated frame, or any other packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LazyPacket {
    /// PUBLISH, validated, read from its frame on demand.
    Publish(PublishFrame),
    /// Any other packet, decoded as [`Packet::decode`] does (never
    /// [`Packet::Publish`]).
    Other(Packet),
}

impl LazyPacket {
    /// The owned [`Packet`] (zero-copy; builds a PUBLISH's property table).
    #[must_use]
    pub fn into_packet(self) -> Packet {
        match self {
            Self::Publish(p) => Packet::Publish(p.into_publish()),
            Self::Other(p) => p,
        }
    }
}

impl From<LazyPacket> for Packet {
    fn from(p: LazyPacket) -> Self {
        p.into_packet()
    }
}

impl From<PublishFrame> for Packet {
    fn from(p: PublishFrame) -> Self {
        Self::Publish(p.into_publish())
    }
}

macro_rules! from_packet {
    ($($variant:ident($ty:ty)),*) => {$(
        impl From<$ty> for Packet {
            fn from(p: $ty) -> Self {
                Self::$variant(p)
            }
        }
    )*};
}

from_packet!(
    ConnAck(ConnAck),
    Publish(Publish),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    Disconnect(Disconnect),
    Auth(Auth)
);

impl From<Connect> for Packet {
    fn from(c: Connect) -> Self {
        Self::Connect(Box::new(c))
    }
}

/// Checks the Remaining Length limit and writes the fixed header.
pub(crate) fn put_header(
    buf: &mut impl BufMut,
    byte1: u8,
    remaining: usize,
) -> Result<(), EncodeError> {
    if remaining > VARINT_MAX as usize {
        return Err(EncodeError::PacketTooLarge { len: remaining });
    }
    buf.put_u8(byte1);
    put_varint(buf, remaining);
    Ok(())
}

/// Length of a Property Length varint plus the properties.
pub(crate) const fn with_len_prefix(len: usize) -> usize {
    varint_len(len) + len
}

/// Checks a binary field fits its two-byte length.
pub(crate) fn check_binary(b: &[u8]) -> Result<(), EncodeError> {
    if b.len() > usize::from(u16::MAX) {
        return Err(EncodeError::FieldTooLong { len: b.len() });
    }
    Ok(())
}

/// Writes a two-byte length and the bytes (caller checked the length).
pub(crate) fn put_binary(buf: &mut impl BufMut, b: &[u8]) {
    buf.put_u16(b.len() as u16);
    buf.put_slice(b);
}

#[cfg(test)]
mod tests;
