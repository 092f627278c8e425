//! Property tests: round-trips for every valid message, and no panic on
//! arbitrary bytes.

use bytes::{Bytes, BytesMut};
use coap_codec::link_format::{self, LinkFormatWriter};
use coap_codec::tcp::{Decoder, StreamMessage};
use coap_codec::uri::CoapUri;
use coap_codec::{Code, Message, MessageBuilder, MessageType, OptionFormat, OptionNumber};
use proptest::prelude::*;

fn message_type() -> impl Strategy<Value = MessageType> {
    (0u8..4).prop_map(MessageType::from_bits)
}

/// Any option: a registered one with a value of its format and length, or
/// an arbitrary number with arbitrary bytes.
fn option() -> impl Strategy<Value = (OptionNumber, Vec<u8>)> {
    let registered = prop::sample::select(OptionNumber::REGISTERED).prop_flat_map(|n| {
        let (min, max) = n.length_bounds();
        let max = usize::from(max.min(300));
        let min = usize::from(min);
        let value: BoxedStrategy<Vec<u8>> = match n.format() {
            Some(OptionFormat::String) => "[a-zA-Z0-9 /?&=%._~-]{0,300}"
                .prop_map(move |s: String| {
                    let mut v = s.into_bytes();
                    v.truncate(max);
                    while v.len() < min {
                        v.push(b'x');
                    }
                    v
                })
                .boxed(),
            _ => prop::collection::vec(any::<u8>(), min..=max).boxed(),
        };
        value.prop_map(move |v| (n, v))
    });
    let any_number = (any::<u16>(), prop::collection::vec(any::<u8>(), 0..40))
        .prop_map(|(n, v)| (OptionNumber(n), v));
    prop_oneof![3 => registered, 1 => any_number]
}

fn builder() -> impl Strategy<Value = MessageBuilder> {
    (
        message_type(),
        1u8..=255,
        any::<u16>(),
        prop::collection::vec(any::<u8>(), 0..=8),
        prop::collection::vec(option(), 0..8),
        prop::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(t, code, mid, token, opts, payload)| {
            let mut m = MessageBuilder::new(t, Code(code))
                .with_message_id(mid)
                .with_token(&token)
                .payload(payload);
            for (n, v) in opts {
                m.add_option(n, &v);
            }
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn udp_round_trip(m in builder()) {
        let bytes = m.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), m.encoded_len());
        let d = Message::decode(bytes.clone()).unwrap();
        prop_assert_eq!(d.to_builder(), m.clone());
        prop_assert_eq!(MessageBuilder::from_message(&d), m);
        // Zero-copy view over a slice decodes the same.
        let s = Message::decode(&bytes[..]).unwrap();
        prop_assert_eq!(s.payload(), d.payload());
    }

    #[test]
    fn tcp_and_ws_round_trip(m in builder()) {
        let mut tcp = BytesMut::new();
        m.encode_tcp(&mut tcp).unwrap();
        prop_assert_eq!(tcp.len(), m.encoded_len_tcp());
        let mut dec = Decoder::with_max_message_size(1 << 20);
        let f = dec.decode(&mut tcp).unwrap().unwrap();
        prop_assert!(tcp.is_empty());
        let mut want = m.clone();
        want.message_type = MessageType::Confirmable;
        want.message_id = 0;
        prop_assert_eq!(f.to_builder(), want.clone());
        let mut ws = Vec::new();
        m.encode_ws(&mut ws).unwrap();
        prop_assert_eq!(StreamMessage::decode_ws(Bytes::from(ws)).unwrap().to_builder(), want);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        coap_codec::fuzzing::coap_message(&data);
        coap_codec::fuzzing::coap_tcp_frame(&data);
        coap_codec::fuzzing::coap_link_format(&data);
    }

    #[test]
    fn mutated_valid_messages_never_panic(m in builder(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut v = m.to_bytes().unwrap().to_vec();
        for (i, b) in flips {
            let i = i.index(v.len());
            v[i] = b;
        }
        coap_codec::fuzzing::coap_message(&v);
    }

    #[test]
    fn link_format_writer_round_trips(links in prop::collection::vec(
        ("/[a-z0-9/]{0,20}", "[ -~]{0,20}", prop::option::of(0u16..65000), any::<bool>()), 0..10)) {
        let mut w = LinkFormatWriter::new(String::new());
        for (t, title, ct, obs) in &links {
            let mut l = w.link(t).quoted("title", title);
            if let Some(ct) = ct { l = l.token("ct", &ct.to_string()); }
            if *obs { l.flag("obs"); }
        }
        let doc = w.finish();
        let parsed: Vec<_> = link_format::parse(&doc).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(parsed.len(), links.len());
        for (p, (t, title, ct, obs)) in parsed.iter().zip(&links) {
            prop_assert_eq!(p.target(), t.as_str());
            prop_assert_eq!(p.title().unwrap(), title.as_str());
            prop_assert_eq!(p.content_formats().next(), *ct);
            prop_assert_eq!(p.is_observable(), *obs);
        }
    }

    #[test]
    fn uri_compose_then_parse_is_identity(
        path in prop::collection::vec("[ -~]{0,12}", 0..4),
        query in prop::collection::vec("[ -~]{0,12}", 0..3),
        port in 1u16..,
    ) {
        let mut s = format!("coap://example.org:{port}");
        let u0 = CoapUri::parse(&s).unwrap();
        let u = CoapUri { path, query, ..u0 };
        s = u.to_string();
        let back = CoapUri::parse(&s).unwrap();
        // An empty single segment is the same URI as no segment ("/").
        let norm = |p: &Vec<String>| if p.len() == 1 && p[0].is_empty() { Vec::new() } else { p.clone() };
        prop_assert_eq!(norm(&back.path), norm(&u.path));
        prop_assert_eq!(back.query, u.query);
        prop_assert_eq!(back.port, port);
    }
}
