//! The zero-copy message view (RFC 7252 §3).

use bytes::Bytes;

use crate::option::{scan, Options};
use crate::{Code, DecodeError, Header, MessageType, Token};

/// A decoded CoAP message over UDP: a validated view over the datagram.
///
/// Decoding checks the whole structure once (header, token, every option
/// header, payload marker) and keeps only offsets, so it does not allocate
/// and every accessor is a slice of the original buffer. `B` is the buffer:
/// [`Bytes`] (the default) lets options and payload be handed out as
/// `Bytes` that share the datagram; `&[u8]` or `Vec<u8>` work too.
///
/// ```
/// use coap_codec::{Message, MessageType, Code, OptionNumber};
/// // CON GET /temperature, MID 0x7d34, no token (RFC 7252 Figure 16 style).
/// let datagram = b"\x40\x01\x7d\x34\xbbtemperature";
/// let msg = Message::decode(&datagram[..]).unwrap();
/// assert_eq!(msg.message_type(), MessageType::Confirmable);
/// assert_eq!(msg.code(), Code::GET);
/// assert_eq!(msg.message_id(), 0x7d34);
/// assert_eq!(msg.options().path().unwrap(), "/temperature");
/// assert!(msg.payload().is_empty());
/// ```
///
/// # No-panic contract
/// `decode` accepts any byte sequence: malformed input is a
/// [`DecodeError`], never a panic, an unbounded allocation or a loop.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Message<B = Bytes> {
    buf: B,
    header: Header,
    options_end: usize,
    payload_start: usize,
}

impl<B: AsRef<[u8]>> Message<B> {
    /// Decodes and validates a datagram.
    ///
    /// # Errors
    /// Any [`DecodeError`]: RFC 7252 §4.2 message format errors.
    pub fn decode(buf: B) -> Result<Self, DecodeError> {
        let b = buf.as_ref();
        let header = Header::decode(b)?;
        let token_end = 4 + usize::from(header.token_length);
        if b.len() < token_end {
            return Err(DecodeError::TruncatedToken {
                tkl: header.token_length,
                offset: 4,
            });
        }
        if header.code.is_empty() && b.len() != 4 {
            return Err(DecodeError::NonEmptyEmptyMessage { len: b.len() });
        }
        let (options_end, payload_start) = scan(b, token_end)?;
        Ok(Self {
            buf,
            header,
            options_end,
            payload_start,
        })
    }

    /// The fixed header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// CON, NON, ACK or RST.
    pub fn message_type(&self) -> MessageType {
        self.header.message_type
    }

    /// The method or response code.
    pub fn code(&self) -> Code {
        self.header.code
    }

    /// The message ID.
    pub fn message_id(&self) -> u16 {
        self.header.message_id
    }

    /// The token, copied inline (at most 8 bytes).
    pub fn token(&self) -> Token {
        Token::new(self.token_bytes()).unwrap_or_default()
    }

    /// The token bytes.
    pub fn token_bytes(&self) -> &[u8] {
        &self.buf.as_ref()[4..4 + usize::from(self.header.token_length)]
    }

    /// The options.
    pub fn options(&self) -> Options<'_> {
        let start = 4 + usize::from(self.header.token_length);
        Options::new_validated(&self.buf.as_ref()[start..self.options_end])
    }

    /// The payload (empty when there is none).
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.payload_start..]
    }

    /// The whole datagram.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// The buffer the message was decoded from.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// An Empty message (0.00): a bare ACK, a RST, or a CoAP ping (CON).
    pub fn is_empty(&self) -> bool {
        self.header.code.is_empty()
    }

    /// A request (method code).
    pub fn is_request(&self) -> bool {
        self.header.code.is_request()
    }

    /// A response (2.xx, 4.xx, 5.xx).
    pub fn is_response(&self) -> bool {
        self.header.code.is_response()
    }

    /// An empty CON: a "CoAP ping", answered with RST (RFC 7252 §4.3).
    pub fn is_ping(&self) -> bool {
        self.is_empty() && self.message_type() == MessageType::Confirmable
    }
}

impl Message<Bytes> {
    /// The payload as `Bytes` sharing the datagram's memory.
    pub fn payload_bytes(&self) -> Bytes {
        self.buf.slice(self.payload_start..)
    }

    /// A value returned by [`Message::options`] as `Bytes` sharing the
    /// datagram's memory.
    ///
    /// # Panics
    /// If `value` is not a slice of this message (as `Bytes::slice_ref`).
    pub fn value_bytes(&self, value: &[u8]) -> Bytes {
        if value.is_empty() {
            return Bytes::new();
        }
        self.buf.slice_ref(value)
    }
}

impl<B: AsRef<[u8]>> core::fmt::Debug for Message<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Message")
            .field("type", &self.message_type())
            .field("code", &self.code())
            .field("mid", &self.message_id())
            .field("token", &self.token())
            .field("options", &self.options())
            .field("payload_len", &self.payload().len())
            .finish()
    }
}

impl<B: AsRef<[u8]>> core::fmt::Display for Message<B> {
    /// One line per field, in the spirit of CoAPthon's `pretty_print`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "Type: {}", self.message_type())?;
        writeln!(f, "MID: {}", self.message_id())?;
        write!(f, "Code: {}", self.code())?;
        match self.code().name() {
            Some(n) => writeln!(f, " {n}")?,
            None => writeln!(f)?,
        }
        writeln!(f, "Token: {}", self.token())?;
        crate::display::options(f, self.options())?;
        crate::display::payload(f, self.payload(), self.options().content_format())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ContentFormat, OptionNumber};

    #[test]
    fn rfc7252_figure_16_get_with_token() {
        // CON GET /temperature, MID 0x7d35, token 0x20 (RFC 7252 Appendix A style).
        let d = b"\x41\x01\x7d\x35\x20\xbbtemperature";
        let m = Message::decode(&d[..]).unwrap();
        assert_eq!(m.token_bytes(), &[0x20]);
        assert_eq!(m.options().path().unwrap(), "/temperature");
    }

    #[test]
    fn piggybacked_response_with_payload() {
        // ACK 2.05 MID 0x7d34, Content-Format 0, payload "22.3 C".
        let d = b"\x60\x45\x7d\x34\xc0\xff22.3 C";
        let m = Message::decode(Bytes::from_static(d)).unwrap();
        assert_eq!(m.message_type(), MessageType::Acknowledgement);
        assert_eq!(m.code(), Code::CONTENT);
        assert_eq!(
            m.options().content_format(),
            Some(ContentFormat::TEXT_PLAIN)
        );
        assert_eq!(m.payload(), b"22.3 C");
        assert_eq!(&m.payload_bytes()[..], b"22.3 C");
        let v = m.options().get(OptionNumber::CONTENT_FORMAT).unwrap();
        assert!(m.value_bytes(v).is_empty());
    }

    #[test]
    fn empty_message_must_be_four_bytes() {
        assert!(Message::decode(&[0x60u8, 0, 0, 1][..]).unwrap().is_empty());
        assert!(Message::decode(&[0x40u8, 0, 0, 1][..]).unwrap().is_ping());
        assert_eq!(
            Message::decode(&[0x41u8, 0, 0, 1, 7][..]),
            Err(DecodeError::NonEmptyEmptyMessage { len: 5 })
        );
        assert_eq!(
            Message::decode(&[0x70u8, 0, 0, 1, 0xff, 1][..]),
            Err(DecodeError::NonEmptyEmptyMessage { len: 6 })
        );
    }

    #[test]
    fn truncated_token_is_reported() {
        assert_eq!(
            Message::decode(&[0x48u8, 1, 0, 0, 1, 2][..]),
            Err(DecodeError::TruncatedToken { tkl: 8, offset: 4 })
        );
    }

    #[test]
    fn payload_marker_without_payload_is_an_error() {
        assert_eq!(
            Message::decode(&[0x40u8, 1, 0, 0, 0xff][..]),
            Err(DecodeError::EmptyPayload { offset: 4 })
        );
    }

    #[test]
    fn display_prints_every_field() {
        let d = b"\x62\x45\x2c\xe2rK\xc0\xff\x40ok";
        let m = Message::decode(&d[..]).unwrap();
        let s = alloc::format!("{m}");
        assert!(s.contains("Type: ACK"), "{s}");
        assert!(s.contains("MID: 11490"), "{s}");
        assert!(s.contains("Code: 2.05 Content"), "{s}");
        assert!(s.contains("Token: 724b"), "{s}");
        assert!(s.contains("Content-Format: 0"), "{s}");
    }
}
