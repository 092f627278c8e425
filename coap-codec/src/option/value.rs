//! Typed option values: uint, Block, No-Response.

use crate::OptionValueError;

/// Decodes a uint option value (RFC 7252 §3.2): big-endian, any length up
/// to 8 bytes (a sender should use the shortest form; a receiver accepts
/// leading zeros). The empty value is 0. `None` when longer than 8 bytes.
///
/// ```
/// use coap_codec::decode_uint;
/// assert_eq!(decode_uint(&[]), Some(0));
/// assert_eq!(decode_uint(&[0x01, 0x00]), Some(256));
/// assert_eq!(decode_uint(&[0; 9]), None);
/// ```
#[inline]
pub fn decode_uint(v: &[u8]) -> Option<u64> {
    if v.len() > 8 {
        return None;
    }
    Some(v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// The shortest encoding of a uint option value, held inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct UintBuf {
    len: u8,
    bytes: [u8; 8],
}

impl UintBuf {
    /// The encoded bytes (empty for 0).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[8 - usize::from(self.len)..]
    }
}

impl AsRef<[u8]> for UintBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Encodes a uint option value in its shortest form (0 is the empty value).
///
/// ```
/// use coap_codec::encode_uint;
/// assert_eq!(encode_uint(0).as_bytes(), &[] as &[u8]);
/// assert_eq!(encode_uint(60).as_bytes(), &[60]);
/// assert_eq!(encode_uint(0x1_0000).as_bytes(), &[1, 0, 0]);
/// ```
#[inline]
pub fn encode_uint(v: u64) -> UintBuf {
    let len = 8 - (v.leading_zeros() / 8) as u8;
    UintBuf {
        len,
        bytes: v.to_be_bytes(),
    }
}

/// A Block1 or Block2 value (RFC 7959 §2.2): block number, more flag and
/// size exponent.
///
/// ```
/// use coap_codec::Block;
/// let b = Block::new(3, true, 6).unwrap(); // block 3 of 1024-byte blocks
/// assert_eq!(b.size(), 1024);
/// assert_eq!(b.offset(), 3072);
/// assert_eq!(Block::from_value(&b.to_uint().to_be_bytes()[1..]).unwrap(), b);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Block {
    num: u32,
    more: bool,
    szx: u8,
}

impl Block {
    /// Largest block number: 20 bits.
    pub const MAX_NUM: u32 = (1 << 20) - 1;
    /// Largest size exponent over UDP (1024-byte blocks); 7 is reserved
    /// (BERT over reliable transports, RFC 8323 §6).
    pub const MAX_SZX: u8 = 6;

    /// A block, or `None` when `num` exceeds 20 bits or `szx` exceeds 6.
    pub const fn new(num: u32, more: bool, szx: u8) -> Option<Self> {
        if num > Self::MAX_NUM || szx > Self::MAX_SZX {
            return None;
        }
        Some(Self { num, more, szx })
    }

    /// The smallest `szx` whose block size is at least `size`, capped at
    /// 1024 bytes (`size_to_szx(64) == 2`).
    pub const fn size_to_szx(size: usize) -> u8 {
        let mut szx = 0;
        while szx < Self::MAX_SZX && (16usize << szx) < size {
            szx += 1;
        }
        szx
    }

    /// Decodes an option value of 0-3 bytes.
    ///
    /// # Errors
    /// [`OptionValueError::BadLength`] for more than 3 bytes,
    /// [`OptionValueError::ReservedBlockSize`] for SZX 7.
    pub fn from_value(v: &[u8]) -> Result<Self, OptionValueError> {
        let raw = match decode_uint(v) {
            Some(raw) if v.len() <= 3 => raw as u32,
            _ => {
                return Err(OptionValueError::BadLength {
                    number: 0,
                    len: v.len(),
                    min: 0,
                    max: 3,
                })
            }
        };
        let szx = (raw & 0x7) as u8;
        if szx == 7 {
            return Err(OptionValueError::ReservedBlockSize);
        }
        Ok(Self {
            num: raw >> 4,
            more: raw & 0x8 != 0,
            szx,
        })
    }

    /// The uint to put on the wire.
    pub const fn to_uint(self) -> u32 {
        (self.num << 4) | ((self.more as u32) << 3) | self.szx as u32
    }

    /// Block number.
    pub const fn num(self) -> u32 {
        self.num
    }

    /// More blocks follow (Block1 in a request, Block2 in a response), or in
    /// a Block1 response "the server wants more".
    pub const fn more(self) -> bool {
        self.more
    }

    /// Size exponent (0-6): size is `2^(szx + 4)`.
    pub const fn szx(self) -> u8 {
        self.szx
    }

    /// Block size in bytes (16-1024).
    pub const fn size(self) -> usize {
        16 << self.szx
    }

    /// Byte offset of this block in the body.
    pub const fn offset(self) -> usize {
        self.num as usize * self.size()
    }

    /// This block with the more flag set to `more`.
    #[must_use]
    pub const fn with_more(self, more: bool) -> Self {
        Self { more, ..self }
    }

    /// The next block with the same size, or `None` past 20 bits.
    pub const fn next(self) -> Option<Self> {
        Self::new(self.num + 1, false, self.szx)
    }
}

/// The No-Response option (RFC 7967 §2): which response classes the client
/// is not interested in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct NoResponse(pub u8);

impl NoResponse {
    /// Suppress 2.xx responses.
    pub const SUCCESS: Self = Self(0x02);
    /// Suppress 4.xx responses.
    pub const CLIENT_ERROR: Self = Self(0x08);
    /// Suppress 5.xx responses.
    pub const SERVER_ERROR: Self = Self(0x10);
    /// Suppress all responses.
    pub const ALL: Self = Self(0x1a);

    /// Whether a response of class `class` (2, 4 or 5) is suppressed.
    pub const fn suppresses(self, class: u8) -> bool {
        match class {
            2 => self.0 & 0x02 != 0,
            4 => self.0 & 0x08 != 0,
            5 => self.0 & 0x10 != 0,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_round_trips_in_shortest_form() {
        for v in [0u64, 1, 255, 256, 65535, 65536, 1 << 24, u64::MAX] {
            let e = encode_uint(v);
            assert_eq!(decode_uint(e.as_bytes()), Some(v));
            assert!(e.as_bytes().first() != Some(&0));
        }
        assert_eq!(decode_uint(&[0, 0, 5]), Some(5));
    }

    #[test]
    fn block_rfc7959_figure_examples() {
        // RFC 7959 §2.2: Block2 0/1/128 is (num 0, more 1, szx 3).
        let b = Block::from_value(&[0x0b]).unwrap();
        assert_eq!((b.num(), b.more(), b.size()), (0, true, 128));
        // 2:0/128 from the Figure 2 exchange.
        let b = Block::from_value(&[0x23]).unwrap();
        assert_eq!((b.num(), b.more(), b.size()), (2, false, 128));
        assert_eq!(
            Block::from_value(&[0x07]),
            Err(OptionValueError::ReservedBlockSize)
        );
        assert!(Block::from_value(&[1, 2, 3, 4]).is_err());
        assert_eq!(
            Block::from_value(&[]).unwrap(),
            Block::new(0, false, 0).unwrap()
        );
    }

    #[test]
    fn block_bounds() {
        assert!(Block::new(Block::MAX_NUM, false, 6).is_some());
        assert!(Block::new(Block::MAX_NUM + 1, false, 6).is_none());
        assert!(Block::new(0, false, 7).is_none());
        assert_eq!(Block::new(Block::MAX_NUM, false, 0).unwrap().next(), None);
        assert_eq!(Block::size_to_szx(64), 2);
        assert_eq!(Block::size_to_szx(1), 0);
        assert_eq!(Block::size_to_szx(4096), 6);
    }

    #[test]
    fn no_response_classes() {
        assert!(NoResponse::ALL.suppresses(2));
        assert!(NoResponse::ALL.suppresses(5));
        assert!(!NoResponse::SUCCESS.suppresses(4));
        assert!(!NoResponse::default().suppresses(2));
    }
}
