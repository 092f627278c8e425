//! Back-pressure in virtual time: a broker that stops reading or stops
//! acknowledging. The harness plays the I/O layer: every byte the gateway
//! writes to a broker connection waits in that connection's backlog until
//! the broker "reads" it, and the backlog is reported to the gateway as an
//! adapter would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Packet, ProtocolVersion, StreamDecoder};
use mqttsn_codec::{Connect, Message, Publish, QoS, Register, ReturnCode, Subscribe, Topic};
use mqttsn_gateway::{Config, ConnId, Event, Gateway, Mode, Transmit};

fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 41_000 + n))
}

/// One broker connection as the harness's I/O layer sees it.
#[derive(Default)]
struct Conn {
    /// Written by the gateway, not yet read by the broker.
    backlog: BytesMut,
    /// Read by the broker, not yet decoded into whole packets.
    read: BytesMut,
}

struct Harness {
    gw: Gateway,
    now: Instant,
    conns: HashMap<ConnId, Conn>,
    /// The last connection opened.
    last: Option<ConnId>,
    /// What clients received.
    sn: Vec<(SocketAddr, Message)>,
    /// The largest backlog reported on any connection.
    peak: usize,
}

impl Harness {
    #[allow(clippy::disallowed_methods)] // virtual time starts anywhere
    fn new(config: Config) -> Self {
        let now = Instant::now();
        let mut h = Self {
            gw: Gateway::new(config, 5, now),
            now,
            conns: HashMap::new(),
            last: None,
            sn: Vec::new(),
            peak: 0,
        };
        h.pump();
        h
    }

    /// Carries out the gateway's transmits; reports each connection's backlog.
    fn pump(&mut self) {
        for _ in 0..100_000 {
            let Some(t) = self.gw.poll_transmit() else {
                break;
            };
            match t {
                Transmit::Datagram { to, data } => {
                    let frame = mqttsn_codec::Frame::decode(data).expect("valid datagram");
                    self.sn.push((to, frame.message().clone()));
                }
                Transmit::Open(c) => {
                    self.conns.insert(c, Conn::default());
                    self.last = Some(c);
                }
                Transmit::Data { conn, data } => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.backlog.extend_from_slice(&data);
                        let n = c.backlog.len();
                        self.peak = self.peak.max(n);
                        self.gw.handle_broker_backlog(self.now, conn, n);
                    }
                }
                Transmit::Close(c) => {
                    self.conns.remove(&c);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// The broker reads everything written on `conn` so far and returns the
    /// packets; the backlog drops to zero.
    fn broker_reads(&mut self, conn: ConnId) -> Vec<Packet> {
        let c = self.conns.get_mut(&conn).expect("open connection");
        let data = c.backlog.split();
        c.read.extend_from_slice(&data);
        let mut dec = StreamDecoder::new(ProtocolVersion::V3_1_1, 1 << 20);
        let mut packets = Vec::new();
        while let Some(p) = dec.decode(&mut c.read).expect("valid MQTT") {
            packets.push(p);
        }
        self.gw.handle_broker_backlog(self.now, conn, 0);
        self.pump();
        packets
    }

    fn broker_says(&mut self, conn: ConnId, bytes: &[u8]) {
        self.gw.handle_broker_bytes(self.now, conn, bytes);
        self.pump();
    }

    fn datagram(&mut self, from: u16, msg: impl Into<Message>) -> Vec<Message> {
        self.sn.clear();
        let data = msg.into().to_bytes().expect("encodable");
        self.gw.handle_datagram(self.now, addr(from), data);
        self.pump();
        let to = addr(from);
        self.sn
            .drain(..)
            .filter(|(a, _)| *a == to)
            .map(|(_, m)| m)
            .collect()
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        for _ in 0..1000 {
            match self.gw.poll_timeout() {
                Some(t) if t <= self.now => self.gw.handle_timeout(self.now),
                _ => break,
            }
            self.pump();
        }
        self.pump();
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.gw.poll_event()).collect()
    }

    /// CONNECT from client `n` ("c<n>"); in transparent mode the broker
    /// answers CONNACK on the new connection, which is returned.
    fn connect(&mut self, n: u16) -> ConnId {
        let before = self.last;
        let id = format!("c{n}");
        let got = self.datagram(
            n,
            Connect {
                will: false,
                clean_session: true,
                duration: 600,
                client_id: Bytes::from(id.into_bytes()),
            },
        );
        if self.last != before {
            let conn = self.last.expect("opened");
            self.broker_reads(conn);
            self.broker_says(conn, &[0x20, 2, 0, 0]);
            let got: Vec<Message> = self.sn.drain(..).map(|(_, m)| m).collect();
            assert_eq!(got, [connack(ReturnCode::Accepted)]);
            conn
        } else {
            assert_eq!(got, [connack(ReturnCode::Accepted)]);
            self.last.expect("the shared connection")
        }
    }

    fn register(&mut self, n: u16, name: &'static str) -> Vec<Message> {
        self.datagram(
            n,
            Register {
                topic_id: 0,
                msg_id: 1,
                topic_name: Bytes::from_static(name.as_bytes()),
            },
        )
    }
}

fn connack(return_code: ReturnCode) -> Message {
    mqttsn_codec::ConnAck { return_code }.into()
}

fn publish(qos: QoS, topic_id: u16, msg_id: u16, len: usize) -> Message {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: Topic::Id(topic_id),
        msg_id,
        data: Bytes::from(vec![b'x'; len]),
    }
    .into()
}

fn registered(m: &[Message]) -> u16 {
    match m {
        [Message::RegAck(r)] if r.return_code == ReturnCode::Accepted => r.topic_id,
        other => panic!("{other:?}"),
    }
}

fn is_congestion(m: &[Message]) -> bool {
    matches!(m, [Message::PubAck(a)] if a.return_code == ReturnCode::RejectedCongestion)
}

fn small_config(mode: Mode) -> Config {
    let mut c = Config::default();
    c.mode = mode;
    c.max_backlog = 4 * 1024;
    c.max_total_backlog = 64 * 1024;
    c.max_pending = 8;
    c.max_connecting = 2;
    c
}

/// The broker stops reading (transparent mode): the backlog stays bounded
/// by `max_backlog` plus one message, QoS 1 publishes, REGISTER and
/// SUBSCRIBE get "rejected: congestion", QoS 0 publishes are dropped and
/// counted; once the broker reads again, traffic flows.
#[test]
fn a_broker_that_stops_reading_gets_congestion_codes_then_recovers() {
    let mut h = Harness::new(small_config(Mode::Transparent));
    let conn = h.connect(1);
    let id = registered(&h.register(1, "data/1"));
    let mut congested_at = None;
    for i in 0..2_000u16 {
        let got = h.datagram(1, publish(QoS::AtMostOnce, id, 0, 200));
        assert!(got.is_empty(), "{got:?}");
        if h.gw.stats().dropped_congestion > 0 {
            congested_at = Some(i);
            break;
        }
    }
    let congested_at = congested_at.expect("QoS 0 publishes are dropped once congested");
    assert!(congested_at >= 4 * 1024 / 220, "{congested_at}");
    for i in 0..100 {
        h.datagram(1, publish(QoS::AtMostOnce, id, 0, 200));
        h.advance(Duration::from_millis(10 * i));
    }
    assert!(h.peak < 4 * 1024 + 512, "backlog bounded: {}", h.peak);
    assert!(h.gw.stats().dropped_congestion >= 100);
    let got = h.datagram(1, publish(QoS::AtLeastOnce, id, 7, 10));
    assert!(is_congestion(&got), "{got:?}");
    let got = h.register(1, "data/2");
    assert!(
        matches!(&got[..], [Message::RegAck(r)] if r.return_code == ReturnCode::RejectedCongestion),
        "{got:?}"
    );
    let got = h.datagram(
        1,
        Subscribe {
            dup: false,
            qos: QoS::AtMostOnce,
            msg_id: 8,
            topic: Topic::Name(Bytes::from_static(b"cmd/#")),
        },
    );
    assert!(
        matches!(&got[..], [Message::SubAck(a)] if a.return_code == ReturnCode::RejectedCongestion),
        "{got:?}"
    );
    assert!(h.gw.stats().rejected_congestion >= 3);
    assert!(h
        .events()
        .iter()
        .any(|e| matches!(e, Event::Congested { dropped: true, .. })));
    // The broker reads again: what was written before the congestion
    // arrives, and new publishes flow.
    let packets = h.broker_reads(conn);
    assert_eq!(
        packets
            .iter()
            .filter(|p| matches!(p, Packet::Publish(_)))
            .count(),
        usize::from(congested_at)
    );
    let got = h.datagram(1, publish(QoS::AtLeastOnce, id, 9, 10));
    assert!(got.is_empty(), "waits for the broker's PUBACK: {got:?}");
    let packets = h.broker_reads(conn);
    let [Packet::Publish(p)] = &packets[..] else {
        panic!("{packets:?}")
    };
    let pid = p.packet_id.to_be_bytes();
    h.broker_says(conn, &[0x40, 2, pid[0], pid[1]]);
    assert!(
        matches!(&h.sn[..], [(_, Message::PubAck(a))] if a.msg_id == 9 && a.return_code == ReturnCode::Accepted),
        "{:?}",
        h.sn
    );
}

/// Too many bytes waiting over all connections, or too many connections
/// waiting for CONNACK: a new CONNECT gets CONNACK "rejected: congestion".
#[test]
fn new_connects_are_refused_while_the_broker_side_is_congested() {
    let mut h = Harness::new(small_config(Mode::Transparent));
    // Two CONNECTs the broker never answers fill max_connecting = 2.
    for n in 1..=2 {
        let got = h.datagram(
            n,
            Connect {
                will: false,
                clean_session: true,
                duration: 60,
                client_id: Bytes::from(format!("slow{n}").into_bytes()),
            },
        );
        assert!(got.is_empty(), "{got:?}");
    }
    let got = h.datagram(
        3,
        Connect {
            will: false,
            clean_session: true,
            duration: 60,
            client_id: Bytes::from_static(b"third"),
        },
    );
    assert_eq!(got, [connack(ReturnCode::RejectedCongestion)]);
    assert_eq!(h.gw.client_count(), 2);
    // The handshakes time out (30 s): room again.
    h.advance(Duration::from_secs(31));
    assert_eq!(h.gw.client_count(), 0);
    let conn = h.connect(4);
    // A backlog past max_total_backlog on any connection refuses CONNECTs.
    h.gw.handle_broker_backlog(h.now, conn, 64 * 1024);
    let got = h.datagram(
        5,
        Connect {
            will: false,
            clean_session: true,
            duration: 60,
            client_id: Bytes::from_static(b"fifth"),
        },
    );
    assert_eq!(got, [connack(ReturnCode::RejectedCongestion)]);
    h.gw.handle_broker_backlog(h.now, conn, 0);
    h.connect(5);
    assert_eq!(h.gw.client_count(), 2);
}

/// Aggregating mode, the broker stops acknowledging: past `max_pending`
/// QoS 1 publishes on the shared connection, further ones and new CONNECTs
/// are refused with congestion; once the broker acknowledges, they flow.
#[test]
fn aggregating_a_broker_that_stops_acknowledging_gets_congestion_then_recovers() {
    let mut h = Harness::new(small_config(Mode::Aggregating));
    let shared = h.last.expect("shared connection");
    h.broker_reads(shared);
    h.broker_says(shared, &[0x20, 2, 0, 0]);
    let mut ids = Vec::new();
    for n in 1..=3 {
        h.connect(n);
        ids.push(registered(&h.register(n, "data/x")));
    }
    let mut accepted_to_broker = 0;
    let mut refused = 0;
    for round in 0..6u16 {
        for n in 1..=3u16 {
            let id = ids[usize::from(n - 1)];
            let got = h.datagram(n, publish(QoS::AtLeastOnce, id, round + 10, 8));
            if is_congestion(&got) {
                refused += 1;
            } else {
                assert!(got.is_empty(), "{got:?}");
                accepted_to_broker += 1;
            }
        }
        h.advance(Duration::from_secs(1));
    }
    assert_eq!(accepted_to_broker, 8, "max_pending");
    assert_eq!(refused, 10);
    let got = h.datagram(
        9,
        Connect {
            will: false,
            clean_session: true,
            duration: 60,
            client_id: Bytes::from_static(b"late"),
        },
    );
    assert_eq!(got, [connack(ReturnCode::RejectedCongestion)]);
    // The broker acknowledges everything: PUBACKs reach their owners and
    // the gateway accepts again.
    let packets = h.broker_reads(shared);
    h.sn.clear();
    for p in &packets {
        if let Packet::Publish(p) = p {
            let pid = p.packet_id.to_be_bytes();
            h.broker_says(shared, &[0x40, 2, pid[0], pid[1]]);
        }
    }
    let acks = h
        .sn
        .iter()
        .filter(|(_, m)| matches!(m, Message::PubAck(a) if a.return_code == ReturnCode::Accepted))
        .count();
    assert_eq!(acks, 8);
    let got = h.datagram(1, publish(QoS::AtLeastOnce, ids[0], 99, 8));
    assert!(got.is_empty(), "{got:?}");
    h.connect(9);
}

/// Aggregating mode, the broker stops reading: QoS 0 and QoS -1 publishes
/// are dropped and counted, and the backlog stays bounded.
#[test]
fn aggregating_qos0_and_qos_minus_one_are_dropped_while_the_broker_stops_reading() {
    let mut config = small_config(Mode::Aggregating);
    config.predefined.insert(5, "parking/5".into());
    let mut h = Harness::new(config);
    let shared = h.last.expect("shared connection");
    h.broker_reads(shared);
    h.broker_says(shared, &[0x20, 2, 0, 0]);
    h.connect(1);
    let id = registered(&h.register(1, "data/1"));
    for _ in 0..500 {
        h.datagram(1, publish(QoS::AtMostOnce, id, 0, 100));
        let minus_one = Publish {
            dup: false,
            qos: QoS::MinusOne,
            retain: false,
            topic: Topic::Predefined(5),
            msg_id: 0,
            data: Bytes::from(vec![b'y'; 100]),
        };
        h.datagram(20, minus_one);
    }
    assert!(h.peak < 4 * 1024 + 256, "{}", h.peak);
    assert!(h.gw.stats().dropped_congestion > 900);
    h.broker_reads(shared);
    h.datagram(1, publish(QoS::AtMostOnce, id, 0, 100));
    let packets = h.broker_reads(shared);
    assert!(matches!(&packets[..], [Packet::Publish(_)]), "{packets:?}");
}
