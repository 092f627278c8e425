//! Typed accessors for every registered option.
//!
//! RFC 7252 §5.4.3: a value whose length is outside the registered bounds
//! is treated like an unrecognised option. The accessors follow that rule:
//! such a value reads as absent, and [`Options::unrecognized_critical`]
//! reports it when the option is critical, so the endpoint can answer
//! 4.02. String options hand out `Result`s so a value that is not UTF-8 is
//! never silently dropped.

use alloc::string::String;

use super::{Block, NoResponse, OptionNumber, Options};
use crate::{ContentFormat, OptionValueError};

/// A string option value that is not UTF-8.
fn utf8(number: OptionNumber, v: &[u8]) -> Result<&str, OptionValueError> {
    core::str::from_utf8(v).map_err(|_| OptionValueError::NotUtf8 { number: number.0 })
}

impl<'a> Options<'a> {
    /// The first value of `number` if its length is within bounds.
    fn bounded(&self, number: OptionNumber) -> Option<&'a [u8]> {
        self.get(number).filter(|v| number.accepts_length(v.len()))
    }

    /// The first value of uint option `number`, if present and within bounds.
    pub fn uint(&self, number: OptionNumber) -> Option<u64> {
        self.bounded(number).and_then(super::decode_uint)
    }

    /// Every value of string option `number`, each checked for UTF-8.
    pub fn strings(
        &self,
        number: OptionNumber,
    ) -> impl Iterator<Item = Result<&'a str, OptionValueError>> + 'a {
        self.get_all(number).map(move |v| utf8(number, v))
    }

    /// The first value of string option `number`.
    ///
    /// # Errors
    /// When the value is not UTF-8.
    pub fn string(&self, number: OptionNumber) -> Result<Option<&'a str>, OptionValueError> {
        self.bounded(number).map(|v| utf8(number, v)).transpose()
    }

    /// If-Match values (RFC 7252 §5.10.8.1); an empty value matches any
    /// current representation.
    pub fn if_match(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(OptionNumber::IF_MATCH)
    }

    /// If-None-Match present (RFC 7252 §5.10.8.2).
    pub fn if_none_match(&self) -> bool {
        self.contains(OptionNumber::IF_NONE_MATCH)
    }

    /// Uri-Host (RFC 7252 §5.10.1).
    ///
    /// # Errors
    /// When the value is not UTF-8.
    pub fn uri_host(&self) -> Result<Option<&'a str>, OptionValueError> {
        self.string(OptionNumber::URI_HOST)
    }

    /// Uri-Port (RFC 7252 §5.10.1).
    pub fn uri_port(&self) -> Option<u16> {
        self.uint(OptionNumber::URI_PORT).map(|v| v as u16)
    }

    /// Uri-Path segments, in order (RFC 7252 §5.10.1).
    pub fn uri_path(&self) -> impl Iterator<Item = Result<&'a str, OptionValueError>> + 'a {
        self.strings(OptionNumber::URI_PATH)
    }

    /// The request path as `/seg1/seg2` (`/` with no Uri-Path), segments
    /// joined as they are (no percent-encoding: see [`crate::uri`] for that).
    ///
    /// # Errors
    /// When a segment is not UTF-8.
    pub fn path(&self) -> Result<String, OptionValueError> {
        let mut s = String::new();
        for seg in self.uri_path() {
            s.push('/');
            s.push_str(seg?);
        }
        if s.is_empty() {
            s.push('/');
        }
        Ok(s)
    }

    /// Uri-Query arguments, in order (RFC 7252 §5.10.1).
    pub fn uri_query(&self) -> impl Iterator<Item = Result<&'a str, OptionValueError>> + 'a {
        self.strings(OptionNumber::URI_QUERY)
    }

    /// ETag of a response, or the first of a request's (RFC 7252 §5.10.6).
    pub fn etag(&self) -> Option<&'a [u8]> {
        self.bounded(OptionNumber::ETAG)
    }

    /// Every ETag of a request (validation of several stored responses).
    pub fn etags(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(OptionNumber::ETAG)
    }

    /// Observe (RFC 7641 §2): 0 register / 1 deregister in a request, the
    /// 24-bit sequence number in a notification.
    pub fn observe(&self) -> Option<u32> {
        self.uint(OptionNumber::OBSERVE).map(|v| v as u32)
    }

    /// Location-Path segments (RFC 7252 §5.10.7).
    pub fn location_path(&self) -> impl Iterator<Item = Result<&'a str, OptionValueError>> + 'a {
        self.strings(OptionNumber::LOCATION_PATH)
    }

    /// Location-Query arguments (RFC 7252 §5.10.7).
    pub fn location_query(&self) -> impl Iterator<Item = Result<&'a str, OptionValueError>> + 'a {
        self.strings(OptionNumber::LOCATION_QUERY)
    }

    /// The OSCORE option value, carried as opaque bytes (RFC 8613 §2).
    pub fn oscore(&self) -> Option<&'a [u8]> {
        self.bounded(OptionNumber::OSCORE)
    }

    /// Content-Format (RFC 7252 §5.10.3).
    pub fn content_format(&self) -> Option<ContentFormat> {
        self.uint(OptionNumber::CONTENT_FORMAT)
            .map(|v| ContentFormat(v as u16))
    }

    /// Max-Age in seconds, if present (RFC 7252 §5.10.5).
    pub fn max_age(&self) -> Option<u32> {
        self.uint(OptionNumber::MAX_AGE).map(|v| v as u32)
    }

    /// Max-Age, or its default of 60 seconds when absent.
    pub fn max_age_or_default(&self) -> u32 {
        self.max_age().unwrap_or(60)
    }

    /// Hop-Limit (RFC 8768 §3).
    pub fn hop_limit(&self) -> Option<u8> {
        self.uint(OptionNumber::HOP_LIMIT).map(|v| v as u8)
    }

    /// Accept (RFC 7252 §5.10.4).
    pub fn accept(&self) -> Option<ContentFormat> {
        self.uint(OptionNumber::ACCEPT)
            .map(|v| ContentFormat(v as u16))
    }

    fn block(&self, number: OptionNumber) -> Option<Block> {
        self.bounded(number).and_then(|v| Block::from_value(v).ok())
    }

    /// Block1 (RFC 7959 §2.1); a value with the reserved SZX 7 reads as
    /// absent.
    pub fn block1(&self) -> Option<Block> {
        self.block(OptionNumber::BLOCK1)
    }

    /// Block2 (RFC 7959 §2.1).
    pub fn block2(&self) -> Option<Block> {
        self.block(OptionNumber::BLOCK2)
    }

    /// Q-Block1 (RFC 9177 §4).
    pub fn q_block1(&self) -> Option<Block> {
        self.block(OptionNumber::Q_BLOCK1)
    }

    /// Q-Block2 (RFC 9177 §4); the first, when a request lists several.
    pub fn q_block2(&self) -> Option<Block> {
        self.block(OptionNumber::Q_BLOCK2)
    }

    /// Size1 (RFC 7959 §4; RFC 7252 §5.10.9).
    pub fn size1(&self) -> Option<u32> {
        self.uint(OptionNumber::SIZE1).map(|v| v as u32)
    }

    /// Size2 (RFC 7959 §4).
    pub fn size2(&self) -> Option<u32> {
        self.uint(OptionNumber::SIZE2).map(|v| v as u32)
    }

    /// Proxy-Uri (RFC 7252 §5.10.2).
    ///
    /// # Errors
    /// When the value is not UTF-8.
    pub fn proxy_uri(&self) -> Result<Option<&'a str>, OptionValueError> {
        self.string(OptionNumber::PROXY_URI)
    }

    /// Proxy-Scheme (RFC 7252 §5.10.2).
    ///
    /// # Errors
    /// When the value is not UTF-8.
    pub fn proxy_scheme(&self) -> Result<Option<&'a str>, OptionValueError> {
        self.string(OptionNumber::PROXY_SCHEME)
    }

    /// Echo (RFC 9175 §2.2).
    pub fn echo(&self) -> Option<&'a [u8]> {
        self.bounded(OptionNumber::ECHO)
    }

    /// Request-Tag values (RFC 9175 §3.2).
    pub fn request_tags(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(OptionNumber::REQUEST_TAG)
    }

    /// No-Response (RFC 7967 §2).
    pub fn no_response(&self) -> Option<NoResponse> {
        self.uint(OptionNumber::NO_RESPONSE)
            .map(|v| NoResponse(v as u8))
    }

    /// EDHOC present (RFC 9668 §3.1).
    pub fn edhoc(&self) -> bool {
        self.contains(OptionNumber::EDHOC)
    }
}
