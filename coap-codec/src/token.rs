//! The request/response matching token (RFC 7252 §5.3.1).

/// A token: 0 to 8 opaque bytes chosen by the client, stored inline.
///
/// ```
/// use coap_codec::Token;
/// let t = Token::new(&[0xca, 0xfe]).unwrap();
/// assert_eq!(t.as_bytes(), &[0xca, 0xfe]);
/// assert_eq!(t.len(), 2);
/// assert!(Token::new(&[0; 9]).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Token {
    len: u8,
    bytes: [u8; 8],
}

impl Token {
    /// The maximum token length over UDP (RFC 7252 §3).
    pub const MAX_LEN: usize = 8;

    /// The empty (zero-length) token.
    pub const EMPTY: Self = Self {
        len: 0,
        bytes: [0; 8],
    };

    /// A token with these bytes, or `None` when longer than 8 bytes.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > Self::MAX_LEN {
            return None;
        }
        let mut t = Self::EMPTY;
        t.bytes[..bytes.len()].copy_from_slice(bytes);
        // Length checked above: at most 8.
        t.len = bytes.len() as u8;
        Some(t)
    }

    /// A token of `len` bytes (clamped to 8) taken from the big-endian bytes
    /// of `value`'s low end, as endpoints do when drawing tokens from a PRNG.
    pub fn from_u64(value: u64, len: usize) -> Self {
        let len = len.min(Self::MAX_LEN);
        let be = value.to_be_bytes();
        let mut t = Self::EMPTY;
        t.bytes[..len].copy_from_slice(&be[8 - len..]);
        t.len = len as u8;
        t
    }

    /// The token's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Length in bytes (0-8).
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// True for the zero-length token.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl core::fmt::Debug for Token {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Token({self})")
    }
}

impl core::fmt::Display for Token {
    /// Lowercase hex, as libcoap and Wireshark print tokens.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl AsRef<[u8]> for Token {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn equal_bytes_make_equal_tokens() {
        assert_eq!(Token::new(&[1, 2]), Token::new(&[1, 2]));
        assert_ne!(Token::new(&[1, 2]), Token::new(&[1, 2, 0]));
    }

    #[test]
    fn from_u64_keeps_the_low_bytes() {
        let t = Token::from_u64(0x0102_0304_0506_0708, 3);
        assert_eq!(t.as_bytes(), &[6, 7, 8]);
        assert_eq!(Token::from_u64(1, 20).len(), 8);
    }

    #[test]
    fn displays_as_hex() {
        assert_eq!(Token::new(&[0xab, 0x01]).unwrap().to_string(), "ab01");
        assert!(Token::EMPTY.is_empty());
    }
}
