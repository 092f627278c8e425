//! Instruction-count harness for callgrind: takes apart a receive buffer of
//! 32 PUBLISH packets `ITERS` times with one decoder, so that
//! `valgrind --tool=callgrind --toggle-collect='*decode_batch*'` counts
//! only the decoding (the buffer copies made between batches are excluded).
//!
//! Usage: `decode_count <ours|lazy|theirs>[+read] <3.1.1|5.0> <qos0|qos1> <16|1024> [iters]`
//! (see BENCH-NOTES for the callgrind command line).
//!
//! Decoders `ours+read`, `lazy+read`, `theirs+read` also take each topic as
//! `&str` and each payload as bytes.
//!
//! `decode_count time [rounds]` (`time-read`: the `+read` variants) is a wall-clock cross-check for a loaded
//! machine: for every PUBLISH case it times single batches of 32 packets,
//! the three decoders interleaved round after round, and prints the fastest
//! and the median batch of each (a batch that was not preempted shows the
//! code's own speed). `decode_count time-cold [repeats]` prepares the
//! buffers in bulk first, as criterion's batched setup does, so that large
//! ones are decoded from outside the caches. Under `cargo bench` it runs one
//! short pass of every case, as a smoke test.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    LazyPacket, Packet, Properties, ProtocolVersion, Publish, QoS, StreamDecoder, Utf8String,
};

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

/// The `*_read` variants also take the topic as `&str` and the payload as
/// bytes from every packet, as a router does.
#[inline(never)]
fn decode_batch_ours_read(v: ProtocolVersion, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    let mut dec = StreamDecoder::new(v, MAX);
    while let Some(p) = dec.decode(black_box(buf)).unwrap() {
        if let Packet::Publish(p) = &p {
            black_box((p.topic.as_str(), &p.payload[..]));
        }
        n += 1;
    }
    n
}

#[inline(never)]
fn decode_batch_lazy_read(v: ProtocolVersion, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    let mut dec = StreamDecoder::new(v, MAX);
    while let Some(p) = dec.decode_lazy(black_box(buf)).unwrap() {
        if let LazyPacket::Publish(p) = &p {
            black_box((p.topic(), p.payload()));
        }
        n += 1;
    }
    n
}

#[inline(never)]
fn decode_batch_theirs_read(v: ProtocolVersion, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while !buf.is_empty() {
        if v.is_v5() {
            if let mqttbytes::v5::Packet::Publish(p) =
                mqttbytes::v5::read(black_box(buf), MAX).unwrap()
            {
                black_box((p.topic.as_str(), &p.payload[..]));
            }
        } else if let mqttbytes::v4::Packet::Publish(p) =
            mqttbytes::v4::read(black_box(buf), MAX).unwrap()
        {
            black_box((p.topic.as_str(), &p.payload[..]));
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
            "ours+read" => decode_batch_ours_read(v, &mut buf),
            "lazy+read" => decode_batch_lazy_read(v, &mut buf),
            "theirs+read" => decode_batch_theirs_read(v, &mut buf),
            _ => panic!("decoder: ours, lazy or theirs"),
        };
    }
    total
}

/// Interleaved min/median batch times of the three decoders, every case.
#[allow(clippy::disallowed_methods)] // a benchmark reads the clock
fn time_all(rounds: usize, read: bool) {
    println!("case | ours decode | ours decode_lazy | mqttbytes | ratio decode | ratio lazy (min; median in ns per packet)");
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            for size in [16, 1024] {
                let f = frame(v, qos, size);
                let mut stream = BytesMut::new();
                for _ in 0..BATCH {
                    stream.extend_from_slice(&f);
                }
                let mut times: [Vec<u128>; 3] = [Vec::new(), Vec::new(), Vec::new()];
                for r in 0..rounds {
                    for k in 0..3 {
                        let which = (r + k) % 3;
                        let mut buf = stream.clone();
                        let t = std::time::Instant::now();
                        let n = match (which, read) {
                            (0, false) => decode_batch_ours(v, &mut buf),
                            (1, false) => decode_batch_lazy(v, &mut buf),
                            (_, false) => decode_batch_theirs(v, &mut buf),
                            (0, true) => decode_batch_ours_read(v, &mut buf),
                            (1, true) => decode_batch_lazy_read(v, &mut buf),
                            (_, true) => decode_batch_theirs_read(v, &mut buf),
                        };
                        times[which].push(t.elapsed().as_nanos());
                        assert_eq!(n, BATCH);
                    }
                }
                let stat = |t: &mut Vec<u128>| {
                    t.sort_unstable();
                    (
                        t[0] as f64 / BATCH as f64,
                        t[t.len() / 2] as f64 / BATCH as f64,
                    )
                };
                let [a, b, c] = &mut times;
                let (o, l, m) = (stat(a), stat(b), stat(c));
                println!(
                    "{}/{}/{size}B | {:.1}; {:.1} | {:.1}; {:.1} | {:.1}; {:.1} | {:.2}x; {:.2}x | {:.2}x; {:.2}x",
                    if v.is_v5() { "5.0" } else { "3.1.1" },
                    if qos == QoS::AtMostOnce { "qos0" } else { "qos1" },
                    o.0, o.1, l.0, l.1, m.0, m.1,
                    m.0 / o.0, m.1 / o.1, m.0 / l.0, m.1 / l.1,
                );
            }
        }
    }
}

/// Like [`time_all`], but with receive buffers prepared in bulk first, as
/// criterion's batched setup does: 512 copies per decoder (interleaved),
/// then each decoded once, timed. With 1 KiB payloads the 50 MB of copies
/// do not fit in the caches, so every packet header is a cache miss for
/// every decoder.
#[allow(clippy::disallowed_methods)] // a benchmark reads the clock
fn time_cold(repeats: usize) {
    println!("case | ours decode | ours decode_lazy | mqttbytes | ratio decode | ratio lazy (min; median in ns per packet, buffers prepared in bulk)");
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            for size in [16, 1024] {
                let f = frame(v, qos, size);
                let mut stream = BytesMut::new();
                for _ in 0..BATCH {
                    stream.extend_from_slice(&f);
                }
                let mut times: [Vec<u128>; 3] = [Vec::new(), Vec::new(), Vec::new()];
                for _ in 0..repeats {
                    let mut bufs: Vec<BytesMut> = (0..3 * 512).map(|_| stream.clone()).collect();
                    for (i, buf) in bufs.iter_mut().enumerate() {
                        let which = i % 3;
                        let t = std::time::Instant::now();
                        let n = match which {
                            0 => decode_batch_ours(v, buf),
                            1 => decode_batch_lazy(v, buf),
                            _ => decode_batch_theirs(v, buf),
                        };
                        times[which].push(t.elapsed().as_nanos());
                        assert_eq!(n, BATCH);
                    }
                }
                let stat = |t: &mut Vec<u128>| {
                    t.sort_unstable();
                    (
                        t[0] as f64 / BATCH as f64,
                        t[t.len() / 2] as f64 / BATCH as f64,
                    )
                };
                let [a, b, c] = &mut times;
                let (o, l, m) = (stat(a), stat(b), stat(c));
                println!(
                    "{}/{}/{size}B | {:.1}; {:.1} | {:.1}; {:.1} | {:.1}; {:.1} | {:.2}x; {:.2}x | {:.2}x; {:.2}x",
                    if v.is_v5() { "5.0" } else { "3.1.1" },
                    if qos == QoS::AtMostOnce { "qos0" } else { "qos1" },
                    o.0, o.1, l.0, l.1, m.0, m.1,
                    m.0 / o.0, m.1 / o.1, m.0 / l.0, m.1 / l.1,
                );
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("time-cold") {
        time_cold(args.get(1).map_or(10, |n| n.parse().unwrap()));
        return;
    }
    if let Some(mode @ ("time" | "time-read")) = args.first().map(String::as_str) {
        time_all(
            args.get(1).map_or(20_000, |n| n.parse().unwrap()),
            mode == "time-read",
        );
        return;
    }
    if args.len() < 4 || args.iter().any(|a| a == "--bench") {
        for who in [
            "ours",
            "lazy",
            "theirs",
            "ours+read",
            "lazy+read",
            "theirs+read",
        ] {
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
