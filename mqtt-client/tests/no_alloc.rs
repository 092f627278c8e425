//! In steady state, receiving a QoS 0 PUBLISH (decode, event out, event
//! dropped) and sending one allocate nothing: buffers are reused and topic
//! and payload are slices of the received bytes.

use std::alloc::System;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mqtt_client::{Client, Config, Event};
use mqtt_codec::{Packet, ProtocolVersion, Publish, Utf8String};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn steady_state_qos0_in_and_out_does_not_allocate() {
    #[allow(clippy::disallowed_methods)] // any origin will do
    let now = Instant::now();
    let mut c = Client::new(Config::new("a"), 1, now);
    c.connect(now);
    c.handle_bytes(now, &[0x20, 2, 0, 0]);
    while c.poll_event().is_some() {}
    while c.poll_transmit().is_some() {}
    let mut wire = BytesMut::new();
    let msg = Publish::new(
        Utf8String::from_static("sensors/7/temp"),
        Bytes::from_static(b"21.5"),
    );
    Packet::Publish(msg.clone())
        .encode(ProtocolVersion::V3_1_1, &mut wire)
        .unwrap();
    let round = |c: &mut Client| {
        c.handle_bytes(now, &wire);
        let Some(Event::Message(m)) = c.poll_event() else {
            panic!("no message")
        };
        assert_eq!(m.payload, "21.5");
        drop(m);
        c.publish(now, msg.clone()).unwrap();
        let out = c.poll_transmit().unwrap();
        assert_eq!(out.len(), wire.len());
    };
    // Warm up: buffers and the event queue reach their working size.
    for _ in 0..4 {
        round(&mut c);
    }
    let region = Region::new(GLOBAL);
    for _ in 0..100 {
        round(&mut c);
    }
    let stats = region.change();
    assert_eq!(stats.allocations, 0, "{stats:?}");
}
