//! Deterministic simulation: the client machine against a small broker model
//! (built on the same `session` module, as `mqtt-broker-core` will be) over
//! a simulated TCP link in virtual time. The link has seeded latency and
//! breaks at random, losing whatever was in flight (a TCP connection loses
//! data only by breaking). Checked for many seeds: every QoS 1 message
//! arrives at least once, every QoS 2 message exactly once, in both
//! directions; every publish completes; reconnects follow the back-off bounds.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_client::session::{Ack, Resend, Session};
use mqtt_client::{Backoff, Client, Config, Event};
use mqtt_codec::{
    Ack as AckPacket, ConnAck, Packet, ProtocolVersion, Publish, QoS, ReasonCode, StreamDecoder,
    SubAck, Subscription, Utf8String,
};

/// SplitMix64 for the simulated network (independent of the client's PRNG).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo + 1))
    }
}

/// The broker side: one persistent session for the one client.
struct Broker {
    version: ProtocolVersion,
    session: Session,
    has_session: bool,
    decoder: StreamDecoder,
    rx: BytesMut,
    out: Vec<Bytes>,
    connected: bool,
    received: Vec<(QoS, u32)>,
}

impl Broker {
    fn new(version: ProtocolVersion) -> Self {
        Self {
            version,
            session: Session::new(5),
            has_session: false,
            decoder: StreamDecoder::detect_version(1 << 16),
            rx: BytesMut::new(),
            out: Vec::new(),
            connected: false,
            received: Vec::new(),
        }
    }

    fn send(&mut self, p: Packet) {
        let mut b = BytesMut::new();
        p.encode(self.version, &mut b).unwrap();
        self.out.push(b.freeze());
    }

    fn new_connection(&mut self) {
        self.decoder = StreamDecoder::detect_version(1 << 16);
        self.rx.clear();
        self.connected = false;
    }

    fn flush(&mut self) {
        while let Some(p) = self.session.next_to_send() {
            self.send(Packet::Publish(p));
        }
    }

    fn handle(&mut self, bytes: &[u8]) {
        self.rx.extend_from_slice(bytes);
        while let Some(p) = self
            .decoder
            .decode(&mut self.rx)
            .expect("the client sends valid packets")
        {
            match p {
                Packet::Connect(c) => {
                    assert!(!c.clean_start);
                    self.send(Packet::ConnAck(ConnAck {
                        session_present: self.has_session,
                        ..ConnAck::default()
                    }));
                    if self.has_session {
                        for r in self.session.resend() {
                            match r {
                                Resend::Publish(p) => self.send(Packet::Publish(p)),
                                Resend::PubRel(id) => self.send(Packet::PubRel(AckPacket::new(id))),
                                _ => unreachable!(),
                            }
                        }
                    }
                    self.has_session = true;
                    self.connected = true;
                    self.flush();
                }
                Packet::Publish(p) => {
                    let n = u32::from_be_bytes(p.payload[..4].try_into().unwrap());
                    match p.qos {
                        QoS::AtLeastOnce => {
                            self.received.push((p.qos, n));
                            self.send(Packet::PubAck(AckPacket::new(p.packet_id)));
                        }
                        QoS::ExactlyOnce => {
                            if self.session.on_incoming_qos2(p.packet_id) {
                                self.received.push((p.qos, n));
                            }
                            self.send(Packet::PubRec(AckPacket::new(p.packet_id)));
                        }
                        _ => self.received.push((p.qos, n)),
                    }
                }
                Packet::PubRel(a) => {
                    self.session.on_pubrel(a.packet_id);
                    self.send(Packet::PubComp(AckPacket::new(a.packet_id)));
                }
                Packet::PubAck(a) => {
                    assert!(!matches!(
                        self.session.on_puback(a.packet_id, a.reason_code),
                        Ack::Refused(_)
                    ));
                    self.flush();
                }
                Packet::PubRec(a) => {
                    if self.session.on_pubrec(a.packet_id, a.reason_code) == Ack::SendPubRel {
                        self.send(Packet::PubRel(AckPacket::new(a.packet_id)));
                    }
                }
                Packet::PubComp(a) => {
                    self.session.on_pubcomp(a.packet_id);
                    self.flush();
                }
                Packet::Subscribe(s) => {
                    let codes = s
                        .filters
                        .iter()
                        .map(|f| ReasonCode(f.options.qos.as_u8()))
                        .collect();
                    self.send(Packet::SubAck(SubAck::new(s.packet_id, codes)));
                }
                Packet::PingReq => self.send(Packet::PingResp),
                Packet::Disconnect(_) => self.connected = false,
                other => panic!("unexpected from the client: {other:?}"),
            }
        }
    }
}

fn payload(n: u32) -> Bytes {
    Bytes::copy_from_slice(&n.to_be_bytes())
}

/// Runs one seeded scenario; returns a description of what went wrong.
fn scenario(seed: u64, version: ProtocolVersion) -> Result<u32, String> {
    const N: u32 = 60;
    let mut net = Rng(seed);
    #[allow(clippy::disallowed_methods)] // the origin of virtual time
    let t0 = Instant::now();
    let mut now = t0;
    let mut cfg = Config::new("sim");
    cfg.version = version;
    cfg.clean_start = false;
    cfg.session_expiry_interval = Some(u32::MAX);
    cfg.keep_alive = 5;
    cfg.ping_timeout = Duration::from_secs(2);
    cfg.max_inflight = 8;
    let backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(3));
    cfg.reconnect = Some(backoff);
    let mut client = Client::new(cfg, seed, now);
    let mut broker = Broker::new(version);
    // Broker → client traffic: QoS 2 messages the client must see once each.
    for n in 0..N / 2 {
        let p =
            Publish::new(Utf8String::from_static("down"), payload(n)).with_qos(QoS::ExactlyOnce, 0);
        broker.session.enqueue(p).unwrap();
    }
    client
        .subscribe(
            now,
            vec![Subscription::new(
                Utf8String::from_static("down"),
                QoS::ExactlyOnce,
            )],
            None,
        )
        .unwrap();

    let mut to_broker: VecDeque<(Instant, Bytes)> = VecDeque::new();
    let mut to_client: VecDeque<(Instant, Bytes)> = VecDeque::new();
    let mut next_publish = 0u32;
    let mut completed = 0u32;
    let mut delivered: Vec<u32> = Vec::new();
    let mut breaks = 0u32;
    let mut attempt_ceiling = backoff.ceiling(0);

    // The first connection.
    let mut link_up = connect(&mut client, &mut broker, now);
    for _step in 0..200_000 {
        // Application: publish while there is something left, alternating QoS.
        if next_publish < N && client.session().queued_len() < 4 {
            let qos = if next_publish % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            let p =
                Publish::new(Utf8String::from_static("up"), payload(next_publish)).with_qos(qos, 0);
            client
                .publish(now, p)
                .map_err(|e| format!("publish: {e}"))?;
            next_publish += 1;
        }
        // Transmit with latency.
        while let Some(b) = client.poll_transmit() {
            if link_up {
                to_broker.push_back((now + net.millis(5, 50), b));
            }
        }
        for b in broker.out.drain(..) {
            if link_up {
                to_client.push_back((now + net.millis(5, 50), b));
            }
        }
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::Published { .. } => completed += 1,
                Event::Message(m) => {
                    delivered.push(u32::from_be_bytes(m.payload[..4].try_into().unwrap()))
                }
                Event::Disconnected {
                    reconnect_at: Some(at),
                    ..
                } => {
                    let wait = at - now;
                    if wait < attempt_ceiling / 2 || wait > attempt_ceiling {
                        return Err(format!(
                            "reconnect after {wait:?}, ceiling {attempt_ceiling:?}"
                        ));
                    }
                    attempt_ceiling = (attempt_ceiling * 2).min(Duration::from_secs(3));
                    link_up = false;
                    to_broker.clear();
                    to_client.clear();
                }
                Event::Connected { .. } => attempt_ceiling = backoff.ceiling(0),
                Event::PublishRefused { .. } => return Err("refused".into()),
                _ => {}
            }
        }
        let up_done = completed == N
            && broker
                .received
                .iter()
                .filter(|(q, _)| *q == QoS::ExactlyOnce)
                .count()
                == (N / 2) as usize;
        if up_done && delivered.len() >= (N / 2) as usize && broker.session.inflight_len() == 0 {
            break;
        }
        // Next moment: an arrival, the client's deadline, or a small step.
        let mut next = now + Duration::from_millis(20);
        for t in [
            to_broker.front().map(|x| x.0),
            to_client.front().map(|x| x.0),
            client.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        {
            next = next.min(t.max(now));
        }
        now = next;
        // The link breaks at random (about once per 70 steps while up).
        if link_up && net.chance(15) {
            breaks += 1;
            link_up = false;
            to_broker.clear();
            to_client.clear();
            broker.new_connection();
            client.connection_lost(now);
            continue;
        }
        while to_broker.front().is_some_and(|x| x.0 <= now) {
            let (_, b) = to_broker.pop_front().unwrap();
            broker.handle(&b);
        }
        while to_client.front().is_some_and(|x| x.0 <= now) {
            let (_, b) = to_client.pop_front().unwrap();
            client.handle_bytes(now, &b);
        }
        if client.reconnect_at().is_some_and(|t| t <= now) {
            broker.new_connection();
            link_up = connect(&mut client, &mut broker, now);
        } else {
            client.handle_timeout(now);
        }
    }
    let mut qos2: Vec<u32> = broker
        .received
        .iter()
        .filter(|(q, _)| *q == QoS::ExactlyOnce)
        .map(|x| x.1)
        .collect();
    qos2.sort_unstable();
    let want2: Vec<u32> = (0..N).filter(|n| n % 2 == 1).collect();
    if qos2 != want2 {
        return Err(format!(
            "QoS 2 at the broker not exactly once: {qos2:?} ({breaks} breaks)"
        ));
    }
    for n in (0..N).filter(|n| n % 2 == 0) {
        if !broker.received.contains(&(QoS::AtLeastOnce, n)) {
            return Err(format!("QoS 1 message {n} lost ({breaks} breaks)"));
        }
    }
    if completed != N {
        return Err(format!(
            "{completed} of {N} publishes completed ({breaks} breaks)"
        ));
    }
    delivered.sort_unstable();
    if delivered != (0..N / 2).collect::<Vec<_>>() {
        return Err(format!(
            "QoS 2 at the client not exactly once: {delivered:?} ({breaks} breaks)"
        ));
    }
    if now - t0 > Duration::from_secs(3600) {
        return Err("took more than an hour of virtual time".into());
    }
    Ok(breaks)
}

/// A new connection: the broker forgets the old one's bytes, the client sends CONNECT.
fn connect(client: &mut Client, broker: &mut Broker, now: Instant) -> bool {
    broker.new_connection();
    client.connect(now);
    true
}

#[test]
fn reconnects_under_random_link_breaks_keep_qos_guarantees() {
    let mut breaks = 0;
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for seed in 0..100 {
            match scenario(seed, version) {
                Ok(b) => breaks += b,
                Err(e) => panic!("seed {seed}, {version:?}: {e}"),
            }
        }
    }
    // The scenarios must have exercised reconnects, not just run clean.
    assert!(
        breaks >= 200,
        "only {breaks} link breaks over 200 scenarios"
    );
    println!("{breaks} link breaks over 200 scenarios");
}
