//! Decode and encode throughput of mqtt-codec beside mqttbytes 0.6 (rumqtt's
//! codec) on the same bytes, plus topic matching against 10,000 filters.
//!
//! Run: `cargo bench -p mqtt-codec --bench mqtt -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mqtt_codec::{
    Connect, LastWill, LazyPacket, Packet, Properties, ProtocolVersion, Publish, QoS,
    StreamDecoder, Subscribe, Subscription, Utf8String,
};

const MAX: usize = 1 << 20;

fn s(x: &str) -> Utf8String {
    Utf8String::try_from(x).unwrap()
}

fn encode(v: ProtocolVersion, p: &Packet) -> Bytes {
    let mut b = BytesMut::new();
    p.encode(v, &mut b).unwrap();
    b.freeze()
}

fn publish(v: ProtocolVersion, qos: QoS, size: usize) -> Packet {
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
    Packet::Publish(p)
}

fn connect(v: ProtocolVersion) -> Packet {
    let mut c = Connect::new(v);
    c.client_id = s("sensor-gateway-0042");
    c.username = Some(s("gateway"));
    c.password = Some(Bytes::from_static(b"s3cret-passw0rd"));
    c.will = Some(LastWill {
        topic: s("gateways/0042/status"),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: mqtt_codec::Props::default(),
    });
    if v.is_v5() {
        c.properties.session_expiry_interval = Some(3600);
        c.properties.receive_maximum = Some(100);
    }
    Packet::Connect(Box::new(c))
}

fn subscribe() -> Packet {
    let filters = (0..10)
        .map(|i| {
            Subscription::new(
                s(&format!("building/{i}/+/temperature/#")),
                QoS::AtLeastOnce,
            )
        })
        .collect();
    Packet::Subscribe(Subscribe::new(17, filters))
}

#[allow(clippy::large_enum_variant)] // mirrors the two mqttbytes packet types as they are
enum Baseline {
    V4(mqttbytes::v4::Packet),
    V5(mqttbytes::v5::Packet),
}

fn baseline(v: ProtocolVersion, frame: &Bytes) -> Baseline {
    let mut b = BytesMut::from(&frame[..]);
    if v.is_v5() {
        Baseline::V5(mqttbytes::v5::read(&mut b, MAX).unwrap())
    } else {
        Baseline::V4(mqttbytes::v4::read(&mut b, MAX).unwrap())
    }
}

fn baseline_write(p: &Baseline, out: &mut BytesMut) {
    match p {
        Baseline::V4(mqttbytes::v4::Packet::Publish(x)) => x.write(out).map(drop),
        Baseline::V4(mqttbytes::v4::Packet::Connect(x)) => x.write(out).map(drop),
        Baseline::V4(mqttbytes::v4::Packet::Subscribe(x)) => x.write(out).map(drop),
        Baseline::V5(mqttbytes::v5::Packet::Publish(x)) => x.write(out).map(drop),
        Baseline::V5(mqttbytes::v5::Packet::Connect(x)) => x.write(out).map(drop),
        Baseline::V5(mqttbytes::v5::Packet::Subscribe(x)) => x.write(out).map(drop),
        _ => unreachable!("bench cases are PUBLISH, CONNECT, SUBSCRIBE"),
    }
    .unwrap();
}

/// Packets per receive buffer in the decode benches: a TCP read usually
/// carries several packets, and both decoders split each off the buffer.
const BATCH: usize = 32;

fn bench_case(c: &mut Criterion, name: &str, v: ProtocolVersion, packet: &Packet) {
    let frame = encode(v, packet);
    let mut stream = BytesMut::new();
    for _ in 0..BATCH {
        stream.extend_from_slice(&frame);
    }
    let mut g = c.benchmark_group(name);
    // Each decode iteration takes a buffer of BATCH packets apart, looks at
    // each packet and drops it, as a broker does.
    g.throughput(Throughput::Bytes((frame.len() * BATCH) as u64));
    g.bench_function("decode/mqtt-codec", |b| {
        b.iter_batched_ref(
            || stream.clone(),
            |buf| {
                let mut dec = StreamDecoder::new(v, MAX);
                while let Some(p) = dec.decode(black_box(buf)).unwrap() {
                    black_box(&p);
                }
            },
            BatchSize::SmallInput,
        );
    });
    // The same buffer through `decode_lazy`: a PUBLISH stays one handle on
    // its validated frame (other packets decode as above).
    g.bench_function("decode_lazy/mqtt-codec", |b| {
        b.iter_batched_ref(
            || stream.clone(),
            |buf| {
                let mut dec = StreamDecoder::new(v, MAX);
                while let Some(p) = dec.decode_lazy(black_box(buf)).unwrap() {
                    black_box(&p);
                }
            },
            BatchSize::SmallInput,
        );
    });
    g.bench_function("decode/mqttbytes", |b| {
        b.iter_batched_ref(
            || stream.clone(),
            |buf| {
                while !buf.is_empty() {
                    if v.is_v5() {
                        black_box(&mqttbytes::v5::read(black_box(buf), MAX).unwrap());
                    } else {
                        black_box(&mqttbytes::v4::read(black_box(buf), MAX).unwrap());
                    }
                }
            },
            BatchSize::SmallInput,
        );
    });
    if let Packet::Publish(_) = packet {
        bench_publish_read(&mut g, v, &stream);
    }
    g.throughput(Throughput::Bytes(frame.len() as u64));
    let mut out = BytesMut::with_capacity(frame.len() * 2);
    g.bench_function("encode/mqtt-codec", |b| {
        b.iter(|| {
            out.clear();
            black_box(packet).encode(v, &mut out).unwrap();
        });
    });
    let theirs = baseline(v, &frame);
    g.bench_function("encode/mqttbytes", |b| {
        b.iter(|| {
            out.clear();
            baseline_write(black_box(&theirs), &mut out);
        });
    });
    g.finish();
}

/// Topic as `&str` and payload as bytes, through each API.
fn use_topic_payload(topic: &str, payload: &[u8]) {
    black_box((topic, payload));
}

/// PUBLISH decode where the consumer also reads the topic as `&str` and the
/// payload, as a broker routing the message does: the lazy form pays its
/// deferred work here (the crate has no `unsafe`, so `&str` access re-checks
/// UTF-8 for our owned and lazy forms; mqttbytes' topic is a `String`).
fn bench_publish_read(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    v: ProtocolVersion,
    stream: &BytesMut,
) {
    g.bench_function("decode+read/mqtt-codec", |b| {
        b.iter_batched_ref(
            || stream.clone(),
            |buf| {
                let mut dec = StreamDecoder::new(v, MAX);
                while let Some(p) = dec.decode(black_box(buf)).unwrap() {
                    if let Packet::Publish(p) = &p {
                        use_topic_payload(p.topic.as_str(), &p.payload);
                    }
                }
            },
            BatchSize::SmallInput,
        );
    });
    g.bench_function("decode_lazy+read/mqtt-codec", |b| {
        b.iter_batched_ref(
            || stream.clone(),
            |buf| {
                let mut dec = StreamDecoder::new(v, MAX);
                while let Some(p) = dec.decode_lazy(black_box(buf)).unwrap() {
                    if let LazyPacket::Publish(p) = &p {
                        use_topic_payload(p.topic(), p.payload());
                    }
                }
            },
            BatchSize::SmallInput,
        );
    });
    g.bench_function("decode+read/mqttbytes", |b| {
        b.iter_batched_ref(
            || stream.clone(),
            |buf| {
                while !buf.is_empty() {
                    if v.is_v5() {
                        if let mqttbytes::v5::Packet::Publish(p) =
                            mqttbytes::v5::read(black_box(buf), MAX).unwrap()
                        {
                            use_topic_payload(&p.topic, &p.payload);
                        }
                    } else if let mqttbytes::v4::Packet::Publish(p) =
                        mqttbytes::v4::read(black_box(buf), MAX).unwrap()
                    {
                        use_topic_payload(&p.topic, &p.payload);
                    }
                }
            },
            BatchSize::SmallInput,
        );
    });
}

fn codec(c: &mut Criterion) {
    for (vname, v) in [
        ("3.1.1", ProtocolVersion::V3_1_1),
        ("5.0", ProtocolVersion::V5),
    ] {
        for (qname, qos) in [("qos0", QoS::AtMostOnce), ("qos1", QoS::AtLeastOnce)] {
            for size in [16, 1024] {
                bench_case(
                    c,
                    &format!("publish/{vname}/{qname}/{size}B"),
                    v,
                    &publish(v, qos, size),
                );
            }
        }
        bench_case(c, &format!("connect/{vname}"), v, &connect(v));
        bench_case(c, &format!("subscribe10/{vname}"), v, &subscribe());
    }
}

fn topic_match(c: &mut Criterion) {
    let filters: Vec<String> = (0..10_000)
        .map(|i| match i % 4 {
            0 => format!("building/{}/floor/+/room/{}/temperature", i % 50, i),
            1 => format!("building/{}/#", i),
            2 => format!("+/{}/floor/2/room/+/humidity", i),
            _ => format!("building/3/floor/{}/room/17/temperature", i),
        })
        .collect();
    let mut g = c.benchmark_group("topic");
    g.throughput(Throughput::Elements(filters.len() as u64));
    g.bench_function("match 1 name x 10k filters", |b| {
        b.iter(|| {
            let name = black_box("building/3/floor/2/room/17/temperature");
            filters
                .iter()
                .filter(|f| mqtt_codec::topic::matches(f, name))
                .count()
        });
    });
    g.finish();
}

criterion_group!(benches, codec, topic_match);
criterion_main!(benches);
