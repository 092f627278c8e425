//! Invariant checks shared by the fuzz targets (`fuzz/fuzz_targets/coap_*`)
//! and the corpus-replay tests. Internal: behind the `__fuzz` feature.
//!
//! Each function takes arbitrary bytes and panics only if the codec breaks
//! one of its promises.

use alloc::format;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use crate::{link_format, tcp, uri, Message, MessageBuilder};

/// UDP messages: decoding never panics; every accessor works on what
/// decodes; re-encoding is byte-identical (the encoding is canonical).
pub fn coap_message(data: &[u8]) {
    let Ok(m) = Message::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    let o = m.options();
    let _ = (
        o.path(),
        o.content_format(),
        o.block1(),
        o.block2(),
        o.observe(),
    );
    let _ = (
        o.uri_host(),
        o.proxy_uri(),
        o.max_age(),
        o.size1(),
        o.no_response(),
    );
    let _ = o.unrecognized_critical();
    let _ = format!("{m}{m:?}");
    let again = m
        .to_builder()
        .to_bytes()
        .expect("decoded message re-encodes");
    assert_eq!(&again[..], data, "re-encoding is byte-identical");
    assert_eq!(MessageBuilder::from_message(&m), m.to_builder());
    if let Ok(u) = uri::CoapUri::from_options(uri::Scheme::Coap, ([127, 0, 0, 1].into(), 5683), &o)
    {
        let s = format!("{u}");
        // What a composed URI says, it parses back to (if components fit).
        // RFC 7252 §6.4/§6.5: one empty Uri-Path and none are the same "/".
        let norm = |p: &Vec<alloc::string::String>| {
            if p.len() == 1 && p[0].is_empty() {
                Vec::new()
            } else {
                p.clone()
            }
        };
        if let Ok(back) = uri::CoapUri::parse(&s) {
            assert_eq!(norm(&back.path), norm(&u.path), "{s}");
            assert_eq!(back.query, u.query, "{s}");
        }
    }
}

/// TCP framing: the first byte picks a chunk size; the stream decoder fed
/// in chunks agrees with one-shot decoding, and frames re-encode exactly.
/// The rest is also tried as a WebSocket message.
pub fn coap_tcp_frame(data: &[u8]) {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk % 16) + 1;
    let mut dec = tcp::Decoder::with_max_message_size(4096);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    'feed: for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    let mut again = Vec::new();
    for f in &frames {
        let _ = (
            f.max_message_size(),
            f.hold_off(),
            f.bad_csm_option(),
            f.custody(),
        );
        f.to_builder()
            .encode_tcp(&mut again)
            .expect("decoded frame re-encodes");
    }
    assert_eq!(&again[..], &rest[..again.len()], "frames re-encode exactly");
    if let Ok(ws) = tcp::StreamMessage::decode_ws(Bytes::copy_from_slice(rest)) {
        let mut v = Vec::new();
        ws.to_builder().encode_ws(&mut v).expect("ws re-encodes");
        assert_eq!(&v[..], rest);
    }
}

/// Link format: parsing never panics; every link that parses prints back
/// to text that parses to the same link; filters run on every link.
pub fn coap_link_format(data: &[u8]) {
    let Ok(doc) = core::str::from_utf8(data) else {
        return;
    };
    for link in link_format::parse(doc).take(1024) {
        let Ok(link) = link else { break };
        let text = format!("{link}");
        let back = link_format::parse(&text)
            .next()
            .expect("one link")
            .expect("printed link parses");
        assert_eq!(back, link);
        let _ = (
            link.title(),
            link.content_formats().count(),
            link.is_observable(),
        );
        for q in ["rt=a*", "href=/x", "ct=0", "if=sensor", "title=*"] {
            let _ = link_format::Filter::parse(q).map(|f| f.matches(&link));
        }
    }
    let _ = uri::CoapUri::parse(doc);
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::vec::Vec;

    fn replay(target: &str, check: fn(&[u8])) {
        let dir =
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/")).join(target);
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!files.is_empty(), "{} has no seeds", dir.display());
        for f in files {
            check(&std::fs::read(&f).unwrap());
        }
    }

    #[test]
    fn replay_corpus() {
        replay("coap_message", super::coap_message);
        replay("coap_tcp_frame", super::coap_tcp_frame);
        replay("coap_link_format", super::coap_link_format);
    }
}
