//! Property test: random sequences of connects (clean or persistent, and
//! takeovers), subscribes (with No Local for 5.0 clients) and unsubscribes
//! with wildcards, publishes at
//! QoS 0, 1 and 2 (retained or not, and retained deletes), wills, normal
//! and abrupt disconnects, and clients that read their socket only now and then,
//! across three clients of random protocol versions; checked against a
//! simple reference model of sessions and the retained store:
//!
//! - every QoS 1/2 message owed to a session (a matching subscription when
//!   it was published, or a retained message when it subscribed) is
//!   received, unless that session was discarded before;
//! - nothing is received that was not owed or allowed, at the QoS the model
//!   computes (the highest matching subscription, capped by the message);
//! - a QoS 2 message reaches the application at most once;
//! - QoS 1/2 messages of one publisher on one topic first arrive in the
//!   order they were published (MQTT 5.0 §4.6);
//! - Session Present matches the model at every CONNECT, with 5.0 sessions
//!   expiring after their Session Expiry Interval in virtual time;
//! - no 5.0 client ever has more unacknowledged QoS 1/2 PUBLISHes than
//!   its (random, small) Receive Maximum, across reconnects too;
//! - at the end, the retained store holds exactly the model's messages.
//!
//! Clients are `sim::ClientModel`s: they resend and release as a real
//! client does. The existing unit property test covers one QoS 1
//! subscriber; this one adds QoS 2, retained messages, wildcards, several
//! clients and sessions across disconnects and takeovers.
#![allow(clippy::disallowed_methods)] // the test is the clock

mod sim;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use mqtt_broker_core::Config;
use mqtt_codec::{
    Disconnect, LastWill, Packet, ProtocolVersion, Publish, QoS, Subscribe, Subscription,
    Unsubscribe, Utf8String,
};
use proptest::prelude::*;
use sim::{ClientModel, Net};

const TOPICS: [&str; 4] = ["a", "a/b", "a/c", "b/b"];
const FILTERS: [&str; 7] = ["a", "a/+", "a/#", "#", "+/b", "b/b", "w/+"];
/// Will topics: `w/<client>`.
const WILL_TOPICS: [&str; CLIENTS] = ["w/0", "w/1", "w/2"];
const CLIENTS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Connect {
        c: usize,
        clean_start: bool,
        persistent: bool,
        /// Receive Maximum of a 5.0 client (it may change between connections).
        receive_maximum: Option<u16>,
        /// A will at this QoS on `w/<client>` (no delay).
        will: Option<u8>,
    },
    Disconnect {
        c: usize,
        abrupt: bool,
    },
    Subscribe {
        c: usize,
        filter: usize,
        qos: u8,
        /// No Local (5.0 clients only).
        no_local: bool,
    },
    Unsubscribe {
        c: usize,
        filter: usize,
    },
    Publish {
        c: usize,
        topic: usize,
        qos: u8,
        retain: bool,
        delete: bool,
    },
    /// The client reads what the broker sent and answers.
    Read {
        c: usize,
    },
    /// Time passes: offline 5.0 sessions expire after their interval.
    Advance {
        secs: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CLIENTS;
    prop_oneof![
        2 => (c.clone(), any::<bool>(), any::<bool>(), proptest::option::of(1u16..4), proptest::option::of(0u8..3)).prop_map(
            |(c, clean_start, persistent, receive_maximum, will)| Op::Connect { c, clean_start, persistent, receive_maximum, will }
        ),
        1 => (c.clone(), any::<bool>()).prop_map(|(c, abrupt)| Op::Disconnect { c, abrupt }),
        2 => (c.clone(), 0..FILTERS.len(), 0u8..3, proptest::bool::weighted(0.25))
            .prop_map(|(c, filter, qos, no_local)| Op::Subscribe { c, filter, qos, no_local }),
        1 => (c.clone(), 0..FILTERS.len()).prop_map(|(c, filter)| Op::Unsubscribe { c, filter }),
        4 => (c.clone(), 0..TOPICS.len(), 0u8..3, any::<bool>(), proptest::bool::weighted(0.15))
            .prop_map(|(c, topic, qos, retain, delete)| Op::Publish { c, topic, qos, retain, delete }),
        3 => c.prop_map(|c| Op::Read { c }),
        1 => (1u64..40).prop_map(|secs| Op::Advance { secs }),
    ]
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![
        Just(ProtocolVersion::V3_1),
        Just(ProtocolVersion::V3_1_1),
        Just(ProtocolVersion::V5),
    ]
}

fn qos(n: u8) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// An independent topic matcher for the model (MQTT 5.0 §4.7).
fn matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The highest QoS of `s`'s subscriptions matching `topic`; those with No
/// Local do not count for the client's own messages.
fn best_qos(s: &MSession, topic: &str, own: bool) -> Option<QoS> {
    s.subs
        .iter()
        .filter(|(f, (_, no_local))| matches(f, topic) && !(own && *no_local))
        .map(|(_, (q, _))| *q)
        .max()
}

/// A message as the model knows it: its number, and whether the copy came
/// from the retained store (retain flag set) or was forwarded live.
type Key = (u32, bool);

#[derive(Debug, Default)]
struct MSession {
    /// Filter → (QoS, No Local).
    subs: BTreeMap<String, (QoS, bool)>,
    persistent: bool,
}

#[derive(Debug, Default)]
struct MClient {
    online: bool,
    session: Option<MSession>,
    /// The last connection asked for no session after it: the client drops
    /// its own state before connecting again.
    last_was_clean: bool,
    /// QoS 1/2 copies that must arrive.
    owed: BTreeSet<Key>,
    /// Copies that may arrive, with the QoS they may arrive at.
    allowed: BTreeMap<Key, BTreeSet<QoS>>,
    /// When the connection ended (model seconds), for session expiry.
    offline_since: u64,
    /// The will of the current connection: message number and QoS.
    will: Option<(u32, QoS)>,
}

#[derive(Debug, Default)]
struct Model {
    clients: Vec<MClient>,
    retained: BTreeMap<&'static str, (u32, QoS)>,
    /// Topic of each message number.
    topic_of: BTreeMap<u32, String>,
    /// Publisher of each message number (for the ordering rule).
    publisher_of: BTreeMap<u32, usize>,
    /// QoS 1 messages forwarded a second time (a publisher's DUP resend):
    /// their copies may come in any order.
    rerouted: BTreeSet<u32>,
    /// Seconds since the start.
    now: u64,
}

impl Model {
    /// The session of `c` ends: what it was owed is no longer owed.
    fn end_session(&mut self, c: usize) {
        let m = &mut self.clients[c];
        m.session = None;
        m.owed.clear();
    }

    /// A message reached the broker from a client (first transmission).
    fn route(
        &mut self,
        from: usize,
        id: u32,
        topic: &str,
        q: QoS,
        retain: bool,
        payload_empty: bool,
    ) {
        if retain {
            let t = TOPICS.iter().find(|t| **t == topic).expect("known topic");
            if payload_empty {
                self.retained.remove(t);
            } else {
                self.retained.insert(t, (id, q));
            }
        }
        if payload_empty {
            // A retained delete is forwarded too, but owes nothing.
            return;
        }
        self.topic_of.insert(id, topic.to_owned());
        self.publisher_of.insert(id, from);
        for (i, m) in self.clients.iter_mut().enumerate() {
            let Some(s) = &m.session else { continue };
            let best = best_qos(s, topic, i == from);
            let Some(best) = best else { continue };
            let eff = q.min(best);
            m.allowed.entry((id, false)).or_default().insert(eff);
            if eff != QoS::AtMostOnce {
                m.owed.insert((id, false));
            }
        }
    }

    /// A QoS 1 message resent with DUP is forwarded again: allowed (not
    /// owed) to whoever matches now.
    fn reroute(
        &mut self,
        from: usize,
        id: u32,
        topic: &str,
        q: QoS,
        retain: bool,
        payload_empty: bool,
    ) {
        self.rerouted.insert(id);
        if retain {
            let t = TOPICS.iter().find(|t| **t == topic).expect("known topic");
            if payload_empty {
                self.retained.remove(t);
            } else {
                self.retained.insert(t, (id, q));
            }
        }
        for (i, m) in self.clients.iter_mut().enumerate() {
            let Some(s) = &m.session else { continue };
            if let Some(best) = best_qos(s, topic, i == from) {
                m.allowed
                    .entry((id, false))
                    .or_default()
                    .insert(q.min(best));
            }
        }
    }
}

struct World {
    net: Net,
    clients: Vec<ClientModel>,
    model: Model,
    next_msg: u32,
}

fn payload_id(p: &Publish) -> Option<u32> {
    (p.payload.len() == 4)
        .then(|| u32::from_be_bytes([p.payload[0], p.payload[1], p.payload[2], p.payload[3]]))
}

impl World {
    fn new(versions: &[(ProtocolVersion, Option<u16>)]) -> Self {
        let mut config = Config::default();
        config.sys_interval_secs = 0;
        let clients = versions
            .iter()
            .enumerate()
            .map(|(i, (v, rm))| {
                let mut c = ClientModel::new(&format!("c{i}"), *v);
                c.receive_maximum = *rm;
                c
            })
            .collect();
        let mut model = Model::default();
        model.clients.resize_with(versions.len(), MClient::default);
        Self {
            net: Net::new(config),
            clients,
            model,
            next_msg: 1,
        }
    }

    /// The connection of `c` ended without DISCONNECT: its will, if any,
    /// is published now, as if `c` had sent it.
    fn will_goes_out(&mut self, c: usize) {
        if let Some((id, q)) = self.model.clients[c].will.take() {
            self.model.route(c, id, WILL_TOPICS[c], q, false, false);
        }
    }

    /// Client `c` writes `packets` to the broker; PUBLISHes update the model
    /// as the broker receives them.
    fn client_sends(&mut self, c: usize, packets: Vec<Packet>) {
        let conn = self.clients[c].conn.expect("online");
        for p in packets {
            if let Packet::Publish(x) = &p {
                let empty = x.payload.is_empty();
                // Deletes carry no number: the topic says what they delete.
                let id = payload_id(x).unwrap_or(0);
                if !x.dup {
                    self.model.route(c, id, &x.topic, x.qos, x.retain, empty);
                } else if x.qos == QoS::AtLeastOnce {
                    self.model.reroute(c, id, &x.topic, x.qos, x.retain, empty);
                }
            }
            self.net.send(conn, p);
        }
    }

    fn read(&mut self, c: usize) {
        let Some(conn) = self.clients[c].conn else {
            return;
        };
        // Bounded: the broker answers a finite conversation.
        for _ in 0..10_000 {
            let Some(p) = self.net.next(conn) else { return };
            let answers = self.clients[c].on_packet(p);
            self.client_sends(c, answers);
        }
        panic!("c{c}: endless conversation");
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Connect {
                c,
                clean_start,
                persistent,
                receive_maximum,
                will,
            } => {
                self.clients[c].receive_maximum = receive_maximum;
                let v = self.clients[c].version;
                let clean = if v.is_v5() { clean_start } else { !persistent };
                if let Some(old) = self.clients[c].conn.take() {
                    // A takeover: the old connection is closed by the broker,
                    // its will published (MQTT 5.0 §3.1.4).
                    self.net.discard(old);
                    self.will_goes_out(c);
                    self.model.clients[c].online = false;
                    self.model.clients[c].offline_since = self.model.now;
                    if !self.model.clients[c]
                        .session
                        .as_ref()
                        .is_some_and(|s| s.persistent)
                    {
                        self.model.end_session(c);
                    }
                }
                if self.model.clients[c].last_was_clean {
                    self.clients[c].session.clear();
                }
                if clean {
                    self.model.end_session(c);
                }
                let expect_present = self.model.clients[c].session.is_some();
                self.clients[c].will = will.map(|q| {
                    let id = self.next_msg;
                    self.next_msg += 1;
                    self.model.clients[c].will = Some((id, qos(q)));
                    LastWill {
                        topic: Utf8String::from_static(WILL_TOPICS[c]),
                        payload: Bytes::copy_from_slice(&id.to_be_bytes()),
                        qos: qos(q),
                        retain: false,
                        properties: mqtt_codec::Props::default(),
                    }
                });
                let (present, resend) =
                    self.clients[c].connect(&mut self.net, clean_start, persistent);
                if v != ProtocolVersion::V3_1 {
                    prop_assert_eq!(present, expect_present, "c{}: Session Present", c);
                }
                let m = &mut self.model.clients[c];
                m.online = true;
                m.last_was_clean = !persistent;
                m.session.get_or_insert_with(MSession::default).persistent = persistent;
                self.client_sends(c, resend);
            }
            Op::Disconnect { c, abrupt } => {
                let Some(conn) = self.clients[c].conn.take() else {
                    return Ok(());
                };
                if abrupt {
                    self.net.lose(conn);
                    self.will_goes_out(c);
                } else {
                    self.net
                        .send(conn, Packet::Disconnect(Disconnect::default()));
                    self.net.discard(conn);
                    // No will after a normal DISCONNECT.
                    self.model.clients[c].will = None;
                }
                self.model.clients[c].online = false;
                self.model.clients[c].offline_since = self.model.now;
                if !self.model.clients[c]
                    .session
                    .as_ref()
                    .is_some_and(|s| s.persistent)
                {
                    self.model.end_session(c);
                }
            }
            Op::Advance { secs } => {
                self.net.advance(std::time::Duration::from_secs(secs));
                self.model.now += secs;
                for c in 0..CLIENTS {
                    let m = &self.model.clients[c];
                    // 3.x sessions never expire; 5.0 ones after SESSION_EXPIRY offline.
                    let expires = self.clients[c].version.is_v5()
                        && !m.online
                        && m.session.is_some()
                        && self.model.now - m.offline_since >= u64::from(sim::SESSION_EXPIRY);
                    if expires {
                        self.model.end_session(c);
                    }
                }
            }
            Op::Subscribe {
                c,
                filter,
                qos: q,
                no_local,
            } => {
                let Some(conn) = self.clients[c].conn else {
                    return Ok(());
                };
                let f = FILTERS[filter];
                let q = qos(q);
                let no_local = no_local && self.clients[c].version.is_v5();
                let mut s = Subscription::new(Utf8String::from_static(f), q);
                s.options.no_local = no_local;
                self.net
                    .send(conn, Packet::Subscribe(Subscribe::new(1, vec![s])));
                let m = &mut self.model.clients[c];
                m.session
                    .get_or_insert_with(MSession::default)
                    .subs
                    .insert(f.to_owned(), (q, no_local));
                // Retain Handling 0: the matching retained messages follow.
                for (t, (id, rq)) in &self.model.retained {
                    if matches(f, t) {
                        let eff = (*rq).min(q);
                        m.allowed.entry((*id, true)).or_default().insert(eff);
                        if eff != QoS::AtMostOnce {
                            m.owed.insert((*id, true));
                        }
                    }
                }
            }
            Op::Unsubscribe { c, filter } => {
                let Some(conn) = self.clients[c].conn else {
                    return Ok(());
                };
                let f = FILTERS[filter];
                let u = Unsubscribe::new(1, vec![Utf8String::from_static(f)]);
                self.net.send(conn, Packet::Unsubscribe(u));
                if let Some(s) = &mut self.model.clients[c].session {
                    s.subs.remove(f);
                }
            }
            Op::Publish {
                c,
                topic,
                qos: q,
                retain,
                delete,
            } => {
                if self.clients[c].conn.is_none() {
                    return Ok(());
                }
                let payload = if retain && delete {
                    Bytes::new()
                } else {
                    let id = self.next_msg;
                    self.next_msg += 1;
                    Bytes::copy_from_slice(&id.to_be_bytes())
                };
                let p = Publish::new(Utf8String::from_static(TOPICS[topic]), payload)
                    .with_qos(qos(q), 0)
                    .with_retain(retain);
                let out = self.clients[c].publish(p);
                self.client_sends(c, out);
            }
            Op::Read { c } => self.read(c),
        }
        Ok(())
    }

    /// Everyone with a session comes back and reads until all is quiet.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        for c in 0..CLIENTS {
            let keeps = self.model.clients[c]
                .session
                .as_ref()
                .is_some_and(|s| s.persistent);
            if self.clients[c].conn.is_none() && keeps {
                let receive_maximum = self.clients[c].receive_maximum;
                self.apply(&Op::Connect {
                    c,
                    clean_start: false,
                    persistent: true,
                    receive_maximum,
                    will: None,
                })?;
            }
        }
        // Bounded: each round reads every inbox; acknowledgements end flows.
        for _ in 0..50 {
            for c in 0..CLIENTS {
                self.read(c);
            }
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        for c in 0..CLIENTS {
            let m = &self.model.clients[c];
            let client = &self.clients[c];
            prop_assert!(client.oddities.is_empty(), "c{}: {:?}", c, client.oddities);
            let mut app: BTreeMap<Key, usize> = BTreeMap::new();
            for g in &client.got {
                let p = &g.publish;
                let Some(id) = payload_id(p) else {
                    // A retained delete forwarded live: empty, never retained.
                    prop_assert!(
                        p.payload.is_empty() && !p.retain,
                        "c{}: odd payload {:?}",
                        c,
                        p
                    );
                    continue;
                };
                let key = (id, p.retain);
                let allowed = m.allowed.get(&key);
                prop_assert!(
                    allowed.is_some_and(|qs| qs.contains(&p.qos)),
                    "c{}: message {} (retained copy {}) at QoS {} not allowed (allowed {:?})",
                    c,
                    id,
                    p.retain,
                    p.qos.as_u8(),
                    allowed
                );
                prop_assert_eq!(
                    self.model.topic_of.get(&id).map(String::as_str),
                    Some(p.topic.as_str())
                );
                if g.to_app {
                    *app.entry(key).or_default() += 1;
                }
            }
            // Ordered topics (MQTT 5.0 §4.6): QoS 1/2 messages of one
            // publisher on one topic first reach the application in the
            // order they were published (numbers grow with time).
            let mut last: BTreeMap<(usize, &str), u32> = BTreeMap::new();
            let mut seen: BTreeSet<u32> = BTreeSet::new();
            for g in client.got.iter().filter(|g| g.to_app && !g.publish.retain) {
                let Some(id) = payload_id(&g.publish) else {
                    continue;
                };
                let reliable = m
                    .allowed
                    .get(&(id, false))
                    .is_some_and(|qs| qs.iter().all(|q| *q != QoS::AtMostOnce));
                if !seen.insert(id) || !reliable || self.model.rerouted.contains(&id) {
                    continue;
                }
                let from = self.model.publisher_of[&id];
                let prev = last.insert((from, g.publish.topic.as_str()), id);
                prop_assert!(
                    prev.is_none_or(|p| p < id),
                    "c{}: message {} from c{} on {:?} arrived after {:?}",
                    c,
                    id,
                    from,
                    g.publish.topic.as_str(),
                    prev
                );
            }
            for key in &m.owed {
                prop_assert!(
                    app.contains_key(key),
                    "c{}: message {:?} owed but never received",
                    c,
                    key
                );
            }
            for (key, n) in &app {
                let qos2_only = m
                    .allowed
                    .get(key)
                    .is_some_and(|qs| qs.iter().all(|q| *q == QoS::ExactlyOnce));
                if qos2_only && !key.1 {
                    prop_assert_eq!(
                        *n,
                        1,
                        "c{}: QoS 2 message {:?} reached the application {} times",
                        c,
                        key,
                        n
                    );
                }
            }
        }
        prop_assert_eq!(self.net.b.stats().protocol_errors, 0);
        prop_assert!(self.net.violations.is_empty(), "{:?}", self.net.violations);

        // The retained store, as a new subscriber to `#` sees it.
        let mut probe = ClientModel::new("probe", ProtocolVersion::V5);
        probe.connect(&mut self.net, true, false);
        let conn = probe.conn.expect("online");
        let s = Subscription::new(Utf8String::from_static("#"), QoS::ExactlyOnce);
        self.net
            .send(conn, Packet::Subscribe(Subscribe::new(1, vec![s])));
        probe.settle(&mut self.net);
        let got: BTreeMap<String, (u32, QoS)> = probe
            .got
            .iter()
            .filter(|g| g.publish.retain)
            .map(|g| {
                (
                    g.publish.topic.to_string(),
                    (payload_id(&g.publish).unwrap_or(0), g.publish.qos),
                )
            })
            .collect();
        let want: BTreeMap<String, (u32, QoS)> = self
            .model
            .retained
            .iter()
            .map(|(t, v)| ((*t).to_owned(), *v))
            .collect();
        prop_assert_eq!(got, want, "retained store");
        prop_assert_eq!(self.net.b.stats().retained, self.model.retained.len());
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_sessions_agree_with_the_reference_model(
        versions in proptest::collection::vec((version(), proptest::option::of(1u16..4)), CLIENTS),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mut w = World::new(&versions);
        for c in 0..CLIENTS {
            let receive_maximum = w.clients[c].receive_maximum;
            w.apply(&Op::Connect { c, clean_start: true, persistent: c != 0, receive_maximum, will: None })?;
        }
        for op in &ops {
            w.apply(op)?;
        }
        w.finish()?;
        w.check()?;
    }
}
