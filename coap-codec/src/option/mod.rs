//! Options: numbers and their properties, the zero-copy option view, and
//! typed values (RFC 7252 §3.1, §5.4, §5.10 and the RFCs that registered
//! further options).

mod delta;
mod typed;
mod value;

pub(crate) use delta::{encode_option_header, option_header_len};
pub use value::{decode_uint, encode_uint, Block, NoResponse, UintBuf};

use crate::parse;
use crate::DecodeError;

/// The value format of an option (RFC 7252 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OptionFormat {
    /// Zero-length value.
    Empty,
    /// Opaque bytes.
    Opaque,
    /// Non-negative integer, big-endian, shortest form.
    Uint,
    /// UTF-8 string (Net-Unicode).
    String,
}

/// A CoAP option number. A newtype, so unregistered numbers round-trip.
///
/// Its properties come from the number itself (RFC 7252 §5.4.6) and, for
/// registered options, from the registry (name, format, length bounds,
/// repeatability).
///
/// ```
/// use coap_codec::OptionNumber;
/// assert!(OptionNumber::URI_PATH.is_critical());
/// assert!(OptionNumber::URI_PATH.is_unsafe());
/// assert!(OptionNumber::SIZE1.is_no_cache_key());
/// assert!(OptionNumber::ETAG.is_repeatable());
/// assert_eq!(OptionNumber::BLOCK2.name(), Some("Block2"));
/// assert_eq!(OptionNumber::ECHO.length_bounds(), (1, 40));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptionNumber(pub u16);

macro_rules! options {
    ($( $(#[$m:meta])* $name:ident = ($n:literal, $text:literal, $fmt:ident, $min:literal, $max:literal, $rep:literal); )*) => {
        impl OptionNumber {
            $( $(#[$m])* #[doc = concat!("`", $n, "` ", $text)]
               pub const $name: Self = Self($n); )*

            /// The registered name ("Uri-Path"), if registered.
            pub const fn name(self) -> Option<&'static str> {
                match self { $( Self::$name => Some($text), )* _ => None }
            }

            /// The registered value format, if registered.
            pub const fn format(self) -> Option<OptionFormat> {
                match self { $( Self::$name => Some(OptionFormat::$fmt), )* _ => None }
            }

            /// The registered value length bounds `(min, max)` in bytes;
            /// `(0, 65535)` for an unregistered option.
            pub const fn length_bounds(self) -> (u16, u16) {
                match self { $( Self::$name => ($min, $max), )* _ => (0, u16::MAX) }
            }

            /// Whether the option may appear more than once.
            pub const fn is_repeatable(self) -> bool {
                match self { $( Self::$name => $rep, )* _ => true }
            }

            /// Whether this crate knows the option (it is registered with IANA
            /// and listed here). An endpoint rejects a critical option that is
            /// not recognised (RFC 7252 §5.4.1).
            pub const fn is_registered(self) -> bool {
                self.name().is_some()
            }

            /// Every registered option, in number order.
            pub const REGISTERED: &'static [Self] = &[ $( Self::$name, )* ];
        }
    };
}

options! {
    /// RFC 7252 §5.10.8.1.
    IF_MATCH = (1, "If-Match", Opaque, 0, 8, true);
    /// RFC 7252 §5.10.1.
    URI_HOST = (3, "Uri-Host", String, 1, 255, false);
    /// RFC 7252 §5.10.6.
    ETAG = (4, "ETag", Opaque, 1, 8, true);
    /// RFC 7252 §5.10.8.2.
    IF_NONE_MATCH = (5, "If-None-Match", Empty, 0, 0, false);
    /// RFC 7641 §2.
    OBSERVE = (6, "Observe", Uint, 0, 3, false);
    /// RFC 7252 §5.10.1.
    URI_PORT = (7, "Uri-Port", Uint, 0, 2, false);
    /// RFC 7252 §5.10.7.
    LOCATION_PATH = (8, "Location-Path", String, 0, 255, true);
    /// RFC 8613 §2: carried as opaque bytes.
    OSCORE = (9, "OSCORE", Opaque, 0, 255, false);
    /// RFC 7252 §5.10.1.
    URI_PATH = (11, "Uri-Path", String, 0, 255, true);
    /// RFC 7252 §5.10.3.
    CONTENT_FORMAT = (12, "Content-Format", Uint, 0, 2, false);
    /// RFC 7252 §5.10.5 (default 60 s).
    MAX_AGE = (14, "Max-Age", Uint, 0, 4, false);
    /// RFC 7252 §5.10.1.
    URI_QUERY = (15, "Uri-Query", String, 0, 255, true);
    /// RFC 8768 §3.
    HOP_LIMIT = (16, "Hop-Limit", Uint, 1, 1, false);
    /// RFC 7252 §5.10.4.
    ACCEPT = (17, "Accept", Uint, 0, 2, false);
    /// RFC 9177 §4.
    Q_BLOCK1 = (19, "Q-Block1", Uint, 0, 3, false);
    /// RFC 7252 §5.10.7.
    LOCATION_QUERY = (20, "Location-Query", String, 0, 255, true);
    /// RFC 9668 §3.1.
    EDHOC = (21, "EDHOC", Empty, 0, 0, false);
    /// RFC 7959 §2.1.
    BLOCK2 = (23, "Block2", Uint, 0, 3, false);
    /// RFC 7959 §2.1.
    BLOCK1 = (27, "Block1", Uint, 0, 3, false);
    /// RFC 7959 §4.
    SIZE2 = (28, "Size2", Uint, 0, 4, false);
    /// RFC 9177 §4.
    Q_BLOCK2 = (31, "Q-Block2", Uint, 0, 3, true);
    /// RFC 7252 §5.10.2.
    PROXY_URI = (35, "Proxy-Uri", String, 1, 1034, false);
    /// RFC 7252 §5.10.2.
    PROXY_SCHEME = (39, "Proxy-Scheme", String, 1, 255, false);
    /// RFC 7252 §5.10.9.
    SIZE1 = (60, "Size1", Uint, 0, 4, false);
    /// RFC 9175 §2.2.
    ECHO = (252, "Echo", Opaque, 1, 40, false);
    /// RFC 7967 §2.
    NO_RESPONSE = (258, "No-Response", Uint, 0, 1, false);
    /// RFC 9175 §3.2.
    REQUEST_TAG = (292, "Request-Tag", Opaque, 0, 8, true);
}

impl OptionNumber {
    /// Critical (odd number): a receiver that does not recognise it must
    /// reject the message (RFC 7252 §5.4.1).
    pub const fn is_critical(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// Elective (even number): unrecognised ones are silently ignored.
    pub const fn is_elective(self) -> bool {
        !self.is_critical()
    }

    /// Unsafe to forward: a proxy that does not understand it must not
    /// forward the request (RFC 7252 §5.4.2).
    pub const fn is_unsafe(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// Safe-to-forward and not part of the cache key (RFC 7252 §5.4.6).
    pub const fn is_no_cache_key(self) -> bool {
        self.0 & 0x1e == 0x1c
    }

    /// Whether a value of `len` bytes is within the registered bounds. An
    /// option outside them is treated like an unrecognised option
    /// (RFC 7252 §5.4.3).
    pub const fn accepts_length(self, len: usize) -> bool {
        let (min, max) = self.length_bounds();
        len >= min as usize && len <= max as usize
    }
}

impl core::fmt::Debug for OptionNumber {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{}({})", n, self.0),
            None => write!(f, "Option({})", self.0),
        }
    }
}

impl core::fmt::Display for OptionNumber {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

impl From<u16> for OptionNumber {
    fn from(v: u16) -> Self {
        Self(v)
    }
}

/// One option of a decoded message: its number and a slice of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CoapOption<'a> {
    /// The option number.
    pub number: OptionNumber,
    /// The raw value bytes.
    pub value: &'a [u8],
}

impl<'a> CoapOption<'a> {
    /// The value as a uint (RFC 7252 §3.2), for any length up to 8 bytes.
    pub fn as_uint(&self) -> Option<u64> {
        decode_uint(self.value)
    }

    /// The value as UTF-8, if it is.
    pub fn as_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.value).ok()
    }
}

/// The options of a decoded message: a validated, zero-copy view over the
/// bytes between the token and the payload marker.
///
/// Iterating yields options in wire order (ascending numbers, repeated
/// options in the order sent). Lookups walk the list and stop early once
/// past the number sought; CoAP messages carry a handful of options.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Options<'a> {
    data: &'a [u8],
}

impl<'a> Options<'a> {
    /// Wraps an option region already checked by [`scan`].
    pub(crate) const fn new_validated(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// An iterator over every option.
    pub fn iter(&self) -> OptionsIter<'a> {
        OptionsIter {
            rest: self.data,
            number: 0,
        }
    }

    /// True when the message carries no options.
    pub const fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Number of options (walks the list).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// The raw option bytes, as on the wire.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The first value of option `number`.
    pub fn get(&self, number: OptionNumber) -> Option<&'a [u8]> {
        self.get_all(number).next()
    }

    /// Every value of option `number`, in order.
    pub fn get_all(&self, number: OptionNumber) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .take_while(move |o| o.number <= number)
            .filter(move |o| o.number == number)
            .map(|o| o.value)
    }

    /// Whether option `number` is present.
    pub fn contains(&self, number: OptionNumber) -> bool {
        self.get(number).is_some()
    }

    /// The first critical option this crate does not recognise, or whose
    /// value length is outside its registered bounds. RFC 7252 §5.4.1: a
    /// CON request with one is answered 4.02 Bad Option, a CON response
    /// with RST, and a NON is dropped.
    pub fn unrecognized_critical(&self) -> Option<OptionNumber> {
        self.iter()
            .find(|o| {
                o.number.is_critical()
                    && (!o.number.is_registered() || !o.number.accepts_length(o.value.len()))
            })
            .map(|o| o.number)
    }

    /// The first critical option that `understood` rejects, or whose value
    /// length is outside its registered bounds. Unlike
    /// [`Options::unrecognized_critical`], which takes every registered
    /// option as understood, this lets an endpoint that does not implement,
    /// say, Block1 or OSCORE answer 4.02 for them (RFC 7252 §5.4.1).
    ///
    /// ```
    /// use coap_codec::{Message, MessageBuilder, MessageType, Code, OptionNumber, Block};
    /// let b = MessageBuilder::new(MessageType::Confirmable, Code::PUT)
    ///     .block1(Block::new(0, true, 2).unwrap())
    ///     .to_bytes()
    ///     .unwrap();
    /// let m = Message::decode(b).unwrap();
    /// assert_eq!(m.options().unrecognized_critical(), None);
    /// let no_blocks = |n: OptionNumber| n != OptionNumber::BLOCK1 && n.is_registered();
    /// assert_eq!(m.options().critical_not_understood(no_blocks), Some(OptionNumber::BLOCK1));
    /// ```
    pub fn critical_not_understood(
        &self,
        understood: impl Fn(OptionNumber) -> bool,
    ) -> Option<OptionNumber> {
        self.iter()
            .find(|o| {
                o.number.is_critical()
                    && (!understood(o.number) || !o.number.accepts_length(o.value.len()))
            })
            .map(|o| o.number)
    }

    /// Like [`Options::unrecognized_critical`], but `known` says which
    /// unregistered critical options the application does understand.
    pub fn unrecognized_critical_except(
        &self,
        known: impl Fn(OptionNumber) -> bool,
    ) -> Option<OptionNumber> {
        self.iter()
            .find(|o| {
                o.number.is_critical()
                    && !known(o.number)
                    && (!o.number.is_registered() || !o.number.accepts_length(o.value.len()))
            })
            .map(|o| o.number)
    }
}

impl core::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Options<'a> {
    type Item = CoapOption<'a>;
    type IntoIter = OptionsIter<'a>;
    fn into_iter(self) -> OptionsIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Options<'a> {
    type Item = CoapOption<'a>;
    type IntoIter = OptionsIter<'a>;
    fn into_iter(self) -> OptionsIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Options`].
#[derive(Debug, Clone)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
    number: u32,
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = CoapOption<'a>;

    #[inline]
    fn next(&mut self) -> Option<CoapOption<'a>> {
        // The region was validated by `scan`, so this cannot fail; on
        // corrupt input it ends the iteration rather than panic.
        let (rest, delta, value) = next_option(self.rest).ok()??;
        self.number += delta;
        self.rest = rest;
        Some(CoapOption {
            number: OptionNumber(u16::try_from(self.number).ok()?),
            value,
        })
    }
}

/// Reasons [`next_option`] stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptionFault {
    ReservedDelta,
    ReservedLength,
    Truncated,
}

/// What [`next_option`] read: the rest of the input, the delta and the value.
type RawOption<'a> = (&'a [u8], u32, &'a [u8]);

/// Reads one option header and value: `Ok(None)` at the end of input or at
/// the payload marker (which the caller detects separately).
#[inline(always)]
fn next_option(i: &[u8]) -> Result<Option<RawOption<'_>>, OptionFault> {
    let Some((&first, rest)) = i.split_first() else {
        return Ok(None);
    };
    if first == 0xff {
        return Ok(None);
    }
    let (dn, ln) = (first >> 4, first & 0x0f);
    if dn == 15 {
        return Err(OptionFault::ReservedDelta);
    }
    if ln == 15 {
        return Err(OptionFault::ReservedLength);
    }
    // Most options have a small delta and length: no extended bytes.
    let (rest, delta, len) = if dn < 13 && ln < 13 {
        (rest, u32::from(dn), usize::from(ln))
    } else {
        let (rest, delta) = parse::extended(dn, rest).map_err(|_| OptionFault::Truncated)?;
        let (rest, len) = parse::extended(ln, rest).map_err(|_| OptionFault::Truncated)?;
        (rest, delta, len as usize)
    };
    if rest.len() < len {
        return Err(OptionFault::Truncated);
    }
    let (value, rest) = rest.split_at(len);
    Ok(Some((rest, delta, value)))
}

/// Validates the options starting at `start` in `buf` and finds the
/// payload. Returns `(options_end, payload_start)`; `payload_start ==
/// buf.len()` when there is no payload.
pub(crate) fn scan(buf: &[u8], start: usize) -> Result<(usize, usize), DecodeError> {
    let mut offset = start;
    let mut number: u32 = 0;
    loop {
        let rest = &buf[offset..];
        match rest.first() {
            None => return Ok((offset, offset)),
            Some(0xff) => {
                if rest.len() == 1 {
                    return Err(DecodeError::EmptyPayload { offset });
                }
                return Ok((offset, offset + 1));
            }
            Some(_) => {}
        }
        match next_option(rest) {
            Ok(Some((after, delta, _))) => {
                number += delta;
                if number > u32::from(u16::MAX) {
                    return Err(DecodeError::OptionNumberOverflow { offset });
                }
                offset = buf.len() - after.len();
            }
            Ok(None) => return Ok((offset, offset)),
            Err(OptionFault::ReservedDelta) => {
                return Err(DecodeError::ReservedOptionDelta { offset })
            }
            Err(OptionFault::ReservedLength) => {
                return Err(DecodeError::ReservedOptionLength { offset })
            }
            Err(OptionFault::Truncated) => return Err(DecodeError::TruncatedOption { offset }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(b: &[u8]) -> Options<'_> {
        let (end, _) = scan(b, 0).unwrap();
        Options::new_validated(&b[..end])
    }

    #[test]
    fn properties_follow_the_number_bits() {
        // RFC 7252 §5.10 table: C U N R columns.
        assert!(OptionNumber::IF_MATCH.is_critical());
        assert!(!OptionNumber::ETAG.is_critical());
        assert!(OptionNumber::MAX_AGE.is_unsafe());
        assert!(!OptionNumber::CONTENT_FORMAT.is_unsafe());
        assert!(OptionNumber::SIZE2.is_no_cache_key());
        assert!(OptionNumber::ECHO.is_no_cache_key());
        assert!(!OptionNumber::URI_QUERY.is_no_cache_key());
        assert!(OptionNumber::PROXY_URI.is_critical() && OptionNumber::PROXY_URI.is_unsafe());
    }

    #[test]
    fn registry_is_sorted_and_named() {
        let r = OptionNumber::REGISTERED;
        assert!(r.windows(2).all(|w| w[0] < w[1]));
        assert!(r.iter().all(|o| o.name().is_some() && o.format().is_some()));
        assert_eq!(OptionNumber(2048).name(), None);
        assert!(OptionNumber(2048).is_repeatable());
    }

    #[test]
    fn extended_delta_and_length_forms_decode() {
        // delta 13+2=15 (ext 1 byte), length 1; then delta 269+0 (ext 2 bytes).
        let b = [0xd1, 0x02, 0xaa, 0xe0, 0x00, 0x00];
        let v: alloc::vec::Vec<_> = opts(&b).iter().collect();
        assert_eq!(v[0].number, OptionNumber(15));
        assert_eq!(v[0].value, &[0xaa]);
        assert_eq!(v[1].number, OptionNumber(15 + 269));
        assert!(v[1].value.is_empty());
    }

    #[test]
    fn get_all_returns_repeated_values_in_order() {
        // Uri-Path "a", Uri-Path "bc", Uri-Query "x"
        let b = [0xb1, b'a', 0x02, b'b', b'c', 0x41, b'x'];
        let o = opts(&b);
        let paths: alloc::vec::Vec<_> = o.get_all(OptionNumber::URI_PATH).collect();
        assert_eq!(paths, [&b"a"[..], &b"bc"[..]]);
        assert_eq!(o.get(OptionNumber::URI_QUERY), Some(&b"x"[..]));
        assert_eq!(o.get(OptionNumber::ETAG), None);
        assert_eq!(o.len(), 3);
    }

    #[test]
    fn unknown_critical_option_is_reported() {
        // Option 2049 (odd: critical, unregistered): delta 2049 = 269 + 1780.
        let d = 2049u16 - 269;
        let b = [0xe0, (d >> 8) as u8, d as u8];
        assert_eq!(opts(&b).unrecognized_critical(), Some(OptionNumber(2049)));
        assert_eq!(opts(&b).unrecognized_critical_except(|n| n.0 == 2049), None);
        // An elective unknown option is fine.
        let d = 2048u16 - 269;
        let b = [0xe0, (d >> 8) as u8, d as u8];
        assert_eq!(opts(&b).unrecognized_critical(), None);
    }

    #[test]
    fn critical_option_of_bad_length_counts_as_unrecognized() {
        // Uri-Port (7) with 3 bytes: max is 2.
        let b = [0x73, 1, 2, 3];
        assert_eq!(
            opts(&b).unrecognized_critical(),
            Some(OptionNumber::URI_PORT)
        );
    }

    #[test]
    fn scan_reports_each_fault_with_its_offset() {
        assert_eq!(
            scan(&[0x00, 0xf0], 0),
            Err(DecodeError::ReservedOptionDelta { offset: 1 })
        );
        assert_eq!(
            scan(&[0x1f], 0),
            Err(DecodeError::ReservedOptionLength { offset: 0 })
        );
        assert_eq!(
            scan(&[0x12, 0x00], 0),
            Err(DecodeError::TruncatedOption { offset: 0 })
        );
        assert_eq!(
            scan(&[0xd0], 0),
            Err(DecodeError::TruncatedOption { offset: 0 })
        );
        assert_eq!(
            scan(&[0xff], 0),
            Err(DecodeError::EmptyPayload { offset: 0 })
        );
        // 65535 + 269 + ... overflow: two 2-byte-extended deltas of 65535+269.
        assert_eq!(
            scan(&[0xe0, 0xff, 0xff, 0xe0, 0xff, 0xff], 0),
            Err(DecodeError::OptionNumberOverflow { offset: 0 })
        );
        assert_eq!(scan(&[0x10, 0xff, 1, 2], 0), Ok((1, 2)));
    }
}
