//! The transparent gateway in virtual time, with the broker played by hand:
//! every MQTT packet the gateway writes is decoded with `mqtt-codec`, every
//! answer is written as the broker would.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Packet, ProtocolVersion, StreamDecoder};
use mqttsn_codec::{
    Connect, Disconnect, Encapsulation, Frame, Message, PingReq, PubRel, Publish, QoS, RegAck,
    Register, ReturnCode, SearchGw, Subscribe, Topic, Unsubscribe, WillMsg, WillTopic,
};
use mqttsn_gateway::{Advertise, Config, ConnId, Event, Gateway, Gone, Transmit};

const CLIENT: &str = "127.0.0.1:40001";

/// What one step produced: MQTT-SN messages to clients, MQTT packets to the
/// broker, connections opened and closed.
#[derive(Debug, Default)]
struct Out {
    sn: Vec<(SocketAddr, Frame)>,
    mqtt: Vec<Packet>,
    opened: Vec<ConnId>,
    closed: Vec<ConnId>,
}

impl Out {
    fn msgs(&self) -> Vec<Message> {
        self.sn.iter().map(|(_, f)| f.message().clone()).collect()
    }
}

struct Harness {
    gw: Gateway,
    now: Instant,
    client: SocketAddr,
    conn: Option<ConnId>,
}

impl Harness {
    // Virtual time starts at an arbitrary instant; only `advance` moves it.
    #[allow(clippy::disallowed_methods)]
    fn new(config: Config) -> Self {
        let now = Instant::now();
        Self {
            gw: Gateway::new(config, 1, now),
            now,
            client: CLIENT.parse().unwrap(),
            conn: None,
        }
    }

    fn take(&mut self) -> Out {
        let mut out = Out::default();
        let mut dec = StreamDecoder::new(ProtocolVersion::V3_1_1, 1 << 20);
        let mut buf = BytesMut::new();
        for _ in 0..10_000 {
            let Some(t) = self.gw.poll_transmit() else {
                break;
            };
            match t {
                Transmit::Datagram { to, data } => out.sn.push((to, Frame::decode(data).unwrap())),
                Transmit::Open(c) => {
                    self.conn = Some(c);
                    out.opened.push(c);
                }
                Transmit::Data { data, .. } => {
                    buf.extend_from_slice(&data);
                    while let Some(p) = dec.decode(&mut buf).unwrap() {
                        out.mqtt.push(p);
                    }
                }
                Transmit::Close(c) => out.closed.push(c),
                other => panic!("unexpected {other:?}"),
            }
        }
        out
    }

    fn sn(&mut self, msg: impl Into<Message>) -> Out {
        let data = msg.into().to_bytes().unwrap();
        self.gw.handle_datagram(self.now, self.client, data);
        self.take()
    }

    fn broker(&mut self, bytes: &[u8]) -> Out {
        self.gw
            .handle_broker_bytes(self.now, self.conn.unwrap(), bytes);
        self.take()
    }

    fn broker_publish(&mut self, topic: &'static str, qos: mqtt_codec::QoS, id: u16) -> Out {
        let p = mqtt_codec::Publish::new(
            mqtt_codec::Utf8String::from_static(topic),
            Bytes::from_static(b"data"),
        )
        .with_qos(qos, id);
        let mut buf = BytesMut::new();
        Packet::Publish(p)
            .encode(ProtocolVersion::V3_1_1, &mut buf)
            .unwrap();
        self.broker(&buf)
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

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.gw.poll_event()).collect()
    }

    /// CONNECT (keep-alive `duration`) and the broker's CONNACK.
    fn connect(&mut self, duration: u16) {
        let out = self.sn(connect(false, duration));
        assert_eq!(out.opened.len(), 1);
        let out = self.broker(&[0x20, 2, 0, 0]);
        assert_eq!(out.msgs(), [connack(ReturnCode::Accepted)]);
    }
}

fn connect(will: bool, duration: u16) -> Message {
    Connect {
        will,
        clean_session: true,
        duration,
        client_id: Bytes::from_static(b"sensor-1"),
    }
    .into()
}

fn connack(return_code: ReturnCode) -> Message {
    mqttsn_codec::ConnAck { return_code }.into()
}

fn publish(qos: QoS, topic: Topic, msg_id: u16) -> Message {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic,
        msg_id,
        data: Bytes::from_static(b"21.5"),
    }
    .into()
}

fn register(h: &mut Harness, name: &'static str) -> u16 {
    let out = h.sn(Register {
        topic_id: 0,
        msg_id: 9,
        topic_name: Bytes::from_static(name.as_bytes()),
    });
    let [Message::RegAck(RegAck {
        topic_id,
        msg_id: 9,
        return_code: ReturnCode::Accepted,
    })] = out.msgs()[..]
    else {
        panic!("{out:?}")
    };
    topic_id
}

#[test]
fn connect_opens_an_mqtt_connection_with_the_client_id_and_answers_after_connack() {
    let mut h = Harness::new(Config::default());
    let out = h.sn(connect(false, 30));
    assert!(out.sn.is_empty(), "no CONNACK before the broker's");
    let [Packet::Connect(c)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    assert_eq!(c.client_id.as_str(), "sensor-1");
    assert!(c.clean_start && c.will.is_none());
    let out = h.broker(&[0x20, 2, 0, 0]);
    assert_eq!(out.msgs(), [connack(ReturnCode::Accepted)]);
    assert!(matches!(&h.events()[..], [Event::Connected { .. }]));
}

#[test]
fn connect_with_will_asks_for_topic_and_message_and_passes_the_will_to_the_broker() {
    let mut h = Harness::new(Config::default());
    assert_eq!(h.sn(connect(true, 30)).msgs(), [Message::WillTopicReq]);
    let w = WillTopic {
        qos: QoS::AtLeastOnce,
        retain: true,
        topic: Bytes::from_static(b"sensors/1/status"),
    };
    assert_eq!(
        h.sn(Message::WillTopic(Some(w))).msgs(),
        [Message::WillMsgReq]
    );
    let out = h.sn(WillMsg {
        will_msg: Bytes::from_static(b"offline"),
    });
    let [Packet::Connect(c)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    let will = c.will.as_ref().unwrap();
    assert_eq!(will.topic.as_str(), "sensors/1/status");
    assert_eq!(&will.payload[..], b"offline");
    assert_eq!(
        (will.qos, will.retain),
        (mqtt_codec::QoS::AtLeastOnce, true)
    );
}

#[test]
fn refused_broker_connection_gives_connack_congestion() {
    let mut h = Harness::new(Config::default());
    h.sn(connect(false, 30));
    let out = h.broker(&[0x20, 2, 0, 5]);
    assert_eq!(out.msgs(), [connack(ReturnCode::RejectedCongestion)]);
    assert_eq!(h.gw.client_count(), 0);
}

#[test]
fn qos1_publish_to_a_registered_id_is_acked_after_the_broker_puback() {
    let mut h = Harness::new(Config::default());
    h.connect(30);
    let id = register(&mut h, "sensors/temp");
    let out = h.sn(publish(QoS::AtLeastOnce, Topic::Id(id), 5));
    assert!(out.sn.is_empty());
    let [Packet::Publish(p)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (p.topic.as_str(), &p.payload[..]),
        ("sensors/temp", &b"21.5"[..])
    );
    // A retransmission while the broker has not acked is not forwarded again.
    let mut dup = publish(QoS::AtLeastOnce, Topic::Id(id), 5);
    if let Message::Publish(p) = &mut dup {
        p.dup = true;
    }
    assert!(h.sn(dup).mqtt.is_empty());
    let pid = p.packet_id.to_be_bytes();
    let out = h.broker(&[0x40, 2, pid[0], pid[1]]);
    let [Message::PubAck(ack)] = &out.msgs()[..] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (ack.topic_id, ack.msg_id, ack.return_code),
        (id, 5, ReturnCode::Accepted)
    );
}

#[test]
fn publish_to_an_unknown_topic_id_is_refused_with_invalid_topic_id() {
    let mut h = Harness::new(Config::default());
    h.connect(30);
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let out = h.sn(publish(qos, Topic::Id(77), 3));
        assert!(out.mqtt.is_empty());
        let [Message::PubAck(ack)] = &out.msgs()[..] else {
            panic!("{out:?}")
        };
        assert_eq!(ack.return_code, ReturnCode::RejectedInvalidTopicId);
        assert_eq!(ack.return_code.as_u8(), 0x02);
        assert_eq!((ack.topic_id, ack.msg_id), (77, 3));
    }
    let out = h.sn(publish(QoS::AtMostOnce, Topic::Predefined(9), 0));
    assert!(
        matches!(&out.msgs()[..], [Message::PubAck(a)] if a.return_code == ReturnCode::RejectedInvalidTopicId)
    );
}

#[test]
fn predefined_ids_and_short_names_publish_without_register() {
    let mut config = Config::default();
    config.predefined.insert(5, "parking/a/5".into());
    let mut h = Harness::new(config);
    h.connect(30);
    let out = h.sn(publish(QoS::AtMostOnce, Topic::Predefined(5), 0));
    let [Packet::Publish(p)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    assert_eq!(p.topic.as_str(), "parking/a/5");
    let out = h.sn(publish(QoS::AtMostOnce, Topic::Short(*b"t1"), 0));
    let [Packet::Publish(p)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    assert_eq!(p.topic.as_str(), "t1");
}

#[test]
fn qos2_publish_runs_pubrec_pubrel_pubcomp_and_reaches_the_broker_once() {
    let mut h = Harness::new(Config::default());
    h.connect(30);
    let id = register(&mut h, "a/b");
    let out = h.sn(publish(QoS::ExactlyOnce, Topic::Id(id), 8));
    let [Packet::Publish(p)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    let pid = p.packet_id.to_be_bytes();
    assert!(matches!(&out.msgs()[..], [Message::PubRec(r)] if r.msg_id == 8));
    let again = h.sn(publish(QoS::ExactlyOnce, Topic::Id(id), 8));
    assert!(again.mqtt.is_empty(), "a duplicate is not forwarded");
    assert!(matches!(&again.msgs()[..], [Message::PubRec(r)] if r.msg_id == 8));
    // PUBCOMP waits for the broker's: a client may disconnect right after it.
    assert!(h.sn(PubRel { msg_id: 8 }).sn.is_empty());
    let out = h.broker(&[0x50, 2, pid[0], pid[1]]);
    assert!(matches!(&out.mqtt[..], [Packet::PubRel(_)]));
    let out = h.broker(&[0x70, 2, pid[0], pid[1]]);
    assert!(matches!(&out.msgs()[..], [Message::PubComp(c)] if c.msg_id == 8));
    // A PUBREL after the broker completed is answered at once.
    let out = h.sn(publish(QoS::ExactlyOnce, Topic::Id(id), 9));
    let [Packet::Publish(p)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    let pid = p.packet_id.to_be_bytes();
    h.broker(&[0x50, 2, pid[0], pid[1]]);
    h.broker(&[0x70, 2, pid[0], pid[1]]);
    let out = h.sn(PubRel { msg_id: 9 });
    assert!(matches!(&out.msgs()[..], [Message::PubComp(c)] if c.msg_id == 9));
}

#[test]
fn wildcard_subscription_registers_each_new_topic_before_publishing_it() {
    let mut h = Harness::new(Config::default());
    h.connect(30);
    let out = h.sn(Subscribe {
        dup: false,
        qos: QoS::AtLeastOnce,
        msg_id: 4,
        topic: Topic::Name(Bytes::from_static(b"sensors/+")),
    });
    let [Packet::Subscribe(s)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    assert_eq!(s.filters[0].filter.as_str(), "sensors/+");
    let pid = s.packet_id.to_be_bytes();
    let out = h.broker(&[0x90, 3, pid[0], pid[1], 1]);
    let [Message::SubAck(ack)] = &out.msgs()[..] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (ack.msg_id, ack.topic_id, ack.qos),
        (4, 0, QoS::AtLeastOnce)
    );
    let out = h.broker_publish("sensors/temp", mqtt_codec::QoS::AtLeastOnce, 10);
    let msgs = out.msgs();
    let [Message::Register(r), Message::Publish(p)] = &msgs[..] else {
        panic!("{out:?}")
    };
    assert_eq!(&r.topic_name[..], b"sensors/temp");
    assert_eq!(p.topic, Topic::Id(r.topic_id));
    assert_eq!(p.qos, QoS::AtLeastOnce);
    // The second message on the same topic needs no REGISTER.
    let out = h.broker_publish("sensors/temp", mqtt_codec::QoS::AtMostOnce, 0);
    assert!(matches!(&out.msgs()[..], [Message::Publish(_)]));
}

#[test]
fn subscribe_to_an_unknown_predefined_id_is_refused() {
    let mut h = Harness::new(Config::default());
    h.connect(30);
    let out = h.sn(Subscribe {
        dup: false,
        qos: QoS::AtMostOnce,
        msg_id: 2,
        topic: Topic::Predefined(99),
    });
    assert!(out.mqtt.is_empty());
    let [Message::SubAck(ack)] = &out.msgs()[..] else {
        panic!("{out:?}")
    };
    assert_eq!(ack.return_code, ReturnCode::RejectedInvalidTopicId);
}

#[test]
fn subscribe_to_a_name_returns_its_topic_id_and_unsubscribe_is_acked() {
    let mut h = Harness::new(Config::default());
    h.connect(30);
    let out = h.sn(Subscribe {
        dup: false,
        qos: QoS::AtMostOnce,
        msg_id: 2,
        topic: Topic::Name(Bytes::from_static(b"a/b")),
    });
    let [Packet::Subscribe(s)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    let pid = s.packet_id.to_be_bytes();
    let out = h.broker(&[0x90, 3, pid[0], pid[1], 0]);
    let [Message::SubAck(ack)] = &out.msgs()[..] else {
        panic!("{out:?}")
    };
    assert_ne!(ack.topic_id, 0);
    let out = h.broker_publish("a/b", mqtt_codec::QoS::AtMostOnce, 0);
    assert!(matches!(&out.msgs()[..], [Message::Publish(p)] if p.topic == Topic::Id(ack.topic_id)));
    let out = h.sn(Unsubscribe {
        msg_id: 3,
        topic: Topic::Name(Bytes::from_static(b"a/b")),
    });
    let [Packet::Unsubscribe(u)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    let pid = u.packet_id.to_be_bytes();
    let out = h.broker(&[0xB0, 2, pid[0], pid[1]]);
    assert!(matches!(&out.msgs()[..], [Message::UnsubAck(u)] if u.msg_id == 3));
}

#[test]
fn pingreq_is_answered_and_disconnect_closes_the_mqtt_connection_cleanly() {
    let mut h = Harness::new(Config::default());
    h.connect(30);
    assert_eq!(h.sn(PingReq::default()).msgs(), [Message::PingResp]);
    let out = h.sn(Disconnect::default());
    assert!(matches!(&out.mqtt[..], [Packet::Disconnect(_)]));
    assert_eq!(out.closed.len(), 1);
    assert_eq!(out.msgs(), [Message::from(Disconnect::default())]);
    assert_eq!(h.gw.client_count(), 0);
}

#[test]
fn a_silent_client_is_lost_and_its_connection_dropped_without_disconnect() {
    let mut h = Harness::new(Config::default());
    h.connect(10);
    h.events();
    let out = h.advance(Duration::from_secs(14));
    assert!(out.closed.is_empty(), "within 1.5 x keep-alive");
    let out = h.advance(Duration::from_secs(2));
    assert_eq!(out.closed.len(), 1);
    assert!(
        out.mqtt.is_empty(),
        "no DISCONNECT: the broker publishes the will"
    );
    assert!(matches!(
        &h.events()[..],
        [Event::Disconnected {
            reason: Gone::Lost,
            ..
        }]
    ));
}

#[test]
fn a_sleeping_client_gets_its_buffered_messages_when_it_wakes_then_pingresp() {
    let mut config = Config::default();
    config.max_buffered = 2;
    let mut h = Harness::new(config);
    h.connect(30);
    let id = register(&mut h, "cmd/x");
    let out = h.sn(Disconnect { duration: Some(60) });
    assert_eq!(out.msgs(), [Message::from(Disconnect::default())]);
    assert!(
        out.mqtt.is_empty() && out.closed.is_empty(),
        "the session stays"
    );
    for _ in 0..3 {
        assert!(h
            .broker_publish("cmd/x", mqtt_codec::QoS::AtMostOnce, 0)
            .sn
            .is_empty());
    }
    assert!(
        matches!(&h.events()[..], [.., Event::Dropped { .. }]),
        "bounded buffer"
    );
    let out = h.advance(Duration::from_secs(80));
    assert!(out.closed.is_empty());
    let out = h.sn(PingReq {
        client_id: Some(Bytes::from_static(b"sensor-1")),
    });
    let msgs = out.msgs();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(matches!(&msgs[0], Message::Publish(p) if p.topic == Topic::Id(id)));
    assert_eq!(msgs[2], Message::PingResp);
    // Oversleeping: lost.
    let out = h.advance(Duration::from_secs(91));
    assert_eq!(out.closed.len(), 1);
}

#[test]
fn searchgw_is_answered_with_gwinfo_and_advertise_is_periodic() {
    let mut config = Config::default();
    config.gateway_id = 7;
    let to: SocketAddr = "127.0.0.1:1883".parse().unwrap();
    config.advertise = Some(Advertise {
        to,
        interval: Duration::from_secs(900),
    });
    let mut h = Harness::new(config);
    let out = h.advance(Duration::ZERO);
    assert!(
        matches!(&out.sn[..], [(a, f)] if *a == to && matches!(f.message(), Message::Advertise(m) if m.gw_id == 7 && m.duration == 900))
    );
    assert!(h.advance(Duration::from_secs(899)).sn.is_empty());
    assert_eq!(h.advance(Duration::from_secs(1)).sn.len(), 1);
    let out = h.sn(SearchGw { radius: 1 });
    assert!(matches!(&out.msgs()[..], [Message::GwInfo(g)] if g.gw_id == 7));
}

#[test]
fn a_client_behind_a_forwarder_is_answered_through_it() {
    let mut h = Harness::new(Config::default());
    let enc = Frame::Encapsulated(Encapsulation {
        radius: 1,
        wireless_node_id: Bytes::from_static(&[0xAB, 0xCD]),
        message: Message::PingReq(PingReq::default()),
    });
    h.gw.handle_datagram(h.now, h.client, enc.to_bytes().unwrap());
    let out = h.take();
    let [(_, Frame::Encapsulated(e))] = &out.sn[..] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (&e.wireless_node_id[..], &e.message),
        (&[0xAB, 0xCD][..], &Message::PingResp)
    );
}

#[test]
fn broker_loss_disconnects_the_client() {
    let mut h = Harness::new(Config::default());
    h.connect(30);
    let conn = h.conn.unwrap();
    h.gw.handle_broker_closed(h.now, conn);
    let out = h.take();
    assert_eq!(out.msgs(), [Message::from(Disconnect::default())]);
    assert_eq!(h.gw.client_count(), 0);
}

#[test]
fn malformed_datagrams_and_strangers_never_create_state() {
    let mut config = Config::default();
    config.max_clients = 1;
    let mut h = Harness::new(config);
    let bad: [&[u8]; 5] = [
        b"",
        b"\x05\x0c\x00",
        b"\x03\xff\x00",
        b"\x09\x04\x04\x01",
        &[0xFF; 300],
    ];
    for d in bad {
        h.gw.handle_datagram(h.now, h.client, Bytes::copy_from_slice(d));
    }
    assert!(h.take().sn.is_empty());
    assert_eq!(h.events().len(), 5);
    // A PUBLISH from a client that never connected: told to reconnect.
    let out = h.sn(publish(QoS::AtLeastOnce, Topic::Id(1), 1));
    assert_eq!(out.msgs(), [Message::from(Disconnect::default())]);
    // The client limit holds.
    h.connect(30);
    h.client = "127.0.0.1:40002".parse().unwrap();
    assert_eq!(
        h.sn(connect(false, 30)).msgs(),
        [connack(ReturnCode::RejectedCongestion)]
    );
    assert_eq!(h.gw.client_count(), 1);
}

#[test]
fn qos_minus_one_from_a_stranger_is_relayed_on_the_gateways_own_connection() {
    let mut config = Config::default();
    config.predefined.insert(5, "parking/a/5".into());
    let mut h = Harness::new(config);
    let out = h.sn(publish(QoS::MinusOne, Topic::Predefined(5), 0));
    assert!(out.sn.is_empty(), "QoS -1 is never answered");
    assert_eq!(out.opened.len(), 1);
    assert!(matches!(&out.mqtt[..], [Packet::Connect(_)]));
    // A second one waits for CONNACK too; an unknown predefined id is dropped.
    assert!(h
        .sn(publish(QoS::MinusOne, Topic::Short(*b"ab"), 0))
        .mqtt
        .is_empty());
    assert!(h
        .sn(publish(QoS::MinusOne, Topic::Predefined(6), 0))
        .mqtt
        .is_empty());
    let out = h.broker(&[0x20, 2, 0, 0]);
    let topics: Vec<&str> = out
        .mqtt
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => p.topic.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(topics, ["parking/a/5", "ab"]);
    assert_eq!(h.gw.client_count(), 0, "no session for QoS -1");
    // Once connected, at once.
    let out = h.sn(publish(QoS::MinusOne, Topic::Short(*b"cd"), 0));
    assert!(matches!(&out.mqtt[..], [Packet::Publish(p)] if p.topic.as_str() == "cd"));
}

#[test]
fn will_updates_renew_the_mqtt_connection_with_the_new_will_and_keep_subscriptions() {
    let mut h = Harness::new(Config::default());
    h.connect(30);
    let out = h.sn(Subscribe {
        dup: false,
        qos: QoS::AtLeastOnce,
        msg_id: 1,
        topic: Topic::Name(Bytes::from_static(b"cmd/#")),
    });
    let [Packet::Subscribe(s)] = &out.mqtt[..] else {
        panic!("{out:?}")
    };
    let pid = s.packet_id.to_be_bytes();
    h.broker(&[0x90, 3, pid[0], pid[1], 1]);
    let old = h.conn.unwrap();
    let w = WillTopic {
        qos: QoS::AtMostOnce,
        retain: false,
        topic: Bytes::from_static(b"will/new"),
    };
    let out = h.sn(Message::WillTopicUpd(Some(w)));
    assert!(out.sn.is_empty(), "the response waits for the broker");
    assert_eq!(out.closed, [old]);
    assert!(
        matches!(&out.mqtt[..], [Packet::Disconnect(_), Packet::Connect(c)] if c.will.as_ref().is_some_and(|w| w.topic.as_str() == "will/new"))
    );
    let out = h.broker(&[0x20, 2, 0, 0]);
    assert!(
        matches!(&out.msgs()[..], [Message::WillTopicResp(r)] if r.return_code == ReturnCode::Accepted)
    );
    assert!(
        matches!(&out.mqtt[..], [Packet::Subscribe(s)] if s.filters[0].filter.as_str() == "cmd/#"),
        "{out:?}"
    );
    // Bytes on the old connection are ignored.
    h.gw.handle_broker_bytes(h.now, old, &[0x20, 2, 0, 0]);
    assert!(h.take().sn.is_empty());
    let out = h.sn(mqttsn_codec::WillMsgUpd {
        will_msg: Bytes::from_static(b"bye"),
    });
    assert!(
        matches!(&out.mqtt[..], [Packet::Disconnect(_), Packet::Connect(c)] if c.will.as_ref().is_some_and(|w| &w.payload[..] == b"bye" && w.topic.as_str() == "will/new"))
    );
    let out = h.broker(&[0x20, 2, 0, 0]);
    assert!(
        matches!(&out.msgs()[..], [Message::WillMsgResp(r)] if r.return_code == ReturnCode::Accepted)
    );
}

#[test]
fn unacknowledged_qos1_deliveries_are_resent_with_dup_then_the_client_is_lost() {
    let mut config = Config::default();
    config.retry_interval = Duration::from_secs(10);
    config.max_retries = 2;
    let mut h = Harness::new(config);
    h.connect(0);
    let id = register(&mut h, "cmd/a");
    let out = h.broker_publish("cmd/a", mqtt_codec::QoS::AtLeastOnce, 3);
    let [Message::Publish(p)] = &out.msgs()[..] else {
        panic!("{out:?}")
    };
    assert_eq!((p.topic.clone(), p.dup), (Topic::Id(id), false));
    for _ in 0..2 {
        let out = h.advance(Duration::from_secs(10));
        assert!(matches!(&out.msgs()[..], [Message::Publish(q)] if q.dup && q.msg_id == p.msg_id));
    }
    let out = h.advance(Duration::from_secs(10));
    assert_eq!(out.closed.len(), 1, "lost after Nretry");
}

#[test]
fn acknowledged_deliveries_are_not_resent_and_qos2_pubrel_is_retried() {
    let mut h = Harness::new(Config::default());
    h.connect(0);
    let out = h.broker_publish("ab", mqtt_codec::QoS::AtLeastOnce, 3);
    let [Message::Publish(p)] = &out.msgs()[..] else {
        panic!("{out:?}")
    };
    assert_eq!(p.topic, Topic::Short(*b"ab"));
    h.sn(mqttsn_codec::PubAck {
        topic_id: u16::from_be_bytes(*b"ab"),
        msg_id: p.msg_id,
        return_code: ReturnCode::Accepted,
    });
    assert!(h.advance(Duration::from_secs(11)).sn.is_empty());
    let out = h.broker_publish("ab", mqtt_codec::QoS::ExactlyOnce, 4);
    let [Message::Publish(p)] = &out.msgs()[..] else {
        panic!("{out:?}")
    };
    let out = h.sn(mqttsn_codec::PubRec { msg_id: p.msg_id });
    assert_eq!(out.msgs(), [Message::from(PubRel { msg_id: p.msg_id })]);
    let out = h.advance(Duration::from_secs(10));
    assert_eq!(out.msgs(), [Message::from(PubRel { msg_id: p.msg_id })]);
    h.sn(mqttsn_codec::PubComp { msg_id: p.msg_id });
    assert!(h.advance(Duration::from_secs(10)).sn.is_empty());
}

#[test]
fn an_unreachable_broker_gives_connack_congestion() {
    let mut h = Harness::new(Config::default());
    h.sn(connect(false, 30));
    let conn = h.conn.unwrap();
    h.gw.handle_broker_closed(h.now, conn);
    assert_eq!(h.take().msgs(), [connack(ReturnCode::RejectedCongestion)]);
    assert_eq!(h.gw.client_count(), 0);
}

#[test]
fn an_ipv6_client_is_served_like_any_other() {
    let mut h = Harness::new(Config::default());
    h.client = "[fd00::17]:1884".parse().unwrap();
    h.connect(30);
    let id = register(&mut h, "v6/temp");
    let out = h.sn(publish(QoS::AtMostOnce, Topic::Id(id), 0));
    assert!(matches!(&out.mqtt[..], [Packet::Publish(p)] if p.topic.as_str() == "v6/temp"));
    assert_eq!(h.sn(PingReq::default()).sn[0].0, h.client);
}

#[test]
fn a_flood_from_one_client_is_bounded_by_the_inflight_and_topic_limits() {
    let mut config = Config::default();
    config.max_inflight = 8;
    config.max_topics = 4;
    let mut h = Harness::new(config);
    h.connect(30);
    let id = register(&mut h, "flood/0");
    let (mut forwarded, mut congested) = (0, 0);
    for msg_id in 1..=1_000u16 {
        let out = h.sn(publish(QoS::AtLeastOnce, Topic::Id(id), msg_id));
        forwarded += out.mqtt.len();
        congested += out
            .msgs()
            .iter()
            .filter(|m| matches!(m, Message::PubAck(a) if a.return_code == ReturnCode::RejectedCongestion))
            .count();
    }
    assert_eq!((forwarded, congested), (8, 992), "the broker never acked");
    let mut refused = 0;
    for n in 0..100u16 {
        let out = h.sn(Register {
            topic_id: 0,
            msg_id: n,
            topic_name: Bytes::from(format!("flood/t{n}")),
        });
        refused += usize::from(
            matches!(&out.msgs()[..], [Message::RegAck(a)] if a.return_code == ReturnCode::RejectedCongestion),
        );
    }
    assert_eq!(refused, 97, "4 topic ids per client, one taken");
}

#[test]
fn a_new_connect_replaces_the_session_without_publishing_the_will() {
    let mut h = Harness::new(Config::default());
    h.connect(30);
    h.sn(Disconnect { duration: Some(60) });
    let old = h.conn.unwrap();
    let out = h.sn(connect(false, 30));
    assert!(
        matches!(&out.mqtt[..], [Packet::Disconnect(_), Packet::Connect(_)]),
        "{out:?}"
    );
    assert_eq!(out.closed, [old]);
    assert_eq!(out.opened.len(), 1);
    assert_eq!(
        h.broker(&[0x20, 2, 0, 0]).msgs(),
        [connack(ReturnCode::Accepted)]
    );
}
