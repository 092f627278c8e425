//! RFC 6690 CoRE Link Format: parse, serialise and filter documents such as
//! `/.well-known/core`.
//!
//! Parsing is zero-copy and lazy: [`parse`] yields one [`Link`] at a time,
//! each a slice of the document whose parameters are read on demand, so a
//! document costs no allocation until the caller collects it.
//!
//! ```
//! use coap_codec::link_format::{self, Filter, LinkFormatWriter};
//!
//! let doc = r#"</sensors/temp>;rt="temperature-c";if="sensor";ct=0;obs,</time>;rt="ticks""#;
//! let links: Vec<_> = link_format::parse(doc).collect::<Result<_, _>>().unwrap();
//! assert_eq!(links[0].target(), "/sensors/temp");
//! assert!(links[0].is_observable());
//! assert_eq!(links[0].content_formats().collect::<Vec<_>>(), [0]);
//!
//! let filter = Filter::parse("rt=temp*").unwrap();
//! assert!(filter.matches(&links[0]));
//! assert!(!filter.matches(&links[1]));
//!
//! let mut w = LinkFormatWriter::new(String::new());
//! w.link("/sensors/temp").quoted("rt", "temperature-c").quoted("if", "sensor").token("ct", "0").flag("obs");
//! assert_eq!(w.finish(), r#"</sensors/temp>;rt="temperature-c";if="sensor";ct=0;obs"#);
//! ```

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;

/// Why a link-format document does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkFormatError {
    /// Expected `<` opening a link at this byte.
    #[error("expected '<' at byte {offset}")]
    ExpectedLink {
        /// Byte offset in the document.
        offset: usize,
    },
    /// A `<` with no closing `>`.
    #[error("unterminated target starting at byte {offset}")]
    UnterminatedTarget {
        /// Byte offset in the document.
        offset: usize,
    },
    /// A quoted string with no closing quote.
    #[error("unterminated quoted string starting at byte {offset}")]
    UnterminatedQuote {
        /// Byte offset in the document.
        offset: usize,
    },
    /// A parameter with an empty or invalid name (reported by
    /// [`Link::params`]; the offset counts from the start of the link's
    /// parameter list).
    #[error("bad parameter name at byte {offset}")]
    BadParameter {
        /// Byte offset in the document.
        offset: usize,
    },
    /// Something other than `;` or `,` after a link or parameter.
    #[error("unexpected character at byte {offset}")]
    Unexpected {
        /// Byte offset in the document.
        offset: usize,
    },
}

/// One link: `<target>` followed by its parameters, borrowed from the
/// document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Link<'a> {
    target: &'a str,
    params: &'a str,
}

/// One link parameter: `name`, `name=token` or `name="quoted"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Param<'a> {
    /// Parameter name (`rt`, `if`, `ct`, `obs`, ...).
    pub name: &'a str,
    /// Raw value: without quotes, escapes not yet resolved. `None` for a
    /// flag such as `obs`.
    pub raw_value: Option<&'a str>,
    /// Whether the value was a quoted string.
    pub quoted: bool,
}

impl<'a> Param<'a> {
    /// The value with quoted-string escapes (`\"`, `\\`) resolved.
    pub fn value(&self) -> Option<Cow<'a, str>> {
        let raw = self.raw_value?;
        if !self.quoted || !raw.contains('\\') {
            return Some(Cow::Borrowed(raw));
        }
        let mut s = String::with_capacity(raw.len());
        let mut esc = false;
        for c in raw.chars() {
            if esc || c != '\\' {
                s.push(c);
                esc = false;
            } else {
                esc = true;
            }
        }
        Some(Cow::Owned(s))
    }
}

impl<'a> Link<'a> {
    /// The link target (URI-reference between `<` and `>`).
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The parameters, in order.
    pub fn params(&self) -> Params<'a> {
        Params {
            rest: self.params,
            base: 0,
        }
    }

    /// The first parameter called `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<Param<'a>> {
        self.params()
            .filter_map(Result::ok)
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The space-separated values of relation-type parameters (`rt`, `if`,
    /// `rel`) across every occurrence of `name`.
    pub fn values(&self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params()
            .filter_map(Result::ok)
            .filter(move |p| p.name.eq_ignore_ascii_case(name))
            .filter_map(|p| p.raw_value)
            .flat_map(|v| v.split(' ').filter(|s| !s.is_empty()))
    }

    /// Resource types (`rt`).
    pub fn resource_types(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.values("rt")
    }

    /// Interface descriptions (`if`).
    pub fn interfaces(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.values("if")
    }

    /// Content-Format numbers (`ct=40` or `ct="0 41"`, RFC 7252 §7.2.1).
    pub fn content_formats(&self) -> impl Iterator<Item = u16> + 'a {
        self.values("ct").filter_map(|v| v.parse().ok())
    }

    /// The `obs` flag (RFC 7641 §6).
    pub fn is_observable(&self) -> bool {
        self.param("obs").is_some()
    }

    /// Maximum size estimate (`sz`).
    pub fn size_estimate(&self) -> Option<u64> {
        self.param("sz")?.raw_value?.parse().ok()
    }

    /// Title (`title`), unescaped.
    pub fn title(&self) -> Option<Cow<'a, str>> {
        self.param("title")?.value()
    }
}

impl fmt::Display for Link<'_> {
    /// Serialises the link exactly as it was written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>{}", self.target, self.params)
    }
}

/// Iterator over a link's parameters.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: &'a str,
    base: usize,
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<Param<'a>, LinkFormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = self.rest.strip_prefix(';')?;
        match param(r, self.base + 1) {
            Ok((p, used)) => {
                self.base += 1 + used;
                self.rest = &r[used..];
                Some(Ok(p))
            }
            Err(e) => {
                self.rest = "";
                Some(Err(e))
            }
        }
    }
}

/// Parses one parameter at the start of `s` (after its `;`). Returns the
/// parameter and the bytes it used.
fn param(s: &str, base: usize) -> Result<(Param<'_>, usize), LinkFormatError> {
    let b = s.as_bytes();
    let name_end = b
        .iter()
        .position(|c| matches!(c, b'=' | b';' | b','))
        .unwrap_or(b.len());
    let name = s[..name_end].trim_matches(' ');
    if name.is_empty()
        || !name.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'!' | b'#'
                        | b'$'
                        | b'&'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                        | b'*'
                )
        })
    {
        return Err(LinkFormatError::BadParameter { offset: base });
    }
    if b.get(name_end) != Some(&b'=') {
        return Ok((
            Param {
                name,
                raw_value: None,
                quoted: false,
            },
            name_end,
        ));
    }
    let vstart = name_end + 1;
    if b.get(vstart) == Some(&b'"') {
        let mut i = vstart + 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => {
                    let p = Param {
                        name,
                        raw_value: Some(&s[vstart + 1..i]),
                        quoted: true,
                    };
                    return Ok((p, i + 1));
                }
                _ => i += 1,
            }
        }
        return Err(LinkFormatError::UnterminatedQuote {
            offset: base + vstart,
        });
    }
    let vend = b[vstart..]
        .iter()
        .position(|c| matches!(c, b';' | b','))
        .map_or(b.len(), |p| vstart + p);
    Ok((
        Param {
            name,
            raw_value: Some(&s[vstart..vend]),
            quoted: false,
        },
        vend,
    ))
}

/// Parses a link-format document lazily. The document's structure (links,
/// targets, quoting) is checked as links are yielded; each link's
/// parameters are checked as [`Link::params`] reads them.
pub fn parse(doc: &str) -> Links<'_> {
    Links {
        doc,
        pos: 0,
        done: doc.trim().is_empty(),
    }
}

/// Iterator over the links of a document; stops after the first error.
#[derive(Debug, Clone)]
pub struct Links<'a> {
    doc: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Links<'a> {
    type Item = Result<Link<'a>, LinkFormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.link();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

impl<'a> Links<'a> {
    fn link(&mut self) -> Result<Link<'a>, LinkFormatError> {
        let doc = self.doc;
        let b = doc.as_bytes();
        // Whitespace (line breaks included) between links is tolerated, as
        // servers pretty-print long documents.
        while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        if b.get(start) != Some(&b'<') {
            return Err(LinkFormatError::ExpectedLink { offset: start });
        }
        let close = b[start..]
            .iter()
            .position(|c| *c == b'>')
            .ok_or(LinkFormatError::UnterminatedTarget { offset: start })?;
        let target = &doc[start + 1..start + close];
        let params_start = start + close + 1;
        // Find the end of the parameters: a ',' outside quoted strings.
        // The parameters themselves are checked as they are read.
        let mut i = params_start;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    let q = i;
                    i += 1;
                    loop {
                        match b.get(i) {
                            None => return Err(LinkFormatError::UnterminatedQuote { offset: q }),
                            Some(b'\\') => i += 2,
                            Some(b'"') => break,
                            Some(_) => i += 1,
                        }
                    }
                    i += 1;
                }
                b',' => break,
                _ => i += 1,
            }
        }
        let mut params_end = i;
        while params_end > params_start && b[params_end - 1].is_ascii_whitespace() {
            params_end -= 1;
        }
        let params = &doc[params_start..params_end];
        if !params.is_empty() && !params.starts_with(';') {
            return Err(LinkFormatError::Unexpected {
                offset: params_start,
            });
        }
        if i < b.len() {
            i += 1; // the ','
        } else {
            self.done = true;
        }
        self.pos = i;
        Ok(Link { target, params })
    }
}

/// A `/.well-known/core` query filter (RFC 6690 §4.1): one `name=value`
/// where `name` is a link parameter or `href`, and a trailing `*` makes the
/// value a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter<'q> {
    name: &'q str,
    value: &'q str,
    prefix: bool,
}

impl<'q> Filter<'q> {
    /// Parses one Uri-Query argument; `None` when it has no `=` or an empty
    /// name.
    pub fn parse(query: &'q str) -> Option<Self> {
        let (name, value) = query.split_once('=')?;
        if name.is_empty() {
            return None;
        }
        let (value, prefix) = match value.strip_suffix('*') {
            Some(v) => (v, true),
            None => (value, false),
        };
        Some(Self {
            name,
            value,
            prefix,
        })
    }

    fn test(&self, v: &str) -> bool {
        if self.prefix {
            v.starts_with(self.value)
        } else {
            v == self.value
        }
    }

    /// Whether `link` matches: `href` against the target; relation-type
    /// parameters (`rt`, `if`, `rel`, and `ct`, which may list several
    /// formats) against each space-separated value; any other parameter
    /// against its whole unescaped value.
    pub fn matches(&self, link: &Link<'_>) -> bool {
        if self.name.eq_ignore_ascii_case("href") {
            return self.test(link.target());
        }
        let multi = ["rt", "if", "rel", "ct"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(self.name));
        link.params()
            .filter_map(Result::ok)
            .filter(|p| p.name.eq_ignore_ascii_case(self.name))
            .any(|p| match p.value() {
                None => self.value.is_empty(),
                Some(v) if multi => v.split(' ').any(|x| self.test(x)),
                Some(v) => self.test(&v),
            })
    }
}

/// Writes a link-format document into any [`fmt::Write`] (usually a
/// `String`), separating links with commas.
#[derive(Debug)]
pub struct LinkFormatWriter<W: fmt::Write> {
    out: W,
    first: bool,
    result: fmt::Result,
}

impl<W: fmt::Write> LinkFormatWriter<W> {
    /// A writer appending to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            first: true,
            result: Ok(()),
        }
    }

    /// Starts a link to `target`; add parameters on the returned value.
    pub fn link(&mut self, target: &str) -> LinkWriter<'_, W> {
        if !self.first {
            self.put(",");
        }
        self.first = false;
        self.put("<");
        self.put(target);
        self.put(">");
        LinkWriter { doc: self }
    }

    /// Copies a parsed link as it was written.
    pub fn raw(&mut self, link: &Link<'_>) -> &mut Self {
        if !self.first {
            self.put(",");
        }
        self.first = false;
        self.write(format_args!("{link}"));
        self
    }

    fn put(&mut self, s: &str) {
        if self.result.is_ok() {
            self.result = self.out.write_str(s);
        }
    }

    fn write(&mut self, a: fmt::Arguments<'_>) {
        if self.result.is_ok() {
            self.result = self.out.write_fmt(a);
        }
    }

    /// The output. A `String` sink cannot fail; for other sinks,
    /// [`LinkFormatWriter::try_finish`] reports write errors.
    pub fn finish(self) -> W {
        self.out
    }

    /// The output, or the first write error.
    ///
    /// # Errors
    /// The first error the sink returned.
    pub fn try_finish(self) -> Result<W, fmt::Error> {
        self.result.map(|()| self.out)
    }
}

/// Adds parameters to the link just started by [`LinkFormatWriter::link`].
#[derive(Debug)]
pub struct LinkWriter<'d, W: fmt::Write> {
    doc: &'d mut LinkFormatWriter<W>,
}

impl<W: fmt::Write> LinkWriter<'_, W> {
    /// `;name` (a flag such as `obs`).
    pub fn flag(self, name: &str) -> Self {
        self.doc.put(";");
        self.doc.put(name);
        self
    }

    /// `;name=value` with a token value (`ct=40`, `sz=1280`).
    pub fn token(self, name: &str, value: &str) -> Self {
        self.doc.put(";");
        self.doc.put(name);
        self.doc.put("=");
        self.doc.put(value);
        self
    }

    /// `;name=value` with a number (`ct=40`, `sz=1280`).
    pub fn uint(self, name: &str, value: u64) -> Self {
        self.doc.put(";");
        self.doc.put(name);
        self.doc.write(format_args!("={value}"));
        self
    }

    /// `;name="value"`, escaping `"` and `\`.
    pub fn quoted(self, name: &str, value: &str) -> Self {
        self.doc.put(";");
        self.doc.put(name);
        self.doc.put("=\"");
        let mut rest = value;
        while let Some(i) = rest.find(['"', '\\']) {
            self.doc.put(&rest[..i]);
            self.doc.put("\\");
            self.doc.put(&rest[i..=i]);
            rest = &rest[i + 1..];
        }
        self.doc.put(rest);
        self.doc.put("\"");
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn all(doc: &str) -> Vec<Link<'_>> {
        parse(doc).collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn rfc6690_section_5_examples() {
        // §5 "Examples": link with rt, if, ct.
        let d = r#"</sensors/temp>;rt="temperature-c";if="sensor",</sensors/light>;rt="light-lux";if="sensor""#;
        let l = all(d);
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].target(), "/sensors/light");
        assert_eq!(l[1].resource_types().collect::<Vec<_>>(), ["light-lux"]);
        // §5: anchors and relations.
        let d = r#"</t>;anchor="/sensors/temp";rel="alternate""#;
        assert_eq!(
            all(d)[0].param("anchor").unwrap().value().unwrap(),
            "/sensors/temp"
        );
    }

    #[test]
    fn libcoap_well_known_core_parses() {
        // What libcoap's coap-server answers (the brief, slide 15).
        let d = r#"</>;title="General Info";ct=0,</time>;if="clock";rt="ticks";title="Internal Clock";ct=0;obs,</async>;ct=0"#;
        let l = all(d);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].title().unwrap(), "General Info");
        assert!(l[1].is_observable());
        assert_eq!(l[1].interfaces().collect::<Vec<_>>(), ["clock"]);
        assert!(!l[2].is_observable());
        let s: Vec<_> = l.iter().map(|x| alloc::format!("{x}")).collect();
        assert_eq!(s.join(","), d);
    }

    #[test]
    fn quoted_values_with_commas_semicolons_and_escapes() {
        let d = r#"</a>;title="x, y; \"z\"";sz=12, </b>"#;
        let l = all(d);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].title().unwrap(), r#"x, y; "z""#);
        assert_eq!(l[0].size_estimate(), Some(12));
        assert_eq!(l[1].target(), "/b");
    }

    #[test]
    fn multiple_values_and_ct_lists() {
        let l = all(r#"</d>;rt="a b  c";ct="0 41""#);
        assert_eq!(l[0].resource_types().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(l[0].content_formats().collect::<Vec<_>>(), [0, 41]);
        assert!(Filter::parse("ct=41").unwrap().matches(&l[0]));
        assert!(Filter::parse("rt=b").unwrap().matches(&l[0]));
        assert!(!Filter::parse("rt=d").unwrap().matches(&l[0]));
    }

    #[test]
    fn filters_follow_rfc6690_4_1() {
        let l = all(
            r#"</sensors/temp>;rt="temperature-c";if="sensor";ct=0;obs,</time>;rt="ticks";title="Clock""#,
        );
        let f = |q| Filter::parse(q).unwrap();
        assert!(f("href=/sensors*").matches(&l[0]));
        assert!(!f("href=/sensors*").matches(&l[1]));
        assert!(f("href=/time").matches(&l[1]));
        assert!(f("if=sensor").matches(&l[0]));
        assert!(f("title=Cl*").matches(&l[1]));
        assert!(f("rt=*").matches(&l[1]));
        assert!(f("obs=").matches(&l[0]));
        assert!(Filter::parse("noequals").is_none());
        assert!(Filter::parse("=x").is_none());
    }

    #[test]
    fn malformed_documents_are_errors_with_offsets() {
        let e = |d| parse(d).find_map(Result::err).unwrap();
        assert_eq!(e("/a>"), LinkFormatError::ExpectedLink { offset: 0 });
        assert_eq!(e("</a"), LinkFormatError::UnterminatedTarget { offset: 0 });
        assert_eq!(
            e(r#"</a>;t="x"#),
            LinkFormatError::UnterminatedQuote { offset: 7 }
        );
        // Parameters are checked as they are read; offsets count from the
        // start of the link's parameter list.
        let l = parse("</a>;=x").next().unwrap().unwrap();
        assert_eq!(
            l.params().next(),
            Some(Err(LinkFormatError::BadParameter { offset: 1 }))
        );
        assert_eq!(e("</a>x"), LinkFormatError::Unexpected { offset: 4 });
        assert_eq!(e("</a>,"), LinkFormatError::ExpectedLink { offset: 5 });
        assert_eq!(parse("").count(), 0);
        assert_eq!(parse("  ").count(), 0);
    }

    #[test]
    fn writer_escapes_and_round_trips() {
        let mut w = LinkFormatWriter::new(String::new());
        w.link("/a").quoted("title", r#"say "hi" \o/"#).flag("obs");
        w.link("/b").token("ct", "40");
        let s = w.finish();
        assert_eq!(s, r#"</a>;title="say \"hi\" \\o/";obs,</b>;ct=40"#);
        let l = all(&s);
        assert_eq!(l[0].title().unwrap(), r#"say "hi" \o/"#);
        let mut w2 = LinkFormatWriter::new(String::new());
        for x in &l {
            w2.raw(x);
        }
        assert_eq!(w2.try_finish().unwrap(), s);
    }
}
