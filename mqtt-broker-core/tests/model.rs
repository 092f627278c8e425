//! Random sequences of connects (clean or persistent, 3.1.1 or 5.0),
//! subscribes, unsubscribes, publishes, acknowledgements, disconnects and
//! lost connections of three clients, checked against a simple model of
//! what a broker must deliver:
//! - a client only gets messages published while its session had a
//!   matching subscription (and, at QoS 0, while it was connected);
//! - at the QoS of the publish, downgraded to its best matching subscription;
//! - a QoS 0 message at most once, a QoS 1 message at most once without DUP;
//! - every QoS 1 message for a session that survives to the end arrives,
//!   once the persistent clients reconnect and acknowledge everything.

mod common;

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use common::{connect, Harness, V4, V5};
use mqtt_broker_core::ConnId;
use mqtt_codec::{
    Ack, Disconnect, Packet, Publish, QoS, Subscribe, Subscription, Unsubscribe, Utf8String,
};
use proptest::prelude::*;

const CLIENTS: usize = 3;
const IDS: [&str; CLIENTS] = ["m0", "m1", "m2"];
const FILTERS: [&str; 3] = ["a", "b", "#"];
const TOPICS: [&str; 2] = ["a", "b"];

#[derive(Debug, Clone)]
enum Op {
    Connect { who: usize, clean: bool, v5: bool },
    Disconnect(usize),
    Lost(usize),
    Subscribe { who: usize, filter: usize, qos: u8 },
    Unsubscribe { who: usize, filter: usize },
    Publish { who: usize, topic: usize, qos: u8 },
    AckAll(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..CLIENTS;
    prop_oneof![
        (who.clone(), any::<bool>(), any::<bool>()).prop_map(|(who, clean, v5)| Op::Connect {
            who,
            clean,
            v5
        }),
        who.clone().prop_map(Op::Disconnect),
        who.clone().prop_map(Op::Lost),
        (who.clone(), 0..FILTERS.len(), 0u8..2).prop_map(|(who, filter, qos)| Op::Subscribe {
            who,
            filter,
            qos
        }),
        (who.clone(), 0..FILTERS.len()).prop_map(|(who, filter)| Op::Unsubscribe { who, filter }),
        (who.clone(), 0..TOPICS.len(), 0u8..2).prop_map(|(who, topic, qos)| Op::Publish {
            who,
            topic,
            qos
        }),
        who.prop_map(Op::AckAll),
    ]
}

/// What the model knows of one client.
#[derive(Default)]
struct Client {
    conn: Option<ConnId>,
    /// The session's subscriptions (filter → QoS), if a session exists.
    session: Option<HashMap<&'static str, QoS>>,
    /// Whether the session outlives the connection.
    persistent: bool,
    /// Message → the QoS it may arrive at.
    allowed: HashMap<u16, QoS>,
    /// QoS 1 messages that must arrive.
    owed: HashSet<u16>,
    /// Deliveries without DUP, per message.
    fresh: HashMap<u16, usize>,
    got: HashSet<u16>,
    unacked: Vec<u16>,
}

struct World {
    h: Harness,
    c: [Client; CLIENTS],
    next_msg: u16,
}

impl Client {
    /// Checks a delivery against the model and records it.
    fn record(&mut self, m: &Publish) -> Result<(), TestCaseError> {
        let id = u16::from_be_bytes([m.payload[0], m.payload[1]]);
        let want = self.allowed.get(&id).copied();
        prop_assert_eq!(Some(m.qos), want, "message {}", id);
        if !m.dup {
            let n = self.fresh.entry(id).or_default();
            *n += 1;
            prop_assert!(*n == 1, "message {} twice without DUP", id);
        }
        self.got.insert(id);
        if m.qos == QoS::AtLeastOnce {
            self.unacked.push(m.packet_id);
        }
        Ok(())
    }
}

impl World {
    fn collect(&mut self) -> Result<(), TestCaseError> {
        for (conn, p) in self.h.recv() {
            let Packet::Publish(m) = p else { continue };
            if let Some(c) = self.c.iter_mut().find(|c| c.conn == Some(conn)) {
                c.record(&m)?;
            }
        }
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Connect { who, clean, v5 } => {
                if self.c[who].conn.is_some() {
                    return Ok(());
                }
                let mut con = connect(if v5 { V5 } else { V4 }, IDS[who], clean);
                if v5 && !clean {
                    con.properties.session_expiry_interval = Some(u32::MAX);
                }
                let (conn, out) = self.h.connect_with(con);
                let c = &mut self.c[who];
                c.conn = Some(conn);
                c.unacked.clear();
                if clean || c.session.is_none() {
                    // A new session: what the old one held is gone.
                    c.session = Some(HashMap::new());
                    c.owed.clear();
                }
                c.persistent = !clean;
                // Redeliveries come with the CONNACK.
                for (_, p) in out {
                    if let Packet::Publish(m) = p {
                        c.record(&m)?;
                    }
                }
            }
            Op::Disconnect(who) | Op::Lost(who) => {
                let Some(conn) = self.c[who].conn.take() else {
                    return Ok(());
                };
                if matches!(op, Op::Lost(_)) {
                    self.h.b.connection_lost(self.h.now, conn);
                } else {
                    self.h.send(conn, Packet::Disconnect(Disconnect::default()));
                }
                let c = &mut self.c[who];
                if !c.persistent {
                    c.session = None;
                    c.owed.clear();
                }
            }
            Op::Subscribe { who, filter, qos } => {
                let Some(conn) = self.c[who].conn else {
                    return Ok(());
                };
                let qos = QoS::from_u8(qos).unwrap_or_default();
                let s = Subscription::new(Utf8String::from_static(FILTERS[filter]), qos);
                // Retained messages are not used here: nothing follows the SUBACK.
                self.h
                    .send(conn, Packet::Subscribe(Subscribe::new(1, vec![s])));
                if let Some(subs) = self.c[who].session.as_mut() {
                    subs.insert(FILTERS[filter], qos);
                }
            }
            Op::Unsubscribe { who, filter } => {
                let Some(conn) = self.c[who].conn else {
                    return Ok(());
                };
                let f = vec![Utf8String::from_static(FILTERS[filter])];
                self.h
                    .send(conn, Packet::Unsubscribe(Unsubscribe::new(2, f)));
                if let Some(subs) = self.c[who].session.as_mut() {
                    subs.remove(FILTERS[filter]);
                }
            }
            Op::Publish { who, topic, qos } => {
                let Some(conn) = self.c[who].conn else {
                    return Ok(());
                };
                let id = self.next_msg;
                self.next_msg += 1;
                let qos = QoS::from_u8(qos).unwrap_or_default();
                let t = TOPICS[topic];
                for c in &mut self.c {
                    let Some(subs) = &c.session else { continue };
                    let best = subs
                        .iter()
                        .filter(|(f, _)| **f == "#" || **f == t)
                        .map(|(_, q)| *q)
                        .max();
                    let Some(best) = best else { continue };
                    let eff = qos.min(best);
                    if eff == QoS::AtMostOnce && c.conn.is_none() {
                        continue;
                    }
                    c.allowed.insert(id, eff);
                    if eff == QoS::AtLeastOnce {
                        c.owed.insert(id);
                    }
                }
                let p = Publish::new(
                    Utf8String::from_static(t),
                    Bytes::copy_from_slice(&id.to_be_bytes()),
                )
                .with_qos(qos, if qos == QoS::AtMostOnce { 0 } else { id + 1 });
                self.h.send(conn, p);
            }
            Op::AckAll(who) => {
                if let Some(conn) = self.c[who].conn {
                    for pid in std::mem::take(&mut self.c[who].unacked) {
                        self.h.send(conn, Packet::PubAck(Ack::new(pid)));
                    }
                }
            }
        }
        self.collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn deliveries_match_the_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut w = World {
            h: Harness::new(),
            c: Default::default(),
            next_msg: 0,
        };
        for op in &ops {
            w.apply(op)?;
        }
        // Every persistent client comes back and acknowledges until idle.
        for who in 0..CLIENTS {
            if w.c[who].conn.is_none() && w.c[who].session.is_some() {
                w.apply(&Op::Connect { who, clean: false, v5: who % 2 == 0 })?;
            }
        }
        // Bounded: each round acknowledges what is in flight; the queues are finite.
        for _ in 0..200 {
            if w.c.iter().all(|c| c.unacked.is_empty()) {
                break;
            }
            for who in 0..CLIENTS {
                w.apply(&Op::AckAll(who))?;
            }
        }
        for (i, c) in w.c.iter().enumerate() {
            let missing: Vec<&u16> = c.owed.iter().filter(|id| !c.got.contains(id)).collect();
            prop_assert!(missing.is_empty(), "client {} never got {:?}", i, missing);
        }
    }
}
