//! Decode and encode errors.

/// Why a datagram or frame is not a well-formed CoAP message.
///
/// RFC 7252 §3 and §4.2 call these "message format errors": a receiver
/// answers a malformed CON with RST (or ignores it) and ignores a malformed
/// NON. `offset` is the byte at which the problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer than the 4 bytes of the fixed header.
    #[error("header needs 4 bytes, got {len}")]
    TruncatedHeader {
        /// Bytes available.
        len: usize,
    },
    /// Version field other than 1 (RFC 7252 §3: silently ignore).
    #[error("unsupported version {version}")]
    UnsupportedVersion {
        /// The version field.
        version: u8,
    },
    /// Token Length 9-15, reserved (RFC 7252 §3).
    #[error("token length {tkl} is reserved (9-15)")]
    ReservedTokenLength {
        /// The TKL nibble.
        tkl: u8,
    },
    /// The message ends inside the token.
    #[error("token of {tkl} bytes truncated at byte {offset}")]
    TruncatedToken {
        /// The TKL nibble.
        tkl: u8,
        /// Where the token starts.
        offset: usize,
    },
    /// An option delta nibble of 15 that is not the payload marker.
    #[error("option at byte {offset}: reserved delta 15")]
    ReservedOptionDelta {
        /// Where the option header is.
        offset: usize,
    },
    /// An option length nibble of 15.
    #[error("option at byte {offset}: reserved length 15")]
    ReservedOptionLength {
        /// Where the option header is.
        offset: usize,
    },
    /// The message ends inside an option header or value.
    #[error("option at byte {offset} truncated")]
    TruncatedOption {
        /// Where the option header is.
        offset: usize,
    },
    /// Option numbers add up past 65535.
    #[error("option at byte {offset}: number overflows 65535")]
    OptionNumberOverflow {
        /// Where the option header is.
        offset: usize,
    },
    /// A payload marker followed by no payload (RFC 7252 §3).
    #[error("payload marker at byte {offset} with no payload")]
    EmptyPayload {
        /// Where the 0xFF marker is.
        offset: usize,
    },
    /// An Empty message (code 0.00) with token, options or payload
    /// (RFC 7252 §4.1).
    #[error("empty message (0.00) with {len} bytes after the header")]
    NonEmptyEmptyMessage {
        /// Total length of the message.
        len: usize,
    },
    /// RFC 8323 frame: the announced length exceeds the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Announced frame length (options + payload + header).
        len: u64,
        /// Configured maximum.
        max: usize,
    },
    /// RFC 8323 frame: bytes missing for a frame whose length is known
    /// (one-shot decoding of a WebSocket message or a complete buffer).
    #[error("frame truncated: {needed} more bytes needed")]
    TruncatedFrame {
        /// Bytes missing.
        needed: usize,
    },
}

/// Why a message cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// An option value longer than 65804 bytes, which the option length
    /// encoding cannot express (RFC 7252 §3.1).
    #[error("option {number} value of {len} bytes is too long to encode")]
    OptionTooLong {
        /// The option number.
        number: u16,
        /// Its value length.
        len: usize,
    },
    /// The destination buffer has too little room.
    #[error("buffer has {remaining} bytes left, {needed} needed")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes left in the buffer.
        remaining: usize,
    },
    /// Options written out of order with [`crate::MessageWriter`] (a number
    /// below the previous one).
    #[error("option {number} written after option {previous}")]
    OptionOutOfOrder {
        /// The option number written.
        number: u16,
        /// The previous option number.
        previous: u16,
    },
    /// An Empty message (0.00) may have no token, options or payload.
    #[error("empty message (0.00) with token, options or payload")]
    NonEmptyEmptyMessage,
}

/// Why a typed option value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionValueError {
    /// A uint option longer than the option's maximum length.
    #[error("option {number}: value of {len} bytes is outside {min}..={max}")]
    BadLength {
        /// The option number.
        number: u16,
        /// Its value length.
        len: usize,
        /// Minimum length registered for the option.
        min: u16,
        /// Maximum length registered for the option.
        max: u16,
    },
    /// A string option that is not UTF-8.
    #[error("option {number}: value is not UTF-8")]
    NotUtf8 {
        /// The option number.
        number: u16,
    },
    /// A Block option with SZX 7, reserved in RFC 7959 (BERT in RFC 8323).
    #[error("block option: reserved szx 7")]
    ReservedBlockSize,
}
