//! The aggregating gateway in virtual time: one MQTT connection for every
//! client, the broker played by hand.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Packet, ProtocolVersion, StreamDecoder};
use mqttsn_codec::{
    Connect, Frame, Message, Publish, QoS, Register, ReturnCode, Subscribe, Topic, WillMsg,
    WillTopic,
};
use mqttsn_gateway::{Config, ConnId, Gateway, Mode, Transmit};

#[derive(Debug, Default)]
struct Out {
    sn: Vec<(SocketAddr, Message)>,
    mqtt: Vec<Packet>,
    opened: Vec<ConnId>,
}

struct Harness {
    gw: Gateway,
    now: Instant,
    conn: ConnId,
}

fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000 + n))
}

impl Harness {
    /// A gateway whose shared connection is up.
    #[allow(clippy::disallowed_methods)] // virtual time starts anywhere
    fn new() -> Self {
        let now = Instant::now();
        let mut config = Config::default();
        config.mode = Mode::Aggregating;
        let gw = Gateway::new(config, 1, now);
        let mut h = Self {
            gw,
            now,
            conn: ConnId(0),
        };
        let out = h.take();
        assert_eq!(out.opened.len(), 1);
        let [Packet::Connect(c)] = &out.mqtt[..] else {
            panic!("{out:?}")
        };
        assert_eq!(c.client_id.as_str(), "m2m-mqttsn-gateway");
        h
    }

    fn take(&mut self) -> Out {
        let mut out = Out::default();
        let mut dec = StreamDecoder::new(ProtocolVersion::V3_1_1, 1 << 20);
        let mut buf = BytesMut::new();
        while let Some(t) = self.gw.poll_transmit() {
            match t {
                Transmit::Datagram { to, data } => {
                    out.sn
                        .push((to, Frame::decode(data).unwrap().message().clone()));
                }
                Transmit::Open(c) => {
                    self.conn = c;
                    out.opened.push(c);
                }
                Transmit::Data { data, .. } => {
                    buf.extend_from_slice(&data);
                    while let Some(p) = dec.decode(&mut buf).unwrap() {
                        out.mqtt.push(p);
                    }
                }
                Transmit::Close(_) => {}
                other => panic!("{other:?}"),
            }
        }
        out
    }

    fn sn(&mut self, from: u16, msg: impl Into<Message>) -> Out {
        let data = msg.into().to_bytes().unwrap();
        self.gw.handle_datagram(self.now, addr(from), data);
        self.take()
    }

    fn broker(&mut self, bytes: &[u8]) -> Out {
        self.gw.handle_broker_bytes(self.now, self.conn, bytes);
        self.take()
    }

    fn advance(&mut self, d: Duration) -> Out {
        self.now += d;
        for _ in 0..100 {
            match self.gw.poll_timeout() {
                Some(t) if t <= self.now => self.gw.handle_timeout(self.now),
                _ => break,
            }
        }
        self.take()
    }
}

fn connect(id: &'static str, will: bool, duration: u16) -> Message {
    Connect {
        will,
        clean_session: true,
        duration,
        client_id: Bytes::from_static(id.as_bytes()),
    }
    .into()
}

fn accepted() -> Message {
    mqttsn_codec::ConnAck {
        return_code: ReturnCode::Accepted,
    }
    .into()
}

#[test]
fn clients_share_one_connection_and_wait_for_it() {
    let mut h = Harness::new();
    let out = h.sn(1, connect("a", false, 30));
    let congestion = mqttsn_codec::ConnAck {
        return_code: ReturnCode::RejectedCongestion,
    };
    assert_eq!(out.sn, [(addr(1), congestion.into())]);
    h.broker(&[0x20, 2, 0, 0]);
    for n in 1..=3 {
        let out = h.sn(n, connect("c", false, 30));
        assert!(out.opened.is_empty() && out.mqtt.is_empty());
        assert_eq!(out.sn, [(addr(n), accepted())]);
    }
    assert_eq!(h.gw.client_count(), 3);
}

#[test]
fn a_broker_publish_reaches_every_matching_client_and_a_publish_is_acked_to_its_sender() {
    let mut h = Harness::new();
    h.broker(&[0x20, 2, 0, 0]);
    for n in 1..=2 {
        h.sn(n, connect("c", false, 30));
        let out = h.sn(
            n,
            Subscribe {
                dup: false,
                qos: QoS::AtMostOnce,
                msg_id: 1,
                topic: Topic::Name(Bytes::from_static(b"cmd/+")),
            },
        );
        let [Packet::Subscribe(s)] = &out.mqtt[..] else {
            panic!("{out:?}")
        };
        let pid = s.packet_id.to_be_bytes();
        h.broker(&[0x90, 3, pid[0], pid[1], 0]);
    }
    let mut publish = BytesMut::new();
    let p = mqtt_codec::Publish::new(
        mqtt_codec::Utf8String::from_static("cmd/x"),
        Bytes::from_static(b"go"),
    );
    Packet::Publish(p)
        .encode(ProtocolVersion::V3_1_1, &mut publish)
        .unwrap();
    let out = h.broker(&publish);
    for n in 1..=2 {
        let mine: Vec<&Message> = out
            .sn
            .iter()
            .filter(|(a, _)| *a == addr(n))
            .map(|(_, m)| m)
            .collect();
        assert!(
            matches!(&mine[..], [Message::Register(_), Message::Publish(p)] if &p.data[..] == b"go"),
            "{mine:?}"
        );
    }
    // Client 2 registers and publishes at QoS 1: the PUBACK goes to it alone.
    let out = h.sn(
        2,
        Register {
            topic_id: 0,
            msg_id: 2,
            topic_name: Bytes::from_static(b"data/2"),
        },
    );
    let [(_, Message::RegAck(r))] = &out.sn[..] else {
        panic!("{out:?}")
    };
    let out = h.sn(
        2,
        Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: Topic::Id(r.topic_id),
            msg_id: 3,
            data: Bytes::from_static(b"21.5"),
        },
    );
    let [Packet::Publish(p)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    assert_eq!(p.topic.as_str(), "data/2");
    let pid = p.packet_id.to_be_bytes();
    let out = h.broker(&[0x40, 2, pid[0], pid[1]]);
    assert!(
        matches!(&out.sn[..], [(a, Message::PubAck(ack))] if *a == addr(2) && ack.msg_id == 3 && ack.return_code == ReturnCode::Accepted)
    );
}

#[test]
fn the_gateway_publishes_the_will_of_a_lost_client() {
    let mut h = Harness::new();
    h.broker(&[0x20, 2, 0, 0]);
    h.sn(1, connect("w", true, 2));
    let w = WillTopic {
        qos: QoS::AtMostOnce,
        retain: true,
        topic: Bytes::from_static(b"will/w"),
    };
    h.sn(1, Message::WillTopic(Some(w)));
    let out = h.sn(
        1,
        WillMsg {
            will_msg: Bytes::from_static(b"gone"),
        },
    );
    assert_eq!(out.sn, [(addr(1), accepted())]);
    let out = h.advance(Duration::from_secs(4));
    let [Packet::Publish(p)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.retain),
        ("will/w", &b"gone"[..], true)
    );
    assert_eq!(h.gw.client_count(), 0);
}

#[test]
fn losing_the_shared_connection_disconnects_clients_and_reconnects_with_back_off() {
    let mut h = Harness::new();
    h.broker(&[0x20, 2, 0, 0]);
    h.sn(1, connect("a", false, 30));
    let old = h.conn;
    h.gw.handle_broker_closed(h.now, old);
    let out = h.take();
    assert!(matches!(&out.sn[..], [(_, Message::Disconnect(_))]));
    assert_eq!(h.gw.client_count(), 0);
    let out = h.advance(Duration::from_secs(120));
    assert_eq!(out.opened.len(), 1, "reconnected");
    assert_ne!(h.conn, old);
    assert!(matches!(&out.mqtt[..], [Packet::Connect(_)]));
    h.broker(&[0x20, 2, 0, 0]);
    assert_eq!(h.sn(1, connect("a", false, 30)).sn, [(addr(1), accepted())]);
}

#[test]
fn a_will_update_is_answered_at_once_and_used_when_the_client_is_lost() {
    let mut h = Harness::new();
    h.broker(&[0x20, 2, 0, 0]);
    h.sn(1, connect("u", false, 2));
    let w = WillTopic {
        qos: QoS::AtMostOnce,
        retain: false,
        topic: Bytes::from_static(b"will/u"),
    };
    let out = h.sn(1, Message::WillTopicUpd(Some(w)));
    assert!(
        matches!(&out.sn[..], [(_, Message::WillTopicResp(r))] if r.return_code == ReturnCode::Accepted)
    );
    let out = h.sn(
        1,
        mqttsn_codec::WillMsgUpd {
            will_msg: Bytes::from_static(b"bye"),
        },
    );
    assert!(
        matches!(&out.sn[..], [(_, Message::WillMsgResp(r))] if r.return_code == ReturnCode::Accepted)
    );
    assert!(out.mqtt.is_empty());
    let out = h.advance(Duration::from_secs(4));
    assert!(
        matches!(&out.mqtt[..], [Packet::Publish(p)] if p.topic.as_str() == "will/u" && &p.payload[..] == b"bye")
    );
}

fn subscribe(h: &mut Harness, n: u16, filter: &'static str, msg_id: u16) {
    let out = h.sn(
        n,
        Subscribe {
            dup: false,
            qos: QoS::AtLeastOnce,
            msg_id,
            topic: Topic::Name(Bytes::from_static(filter.as_bytes())),
        },
    );
    let [Packet::Subscribe(s)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    let pid = s.packet_id.to_be_bytes();
    let out = h.broker(&[0x90, 3, pid[0], pid[1], 1]);
    assert!(
        matches!(&out.sn[..], [(a, Message::SubAck(s))] if *a == addr(n) && s.return_code == ReturnCode::Accepted),
        "{out:?}"
    );
}

fn unsubscribe(filter: &'static str, msg_id: u16) -> Message {
    mqttsn_codec::Unsubscribe {
        msg_id,
        topic: Topic::Name(Bytes::from_static(filter.as_bytes())),
    }
    .into()
}

#[test]
fn the_broker_subscription_goes_when_its_last_client_unsubscribes_or_leaves() {
    let mut h = Harness::new();
    h.broker(&[0x20, 2, 0, 0]);
    for n in 1..=3 {
        h.sn(n, connect("c", false, 30));
        subscribe(&mut h, n, "cmd/#", 1);
    }
    // Client 1 leaves the filter: the others still hold it, the UNSUBACK
    // comes at once and no MQTT UNSUBSCRIBE goes out.
    let out = h.sn(1, unsubscribe("cmd/#", 2));
    assert!(out.mqtt.is_empty(), "{out:?}");
    assert!(matches!(&out.sn[..], [(_, Message::UnsubAck(u))] if u.msg_id == 2));
    // Client 2 disconnects: still held by client 3.
    let out = h.sn(2, Message::Disconnect(mqttsn_codec::Disconnect::default()));
    assert!(out.mqtt.is_empty(), "{out:?}");
    // Client 3, the last: the broker subscription is removed and its
    // UNSUBACK waits for the broker's.
    let out = h.sn(3, unsubscribe("cmd/#", 3));
    let [Packet::Unsubscribe(u)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    assert_eq!(u.filters[0].as_str(), "cmd/#");
    assert!(out.sn.is_empty(), "{out:?}");
    let pid = u.packet_id.to_be_bytes();
    let out = h.broker(&[0xb0, 2, pid[0], pid[1]]);
    assert!(matches!(&out.sn[..], [(a, Message::UnsubAck(u))] if *a == addr(3) && u.msg_id == 3));
    // A client that leaves without unsubscribing releases its filters too.
    subscribe(&mut h, 3, "alerts/+", 4);
    let out = h.sn(3, Message::Disconnect(mqttsn_codec::Disconnect::default()));
    assert!(
        matches!(&out.mqtt[..], [Packet::Unsubscribe(u)] if u.filters[0].as_str() == "alerts/+"),
        "{out:?}"
    );
}

#[test]
fn after_a_reconnect_without_session_the_gateway_subscribes_again_for_sleeping_clients() {
    let mut h = Harness::new();
    h.broker(&[0x20, 2, 0, 0]);
    h.sn(1, connect("s", false, 30));
    subscribe(&mut h, 1, "cmd/s/+", 1);
    h.sn(2, connect("t", false, 30));
    subscribe(&mut h, 2, "cmd/t", 1);
    // Client 1 sleeps for 10 minutes; client 2 stays awake.
    let out = h.sn(
        1,
        mqttsn_codec::Disconnect {
            duration: Some(600),
        },
    );
    assert!(matches!(&out.sn[..], [(_, Message::Disconnect(_))]));
    // The shared connection drops: the awake client is told, the sleeper
    // keeps its session.
    let old = h.conn;
    h.gw.handle_broker_closed(h.now, old);
    let out = h.take();
    assert_eq!(out.sn.len(), 1, "{out:?}");
    assert_eq!(out.sn[0].0, addr(2));
    assert_eq!(h.gw.client_count(), 1);
    let out = h.advance(Duration::from_secs(120));
    assert_eq!(out.opened.len(), 1, "reconnected");
    // CONNACK without a session: the sleeper's filter is subscribed again,
    // the one of the client that left is not.
    let out = h.broker(&[0x20, 2, 0, 0]);
    let [Packet::Subscribe(s), rest @ ..] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    let filters: Vec<&str> = s.filters.iter().map(|f| f.filter.as_str()).collect();
    assert_eq!(filters, ["cmd/s/+"]);
    assert!(
        rest.iter()
            .all(|p| matches!(p, Packet::Unsubscribe(u) if u.filters[0].as_str() == "cmd/t")),
        "{rest:?}"
    );
    let pid = s.packet_id.to_be_bytes();
    let out = h.broker(&[0x90, 3, pid[0], pid[1], 1]);
    assert!(out.sn.is_empty(), "no SUBACK to any client: {out:?}");
    // A message for it is buffered and delivered when it wakes.
    let mut publish = BytesMut::new();
    let p = mqtt_codec::Publish::new(
        mqtt_codec::Utf8String::from_static("cmd/s/led"),
        Bytes::from_static(b"on"),
    );
    Packet::Publish(p)
        .encode(ProtocolVersion::V3_1_1, &mut publish)
        .unwrap();
    assert!(h.broker(&publish).sn.is_empty());
    let out = h.sn(
        1,
        mqttsn_codec::PingReq {
            client_id: Some(Bytes::from_static(b"s")),
        },
    );
    let msgs: Vec<&Message> = out.sn.iter().map(|(_, m)| m).collect();
    assert!(
        matches!(&msgs[..], [Message::Register(_), Message::Publish(p), Message::PingResp] if &p.data[..] == b"on"),
        "{msgs:?}"
    );
}
