//! The fixed header of a CoAP message over UDP (RFC 7252 §3).

use crate::{Code, DecodeError};

/// The protocol version this crate speaks (RFC 7252 §3: `Ver` = 1).
pub const VERSION: u8 = 1;

/// Message type (RFC 7252 §3, §4): the 2-bit `T` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageType {
    /// Confirmable: retransmitted until acknowledged (§4.2).
    #[doc(alias = "CON")]
    Confirmable = 0,
    /// Non-confirmable: sent once (§4.3).
    #[doc(alias = "NON")]
    NonConfirmable = 1,
    /// Acknowledgement of a Confirmable message (§4.2).
    #[doc(alias = "ACK")]
    Acknowledgement = 2,
    /// Reset: the receiver could not process a message (§4.2, §4.3).
    #[doc(alias = "RST")]
    Reset = 3,
}

impl MessageType {
    /// The type for the 2-bit wire value (only the low two bits are used).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0x3 {
            0 => Self::Confirmable,
            1 => Self::NonConfirmable,
            2 => Self::Acknowledgement,
            _ => Self::Reset,
        }
    }

    /// The short name used in traces: `CON`, `NON`, `ACK` or `RST`.
    pub const fn abbreviation(self) -> &'static str {
        match self {
            Self::Confirmable => "CON",
            Self::NonConfirmable => "NON",
            Self::Acknowledgement => "ACK",
            Self::Reset => "RST",
        }
    }
}

impl core::fmt::Display for MessageType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.abbreviation())
    }
}

/// The four fixed bytes of a UDP message: type, token length, code and
/// message ID.
///
/// Decoding only the header is what an endpoint needs to answer a message
/// it cannot parse: RFC 7252 §4.2 rejects a malformed CON with an RST that
/// carries the same message ID.
///
/// ```
/// use coap_codec::{Header, MessageType, Code};
/// let h = Header::decode(&[0x42, 0x01, 0x12, 0x34, 0xaa, 0xbb]).unwrap();
/// assert_eq!(h.message_type, MessageType::Confirmable);
/// assert_eq!(h.code, Code::GET);
/// assert_eq!(h.message_id, 0x1234);
/// assert_eq!(h.token_length, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// `T`: CON, NON, ACK or RST.
    pub message_type: MessageType,
    /// `TKL`: 0-8 (9-15 are rejected by [`Header::decode`]).
    pub token_length: u8,
    /// Request method, response code, or 0.00 Empty.
    pub code: Code,
    /// Message ID, for deduplication and matching ACK/RST (§4.4).
    pub message_id: u16,
}

impl Header {
    /// Decodes the first four bytes of `datagram`.
    ///
    /// # Errors
    /// [`DecodeError::TruncatedHeader`], [`DecodeError::UnsupportedVersion`]
    /// or [`DecodeError::ReservedTokenLength`].
    pub fn decode(datagram: &[u8]) -> Result<Self, DecodeError> {
        let Some(&[first, code, mid_hi, mid_lo]) = datagram.first_chunk::<4>() else {
            return Err(DecodeError::TruncatedHeader {
                len: datagram.len(),
            });
        };
        let (ver, t, tkl) = (first >> 6, (first >> 4) & 0x3, first & 0x0f);
        let mid = u16::from_be_bytes([mid_hi, mid_lo]);
        if ver != VERSION {
            return Err(DecodeError::UnsupportedVersion { version: ver });
        }
        if tkl > 8 {
            return Err(DecodeError::ReservedTokenLength { tkl });
        }
        Ok(Self {
            message_type: MessageType::from_bits(t),
            token_length: tkl,
            code: Code(code),
            message_id: mid,
        })
    }

    /// The type and message ID of a datagram that may be malformed past its
    /// first four bytes (a reserved token length, broken options), so an
    /// endpoint can still answer a malformed CON with an RST carrying its
    /// message ID (RFC 7252 §4.2). `None` with fewer than 4 bytes or a
    /// version other than 1 (which RFC 7252 §3 says to ignore silently).
    ///
    /// ```
    /// use coap_codec::{Header, MessageType};
    /// // TKL 9 is reserved, but the message ID is still there.
    /// assert_eq!(Header::peek(&[0x49, 0x01, 0x12, 0x34]), Some((MessageType::Confirmable, 0x1234)));
    /// assert_eq!(Header::peek(&[0x89, 0x01, 0x12, 0x34]), None);
    /// ```
    pub fn peek(datagram: &[u8]) -> Option<(MessageType, u16)> {
        let &[first, _, hi, lo] = datagram.first_chunk::<4>()?;
        (first >> 6 == VERSION).then(|| {
            (
                MessageType::from_bits(first >> 4),
                u16::from_be_bytes([hi, lo]),
            )
        })
    }

    /// The first header byte: version, type and token length.
    pub const fn first_byte(&self) -> u8 {
        (VERSION << 6) | ((self.message_type as u8) << 4) | (self.token_length & 0x0f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn every_type_round_trips_through_its_bits() {
        for bits in 0..4 {
            assert_eq!(MessageType::from_bits(bits) as u8, bits);
        }
        assert_eq!(MessageType::Reset.to_string(), "RST");
    }

    #[test]
    fn version_other_than_one_is_rejected() {
        assert_eq!(
            Header::decode(&[0x82, 0x01, 0, 0]),
            Err(DecodeError::UnsupportedVersion { version: 2 })
        );
    }

    #[test]
    fn token_length_nine_is_reserved() {
        assert_eq!(
            Header::decode(&[0x49, 0x01, 0, 0]),
            Err(DecodeError::ReservedTokenLength { tkl: 9 })
        );
    }

    #[test]
    fn three_bytes_are_a_truncated_header() {
        assert_eq!(
            Header::decode(&[0x40, 0x01, 0]),
            Err(DecodeError::TruncatedHeader { len: 3 })
        );
    }

    #[test]
    fn first_byte_encodes_version_type_and_tkl() {
        let h = Header {
            message_type: MessageType::Acknowledgement,
            token_length: 4,
            code: Code::CONTENT,
            message_id: 7,
        };
        assert_eq!(h.first_byte(), 0x64);
    }
}
