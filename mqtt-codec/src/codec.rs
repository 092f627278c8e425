//! `tokio_util::codec` adapter (feature `tokio-util`).

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{DecodeError, EncodeError};
use crate::packet::Packet;
use crate::stream::StreamDecoder;
use crate::version::ProtocolVersion;

/// Error of [`MqttCodec`]: I/O from the transport, or a codec error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Transport error.
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    /// The peer sent a packet that does not decode.
    #[error("decode error")]
    Decode(#[source] DecodeError),
    /// A packet could not be encoded.
    #[error("encode error")]
    Encode(#[source] EncodeError),
}

/// A `tokio_util::codec` Decoder and Encoder of [`Packet`]s.
///
/// Encoding uses the version the decoder learned from CONNECT, else the
/// one given at construction.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_codec::{codec::MqttCodec, Packet, ProtocolVersion};
/// use tokio_util::codec::{Decoder, Encoder};
/// let mut codec = MqttCodec::new(ProtocolVersion::V5, 1 << 20);
/// let mut buf = BytesMut::new();
/// codec.encode(Packet::PingReq, &mut buf).unwrap();
/// assert_eq!(codec.decode(&mut buf).unwrap(), Some(Packet::PingReq));
/// ```
#[derive(Debug, Clone)]
pub struct MqttCodec {
    decoder: StreamDecoder,
    version: ProtocolVersion,
}

impl MqttCodec {
    /// A codec for a connection of known version.
    #[must_use]
    pub fn new(version: ProtocolVersion, max_packet_size: usize) -> Self {
        Self {
            decoder: StreamDecoder::new(version, max_packet_size),
            version,
        }
    }

    /// A server-side codec that learns the version from the CONNECT.
    #[must_use]
    pub fn detect_version(max_packet_size: usize) -> Self {
        Self {
            decoder: StreamDecoder::detect_version(max_packet_size),
            version: ProtocolVersion::V5,
        }
    }

    /// The stream decoder.
    pub fn decoder_mut(&mut self) -> &mut StreamDecoder {
        &mut self.decoder
    }

    fn version(&self) -> ProtocolVersion {
        self.decoder.version().unwrap_or(self.version)
    }
}

impl Decoder for MqttCodec {
    type Item = Packet;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, CodecError> {
        self.decoder.decode(src).map_err(CodecError::Decode)
    }
}

impl Encoder<&Packet> for MqttCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Packet, dst: &mut BytesMut) -> Result<(), CodecError> {
        item.encode(self.version(), dst).map_err(CodecError::Encode)
    }
}

impl Encoder<Packet> for MqttCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Packet, dst: &mut BytesMut) -> Result<(), CodecError> {
        Encoder::<&Packet>::encode(self, &item, dst)
    }
}
