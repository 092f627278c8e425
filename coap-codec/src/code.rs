//! Method, response and signaling codes (RFC 7252 §5.8, §12.1; RFC 8132;
//! RFC 8323 §5; RFC 8516; RFC 8768; RFC 9175).

/// A CoAP code: 3-bit class and 5-bit detail, written `c.dd`.
///
/// A newtype, so codes this crate does not name still round-trip.
///
/// ```
/// use coap_codec::Code;
/// assert_eq!(Code::CONTENT.to_string(), "2.05");
/// assert_eq!(Code::CONTENT.name(), Some("Content"));
/// assert_eq!(Code::new(4, 4), Code::NOT_FOUND);
/// assert!(Code::FETCH.is_request());
/// assert!(Code::CSM.is_signaling());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(pub u8);

/// What a code means, by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeKind {
    /// 0.00 Empty.
    Empty,
    /// 0.01-0.31: a request method.
    Request,
    /// 2.xx, 4.xx, 5.xx: a response.
    Response,
    /// 7.xx: signaling (RFC 8323, reliable transports only).
    Signaling,
    /// Classes 1, 3 and 6 are reserved (RFC 7252 §12.1).
    Reserved,
}

macro_rules! codes {
    ($( $(#[$m:meta])* $name:ident = ($c:literal, $d:literal, $text:literal); )*) => {
        impl Code {
            $( $(#[$m])* #[doc = concat!("`", $c, ".", stringify!($d), "` ", $text)]
               pub const $name: Self = Self::new($c, $d); )*

            /// The registered name of this code ("Content", "GET", ...), if
            /// it has one.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$name => Some($text), )*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// Empty message (RFC 7252 §4.1).
    EMPTY = (0, 0, "Empty");
    GET = (0, 1, "GET");
    POST = (0, 2, "POST");
    PUT = (0, 3, "PUT");
    DELETE = (0, 4, "DELETE");
    /// RFC 8132.
    FETCH = (0, 5, "FETCH");
    /// RFC 8132.
    PATCH = (0, 6, "PATCH");
    /// RFC 8132.
    IPATCH = (0, 7, "iPATCH");
    CREATED = (2, 1, "Created");
    DELETED = (2, 2, "Deleted");
    VALID = (2, 3, "Valid");
    CHANGED = (2, 4, "Changed");
    CONTENT = (2, 5, "Content");
    /// RFC 7959.
    CONTINUE = (2, 31, "Continue");
    BAD_REQUEST = (4, 0, "Bad Request");
    UNAUTHORIZED = (4, 1, "Unauthorized");
    BAD_OPTION = (4, 2, "Bad Option");
    FORBIDDEN = (4, 3, "Forbidden");
    NOT_FOUND = (4, 4, "Not Found");
    METHOD_NOT_ALLOWED = (4, 5, "Method Not Allowed");
    NOT_ACCEPTABLE = (4, 6, "Not Acceptable");
    /// RFC 7959.
    REQUEST_ENTITY_INCOMPLETE = (4, 8, "Request Entity Incomplete");
    /// RFC 8132.
    CONFLICT = (4, 9, "Conflict");
    PRECONDITION_FAILED = (4, 12, "Precondition Failed");
    REQUEST_ENTITY_TOO_LARGE = (4, 13, "Request Entity Too Large");
    UNSUPPORTED_CONTENT_FORMAT = (4, 15, "Unsupported Content-Format");
    /// RFC 8132.
    UNPROCESSABLE_ENTITY = (4, 22, "Unprocessable Entity");
    /// RFC 8516.
    TOO_MANY_REQUESTS = (4, 29, "Too Many Requests");
    INTERNAL_SERVER_ERROR = (5, 0, "Internal Server Error");
    NOT_IMPLEMENTED = (5, 1, "Not Implemented");
    BAD_GATEWAY = (5, 2, "Bad Gateway");
    SERVICE_UNAVAILABLE = (5, 3, "Service Unavailable");
    GATEWAY_TIMEOUT = (5, 4, "Gateway Timeout");
    PROXYING_NOT_SUPPORTED = (5, 5, "Proxying Not Supported");
    /// RFC 8768.
    HOP_LIMIT_REACHED = (5, 8, "Hop Limit Reached");
    /// RFC 8323 §5.3: Capabilities and Settings Message.
    CSM = (7, 1, "CSM");
    /// RFC 8323 §5.4.
    PING = (7, 2, "Ping");
    /// RFC 8323 §5.4.
    PONG = (7, 3, "Pong");
    /// RFC 8323 §5.5.
    RELEASE = (7, 4, "Release");
    /// RFC 8323 §5.6.
    ABORT = (7, 5, "Abort");
}

impl Code {
    /// The code `class.detail`; `class` is masked to 3 bits, `detail` to 5.
    pub const fn new(class: u8, detail: u8) -> Self {
        Self(((class & 0x7) << 5) | (detail & 0x1f))
    }

    /// The class: 0 request, 2 success, 4 client error, 5 server error,
    /// 7 signaling.
    pub const fn class(self) -> u8 {
        self.0 >> 5
    }

    /// The detail (0-31).
    pub const fn detail(self) -> u8 {
        self.0 & 0x1f
    }

    /// What kind of code this is.
    pub const fn kind(self) -> CodeKind {
        match (self.class(), self.detail()) {
            (0, 0) => CodeKind::Empty,
            (0, _) => CodeKind::Request,
            (2 | 4 | 5, _) => CodeKind::Response,
            (7, _) => CodeKind::Signaling,
            _ => CodeKind::Reserved,
        }
    }

    /// 0.00.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// A method code (0.01-0.31).
    pub const fn is_request(self) -> bool {
        matches!(self.kind(), CodeKind::Request)
    }

    /// A response code (2.xx, 4.xx, 5.xx).
    pub const fn is_response(self) -> bool {
        matches!(self.kind(), CodeKind::Response)
    }

    /// 2.xx.
    pub const fn is_success(self) -> bool {
        self.class() == 2
    }

    /// 4.xx or 5.xx.
    pub const fn is_error(self) -> bool {
        matches!(self.class(), 4 | 5)
    }

    /// 7.xx (RFC 8323).
    pub const fn is_signaling(self) -> bool {
        self.class() == 7
    }

    /// Whether the request method is safe (GET, FETCH: RFC 7252 §5.1,
    /// RFC 8132 §2).
    pub const fn is_safe_method(self) -> bool {
        matches!(self, Self::GET | Self::FETCH)
    }

    /// Whether the request method is idempotent (GET, PUT, DELETE, FETCH,
    /// iPATCH).
    pub const fn is_idempotent_method(self) -> bool {
        matches!(
            self,
            Self::GET | Self::PUT | Self::DELETE | Self::FETCH | Self::IPATCH
        )
    }

    /// The code for a method name as HTTP and CLIs write it
    /// (case-insensitive: `get`, `POST`, `ipatch`).
    pub fn from_method_name(name: &str) -> Option<Self> {
        [
            Self::GET,
            Self::POST,
            Self::PUT,
            Self::DELETE,
            Self::FETCH,
            Self::PATCH,
            Self::IPATCH,
        ]
        .into_iter()
        .find(|c| c.name().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }
}

impl core::fmt::Display for Code {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:02}", self.class(), self.detail())
    }
}

impl core::fmt::Debug for Code {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{self} {n}"),
            None => write!(f, "{self}"),
        }
    }
}

impl From<u8> for Code {
    fn from(v: u8) -> Self {
        Self(v)
    }
}

impl From<Code> for u8 {
    fn from(c: Code) -> Self {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn class_and_detail_split_the_byte() {
        assert_eq!(Code::CONTENT.0, 0x45);
        assert_eq!(Code::NOT_FOUND.0, 0x84);
        assert_eq!(Code::CONTINUE.0, 0x5f);
        assert_eq!(Code::CSM.0, 0xe1);
        assert_eq!(Code(0x84).class(), 4);
        assert_eq!(Code(0x84).detail(), 4);
    }

    #[test]
    fn display_pads_the_detail() {
        assert_eq!(Code::GET.to_string(), "0.01");
        assert_eq!(Code::CONTINUE.to_string(), "2.31");
        assert_eq!(format!("{:?}", Code::BAD_OPTION), "4.02 Bad Option");
        assert_eq!(format!("{:?}", Code(0x3f)), "1.31");
    }

    #[test]
    fn kinds_follow_the_class() {
        assert_eq!(Code::EMPTY.kind(), CodeKind::Empty);
        assert_eq!(Code::IPATCH.kind(), CodeKind::Request);
        assert_eq!(Code::GATEWAY_TIMEOUT.kind(), CodeKind::Response);
        assert_eq!(Code::ABORT.kind(), CodeKind::Signaling);
        assert_eq!(Code::new(1, 0).kind(), CodeKind::Reserved);
        assert_eq!(Code::new(6, 0).kind(), CodeKind::Reserved);
    }

    #[test]
    fn methods_parse_by_name() {
        assert_eq!(Code::from_method_name("ipatch"), Some(Code::IPATCH));
        assert_eq!(Code::from_method_name("Get"), Some(Code::GET));
        assert_eq!(Code::from_method_name("Content"), None);
        assert!(Code::FETCH.is_safe_method());
        assert!(!Code::POST.is_idempotent_method());
    }

    #[test]
    fn every_named_code_has_a_distinct_value() {
        let all = (0..=255u8).filter(|v| Code(*v).name().is_some()).count();
        assert_eq!(all, 40);
    }
}
