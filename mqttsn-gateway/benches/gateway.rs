//! The sans-IO gateway's cost per message, without sockets: a connected
//! client's PUBLISH datagram in, the MQTT bytes out (QoS 0 and QoS 1 with the
//! broker's PUBACK and the MQTT-SN PUBACK), and a broker PUBLISH out to a
//! subscribed client.
#![allow(missing_docs, clippy::disallowed_methods)] // a bench: virtual time starts at Instant::now()

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mqtt_codec::{Packet, ProtocolVersion};
use mqttsn_gateway::{Config, ConnId, Gateway, Transmit};

fn connected() -> (Gateway, SocketAddr, ConnId, Instant) {
    let now = Instant::now();
    let mut gw = Gateway::new(Config::default(), 1, now);
    let client: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    gw.handle_datagram(
        now,
        client,
        Bytes::from_static(b"\x08\x04\x04\x01\x00\x00s1"),
    );
    let Some(Transmit::Open(conn)) = gw.poll_transmit() else {
        panic!()
    };
    while gw.poll_transmit().is_some() {}
    gw.handle_broker_bytes(now, conn, &[0x20, 2, 0, 0]);
    // REGISTER a/b -> topic id 1.
    gw.handle_datagram(
        now,
        client,
        Bytes::from_static(b"\x09\x0a\x00\x00\x00\x01a/b"),
    );
    while gw.poll_transmit().is_some() {}
    while gw.poll_event().is_some() {}
    (gw, client, conn, now)
}

fn drain(gw: &mut Gateway) -> usize {
    let mut n = 0;
    while let Some(t) = gw.poll_transmit() {
        n += black_box(matches!(
            t,
            Transmit::Data { .. } | Transmit::Datagram { .. }
        )) as usize;
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mqttsn_gateway");
    g.throughput(Throughput::Elements(1));

    let (mut gw, client, _, now) = connected();
    let qos0 = Bytes::from_static(b"\x0d\x0c\x00\x00\x01\x00\x00temp=21.5");
    g.bench_function("publish_qos0_in", |b| {
        b.iter(|| {
            gw.handle_datagram(now, client, qos0.clone());
            drain(&mut gw)
        });
    });

    let (mut gw, client, conn, now) = connected();
    let mut msg_id = 0u16;
    g.bench_function("publish_qos1_round_trip", |b| {
        b.iter(|| {
            msg_id = msg_id.wrapping_add(1).max(1);
            let mut d = BytesMut::from(&b"\x0d\x0c\x20\x00\x01\x00\x00temp=21.5"[..]);
            d[5..7].copy_from_slice(&msg_id.to_be_bytes());
            gw.handle_datagram(now, client, d.freeze());
            let mut pid = 0u16;
            while let Some(t) = gw.poll_transmit() {
                if let Transmit::Data { data, .. } = t {
                    // PUBLISH a/b: fixed header, remaining length, topic (5), packet id.
                    pid = u16::from_be_bytes([data[7], data[8]]);
                }
            }
            let id = pid.to_be_bytes();
            gw.handle_broker_bytes(now, conn, &[0x40, 2, id[0], id[1]]);
            drain(&mut gw)
        });
    });

    let (mut gw, client, conn, now) = connected();
    // SUBSCRIBE a/b at QoS 0 and the broker's SUBACK.
    gw.handle_datagram(now, client, Bytes::from_static(b"\x08\x12\x00\x00\x02a/b"));
    drain(&mut gw);
    gw.handle_broker_bytes(now, conn, &[0x90, 3, 0, 1, 0]);
    drain(&mut gw);
    let mut publish = BytesMut::new();
    let p = mqtt_codec::Publish::new(
        mqtt_codec::Utf8String::from_static("a/b"),
        Bytes::from_static(b"temp=21.5"),
    );
    Packet::Publish(p)
        .encode(ProtocolVersion::V3_1_1, &mut publish)
        .unwrap();
    g.bench_function("deliver_qos0_out", |b| {
        b.iter(|| {
            gw.handle_broker_bytes(now, conn, &publish);
            drain(&mut gw)
        });
    });
    // The same QoS 0 publish with many other clients connected, plus the
    // `poll_timeout` the adapter asks after each input: with the timer heap
    // neither grows with the number of clients.
    for n in [10u16, 10_000] {
        let (mut gw, client, now) = crowded(n);
        g.bench_function(
            format!("publish_qos0_in_and_poll_timeout_{n}_clients"),
            |b| {
                b.iter(|| {
                    gw.handle_datagram(now, client, qos0.clone());
                    (drain(&mut gw), black_box(gw.poll_timeout()))
                });
            },
        );
    }
    g.finish();
}

/// A gateway with `n` connected clients (keep-alive 60 s); the first one
/// registered a/b as topic id 1.
fn crowded(n: u16) -> (Gateway, SocketAddr, Instant) {
    let now = Instant::now();
    let mut gw = Gateway::new(Config::default(), 1, now);
    for k in 0..n {
        let addr = SocketAddr::from(([127, 0, 0, 1], 10_000 + k));
        let id = format!("c{k}");
        let mut connect = vec![6 + id.len() as u8, 0x04, 0x04, 0x01, 0x00, 0x3c];
        connect.extend_from_slice(id.as_bytes());
        gw.handle_datagram(now, addr, Bytes::from(connect));
        let mut conn = None;
        while let Some(t) = gw.poll_transmit() {
            if let Transmit::Open(c) = t {
                conn = Some(c);
            }
        }
        gw.handle_broker_bytes(now, conn.unwrap(), &[0x20, 2, 0, 0]);
        while gw.poll_transmit().is_some() {}
    }
    let client = SocketAddr::from(([127, 0, 0, 1], 10_000));
    gw.handle_datagram(
        now,
        client,
        Bytes::from_static(b"\x09\x0a\x00\x00\x00\x01a/b"),
    );
    while gw.poll_transmit().is_some() {}
    while gw.poll_event().is_some() {}
    (gw, client, now)
}

criterion_group!(benches, bench);
criterion_main!(benches);
