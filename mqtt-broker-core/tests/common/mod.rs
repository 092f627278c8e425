//! A virtual-time harness over the public API of the broker: typed packets
//! in, decoded packets out, time advanced by hand.
#![allow(dead_code, unreachable_pub)] // each test file uses part of it

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_broker_core::{Broker, Config, ConnId, Event};
use mqtt_codec::{
    Connect, Packet, ProtocolVersion, Publish, QoS, ReasonCode, StreamDecoder, Subscribe,
    Subscription, Utf8String, MAX_PACKET_SIZE,
};

pub const V4: ProtocolVersion = ProtocolVersion::V3_1_1;
pub const V5: ProtocolVersion = ProtocolVersion::V5;

pub struct Harness {
    pub b: Broker,
    pub now: Instant,
    versions: HashMap<ConnId, ProtocolVersion>,
    pub closed: Vec<(ConnId, ReasonCode)>,
    /// Every event, in order.
    pub events: Vec<Event>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(Config::default())
    }

    #[allow(clippy::disallowed_methods)] // the test is the clock
    pub fn with(config: Config) -> Self {
        Self {
            b: Broker::new(config, 1),
            now: Instant::now(),
            versions: HashMap::new(),
            closed: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn open(&mut self) -> ConnId {
        self.b.open(self.now)
    }

    pub fn send(&mut self, c: ConnId, p: impl Into<Packet>) {
        let p = p.into();
        if let Packet::Connect(con) = &p {
            self.versions.insert(c, con.protocol_version);
        }
        self.b.handle_packet(self.now, c, p);
    }

    /// Connects `c` with `connect` and returns the broker's answers.
    pub fn connect_with(&mut self, connect: Connect) -> (ConnId, Vec<(ConnId, Packet)>) {
        let c = self.open();
        self.send(c, Packet::Connect(Box::new(connect)));
        (c, self.recv())
    }

    /// A connected client (no session kept when `clean`).
    pub fn client(&mut self, v: ProtocolVersion, id: &'static str, clean: bool) -> ConnId {
        self.connect_with(connect(v, id, clean)).0
    }

    pub fn subscribe(&mut self, c: ConnId, filter: &'static str, qos: QoS) {
        let s = Subscription::new(Utf8String::from_static(filter), qos);
        self.send(c, Packet::Subscribe(Subscribe::new(1, vec![s])));
        self.recv();
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.b.handle_timeout(self.now);
    }

    /// Every packet written since the last call, decoded with the
    /// connection's version.
    pub fn recv(&mut self) -> Vec<(ConnId, Packet)> {
        let mut out = Vec::new();
        while let Some(t) = self.b.poll_transmit() {
            let v = self.versions.get(&t.conn).copied().unwrap_or(V4);
            let mut d = StreamDecoder::new(v, MAX_PACKET_SIZE);
            let mut buf = BytesMut::from(&t.payload[..]);
            while let Some(p) = d.decode(&mut buf).expect("the broker sends valid packets") {
                out.push((t.conn, p));
            }
            assert!(buf.is_empty(), "a transmit holds whole packets");
        }
        self.drain_events();
        out
    }

    /// The raw bytes written since the last call.
    pub fn recv_raw(&mut self) -> Vec<(ConnId, Bytes)> {
        let mut out = Vec::new();
        while let Some(t) = self.b.poll_transmit() {
            out.push((t.conn, t.payload));
        }
        self.drain_events();
        out
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.b.poll_event() {
            if let Event::Close { conn, reason } = &e {
                self.closed.push((*conn, *reason));
            }
            self.events.push(e);
        }
    }

    pub fn closed(&mut self, c: ConnId) -> bool {
        self.drain_events();
        self.closed.iter().any(|(x, _)| *x == c)
    }
}

pub fn connect(v: ProtocolVersion, id: &'static str, clean: bool) -> Connect {
    let mut c = Connect::new(v);
    c.client_id = Utf8String::from_static(id);
    c.clean_start = clean;
    c
}

pub fn publish(topic: &'static str, qos: QoS, id: u16) -> Publish {
    Publish::new(Utf8String::from_static(topic), Bytes::from_static(b"x")).with_qos(qos, id)
}

/// The PUBLISH packets among `out` sent to `to`.
pub fn publishes_to(out: &[(ConnId, Packet)], to: ConnId) -> Vec<Publish> {
    out.iter()
        .filter_map(|(c, p)| match p {
            Packet::Publish(x) if *c == to => Some(x.clone()),
            _ => None,
        })
        .collect()
}
