//! Decode and encode of PUBLISH, REGISTER and CONNECT.
//!
//! `cargo bench -p mqttsn-codec --bench mqttsn -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mqttsn_codec::{Connect, Frame, Message, Publish, QoS, Register, Topic};

fn cases() -> Vec<(&'static str, Message)> {
    let publish = |len: usize| Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: Topic::Id(0x0007),
        msg_id: 0x1234,
        data: Bytes::from(vec![0x5A; len]),
    };
    vec![
        ("publish_16B", publish(16).into()),
        ("publish_1KiB", publish(1024).into()),
        (
            "register",
            Register {
                topic_id: 0,
                msg_id: 1,
                topic_name: Bytes::from_static(b"parking/lot-a/bay-12/occupied"),
            }
            .into(),
        ),
        (
            "connect",
            Connect {
                will: true,
                clean_session: true,
                duration: 60,
                client_id: Bytes::from_static(b"parking-sensor-0042"),
            }
            .into(),
        ),
    ]
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("mqttsn/decode");
    for (name, msg) in cases() {
        let wire = msg.to_bytes().expect("encode");
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| Message::decode(black_box(wire.clone())).expect("decode"));
        });
    }
    let wire = cases()[0].1.to_bytes().expect("encode");
    group.bench_function("publish_16B_as_frame", |b| {
        b.iter(|| Frame::decode(black_box(wire.clone())).expect("decode"));
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("mqttsn/encode");
    for (name, msg) in cases() {
        group.throughput(Throughput::Bytes(msg.encoded_len() as u64));
        let mut buf = BytesMut::with_capacity(2048);
        group.bench_function(name, |b| {
            b.iter(|| {
                buf.clear();
                black_box(&msg).encode(&mut buf).expect("encode");
                black_box(buf.len())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
