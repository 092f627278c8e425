//! A test network around the sans-IO [`Broker`] in virtual time: typed
//! packets in, one inbox of decoded packets per connection out, and a
//! client model (the workspace's `Session`, as a real client keeps it) that
//! answers acknowledgements, resends after a reconnect and removes QoS 2
//! duplicates as an application would see them (MQTT 5.0 §4.3.3, method B).
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)] // the test is the clock

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_broker_core::{Broker, Config, ConnId, Event};
use mqtt_client::session::{Ack as SessionAck, Resend, Session};
use mqtt_codec::{
    Ack, Connect, LastWill, Packet, ProtocolVersion, Publish, QoS, ReasonCode, StreamDecoder,
    Utf8String, MAX_PACKET_SIZE,
};

/// The broker, its clock and what it wrote, per connection.
pub struct Net {
    pub b: Broker,
    pub now: Instant,
    versions: BTreeMap<ConnId, ProtocolVersion>,
    inbox: BTreeMap<ConnId, VecDeque<Packet>>,
    /// Connections the broker closed, with the reason.
    pub closed: BTreeMap<ConnId, ReasonCode>,
    /// The Receive Maximum each 5.0 connection announced.
    receive_maximum: BTreeMap<ConnId, usize>,
    /// QoS 1/2 PUBLISHes the broker sent on each connection and the client
    /// has not acknowledged (PUBACK, PUBCOMP, or PUBREC with an error).
    unacked: BTreeMap<ConnId, BTreeSet<u16>>,
    /// Broken rules seen on the wire (MQTT 5.0 §4.9 Receive Maximum).
    pub violations: Vec<String>,
}

impl Net {
    pub fn new(config: Config) -> Self {
        Self {
            b: Broker::new(config, 1),
            now: Instant::now(),
            versions: BTreeMap::new(),
            inbox: BTreeMap::new(),
            closed: BTreeMap::new(),
            receive_maximum: BTreeMap::new(),
            unacked: BTreeMap::new(),
            violations: Vec::new(),
        }
    }

    /// A new connection that will speak `version`.
    pub fn open(&mut self, version: ProtocolVersion) -> ConnId {
        let c = self.b.open(self.now);
        self.versions.insert(c, version);
        c
    }

    /// Hands `p` to the broker and collects what it writes.
    pub fn send(&mut self, c: ConnId, p: Packet) {
        match &p {
            Packet::Connect(x) => {
                if let Some(m) = x.properties.receive_maximum {
                    self.receive_maximum.insert(c, usize::from(m));
                }
            }
            Packet::PubAck(a) | Packet::PubComp(a) => {
                self.unacked.entry(c).or_default().remove(&a.packet_id);
            }
            Packet::PubRec(a) if a.reason_code.is_error() => {
                self.unacked.entry(c).or_default().remove(&a.packet_id);
            }
            _ => {}
        }
        self.b.handle_packet(self.now, c, p);
        self.pump();
    }

    /// The TCP connection `c` broke: what was on its way to it is lost.
    pub fn lose(&mut self, c: ConnId) {
        self.inbox.remove(&c);
        self.b.connection_lost(self.now, c);
        self.pump();
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.b.handle_timeout(self.now);
        self.pump();
    }

    /// Decodes every transmit into its connection's inbox; records closes.
    pub fn pump(&mut self) {
        while let Some(t) = self.b.poll_transmit() {
            let v = self
                .versions
                .get(&t.conn)
                .copied()
                .unwrap_or(ProtocolVersion::V3_1_1);
            let mut d = StreamDecoder::new(v, MAX_PACKET_SIZE);
            let mut buf = BytesMut::from(&t.payload[..]);
            // Bounded: each turn consumes a whole packet.
            while let Some(p) = d.decode(&mut buf).expect("the broker writes valid packets") {
                if let Packet::Publish(x) = &p {
                    if x.qos != QoS::AtMostOnce {
                        let unacked = self.unacked.entry(t.conn).or_default();
                        unacked.insert(x.packet_id);
                        let max = self.receive_maximum.get(&t.conn).copied();
                        if max.is_some_and(|m| unacked.len() > m) {
                            self.violations.push(format!(
                                "{:?}: {} PUBLISHes unacknowledged, Receive Maximum {max:?}",
                                t.conn,
                                unacked.len()
                            ));
                        }
                    }
                }
                self.inbox.entry(t.conn).or_default().push_back(p);
            }
            assert!(buf.is_empty(), "a transmit ends with a partial packet");
        }
        while let Some(e) = self.b.poll_event() {
            if let Event::Close { conn, reason } = e {
                self.closed.insert(conn, reason);
            }
        }
    }

    /// The next packet written to `c`, if any.
    pub fn next(&mut self, c: ConnId) -> Option<Packet> {
        self.inbox.get_mut(&c).and_then(VecDeque::pop_front)
    }

    /// The next packet written to `c`, left in place.
    pub fn peek(&self, c: ConnId) -> Option<&Packet> {
        self.inbox.get(&c).and_then(VecDeque::front)
    }

    /// Everything written to `c` and not yet taken.
    pub fn take(&mut self, c: ConnId) -> Vec<Packet> {
        self.inbox.remove(&c).map(Vec::from).unwrap_or_default()
    }

    /// Drops what waits for `c` (the peer will never read it).
    pub fn discard(&mut self, c: ConnId) {
        self.inbox.remove(&c);
    }
}

/// The Session Expiry Interval of a persistent 5.0 session, in seconds.
pub const SESSION_EXPIRY: u32 = 30;

/// A CONNECT: `persistent` keeps the session after the connection (Clean
/// Session 0 in 3.x, for ever; Session Expiry Interval [`SESSION_EXPIRY`]
/// in 5.0).
pub fn connect(v: ProtocolVersion, id: &str, clean_start: bool, persistent: bool) -> Packet {
    let mut c = Connect::new(v);
    c.client_id = Utf8String::try_from(id).expect("valid client id");
    // No keep-alive: virtual time may jump far without PINGREQs.
    c.keep_alive = 0;
    if v.is_v5() {
        c.clean_start = clean_start;
        if persistent {
            c.properties.session_expiry_interval = Some(SESSION_EXPIRY);
        }
    } else {
        // 3.x has one flag for both.
        c.clean_start = !persistent;
    }
    Packet::Connect(Box::new(c))
}

/// One PUBLISH as a client received it.
#[derive(Debug, Clone)]
pub struct Got {
    pub publish: Publish,
    /// Whether it went to the application (false: a QoS 2 duplicate).
    pub to_app: bool,
}

/// A client as a careful implementation keeps it.
pub struct ClientModel {
    pub id: String,
    pub version: ProtocolVersion,
    pub conn: Option<ConnId>,
    pub session: Session,
    /// Every PUBLISH received, in order.
    pub got: Vec<Got>,
    /// Packets that were not expected by the model (wrong acks...).
    pub oddities: Vec<String>,
    /// Receive Maximum announced in 5.0 CONNECTs.
    pub receive_maximum: Option<u16>,
    /// The will sent with the next CONNECT.
    pub will: Option<LastWill>,
}

impl ClientModel {
    pub fn new(id: &str, version: ProtocolVersion) -> Self {
        Self {
            id: id.to_owned(),
            version,
            conn: None,
            session: Session::new(20),
            got: Vec::new(),
            oddities: Vec::new(),
            receive_maximum: None,
            will: None,
        }
    }

    /// Connects on a new connection (a takeover if another is open) and
    /// returns the CONNACK's Session Present. Packets the broker resends
    /// stay in the inbox; what the client resends is returned, not sent.
    pub fn connect(
        &mut self,
        net: &mut Net,
        clean_start: bool,
        persistent: bool,
    ) -> (bool, Vec<Packet>) {
        let c = net.open(self.version);
        let mut p = connect(self.version, &self.id, clean_start, persistent);
        if let Packet::Connect(x) = &mut p {
            if self.version.is_v5() {
                x.properties.receive_maximum = self.receive_maximum;
            }
            x.will.clone_from(&self.will);
        }
        net.send(c, p);
        let Some(Packet::ConnAck(ack)) = net.next(c) else {
            panic!("{}: no CONNACK first", self.id);
        };
        assert_eq!(ack.reason_code, ReasonCode::SUCCESS, "{}: CONNACK", self.id);
        self.conn = Some(c);
        if let Some(m) = ack.properties.receive_maximum {
            self.session.set_window(m);
        }
        // 3.1 has no Session Present flag: a 3.1 client assumes its session
        // is kept when it asked for it (Clean Session 0).
        let present = if self.version == ProtocolVersion::V3_1 {
            persistent
        } else {
            ack.session_present
        };
        let mut out = Vec::new();
        if present {
            for r in self.session.resend() {
                match r {
                    Resend::Publish(p) => out.push(Packet::Publish(p)),
                    Resend::PubRel(id) => out.push(Packet::PubRel(Ack::new(id))),
                    _ => {}
                }
            }
        } else {
            // A new session on the server: nothing of the old one means anything.
            self.session.clear();
        }
        (present, out)
    }

    /// Queues `p` (QoS 1/2 get an identifier) and returns what to send now.
    pub fn publish(&mut self, p: Publish) -> Vec<Packet> {
        if p.qos == QoS::AtMostOnce {
            return vec![Packet::Publish(p)];
        }
        self.session.enqueue(p).expect("a free packet identifier");
        self.flush()
    }

    fn flush(&mut self) -> Vec<Packet> {
        let mut out = Vec::new();
        // Bounded by the window.
        while let Some(p) = self.session.next_to_send() {
            out.push(Packet::Publish(p));
        }
        out
    }

    /// The client's answer to one packet from the broker.
    pub fn on_packet(&mut self, p: Packet) -> Vec<Packet> {
        match p {
            Packet::Publish(x) => {
                let pid = x.packet_id;
                let (to_app, answer) = match x.qos {
                    QoS::AtMostOnce => (true, None),
                    QoS::AtLeastOnce => (true, Some(Packet::PubAck(Ack::new(pid)))),
                    _ => (
                        self.session.on_incoming_qos2(pid),
                        Some(Packet::PubRec(Ack::new(pid))),
                    ),
                };
                self.got.push(Got { publish: x, to_app });
                answer.into_iter().collect()
            }
            Packet::PubRel(a) => {
                self.session.on_pubrel(a.packet_id);
                vec![Packet::PubComp(Ack::new(a.packet_id))]
            }
            Packet::PubAck(a) => {
                if !matches!(
                    self.session.on_puback(a.packet_id, a.reason_code),
                    SessionAck::Done(_)
                ) {
                    self.oddities.push(format!("unexpected {a:?}"));
                }
                self.flush()
            }
            Packet::PubRec(a) => match self.session.on_pubrec(a.packet_id, a.reason_code) {
                SessionAck::SendPubRel => vec![Packet::PubRel(Ack::new(a.packet_id))],
                other => {
                    self.oddities.push(format!("PUBREC {a:?}: {other:?}"));
                    self.flush()
                }
            },
            Packet::PubComp(a) => {
                if !matches!(self.session.on_pubcomp(a.packet_id), SessionAck::Done(_)) {
                    self.oddities.push(format!("unexpected PUBCOMP {a:?}"));
                }
                self.flush()
            }
            Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => Vec::new(),
            Packet::Disconnect(d) => {
                self.oddities
                    .push(format!("DISCONNECT {:?}", d.reason_code));
                Vec::new()
            }
            other => {
                self.oddities.push(format!("unexpected packet {other:?}"));
                Vec::new()
            }
        }
    }

    /// Sends `packets` on the current connection.
    pub fn send_all(&self, net: &mut Net, packets: Vec<Packet>) {
        let c = self.conn.expect("connected");
        for p in packets {
            net.send(c, p);
        }
    }

    /// Handles everything in the inbox, answering at once, until quiet
    /// (bounded). Returns how many packets were handled.
    pub fn settle(&mut self, net: &mut Net) -> usize {
        let Some(c) = self.conn else { return 0 };
        for n in 0..10_000 {
            let Some(p) = net.next(c) else { return n };
            let answers = self.on_packet(p);
            for a in answers {
                net.send(c, a);
            }
        }
        panic!("{}: the broker never stops talking", self.id);
    }

    /// Payloads delivered to the application, in order.
    pub fn app_payloads(&self) -> Vec<Vec<u8>> {
        self.got
            .iter()
            .filter(|g| g.to_app)
            .map(|g| g.publish.payload.to_vec())
            .collect()
    }
}

/// A short description of packets for failure messages.
pub fn brief(packets: &[Packet]) -> String {
    let items: Vec<String> = packets
        .iter()
        .map(|p| match p {
            Packet::Publish(x) => format!(
                "PUBLISH(id {}, qos {}, dup {}, retain {}, {:?} {:?})",
                x.packet_id,
                x.qos.as_u8(),
                x.dup,
                x.retain,
                x.topic.as_str(),
                x.payload
            ),
            Packet::PubAck(a) => format!("PUBACK({})", a.packet_id),
            Packet::PubRec(a) => format!("PUBREC({})", a.packet_id),
            Packet::PubRel(a) => format!("PUBREL({})", a.packet_id),
            Packet::PubComp(a) => format!("PUBCOMP({})", a.packet_id),
            Packet::Disconnect(d) => format!("DISCONNECT({:#04x})", d.reason_code.0),
            other => format!("{other:?}"),
        })
        .collect();
    format!("[{}]", items.join(", "))
}
