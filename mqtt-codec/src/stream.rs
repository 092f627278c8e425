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
/// [`StreamDecoder::decode_lazy`] is the same with PUBLISH kept as a
/// validated [`PublishFrame`] (one reference count, no allocation, even
/// with MQTT 5.0 properties): the faster choice for routing.
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
        if let Some((frame, header_len, flags, version)) = self.whole_publish(buf) {
            return crate::packet::decode_publish(frame, header_len, flags, version)
                .map(|p| Some(Packet::Publish(p)));
        }
        self.decode_general(buf)
    }

    /// [`StreamDecoder::decode`] for any packet and any header (without the
    /// PUBLISH fast path; crate-visible so tests compare the two).
    pub(crate) fn decode_general(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Packet>, DecodeError> {
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
        if let Some((frame, header_len, flags, version)) = self.whole_publish(buf) {
            return PublishFrame::decode(frame, header_len, flags, version)
                .map(|p| Some(LazyPacket::Publish(p)));
        }
        if let (Some(version), Some(&b)) = (self.version, buf.first()) {
            if b >> 4 == 3 {
                let Some((header, frame)) = self.next_frame(buf)? else {
                    return Ok(None);
                };
                return PublishFrame::decode(frame, header.header_len, header.flags(), version)
                    .map(|p| Some(LazyPacket::Publish(p)));
            }
        }
        Ok(self.decode_general(buf)?.map(LazyPacket::Other))
    }

    /// The common case of the hot path: `buf` starts with a whole PUBLISH
    /// whose Remaining Length takes one or two bytes (up to 16,383), within
    /// the size limit, on a connection whose version is known. Splits it off
    /// and returns it with its header length and flags. Anything else
    /// (partial, longer, oversized or malformed headers, other packets) is
    /// left to the general path, which gives the same answers.
    #[inline(always)]
    fn whole_publish(&self, buf: &mut BytesMut) -> Option<(Bytes, usize, u8, ProtocolVersion)> {
        let version = self.version?;
        let (b, len, header_len) = match buf[..] {
            [b, l, ..] if l < 0x80 => (b, usize::from(l), 2),
            [b, l0, l1, ..] if l1 < 0x80 && l1 != 0 => {
                (b, usize::from(l0 & 0x7f) | usize::from(l1) << 7, 3)
            }
            _ => return None,
        };
        let size = header_len + len;
        if b >> 4 != 3 || size > self.max_packet_size || size > buf.len() {
            return None;
        }
        Some((buf.split_to(size).freeze(), header_len, b & 0x0f, version))
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

    /// The PUBLISH fast path gives what the general path gives, around its
    /// edges: one- and two-byte Remaining Lengths, a non-minimal two-byte
    /// length, a three-byte one, the size limit, partial frames.
    #[test]
    fn publish_fast_path_agrees_with_the_general_path() {
        let mut frames: alloc::vec::Vec<alloc::vec::Vec<u8>> = alloc::vec::Vec::new();
        for payload in [
            0usize, 1, 120, 121, 122, 200, 16_000, 16_376, 16_377, 16_378, 20_000,
        ] {
            let mut f = alloc::vec![0x30];
            let rl = 5 + payload;
            crate::primitives::put_varint(&mut f, rl);
            f.extend_from_slice(b"\x00\x03a/b");
            f.resize(f.len() + payload, b'x');
            frames.push(f);
        }
        frames.push(b"\x30\x80\x00".to_vec());
        frames.push(b"\x30\x85\x00\x00\x03a/bxx".to_vec());
        frames.push(b"\x32\x07\x00\x03a/b\x00\x00".to_vec());
        frames.push(b"\x30\x05\x00\x03a/#".to_vec());
        frames.push(b"\x36\x05\x00\x03a/b".to_vec());
        for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            for f in &frames {
                let mut f = f.clone();
                if v.is_v5() && f.len() > 6 && f[0] == 0x30 && f[1] < 0x7f {
                    // Add an empty property list.
                    f[1] += 1;
                    f.insert(7, 0);
                }
                for max in [f.len() - 1, f.len(), 1 << 20] {
                    for cut in [f.len(), f.len() - 1, 2] {
                        let mut a = BytesMut::from(&f[..cut]);
                        let mut b = a.clone();
                        let mut c = a.clone();
                        let fast = StreamDecoder::new(v, max).decode(&mut a);
                        let general = StreamDecoder::new(v, max).decode_general(&mut b);
                        let lazy = StreamDecoder::new(v, max)
                            .decode_lazy(&mut c)
                            .map(|p| p.map(LazyPacket::into_packet));
                        assert_eq!(fast, general, "{v:?} max {max} cut {cut} {f:02x?}");
                        assert_eq!(lazy, general, "{v:?} max {max} cut {cut} {f:02x?}");
                        assert_eq!((&a, &c), (&b, &b));
                    }
                }
            }
        }
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
