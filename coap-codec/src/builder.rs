//! Owned messages and serialisation into any [`BufMut`].

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::option::{encode_option_header, option_header_len};
use crate::{
    encode_uint, Block, Code, ContentFormat, EncodeError, Header, Message, MessageType, NoResponse,
    OptionNumber, Token,
};

/// Largest option value the length encoding can express (RFC 7252 §3.1).
const MAX_OPTION_LEN: usize = 65535 + 269;

/// An option value: short ones inline, longer ones shared.
#[derive(Clone)]
enum Value {
    Inline { len: u8, buf: [u8; 8] },
    Shared(Bytes),
}

impl Value {
    fn from_slice(v: &[u8]) -> Self {
        if v.len() <= 8 {
            let mut buf = [0; 8];
            buf[..v.len()].copy_from_slice(v);
            Self::Inline {
                len: v.len() as u8,
                buf,
            }
        } else {
            Self::Shared(Bytes::copy_from_slice(v))
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { len, buf } => &buf[..usize::from(*len)],
            Self::Shared(b) => b,
        }
    }
}

/// An owned CoAP message that serialises into any [`BufMut`] for UDP
/// (RFC 7252 §3), TCP or WebSockets (RFC 8323 §3.2, §4.2).
///
/// Options are kept sorted by number as they are added (repeated options
/// keep their order), so encoding is one pass. Values of up to 8 bytes are
/// stored inline; longer ones as [`Bytes`], which may share memory.
///
/// ```
/// use coap_codec::{MessageBuilder, MessageType, Code, ContentFormat, Message};
/// let bytes = MessageBuilder::new(MessageType::Confirmable, Code::PUT)
///     .with_message_id(0x1234)
///     .with_token(&[0xab])
///     .path("/sensors/temp")
///     .content_format(ContentFormat::TEXT_PLAIN)
///     .payload("22.5")
///     .to_bytes()
///     .unwrap();
/// let msg = Message::decode(bytes).unwrap();
/// assert_eq!(msg.options().path().unwrap(), "/sensors/temp");
/// assert_eq!(msg.payload(), b"22.5");
/// ```
#[derive(Clone)]
pub struct MessageBuilder {
    /// CON, NON, ACK or RST (ignored over TCP and WebSockets).
    pub message_type: MessageType,
    /// Method, response or signaling code.
    pub code: Code,
    /// Message ID (ignored over TCP and WebSockets).
    pub message_id: u16,
    /// Token.
    pub token: Token,
    options: Vec<(OptionNumber, Value)>,
    /// Payload; empty for none.
    pub payload: Bytes,
}

impl MessageBuilder {
    /// A message with no token, options or payload and message ID 0.
    pub fn new(message_type: MessageType, code: Code) -> Self {
        Self {
            message_type,
            code,
            message_id: 0,
            token: Token::EMPTY,
            options: Vec::new(),
            payload: Bytes::new(),
        }
    }

    /// An empty ACK for message `message_id` (RFC 7252 §4.2).
    pub fn empty_ack(message_id: u16) -> Self {
        Self::new(MessageType::Acknowledgement, Code::EMPTY).with_message_id(message_id)
    }

    /// A RST for message `message_id` (RFC 7252 §4.2, §4.3).
    pub fn reset(message_id: u16) -> Self {
        Self::new(MessageType::Reset, Code::EMPTY).with_message_id(message_id)
    }

    /// An empty CON, a "CoAP ping" (RFC 7252 §4.3).
    pub fn ping(message_id: u16) -> Self {
        Self::new(MessageType::Confirmable, Code::EMPTY).with_message_id(message_id)
    }

    /// A response to `request` with `code`: piggybacked on the ACK for a
    /// CON (same message ID), a NON for a NON (RFC 7252 §5.2). The token is
    /// copied; the message ID of a NON response is the caller's to set.
    pub fn response_to<B: AsRef<[u8]>>(request: &Message<B>, code: Code) -> Self {
        let t = match request.message_type() {
            MessageType::Confirmable => MessageType::Acknowledgement,
            _ => MessageType::NonConfirmable,
        };
        let mut m = Self::new(t, code).with_message_id(request.message_id());
        m.token = request.token();
        m
    }

    /// Sets the message ID.
    #[must_use]
    pub fn with_message_id(mut self, message_id: u16) -> Self {
        self.message_id = message_id;
        self
    }

    /// Sets the token; bytes past the eighth are not taken (a token is at
    /// most 8 bytes).
    #[must_use]
    pub fn with_token(mut self, token: &[u8]) -> Self {
        self.token = Token::new(&token[..token.len().min(8)]).unwrap_or_default();
        self
    }

    /// Sets the payload.
    #[must_use]
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Adds an option, after any options with the same number.
    pub fn add_option(&mut self, number: OptionNumber, value: &[u8]) {
        self.insert(number, Value::from_slice(value));
    }

    /// Adds an option whose value shares memory with `value`.
    pub fn add_option_bytes(&mut self, number: OptionNumber, value: Bytes) {
        let v = if value.len() <= 8 {
            Value::from_slice(&value)
        } else {
            Value::Shared(value)
        };
        self.insert(number, v);
    }

    /// Adds a uint option in its shortest form.
    pub fn add_uint_option(&mut self, number: OptionNumber, value: u64) {
        self.add_option(number, encode_uint(value).as_bytes());
    }

    /// Replaces every occurrence of `number` by one with `value`.
    pub fn set_option(&mut self, number: OptionNumber, value: &[u8]) {
        self.remove_option(number);
        self.add_option(number, value);
    }

    /// Removes every occurrence of `number`.
    pub fn remove_option(&mut self, number: OptionNumber) {
        self.options.retain(|(n, _)| *n != number);
    }

    fn insert(&mut self, number: OptionNumber, value: Value) {
        let at = self.options.partition_point(|(n, _)| *n <= number);
        self.options.insert(at, (number, value));
    }

    /// Adds an option (chainable).
    #[must_use]
    pub fn option(mut self, number: OptionNumber, value: &[u8]) -> Self {
        self.add_option(number, value);
        self
    }

    /// Adds a uint option (chainable).
    #[must_use]
    pub fn uint_option(mut self, number: OptionNumber, value: u64) -> Self {
        self.add_uint_option(number, value);
        self
    }

    /// Adds one Uri-Path option per segment of `path` (`/a/b` → `a`, `b`;
    /// `/` and `` add none; `a//b` keeps the empty segment). Segments are
    /// taken as they are: use [`crate::uri`] to parse percent-encoded URIs.
    #[must_use]
    pub fn path(mut self, path: &str) -> Self {
        let p = path.strip_prefix('/').unwrap_or(path);
        if !p.is_empty() {
            for seg in p.split('/') {
                self.add_option(OptionNumber::URI_PATH, seg.as_bytes());
            }
        }
        self
    }

    /// Adds one Uri-Query option (`key=value`).
    #[must_use]
    pub fn query(mut self, arg: &str) -> Self {
        self.add_option(OptionNumber::URI_QUERY, arg.as_bytes());
        self
    }

    /// Sets Content-Format.
    #[must_use]
    pub fn content_format(mut self, cf: ContentFormat) -> Self {
        self.remove_option(OptionNumber::CONTENT_FORMAT);
        self.add_uint_option(OptionNumber::CONTENT_FORMAT, u64::from(cf.0));
        self
    }

    /// Sets Accept.
    #[must_use]
    pub fn accept(mut self, cf: ContentFormat) -> Self {
        self.remove_option(OptionNumber::ACCEPT);
        self.add_uint_option(OptionNumber::ACCEPT, u64::from(cf.0));
        self
    }

    /// Sets Max-Age in seconds.
    #[must_use]
    pub fn max_age(mut self, seconds: u32) -> Self {
        self.remove_option(OptionNumber::MAX_AGE);
        self.add_uint_option(OptionNumber::MAX_AGE, u64::from(seconds));
        self
    }

    /// Sets Observe (masked to 24 bits).
    #[must_use]
    pub fn observe(mut self, value: u32) -> Self {
        self.remove_option(OptionNumber::OBSERVE);
        self.add_uint_option(OptionNumber::OBSERVE, u64::from(value & 0xff_ffff));
        self
    }

    /// Sets Block1.
    #[must_use]
    pub fn block1(mut self, block: Block) -> Self {
        self.remove_option(OptionNumber::BLOCK1);
        self.add_uint_option(OptionNumber::BLOCK1, u64::from(block.to_uint()));
        self
    }

    /// Sets Block2.
    #[must_use]
    pub fn block2(mut self, block: Block) -> Self {
        self.remove_option(OptionNumber::BLOCK2);
        self.add_uint_option(OptionNumber::BLOCK2, u64::from(block.to_uint()));
        self
    }

    /// Adds an ETag.
    #[must_use]
    pub fn etag(mut self, etag: &[u8]) -> Self {
        self.add_option(OptionNumber::ETAG, etag);
        self
    }

    /// Sets No-Response.
    #[must_use]
    pub fn no_response(mut self, nr: NoResponse) -> Self {
        self.remove_option(OptionNumber::NO_RESPONSE);
        self.add_uint_option(OptionNumber::NO_RESPONSE, u64::from(nr.0));
        self
    }

    /// The options, in encoding order.
    pub fn options(&self) -> impl Iterator<Item = (OptionNumber, &[u8])> + '_ {
        self.options.iter().map(|(n, v)| (*n, v.as_slice()))
    }

    /// Length of the options and payload: the body after the token.
    pub fn body_len(&self) -> usize {
        let mut prev = 0u32;
        let mut len = 0;
        for (n, v) in &self.options {
            let l = v.as_slice().len();
            len += option_header_len(u32::from(n.0) - prev, l as u32) + l;
            prev = u32::from(n.0);
        }
        if !self.payload.is_empty() {
            len += 1 + self.payload.len();
        }
        len
    }

    /// Length of the UDP encoding.
    pub fn encoded_len(&self) -> usize {
        4 + self.token.len() + self.body_len()
    }

    fn check(&self) -> Result<(), EncodeError> {
        if self.code.is_empty()
            && (!self.token.is_empty() || !self.options.is_empty() || !self.payload.is_empty())
        {
            return Err(EncodeError::NonEmptyEmptyMessage);
        }
        if let Some((n, v)) = self
            .options
            .iter()
            .find(|(_, v)| v.as_slice().len() > MAX_OPTION_LEN)
        {
            return Err(EncodeError::OptionTooLong {
                number: n.0,
                len: v.as_slice().len(),
            });
        }
        Ok(())
    }

    /// Serialises for UDP (RFC 7252 §3).
    ///
    /// # Errors
    /// [`EncodeError::NonEmptyEmptyMessage`], [`EncodeError::OptionTooLong`],
    /// or [`EncodeError::BufferTooSmall`] when `buf` cannot grow enough.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        self.check()?;
        let needed = self.encoded_len();
        if buf.remaining_mut() < needed {
            return Err(EncodeError::BufferTooSmall {
                needed,
                remaining: buf.remaining_mut(),
            });
        }
        let h = Header {
            message_type: self.message_type,
            token_length: self.token.len() as u8,
            code: self.code,
            message_id: self.message_id,
        };
        buf.put_u8(h.first_byte());
        buf.put_u8(self.code.0);
        buf.put_u16(self.message_id);
        buf.put_slice(self.token.as_bytes());
        self.put_body(buf);
        Ok(())
    }

    /// Options, payload marker and payload.
    pub(crate) fn put_body(&self, buf: &mut impl BufMut) {
        let mut prev = 0u32;
        for (n, v) in &self.options {
            let v = v.as_slice();
            encode_option_header(buf, u32::from(n.0) - prev, v.len() as u32);
            buf.put_slice(v);
            prev = u32::from(n.0);
        }
        if !self.payload.is_empty() {
            buf.put_u8(0xff);
            buf.put_slice(&self.payload);
        }
    }

    pub(crate) fn check_for_stream(&self) -> Result<(), EncodeError> {
        self.check()
    }

    /// Serialises for UDP into a new [`Bytes`].
    ///
    /// # Errors
    /// As [`MessageBuilder::encode`].
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut b = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut b)?;
        Ok(b.freeze())
    }

    /// An owned copy of a decoded message. For a `Bytes`-backed message,
    /// [`Message::to_builder`] shares long values instead of copying them.
    pub fn from_message<B: AsRef<[u8]>>(msg: &Message<B>) -> Self {
        let mut m = Self::new(msg.message_type(), msg.code()).with_message_id(msg.message_id());
        m.token = msg.token();
        m.options = msg
            .options()
            .iter()
            .map(|o| (o.number, Value::from_slice(o.value)))
            .collect();
        m.payload = Bytes::copy_from_slice(msg.payload());
        m
    }
}

impl Message<Bytes> {
    /// An owned builder whose long option values and payload share this
    /// message's memory.
    pub fn to_builder(&self) -> MessageBuilder {
        let mut m = MessageBuilder::new(self.message_type(), self.code())
            .with_message_id(self.message_id());
        m.token = self.token();
        m.options = self
            .options()
            .iter()
            .map(|o| {
                let v = if o.value.len() <= 8 {
                    Value::from_slice(o.value)
                } else {
                    Value::Shared(self.value_bytes(o.value))
                };
                (o.number, v)
            })
            .collect();
        m.payload = self.payload_bytes();
        m
    }
}

impl PartialEq for MessageBuilder {
    fn eq(&self, other: &Self) -> bool {
        self.message_type == other.message_type
            && self.code == other.code
            && self.message_id == other.message_id
            && self.token == other.token
            && self.payload == other.payload
            && self.options().eq(other.options())
    }
}

impl Eq for MessageBuilder {}

impl core::fmt::Debug for MessageBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MessageBuilder")
            .field("type", &self.message_type)
            .field("code", &self.code)
            .field("mid", &self.message_id)
            .field("token", &self.token)
            .field("options", &self.options().collect::<Vec<_>>())
            .field("payload", &self.payload)
            .finish()
    }
}

/// Writes a UDP message straight into a buffer, with no intermediate
/// allocation: header and token first, then options in ascending order,
/// then the payload.
///
/// ```
/// use bytes::BytesMut;
/// use coap_codec::{MessageWriter, MessageType, Code, OptionNumber, Message};
/// let mut buf = BytesMut::new();
/// let mut w = MessageWriter::new(&mut buf, MessageType::NonConfirmable, Code::GET, 7, &[1, 2]).unwrap();
/// w.option(OptionNumber::URI_PATH, b"time").unwrap();
/// w.uint_option(OptionNumber::ACCEPT, 0).unwrap();
/// w.finish(b"").unwrap();
/// let m = Message::decode(buf.freeze()).unwrap();
/// assert_eq!(m.options().path().unwrap(), "/time");
/// ```
#[derive(Debug)]
pub struct MessageWriter<'b, B: BufMut> {
    buf: &'b mut B,
    prev: u16,
}

impl<'b, B: BufMut> MessageWriter<'b, B> {
    /// Writes the header and token. Over 8 token bytes are an error.
    ///
    /// # Errors
    /// [`EncodeError::BufferTooSmall`] when the header and token do not fit.
    pub fn new(
        buf: &'b mut B,
        message_type: MessageType,
        code: Code,
        message_id: u16,
        token: &[u8],
    ) -> Result<Self, EncodeError> {
        let token = Token::new(token).ok_or(EncodeError::OptionTooLong {
            number: 0,
            len: token.len(),
        })?;
        room(buf, 4 + token.len())?;
        let h = Header {
            message_type,
            token_length: token.len() as u8,
            code,
            message_id,
        };
        buf.put_u8(h.first_byte());
        buf.put_u8(code.0);
        buf.put_u16(message_id);
        buf.put_slice(token.as_bytes());
        Ok(Self { buf, prev: 0 })
    }

    /// Writes an option; numbers must not decrease.
    ///
    /// # Errors
    /// [`EncodeError::OptionOutOfOrder`], [`EncodeError::OptionTooLong`],
    /// [`EncodeError::BufferTooSmall`].
    pub fn option(&mut self, number: OptionNumber, value: &[u8]) -> Result<(), EncodeError> {
        if number.0 < self.prev {
            return Err(EncodeError::OptionOutOfOrder {
                number: number.0,
                previous: self.prev,
            });
        }
        if value.len() > MAX_OPTION_LEN {
            return Err(EncodeError::OptionTooLong {
                number: number.0,
                len: value.len(),
            });
        }
        let delta = u32::from(number.0 - self.prev);
        room(
            self.buf,
            option_header_len(delta, value.len() as u32) + value.len(),
        )?;
        encode_option_header(self.buf, delta, value.len() as u32);
        self.buf.put_slice(value);
        self.prev = number.0;
        Ok(())
    }

    /// Writes a uint option in its shortest form.
    ///
    /// # Errors
    /// As [`MessageWriter::option`].
    pub fn uint_option(&mut self, number: OptionNumber, value: u64) -> Result<(), EncodeError> {
        self.option(number, encode_uint(value).as_bytes())
    }

    /// Writes the payload marker and payload (nothing for an empty payload).
    ///
    /// # Errors
    /// [`EncodeError::BufferTooSmall`].
    pub fn finish(self, payload: &[u8]) -> Result<(), EncodeError> {
        if !payload.is_empty() {
            room(self.buf, 1 + payload.len())?;
            self.buf.put_u8(0xff);
            self.buf.put_slice(payload);
        }
        Ok(())
    }
}

fn room(buf: &impl BufMut, needed: usize) -> Result<(), EncodeError> {
    if buf.remaining_mut() < needed {
        return Err(EncodeError::BufferTooSmall {
            needed,
            remaining: buf.remaining_mut(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_sorted_and_repeats_keep_their_order() {
        let m = MessageBuilder::new(MessageType::Confirmable, Code::GET)
            .query("b=2")
            .path("/x/y")
            .query("a=1")
            .content_format(ContentFormat::JSON);
        let v: Vec<_> = m.options().collect();
        assert_eq!(v[0], (OptionNumber::URI_PATH, &b"x"[..]));
        assert_eq!(v[1], (OptionNumber::URI_PATH, &b"y"[..]));
        assert_eq!(v[2], (OptionNumber::CONTENT_FORMAT, &[50][..]));
        assert_eq!(v[3], (OptionNumber::URI_QUERY, &b"b=2"[..]));
        assert_eq!(v[4], (OptionNumber::URI_QUERY, &b"a=1"[..]));
    }

    #[test]
    fn encodes_the_rfc7252_figure_16_request() {
        let b = MessageBuilder::new(MessageType::Confirmable, Code::GET)
            .with_message_id(0x7d34)
            .path("temperature")
            .to_bytes()
            .unwrap();
        assert_eq!(&b[..], b"\x40\x01\x7d\x34\xbbtemperature");
    }

    #[test]
    fn empty_message_with_content_is_refused() {
        let m = MessageBuilder::empty_ack(1).payload("x");
        assert_eq!(m.to_bytes(), Err(EncodeError::NonEmptyEmptyMessage));
        assert_eq!(
            &MessageBuilder::reset(0x1234).to_bytes().unwrap()[..],
            &[0x70, 0, 0x12, 0x34]
        );
    }

    #[test]
    fn long_option_value_is_refused() {
        let mut m = MessageBuilder::new(MessageType::Confirmable, Code::GET);
        m.add_option_bytes(OptionNumber(2048), Bytes::from(alloc::vec![0u8; 65805]));
        assert_eq!(
            m.to_bytes(),
            Err(EncodeError::OptionTooLong {
                number: 2048,
                len: 65805
            })
        );
    }

    #[test]
    fn fixed_buffer_too_small_is_an_error() {
        let mut arr = [0u8; 5];
        let mut slice = &mut arr[..];
        let m = MessageBuilder::new(MessageType::Confirmable, Code::GET).path("abc");
        assert_eq!(
            m.encode(&mut slice),
            Err(EncodeError::BufferTooSmall {
                needed: 8,
                remaining: 5
            })
        );
    }

    #[test]
    fn response_to_con_is_piggybacked() {
        let req = Message::decode(Bytes::from_static(b"\x42\x01\x00\x09\xaa\xbb")).unwrap();
        let r = MessageBuilder::response_to(&req, Code::CONTENT);
        assert_eq!(r.message_type, MessageType::Acknowledgement);
        assert_eq!(r.message_id, 9);
        assert_eq!(r.token.as_bytes(), &[0xaa, 0xbb]);
    }

    #[test]
    fn writer_rejects_decreasing_numbers() {
        let mut v = Vec::new();
        let mut w =
            MessageWriter::new(&mut v, MessageType::Confirmable, Code::GET, 1, &[]).unwrap();
        w.option(OptionNumber::URI_QUERY, b"a").unwrap();
        assert_eq!(
            w.option(OptionNumber::URI_PATH, b"b"),
            Err(EncodeError::OptionOutOfOrder {
                number: 11,
                previous: 15
            })
        );
    }

    #[test]
    fn to_builder_round_trips() {
        let b = MessageBuilder::new(MessageType::NonConfirmable, Code::POST)
            .with_token(&[1, 2, 3])
            .path("/a/long-segment-name")
            .payload(&b"body"[..])
            .to_bytes()
            .unwrap();
        let m = Message::decode(b.clone()).unwrap();
        assert_eq!(m.to_builder().to_bytes().unwrap(), b);
        assert_eq!(MessageBuilder::from_message(&m), m.to_builder());
    }
}
