//! Every QoS 1 and QoS 2 flow broken at every step, in virtual time.
//!
//! The matrix is generated: MQTT 3.1, 3.1.1 and 5.0 × client→broker
//! (a persistent publisher) and broker→subscriber (a persistent
//! subscriber; in 5.0 also through a shared subscription) × QoS 1 and 2 × each break point of the flow (before the
//! PUBLISH, each packet lost in flight, after the last one) × the way the
//! connection breaks (the TCP connection is lost, or the client takes its
//! session over from a new connection while the old one still looks alive).
//! After the reconnect (Clean Session 0 in 3.x, Clean Start 0 with a Session
//! Expiry Interval in 5.0) each cell checks: nothing is lost, PUBLISH is
//! resent with DUP and its identifier where the specification asks for it
//! (MQTT 3.1.1 §4.4, MQTT 5.0 §4.4), PUBREL is resent for released QoS 2
//! messages, the application sees a QoS 2 message exactly once, the flow
//! ends with every state released, and a next message (reusing the packet
//! identifier for client→broker) still flows. Every failing cell is named.
#![allow(clippy::disallowed_methods)] // the test is the clock

mod sim;

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use mqtt_broker_core::Config;
use mqtt_codec::{
    Packet, ProtocolVersion, Publish, QoS, ReasonCode, Subscribe, Subscription, Utf8String,
};
use sim::{ClientModel, Net};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// A persistent publisher sends to the broker.
    ClientToBroker,
    /// The broker delivers to a persistent subscriber.
    BrokerToSubscriber,
    /// The same through a shared subscription `$share/g/t` (5.0 only), the
    /// group's one member.
    BrokerToSharedSubscriber,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The break comes before the PUBLISH is sent (for the subscriber: the
    /// message is published while it is away).
    BeforePublish,
    /// Packet `k` of the flow is lost in flight (everything before it
    /// arrived), then the connection breaks.
    Lost(usize),
    /// The whole flow completed, then the connection breaks.
    AfterLast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    /// The TCP connection is lost; the client reconnects later.
    ConnectionLost,
    /// The client reconnects while the broker still holds the old
    /// connection (a half-open one): a takeover.
    Takeover,
}

#[derive(Debug, Clone, Copy)]
struct Cell {
    version: ProtocolVersion,
    dir: Dir,
    qos: QoS,
    stop: Stop,
    brk: Break,
}

fn flow(qos: QoS) -> &'static [&'static str] {
    match qos {
        QoS::AtLeastOnce => &["PUBLISH", "PUBACK"],
        _ => &["PUBLISH", "PUBREC", "PUBREL", "PUBCOMP"],
    }
}

impl Cell {
    fn name(&self) -> String {
        let v = match self.version {
            ProtocolVersion::V3_1 => "v3.1",
            ProtocolVersion::V3_1_1 => "v3.1.1",
            _ => "v5",
        };
        let d = match self.dir {
            Dir::ClientToBroker => "client->broker",
            Dir::BrokerToSubscriber => "broker->subscriber",
            Dir::BrokerToSharedSubscriber => "broker->$share subscriber",
        };
        let steps = flow(self.qos);
        let s = match self.stop {
            Stop::BeforePublish => "before PUBLISH".to_owned(),
            Stop::Lost(k) => format!("{} lost in flight", steps[k]),
            Stop::AfterLast => format!("after {}", steps[steps.len() - 1]),
        };
        let b = match self.brk {
            Break::ConnectionLost => "connection lost",
            Break::Takeover => "takeover",
        };
        format!("{v} {d} QoS {} | {s} | {b}", self.qos.as_u8())
    }
}

fn matrix() -> Vec<Cell> {
    let mut cells = Vec::new();
    for version in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        let dirs: &[Dir] = if version.is_v5() {
            &[
                Dir::ClientToBroker,
                Dir::BrokerToSubscriber,
                Dir::BrokerToSharedSubscriber,
            ]
        } else {
            &[Dir::ClientToBroker, Dir::BrokerToSubscriber]
        };
        for &dir in dirs {
            for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let n = flow(qos).len();
                let stops = std::iter::once(Stop::BeforePublish)
                    .chain((0..n).map(Stop::Lost))
                    .chain([Stop::AfterLast]);
                for stop in stops {
                    for brk in [Break::ConnectionLost, Break::Takeover] {
                        cells.push(Cell {
                            version,
                            dir,
                            qos,
                            stop,
                            brk,
                        });
                    }
                }
            }
        }
    }
    cells
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn message(payload: &'static [u8], qos: QoS) -> Publish {
    Publish::new(Utf8String::from_static("t"), Bytes::from_static(payload)).with_qos(qos, 0)
}

fn subscribe(net: &mut Net, c: &mut ClientModel, qos: QoS) {
    subscribe_to(net, c, "t", qos);
}

fn subscribe_to(net: &mut Net, c: &mut ClientModel, filter: &'static str, qos: QoS) {
    let s = Subscription::new(Utf8String::from_static(filter), qos);
    let conn = c.conn.expect("connected");
    net.send(conn, Packet::Subscribe(Subscribe::new(1, vec![s])));
    c.settle(net);
}

/// Breaks `c`'s connection the way the cell says, reconnects with the
/// session kept and returns what the client resends. Checks the old
/// connection was closed (0x8E on a 5.0 takeover).
fn break_and_reconnect(
    net: &mut Net,
    c: &mut ClientModel,
    brk: Break,
) -> Result<Vec<Packet>, String> {
    let old = c.conn.take().expect("connected");
    match brk {
        Break::ConnectionLost => net.lose(old),
        // The client gives up on the old connection (and what is on its way).
        Break::Takeover => net.discard(old),
    }
    let (present, resend) = c.connect(net, false, true);
    ensure!(present, "the reconnect did not find the session");
    if brk == Break::Takeover {
        ensure!(
            net.closed.get(&old) == Some(&ReasonCode::SESSION_TAKEN_OVER),
            "old connection not closed with 0x8E: {:?}",
            net.closed.get(&old)
        );
        let leftovers = net.take(old);
        if c.version.is_v5() {
            ensure!(
                matches!(leftovers.last(), Some(Packet::Disconnect(d)) if d.reason_code == ReasonCode::SESSION_TAKEN_OVER),
                "no DISCONNECT 0x8E on the old 5.0 connection: {leftovers:?}"
            );
        }
    }
    Ok(resend)
}

fn run(cell: Cell) -> Result<(), String> {
    match cell.dir {
        Dir::ClientToBroker => client_to_broker(cell),
        Dir::BrokerToSubscriber | Dir::BrokerToSharedSubscriber => broker_to_subscriber(cell),
    }
}

fn client_to_broker(cell: Cell) -> Result<(), String> {
    let mut net = Net::new(Config::default());
    let mut watch = ClientModel::new("watch", ProtocolVersion::V5);
    watch.connect(&mut net, true, false);
    subscribe(&mut net, &mut watch, QoS::ExactlyOnce);
    let mut p = ClientModel::new("pub", cell.version);
    p.connect(&mut net, true, true);
    let n = flow(cell.qos).len();

    let mut first_pid = 0;
    if cell.stop == Stop::BeforePublish {
        let resend = break_and_reconnect(&mut net, &mut p, cell.brk)?;
        ensure!(
            resend.is_empty(),
            "client had nothing to resend: {resend:?}"
        );
    }
    // Packet k of the flow: even ones go client -> broker, odd ones back.
    let mut in_transit = p.publish(message(b"m1", cell.qos));
    if let Some(Packet::Publish(x)) = in_transit.first() {
        first_pid = x.packet_id;
    }
    let conn = p.conn.expect("connected");
    for k in 0..n {
        if cell.stop == Stop::Lost(k) {
            if k % 2 == 0 {
                in_transit.clear();
            } else {
                net.discard(conn);
            }
            break;
        }
        if k % 2 == 0 {
            ensure!(
                in_transit.len() == 1,
                "step {k}: client sends {in_transit:?}"
            );
            for x in in_transit.drain(..) {
                net.send(conn, x);
            }
            watch.settle(&mut net);
        } else {
            let got = net.next(conn);
            ensure!(
                matches!(
                    (&got, flow(cell.qos)[k]),
                    (Some(Packet::PubAck(_)), "PUBACK")
                        | (Some(Packet::PubRec(_)), "PUBREC")
                        | (Some(Packet::PubComp(_)), "PUBCOMP")
                ),
                "step {k}: expected {} from the broker, got {got:?}",
                flow(cell.qos)[k]
            );
            in_transit = p.on_packet(got.expect("checked"));
        }
    }
    if cell.stop != Stop::BeforePublish {
        let resend = break_and_reconnect(&mut net, &mut p, cell.brk)?;
        // What a client must resend (MQTT 5.0 §4.4).
        let want = match cell.stop {
            Stop::Lost(0 | 1) => Some("PUBLISH"),
            Stop::Lost(_) => Some("PUBREL"),
            _ => None,
        };
        match (want, resend.as_slice()) {
            (None, []) => {}
            (Some("PUBLISH"), [Packet::Publish(x)]) if x.dup && x.packet_id == first_pid => {}
            (Some("PUBREL"), [Packet::PubRel(a)]) if a.packet_id == first_pid => {}
            _ => {
                return Err(format!(
                    "client resends {}, wanted {want:?}",
                    sim::brief(&resend)
                ))
            }
        }
        p.send_all(&mut net, resend);
    }
    p.settle(&mut net);
    watch.settle(&mut net);

    let got = watch.app_payloads();
    let copies = got.iter().filter(|x| x.as_slice() == b"m1").count();
    match cell.qos {
        QoS::ExactlyOnce => ensure!(copies == 1, "QoS 2 delivered {copies} times: {got:?}"),
        _ => ensure!(copies >= 1, "QoS 1 message lost"),
    }
    ensure!(
        p.session.is_idle(),
        "publisher's flow did not end: {:?}",
        p.session
    );
    ensure!(p.oddities.is_empty(), "publisher saw {:?}", p.oddities);
    ensure!(
        watch.oddities.is_empty(),
        "subscriber saw {:?}",
        watch.oddities
    );

    // A next message with the same packet identifier is a new message.
    let mut next = message(b"m2", cell.qos);
    next.packet_id = first_pid;
    let out = p.publish(next);
    p.send_all(&mut net, out);
    p.settle(&mut net);
    watch.settle(&mut net);
    let got = watch.app_payloads();
    let copies = got.iter().filter(|x| x.as_slice() == b"m2").count();
    ensure!(
        copies == 1,
        "next message with id {first_pid} delivered {copies} times: {got:?}"
    );
    ensure!(p.session.is_idle(), "publisher's next flow did not end");
    ensure!(
        net.b.stats().protocol_errors == 0,
        "protocol errors counted"
    );
    Ok(())
}

fn broker_to_subscriber(cell: Cell) -> Result<(), String> {
    let mut net = Net::new(Config::default());
    let mut s = ClientModel::new("sub", cell.version);
    s.connect(&mut net, true, true);
    let filter = if cell.dir == Dir::BrokerToSharedSubscriber {
        "$share/g/t"
    } else {
        "t"
    };
    subscribe_to(&mut net, &mut s, filter, cell.qos);
    let mut p = ClientModel::new("pub", ProtocolVersion::V5);
    p.connect(&mut net, true, false);
    let n = flow(cell.qos).len();

    let publish = |net: &mut Net, p: &mut ClientModel, payload: &'static [u8]| {
        let out = p.publish(message(payload, cell.qos));
        p.send_all(net, out);
        p.settle(net);
    };
    let mut wire_pid = None;
    if cell.stop == Stop::BeforePublish {
        match cell.brk {
            Break::ConnectionLost => {
                // Away when the message is published: it waits in the session.
                let old = s.conn.take().expect("connected");
                net.lose(old);
                publish(&mut net, &mut p, b"m1");
                let (present, resend) = s.connect(&mut net, false, true);
                ensure!(present, "the reconnect did not find the session");
                ensure!(resend.is_empty(), "subscriber resends {resend:?}");
            }
            Break::Takeover => {
                let resend = break_and_reconnect(&mut net, &mut s, cell.brk)?;
                ensure!(resend.is_empty(), "subscriber resends {resend:?}");
                publish(&mut net, &mut p, b"m1");
            }
        }
    } else {
        publish(&mut net, &mut p, b"m1");
        let conn = s.conn.expect("connected");
        let mut answers = Vec::new();
        if let Some(Packet::Publish(x)) = net.peek(conn) {
            wire_pid = Some(x.packet_id);
        }
        // Packet k of the flow: even ones go broker -> subscriber, odd ones back.
        for k in 0..n {
            if cell.stop == Stop::Lost(k) {
                if k % 2 == 0 {
                    net.discard(conn);
                } else {
                    answers.clear();
                }
                break;
            }
            if k % 2 == 0 {
                let got = net.next(conn);
                let expected = match (&got, flow(cell.qos)[k]) {
                    (Some(Packet::Publish(x)), "PUBLISH") => !x.dup,
                    (Some(Packet::PubRel(_)), "PUBREL") => true,
                    _ => false,
                };
                ensure!(
                    expected,
                    "step {k}: expected {} (DUP 0) from the broker, got {got:?}",
                    flow(cell.qos)[k]
                );
                answers = s.on_packet(got.expect("checked"));
            } else {
                ensure!(
                    answers.len() == 1,
                    "step {k}: subscriber answers {answers:?}"
                );
                for a in answers.drain(..) {
                    net.send(conn, a);
                }
            }
        }
        let resend = break_and_reconnect(&mut net, &mut s, cell.brk)?;
        ensure!(resend.is_empty(), "subscriber resends {resend:?}");
    }
    // What the broker resends at once (MQTT 5.0 §4.4).
    let conn = s.conn.expect("connected");
    let first = net.take(conn);
    let want = match cell.stop {
        Stop::BeforePublish => Some("PUBLISH, DUP 0"),
        Stop::Lost(0 | 1) => Some("PUBLISH, DUP 1"),
        Stop::Lost(_) => Some("PUBREL"),
        Stop::AfterLast => None,
    };
    let pid = wire_pid;
    let ok = match (want, first.as_slice()) {
        (None, []) => true,
        (Some("PUBLISH, DUP 0"), [Packet::Publish(x)]) => !x.dup && &x.payload[..] == b"m1",
        (Some("PUBLISH, DUP 1"), [Packet::Publish(x)]) => {
            x.dup && Some(x.packet_id) == pid && &x.payload[..] == b"m1"
        }
        (Some("PUBREL"), [Packet::PubRel(a)]) => Some(a.packet_id) == pid,
        _ => false,
    };
    ensure!(
        ok,
        "broker resends {}, wanted {want:?} (first id {pid:?})",
        sim::brief(&first)
    );
    for x in first {
        let answers = s.on_packet(x);
        s.send_all(&mut net, answers);
    }
    s.settle(&mut net);

    let got = s.app_payloads();
    let copies = got.iter().filter(|x| x.as_slice() == b"m1").count();
    match cell.qos {
        QoS::ExactlyOnce => ensure!(copies == 1, "QoS 2 delivered {copies} times: {got:?}"),
        _ => ensure!(copies >= 1, "QoS 1 message lost"),
    }
    for g in s.got.iter().skip(1) {
        ensure!(g.publish.dup, "a redelivery without DUP: {:?}", g.publish);
    }
    ensure!(
        s.session.is_idle(),
        "subscriber's state not released: {:?}",
        s.session
    );
    ensure!(s.oddities.is_empty(), "subscriber saw {:?}", s.oddities);

    // The session still works: the next message flows once, nothing is left.
    publish(&mut net, &mut p, b"m2");
    s.settle(&mut net);
    let got = s.app_payloads();
    let copies = got.iter().filter(|x| x.as_slice() == b"m2").count();
    ensure!(
        copies == 1,
        "next message delivered {copies} times: {got:?}"
    );
    ensure!(net.take(conn).is_empty(), "broker still sends");
    ensure!(
        net.b.stats().protocol_errors == 0,
        "protocol errors counted"
    );
    Ok(())
}

#[test]
fn every_qos_flow_survives_a_break_at_every_step() {
    let cells = matrix();
    let mut failures = Vec::new();
    for cell in &cells {
        let result = catch_unwind(AssertUnwindSafe(|| run(*cell)));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failures.push(format!("{}: {why}", cell.name())),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{}: panicked: {why}", cell.name()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cells failed:\n{}",
        failures.len(),
        cells.len(),
        failures.join("\n")
    );
    // (3 versions x 2 directions + 5.0 shared) x (4 + 6 break points of
    // QoS 1 and 2) x 2 ways to break.
    assert_eq!(cells.len(), (3 * 2 + 1) * (4 + 6) * 2);
}

/// A 5.0 subscriber with five QoS 1 messages in flight reconnects with a
/// Receive Maximum of 2: the broker resends at most two before PUBACKs come
/// (MQTT 5.0 §4.9), then one more per PUBACK, with DUP and the same
/// identifiers, nothing lost. (It resent all five at once before.)
#[test]
fn resend_after_reconnect_respects_a_lower_receive_maximum() {
    let mut net = Net::new(Config::default());
    let mut s = ClientModel::new("sub", ProtocolVersion::V5);
    s.connect(&mut net, true, true);
    subscribe(&mut net, &mut s, QoS::AtLeastOnce);
    let mut p = ClientModel::new("pub", ProtocolVersion::V5);
    p.connect(&mut net, true, false);
    for payload in [b"m1", b"m2", b"m3", b"m4", b"m5"] {
        let out = p.publish(message(payload, QoS::AtLeastOnce));
        p.send_all(&mut net, out);
        p.settle(&mut net);
    }
    let old = s.conn.take().expect("connected");
    let first_ids: Vec<u16> = net
        .take(old)
        .iter()
        .filter_map(|x| match x {
            Packet::Publish(x) => Some(x.packet_id),
            _ => None,
        })
        .collect();
    assert_eq!(first_ids.len(), 5, "five in flight");
    net.lose(old);

    s.receive_maximum = Some(2);
    let (present, _) = s.connect(&mut net, false, true);
    assert!(present);
    let c = s.conn.expect("connected");
    let mut resent: Vec<Publish> = Vec::new();
    let mut outstanding: Vec<u16> = Vec::new();
    // Bounded: one PUBACK per turn, five messages.
    for _ in 0..10 {
        for x in net.take(c) {
            let Packet::Publish(x) = x else {
                panic!("unexpected {x:?}")
            };
            outstanding.push(x.packet_id);
            resent.push(x);
        }
        assert!(
            outstanding.len() <= 2,
            "{} unacknowledged",
            outstanding.len()
        );
        if outstanding.is_empty() {
            break;
        }
        let id = outstanding.remove(0);
        net.send(c, Packet::PubAck(mqtt_codec::Ack::new(id)));
    }
    let ids: Vec<u16> = resent.iter().map(|x| x.packet_id).collect();
    assert_eq!(ids, first_ids, "resent in order with the same identifiers");
    assert!(resent.iter().all(|x| x.dup), "resent without DUP");
    assert!(net.violations.is_empty(), "{:?}", net.violations);
}
