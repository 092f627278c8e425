//! CoAP Content-Formats (RFC 7252 §12.3 and the IANA registry).

/// A Content-Format number. A newtype, so unregistered numbers round-trip.
///
/// ```
/// use coap_codec::ContentFormat;
/// assert_eq!(ContentFormat::LINK_FORMAT.0, 40);
/// assert_eq!(ContentFormat::JSON.media_type(), Some("application/json"));
/// assert_eq!(ContentFormat::from_media_type("application/cbor"), Some(ContentFormat::CBOR));
/// assert_eq!(ContentFormat::from_name("senml+json"), Some(ContentFormat::SENML_JSON));
/// assert_eq!(ContentFormat::from_name("60"), Some(ContentFormat::CBOR));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentFormat(pub u16);

macro_rules! formats {
    ($( $name:ident = ($n:literal, $media:literal); )*) => {
        impl ContentFormat {
            $( #[doc = concat!("`", $n, "`: ", $media)]
               pub const $name: Self = Self($n); )*

            /// The media type with its parameters, as registered
            /// (`text/plain; charset=utf-8`).
            pub const fn media_type(self) -> Option<&'static str> {
                match self { $( Self::$name => Some($media), )* _ => None }
            }

            /// Every registered Content-Format this crate names.
            pub const REGISTERED: &'static [Self] = &[ $( Self::$name, )* ];
        }
    };
}

formats! {
    TEXT_PLAIN = (0, "text/plain; charset=utf-8");
    COSE_ENCRYPT0 = (16, "application/cose; cose-type=\"cose-encrypt0\"");
    COSE_MAC0 = (17, "application/cose; cose-type=\"cose-mac0\"");
    COSE_SIGN1 = (18, "application/cose; cose-type=\"cose-sign1\"");
    ACE_CBOR = (19, "application/ace+cbor");
    IMAGE_GIF = (21, "image/gif");
    IMAGE_JPEG = (22, "image/jpeg");
    IMAGE_PNG = (23, "image/png");
    LINK_FORMAT = (40, "application/link-format");
    XML = (41, "application/xml");
    OCTET_STREAM = (42, "application/octet-stream");
    EXI = (47, "application/exi");
    JSON = (50, "application/json");
    JSON_PATCH_JSON = (51, "application/json-patch+json");
    MERGE_PATCH_JSON = (52, "application/merge-patch+json");
    CBOR = (60, "application/cbor");
    CWT = (61, "application/cwt");
    MULTIPART_CORE = (62, "application/multipart-core");
    CBOR_SEQ = (63, "application/cbor-seq");
    COSE_ENCRYPT = (96, "application/cose; cose-type=\"cose-encrypt\"");
    COSE_MAC = (97, "application/cose; cose-type=\"cose-mac\"");
    COSE_SIGN = (98, "application/cose; cose-type=\"cose-sign\"");
    COSE_KEY = (101, "application/cose-key");
    COSE_KEY_SET = (102, "application/cose-key-set");
    SENML_JSON = (110, "application/senml+json");
    SENSML_JSON = (111, "application/sensml+json");
    SENML_CBOR = (112, "application/senml+cbor");
    SENSML_CBOR = (113, "application/sensml+cbor");
    SENML_EXI = (114, "application/senml-exi");
    SENSML_EXI = (115, "application/sensml-exi");
    COAP_GROUP_JSON = (256, "application/coap-group+json");
    CONCISE_PROBLEM_DETAILS_CBOR = (257, "application/concise-problem-details+cbor");
    SWID_CBOR = (258, "application/swid+cbor");
    DOTS_CBOR = (271, "application/dots+cbor");
    MISSING_BLOCKS_CBOR_SEQ = (272, "application/missing-blocks+cbor-seq");
    SENML_XML = (310, "application/senml+xml");
    SENSML_XML = (311, "application/sensml+xml");
    SENML_ETCH_JSON = (320, "application/senml-etch+json");
    SENML_ETCH_CBOR = (322, "application/senml-etch+cbor");
    TD_JSON = (432, "application/td+json");
    VND_OCF_CBOR = (10000, "application/vnd.ocf+cbor");
    OSCORE = (10001, "application/oscore");
    JAVASCRIPT = (10002, "application/javascript");
    LWM2M_TLV = (11542, "application/vnd.oma.lwm2m+tlv");
    LWM2M_JSON = (11543, "application/vnd.oma.lwm2m+json");
    LWM2M_CBOR = (11544, "application/vnd.oma.lwm2m+cbor");
    TEXT_CSS = (20000, "text/css");
    IMAGE_SVG_XML = (30000, "image/svg+xml");
}

impl ContentFormat {
    /// The format for a media type, compared without parameters, case and
    /// spaces: `text/plain`, `text/plain;charset=utf-8` and
    /// `application/json` all resolve. `application/cose` needs its
    /// `cose-type` parameter to be told apart.
    pub fn from_media_type(media: &str) -> Option<Self> {
        let want = Normalized(media);
        Self::REGISTERED
            .iter()
            .copied()
            .find(|cf| cf.media_type().is_some_and(|m| want.eq_full(m)))
            .or_else(|| {
                Self::REGISTERED.iter().copied().find(|cf| {
                    !want.has_params()
                        && cf.media_type().is_some_and(|m| want.eq_essence(m))
                        && !cf.media_type().is_some_and(|m| m.contains("cose-type"))
                })
            })
    }

    /// The format for what a user types on a command line: a number
    /// (`60`), a media type (`application/cbor`), or the subtype alone
    /// (`cbor`, `senml+json`, `link-format`, `text`/`plain`).
    pub fn from_name(name: &str) -> Option<Self> {
        if let Ok(n) = name.trim().parse::<u16>() {
            return Some(Self(n));
        }
        if let Some(cf) = Self::from_media_type(name) {
            return Some(cf);
        }
        let n = name.trim();
        if n.eq_ignore_ascii_case("text") || n.eq_ignore_ascii_case("plain") {
            return Some(Self::TEXT_PLAIN);
        }
        Self::REGISTERED.iter().copied().find(|cf| {
            cf.media_type().is_some_and(|m| {
                let essence = m.split(';').next().unwrap_or(m);
                !m.contains("cose-type")
                    && essence
                        .rsplit('/')
                        .next()
                        .is_some_and(|sub| sub.eq_ignore_ascii_case(n))
            })
        })
    }
}

/// A media type compared loosely: ASCII case and spaces ignored.
struct Normalized<'a>(&'a str);

impl Normalized<'_> {
    fn chars(s: &str) -> impl Iterator<Item = u8> + '_ {
        s.bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .map(|b| b.to_ascii_lowercase())
    }
    fn eq_full(&self, m: &str) -> bool {
        Self::chars(self.0).eq(Self::chars(m))
    }
    fn eq_essence(&self, m: &str) -> bool {
        let essence = m.split(';').next().unwrap_or(m);
        Self::chars(self.0).eq(Self::chars(essence))
    }
    fn has_params(&self) -> bool {
        self.0.contains(';')
    }
}

impl core::fmt::Debug for ContentFormat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.media_type() {
            Some(m) => write!(f, "{}({})", m, self.0),
            None => write!(f, "ContentFormat({})", self.0),
        }
    }
}

impl core::fmt::Display for ContentFormat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.media_type() {
            Some(m) => f.write_str(m),
            None => write!(f, "{}", self.0),
        }
    }
}

impl From<u16> for ContentFormat {
    fn from(v: u16) -> Self {
        Self(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_numbers_are_distinct_and_sorted() {
        let r = ContentFormat::REGISTERED;
        assert!(r.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn media_types_resolve_loosely() {
        assert_eq!(
            ContentFormat::from_media_type("text/plain"),
            Some(ContentFormat::TEXT_PLAIN)
        );
        assert_eq!(
            ContentFormat::from_media_type("Text/Plain;Charset=UTF-8"),
            Some(ContentFormat::TEXT_PLAIN)
        );
        assert_eq!(
            ContentFormat::from_media_type("application/cose; cose-type=\"cose-sign1\""),
            Some(ContentFormat::COSE_SIGN1)
        );
        assert_eq!(ContentFormat::from_media_type("application/cose"), None);
        assert_eq!(ContentFormat::from_media_type("application/nope"), None);
    }

    #[test]
    fn cli_names_resolve() {
        assert_eq!(
            ContentFormat::from_name("link-format"),
            Some(ContentFormat::LINK_FORMAT)
        );
        assert_eq!(ContentFormat::from_name("xml"), Some(ContentFormat::XML));
        assert_eq!(
            ContentFormat::from_name("octet-stream"),
            Some(ContentFormat::OCTET_STREAM)
        );
        assert_eq!(
            ContentFormat::from_name("text"),
            Some(ContentFormat::TEXT_PLAIN)
        );
        assert_eq!(
            ContentFormat::from_name("65000"),
            Some(ContentFormat(65000))
        );
        assert_eq!(ContentFormat::from_name("unheard-of"), None);
    }
}
