//! Streaming decoder over a `BytesMut` receive buffer: frames packets,
//! reports "need more bytes", and enforces a maximum packet size as soon as
//! the Remaining Length is known.

use bytes::{Bytes, BytesMut};

use crate::error::DecodeError;
use crate::fixed_header::FixedHeader;
use crate::packet::{LazyPacket, Packet, PublishFrame};
use crate::version::ProtocolVersion;

/// Largest packet MQTT can express: 268,435,455 bytes of Remaining Length
/// plus a 5-byte fixed header.
pub const MAX_PACKET_SIZE: usize = 268_435_460;

/// Decodes packets from a byte stream (TCP, TLS, WebSocket payloads).
///
/// Call [`StreamDecoder::decode`] after each read: it returns `Ok(None)` when
/// the buffer holds no whole packet yet, and otherwise splits the packet's
/// bytes off the buffer and decodes them zero-copy. A packet announcing more
/// than `max_packet_size` bytes (fixed header included, as MQTT 5.0 §3.1.2.11.4
/// counts it) is refused before any of its body is buffered. After an error
/// the stream is out of sync: close the connection.
///
/// A server that does not know the client's version yet uses
/// [`StreamDecoder::detect_version`], which reads it from the CONNECT.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_codec::{Packet, ProtocolVersion, StreamDecoder};
///
/// let mut dec = StreamDecoder::detect_version(1024);
/// let mut buf = BytesMut::from(&b"\x10\x0d\x00\x04MQTT\x05\x02\x00\x3c\x00\x00"[..]);
/// assert_eq!(dec.decode(&mut buf)?, None); // one byte short
/// buf.extend_from_slice(b"\x00\xc0\x00");
/// assert!(matches!(dec.decode(&mut buf)?, Some(Packet::Connect(_))));
/// assert_eq!(dec.version(), Some(ProtocolVersion::V5));
/// assert_eq!(dec.decode(&mut buf)?, Some(Packet::PingReq));
/// # Ok::<(), mqtt_codec::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct StreamDecoder {
    version: Option<ProtocolVersion>,
    max_packet_size: usize,
}

impl StreamDecoder {
    /// A decoder for a connection whose version is known.
    #[must_use]
    pub fn new(version: ProtocolVersion, max_packet_size: usize) -> Self {
        Self {
            version: Some(version),
            max_packet_size,
        }
    }

    /// A decoder that expects CONNECT first and takes its version from it.
    #[must_use]
    pub fn detect_version(max_packet_size: usize) -> Self {
        Self {
            version: None,
            max_packet_size,
        }
    }

    /// The version in use, once known.
    #[must_use]
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// Sets the version (e.g. a client after sending its CONNECT).
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = Some(version);
    }

    /// The maximum packet size.
    #[must_use]
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// Changes the maximum packet size.
    pub fn set_max_packet_size(&mut self, max: usize) {
        self.max_packet_size = max;
    }

    /// Splits the next whole frame off `buf` without decoding its body.
    ///
    /// # Errors
    /// [`DecodeError::MalformedRemainingLength`] or [`DecodeError::PacketTooLarge`].
    #[inline]
    pub fn next_frame(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(FixedHeader, Bytes)>, DecodeError> {
        let Some(header) = FixedHeader::parse(buf)? else {
            return Ok(None);
        };
        let size = header.packet_len();
        if size > self.max_packet_size {
            return Err(DecodeError::PacketTooLarge {
                size,
                max: self.max_packet_size,
            });
        }
        if buf.len() < size {
            buf.reserve(size - buf.len());
            return Ok(None);
        }
        Ok(Some((header, buf.split_to(size).freeze())))
    }

    /// Decodes the next packet from `buf`, or returns `Ok(None)` if it is incomplete.
    ///
    /// # Errors
    /// Any [`DecodeError`]; in detection mode also
    /// [`DecodeError::FirstPacketNotConnect`].
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        if self.version.is_none() {
            if let Some(&b) = buf.first() {
                if b >> 4 != 1 {
                    return Err(DecodeError::FirstPacketNotConnect {
                        packet_type: b >> 4,
                    });
                }
            }
        }
        let Some((header, frame)) = self.next_frame(buf)? else {
            return Ok(None);
        };
        let version = match self.version {
            Some(v) => v,
            None => {
                // The frame is whole: "need more" from the sniffer means malformed.
                let Some(v) = ProtocolVersion::from_connect(&frame)? else {
                    return Err(DecodeError::UnexpectedEnd {
                        offset: header.header_len,
                    });
                };
                self.version = Some(v);
                v
            }
        };
        Packet::decode_frame(version, &header, frame).map(Some)
    }

    /// Like [`StreamDecoder::decode`], but a PUBLISH comes back as a
    /// [`PublishFrame`]: validated just as strictly, held as one [`Bytes`]
    /// handle on its frame, with no allocation and no per-field reference
    /// counting. The fast path for a broker or client that routes on the
    /// topic and forwards or consumes the payload.
    ///
    /// # Errors
    /// The same as [`StreamDecoder::decode`], for the same input.
    #[inline]
    pub fn decode_lazy(&mut self, buf: &mut BytesMut) -> Result<Option<LazyPacket>, DecodeError> {
        if let (Some(version), Some(&b)) = (self.version, buf.first()) {
            if b >> 4 == 3 {
                let Some((header, frame)) = self.next_frame(buf)? else {
                    return Ok(None);
                };
                return PublishFrame::decode(frame, header.header_len, header.flags(), version)
                    .map(|p| Some(LazyPacket::Publish(p)));
            }
        }
        Ok(self.decode(buf)?.map(LazyPacket::Other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_huge_packet_is_refused_before_buffering() {
        let mut dec = StreamDecoder::new(ProtocolVersion::V3_1_1, 1024);
        let mut buf = BytesMut::from(&[0x30, 0xff, 0xff, 0xff, 0x7f][..]);
        assert_eq!(
            dec.decode(&mut buf),
            Err(DecodeError::PacketTooLarge {
                size: 268_435_460,
                max: 1024
            })
        );
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn partial_frames_need_more_bytes_at_every_split() {
        let bytes = b"\x30\x07\x00\x03a/bhi\xc0\x00";
        for split in 0..bytes.len() {
            let mut dec = StreamDecoder::new(ProtocolVersion::V3_1_1, 100);
            let mut buf = BytesMut::from(&bytes[..split]);
            let mut got = alloc::vec::Vec::new();
            while let Some(p) = dec.decode(&mut buf).unwrap() {
                got.push(p);
            }
            buf.extend_from_slice(&bytes[split..]);
            while let Some(p) = dec.decode(&mut buf).unwrap() {
                got.push(p);
            }
            assert_eq!(got.len(), 2, "split at {split}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn detection_mode_refuses_a_first_packet_other_than_connect() {
        let mut dec = StreamDecoder::detect_version(100);
        let mut buf = BytesMut::from(&b"\xc0\x00"[..]);
        assert_eq!(
            dec.decode(&mut buf),
            Err(DecodeError::FirstPacketNotConnect { packet_type: 12 })
        );
    }

    #[test]
    fn detection_never_drops_a_whole_but_malformed_connect() {
        // Protocol name length 0x5200 overruns the 14-byte CONNECT.
        let bytes = b"\x10\x0e\x52\x00\x04MQTT\x05\x02\x00\x0a\x01\x00\x01";
        let mut dec = StreamDecoder::detect_version(100);
        let mut buf = BytesMut::from(&bytes[..]);
        assert!(dec.decode(&mut buf).is_err());
    }

    #[test]
    fn size_limit_counts_the_fixed_header() {
        let mut dec = StreamDecoder::new(ProtocolVersion::V3_1_1, 4);
        let mut buf = BytesMut::from(&b"\x30\x03\x00\x01a"[..]);
        assert_eq!(
            dec.decode(&mut buf),
            Err(DecodeError::PacketTooLarge { size: 5, max: 4 })
        );
    }
}
