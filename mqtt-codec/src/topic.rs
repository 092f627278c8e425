//! Topic names, topic filters, matching and shared subscriptions
//! (MQTT 5.0 §4.7 and §4.8.2).

/// Why a topic name or filter is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Topic names and filters are at least one character long (MQTT-4.7.3-1).
    #[error("empty topic")]
    Empty,
    /// Longer than 65,535 bytes (MQTT-4.7.3-3).
    #[error("topic longer than 65535 bytes")]
    TooLong,
    /// Contains U+0000 (MQTT-4.7.3-2).
    #[error("topic contains U+0000")]
    NullCharacter,
    /// A topic name contains `+` or `#` (MQTT-3.3.2-2).
    #[error("wildcard in a topic name")]
    WildcardInName,
    /// `#` that is not a whole, last level (MQTT-4.7.1-1).
    #[error("'#' must be a whole last level")]
    MisplacedMultiLevelWildcard,
    /// `+` that is not a whole level (MQTT-4.7.1-2).
    #[error("'+' must be a whole level")]
    MisplacedSingleLevelWildcard,
    /// `$share/` with an empty or wildcard share name, or no filter (MQTT 5.0 §4.8.2).
    #[error("invalid shared subscription")]
    InvalidSharedSubscription,
}

/// Checks a topic name (the topic of a PUBLISH or will): not empty, no
/// wildcards, no U+0000, at most 65,535 bytes.
///
/// # Errors
/// The first rule broken.
///
/// ```
/// use mqtt_codec::topic::{validate_topic_name, TopicError};
/// assert!(validate_topic_name("sport/tennis/player1").is_ok());
/// assert_eq!(validate_topic_name("sport/+"), Err(TopicError::WildcardInName));
/// ```
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    check_name(name.as_bytes())
}

/// The byte checks of [`validate_topic_name`] without the emptiness rule
/// (a v5 PUBLISH with a Topic Alias may have an empty topic).
pub(crate) fn check_name_bytes(b: &[u8]) -> Result<(), TopicError> {
    if check_name_fast(b).is_some() {
        return Ok(());
    }
    for &c in b {
        match c {
            b'+' | b'#' => return Err(TopicError::WildcardInName),
            0 => return Err(TopicError::NullCharacter),
            _ => {}
        }
    }
    Ok(())
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bytes of `x` that are zero, flagged by their high bit; the lowest flag is exact.
const fn zero_mask(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// Bytes of `x` that are NUL, `+` or `#` (lowest flag exact).
const fn special_mask(x: u64) -> u64 {
    zero_mask(x) | zero_mask(x ^ (LO * b'+' as u64)) | zero_mask(x ^ (LO * b'#' as u64))
}

/// Eight bytes of `b` from `i`, padded with a harmless 0x01 past the end.
#[inline]
fn word_at(b: &[u8], i: usize) -> u64 {
    if let Some(c) = b.get(i..i + 8) {
        return u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    }
    let mut w = LO;
    for (k, &c) in b[i..].iter().enumerate() {
        w ^= u64::from(c ^ 1) << (8 * k);
    }
    w
}

/// Index of the first NUL, `+` or `#` at or after `i`, a word at a time.
#[inline]
fn next_special(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        let m = special_mask(word_at(b, i));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    None
}

/// Eight bytes of `b` from `i` (the caller checked `i + 8 <= b.len()`).
#[inline(always)]
fn load(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

/// Per byte of `x`: the high bit is set where the byte is NUL, `+` or `#`
/// (and possibly above such a byte), so `!= 0` after `& HI` is exact for
/// "any". `+` (0x2B) and `#` (0x23) differ only in bit 3: `x | 0x08`
/// maps both, and nothing else, to 0x2B.
#[inline(always)]
const fn special_any(x: u64) -> u64 {
    let y = (x | (LO * 0x08)) ^ (LO * b'+' as u64);
    (x.wrapping_sub(LO) & !x) | (y.wrapping_sub(LO) & !y)
}

/// One byte of flags for a topic name byte: 0x01 for NUL, `+` or `#`
/// (`+` is 0x2B, `#` is 0x23: `c | 0x08` maps both, and nothing else, to
/// 0x2B), 0x80 for a non-ASCII byte.
#[inline(always)]
const fn name_flags(c: u8) -> u8 {
    ((c == 0) as u8) | (((c | 0x08) == b'+') as u8) | (c & 0x80)
}

/// OR of [`name_flags`] over `b`, which holds at least 16 bytes: 16-byte
/// blocks with lane-wise accumulators (the compiler turns this into vector
/// compares), the last block overlapping the one before.
#[inline(always)]
fn name_flags_16(b: &[u8]) -> u8 {
    let mut acc = [0u8; 16];
    let n = b.len();
    let mut blocks = b.chunks_exact(16);
    for block in &mut blocks {
        add_block(&mut acc, block);
    }
    if !blocks.remainder().is_empty() {
        add_block(&mut acc, &b[n - 16..]);
    }
    acc.iter().fold(0, |x, &y| x | y)
}

/// ORs the [`name_flags`] of a 16-byte block into the lane accumulators.
#[inline(always)]
fn add_block(acc: &mut [u8; 16], block: &[u8]) {
    if let Ok(block) = <&[u8; 16]>::try_from(block) {
        for (a, &c) in acc.iter_mut().zip(block) {
            *a |= name_flags(c);
        }
    }
}

/// The bytes of `b` (shorter than 8) in one word: every byte of `b` occurs
/// in it, possibly twice, and any padding is 0x01 (neither NUL, `+`, `#` nor
/// non-ASCII). Two overlapping 4-byte loads, or three single bytes, instead
/// of a variable-length copy.
#[inline(always)]
pub(crate) fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]);
        return u64::from(lo) | (u64::from(hi) << 32);
    }
    if n == 0 {
        return LO;
    }
    u64::from_le_bytes([b[0], b[n / 2], b[n - 1], 1, 1, 1, 1, 1])
}

/// Word-at-a-time scan of a topic name: `Some(is_ascii)` if it has no
/// U+0000, `+` or `#`, `None` otherwise (the caller then finds which).
///
/// Names of 16 bytes or more go through [`name_flags_16`]; shorter ones
/// are read as two overlapping 8-byte words, or one [`short_word`].
#[inline(always)]
pub(crate) fn check_name_fast(b: &[u8]) -> Option<bool> {
    let n = b.len();
    if n >= 16 {
        let f = name_flags_16(b);
        return if f & 1 != 0 { None } else { Some(f == 0) };
    }
    let (special, high) = if n >= 8 {
        let (x, y) = (load(b, 0), load(b, n - 8));
        (special_any(x) | special_any(y), x | y)
    } else {
        let x = short_word(b);
        (special_any(x), x)
    };
    if special & HI != 0 {
        return None;
    }
    Some(high & HI == 0)
}

/// Checks a topic filter: each `+` is a whole level, `#` is a whole last
/// level, and `$share/<group>/<filter>` has a group without `/`, `+`, `#`
/// and a valid filter after it.
///
/// # Errors
/// The first rule broken.
///
/// ```
/// use mqtt_codec::topic::{validate_topic_filter, TopicError};
/// assert!(validate_topic_filter("sport/+/player1/#").is_ok());
/// assert_eq!(validate_topic_filter("a/#/b"), Err(TopicError::MisplacedMultiLevelWildcard));
/// assert_eq!(validate_topic_filter("a+"), Err(TopicError::MisplacedSingleLevelWildcard));
/// ```
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    check_filter(filter.as_bytes())
}

/// [`validate_topic_filter`] on the bytes of a string known to be UTF-8.
pub(crate) fn check_filter(b: &[u8]) -> Result<(), TopicError> {
    if b.is_empty() {
        return Err(TopicError::Empty);
    }
    if b.len() > usize::from(u16::MAX) {
        return Err(TopicError::TooLong);
    }
    let b = match b.strip_prefix(b"$share/") {
        Some(rest) => {
            let Some(slash) = rest.iter().position(|&c| c == b'/') else {
                return Err(TopicError::InvalidSharedSubscription);
            };
            let (group, filter) = (&rest[..slash], &rest[slash + 1..]);
            if group.is_empty()
                || filter.is_empty()
                || group.iter().any(|c| matches!(c, b'+' | b'#' | 0))
            {
                return Err(TopicError::InvalidSharedSubscription);
            }
            filter
        }
        None => b,
    };
    // A wildcard must be a whole level, and `#` the last one; only the
    // bytes that are NUL, `+` or `#` need a look.
    let mut i = 0;
    while let Some(p) = next_special(b, i) {
        let c = b[p];
        if c == 0 {
            return Err(TopicError::NullCharacter);
        }
        let starts_level = p == 0 || b[p - 1] == b'/';
        let ends_level = p + 1 == b.len() || b[p + 1] == b'/';
        if c == b'#' && !(starts_level && p + 1 == b.len()) {
            return Err(TopicError::MisplacedMultiLevelWildcard);
        }
        if !(starts_level && ends_level) {
            return Err(TopicError::MisplacedSingleLevelWildcard);
        }
        i = p + 1;
    }
    Ok(())
}

/// [`validate_topic_name`] on the bytes of a string known to be UTF-8.
pub(crate) fn check_name(b: &[u8]) -> Result<(), TopicError> {
    if b.is_empty() {
        return Err(TopicError::Empty);
    }
    if b.len() > usize::from(u16::MAX) {
        return Err(TopicError::TooLong);
    }
    check_name_bytes(b)
}

/// Whether topic `name` matches topic `filter` (MQTT 5.0 §4.7).
///
/// `#` matches its parent level and any number of child levels; `+` matches
/// exactly one level. A filter starting with a wildcard does not match a
/// name starting with `$` (MQTT-4.7.2-1). Both arguments are assumed valid;
/// pass a shared subscription's [`SharedSubscription::filter`], not the
/// `$share/...` string.
///
/// ```
/// use mqtt_codec::topic::matches;
/// assert!(matches("sport/tennis/#", "sport/tennis"));
/// assert!(matches("sport/+/player1", "sport/tennis/player1"));
/// assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
/// assert!(matches("$SYS/#", "$SYS/broker/uptime"));
/// ```
#[must_use]
pub fn matches(filter: &str, name: &str) -> bool {
    let (f, n) = (filter.as_bytes(), name.as_bytes());
    if n.first() == Some(&b'$') && matches!(f.first(), Some(b'+' | b'#')) {
        return false;
    }
    let (mut fi, mut ni) = (0, 0);
    loop {
        // Here fi and ni are at the start of a level.
        match f.get(fi) {
            Some(b'#') => return true,
            Some(b'+') => {
                // Skip one name level (possibly empty).
                while ni < n.len() && n[ni] != b'/' {
                    ni += 1;
                }
                fi += 1;
            }
            _ => {
                while fi < f.len() && f[fi] != b'/' {
                    if ni >= n.len() || n[ni] != f[fi] {
                        return false;
                    }
                    fi += 1;
                    ni += 1;
                }
                if ni < n.len() && n[ni] != b'/' {
                    return false;
                }
            }
        }
        match (fi < f.len(), ni < n.len()) {
            (false, false) => return true,
            (true, true) => {
                fi += 1;
                ni += 1;
            }
            (true, false) => {
                // "a/#" matches "a": the filter may end with "/#".
                return &f[fi..] == b"/#";
            }
            (false, true) => return false,
        }
    }
}

/// A shared subscription `$share/<group>/<filter>` (MQTT 5.0 §4.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedSubscription<'a> {
    /// The share name.
    pub group: &'a str,
    /// The topic filter after the share name.
    pub filter: &'a str,
}

impl<'a> SharedSubscription<'a> {
    /// Splits a shared subscription; `Ok(None)` if `filter` does not start with `$share/`.
    ///
    /// # Errors
    /// [`TopicError::InvalidSharedSubscription`] for an empty share name, a
    /// share name with `+` or `#`, or no filter.
    ///
    /// ```
    /// use mqtt_codec::topic::SharedSubscription;
    /// let s = SharedSubscription::parse("$share/consumer1/sport/tennis/+").unwrap().unwrap();
    /// assert_eq!((s.group, s.filter), ("consumer1", "sport/tennis/+"));
    /// assert!(SharedSubscription::parse("$share/g").is_err());
    /// assert_eq!(SharedSubscription::parse("sport/#"), Ok(None));
    /// ```
    pub fn parse(filter: &'a str) -> Result<Option<Self>, TopicError> {
        if filter.as_bytes().first() != Some(&b'$') {
            return Ok(None);
        }
        let Some(rest) = filter.strip_prefix("$share/") else {
            return Ok(None);
        };
        let Some((group, filter)) = rest.split_once('/') else {
            return Err(TopicError::InvalidSharedSubscription);
        };
        if group.is_empty() || group.contains(['+', '#', '\0']) || filter.is_empty() {
            return Err(TopicError::InvalidSharedSubscription);
        }
        Ok(Some(Self { group, filter }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples_of_multi_level_wildcard() {
        for name in [
            "sport/tennis/player1",
            "sport/tennis/player1/ranking",
            "sport/tennis/player1/score/wimbledon",
        ] {
            assert!(matches("sport/tennis/player1/#", name), "{name}");
        }
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "a/b/c"));
        assert!(!matches("sport/tennis/#", "sport/tenni"));
    }

    #[test]
    fn spec_examples_of_single_level_wildcard() {
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(matches("sport/+", "sport/"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(matches("+", ""));
    }

    #[test]
    fn dollar_topics_need_explicit_first_level() {
        assert!(!matches("#", "$SYS/x"));
        assert!(!matches("+/x", "$SYS/x"));
        assert!(matches("$SYS/+", "$SYS/x"));
    }

    #[test]
    fn exact_levels_must_match_exactly() {
        assert!(matches("a/b", "a/b"));
        assert!(!matches("a/b", "a/bc"));
        assert!(!matches("a/bc", "a/b"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
        assert!(matches("a//b", "a//b"));
        assert!(matches("a/+/b", "a//b"));
    }

    #[test]
    fn long_filters_are_checked_across_words() {
        assert!(validate_topic_filter("building/17/+/temperature/#").is_ok());
        assert_eq!(
            validate_topic_filter("building/17/x+/temperature"),
            Err(TopicError::MisplacedSingleLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("building/17/#/temperature"),
            Err(TopicError::MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("building/17/\0/x"),
            Err(TopicError::NullCharacter)
        );
    }

    #[test]
    fn invalid_filters_are_rejected() {
        assert_eq!(
            validate_topic_filter("sport/tennis#"),
            Err(TopicError::MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("sport+"),
            Err(TopicError::MisplacedSingleLevelWildcard)
        );
        assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
        assert!(validate_topic_filter("+").is_ok());
        assert!(validate_topic_filter("+/tennis/#").is_ok());
        assert!(validate_topic_filter("$share/g/#").is_ok());
        assert_eq!(
            validate_topic_filter("$share/g+/x"),
            Err(TopicError::InvalidSharedSubscription)
        );
        assert_eq!(
            validate_topic_filter("$share//x"),
            Err(TopicError::InvalidSharedSubscription)
        );
    }

    #[test]
    fn word_scan_agrees_with_byte_scan() {
        for s in [
            "a",
            "abcdefgh",
            "abcdefgh/ijklmnop/q",
            "abcdefg#",
            "abcdefgh+",
            "ab\0cdefghij",
            "é/ü/ß/très-long-topic",
        ] {
            let slow = s.bytes().all(|c| !matches!(c, 0 | b'+' | b'#'));
            assert_eq!(check_name_fast(s.as_bytes()).is_some(), slow, "{s:?}");
            if let Some(ascii) = check_name_fast(s.as_bytes()) {
                assert_eq!(ascii, s.is_ascii(), "{s:?}");
            }
        }
    }

    /// Every length up to 3 words, every position, the special bytes and
    /// their bitwise near misses (`*`, `,`, `"`, `$`, `!`, `)`, 0x01, 0x08),
    /// and non-ASCII bytes.
    #[test]
    fn word_scan_agrees_with_byte_scan_at_every_position() {
        let probes = [
            0u8, b'+', b'#', b'*', b',', b'"', b'$', b'!', b')', 1, 8, 0x7f, 0x80, 0xab, 0xff,
        ];
        for n in 1..=24 {
            for pos in 0..n {
                for &p in &probes {
                    let mut b = alloc::vec![b'a'; n];
                    b[pos] = p;
                    let special = b.iter().any(|c| matches!(c, 0 | b'+' | b'#'));
                    let got = check_name_fast(&b);
                    assert_eq!(got.is_none(), special, "{b:?}");
                    if let Some(ascii) = got {
                        assert_eq!(ascii, b.is_ascii(), "{b:?}");
                    }
                }
            }
        }
        assert_eq!(check_name_fast(b""), Some(true));
    }

    proptest::proptest! {
        #[test]
        fn word_scan_agrees_with_byte_scan_on_any_bytes(
            b in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just(0u8),
                    proptest::prelude::Just(b'+'),
                    proptest::prelude::Just(b'#'),
                    proptest::prelude::any::<u8>(),
                    b'a'..=b'z',
                ],
                0..70,
            )
        ) {
            let special = b.iter().any(|c| matches!(c, 0 | b'+' | b'#'));
            let got = check_name_fast(&b);
            proptest::prop_assert_eq!(got.is_none(), special);
            if let Some(ascii) = got {
                proptest::prop_assert_eq!(ascii, b.is_ascii());
            }
        }
    }

    #[test]
    fn topic_names_reject_wildcards_and_nul() {
        assert_eq!(validate_topic_name("a/#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("a\0"), Err(TopicError::NullCharacter));
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert!(validate_topic_name("/").is_ok());
    }
}
