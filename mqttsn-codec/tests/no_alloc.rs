//! Decoding allocates nothing: byte fields are slices of the datagram.

use std::alloc::System;

use bytes::{Bytes, BytesMut};
use mqttsn_codec::{Frame, Message, Publish, QoS, Topic};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn publish_datagram(data_len: usize) -> Bytes {
    let msg = Message::from(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: true,
        topic: Topic::Id(7),
        msg_id: 42,
        data: Bytes::from(vec![0x5A; data_len]),
    });
    // As a UDP adapter would: read into a BytesMut and freeze it, so the
    // buffer is already shared (a Bytes made from a Vec allocates a shared
    // header the first time it is sliced, whoever slices it).
    let mut buf = BytesMut::with_capacity(1024);
    msg.encode(&mut buf).expect("encode");
    let datagram = buf.split().freeze();
    drop(datagram.slice(0..1));
    datagram
}

/// One test only: the counters are global, and the harness allocates on its
/// own threads while other tests run.
#[test]
fn decoding_does_not_allocate() {
    counter_sees_allocations();
    decoding_publish_does_not_allocate();
    decoding_a_static_datagram_does_not_allocate();
    refusing_a_malformed_datagram_does_not_allocate();
}

fn decoding_publish_does_not_allocate() {
    for data_len in [0, 16, 300] {
        let datagram = publish_datagram(data_len);
        let region = Region::new(GLOBAL);
        let msg = Message::decode(datagram.clone()).expect("decode");
        let frame = Frame::decode(datagram.clone()).expect("decode");
        let stats = region.change();
        assert_eq!(stats.allocations, 0, "data of {data_len} bytes: {stats:?}");
        assert_eq!(stats.reallocations, 0);
        let Message::Publish(publish) = &msg else {
            panic!("not a PUBLISH: {msg:?}")
        };
        assert_eq!(publish.data.len(), data_len);
        assert_eq!(frame.message(), &msg);
        // Zero-copy: the payload points into the datagram.
        assert_eq!(
            publish.data.as_ptr(),
            datagram[datagram.len() - data_len..].as_ptr()
        );
    }
}

fn decoding_a_static_datagram_does_not_allocate() {
    let datagram = Bytes::from_static(b"\x0f\x0a\x00\x00\x00\x01park/a/12");
    let region = Region::new(GLOBAL);
    let msg = Message::decode(datagram);
    let stats = region.change();
    assert!(msg.is_ok());
    assert_eq!(stats.allocations, 0, "{stats:?}");
}

fn refusing_a_malformed_datagram_does_not_allocate() {
    let datagram = Bytes::from_static(&[0x08, 0x12, 0x02, 0x00, 0x03, b'a', b'b', b'c']);
    let region = Region::new(GLOBAL);
    let err = Message::decode(datagram);
    let stats = region.change();
    assert!(err.is_err());
    assert_eq!(stats.allocations, 0, "{stats:?}");
}

/// The instrument works: an allocation in the region is counted.
fn counter_sees_allocations() {
    let region = Region::new(GLOBAL);
    let v = std::hint::black_box(vec![1u8; 8]);
    assert!(region.change().allocations >= 1);
    drop(v);
}
