//! Decoding a PUBLISH without properties allocates nothing: topic and payload
//! are slices of the received buffer. With MQTT 5.0 properties, the property
//! table is the one allocation (strings in it are still slices); user
//! properties and subscription identifiers add their `Vec`.
//!
//! `StreamDecoder::decode_lazy` allocates nothing for any PUBLISH, with or
//! without properties: it validates them in place.

use std::alloc::System;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    LazyPacket, Packet, Properties, ProtocolVersion, Publish, QoS, StreamDecoder, Utf8String,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn frame(v: ProtocolVersion, qos: QoS, with_props: bool) -> Vec<u8> {
    let mut p = Publish::new(
        Utf8String::from_static("building/3/temperature"),
        Bytes::from(vec![7u8; 1024]),
    )
    .with_qos(qos, if qos == QoS::AtMostOnce { 0 } else { 5 });
    if with_props {
        p.properties = Properties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(60),
            content_type: Some(Utf8String::from_static("application/json")),
            topic_alias: Some(3),
            user_properties: vec![(
                Utf8String::from_static("unit"),
                Utf8String::from_static("celsius"),
            )],
            subscription_identifiers: vec![7, 300],
            ..Properties::default()
        }
        .into();
    }
    let mut out = Vec::new();
    Packet::Publish(p).encode(v, &mut out).unwrap();
    out
}

/// One test function: the allocation counters are process-wide, so the two
/// checks must not run on parallel test threads.
#[test]
fn publish_decode_allocations() {
    publish_decode_allocates_nothing_without_properties();
    lazy_publish_decode_allocates_nothing_even_with_properties();
}

fn publish_decode_allocates_nothing_without_properties() {
    for (v, props) in [
        (ProtocolVersion::V3_1_1, false),
        (ProtocolVersion::V5, false),
        (ProtocolVersion::V5, true),
    ] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let one = frame(v, qos, props);
            // A receive buffer holding 8 packets; the first split promotes the
            // buffer's storage to shared once (a `bytes` detail, per buffer).
            let mut buf = BytesMut::with_capacity(one.len() * 8);
            for _ in 0..8 {
                buf.extend_from_slice(&one);
            }
            let mut dec = StreamDecoder::new(v, 1 << 20);
            let first = dec.decode(&mut buf).unwrap();
            assert!(matches!(first, Some(Packet::Publish(_))));
            for _ in 0..7 {
                let region = Region::new(GLOBAL);
                let p = dec.decode(&mut buf).unwrap();
                let stats = region.change();
                assert!(matches!(p, Some(Packet::Publish(_))));
                // The property table, the user property and the subscription
                // identifier `Vec`s are the allocations when there are properties.
                assert_eq!(
                    stats.allocations,
                    3 * usize::from(props),
                    "{v:?} {qos:?} props={props}: {stats:?}"
                );
                drop(p);
            }
            // One-shot decode of a shared Bytes frame.
            let shared = Bytes::from(one);
            let keep = shared.clone();
            let region = Region::new(GLOBAL);
            let p = Packet::decode(v, shared).unwrap();
            let stats = region.change();
            assert_eq!(
                stats.allocations,
                3 * usize::from(props),
                "Packet::decode {v:?} {qos:?}: {stats:?}"
            );
            drop((p, keep));
        }
    }
}

fn lazy_publish_decode_allocates_nothing_even_with_properties() {
    for (v, props) in [
        (ProtocolVersion::V3_1_1, false),
        (ProtocolVersion::V5, false),
        (ProtocolVersion::V5, true),
    ] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let one = frame(v, qos, props);
            let mut buf = BytesMut::with_capacity(one.len() * 8);
            for _ in 0..8 {
                buf.extend_from_slice(&one);
            }
            let mut dec = StreamDecoder::new(v, 1 << 20);
            // The first split promotes the buffer's storage to shared (once per buffer).
            assert!(matches!(
                dec.decode_lazy(&mut buf).unwrap(),
                Some(LazyPacket::Publish(_))
            ));
            for _ in 0..7 {
                let region = Region::new(GLOBAL);
                let p = dec.decode_lazy(&mut buf).unwrap();
                let Some(LazyPacket::Publish(p)) = p else {
                    panic!("not a lazy PUBLISH")
                };
                // Reading topic, payload and the Topic Alias allocates nothing either.
                assert_eq!(p.topic(), "building/3/temperature");
                assert_eq!(p.payload().len(), 1024);
                assert_eq!(p.topic_alias(), props.then_some(3));
                drop(p);
                let stats = region.change();
                assert_eq!(
                    (stats.allocations, stats.reallocations),
                    (0, 0),
                    "{v:?} {qos:?} props={props}: {stats:?}"
                );
            }
            assert!(buf.is_empty());
        }
    }
}
