//! Behaviour of the whole engine, driven with typed packets in virtual time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Ack, Connect, Disconnect, LastWill, Packet, ProtocolVersion, Publish, QoS, ReasonCode,
    StreamDecoder, Subscribe, Subscription, Unsubscribe, Utf8String, MAX_PACKET_SIZE,
};

use crate::{Broker, Config, ConnId, Event};

const V4: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

#[test]
fn v311_connect_is_accepted_without_session() {
    let mut h = Harness::new();
    let c = h.open();
    h.send(c, connect(V4, "a", true, 0));
    assert_eq!(h.connack(c), (false, ReasonCode::SUCCESS));
    assert!(matches!(
        h.events[..],
        [Event::Connected {
            session_present: false,
            ..
        }]
    ));
}

#[test]
fn empty_client_id_is_assigned_in_v5_and_rejected_without_clean_session_in_v311() {
    let mut h = Harness::new();
    let c = h.open();
    h.send(c, connect(V5, "", false, 0));
    let out = h.recv();
    let Packet::ConnAck(ack) = &out[0].1 else {
        panic!("{out:?}")
    };
    let id = ack
        .properties
        .assigned_client_identifier
        .as_deref()
        .unwrap();
    assert!(id.starts_with("m2m-"));

    let c = h.open();
    h.send(c, connect(V4, "", false, 0));
    assert_eq!(
        h.connack(c),
        (false, ReasonCode(2) /* 3.1.1 identifier rejected */)
    );
    assert!(h.closed(c));
}

#[test]
fn takeover_closes_old_connection_with_0x8e_and_publishes_its_will() {
    let mut h = Harness::new();
    let w = h.client(V4, "watch", true);
    h.subscribe(w, "will/#", QoS::AtMostOnce);
    let old = h.open();
    let mut c = connect(V5, "dup", true, 0);
    with_will(&mut c, "will/dup");
    h.send(old, c);
    h.recv();
    let new = h.open();
    h.send(new, connect(V5, "dup", false, 0));
    let out = h.recv();
    assert!(out.iter().any(|(c, p)| *c == old
        && matches!(p, Packet::Disconnect(d) if d.reason_code == ReasonCode::SESSION_TAKEN_OVER)));
    assert!(out
        .iter()
        .any(|(c, p)| *c == w && is_publish_on(p, "will/dup")));
    assert!(h.closed(old));
}

#[test]
fn keep_alive_is_enforced_at_one_and_a_half_times() {
    let mut h = Harness::new();
    let w = h.client(V4, "watch", true);
    h.subscribe(w, "will/ka", QoS::AtMostOnce);
    let c = h.open();
    let mut con = connect(V4, "ka", true, 10);
    with_will(&mut con, "will/ka");
    h.send(c, con);
    h.recv();
    h.advance(Duration::from_millis(14_900));
    assert!(!h.closed(c));
    h.send(c, Packet::PingReq);
    assert!(matches!(h.recv()[0].1, Packet::PingResp));
    h.advance(Duration::from_millis(14_900));
    assert!(!h.closed(c));
    h.advance(Duration::from_millis(200));
    assert!(h.closed(c));
    assert!(h
        .recv()
        .iter()
        .any(|(to, p)| *to == w && is_publish_on(p, "will/ka")));
}

#[test]
fn connection_without_connect_times_out() {
    let mut h = Harness::new();
    let c = h.open();
    h.advance(Duration::from_secs(11));
    assert!(h.closed(c));
}

#[test]
fn qos1_is_forwarded_and_acknowledged_both_ways() {
    let mut h = Harness::new();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "a/+", QoS::AtLeastOnce);
    let p = h.client(V4, "p", true);
    h.send(p, publish("a/b", QoS::AtLeastOnce, 7));
    let out = h.recv();
    let (to, Packet::Publish(got)) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (*to, got.qos, &got.payload[..]),
        (s, QoS::AtLeastOnce, &b"x"[..])
    );
    assert!(matches!(&out[1], (c, Packet::PubAck(a)) if *c == p && a.packet_id == 7));
    h.send(s, Packet::PubAck(Ack::new(got.packet_id)));
    assert!(h.b.clients["s"].session.is_idle());
}

#[test]
fn qos2_incoming_is_delivered_exactly_once_and_outgoing_completes() {
    let mut h = Harness::new();
    let s = h.client(V4, "s", true);
    h.subscribe(s, "q2", QoS::ExactlyOnce);
    let p = h.client(V5, "p", true);
    h.send(p, publish("q2", QoS::ExactlyOnce, 3));
    h.send(p, publish("q2", QoS::ExactlyOnce, 3)); // duplicate before PUBREL
    let out = h.recv();
    let delivered: Vec<&Publish> = out
        .iter()
        .filter_map(|(c, pk)| match pk {
            Packet::Publish(x) if *c == s => Some(x),
            _ => None,
        })
        .collect();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        out.iter()
            .filter(|(c, pk)| *c == p && matches!(pk, Packet::PubRec(_)))
            .count(),
        2
    );
    h.send(p, Packet::PubRel(Ack::new(3)));
    assert!(
        matches!(h.recv()[0].1, Packet::PubComp(ref a) if a.reason_code == ReasonCode::SUCCESS)
    );

    let id = delivered[0].packet_id;
    h.send(s, Packet::PubRec(Ack::new(id)));
    assert!(matches!(h.recv()[0].1, Packet::PubRel(ref a) if a.packet_id == id));
    h.send(s, Packet::PubComp(Ack::new(id)));
    assert!(h.b.clients["s"].session.is_idle());
}

#[test]
fn persistent_session_queues_offline_and_redelivers_unacked_with_dup() {
    let mut h = Harness::new();
    let s = h.client(V4, "s", false);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.client(V4, "p", true);
    h.send(p, publish("t", QoS::AtLeastOnce, 1));
    h.recv(); // delivered, never acknowledged
    h.b.connection_lost(h.now, s);
    h.send(p, publish("t", QoS::AtLeastOnce, 2)); // queued while offline
    h.send(p, publish("t", QoS::AtMostOnce, 0)); // QoS 0 is not kept
    h.recv();
    let s2 = h.open();
    h.send(s2, connect(V4, "s", false, 0));
    let out = h.recv();
    assert!(matches!(&out[0].1, Packet::ConnAck(a) if a.session_present));
    let pubs: Vec<(bool, u16)> = out
        .iter()
        .filter_map(|(_, pk)| match pk {
            Packet::Publish(x) => Some((x.dup, x.packet_id)),
            _ => None,
        })
        .collect();
    assert_eq!(pubs, [(true, 1), (false, 2)]);
}

#[test]
fn clean_start_discards_the_session() {
    let mut h = Harness::new();
    let s = h.client(V4, "s", false);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    h.b.connection_lost(h.now, s);
    let s2 = h.open();
    h.send(s2, connect(V4, "s", true, 0));
    assert_eq!(h.connack(s2), (false, ReasonCode::SUCCESS));
    assert_eq!(h.b.stats().subscriptions, 0);
}

#[test]
fn v5_session_expires_after_its_interval() {
    let mut h = Harness::new();
    let s = h.open();
    let mut c = connect(V5, "s", true, 0);
    con(&mut c).properties.session_expiry_interval = Some(30);
    h.send(s, c);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    h.b.connection_lost(h.now, s);
    h.advance(Duration::from_secs(29));
    assert_eq!(h.b.stats().sessions, 1);
    h.advance(Duration::from_secs(2));
    assert_eq!(h.b.stats().sessions, 0);
    assert_eq!(h.b.stats().subscriptions, 0);
}

#[test]
fn retained_message_is_sent_on_subscribe_and_deleted_by_empty_payload() {
    let mut h = Harness::new();
    let p = h.client(V4, "p", true);
    h.send(p, publish("r/1", QoS::AtMostOnce, 0).with_retain(true));
    let s = h.client(V5, "s", true);
    let sub = Subscription::new(Utf8String::from_static("r/#"), QoS::AtLeastOnce);
    h.send(s, Packet::Subscribe(Subscribe::new(1, vec![sub])));
    let out = h.recv();
    assert!(matches!(&out[0].1, Packet::SubAck(_)));
    assert!(matches!(&out[1].1, Packet::Publish(x) if x.retain && x.qos == QoS::AtMostOnce));
    let mut del = publish("r/1", QoS::AtMostOnce, 0).with_retain(true);
    del.payload = Bytes::new();
    h.send(p, del);
    h.recv();
    assert_eq!(h.b.stats().retained, 0);
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards_and_not_publishable() {
    let mut h = Harness::new();
    let s = h.client(V4, "s", true);
    h.subscribe(s, "#", QoS::AtMostOnce);
    h.subscribe(s, "$SYS/#", QoS::AtMostOnce);
    let p = h.client(V4, "p", true);
    h.send(p, publish("$SYS/x", QoS::AtMostOnce, 0));
    h.send(p, publish("x", QoS::AtMostOnce, 0));
    let out = h.recv();
    assert_eq!(out.len(), 1);
    assert!(is_publish_on(&out[0].1, "x"));
}

#[test]
fn overlapping_subscriptions_deliver_one_copy_at_the_highest_qos() {
    let mut h = Harness::new();
    let s = h.client(V4, "s", true);
    h.subscribe(s, "a/#", QoS::AtMostOnce);
    h.subscribe(s, "a/+", QoS::ExactlyOnce);
    let p = h.client(V4, "p", true);
    h.send(p, publish("a/b", QoS::ExactlyOnce, 5));
    let out = h.recv();
    let pubs: Vec<QoS> = out
        .iter()
        .filter_map(|(_, pk)| match pk {
            Packet::Publish(x) => Some(x.qos),
            _ => None,
        })
        .collect();
    assert_eq!(pubs, [QoS::ExactlyOnce]);
}

#[test]
fn no_local_skips_own_messages() {
    let mut h = Harness::new();
    let c = h.client(V5, "c", true);
    let mut sub = Subscription::new(Utf8String::from_static("t"), QoS::AtMostOnce);
    sub.options.no_local = true;
    h.send(c, Packet::Subscribe(Subscribe::new(1, vec![sub])));
    h.recv();
    h.send(c, publish("t", QoS::AtMostOnce, 0));
    assert!(h.recv().is_empty());
}

#[test]
fn unsubscribe_stops_delivery() {
    let mut h = Harness::new();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "t", QoS::AtMostOnce);
    h.send(
        s,
        Packet::Unsubscribe(Unsubscribe::new(
            2,
            vec![Utf8String::from_static("t"), Utf8String::from_static("u")],
        )),
    );
    let out = h.recv();
    let Packet::UnsubAck(u) = &out[0].1 else {
        panic!("{out:?}")
    };
    assert_eq!(
        u.reason_codes,
        [ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
    );
    let p = h.client(V4, "p", true);
    h.send(p, publish("t", QoS::AtMostOnce, 0));
    assert!(h.recv().is_empty());
}

#[test]
fn normal_disconnect_drops_the_will_and_0x04_sends_it() {
    for (reason, sent) in [
        (ReasonCode::NORMAL_DISCONNECTION, false),
        (ReasonCode::DISCONNECT_WITH_WILL_MESSAGE, true),
    ] {
        let mut h = Harness::new();
        let w = h.client(V4, "w", true);
        h.subscribe(w, "will/#", QoS::AtMostOnce);
        let c = h.open();
        let mut con = connect(V5, "c", true, 0);
        with_will(&mut con, "will/c");
        h.send(c, con);
        h.recv();
        let d = Disconnect {
            reason_code: reason,
            ..Disconnect::default()
        };
        h.send(c, Packet::Disconnect(d));
        assert!(h.closed(c));
        assert_eq!(
            h.recv().iter().any(|(_, p)| is_publish_on(p, "will/c")),
            sent
        );
    }
}

#[test]
fn will_delay_waits_and_a_reconnect_cancels_it() {
    for reconnect in [false, true] {
        let mut h = Harness::new();
        let w = h.client(V4, "w", true);
        h.subscribe(w, "will/#", QoS::AtMostOnce);
        let c = h.open();
        let mut con = connect(V5, "c", true, 0);
        con_mut(&mut con).properties.session_expiry_interval = Some(100);
        with_will(&mut con, "will/c");
        con_mut(&mut con)
            .will
            .as_mut()
            .unwrap()
            .properties
            .will_delay_interval = Some(5);
        h.send(c, con);
        h.recv();
        h.b.connection_lost(h.now, c);
        h.advance(Duration::from_secs(4));
        assert!(h.recv().is_empty());
        if reconnect {
            let c2 = h.open();
            h.send(c2, connect(V5, "c", false, 0));
            h.recv();
        }
        h.advance(Duration::from_secs(2));
        assert_eq!(
            h.recv().iter().any(|(_, p)| is_publish_on(p, "will/c")),
            !reconnect
        );
    }
}

#[test]
fn packets_before_connect_and_a_second_connect_close_the_connection() {
    let mut h = Harness::new();
    let c = h.open();
    h.send(c, Packet::PingReq);
    assert!(h.closed(c));
    let c = h.client(V5, "c", true);
    h.send(c, connect(V5, "c", true, 0));
    let out = h.recv();
    assert!(
        matches!(&out[0].1, Packet::Disconnect(d) if d.reason_code == ReasonCode::PROTOCOL_ERROR)
    );
    assert!(h.closed(c));
}

#[test]
fn bytes_are_framed_malformed_input_closes_and_bad_level_gets_return_code_1() {
    let mut h = Harness::new();
    let c = h.open();
    let mut buf = BytesMut::new();
    connect(V4, "b", true, 0).encode(V4, &mut buf).unwrap();
    for chunk in buf.chunks(3) {
        h.b.handle_bytes(h.now, c, chunk);
    }
    assert_eq!(h.connack(c), (false, ReasonCode::SUCCESS));
    h.b.handle_bytes(h.now, c, &[0x30, 3, 0, 9, b'a']); // topic length past the end
    assert!(h.closed(c));

    let c = h.open();
    h.b.handle_bytes(
        h.now,
        c,
        &[0x10, 10, 0, 4, b'M', b'Q', b'T', b'T', 9, 2, 0, 0],
    );
    assert_eq!(
        h.b.poll_transmit().unwrap().payload,
        Bytes::from_static(&[0x20, 2, 0, 1])
    );
    assert!(h.closed(c));
}

#[test]
fn incoming_topic_alias_is_resolved() {
    let mut h = Harness::new();
    let s = h.client(V4, "s", true);
    h.subscribe(s, "long/topic", QoS::AtMostOnce);
    let p = h.client(V5, "p", true);
    let mut first = publish("long/topic", QoS::AtMostOnce, 0);
    first.properties.topic_alias = Some(1);
    h.send(p, first);
    let mut second = publish("", QoS::AtMostOnce, 0);
    second.properties.topic_alias = Some(1);
    h.send(p, second);
    let out = h.recv();
    assert_eq!(
        out.iter()
            .filter(|(_, pk)| is_publish_on(pk, "long/topic"))
            .count(),
        2
    );
}

#[test]
fn server_only_packets_and_wrong_acks_are_protocol_errors() {
    let mut h = Harness::new();
    let c = h.client(V5, "c", true);
    h.b.handle_bytes(h.now, c, &[0x90, 3, 0, 1, 0]); // SUBACK from a client
    let out = h.recv();
    assert!(
        matches!(&out[0].1, Packet::Disconnect(d) if d.reason_code == ReasonCode::PROTOCOL_ERROR)
    );
    assert!(h.closed(c));

    let s = h.client(V5, "s", true);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.client(V4, "p", true);
    h.send(p, publish("t", QoS::AtLeastOnce, 1));
    let out = h.recv();
    let Packet::Publish(got) = &out[0].1 else {
        panic!("{out:?}")
    };
    h.send(s, Packet::PubRec(Ack::new(got.packet_id))); // PUBREC for a QoS 1 message
    assert!(h.closed(s));
}

#[test]
fn control_characters_in_topics_and_client_ids_close_the_connection() {
    let mut h = Harness::new();
    let c = h.open();
    let mut con = connect(V4, "ok", true, 0);
    con_mut(&mut con).client_id = Utf8String::try_from("a\u{1}b").unwrap();
    h.send(c, con);
    assert!(h.recv().is_empty());
    assert!(h.closed(c));
    let p = h.client(V5, "p", true);
    h.send(
        p,
        Publish::new(Utf8String::try_from("t\u{7f}").unwrap(), Bytes::new()),
    );
    assert!(h.closed(p));
}

#[test]
fn shared_subscription_delivers_to_one_member_in_turn_and_survives_a_member_leaving() {
    let mut h = Harness::new();
    let a = h.client(V5, "a", true);
    let b = h.client(V4, "b", true);
    h.subscribe(a, "$share/g/s/+", QoS::AtMostOnce);
    h.subscribe(b, "$share/g/s/+", QoS::AtMostOnce);
    let p = h.client(V4, "p", true);
    let mut got = Vec::new();
    for _ in 0..4 {
        h.send(p, publish("s/1", QoS::AtMostOnce, 0));
        got.extend(h.recv().into_iter().map(|(c, _)| c));
    }
    assert_eq!(got, [a, b, a, b]);
    h.b.connection_lost(h.now, a); // clean session: it ends, and its membership with it
    got.clear();
    for _ in 0..3 {
        h.send(p, publish("s/1", QoS::AtMostOnce, 0));
        got.extend(h.recv().into_iter().map(|(c, _)| c));
    }
    assert_eq!(got, [b, b, b]);
}

#[test]
fn sys_topics_are_published_retained_every_interval() {
    let mut h = Harness::new();
    let s = h.client(V4, "s", true);
    h.subscribe(s, "$SYS/broker/clients/connected", QoS::AtMostOnce);
    h.advance(Duration::from_secs(10));
    let out = h.recv();
    assert!(matches!(&out[..], [(_, Packet::Publish(p))] if &p.payload[..] == b"1"));
    let t = h.client(V5, "t", true);
    h.subscribe(t, "$SYS/broker/version", QoS::AtMostOnce); // retained: sent at once
    assert_eq!(h.b.stats().clients_maximum, 2);
    h.advance(Duration::from_secs(10));
    // Only what changed is published again: clients/connected, not the version.
    let out = h.recv();
    assert!(
        matches!(&out[..], [(to, Packet::Publish(p))] if *to == s && &p.payload[..] == b"2"),
        "{out:?}"
    );
    // 22 counters and 27 load averages.
    assert_eq!(h.b.stats().retained, 49);
}

/// A QoS 2 message to a persistent subscriber, with the connection lost
/// after each step of the flow: after the reconnect the broker resumes at
/// the right step (PUBLISH with DUP, or PUBREL) and the flow completes with
/// one message delivered.
#[test]
fn outgoing_qos2_survives_a_disconnect_at_every_step() {
    for break_after in 0..3 {
        let mut h = Harness::new();
        let s = h.open();
        let mut c = connect(V5, "s", false, 0);
        con(&mut c).properties.session_expiry_interval = Some(60);
        h.send(s, c);
        h.recv();
        h.subscribe(s, "t", QoS::ExactlyOnce);
        let p = h.client(V4, "p", true);
        h.send(p, publish("t", QoS::ExactlyOnce, 1));
        h.send(p, Packet::PubRel(Ack::new(1)));
        let out = h.recv();
        let Some(Packet::Publish(first)) = out.iter().find(|(c, _)| *c == s).map(|(_, p)| p) else {
            panic!("{out:?}")
        };
        let id = first.packet_id;
        if break_after >= 1 {
            h.send(s, Packet::PubRec(Ack::new(id)));
            assert!(matches!(h.recv()[0].1, Packet::PubRel(_)));
        }
        if break_after >= 2 {
            h.send(s, Packet::PubComp(Ack::new(id)));
            h.recv();
        }
        h.b.connection_lost(h.now, s);
        let s2 = h.open();
        let mut c = connect(V5, "s", false, 0);
        con(&mut c).properties.session_expiry_interval = Some(60);
        h.send(s2, c);
        let out = h.recv();
        // Bounded: at most 3 steps remain.
        for (_, pk) in out.iter().skip(1) {
            match pk {
                Packet::Publish(x) => {
                    assert!(x.dup && x.packet_id == id);
                    // The client already had it (method B keeps the id): not a new message.
                    h.send(s2, Packet::PubRec(Ack::new(id)));
                    assert!(matches!(h.recv()[0].1, Packet::PubRel(_)));
                    h.send(s2, Packet::PubComp(Ack::new(id)));
                }
                Packet::PubRel(a) => h.send(s2, Packet::PubComp(Ack::new(a.packet_id))),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(matches!(&out[0].1, Packet::ConnAck(a) if a.session_present));
        // Something is resumed unless the flow had completed.
        assert_eq!(out.len() == 1, break_after == 2, "{out:?}");
        assert!(
            h.b.clients["s"].session.is_idle(),
            "break after step {break_after}"
        );
        assert!(h
            .recv()
            .iter()
            .all(|(_, p)| !matches!(p, Packet::Publish(_))));
    }
}

/// A QoS 2 message from a publisher whose connection is lost before PUBREL:
/// the PUBLISH sent again with DUP is not routed a second time, because the
/// PUBREC state survives the reconnect.
#[test]
fn incoming_qos2_is_routed_once_across_a_reconnect() {
    let mut h = Harness::new();
    let s = h.client(V4, "s", true);
    h.subscribe(s, "t", QoS::AtMostOnce);
    let p = h.client(V4, "p", false);
    h.send(p, publish("t", QoS::ExactlyOnce, 9));
    assert_eq!(h.recv().iter().filter(|(c, _)| *c == s).count(), 1);
    h.b.connection_lost(h.now, p);
    let p2 = h.open();
    h.send(p2, connect(V4, "p", false, 0));
    h.recv();
    let mut again = publish("t", QoS::ExactlyOnce, 9);
    again.dup = true;
    h.send(p2, again);
    let out = h.recv();
    assert!(out.iter().all(|(c, _)| *c == p2), "routed twice: {out:?}");
    h.send(p2, Packet::PubRel(Ack::new(9)));
    assert!(matches!(h.recv()[0].1, Packet::PubComp(_)));
    assert!(h.b.clients["p"].session.is_idle());
}

proptest::proptest! {
    /// Random publishes, acknowledgements, connection losses and reconnects
    /// of a persistent QoS 1 subscriber, against the simplest model: every
    /// message published is delivered at least once, nothing else is, and
    /// the first deliveries come in publish order.
    #[test]
    fn qos1_to_a_persistent_subscriber_is_never_lost(ops in proptest::collection::vec(0u8..4, 1..60)) {
        let mut h = Harness::new();
        let mut s = Some(h.client(V4, "s", false));
        h.subscribe(s.unwrap(), "t", QoS::AtLeastOnce);
        let p = h.client(V4, "p", true);
        let mut published: Vec<u16> = Vec::new();
        let mut seen: Vec<u16> = Vec::new();
        let mut unacked: Vec<u16> = Vec::new();
        let collect = |h: &mut Harness, s: Option<ConnId>, seen: &mut Vec<u16>, unacked: &mut Vec<u16>| {
            for (c, pk) in h.recv() {
                if let (Some(sc), Packet::Publish(x)) = (s, pk) {
                    if c == sc {
                        seen.push(u16::from_be_bytes([x.payload[0], x.payload[1]]));
                        unacked.push(x.packet_id);
                    }
                }
            }
        };
        for op in ops {
            match op {
                0 => {
                    let n = u16::try_from(published.len()).unwrap();
                    published.push(n);
                    let mut m = publish("t", QoS::AtLeastOnce, 1);
                    m.payload = Bytes::copy_from_slice(&n.to_be_bytes());
                    h.send(p, m);
                }
                1 => if let Some(sc) = s {
                    for id in unacked.drain(..) {
                        h.send(sc, Packet::PubAck(Ack::new(id)));
                    }
                },
                2 => if let Some(sc) = s.take() {
                    h.b.connection_lost(h.now, sc);
                    unacked.clear();
                },
                _ => if s.is_none() {
                    let c = h.open();
                    h.send(c, connect(V4, "s", false, 0));
                    s = Some(c);
                },
            }
            collect(&mut h, s, &mut seen, &mut unacked);
        }
        if s.is_none() {
            let c = h.open();
            h.send(c, connect(V4, "s", false, 0));
            s = Some(c);
            collect(&mut h, s, &mut seen, &mut unacked);
        }
        // Bounded: each round acknowledges everything in flight.
        for _ in 0..100 {
            if unacked.is_empty() {
                break;
            }
            for id in unacked.drain(..) {
                h.send(s.unwrap(), Packet::PubAck(Ack::new(id)));
            }
            collect(&mut h, s, &mut seen, &mut unacked);
        }
        let mut first: Vec<u16> = Vec::new();
        for n in &seen {
            if !first.contains(n) {
                first.push(*n);
            }
        }
        proptest::prop_assert_eq!(first, published);
        proptest::prop_assert!(h.b.clients["s"].session.is_idle());
    }
}

struct Strict;

impl crate::Hooks for Strict {
    fn authenticate(
        &mut self,
        _: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> ReasonCode {
        if username == Some("u") && password == Some(&b"pw"[..]) {
            ReasonCode::SUCCESS
        } else {
            ReasonCode::BAD_USER_NAME_OR_PASSWORD
        }
    }
    fn authorize_publish(&mut self, _: &str, topic: &str, _: QoS, _: bool) -> bool {
        !topic.starts_with("secret")
    }
    fn authorize_subscribe(&mut self, _: &str, filter: &str) -> bool {
        !filter.starts_with("secret")
    }
}

#[test]
fn hooks_decide_authentication_publish_and_subscribe() {
    let mut h = Harness::new();
    h.b = Broker::with_hooks(Config::default(), 1, Box::new(Strict));
    let c = h.open();
    h.send(c, connect(V5, "x", true, 0));
    assert_eq!(h.connack(c), (false, ReasonCode::BAD_USER_NAME_OR_PASSWORD));
    assert!(h.closed(c));
    let c4 = h.open();
    h.send(c4, connect(V4, "x", true, 0));
    assert_eq!(h.connack(c4), (false, ReasonCode(4)));

    let c = h.open();
    let mut con = connect(V5, "x", true, 0);
    con_mut(&mut con).username = Some(Utf8String::from_static("u"));
    con_mut(&mut con).password = Some(Bytes::from_static(b"pw"));
    h.send(c, con);
    assert_eq!(h.connack(c), (false, ReasonCode::SUCCESS));
    let subs = ["secret/#", "open/#"]
        .map(|f| Subscription::new(Utf8String::from_static(f), QoS::AtLeastOnce));
    h.send(c, Packet::Subscribe(Subscribe::new(3, subs.to_vec())));
    let out = h.recv();
    let Packet::SubAck(a) = &out[0].1 else {
        panic!("{out:?}")
    };
    assert_eq!(
        a.reason_codes,
        [ReasonCode::NOT_AUTHORIZED, ReasonCode::GRANTED_QOS_1]
    );
    h.send(c, publish("secret/x", QoS::AtLeastOnce, 4));
    let out = h.recv();
    assert!(
        matches!(&out[..], [(_, Packet::PubAck(a))] if a.reason_code == ReasonCode::NOT_AUTHORIZED)
    );
}

#[test]
fn queued_messages_expire_and_carry_the_time_left() {
    let mut h = Harness::new();
    let s = h.client(V4, "s", false);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    h.b.connection_lost(h.now, s);
    let p = h.client(V5, "p", true);
    for (n, expiry) in [(1u8, Some(5)), (2, Some(100)), (3, None)] {
        let mut m = publish("t", QoS::AtLeastOnce, u16::from(n));
        m.payload = Bytes::copy_from_slice(&[n]);
        m.properties.message_expiry_interval = expiry;
        h.send(p, m);
    }
    h.recv();
    h.advance(Duration::from_secs(10));
    let s2 = h.open();
    h.send(s2, connect(V5, "s", false, 0));
    let got: Vec<(u8, Option<u32>)> = h
        .recv()
        .into_iter()
        .filter_map(|(_, pk)| match pk {
            Packet::Publish(x) => Some((x.payload[0], x.properties.message_expiry_interval)),
            _ => None,
        })
        .collect();
    assert_eq!(got, [(2, Some(90)), (3, None)]);
    assert_eq!(h.b.stats().dropped, 1);
}

#[test]
fn oversize_packet_gets_0x95_and_a_slow_sender_is_cut_by_keep_alive() {
    let mut h = Harness::new();
    let c = h.open();
    h.send(c, connect(V5, "big", true, 0));
    h.recv();
    // A PUBLISH announcing 2 MiB, above the default 1 MiB maximum.
    h.b.handle_bytes(h.now, c, &[0x30, 0x80, 0x80, 0x80, 0x01]);
    let out = h.recv();
    assert!(
        matches!(&out[0].1, Packet::Disconnect(d) if d.reason_code == ReasonCode::PACKET_TOO_LARGE)
    );
    assert!(h.closed(c));

    // Half a packet, then nothing: only whole packets count as activity.
    let c = h.open();
    h.send(c, connect(V4, "slow", true, 2));
    h.recv();
    h.b.handle_bytes(h.now, c, &[0x30, 10, 0]);
    h.advance(Duration::from_millis(2_900));
    h.b.handle_bytes(h.now, c, &[3]);
    assert!(!h.closed(c));
    h.advance(Duration::from_millis(200));
    assert!(h.closed(c));
}

#[test]
fn server_keep_alive_replaces_a_longer_or_zero_keep_alive_in_v5() {
    let mut h = Harness::new();
    let cfg = Config {
        max_keep_alive: Some(30),
        ..Config::default()
    };
    h.b = Broker::new(cfg, 1);
    let c = h.open();
    h.send(c, connect(V5, "k", true, 0));
    let out = h.recv();
    let Packet::ConnAck(a) = &out[0].1 else {
        panic!("{out:?}")
    };
    assert_eq!(a.properties.server_keep_alive, Some(30));
    h.advance(Duration::from_secs(44));
    assert!(!h.closed(c));
    h.advance(Duration::from_secs(2));
    assert!(h.closed(c));
}

#[test]
fn messages_too_large_for_a_client_are_dropped_for_it_only() {
    let mut h = Harness::new();
    let small = h.open();
    let mut c = connect(V5, "small", true, 0);
    con(&mut c).properties.maximum_packet_size = Some(20);
    h.send(small, c);
    h.recv();
    h.subscribe(small, "t", QoS::AtLeastOnce);
    let big = h.client(V5, "big", true);
    h.subscribe(big, "t", QoS::AtLeastOnce);
    let p = h.client(V4, "p", true);
    let mut m = publish("t", QoS::AtLeastOnce, 1);
    m.payload = Bytes::from_static(&[7; 64]);
    h.send(p, m);
    let out = h.recv();
    let to: Vec<ConnId> = out
        .iter()
        .filter(|(_, pk)| matches!(pk, Packet::Publish(_)))
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(to, [big]);
    assert_eq!(h.b.stats().dropped, 1);
}

#[test]
fn topic_alias_above_the_maximum_is_0x94() {
    let mut h = Harness::new();
    let p = h.client(V5, "p", true);
    let mut m = publish("t", QoS::AtMostOnce, 0);
    m.properties.topic_alias = Some(11);
    h.send(p, m);
    let out = h.recv();
    assert!(
        matches!(&out[0].1, Packet::Disconnect(d) if d.reason_code == ReasonCode::TOPIC_ALIAS_INVALID)
    );
}

#[test]
fn retain_handling_retain_as_published_and_subscription_identifiers() {
    let mut h = Harness::new();
    let p = h.client(V5, "p", true);
    h.send(p, publish("r", QoS::AtMostOnce, 0).with_retain(true));
    let s = h.client(V5, "s", true);
    let sub = |rh, rap| {
        let mut x = Subscription::new(Utf8String::from_static("r"), QoS::AtMostOnce);
        x.options.retain_handling = rh;
        x.options.retain_as_published = rap;
        let mut s = Subscribe::new(1, vec![x]);
        s.properties.subscription_identifiers = vec![42];
        Packet::Subscribe(s)
    };
    use mqtt_codec::RetainHandling as Rh;
    let retained = |h: &mut Harness| {
        h.recv()
            .iter()
            .filter(|(_, p)| matches!(p, Packet::Publish(_)))
            .count()
    };
    h.send(s, sub(Rh::SendAtNewSubscribe, false));
    assert_eq!(retained(&mut h), 1);
    h.send(s, sub(Rh::SendAtNewSubscribe, false)); // exists now
    assert_eq!(retained(&mut h), 0);
    h.send(s, sub(Rh::DoNotSend, true));
    assert_eq!(retained(&mut h), 0);
    // A live retained message keeps its flag under Retain As Published, with the identifier.
    h.send(p, publish("r", QoS::AtMostOnce, 0).with_retain(true));
    let out = h.recv();
    let Packet::Publish(x) = &out[0].1 else {
        panic!("{out:?}")
    };
    assert!(x.retain);
    assert_eq!(x.properties.subscription_identifiers, [42]);
}

struct TwoRounds;

impl crate::Hooks for TwoRounds {
    fn auth(&mut self, _: &str, method: &str, data: Option<&[u8]>) -> crate::AuthStep {
        match (method, data) {
            ("demo", Some(b"hello")) => {
                crate::AuthStep::Continue(Some(Bytes::from_static(b"challenge")))
            }
            ("demo", Some(b"response")) => {
                crate::AuthStep::Success(Some(Bytes::from_static(b"ok")))
            }
            _ => crate::AuthStep::Refuse(ReasonCode::NOT_AUTHORIZED),
        }
    }
}

fn auth_packet(reason: ReasonCode, data: &'static [u8]) -> Packet {
    let mut a = mqtt_codec::Auth {
        reason_code: reason,
        ..mqtt_codec::Auth::default()
    };
    a.properties.authentication_method = Some(Utf8String::from_static("demo"));
    a.properties.authentication_data = Some(Bytes::from_static(data));
    Packet::Auth(a)
}

#[test]
fn enhanced_authentication_runs_through_the_hook() {
    // Without a hook that knows the method: 0x8C.
    let mut h = Harness::new();
    let c = h.open();
    let mut con = connect(V5, "e", true, 0);
    con_mut(&mut con).properties.authentication_method = Some(Utf8String::from_static("demo"));
    h.send(c, con.clone());
    assert_eq!(h.connack(c), (false, ReasonCode::BAD_AUTHENTICATION_METHOD));

    let mut h = Harness::new();
    h.b = Broker::with_hooks(Config::default(), 1, Box::new(TwoRounds));
    let c = h.open();
    con_mut(&mut con).properties.authentication_data = Some(Bytes::from_static(b"hello"));
    h.send(c, con);
    let out = h.recv();
    assert!(
        matches!(&out[..], [(_, Packet::Auth(a))] if a.reason_code == ReasonCode::CONTINUE_AUTHENTICATION
        && a.properties.authentication_data.as_deref() == Some(&b"challenge"[..]))
    );
    h.send(c, Packet::PingReq); // not before the exchange ends
    assert!(h.closed(c));

    let c = h.open();
    let mut con = connect(V5, "e", true, 0);
    con_mut(&mut con).properties.authentication_method = Some(Utf8String::from_static("demo"));
    con_mut(&mut con).properties.authentication_data = Some(Bytes::from_static(b"hello"));
    h.send(c, con);
    h.recv();
    h.send(
        c,
        auth_packet(ReasonCode::CONTINUE_AUTHENTICATION, b"response"),
    );
    let out = h.recv();
    let Packet::ConnAck(a) = &out[0].1 else {
        panic!("{out:?}")
    };
    assert_eq!(a.reason_code, ReasonCode::SUCCESS);
    assert_eq!(
        a.properties.authentication_data.as_deref(),
        Some(&b"ok"[..])
    );

    // Re-authentication of the connected client.
    h.send(c, auth_packet(ReasonCode::RE_AUTHENTICATE, b"response"));
    assert!(matches!(&h.recv()[0].1, Packet::Auth(a) if a.reason_code == ReasonCode::SUCCESS));
    h.send(c, auth_packet(ReasonCode::RE_AUTHENTICATE, b"wrong"));
    assert!(
        matches!(&h.recv()[0].1, Packet::Disconnect(d) if d.reason_code == ReasonCode::NOT_AUTHORIZED)
    );
}

// ---- helpers ----

struct Harness {
    b: Broker,
    now: Instant,
    versions: HashMap<ConnId, ProtocolVersion>,
    closed: Vec<ConnId>,
    events: Vec<Event>,
}

impl Harness {
    #[allow(clippy::disallowed_methods)] // the test is the clock
    fn new() -> Self {
        Self {
            b: Broker::new(Config::default(), 1),
            now: Instant::now(),
            versions: HashMap::new(),
            closed: Vec::new(),
            events: Vec::new(),
        }
    }

    fn open(&mut self) -> ConnId {
        self.b.open(self.now)
    }

    fn send(&mut self, c: ConnId, p: impl Into<Packet>) {
        let p = p.into();
        if let Packet::Connect(con) = &p {
            self.versions.insert(c, con.protocol_version);
        }
        self.b.handle_packet(self.now, c, p);
    }

    fn client(&mut self, v: ProtocolVersion, id: &'static str, clean: bool) -> ConnId {
        let c = self.open();
        self.send(c, connect(v, id, clean, 0));
        self.recv();
        c
    }

    fn subscribe(&mut self, c: ConnId, filter: &'static str, qos: QoS) {
        let s = Subscription::new(Utf8String::from_static(filter), qos);
        self.send(c, Packet::Subscribe(Subscribe::new(1, vec![s])));
        self.recv();
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.b.handle_timeout(self.now);
    }

    /// Every packet written since the last call, decoded.
    fn recv(&mut self) -> Vec<(ConnId, Packet)> {
        let mut out = Vec::new();
        while let Some(t) = self.b.poll_transmit() {
            let v = self.versions.get(&t.conn).copied().unwrap_or(V4);
            let mut d = StreamDecoder::new(v, MAX_PACKET_SIZE);
            let mut buf = BytesMut::from(&t.payload[..]);
            while let Some(p) = d.decode(&mut buf).unwrap() {
                out.push((t.conn, p));
            }
        }
        self.drain_events();
        out
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.b.poll_event() {
            if let Event::Close { conn, .. } = e {
                self.closed.push(conn);
            }
            self.events.push(e);
        }
    }

    fn connack(&mut self, c: ConnId) -> (bool, ReasonCode) {
        let out = self.recv();
        match out.iter().find(|(to, _)| *to == c) {
            Some((_, Packet::ConnAck(a))) => (a.session_present, a.reason_code),
            other => panic!("no CONNACK: {other:?}"),
        }
    }

    fn closed(&mut self, c: ConnId) -> bool {
        self.drain_events();
        self.closed.contains(&c)
    }
}

fn connect(v: ProtocolVersion, id: &'static str, clean: bool, keep_alive: u16) -> Packet {
    let mut c = Connect::new(v);
    c.client_id = Utf8String::from_static(id);
    c.clean_start = clean;
    c.keep_alive = keep_alive;
    Packet::Connect(Box::new(c))
}

fn con(p: &mut Packet) -> &mut Connect {
    match p {
        Packet::Connect(c) => c,
        _ => panic!("not a CONNECT"),
    }
}

use con as con_mut;

fn with_will(p: &mut Packet, topic: &'static str) {
    if let Packet::Connect(c) = p {
        c.will = Some(LastWill {
            topic: Utf8String::from_static(topic),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: mqtt_codec::Props::default(),
        });
    }
}

fn publish(topic: &'static str, qos: QoS, id: u16) -> Publish {
    Publish::new(Utf8String::from_static(topic), Bytes::from_static(b"x")).with_qos(qos, id)
}

fn is_publish_on(p: &Packet, topic: &str) -> bool {
    matches!(p, Packet::Publish(x) if x.topic.as_str() == topic)
}
