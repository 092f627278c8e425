//! Messages produced by real peers, decoded and re-encoded byte for byte.
//!
//! The fixtures in `tests/fixtures/*.txt` were captured by
//! `tests/fixtures/capture.py` (its docstring says how): requests from
//! libcoap's `coap-client` 4.3.1 and `aiocoap-client`, responses from
//! libcoap's `coap-server`, and a libcoap CoAP-over-TCP exchange.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use coap_codec::{
    link_format, tcp, Block, Code, ContentFormat, Message, MessageType, OptionNumber,
};

fn load(name: &str) -> HashMap<String, Bytes> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (n, h) = l.split_once('\t').expect("name<TAB>hex");
            (n.to_string(), Bytes::from(hex::decode(h).expect("hex")))
        })
        .collect()
}

fn decode_all(set: &HashMap<String, Bytes>) -> HashMap<String, Message> {
    set.iter()
        .map(|(n, b)| {
            let m = Message::decode(b.clone()).unwrap_or_else(|e| panic!("{n}: {e}"));
            // Option and length encodings are canonical, so re-encoding the
            // owned copy must give the same bytes.
            assert_eq!(m.to_builder().to_bytes().unwrap(), *b, "{n} re-encodes");
            (n.clone(), m)
        })
        .collect()
}

fn strs<'a>(
    it: impl Iterator<Item = Result<&'a str, coap_codec::OptionValueError>>,
) -> Vec<&'a str> {
    it.map(Result::unwrap).collect()
}

#[test]
fn libcoap_client_requests() {
    let m = decode_all(&load("libcoap-client.txt"));
    assert_eq!(m.len(), 17);
    assert!(m.values().all(|x| x.is_request()));

    let q = &m["get_path_query"];
    assert_eq!(q.options().path().unwrap(), "/sensors/temp");
    assert_eq!(strs(q.options().uri_query()), ["unit=c", "fmt=json"]);

    let t = &m["get_token_accept"];
    // libcoap 4.3.1 takes `-T cafe` as a base and increments it before the
    // first request, so "cafe" goes out as "caff".
    assert_eq!(t.token_bytes(), b"caff");
    assert_eq!(t.options().accept(), Some(ContentFormat::JSON));

    let p = &m["put_text"];
    assert_eq!(p.code(), Code::PUT);
    assert_eq!(
        p.options().content_format(),
        Some(ContentFormat::TEXT_PLAIN)
    );
    assert_eq!(p.payload(), b"22.5");

    assert_eq!(m["post_json"].payload(), br#"{"t":1}"#);
    assert_eq!(m["delete"].code(), Code::DELETE);
    assert_eq!(m["fetch"].code(), Code::FETCH);
    assert_eq!(m["ipatch"].code(), Code::IPATCH);
    assert_eq!(m["non_get"].message_type(), MessageType::NonConfirmable);
    assert_eq!(m["observe"].options().observe(), Some(0));
    assert_eq!(m["block2_64"].options().block2(), Block::new(0, false, 2));

    let b1 = &m["block1_put"];
    assert_eq!(b1.options().block1(), Block::new(0, true, 1));
    assert_eq!(b1.options().size1(), Some(100));
    assert_eq!(b1.payload().len(), 32);

    assert_eq!(m["hop_limit"].options().hop_limit(), Some(7));
    assert_eq!(
        m["custom_option"].options().get(OptionNumber(2048)),
        Some(&b"hello"[..])
    );
    assert_eq!(
        m["uri_host"].options().uri_host().unwrap(),
        Some("example.com")
    );
    assert_eq!(
        m["get_well_known_core"].options().path().unwrap(),
        "/.well-known/core"
    );
}

#[test]
fn aiocoap_client_requests() {
    let m = decode_all(&load("aiocoap-client.txt"));
    assert_eq!(m["get"].options().path().unwrap(), "/sensors/temp");
    assert_eq!(m["get"].token().len(), 2);
    let p = &m["put_text"];
    assert_eq!((p.code(), p.payload()), (Code::PUT, &b"22.5"[..]));
    assert_eq!(
        p.options().content_format(),
        Some(ContentFormat::TEXT_PLAIN)
    );
    assert_eq!(strs(m["post_query"].options().uri_query()), ["x=1"]);
    assert_eq!(m["observe"].options().observe(), Some(0));
    assert_eq!(m["non"].message_type(), MessageType::NonConfirmable);
    assert_eq!(
        m["accept_cbor"].options().accept(),
        Some(ContentFormat::CBOR)
    );
    assert_eq!(m["delete"].options().path().unwrap(), "/basic/1");
}

#[test]
fn libcoap_server_responses() {
    let m = decode_all(&load("libcoap-server.txt"));
    let root = &m["get_root_response"];
    assert_eq!(root.message_type(), MessageType::Acknowledgement);
    assert_eq!(root.code(), Code::CONTENT);
    assert_eq!(root.token_bytes(), b"rK");
    // The brief's CoAPthon output: "Max-Age: 196607".
    assert_eq!(root.options().max_age(), Some(196_607));
    assert!(root
        .payload()
        .starts_with(b"This is a test server made with libcoap"));

    let wk = &m["get_well_known_core_response"];
    assert_eq!(
        wk.options().content_format(),
        Some(ContentFormat::LINK_FORMAT)
    );
    let doc = std::str::from_utf8(wk.payload()).unwrap();
    let links: Vec<_> = link_format::parse(doc).collect::<Result<_, _>>().unwrap();
    assert_eq!(links.len(), 4);
    assert_eq!(links[1].target(), "/time");
    assert!(links[1].is_observable());
    assert_eq!(links[1].resource_types().collect::<Vec<_>>(), ["ticks"]);

    let obs = &m["observe_time_response"];
    assert!(obs.options().observe().is_some());
    assert_eq!(m["not_found_response"].code(), Code::NOT_FOUND);
    let ping = &m["ping_response"];
    assert!(ping.is_empty() && ping.message_type() == MessageType::Reset);
    assert_eq!(m["unknown_critical_response"].code(), Code::BAD_OPTION);
}

#[test]
fn libcoap_tcp_csm_and_request() {
    let set = load("libcoap-client-tcp.txt");
    let wire = &set["csm_then_get"];
    let mut buf = BytesMut::from(&wire[..]);
    let mut dec = tcp::Decoder::with_max_message_size(1 << 16);
    let csm = dec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(csm.code(), Code::CSM);
    assert!(csm.max_message_size().unwrap() >= 1152);
    assert!(csm.block_wise_transfer());
    let get = dec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(get.code(), Code::GET);
    assert_eq!(get.options().path().unwrap(), "/sensors/temp");
    assert!(buf.is_empty());
    // Re-encoding both frames gives the captured stream back.
    let mut again = Vec::new();
    csm.to_builder().encode_tcp(&mut again).unwrap();
    get.to_builder().encode_tcp(&mut again).unwrap();
    assert_eq!(again, wire[..]);
}
