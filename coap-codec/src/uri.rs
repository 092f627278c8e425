//! CoAP URIs: decomposing a URI into options (RFC 7252 §6.4) and composing
//! one from options (§6.5), for the `coap`, `coaps` (RFC 7252 §6.1, §6.2)
//! and the RFC 8323 §8 `coap+tcp`, `coaps+tcp`, `coap+ws`, `coaps+ws`
//! schemes.
//!
//! ```
//! use coap_codec::uri::{CoapUri, Host, Scheme};
//! let uri = CoapUri::parse("coap://EXAMPLE.com:/%7Esensors/temp.xml?a=1&b").unwrap();
//! assert_eq!(uri.scheme, Scheme::Coap);
//! assert_eq!(uri.host, Host::Name("example.com".into()));
//! assert_eq!(uri.port, 5683);
//! assert_eq!(uri.path, ["~sensors", "temp.xml"]);
//! assert_eq!(uri.query, ["a=1", "b"]);
//! assert_eq!(uri.to_string(), "coap://example.com/~sensors/temp.xml?a=1&b");
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::{self, Write as _};
use core::net::{IpAddr, Ipv6Addr};

use crate::{MessageBuilder, OptionNumber, Options};

/// A CoAP URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `coap`: UDP, port 5683.
    Coap,
    /// `coaps`: DTLS, port 5684.
    Coaps,
    /// `coap+tcp`: TCP, port 5683 (RFC 8323 §8.1).
    CoapTcp,
    /// `coaps+tcp`: TLS, port 5684 (RFC 8323 §8.2).
    CoapsTcp,
    /// `coap+ws`: WebSocket, port 80 (RFC 8323 §8.3).
    CoapWs,
    /// `coaps+ws`: secure WebSocket, port 443 (RFC 8323 §8.4).
    CoapsWs,
}

impl Scheme {
    /// The scheme as written in URIs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Coap => "coap",
            Self::Coaps => "coaps",
            Self::CoapTcp => "coap+tcp",
            Self::CoapsTcp => "coaps+tcp",
            Self::CoapWs => "coap+ws",
            Self::CoapsWs => "coaps+ws",
        }
    }

    /// The default port.
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Coap | Self::CoapTcp => 5683,
            Self::Coaps | Self::CoapsTcp => 5684,
            Self::CoapWs => 80,
            Self::CoapsWs => 443,
        }
    }

    /// Whether the transport is secured (DTLS or TLS).
    pub const fn is_secure(self) -> bool {
        matches!(self, Self::Coaps | Self::CoapsTcp | Self::CoapsWs)
    }

    /// The scheme for its name, case-insensitively.
    pub fn from_name(s: &str) -> Option<Self> {
        [
            Self::Coap,
            Self::Coaps,
            Self::CoapTcp,
            Self::CoapsTcp,
            Self::CoapWs,
            Self::CoapsWs,
        ]
        .into_iter()
        .find(|sc| sc.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host of a CoAP URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A registered name, percent-decoded and lowercased (RFC 7252 §6.4
    /// step 5). Carried in a Uri-Host option.
    Name(String),
    /// An IPv4 address or IPv6 literal.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => percent_encode(f, n, is_host_char),
            Self::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Self::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

/// Why a string is not a CoAP URI (RFC 7252 §6.4 steps 1-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// Not an absolute URI (`scheme://host...`).
    #[error("not an absolute URI")]
    NotAbsolute,
    /// A scheme other than the CoAP ones.
    #[error("unsupported scheme")]
    UnsupportedScheme,
    /// A fragment (`#...`), which CoAP URIs may not have.
    #[error("URI has a fragment")]
    Fragment,
    /// User information (`user@`), which CoAP URIs may not have.
    #[error("URI has user information")]
    UserInfo,
    /// Empty or malformed host, or an IPv6 literal that does not parse.
    #[error("bad host")]
    BadHost,
    /// A port that is not a number in 0-65535.
    #[error("bad port")]
    BadPort,
    /// A `%` not followed by two hex digits, at this byte of the URI.
    #[error("bad percent-encoding at byte {offset}")]
    BadPercentEncoding {
        /// Byte offset in the URI.
        offset: usize,
    },
    /// A decoded component that is not UTF-8.
    #[error("decoded component is not UTF-8")]
    NotUtf8,
    /// A path segment or query argument longer than 255 bytes, the option's
    /// maximum.
    #[error("component longer than 255 bytes")]
    TooLong,
}

/// A decomposed CoAP URI: every component decoded, ready to become options.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CoapUri {
    /// Scheme.
    pub scheme: Scheme,
    /// Host.
    pub host: Host,
    /// Port (the scheme's default when the URI names none).
    pub port: u16,
    /// Decoded path segments: one Uri-Path option each.
    pub path: Vec<String>,
    /// Decoded query arguments: one Uri-Query option each.
    pub query: Vec<String>,
}

impl CoapUri {
    /// Parses and decomposes a URI (RFC 7252 §6.4).
    ///
    /// # Errors
    /// [`UriError`] says which rule the string breaks.
    pub fn parse(s: &str) -> Result<Self, UriError> {
        let (scheme, rest) = s.split_once("://").ok_or(UriError::NotAbsolute)?;
        let scheme = Scheme::from_name(scheme).ok_or(UriError::UnsupportedScheme)?;
        if rest.contains('#') {
            return Err(UriError::Fragment);
        }
        let base = s.len() - rest.len();
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(auth_end);
        if authority.contains('@') {
            return Err(UriError::UserInfo);
        }
        let (host, port) = parse_authority(authority, base)?;
        let port = match port {
            None | Some("") => scheme.default_port(),
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().map_err(|_| UriError::BadPort)?
            }
            Some(_) => return Err(UriError::BadPort),
        };
        let base = base + auth_end;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut segments = Vec::new();
        // §6.4 step 8: an empty path or "/" gives no Uri-Path.
        if !path.is_empty() && path != "/" {
            let mut off = base + 1;
            for seg in path[1..].split('/') {
                segments.push(decode_component(seg, off)?);
                off += seg.len() + 1;
            }
        }
        let mut args = Vec::new();
        if let Some(q) = query {
            let mut off = base + path.len() + 1;
            for arg in q.split('&') {
                args.push(decode_component(arg, off)?);
                off += arg.len() + 1;
            }
        }
        Ok(Self {
            scheme,
            host,
            port,
            path: segments,
            query: args,
        })
    }

    /// Composes a URI from a request's options (RFC 7252 §6.5): Uri-Host
    /// or else `destination`'s address, Uri-Port or else its port,
    /// Uri-Path and Uri-Query.
    ///
    /// # Errors
    /// [`UriError::NotUtf8`] when a string option is not UTF-8.
    pub fn from_options(
        scheme: Scheme,
        destination: (IpAddr, u16),
        options: &Options<'_>,
    ) -> Result<Self, UriError> {
        let host = match options.uri_host().map_err(|_| UriError::NotUtf8)? {
            Some(h) => match h.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) => Host::Name(h.to_ascii_lowercase()),
            },
            None => Host::Ip(destination.0),
        };
        let collect = |it: &mut dyn Iterator<Item = Result<&str, crate::OptionValueError>>| {
            it.map(|r| r.map(String::from).map_err(|_| UriError::NotUtf8))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            scheme,
            host,
            port: options.uri_port().unwrap_or(destination.1),
            path: collect(&mut options.uri_path())?,
            query: collect(&mut options.uri_query())?,
        })
    }

    /// The request path as a normalised string (`/a/b`, or `/`),
    /// percent-encoded.
    pub fn path_string(&self) -> String {
        let mut s = String::new();
        let _ = self.write_path(&mut s);
        s
    }

    fn write_path(&self, f: &mut impl fmt::Write) -> fmt::Result {
        if self.path.is_empty() {
            return f.write_char('/');
        }
        for seg in &self.path {
            f.write_char('/')?;
            percent_encode(f, seg, is_pchar)?;
        }
        Ok(())
    }

    /// The options this URI becomes in a request sent to the URI's own host
    /// and port (RFC 7252 §6.4): Uri-Host for a registered name (an IP
    /// literal is the destination itself), no Uri-Port, then Uri-Path and
    /// Uri-Query.
    pub fn options(&self) -> impl Iterator<Item = (OptionNumber, &[u8])> + '_ {
        let host = match &self.host {
            Host::Name(n) => Some((OptionNumber::URI_HOST, n.as_bytes())),
            Host::Ip(_) => None,
        };
        host.into_iter()
            .chain(
                self.path
                    .iter()
                    .map(|s| (OptionNumber::URI_PATH, s.as_bytes())),
            )
            .chain(
                self.query
                    .iter()
                    .map(|s| (OptionNumber::URI_QUERY, s.as_bytes())),
            )
    }
}

impl fmt::Display for CoapUri {
    /// RFC 7252 §6.5: the normalised URI, default port omitted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        self.write_path(f)?;
        for (i, arg) in self.query.iter().enumerate() {
            f.write_char(if i == 0 { '?' } else { '&' })?;
            percent_encode(f, arg, is_query_char)?;
        }
        Ok(())
    }
}

impl core::str::FromStr for CoapUri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, UriError> {
        Self::parse(s)
    }
}

impl MessageBuilder {
    /// Adds the options of `uri` (see [`CoapUri::options`]).
    #[must_use]
    pub fn uri(mut self, uri: &CoapUri) -> Self {
        for (n, v) in uri.options() {
            self.add_option(n, v);
        }
        self
    }
}

fn parse_authority(a: &str, base: usize) -> Result<(Host, Option<&str>), UriError> {
    if let Some(rest) = a.strip_prefix('[') {
        let (lit, after) = rest.split_once(']').ok_or(UriError::BadHost)?;
        let ip: Ipv6Addr = lit.parse().map_err(|_| UriError::BadHost)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(UriError::BadPort)?),
        };
        return Ok((Host::Ip(IpAddr::V6(ip)), port));
    }
    let (host, port) = match a.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (a, None),
    };
    if host.is_empty() {
        return Err(UriError::BadHost);
    }
    if let Ok(ip) = host.parse::<core::net::Ipv4Addr>() {
        return Ok((Host::Ip(IpAddr::V4(ip)), port));
    }
    if !host.bytes().all(|b| is_host_char(b) || b == b'%') {
        return Err(UriError::BadHost);
    }
    let name = decode_component(host, base)?.to_ascii_lowercase();
    Ok((Host::Name(name), port))
}

/// Percent-decodes one component; `offset` locates errors in the URI.
fn decode_component(s: &str, offset: usize) -> Result<String, UriError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
            match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return Err(UriError::BadPercentEncoding { offset: offset + i }),
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if out.len() > 255 {
        return Err(UriError::TooLong);
    }
    String::from_utf8(out).map_err(|_| UriError::NotUtf8)
}

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

const fn is_host_char(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b)
}

const fn is_pchar(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b) || matches!(b, b':' | b'@')
}

/// RFC 7252 §6.5 step 8: query characters, except `&` which separates
/// arguments.
const fn is_query_char(b: u8) -> bool {
    (is_pchar(b) || matches!(b, b'/' | b'?')) && b != b'&'
}

fn percent_encode(f: &mut impl fmt::Write, s: &str, keep: fn(u8) -> bool) -> fmt::Result {
    for b in s.bytes() {
        if keep(b) {
            f.write_char(b as char)?;
        } else {
            write!(f, "%{b:02X}")?;
        }
    }
    Ok(())
}

/// Percent-encodes a single path segment (for callers that build URIs).
pub fn encode_path_segment(seg: &str) -> String {
    let mut s = String::new();
    let _ = percent_encode(&mut s, seg, is_pchar);
    s
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        Self::Ip(ip)
    }
}

impl Host {
    /// The host as text without brackets (for Uri-Host or DNS look-ups).
    pub fn to_plain_string(&self) -> String {
        match self {
            Self::Name(n) => n.clone(),
            Self::Ip(ip) => ip.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Code, Message, MessageType};
    use alloc::vec;

    #[test]
    fn rfc7252_6_3_equivalent_uris_normalise_alike() {
        let a = CoapUri::parse("coap://example.com:5683/~sensors/temp.xml").unwrap();
        let b = CoapUri::parse("coap://EXAMPLE.com/%7Esensors/temp.xml").unwrap();
        let c = CoapUri::parse("coap://EXAMPLE.com:/%7esensors/temp.xml").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(a.to_string(), "coap://example.com/~sensors/temp.xml");
    }

    #[test]
    fn ipv6_literal_and_ports() {
        let u = CoapUri::parse("coap://[2001:db8::2:1]/").unwrap();
        assert_eq!(u.host, Host::Ip("2001:db8::2:1".parse().unwrap()));
        assert!(u.path.is_empty());
        assert_eq!(u.to_string(), "coap://[2001:db8::2:1]/");
        let u = CoapUri::parse("coaps://[::1]:61616").unwrap();
        assert_eq!(u.port, 61616);
        assert_eq!(u.to_string(), "coaps://[::1]:61616/");
        assert_eq!(CoapUri::parse("coap+ws://h/x").unwrap().port, 80);
        assert_eq!(CoapUri::parse("coaps+tcp://h").unwrap().port, 5684);
    }

    #[test]
    fn path_and_query_edge_cases() {
        // §6.4 step 8: "/a/" has a trailing empty segment.
        let u = CoapUri::parse("coap://h/a/").unwrap();
        assert_eq!(u.path, ["a", ""]);
        let u = CoapUri::parse("coap://h?x=%26y&&z").unwrap();
        assert_eq!(u.path, Vec::<String>::new());
        assert_eq!(u.query, ["x=&y", "", "z"]);
        assert_eq!(u.to_string(), "coap://h/?x=%26y&&z");
        let u = CoapUri::parse("coap://h/a%2Fb/%20").unwrap();
        assert_eq!(u.path, ["a/b", " "]);
        assert_eq!(u.to_string(), "coap://h/a%2Fb/%20");
    }

    #[test]
    fn rfc7252_6_4_failures() {
        assert_eq!(CoapUri::parse("/relative"), Err(UriError::NotAbsolute));
        assert_eq!(
            CoapUri::parse("http://h/"),
            Err(UriError::UnsupportedScheme)
        );
        assert_eq!(CoapUri::parse("coap://h/#frag"), Err(UriError::Fragment));
        assert_eq!(CoapUri::parse("coap://u@h/"), Err(UriError::UserInfo));
        assert_eq!(CoapUri::parse("coap://:5683/"), Err(UriError::BadHost));
        assert_eq!(CoapUri::parse("coap://[zz]/"), Err(UriError::BadHost));
        assert_eq!(CoapUri::parse("coap://h:99999/"), Err(UriError::BadPort));
        assert_eq!(CoapUri::parse("coap://h:8x/"), Err(UriError::BadPort));
        assert_eq!(
            CoapUri::parse("coap://h/a%4"),
            Err(UriError::BadPercentEncoding { offset: 10 })
        );
        assert_eq!(CoapUri::parse("coap://h/%ff"), Err(UriError::NotUtf8));
        let long = alloc::format!("coap://h/{}", "a".repeat(256));
        assert_eq!(CoapUri::parse(&long), Err(UriError::TooLong));
    }

    #[test]
    fn decomposed_options_and_composition_round_trip() {
        let u = CoapUri::parse("coap://Example.NET:5683/s/t%3F?q=1").unwrap();
        let bytes = MessageBuilder::new(MessageType::Confirmable, Code::GET)
            .uri(&u)
            .to_bytes()
            .unwrap();
        let m = Message::decode(bytes).unwrap();
        let opts: Vec<_> = m.options().iter().map(|o| (o.number, o.value)).collect();
        assert_eq!(
            opts,
            vec![
                (OptionNumber::URI_HOST, &b"example.net"[..]),
                (OptionNumber::URI_PATH, b"s"),
                (OptionNumber::URI_PATH, b"t?"),
                (OptionNumber::URI_QUERY, b"q=1"),
            ]
        );
        let back = CoapUri::from_options(
            Scheme::Coap,
            ("192.0.2.1".parse().unwrap(), 5683),
            &m.options(),
        )
        .unwrap();
        assert_eq!(back, u);
        assert_eq!(back.to_string(), "coap://example.net/s/t%3F?q=1");
    }

    #[test]
    fn ip_literal_gets_no_uri_host() {
        let u = CoapUri::parse("coap://127.0.0.1:13001/basic").unwrap();
        let o: Vec<_> = u.options().collect();
        assert_eq!(o, vec![(OptionNumber::URI_PATH, &b"basic"[..])]);
        assert_eq!(u.path_string(), "/basic");
        assert_eq!(encode_path_segment("a b"), "a%20b");
    }
}
