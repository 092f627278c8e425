//! Memory held by a sleeping client with 100 buffered messages (issue 9's
//! benchmark item), measured with a counting global allocator.

use std::alloc::System;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Packet, ProtocolVersion};
use mqttsn_gateway::{Config, Gateway, Transmit};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn a_sleeping_client_with_100_buffered_messages_stays_small() {
    #[allow(clippy::disallowed_methods)] // virtual time starts anywhere
    let now = Instant::now();
    let region = Region::new(GLOBAL);
    let mut gw = Gateway::new(Config::default(), 1, now);
    let client: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    gw.handle_datagram(
        now,
        client,
        Bytes::from_static(b"\x08\x04\x04\x01\x00\x3cs1"),
    );
    let mut conn = None;
    while let Some(t) = gw.poll_transmit() {
        if let Transmit::Open(c) = t {
            conn = Some(c);
        }
    }
    let conn = conn.unwrap();
    gw.handle_broker_bytes(now, conn, &[0x20, 2, 0, 0]);
    // DISCONNECT with a sleep duration of 600 s.
    gw.handle_datagram(now, client, Bytes::from_static(b"\x04\x18\x02\x58"));
    while gw.poll_transmit().is_some() {}
    while gw.poll_event().is_some() {}
    let before = region.change();
    for i in 0..100u8 {
        let p = mqtt_codec::Publish::new(
            mqtt_codec::Utf8String::from_static("parking/a/12/cmd"),
            Bytes::copy_from_slice(&[i; 16]),
        );
        let mut buf = BytesMut::new();
        Packet::Publish(p)
            .encode(ProtocolVersion::V3_1_1, &mut buf)
            .unwrap();
        gw.handle_broker_bytes(now, conn, &buf);
    }
    assert!(
        gw.poll_transmit().is_none(),
        "nothing reaches a sleeping client"
    );
    let after = region.change();
    let held = |s: stats_alloc::Stats| {
        (s.bytes_allocated + s.bytes_reallocated.max(0) as usize)
            .saturating_sub(s.bytes_deallocated)
    };
    let session = held(before);
    let buffered = held(after).saturating_sub(session);
    println!("session: {session} bytes; 100 buffered 16-byte messages: {buffered} bytes");
    assert!(session < 64 * 1024, "{session}");
    assert!(buffered < 64 * 1024, "{buffered}");
    assert!(buffered > 100 * 16, "the messages are held: {buffered}");
}
