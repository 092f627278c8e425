//! `/.well-known/core` generated from the resource tree (RFC 6690 §4),
//! with the query filtering of RFC 6690 §4.1.

use coap_codec::link_format::{self, Filter, LinkFormatWriter};
use coap_codec::uri::encode_path_segment;

use super::resource::Attributes;

/// Appends the link of the resource at `path` to `doc` when it matches
/// every filter (RFC 6690 §4.1: `href`, `rt`, `if`, `ct`, any parameter;
/// a trailing `*` matches a prefix).
pub(crate) fn append_link(
    doc: &mut String,
    path: &[&str],
    attrs: &Attributes,
    filters: &[Filter<'_>],
) {
    let mut target = String::new();
    for seg in path {
        target.push('/');
        target.push_str(&encode_path_segment(seg));
    }
    if target.is_empty() {
        target.push('/');
    }
    let one = write_link(&target, attrs);
    if !filters.is_empty() {
        let Some(Ok(link)) = link_format::parse(&one).next() else {
            return;
        };
        if !filters.iter().all(|f| f.matches(&link)) {
            return;
        }
    }
    if !doc.is_empty() {
        doc.push(',');
    }
    doc.push_str(&one);
}

fn write_link(target: &str, a: &Attributes) -> String {
    let mut w = LinkFormatWriter::new(String::new());
    let mut l = w.link(target);
    if let Some(t) = &a.title {
        l = l.quoted("title", t);
    }
    if !a.resource_types.is_empty() {
        l = l.quoted("rt", &a.resource_types.join(" "));
    }
    if !a.interfaces.is_empty() {
        l = l.quoted("if", &a.interfaces.join(" "));
    }
    match a.content_formats.as_slice() {
        [] => {}
        [one] => l = l.uint("ct", u64::from(*one)),
        many => {
            let s: Vec<String> = many.iter().map(u16::to_string).collect();
            l = l.quoted("ct", &s.join(" "));
        }
    }
    if let Some(sz) = a.size {
        l = l.uint("sz", sz);
    }
    if a.observable {
        l = l.flag("obs");
    }
    for (name, value) in &a.extra {
        l = match value {
            Some(v) => l.quoted(name, v),
            None => l.flag(name),
        };
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use coap_codec::ContentFormat;

    #[test]
    fn link_carries_every_attribute() {
        let a = Attributes::new()
            .title("T")
            .rt("Type1")
            .rt("Type2")
            .interface("If1")
            .ct(ContentFormat::TEXT_PLAIN)
            .observable()
            .size(12);
        let mut doc = String::new();
        append_link(&mut doc, &["a b", "c"], &a, &[]);
        assert_eq!(
            doc,
            r#"</a%20b/c>;title="T";rt="Type1 Type2";if="If1";ct=0;sz=12;obs"#
        );
    }

    #[test]
    fn filters_select_by_resource_type_prefix() {
        let mut doc = String::new();
        let f = [Filter::parse("rt=Type2*").unwrap()];
        append_link(&mut doc, &["x"], &Attributes::new().rt("Type1"), &f);
        append_link(&mut doc, &["y"], &Attributes::new().rt("Type1 Type2x"), &f);
        append_link(&mut doc, &["z"], &Attributes::new().rt("Type2"), &f);
        assert_eq!(doc, r#"</y>;rt="Type1 Type2x",</z>;rt="Type2""#);
    }
}
