//! Instruction-count harness for callgrind: takes apart a receive buffer of
//! 32 PUBLISH packets `ITERS` times with one decoder, so that
//! `valgrind --tool=callgrind --toggle-collect='*decode_batch*'` counts
//! only the decoding (the buffer copies made between batches are excluded).
//!
//! Usage: `decode_count <ours|lazy|theirs> <3.1.1|5.0> <qos0|qos1> <16|1024> [iters]`
//! (see BENCH-NOTES for the callgrind command line). Under `cargo bench` it
//! runs one short pass of every case, as a smoke test.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Packet, Properties, ProtocolVersion, Publish, QoS, StreamDecoder, Utf8String};

const MAX: usize = 1 << 20;
const BATCH: usize = 32;

fn s(x: &str) -> Utf8String {
    Utf8String::try_from(x).unwrap()
}

/// The same PUBLISH as the criterion bench (`benches/mqtt.rs`).
fn frame(v: ProtocolVersion, qos: QoS, size: usize) -> Bytes {
    let mut p = Publish::new(
        s("building/3/floor/2/room/17/temperature"),
        Bytes::from(vec![0x5a; size]),
    )
    .with_qos(qos, if qos == QoS::AtMostOnce { 0 } else { 4711 });
    if v.is_v5() {
        p.properties = Properties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(3600),
            content_type: Some(s("application/json")),
            user_properties: vec![(s("unit"), s("celsius"))],
            ..Properties::default()
        }
        .into();
    }
    let mut b = BytesMut::new();
    Packet::Publish(p).encode(v, &mut b).unwrap();
    b.freeze()
}

#[inline(never)]
fn decode_batch_ours(v: ProtocolVersion, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    let mut dec = StreamDecoder::new(v, MAX);
    while let Some(p) = dec.decode(black_box(buf)).unwrap() {
        black_box(&p);
        n += 1;
    }
    n
}

#[inline(never)]
fn decode_batch_lazy(v: ProtocolVersion, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    let mut dec = StreamDecoder::new(v, MAX);
    while let Some(p) = dec.decode_lazy(black_box(buf)).unwrap() {
        black_box(&p);
        n += 1;
    }
    n
}

#[inline(never)]
fn decode_batch_theirs(v: ProtocolVersion, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while !buf.is_empty() {
        if v.is_v5() {
            black_box(&mqttbytes::v5::read(black_box(buf), MAX).unwrap());
        } else {
            black_box(&mqttbytes::v4::read(black_box(buf), MAX).unwrap());
        }
        n += 1;
    }
    n
}

fn run(who: &str, v: ProtocolVersion, qos: QoS, size: usize, iters: usize) -> usize {
    let f = frame(v, qos, size);
    let mut stream = BytesMut::new();
    for _ in 0..BATCH {
        stream.extend_from_slice(&f);
    }
    let mut total = 0;
    for _ in 0..iters {
        let mut buf = stream.clone();
        total += match who {
            "ours" => decode_batch_ours(v, &mut buf),
            "lazy" => decode_batch_lazy(v, &mut buf),
            "theirs" => decode_batch_theirs(v, &mut buf),
            _ => panic!("decoder: ours, lazy or theirs"),
        };
    }
    total
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 || args.iter().any(|a| a == "--bench") {
        for who in ["ours", "lazy", "theirs"] {
            for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
                for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
                    for size in [16, 1024] {
                        assert_eq!(run(who, v, qos, size, 2), 2 * BATCH);
                    }
                }
            }
        }
        return;
    }
    let v = match args[1].as_str() {
        "3.1.1" => ProtocolVersion::V3_1_1,
        "5.0" => ProtocolVersion::V5,
        other => panic!("version {other}"),
    };
    let qos = match args[2].as_str() {
        "qos0" => QoS::AtMostOnce,
        "qos1" => QoS::AtLeastOnce,
        other => panic!("qos {other}"),
    };
    let size = args[3].parse().unwrap();
    let iters = args.get(4).map_or(10_000, |n| n.parse().unwrap());
    let n = run(&args[0], v, qos, size, iters);
    println!("{n} packets");
}
