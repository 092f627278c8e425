use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Ack as AckPacket, ConnAck, Packet, ProtocolVersion, Publish, QoS, ReasonCode, StreamDecoder,
    SubAck, Subscription, Utf8String,
};

use super::Client;
use crate::{Backoff, Config, DisconnectReason, Event, PublishError};

/// The server side of a test: decodes what the client sent, encodes replies.
struct Peer {
    version: ProtocolVersion,
    dec: StreamDecoder,
    buf: BytesMut,
}

impl Peer {
    fn new(version: ProtocolVersion) -> Self {
        Self {
            version,
            dec: StreamDecoder::detect_version(1 << 20),
            buf: BytesMut::new(),
        }
    }

    fn take(&mut self, c: &mut Client) -> Vec<Packet> {
        while let Some(b) = c.poll_transmit() {
            self.buf.extend_from_slice(&b);
        }
        let mut out = Vec::new();
        while let Some(p) = self
            .dec
            .decode(&mut self.buf)
            .expect("client sends valid packets")
        {
            out.push(p);
        }
        out
    }

    fn send(&self, c: &mut Client, now: Instant, p: Packet) {
        let mut b = BytesMut::new();
        p.encode(self.version, &mut b).unwrap();
        c.handle_bytes(now, &b);
    }

    /// A fresh connection: CONNECT out, CONNACK in.
    fn accept(&mut self, c: &mut Client, now: Instant, session_present: bool) -> Vec<Packet> {
        self.dec = StreamDecoder::detect_version(1 << 20);
        self.buf.clear();
        c.connect(now);
        let sent = self.take(c);
        assert!(matches!(sent[0], Packet::Connect(_)), "{sent:?}");
        self.send(
            c,
            now,
            Packet::ConnAck(ConnAck {
                session_present,
                ..ConnAck::default()
            }),
        );
        self.take(c)
    }
}

fn t0() -> Instant {
    #[allow(clippy::disallowed_methods)] // any origin will do: time is virtual from here on
    Instant::now()
}

fn msg(qos: QoS) -> Publish {
    Publish::new(Utf8String::from_static("t/1"), Bytes::from_static(b"x")).with_qos(qos, 0)
}

fn events(c: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn client(version: ProtocolVersion) -> Client {
    let mut cfg = Config::new("c1");
    cfg.version = version;
    cfg.keep_alive = 10;
    cfg.ping_timeout = Duration::from_secs(5);
    cfg.reconnect = Some(Backoff::new(Duration::from_secs(1), Duration::from_secs(8)));
    Client::new(cfg, 42, t0())
}

#[test]
fn connect_carries_v5_settings_and_connack_connects() {
    let now = t0();
    let mut cfg = Config::new("dev-1");
    cfg.version = ProtocolVersion::V5;
    cfg.clean_start = false;
    cfg.session_expiry_interval = Some(300);
    cfg.receive_maximum = Some(10);
    cfg.username = Some("u".into());
    cfg.password = Some(Bytes::from_static(b"p"));
    let mut c = Client::new(cfg, 1, now);
    let mut peer = Peer::new(ProtocolVersion::V5);
    c.connect(now);
    let Packet::Connect(connect) = &peer.take(&mut c)[0] else {
        panic!()
    };
    assert_eq!(connect.client_id, "dev-1");
    assert!(!connect.clean_start);
    assert_eq!(connect.properties.session_expiry_interval, Some(300));
    assert_eq!(connect.properties.receive_maximum, Some(10));
    assert_eq!(connect.username.as_deref(), Some("u"));
    assert!(!c.is_connected());
    let mut ack = ConnAck::default();
    ack.properties.assigned_client_identifier = Some(Utf8String::from_static("given"));
    peer.send(&mut c, now, Packet::ConnAck(ack));
    assert!(c.is_connected());
    assert_eq!(c.client_id(), "given");
    assert!(matches!(
        events(&mut c)[..],
        [Event::Connected {
            session_present: false,
            ..
        }]
    ));
}

#[test]
fn empty_client_id_is_drawn_from_the_seed() {
    let a = Client::new(Config::default(), 9, t0());
    let b = Client::new(Config::default(), 9, t0());
    assert_eq!(a.client_id(), b.client_id());
    assert!(a.client_id().starts_with("m2m-") && a.client_id().len() == 20);
    assert_ne!(
        a.client_id(),
        Client::new(Config::default(), 10, t0()).client_id()
    );
}

#[test]
fn qos1_window_follows_server_receive_maximum() {
    let now = t0();
    let mut c = client(ProtocolVersion::V5);
    let mut peer = Peer::new(ProtocolVersion::V5);
    c.connect(now);
    peer.take(&mut c);
    let mut ack = ConnAck::default();
    ack.properties.receive_maximum = Some(2);
    peer.send(&mut c, now, Packet::ConnAck(ack));
    let ids: Vec<u16> = (0..3)
        .map(|_| c.publish(now, msg(QoS::AtLeastOnce)).unwrap().unwrap())
        .collect();
    assert_eq!(peer.take(&mut c).len(), 2, "third waits for the window");
    peer.send(&mut c, now, Packet::PubAck(AckPacket::new(ids[0])));
    let sent = peer.take(&mut c);
    assert!(matches!(&sent[..], [Packet::Publish(p)] if p.packet_id == ids[2]));
    assert!(events(&mut c).contains(&Event::Published {
        packet_id: ids[0],
        qos: QoS::AtLeastOnce
    }));
}

#[test]
fn qos2_outgoing_runs_pubrec_pubrel_pubcomp() {
    let now = t0();
    let mut c = client(ProtocolVersion::V3_1_1);
    let mut peer = Peer::new(ProtocolVersion::V3_1_1);
    peer.accept(&mut c, now, false);
    let id = c.publish(now, msg(QoS::ExactlyOnce)).unwrap().unwrap();
    assert!(matches!(&peer.take(&mut c)[..], [Packet::Publish(p)] if p.qos == QoS::ExactlyOnce));
    peer.send(&mut c, now, Packet::PubRec(AckPacket::new(id)));
    assert_eq!(peer.take(&mut c), [Packet::PubRel(AckPacket::new(id))]);
    assert!(events(&mut c)
        .iter()
        .all(|e| !matches!(e, Event::Published { .. })));
    peer.send(&mut c, now, Packet::PubComp(AckPacket::new(id)));
    assert!(events(&mut c).contains(&Event::Published {
        packet_id: id,
        qos: QoS::ExactlyOnce
    }));
}

#[test]
fn incoming_qos2_is_delivered_once_when_resent_before_pubrel() {
    let now = t0();
    let mut c = client(ProtocolVersion::V3_1_1);
    let mut peer = Peer::new(ProtocolVersion::V3_1_1);
    peer.accept(&mut c, now, false);
    events(&mut c);
    let m = msg(QoS::ExactlyOnce).with_qos(QoS::ExactlyOnce, 7);
    peer.send(&mut c, now, Packet::Publish(m.clone()));
    let mut dup = m.clone();
    dup.dup = true;
    peer.send(&mut c, now, Packet::Publish(dup));
    assert_eq!(
        peer.take(&mut c),
        [
            Packet::PubRec(AckPacket::new(7)),
            Packet::PubRec(AckPacket::new(7))
        ]
    );
    assert_eq!(events(&mut c), [Event::Message(m)]);
    peer.send(&mut c, now, Packet::PubRel(AckPacket::new(7)));
    assert_eq!(peer.take(&mut c), [Packet::PubComp(AckPacket::new(7))]);
}

#[test]
fn incoming_qos1_is_acknowledged() {
    let now = t0();
    let mut c = client(ProtocolVersion::V3_1_1);
    let mut peer = Peer::new(ProtocolVersion::V3_1_1);
    peer.accept(&mut c, now, false);
    peer.send(
        &mut c,
        now,
        Packet::Publish(msg(QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, 3)),
    );
    assert_eq!(peer.take(&mut c), [Packet::PubAck(AckPacket::new(3))]);
}

#[test]
fn keepalive_pings_when_idle_and_declares_dead_without_pingresp() {
    let now = t0();
    let mut c = client(ProtocolVersion::V3_1_1);
    let mut peer = Peer::new(ProtocolVersion::V3_1_1);
    peer.accept(&mut c, now, false);
    events(&mut c);
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(10)));
    let t = now + Duration::from_secs(10);
    c.handle_timeout(t);
    assert_eq!(peer.take(&mut c), [Packet::PingReq]);
    peer.send(&mut c, t, Packet::PingResp);
    assert_eq!(c.poll_timeout(), Some(t + Duration::from_secs(10)));
    let t = t + Duration::from_secs(10);
    c.handle_timeout(t);
    assert_eq!(peer.take(&mut c), [Packet::PingReq]);
    assert_eq!(c.poll_timeout(), Some(t + Duration::from_secs(5)));
    c.handle_timeout(t + Duration::from_secs(5));
    let ev = events(&mut c);
    let [Event::Disconnected {
        reason: DisconnectReason::KeepAliveTimeout,
        reconnect_at: Some(at),
    }] = ev[..]
    else {
        panic!("{ev:?}")
    };
    let since = at - (t + Duration::from_secs(5));
    assert!(
        since >= Duration::from_millis(500) && since <= Duration::from_secs(1),
        "{since:?}"
    );
}

#[test]
fn connect_timeout_without_connack() {
    let now = t0();
    let mut c = client(ProtocolVersion::V3_1_1);
    c.connect(now);
    let deadline = c.poll_timeout().unwrap();
    assert_eq!(deadline, now + Duration::from_secs(30));
    c.handle_timeout(deadline);
    assert!(matches!(
        events(&mut c)[..],
        [Event::Disconnected {
            reason: DisconnectReason::ConnectTimeout,
            reconnect_at: Some(_)
        }]
    ));
}

#[test]
fn backoff_grows_over_failed_attempts_and_resets_on_connack() {
    let now = t0();
    let mut c = client(ProtocolVersion::V3_1_1);
    let mut waits = Vec::new();
    for _ in 0..6 {
        c.connect_failed(now);
        waits.push(c.reconnect_at().unwrap() - now);
    }
    for (i, w) in waits.iter().enumerate() {
        let ceil = Duration::from_secs(1 << i.min(3));
        assert!(*w >= ceil / 2 && *w <= ceil, "attempt {i}: {w:?}");
    }
    Peer::new(ProtocolVersion::V3_1_1).accept(&mut c, now, false);
    c.connection_lost(now);
    assert!(c.reconnect_at().unwrap() - now <= Duration::from_secs(1));
}

#[test]
fn reconnect_with_session_resends_publish_with_dup_and_pubrel() {
    let now = t0();
    let mut c = client(ProtocolVersion::V3_1_1);
    let mut peer = Peer::new(ProtocolVersion::V3_1_1);
    peer.accept(&mut c, now, false);
    let a = c.publish(now, msg(QoS::AtLeastOnce)).unwrap().unwrap();
    let b = c.publish(now, msg(QoS::ExactlyOnce)).unwrap().unwrap();
    peer.take(&mut c);
    peer.send(&mut c, now, Packet::PubRec(AckPacket::new(b)));
    peer.take(&mut c);
    c.connection_lost(now);
    // A QoS 1 message published while down waits for the connection.
    let d = c.publish(now, msg(QoS::AtLeastOnce)).unwrap().unwrap();
    assert_eq!(
        c.publish(now, msg(QoS::AtMostOnce)),
        Err(PublishError::NotConnected)
    );
    let sent = peer.accept(&mut c, now, true);
    assert!(matches!(&sent[0], Packet::Publish(p) if p.dup && p.packet_id == a));
    assert_eq!(sent[1], Packet::PubRel(AckPacket::new(b)));
    assert!(matches!(&sent[2], Packet::Publish(p) if !p.dup && p.packet_id == d));
}

/// MQTT 5.0 §4.9: after a reconnect whose CONNACK lowers Receive Maximum,
/// the resumed flows go out no more than that many at a time, in order, the
/// rest as acknowledgements make room (PUBREL flows count too).
#[test]
fn resend_after_reconnect_respects_the_new_receive_maximum() {
    let now = t0();
    let mut c = client(ProtocolVersion::V5);
    let mut peer = Peer::new(ProtocolVersion::V5);
    peer.accept(&mut c, now, false);
    let mut ids: Vec<u16> = (0..4)
        .map(|_| c.publish(now, msg(QoS::AtLeastOnce)).unwrap().unwrap())
        .collect();
    let q2 = c.publish(now, msg(QoS::ExactlyOnce)).unwrap().unwrap();
    peer.take(&mut c);
    peer.send(&mut c, now, Packet::PubRec(AckPacket::new(q2)));
    peer.take(&mut c);
    c.connection_lost(now);

    peer.dec = StreamDecoder::detect_version(1 << 20);
    peer.buf.clear();
    c.connect(now);
    assert!(matches!(peer.take(&mut c)[0], Packet::Connect(_)));
    let mut ack = ConnAck {
        session_present: true,
        ..ConnAck::default()
    };
    ack.properties.receive_maximum = Some(2);
    peer.send(&mut c, now, Packet::ConnAck(ack));
    ids.push(q2);
    let mut resent: Vec<u16> = Vec::new();
    let mut outstanding: Vec<Packet> = Vec::new();
    // Bounded: one acknowledgement per turn, five flows.
    for _ in 0..10 {
        for p in peer.take(&mut c) {
            match &p {
                Packet::Publish(x) => {
                    assert!(x.dup, "resent without DUP");
                    resent.push(x.packet_id);
                }
                Packet::PubRel(a) => resent.push(a.packet_id),
                other => panic!("unexpected {other:?}"),
            }
            outstanding.push(p);
        }
        assert!(
            outstanding.len() <= 2,
            "{} unacknowledged",
            outstanding.len()
        );
        if outstanding.is_empty() {
            break;
        }
        let ack = match outstanding.remove(0) {
            Packet::Publish(x) => Packet::PubAck(AckPacket::new(x.packet_id)),
            Packet::PubRel(a) => Packet::PubComp(AckPacket::new(a.packet_id)),
            other => panic!("unexpected {other:?}"),
        };
        peer.send(&mut c, now, ack);
    }
    assert_eq!(resent, ids, "every flow resent once, in order");
}

#[test]
fn reconnect_without_session_resubscribes_and_resends_as_new() {
    let now = t0();
    let mut c = client(ProtocolVersion::V3_1_1);
    let mut peer = Peer::new(ProtocolVersion::V3_1_1);
    peer.accept(&mut c, now, false);
    let sid = c
        .subscribe(
            now,
            vec![Subscription::new(
                Utf8String::from_static("a/#"),
                QoS::AtLeastOnce,
            )],
            None,
        )
        .unwrap();
    peer.take(&mut c);
    peer.send(
        &mut c,
        now,
        Packet::SubAck(SubAck::new(sid, vec![ReasonCode::GRANTED_QOS_1])),
    );
    let a = c.publish(now, msg(QoS::AtLeastOnce)).unwrap().unwrap();
    peer.take(&mut c);
    c.connection_lost(now);
    let sent = peer.accept(&mut c, now, false);
    assert!(
        matches!(&sent[0], Packet::Subscribe(s) if s.filters[0].filter == "a/#"),
        "{sent:?}"
    );
    assert!(matches!(&sent[1], Packet::Publish(p) if !p.dup && p.packet_id == a));
}

#[test]
fn subscribe_before_connect_goes_out_on_connect() {
    let now = t0();
    let mut c = client(ProtocolVersion::V5);
    let id = c
        .subscribe(
            now,
            vec![Subscription::new(
                Utf8String::from_static("x"),
                QoS::ExactlyOnce,
            )],
            Some(5),
        )
        .unwrap();
    let sent = Peer::new(ProtocolVersion::V5).accept(&mut c, now, false);
    assert!(matches!(&sent[..], [Packet::Subscribe(s)]
        if s.packet_id == id && s.properties.subscription_identifiers == [5]));
}

#[test]
fn refused_for_bad_credentials_does_not_reconnect() {
    let now = t0();
    let mut c = client(ProtocolVersion::V3_1_1);
    let peer = Peer::new(ProtocolVersion::V3_1_1);
    c.connect(now);
    c.poll_transmit();
    peer.send(
        &mut c,
        now,
        Packet::ConnAck(ConnAck {
            reason_code: ReasonCode(4),
            ..ConnAck::default()
        }),
    );
    assert_eq!(
        events(&mut c),
        [Event::Disconnected {
            reason: DisconnectReason::Refused(ReasonCode(4)),
            reconnect_at: None
        }]
    );
}

#[test]
fn server_limits_are_enforced_on_publish() {
    let now = t0();
    let mut c = client(ProtocolVersion::V5);
    let mut peer = Peer::new(ProtocolVersion::V5);
    c.connect(now);
    peer.take(&mut c);
    let mut ack = ConnAck::default();
    ack.properties.maximum_qos = Some(QoS::AtLeastOnce);
    ack.properties.retain_available = Some(false);
    ack.properties.maximum_packet_size = Some(20);
    peer.send(&mut c, now, Packet::ConnAck(ack));
    assert_eq!(
        c.publish(now, msg(QoS::ExactlyOnce)),
        Err(PublishError::QoSNotSupported {
            max: QoS::AtLeastOnce
        })
    );
    assert_eq!(
        c.publish(now, msg(QoS::AtMostOnce).with_retain(true)),
        Err(PublishError::RetainNotSupported)
    );
    let big = Publish::new(Utf8String::from_static("t"), Bytes::from(vec![0; 100]));
    assert!(matches!(
        c.publish(now, big),
        Err(PublishError::TooLarge { max: 20, .. })
    ));
    let bad = Publish::new(Utf8String::from_static("a/+"), Bytes::new());
    assert!(matches!(c.publish(now, bad), Err(PublishError::Topic(_))));
}

#[test]
fn malformed_packet_gets_disconnect_with_reason_in_v5() {
    let now = t0();
    let mut c = client(ProtocolVersion::V5);
    let mut peer = Peer::new(ProtocolVersion::V5);
    peer.accept(&mut c, now, false);
    events(&mut c);
    c.handle_bytes(now, &[0x30, 0x03, 0x00, 0x05, 0x61]); // topic runs past the packet
    let sent = peer.take(&mut c);
    assert!(matches!(&sent[..], [Packet::Disconnect(d)] if d.reason_code.is_error()));
    assert!(matches!(
        events(&mut c)[..],
        [Event::Disconnected {
            reason: DisconnectReason::ProtocolError(_),
            ..
        }]
    ));
}

#[test]
fn incoming_topic_alias_is_resolved() {
    let now = t0();
    let mut cfg = Config::new("c");
    cfg.version = ProtocolVersion::V5;
    cfg.topic_alias_maximum = 4;
    let mut c = Client::new(cfg, 1, now);
    let mut peer = Peer::new(ProtocolVersion::V5);
    peer.accept(&mut c, now, false);
    events(&mut c);
    let mut first = msg(QoS::AtMostOnce);
    first.properties.topic_alias = Some(2);
    peer.send(&mut c, now, Packet::Publish(first));
    let mut second = Publish::new(Utf8String::default(), Bytes::from_static(b"y"));
    second.properties.topic_alias = Some(2);
    peer.send(&mut c, now, Packet::Publish(second));
    let ev = events(&mut c);
    assert!(
        matches!(&ev[1], Event::Message(m) if m.topic == "t/1" && m.payload == "y"),
        "{ev:?}"
    );
    let mut bad = msg(QoS::AtMostOnce);
    bad.properties.topic_alias = Some(5);
    peer.send(&mut c, now, Packet::Publish(bad));
    assert!(matches!(
        events(&mut c)[..],
        [Event::Disconnected {
            reason: DisconnectReason::ProtocolError(ReasonCode::TOPIC_ALIAS_INVALID),
            ..
        }]
    ));
}

#[test]
fn disconnect_sends_disconnect_and_closes() {
    let now = t0();
    let mut c = client(ProtocolVersion::V5);
    let mut peer = Peer::new(ProtocolVersion::V5);
    peer.accept(&mut c, now, false);
    events(&mut c);
    c.disconnect(now, ReasonCode::DISCONNECT_WITH_WILL_MESSAGE);
    assert!(matches!(&peer.take(&mut c)[..], [Packet::Disconnect(d)] if d.reason_code.0 == 4));
    assert!(c.is_closed() && c.poll_timeout().is_none());
    assert_eq!(
        c.publish(now, msg(QoS::AtLeastOnce)),
        Err(PublishError::Closed)
    );
    assert_eq!(
        events(&mut c),
        [Event::Disconnected {
            reason: DisconnectReason::Local,
            reconnect_at: None
        }]
    );
}

proptest::proptest! {
    /// Arbitrary server bytes, in arbitrary chunks and at arbitrary times,
    /// never panic and never leave more in flight than the window.
    #[test]
    fn arbitrary_server_bytes_never_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 0..20),
        v5 in proptest::bool::ANY,
    ) {
        let now = t0();
        let version = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V3_1_1 };
        let mut c = client(version);
        Peer::new(version).accept(&mut c, now, false);
        let _ = c.publish(now, msg(QoS::ExactlyOnce));
        for (i, chunk) in chunks.iter().enumerate() {
            let t = now + Duration::from_secs(i as u64);
            c.handle_bytes(t, chunk);
            c.handle_timeout(t);
            while c.poll_transmit().is_some() {}
            while c.poll_event().is_some() {}
            if c.reconnect_at().is_some() {
                c.connect(t);
                c.handle_bytes(t, &[0x20, 2, 1, 0]);
            }
            proptest::prop_assert!(c.session().inflight_len() <= usize::from(c.session().window()));
        }
    }
}

#[test]
fn disconnect_reason_not_allowed_in_disconnect_goes_out_as_unspecified() {
    let now = t0();
    let mut c = client(ProtocolVersion::V5);
    let mut peer = Peer::new(ProtocolVersion::V5);
    peer.accept(&mut c, now, false);
    c.disconnect(now, ReasonCode(0x1f));
    assert!(
        matches!(&peer.take(&mut c)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::UNSPECIFIED_ERROR)
    );
}

#[test]
fn auth_checks_version_and_reason_code() {
    let now = t0();
    let mut c3 = client(ProtocolVersion::V3_1_1);
    assert_eq!(
        c3.auth(now, mqtt_codec::Auth::default()),
        Err(crate::CommandError::NotV5)
    );
    let mut c = client(ProtocolVersion::V5);
    let mut peer = Peer::new(ProtocolVersion::V5);
    assert_eq!(
        c.auth(now, mqtt_codec::Auth::default()),
        Err(crate::CommandError::NotConnected)
    );
    peer.accept(&mut c, now, false);
    let bad = mqtt_codec::Auth {
        reason_code: ReasonCode(0x10),
        ..Default::default()
    };
    assert!(matches!(
        c.auth(now, bad),
        Err(crate::CommandError::InvalidReasonCode { .. })
    ));
    let mut ok = mqtt_codec::Auth {
        reason_code: ReasonCode::RE_AUTHENTICATE,
        ..Default::default()
    };
    ok.properties.authentication_method = Some(Utf8String::from_static("SCRAM"));
    c.auth(now, ok.clone()).unwrap();
    assert_eq!(peer.take(&mut c), [Packet::Auth(ok.clone())]);
    peer.send(&mut c, now, Packet::Auth(ok.clone()));
    assert!(events(&mut c).contains(&Event::Auth(ok)));
}

#[test]
fn outgoing_topic_aliases_follow_the_server_maximum_per_connection() {
    let now = t0();
    let mut cfg = Config::new("c");
    cfg.version = ProtocolVersion::V5;
    cfg.outgoing_topic_aliases = true;
    let mut c = Client::new(cfg, 1, now);
    let mut peer = Peer::new(ProtocolVersion::V5);
    c.connect(now);
    peer.take(&mut c);
    let mut ack = ConnAck::default();
    ack.properties.topic_alias_maximum = Some(2);
    peer.send(&mut c, now, Packet::ConnAck(ack));
    c.publish(now, msg(QoS::AtMostOnce)).unwrap();
    let id = c.publish(now, msg(QoS::AtLeastOnce)).unwrap().unwrap();
    let sent = peer.take(&mut c);
    let [Packet::Publish(a), Packet::Publish(b)] = &sent[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(
        (a.topic.as_str(), a.properties.topic_alias),
        ("t/1", Some(1))
    );
    assert_eq!((b.topic.as_str(), b.properties.topic_alias), ("", Some(1)));
    // A new connection starts a new mapping: the resent message carries its topic.
    c.connection_lost(now);
    let sent = Peer::new(ProtocolVersion::V5).accept(&mut c, now, true);
    assert!(
        matches!(&sent[..], [Packet::Publish(p)] if p.dup && p.packet_id == id && p.topic == "t/1"),
        "{sent:?}"
    );
}
