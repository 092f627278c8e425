//! CoAP over reliable transports (RFC 8323): framing for TCP/TLS (§3.2)
//! and WebSockets (§4.2), and the signaling messages of §5.
//!
//! Over TCP a message has no type and no message ID; its first byte holds
//! `Len` (the length of options and payload, with 1-, 2- or 4-byte
//! extensions) and `TKL`. Over WebSockets `Len` is always 0 because the
//! WebSocket frame carries the length.
//!
//! ```
//! use bytes::BytesMut;
//! use coap_codec::{tcp, Code, MessageBuilder, MessageType};
//!
//! let mut wire = BytesMut::new();
//! let ping = MessageBuilder::new(MessageType::Confirmable, Code::PING).with_token(&[7]);
//! ping.encode_tcp(&mut wire).unwrap();
//! let csm = tcp::csm(4096, true);
//! csm.encode_tcp(&mut wire).unwrap();
//!
//! let mut decoder = tcp::Decoder::new(); // 1152-byte default limit
//! let first = decoder.decode(&mut wire).unwrap().unwrap();
//! assert_eq!(first.code(), Code::PING);
//! let second = decoder.decode(&mut wire).unwrap().unwrap();
//! assert_eq!(second.max_message_size(), Some(4096));
//! assert!(second.block_wise_transfer());
//! assert!(decoder.decode(&mut wire).unwrap().is_none()); // need more bytes
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::option::scan;
use crate::{
    parse, Code, DecodeError, EncodeError, MessageBuilder, MessageType, OptionNumber, Options,
    Token,
};

/// Default Max-Message-Size (RFC 8323 §5.3.1): what a peer may send before
/// it has seen a CSM saying otherwise.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1152;

/// Signaling option numbers (RFC 8323 §5); each is defined per code.
pub mod signaling {
    use crate::OptionNumber;
    /// 7.01 CSM: Max-Message-Size (uint).
    pub const MAX_MESSAGE_SIZE: OptionNumber = OptionNumber(2);
    /// 7.01 CSM: Block-Wise-Transfer (empty).
    pub const BLOCK_WISE_TRANSFER: OptionNumber = OptionNumber(4);
    /// 7.02 Ping / 7.03 Pong: Custody (empty).
    pub const CUSTODY: OptionNumber = OptionNumber(2);
    /// 7.04 Release: Alternative-Address (string, repeatable).
    pub const ALTERNATIVE_ADDRESS: OptionNumber = OptionNumber(2);
    /// 7.04 Release: Hold-Off (uint seconds).
    pub const HOLD_OFF: OptionNumber = OptionNumber(4);
    /// 7.05 Abort: Bad-CSM-Option (uint).
    pub const BAD_CSM_OPTION: OptionNumber = OptionNumber(2);
}

/// A decoded message from a reliable transport: a zero-copy view like
/// [`crate::Message`], without type and message ID.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StreamMessage<B = Bytes> {
    buf: B,
    code: Code,
    token_start: usize,
    token_len: u8,
    options_end: usize,
    payload_start: usize,
}

/// Header of a TCP frame: (total frame length, token length).
fn tcp_header(b: &[u8]) -> Result<Option<(u64, usize, u8)>, DecodeError> {
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    let (len_nibble, tkl) = (first >> 4, first & 0x0f);
    if tkl > 8 {
        return Err(DecodeError::ReservedTokenLength { tkl });
    }
    match parse::tcp_length(len_nibble, &b[1..]) {
        Ok((rest, body)) => {
            let head = b.len() - rest.len();
            // head + code + token + body
            Ok(Some((head as u64 + 1 + u64::from(tkl) + body, head, tkl)))
        }
        Err(_) => Ok(None),
    }
}

impl<B: AsRef<[u8]>> StreamMessage<B> {
    /// Decodes exactly one TCP frame (RFC 8323 §3.2) filling `buf`.
    ///
    /// # Errors
    /// [`DecodeError::TruncatedFrame`] when `buf` is shorter than announced,
    /// [`DecodeError::FrameTooLarge`] when longer (trailing bytes), and the
    /// option errors of [`crate::Message::decode`].
    pub fn decode_tcp(buf: B) -> Result<Self, DecodeError> {
        let b = buf.as_ref();
        let Some((total, head, tkl)) = tcp_header(b)? else {
            return Err(DecodeError::TruncatedFrame { needed: 1 });
        };
        if total > b.len() as u64 {
            return Err(DecodeError::TruncatedFrame {
                needed: (total - b.len() as u64).try_into().unwrap_or(usize::MAX),
            });
        }
        if total < b.len() as u64 {
            return Err(DecodeError::FrameTooLarge {
                len: b.len() as u64,
                max: total as usize,
            });
        }
        Self::body(buf, head, tkl)
    }

    /// Decodes one WebSocket message (RFC 8323 §4.2): `Len` must be 0.
    ///
    /// # Errors
    /// [`DecodeError::TruncatedFrame`] for a short message, and the option
    /// errors of [`crate::Message::decode`]. A non-zero `Len` is
    /// [`DecodeError::FrameTooLarge`] with the announced length.
    pub fn decode_ws(buf: B) -> Result<Self, DecodeError> {
        let b = buf.as_ref();
        let Some(&first) = b.first() else {
            return Err(DecodeError::TruncatedFrame { needed: 2 });
        };
        if first >> 4 != 0 {
            return Err(DecodeError::FrameTooLarge {
                len: u64::from(first >> 4),
                max: 0,
            });
        }
        let tkl = first & 0x0f;
        if tkl > 8 {
            return Err(DecodeError::ReservedTokenLength { tkl });
        }
        Self::body(buf, 1, tkl)
    }

    fn body(buf: B, head: usize, tkl: u8) -> Result<Self, DecodeError> {
        let b = buf.as_ref();
        let token_start = head + 1;
        let token_end = token_start + usize::from(tkl);
        if b.len() < token_start {
            return Err(DecodeError::TruncatedFrame { needed: 1 });
        }
        if b.len() < token_end {
            return Err(DecodeError::TruncatedToken {
                tkl,
                offset: token_start,
            });
        }
        let code = Code(b[head]);
        // RFC 8323 §3.4: an Empty message (0.00) is a keep-alive with nothing
        // after the code, as over UDP (RFC 7252 §4.1).
        if code.is_empty() && b.len() != token_start {
            return Err(DecodeError::NonEmptyEmptyMessage { len: b.len() });
        }
        let (options_end, payload_start) = scan(b, token_end)?;
        Ok(Self {
            buf,
            code,
            token_start,
            token_len: tkl,
            options_end,
            payload_start,
        })
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The token.
    pub fn token(&self) -> Token {
        Token::new(self.token_bytes()).unwrap_or_default()
    }

    /// The token bytes.
    pub fn token_bytes(&self) -> &[u8] {
        &self.buf.as_ref()[self.token_start..self.token_start + usize::from(self.token_len)]
    }

    /// The options (for signaling codes, numbers mean what [`signaling`]
    /// says).
    pub fn options(&self) -> Options<'_> {
        let start = self.token_start + usize::from(self.token_len);
        Options::new_validated(&self.buf.as_ref()[start..self.options_end])
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.payload_start..]
    }

    /// The frame as received.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// 7.01 CSM: Max-Message-Size, if this is a CSM carrying one.
    pub fn max_message_size(&self) -> Option<u32> {
        self.signal_uint(Code::CSM, signaling::MAX_MESSAGE_SIZE, 4)
            .map(|v| v as u32)
    }

    /// 7.01 CSM: Block-Wise-Transfer present.
    pub fn block_wise_transfer(&self) -> bool {
        self.code == Code::CSM && self.options().contains(signaling::BLOCK_WISE_TRANSFER)
    }

    /// 7.02 Ping / 7.03 Pong: Custody present.
    pub fn custody(&self) -> bool {
        matches!(self.code, Code::PING | Code::PONG) && self.options().contains(signaling::CUSTODY)
    }

    /// 7.04 Release: Alternative-Address values.
    pub fn alternative_addresses(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let on = self.code == Code::RELEASE;
        self.options()
            .get_all(signaling::ALTERNATIVE_ADDRESS)
            .filter(move |_| on)
    }

    /// 7.04 Release: Hold-Off in seconds.
    pub fn hold_off(&self) -> Option<u32> {
        self.signal_uint(Code::RELEASE, signaling::HOLD_OFF, 3)
            .map(|v| v as u32)
    }

    /// 7.05 Abort: Bad-CSM-Option.
    pub fn bad_csm_option(&self) -> Option<OptionNumber> {
        self.signal_uint(Code::ABORT, signaling::BAD_CSM_OPTION, 2)
            .map(|v| OptionNumber(v as u16))
    }

    fn signal_uint(&self, code: Code, n: OptionNumber, max: usize) -> Option<u64> {
        if self.code != code {
            return None;
        }
        self.options()
            .get(n)
            .filter(|v| v.len() <= max)
            .and_then(crate::decode_uint)
    }
}

impl StreamMessage<Bytes> {
    /// The payload sharing the frame's memory.
    pub fn payload_bytes(&self) -> Bytes {
        self.buf.slice(self.payload_start..)
    }

    /// An owned builder (type CON and message ID 0, which TCP ignores).
    pub fn to_builder(&self) -> MessageBuilder {
        let mut m = MessageBuilder::new(MessageType::Confirmable, self.code);
        m.token = self.token();
        for o in self.options() {
            m.add_option(o.number, o.value);
        }
        m.payload = self.payload_bytes();
        m
    }
}

impl<B: AsRef<[u8]>> core::fmt::Debug for StreamMessage<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamMessage")
            .field("code", &self.code)
            .field("token", &self.token())
            .field("options", &self.options())
            .field("payload_len", &self.payload().len())
            .finish()
    }
}

/// Incremental TCP frame decoder over a `BytesMut` receive buffer.
///
/// It answers "need more bytes" (`Ok(None)`) for a partial frame, checks
/// the announced length against the limit before buffering the body (so an
/// announced 4 GB frame costs nothing), and splits each frame off the
/// buffer without copying.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    max_message_size: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the RFC 8323 default limit of 1152 bytes per message.
    pub const fn new() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// A decoder accepting frames of up to `max` bytes (what this side
    /// advertises as Max-Message-Size in its CSM).
    pub const fn with_max_message_size(max: usize) -> Self {
        Self {
            max_message_size: max,
        }
    }

    /// The limit in force.
    pub const fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Takes the next complete frame off `buf`, or `Ok(None)` when more
    /// bytes are needed. The caller should reserve at least the returned
    /// hint from [`Decoder::needed`] before reading again.
    ///
    /// # Errors
    /// [`DecodeError::FrameTooLarge`] (the connection should then be
    /// aborted with 7.05 Abort), and message format errors.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<StreamMessage>, DecodeError> {
        let Some((total, ..)) = tcp_header(buf)? else {
            return Ok(None);
        };
        if total > self.max_message_size as u64 {
            return Err(DecodeError::FrameTooLarge {
                len: total,
                max: self.max_message_size,
            });
        }
        // Bounded by max_message_size above.
        let total = total as usize;
        if buf.len() < total {
            return Ok(None);
        }
        let frame = buf.split_to(total).freeze();
        StreamMessage::decode_tcp(frame).map(Some)
    }

    /// How many more bytes the frame at the head of `buf` needs (0 when a
    /// whole frame is there; at least 1 when even its header is partial).
    pub fn needed(&self, buf: &[u8]) -> usize {
        match tcp_header(buf) {
            Ok(Some((total, ..))) => {
                (total.min(self.max_message_size as u64) as usize).saturating_sub(buf.len())
            }
            Ok(None) => 1,
            Err(_) => 0,
        }
    }
}

/// A 7.01 CSM (RFC 8323 §5.3) announcing `max_message_size` and, when
/// `block_wise` is set, support for block-wise transfer.
pub fn csm(max_message_size: u32, block_wise: bool) -> MessageBuilder {
    let mut m = MessageBuilder::new(MessageType::Confirmable, Code::CSM);
    m.add_uint_option(signaling::MAX_MESSAGE_SIZE, u64::from(max_message_size));
    if block_wise {
        m.add_option(signaling::BLOCK_WISE_TRANSFER, &[]);
    }
    m
}

impl MessageBuilder {
    fn tcp_len_nibble(body: usize) -> (u8, usize) {
        match body {
            0..=12 => (body as u8, 0),
            13..=268 => (13, 1),
            269..=65804 => (14, 2),
            _ => (15, 4),
        }
    }

    /// Length of the TCP encoding (RFC 8323 §3.2).
    pub fn encoded_len_tcp(&self) -> usize {
        let body = self.body_len();
        2 + Self::tcp_len_nibble(body).1 + self.token.len() + body
    }

    /// Serialises for TCP/TLS (RFC 8323 §3.2); type and message ID are not
    /// sent.
    ///
    /// # Errors
    /// As [`MessageBuilder::encode`]; bodies over 4 GiB + 65805 bytes are
    /// [`EncodeError::BufferTooSmall`].
    pub fn encode_tcp(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        self.check_for_stream()?;
        let body = self.body_len();
        if body as u64 > u64::from(u32::MAX) + 65805 {
            return Err(EncodeError::BufferTooSmall {
                needed: body,
                remaining: buf.remaining_mut(),
            });
        }
        let needed = self.encoded_len_tcp();
        if buf.remaining_mut() < needed {
            return Err(EncodeError::BufferTooSmall {
                needed,
                remaining: buf.remaining_mut(),
            });
        }
        let (nib, ext) = Self::tcp_len_nibble(body);
        buf.put_u8((nib << 4) | self.token.len() as u8);
        match ext {
            1 => buf.put_u8((body - 13) as u8),
            2 => buf.put_u16((body - 269) as u16),
            4 => buf.put_u32((body - 65805) as u32),
            _ => {}
        }
        buf.put_u8(self.code.0);
        buf.put_slice(self.token.as_bytes());
        self.put_body(buf);
        Ok(())
    }

    /// Serialises for a WebSocket message (RFC 8323 §4.2): `Len` is 0.
    ///
    /// # Errors
    /// As [`MessageBuilder::encode`].
    pub fn encode_ws(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        self.check_for_stream()?;
        let needed = 2 + self.token.len() + self.body_len();
        if buf.remaining_mut() < needed {
            return Err(EncodeError::BufferTooSmall {
                needed,
                remaining: buf.remaining_mut(),
            });
        }
        buf.put_u8(self.token.len() as u8);
        buf.put_u8(self.code.0);
        buf.put_slice(self.token.as_bytes());
        self.put_body(buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn tcp(m: &MessageBuilder) -> Vec<u8> {
        let mut v = Vec::new();
        m.encode_tcp(&mut v).unwrap();
        assert_eq!(v.len(), m.encoded_len_tcp());
        v
    }

    #[test]
    fn rfc8323_figure_shapes() {
        // GET /a with token 0x01: Len = 2 (option header + "a"), TKL 1.
        let m = MessageBuilder::new(MessageType::Confirmable, Code::GET)
            .with_token(&[1])
            .path("a");
        assert_eq!(tcp(&m), [0x21, 0x01, 0x01, 0xb1, b'a']);
        let mut ws = Vec::new();
        m.encode_ws(&mut ws).unwrap();
        assert_eq!(ws, [0x01, 0x01, 0x01, 0xb1, b'a']);
        let d = StreamMessage::decode_ws(&ws[..]).unwrap();
        assert_eq!(d.options().path().unwrap(), "/a");
    }

    #[test]
    fn every_length_extension_round_trips() {
        for n in [0usize, 11, 12, 267, 268, 65803, 65804, 70000] {
            let m =
                MessageBuilder::new(MessageType::Confirmable, Code::CONTENT).payload(vec![0x5a; n]);
            let v = tcp(&m);
            let d = StreamMessage::decode_tcp(Bytes::from(v)).unwrap();
            assert_eq!(d.payload().len(), n);
            assert_eq!(d.to_builder(), m);
        }
    }

    #[test]
    fn decoder_waits_for_whole_frames_and_limits_size() {
        let m = MessageBuilder::new(MessageType::Confirmable, Code::POST).payload(vec![1; 300]);
        let wire = tcp(&m);
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        for (i, b) in wire.iter().enumerate() {
            assert!(dec.decode(&mut buf).unwrap().is_none(), "byte {i}");
            assert!(dec.needed(&buf) >= 1);
            buf.put_u8(*b);
        }
        assert_eq!(dec.needed(&buf), 0);
        let got = dec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(got.payload().len(), 300);
        assert!(buf.is_empty());

        // Announced 4-byte-extended length: refused before any body arrives.
        let mut big = BytesMut::from(&[0xf0u8, 0x7f, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            Decoder::with_max_message_size(1 << 20).decode(&mut big),
            Err(DecodeError::FrameTooLarge {
                len: 5 + 1 + 0x7fff_ffff + 65805,
                max: 1 << 20
            })
        );
    }

    #[test]
    fn signaling_messages_expose_their_options() {
        let csm = StreamMessage::decode_tcp(Bytes::from(tcp(&csm(1152, false)))).unwrap();
        assert_eq!(csm.code(), Code::CSM);
        assert_eq!(csm.max_message_size(), Some(1152));
        assert!(!csm.block_wise_transfer());

        let mut rel = MessageBuilder::new(MessageType::Confirmable, Code::RELEASE);
        rel.add_option(signaling::ALTERNATIVE_ADDRESS, b"coap+tcp://[::1]:5683");
        rel.add_uint_option(signaling::HOLD_OFF, 30);
        let rel = StreamMessage::decode_tcp(Bytes::from(tcp(&rel))).unwrap();
        assert_eq!(rel.hold_off(), Some(30));
        assert_eq!(rel.alternative_addresses().count(), 1);
        assert_eq!(rel.max_message_size(), None);

        let mut abort = MessageBuilder::new(MessageType::Confirmable, Code::ABORT);
        abort.add_uint_option(signaling::BAD_CSM_OPTION, 2);
        let abort = StreamMessage::decode_tcp(Bytes::from(tcp(&abort))).unwrap();
        assert_eq!(abort.bad_csm_option(), Some(OptionNumber(2)));

        let mut pong = MessageBuilder::new(MessageType::Confirmable, Code::PONG);
        pong.add_option(signaling::CUSTODY, &[]);
        assert!(StreamMessage::decode_tcp(Bytes::from(tcp(&pong)))
            .unwrap()
            .custody());
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert_eq!(
            StreamMessage::decode_tcp(&[0x09u8, 0x01][..]),
            Err(DecodeError::ReservedTokenLength { tkl: 9 })
        );
        assert_eq!(
            StreamMessage::decode_tcp(&[0x20u8, 0x01, 0xb1][..]),
            Err(DecodeError::TruncatedFrame { needed: 1 })
        );
        assert_eq!(
            StreamMessage::decode_tcp(&[0x00u8, 0x01, 0x00][..]),
            Err(DecodeError::FrameTooLarge { len: 3, max: 2 })
        );
        assert_eq!(
            StreamMessage::decode_ws(&[0x10u8, 0x01, 0xff][..]),
            Err(DecodeError::FrameTooLarge { len: 1, max: 0 })
        );
        assert_eq!(
            StreamMessage::decode_tcp(&[0x11u8, 0x00, 0x07, 0x10][..]),
            Err(DecodeError::NonEmptyEmptyMessage { len: 4 })
        );
        assert!(StreamMessage::decode_tcp(&[0x00u8, 0x00][..]).is_ok());
        assert_eq!(
            StreamMessage::decode_tcp(&[0x10u8, 0x45, 0xff][..]),
            Err(DecodeError::EmptyPayload { offset: 2 })
        );
    }
}
