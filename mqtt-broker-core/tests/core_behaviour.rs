//! Behaviours of the "Core" list that `src/tests.rs` did not cover
//! yet, in virtual time: shared subscriptions with members offline, QoS
//! downgrade, Receive Maximum both ways, the offline queue limit, MQTT 5.0
//! properties passed on, will properties and the 5.0 keep-alive timeout.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{connect, publish, publishes_to, Harness, V4, V5};
use mqtt_broker_core::{Config, Event};
use mqtt_codec::{Ack, LastWill, Packet, QoS, ReasonCode, Utf8String};

/// A persistent 5.0 client (session kept 10 minutes).
fn persistent(h: &mut Harness, id: &'static str) -> mqtt_broker_core::ConnId {
    let mut c = connect(V5, id, false);
    c.properties.session_expiry_interval = Some(600);
    h.connect_with(c).0
}

#[test]
fn a_shared_group_delivers_to_members_online_and_queues_for_an_offline_one_when_alone() {
    let mut h = Harness::new();
    let a = persistent(&mut h, "a");
    let b = persistent(&mut h, "b");
    h.subscribe(a, "$share/g/job/#", QoS::AtLeastOnce);
    h.subscribe(b, "$share/g/job/#", QoS::AtLeastOnce);
    let p = h.client(V4, "p", true);
    // `a` goes offline (its session and membership stay): `b` gets everything.
    h.b.connection_lost(h.now, a);
    for i in 1..=3 {
        h.send(p, publish("job/x", QoS::AtLeastOnce, i));
    }
    let out = h.recv();
    assert_eq!(publishes_to(&out, b).len(), 3);
    // `b` leaves too: nobody online, the group's message waits in a session.
    h.b.connection_lost(h.now, b);
    h.send(p, publish("job/y", QoS::AtLeastOnce, 4));
    h.recv();
    let mut c = connect(V5, "a", false);
    c.properties.session_expiry_interval = Some(600);
    let (a2, out_a) = h.connect_with(c);
    let mut c = connect(V5, "b", false);
    c.properties.session_expiry_interval = Some(600);
    let (b2, out_b) = h.connect_with(c);
    let y = |out: &[(mqtt_broker_core::ConnId, Packet)], to| {
        publishes_to(out, to)
            .iter()
            .filter(|m| m.topic.as_str() == "job/y")
            .count()
    };
    assert_eq!(y(&out_a, a2) + y(&out_b, b2), 1, "one member gets it, once");
}

#[test]
fn qos_is_downgraded_to_the_subscriptions() {
    for (sub_qos, pub_qos, want) in [
        (QoS::AtMostOnce, QoS::ExactlyOnce, QoS::AtMostOnce),
        (QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtLeastOnce),
        (QoS::ExactlyOnce, QoS::AtLeastOnce, QoS::AtLeastOnce),
    ] {
        let mut h = Harness::new();
        let s = h.client(V5, "s", true);
        h.subscribe(s, "t", sub_qos);
        let p = h.client(V4, "p", true);
        h.send(p, publish("t", pub_qos, 1));
        let got = publishes_to(&h.recv(), s);
        assert_eq!(got[0].qos, want, "{sub_qos:?} {pub_qos:?}");
    }
}

#[test]
fn the_clients_receive_maximum_bounds_what_is_in_flight_to_it() {
    let mut h = Harness::new();
    let mut c = connect(V5, "s", true);
    c.properties.receive_maximum = Some(2);
    let (s, _) = h.connect_with(c);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.client(V4, "p", true);
    for i in 1..=4 {
        h.send(p, publish("t", QoS::AtLeastOnce, i));
    }
    let first = publishes_to(&h.recv(), s);
    assert_eq!(first.len(), 2);
    h.send(s, Packet::PubAck(Ack::new(first[0].packet_id)));
    let next = publishes_to(&h.recv(), s);
    assert_eq!(next.len(), 1, "one acknowledgement, one more in flight");
}

#[test]
fn more_incoming_qos2_than_our_receive_maximum_is_0x93() {
    let mut cfg = Config::default();
    cfg.receive_maximum = 2;
    let mut h = Harness::with(cfg);
    let (p, out) = h.connect_with(connect(V5, "p", true));
    let Packet::ConnAck(a) = &out[0].1 else {
        panic!("{out:?}")
    };
    assert_eq!(a.properties.receive_maximum, Some(2));
    for i in 1..=3 {
        h.send(p, publish("t", QoS::ExactlyOnce, i));
    }
    let out = h.recv();
    assert!(
        matches!(out.last(), Some((_, Packet::Disconnect(d))) if d.reason_code == ReasonCode::RECEIVE_MAXIMUM_EXCEEDED),
        "{out:?}"
    );
    assert!(h.closed(p));
}

#[test]
fn the_offline_queue_is_bounded_and_drops_are_counted() {
    let mut cfg = Config::default();
    cfg.max_queued_messages = 3;
    let mut h = Harness::with(cfg);
    let s = persistent(&mut h, "s");
    h.subscribe(s, "t", QoS::AtLeastOnce);
    h.b.connection_lost(h.now, s);
    let p = h.client(V4, "p", true);
    for i in 1..=5u8 {
        let mut m = publish("t", QoS::AtLeastOnce, u16::from(i));
        m.payload = Bytes::copy_from_slice(&[i]);
        h.send(p, m);
    }
    h.recv();
    assert_eq!(h.b.stats().dropped, 2);
    // Reported once for the two drops, so that the adapter logs it once.
    let full: Vec<&Event> = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::QueueFull { .. }))
        .collect();
    assert!(
        matches!(&full[..], [Event::QueueFull { client_id, limit: 3 }] if &**client_id == "s"),
        "{full:?}"
    );
    let mut c = connect(V5, "s", false);
    c.properties.session_expiry_interval = Some(600);
    let (s2, out) = h.connect_with(c);
    let got: Vec<u8> = publishes_to(&out, s2)
        .iter()
        .map(|m| m.payload[0])
        .collect();
    assert_eq!(got, [1, 2, 3], "the oldest are kept, newer ones dropped");
    // The queue had room again: a new overflow is reported again.
    h.b.connection_lost(h.now, s2);
    for i in 6..=10 {
        h.send(p, publish("t", QoS::AtLeastOnce, i));
    }
    h.recv();
    let reports = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::QueueFull { .. }))
        .count();
    assert_eq!((reports, h.b.stats().dropped), (2, 4));
}

#[test]
fn publish_properties_are_passed_on_and_the_expiry_counts_down() {
    let mut h = Harness::new();
    let s = persistent(&mut h, "s");
    h.subscribe(s, "t", QoS::AtLeastOnce);
    h.b.connection_lost(h.now, s);
    let p = h.client(V5, "p", true);
    let mut m = publish("t", QoS::AtLeastOnce, 1);
    let pr = &mut m.properties;
    pr.payload_format_indicator = Some(true);
    pr.content_type = Some(Utf8String::from_static("text/plain"));
    pr.response_topic = Some(Utf8String::from_static("reply/here"));
    pr.correlation_data = Some(Bytes::from_static(b"c-1"));
    pr.user_properties = vec![(Utf8String::from_static("k"), Utf8String::from_static("v"))];
    pr.message_expiry_interval = Some(60);
    h.send(p, m.clone());
    h.recv();
    h.advance(Duration::from_secs(25));
    let mut c = connect(V5, "s", false);
    c.properties.session_expiry_interval = Some(600);
    let (s2, out) = h.connect_with(c);
    let got = publishes_to(&out, s2);
    let mut want = m.properties.clone();
    want.message_expiry_interval = Some(35);
    assert_eq!(got[0].properties, want);
}

#[test]
fn a_v5_keep_alive_timeout_sends_0x8d_and_the_will_with_its_properties() {
    let mut h = Harness::new();
    let w = h.client(V5, "w", true);
    h.subscribe(w, "will/#", QoS::AtLeastOnce);
    let mut c = connect(V5, "c", true);
    c.keep_alive = 4;
    let mut props = mqtt_codec::Props::default();
    props.content_type = Some(Utf8String::from_static("text/plain"));
    props.user_properties = vec![(
        Utf8String::from_static("why"),
        Utf8String::from_static("gone"),
    )];
    c.will = Some(LastWill {
        topic: Utf8String::from_static("will/c"),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: props,
    });
    let (c, _) = h.connect_with(c);
    h.advance(Duration::from_millis(5_900));
    assert!(!h.closed(c));
    h.advance(Duration::from_millis(200));
    let out = h.recv();
    assert!(out.iter().any(|(to, p)| *to == c
        && matches!(p, Packet::Disconnect(d) if d.reason_code == ReasonCode::KEEP_ALIVE_TIMEOUT)));
    let will = publishes_to(&out, w);
    assert_eq!(&will[0].payload[..], b"bye");
    assert_eq!(
        will[0].properties.content_type.as_deref(),
        Some("text/plain")
    );
    assert_eq!(will[0].properties.user_properties.len(), 1);
    assert!(h.closed(c));
}

#[test]
fn no_retained_messages_for_a_shared_subscription() {
    let mut h = Harness::new();
    let p = h.client(V4, "p", true);
    h.send(p, publish("r/1", QoS::AtMostOnce, 0).with_retain(true));
    let s = h.client(V5, "s", true);
    h.subscribe(s, "$share/g/r/#", QoS::AtMostOnce);
    assert!(publishes_to(&h.recv(), s).is_empty());
    h.subscribe(s, "r/#", QoS::AtMostOnce);
    // `subscribe` drained the answers; subscribe again to see the retained copy.
    let sub = mqtt_codec::Subscription::new(Utf8String::from_static("r/+"), QoS::AtMostOnce);
    h.send(
        s,
        Packet::Subscribe(mqtt_codec::Subscribe::new(2, vec![sub])),
    );
    let got = publishes_to(&h.recv(), s);
    assert_eq!(got.len(), 1);
    assert!(got[0].retain);
}

#[test]
fn a_second_connect_with_an_unknown_level_is_a_protocol_error_not_0x84() {
    let mut h = Harness::new();
    let c = h.client(V5, "c", true);
    // CONNECT, protocol name "MQTT", level 9.
    h.b.handle_bytes(
        h.now,
        c,
        &[0x10, 10, 0, 4, b'M', b'Q', b'T', b'T', 9, 2, 0, 0],
    );
    let out = h.recv();
    assert!(
        matches!(&out[..], [(_, Packet::Disconnect(d))] if d.reason_code == ReasonCode::PROTOCOL_ERROR),
        "{out:?}"
    );
    assert!(h.closed(c));
}
