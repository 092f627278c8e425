//! Data representations of MQTT 5.0 §1.5: variable byte integers and UTF-8
//! strings (with the specification's extra rules).

use alloc::string::String;
use bytes::{BufMut, Bytes};
use core::fmt;

/// Largest value a variable byte integer carries (MQTT 5.0 §1.5.5).
pub const VARINT_MAX: u32 = 268_435_455;

/// Decodes a variable byte integer (MQTT 5.0 §1.5.5) from the start of `buf`.
///
/// Returns `Ok(None)` if `buf` ends before the integer does, otherwise the
/// value and the number of bytes it took.
///
/// # Errors
/// `Err(())` if it has more than four bytes or is not minimally encoded
/// (MQTT-1.5.5-1).
#[allow(clippy::result_unit_err)]
#[inline]
pub fn decode_varint(buf: &[u8]) -> Result<Option<(u32, usize)>, ()> {
    let mut value: u32 = 0;
    for i in 0..4 {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && b == 0 {
                return Err(());
            }
            return Ok(Some((value, i + 1)));
        }
    }
    Err(())
}

/// Number of bytes the variable byte integer `value` takes on the wire.
#[must_use]
pub const fn varint_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes `value` (at most [`VARINT_MAX`]) as a variable byte integer.
pub(crate) fn put_varint(buf: &mut impl BufMut, mut value: usize) {
    loop {
        let mut b = (value & 0x7f) as u8;
        value >>= 7;
        if value > 0 {
            b |= 0x80;
        }
        buf.put_u8(b);
        if value == 0 {
            break;
        }
    }
}

/// Why a string is not a valid MQTT UTF-8 string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StringError {
    /// Longer than 65,535 bytes.
    #[error("string of {len} bytes exceeds 65535")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// Contains U+0000 (MQTT-1.5.4-2).
    #[error("string contains U+0000")]
    NullCharacter,
    /// Not well-formed UTF-8 (which includes surrogate code points, MQTT-1.5.4-1).
    #[error("string is not well-formed UTF-8")]
    InvalidUtf8,
}

/// Checks the rules MQTT 5.0 §1.5.4 makes normative: well-formed UTF-8 (no
/// surrogates), no U+0000, at most 65,535 bytes.
///
/// # Errors
/// The first rule broken.
pub fn validate_utf8(bytes: &[u8]) -> Result<&str, StringError> {
    if bytes.len() > usize::from(u16::MAX) {
        return Err(StringError::TooLong { len: bytes.len() });
    }
    let s = core::str::from_utf8(bytes).map_err(|_| StringError::InvalidUtf8)?;
    if bytes.contains(&0) {
        return Err(StringError::NullCharacter);
    }
    Ok(s)
}

/// [`validate_utf8`] for fields whose length fits two bytes, with a
/// word-at-a-time pass for the common all-ASCII, NUL-free case; only other
/// strings go through `core::str::from_utf8` and a NUL search. Same result
/// as `validate_utf8(b).map(drop)` for `b.len() <= 65535`.
#[inline]
pub(crate) fn check_utf8_fast(b: &[u8]) -> Result<(), StringError> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte: non-ASCII (the byte itself) or NUL (borrow
    // trick, exact for "any").
    let word = |x: u64| x | (x.wrapping_sub(LO) & !x);
    let n = b.len();
    let acc = if n >= 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[n - 8..]);
        let mut acc = word(u64::from_le_bytes(w));
        let mut i = 0;
        while i + 8 < n {
            w.copy_from_slice(&b[i..i + 8]);
            acc |= word(u64::from_le_bytes(w));
            i += 8;
        }
        acc
    } else {
        word(crate::topic::short_word(b))
    };
    if acc & HI == 0 {
        return Ok(());
    }
    validate_utf8(b).map(drop)
}

/// Whether `s` contains code points MQTT 5.0 §1.5.4 says a sender SHOULD NOT
/// use and a receiver MAY treat as malformed: control characters U+0001–U+001F
/// and U+007F–U+009F, and the non-characters (U+FDD0–U+FDEF and every code
/// point ending in FFFE or FFFF).
///
/// The decoder accepts them; a server wanting Mosquitto's stricter policy
/// calls this on client identifiers, topics and user names.
///
/// ```
/// assert!(mqtt_codec::has_discouraged_code_points("a\u{1}b"));
/// assert!(!mqtt_codec::has_discouraged_code_points("sensors/température"));
/// ```
#[must_use]
pub fn has_discouraged_code_points(s: &str) -> bool {
    s.chars().any(|c| {
        let c = u32::from(c);
        matches!(c, 0x01..=0x1f | 0x7f..=0x9f | 0xfdd0..=0xfdef) || c & 0xfffe == 0xfffe
    })
}

/// A UTF-8 string as MQTT carries it (MQTT 5.0 §1.5.4): validated once,
/// stored as a zero-copy [`Bytes`] slice of the packet.
///
/// ```
/// use mqtt_codec::Utf8String;
/// let s = Utf8String::try_from("sensors/1").unwrap();
/// assert_eq!(s.as_str(), "sensors/1");
/// assert!(Utf8String::try_from("a\0b").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Utf8String(Bytes);

impl Utf8String {
    /// A string from a static `&str`.
    ///
    /// # Panics
    /// If `s` breaks a rule of [`validate_utf8`] (contains U+0000 or is too long).
    #[must_use]
    pub fn from_static(s: &'static str) -> Self {
        assert!(validate_utf8(s.as_bytes()).is_ok(), "invalid MQTT string");
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// Validates `bytes` and wraps them without copying.
    ///
    /// # Errors
    /// [`StringError`] if the bytes break a rule of MQTT 5.0 §1.5.4.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, StringError> {
        validate_utf8(&bytes)?;
        Ok(Self(bytes))
    }

    /// Wraps bytes already validated by [`validate_utf8`].
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// The string.
    ///
    /// This re-runs `core::str::from_utf8` (fast, but linear): the crate
    /// forbids `unsafe`, so it cannot skip the check it already made. Hold
    /// on to the `&str` in loops; [`Utf8String::as_bytes`] is free.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Every constructor validates, so this never takes the error branch.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The underlying bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The underlying bytes, by value.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl core::ops::Deref for Utf8String {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8String {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8String {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for Utf8String {
    type Error = StringError;
    fn try_from(s: &str) -> Result<Self, StringError> {
        validate_utf8(s.as_bytes())?;
        Ok(Self(Bytes::copy_from_slice(s.as_bytes())))
    }
}

impl TryFrom<String> for Utf8String {
    type Error = StringError;
    fn try_from(s: String) -> Result<Self, StringError> {
        validate_utf8(s.as_bytes())?;
        Ok(Self(Bytes::from(s.into_bytes())))
    }
}

impl PartialEq<str> for Utf8String {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8String {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn varint_examples_from_the_spec_table() {
        for (value, bytes) in [
            (0u32, &[0x00][..]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
        ] {
            assert_eq!(decode_varint(bytes), Ok(Some((value, bytes.len()))));
            let mut out = Vec::new();
            put_varint(&mut out, value as usize);
            assert_eq!(out, bytes);
            assert_eq!(varint_len(value as usize), bytes.len());
        }
    }

    #[test]
    fn varint_of_five_bytes_is_malformed() {
        assert_eq!(decode_varint(&[0x80, 0x80, 0x80, 0x80, 0x01]), Err(()));
    }

    #[test]
    fn varint_not_minimal_is_malformed() {
        assert_eq!(decode_varint(&[0x80, 0x00]), Err(()));
    }

    #[test]
    fn varint_partial_needs_more() {
        assert_eq!(decode_varint(&[0x80, 0x80]), Ok(None));
        assert_eq!(decode_varint(&[]), Ok(None));
    }

    #[test]
    fn strings_reject_nul_surrogates_and_overlong() {
        assert_eq!(validate_utf8(b"a\0"), Err(StringError::NullCharacter));
        assert_eq!(
            validate_utf8(&[0xed, 0xa0, 0x80]),
            Err(StringError::InvalidUtf8)
        );
        let long = alloc::vec![b'a'; 65_536];
        assert_eq!(
            validate_utf8(&long),
            Err(StringError::TooLong { len: 65_536 })
        );
        assert_eq!(validate_utf8("A\u{2A6D4}".as_bytes()), Ok("A\u{2A6D4}"));
    }

    #[test]
    fn fast_utf8_check_agrees_with_validate_utf8() {
        let probes: [&[u8]; 6] = [
            b"\0",
            b"\x7f",
            b"\x80",
            "é".as_bytes(),
            b"\xed\xa0\x80",
            b"\x01",
        ];
        for n in 0..=20 {
            for pos in 0..=n {
                for p in probes {
                    let mut b = alloc::vec![b'a'; n];
                    b.splice(pos..pos, p.iter().copied());
                    assert_eq!(check_utf8_fast(&b), validate_utf8(&b).map(drop), "{b:?}");
                }
            }
        }
    }

    #[test]
    fn discouraged_code_points_are_flagged_but_valid() {
        for s in [
            "a\u{1f}",
            "\u{7f}",
            "\u{9f}",
            "\u{ffff}",
            "\u{fdd0}",
            "\u{10fffe}",
        ] {
            assert!(has_discouraged_code_points(s), "{s:?}");
            assert!(validate_utf8(s.as_bytes()).is_ok());
        }
        assert!(!has_discouraged_code_points("\u{a0}\u{fffd}"));
    }
}
