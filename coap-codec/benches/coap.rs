//! coap-codec against coap-lite on the same messages.
//!
//! Run: `cargo bench -p coap-codec --bench coap`
//!
//! "decode" means decode and read every option value and the payload (our
//! view is lazy, so reading is part of the fair comparison); "encode" means
//! build the message from its parts and serialise it.

use std::collections::LinkedList;
use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use coap_codec::link_format::{self, LinkFormatWriter};
use coap_codec::{Block, Code, ContentFormat, Message, MessageBuilder, MessageType};
use coap_lite::link_format::{LinkFormatParser, LinkFormatWrite};
use coap_lite::{CoapOption, MessageClass, Packet, RequestType, ResponseType};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn get_request() -> MessageBuilder {
    MessageBuilder::new(MessageType::Confirmable, Code::GET)
        .with_message_id(0xadbe)
        .with_token(&[0x01, 0x72])
        .path("/sensors/temp")
        .query("unit=c")
}

fn two_option_response() -> MessageBuilder {
    MessageBuilder::new(MessageType::Acknowledgement, Code::CONTENT)
        .with_message_id(0xadbe)
        .with_token(&[0x01, 0x72])
        .content_format(ContentFormat::TEXT_PLAIN)
        .max_age(60)
        .payload(&b"22.5 C"[..])
}

fn block2_response() -> MessageBuilder {
    MessageBuilder::new(MessageType::Acknowledgement, Code::CONTENT)
        .with_message_id(0x1234)
        .with_token(&[0xca, 0xfe, 0xba, 0xbe])
        .content_format(ContentFormat::OCTET_STREAM)
        .block2(Block::new(3, true, 6).unwrap())
        .payload(vec![0x5a; 1024])
}

fn lite_get() -> Packet {
    let mut p = Packet::new();
    p.header.set_type(coap_lite::MessageType::Confirmable);
    p.header.code = MessageClass::Request(RequestType::Get);
    p.header.message_id = 0xadbe;
    p.set_token(vec![0x01, 0x72]);
    p.add_option(CoapOption::UriPath, b"sensors".to_vec());
    p.add_option(CoapOption::UriPath, b"temp".to_vec());
    p.add_option(CoapOption::UriQuery, b"unit=c".to_vec());
    p
}

fn lite_two_option() -> Packet {
    let mut p = Packet::new();
    p.header.set_type(coap_lite::MessageType::Acknowledgement);
    p.header.code = MessageClass::Response(ResponseType::Content);
    p.header.message_id = 0xadbe;
    p.set_token(vec![0x01, 0x72]);
    p.set_option(CoapOption::ContentFormat, LinkedList::from([vec![]]));
    p.set_option(CoapOption::MaxAge, LinkedList::from([vec![60]]));
    p.payload = b"22.5 C".to_vec();
    p
}

fn lite_block2() -> Packet {
    let mut p = Packet::new();
    p.header.set_type(coap_lite::MessageType::Acknowledgement);
    p.header.code = MessageClass::Response(ResponseType::Content);
    p.header.message_id = 0x1234;
    p.set_token(vec![0xca, 0xfe, 0xba, 0xbe]);
    p.set_option(CoapOption::ContentFormat, LinkedList::from([vec![42]]));
    p.set_option(CoapOption::Block2, LinkedList::from([vec![0x3e]]));
    p.payload = vec![0x5a; 1024];
    p
}

fn read_ours<B: AsRef<[u8]>>(m: &Message<B>) -> usize {
    m.options().iter().map(|o| o.value.len()).sum::<usize>() + m.payload().len()
}

fn read_lite(p: &Packet) -> usize {
    p.options()
        .map(|(_, vs)| vs.iter().map(Vec::len).sum::<usize>())
        .sum::<usize>()
        + p.payload.len()
}

fn messages(c: &mut Criterion) {
    type Case = (&'static str, fn() -> MessageBuilder, fn() -> Packet);
    let cases: [Case; 3] = [
        ("get_request", get_request, lite_get),
        ("response_two_options", two_option_response, lite_two_option),
        ("block2_response_1024", block2_response, lite_block2),
    ];
    for (name, ours, lite) in cases {
        let wire = ours().to_bytes().unwrap();
        // Both codecs produce the same bytes for the same message.
        assert_eq!(lite().to_bytes().unwrap(), wire.to_vec(), "{name}");
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_function("coap-codec", |b| {
            b.iter(|| {
                let m = Message::decode(black_box(&wire[..])).unwrap();
                black_box(read_ours(&m))
            })
        });
        g.bench_function("coap-codec-bytes", |b| {
            b.iter(|| {
                let m = Message::decode(black_box(wire.clone())).unwrap();
                black_box(read_ours(&m))
            })
        });
        g.bench_function("coap-lite", |b| {
            b.iter(|| {
                let p = Packet::from_bytes(black_box(&wire[..])).unwrap();
                black_box(read_lite(&p))
            })
        });
        g.finish();

        let mut g = c.benchmark_group(format!("encode/{name}"));
        g.throughput(Throughput::Bytes(wire.len() as u64));
        let mut buf = BytesMut::with_capacity(2048);
        g.bench_function("coap-codec", |b| {
            b.iter(|| {
                buf.clear();
                black_box(ours()).encode(&mut buf).unwrap();
                black_box(buf.len())
            })
        });
        g.bench_function("coap-lite", |b| {
            b.iter(|| black_box(black_box(lite()).to_bytes().unwrap()))
        });
        g.finish();
    }
}

const RESOURCES: [(&str, &str, &str, u16, bool); 10] = [
    ("/sensors/temp", "temperature-c", "sensor", 0, true),
    ("/sensors/light", "light-lux", "sensor", 0, true),
    ("/sensors/humidity", "humidity-rh", "sensor", 50, true),
    ("/actuators/led", "light", "actuator", 0, false),
    ("/actuators/relay", "switch", "actuator", 0, false),
    ("/parking/spot/1", "parking-spot", "core.s", 50, true),
    ("/parking/spot/2", "parking-spot", "core.s", 50, true),
    ("/config", "config", "core.p", 60, false),
    ("/time", "ticks", "clock", 0, true),
    ("/fw", "firmware", "core.rp", 42, false),
];

fn well_known_core(c: &mut Criterion) {
    let mut w = LinkFormatWriter::new(String::new());
    for (t, rt, iff, ct, obs) in RESOURCES {
        let l = w
            .link(t)
            .quoted("rt", rt)
            .quoted("if", iff)
            .uint("ct", ct.into());
        if obs {
            l.flag("obs");
        }
    }
    let doc = w.finish();
    let doc_bytes = Bytes::from(doc.clone());

    let mut g = c.benchmark_group("link_format/parse_10_links");
    g.throughput(Throughput::Bytes(doc.len() as u64));
    g.bench_function("coap-codec", |b| {
        b.iter(|| {
            let mut n = 0;
            for l in link_format::parse(black_box(&doc)) {
                let l = l.unwrap();
                n += l.target().len();
                for p in l.params() {
                    let p = p.unwrap();
                    n += p.name.len() + p.value().map_or(0, |v| v.len());
                }
            }
            black_box(n)
        })
    });
    g.bench_function("coap-lite", |b| {
        b.iter(|| {
            let mut n = 0;
            for l in LinkFormatParser::new(black_box(&doc)) {
                let (target, attrs) = l.unwrap();
                n += target.len();
                for (k, v) in attrs {
                    n += k.len() + v.to_cow().len();
                }
            }
            black_box(n)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("link_format/write_10_links");
    g.throughput(Throughput::Bytes(doc_bytes.len() as u64));
    g.bench_function("coap-codec", |b| {
        b.iter(|| {
            let mut w = LinkFormatWriter::new(String::with_capacity(512));
            for (t, rt, iff, ct, obs) in black_box(RESOURCES) {
                let l = w
                    .link(t)
                    .quoted("rt", rt)
                    .quoted("if", iff)
                    .uint("ct", ct.into());
                if obs {
                    l.flag("obs");
                }
            }
            black_box(w.finish())
        })
    });
    g.bench_function("coap-lite", |b| {
        b.iter(|| {
            let mut s = String::with_capacity(512);
            let mut w = LinkFormatWrite::new(&mut s);
            for (t, rt, iff, ct, obs) in black_box(RESOURCES) {
                let l = w
                    .link(t)
                    .attr_quoted("rt", rt)
                    .attr_quoted("if", iff)
                    .attr_u16("ct", ct);
                if obs {
                    l.attr("obs", "").finish().unwrap();
                } else {
                    l.finish().unwrap();
                }
            }
            w.finish().unwrap();
            black_box(s)
        })
    });
    g.finish();
}

criterion_group!(benches, messages, well_known_core);
criterion_main!(benches);
