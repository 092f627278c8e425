//! The gateway state machine: datagrams and broker bytes in, datagrams,
//! broker bytes and events out (DESIGN.md, "The sans-IO contract").

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use mqttsn_codec::{ConnAck, Disconnect, Frame, GwInfo, Message, PingReq, QoS, ReturnCode};

use crate::aggregate::{self, Shared};
use crate::config::{Config, Mode};
use crate::core::Core;
use crate::output::{ConnId, Event, Gone, Peer, Stats, Transmit};
use crate::relay::Relay;
use crate::session::{Phase, Session};

/// A transparent MQTT-SN gateway: one MQTT connection per MQTT-SN client,
/// carrying its client id, will and session.
///
/// Feed it datagrams ([`Gateway::handle_datagram`]), broker bytes
/// ([`Gateway::handle_broker_bytes`]) and deadlines
/// ([`Gateway::handle_timeout`]); carry out what [`Gateway::poll_transmit`]
/// returns, sleep until [`Gateway::poll_timeout`]. It never reads a clock or
/// touches a socket.
#[derive(Debug)]
pub struct Gateway {
    core: Core,
    sessions: HashMap<Peer, Session>,
    conns: HashMap<ConnId, Peer>,
    relay: Option<Relay>,
    next_advertise: Option<Instant>,
    /// Session deadlines, earliest first, invalidated lazily: a session's
    /// earliest entry is its `scheduled` instant, never later than its real
    /// next deadline; other entries of it are stale.
    timers: BinaryHeap<Reverse<(Instant, Peer)>>,
}

impl Gateway {
    /// A gateway with `config`; `seed` feeds the MQTT clients' jitter.
    #[must_use]
    pub fn new(config: Config, seed: u64, now: Instant) -> Self {
        let next_advertise = config.advertise.map(|_| now);
        let aggregating = config.mode == Mode::Aggregating;
        let mut core = Core::new(config, seed);
        if aggregating {
            core.shared = Some(Shared::open(&mut core, now));
        }
        Self {
            core,
            sessions: HashMap::new(),
            conns: HashMap::new(),
            relay: None,
            next_advertise,
            timers: BinaryHeap::new(),
        }
    }

    /// What back-pressure and the buffer limits cost so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.core.stats
    }

    /// The I/O layer's count of bytes written to broker connection `conn`
    /// (from [`Transmit::Data`]) that the transport has not taken yet.
    /// Report it when it grows and when it shrinks; at or above
    /// [`Config::max_backlog`] (or, summed over every connection,
    /// [`Config::max_total_backlog`]) the connection is congested and its
    /// clients are told so (back-pressure). An adapter that never reports
    /// gets no back-pressure from slow writes.
    pub fn handle_broker_backlog(&mut self, now: Instant, conn: ConnId, bytes: usize) {
        let _ = now;
        let known = self.conns.contains_key(&conn)
            || self.core.shared.as_ref().is_some_and(|s| s.conn == conn)
            || self.relay.as_ref().is_some_and(|r| r.conn == conn);
        if known {
            self.core.set_backlog(conn, bytes);
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// How many clients have a session (connecting, active or asleep).
    #[must_use]
    pub fn client_count(&self) -> usize {
        self.sessions.len()
    }

    /// One datagram from `from`. Malformed ones are dropped with
    /// [`Event::Malformed`].
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: Bytes) {
        self.datagram(now, from, data);
        self.drain_shared(now);
        self.normalize();
    }

    fn datagram(&mut self, now: Instant, from: SocketAddr, data: Bytes) {
        let (peer, msg) = match Frame::decode(data) {
            Ok(Frame::Message(m)) => (Peer::direct(from), m),
            Ok(Frame::Encapsulated(e)) => (
                Peer {
                    addr: from,
                    node: Some(e.wireless_node_id),
                },
                e.message,
            ),
            Ok(_) | Err(_) => {
                self.core.events.push_back(Event::Malformed { from });
                return;
            }
        };
        match msg {
            Message::SearchGw(_) => {
                let info = GwInfo {
                    gw_id: self.core.config.gateway_id,
                    gw_add: Bytes::new(),
                };
                self.core.send(&peer, info);
            }
            Message::Advertise(_) | Message::GwInfo(_) => {}
            Message::Connect(c) => self.on_connect(now, peer, &c),
            Message::PingReq(p) => self.on_pingreq(now, &peer, &p),
            Message::Publish(p) if p.qos == QoS::MinusOne => self.on_minus_one(now, &peer, p),
            msg => {
                let Some(s) = self.sessions.get_mut(&peer) else {
                    if !matches!(msg, Message::Disconnect(_)) {
                        self.core.send(&peer, Disconnect::default());
                    }
                    return;
                };
                s.on_message(&mut self.core, now, msg);
                self.reap(now, &peer);
            }
        }
    }

    fn on_connect(&mut self, now: Instant, peer: Peer, c: &mqttsn_codec::Connect) {
        if let Some(s) = self.sessions.get_mut(&peer) {
            let same = s.client_id == c.client_id;
            if same
                && !c.clean_session
                && !c.will
                && matches!(s.phase, Phase::Active | Phase::Asleep)
            {
                s.resume(&mut self.core, now, c.duration);
                self.reap(now, &peer);
                return;
            }
            if same && matches!(s.phase, Phase::Connecting) {
                return; // a retransmitted CONNECT: CONNACK follows the broker's
            }
            s.end(&mut self.core, now);
            self.reap(now, &peer);
        }
        let bad_id = c.client_id.is_empty() || c.client_id.len() > 23;
        let congested = self.connect_congested();
        if congested && !bad_id {
            self.core.congestion(&peer, false);
        }
        if bad_id || congested || self.sessions.len() >= self.core.config.max_clients {
            let return_code = if bad_id {
                ReturnCode::RejectedNotSupported
            } else {
                ReturnCode::RejectedCongestion
            };
            self.core.send(&peer, ConnAck { return_code });
            return;
        }
        let mut s = Session::new(&mut self.core, now, peer.clone(), c);
        self.conns.insert(s.conn, peer.clone());
        if c.will {
            self.core.send(&peer, Message::WillTopicReq);
        } else {
            s.start(&mut self.core, now, None);
        }
        self.sessions.insert(peer.clone(), s);
        self.reap(now, &peer);
    }

    /// Whether a new CONNECT must be refused for back-pressure: the shared
    /// connection is congested (aggregating), too many bytes wait for the
    /// broker, or too many connections wait for CONNACK (transparent).
    fn connect_congested(&self) -> bool {
        if self.core.shared.is_some() {
            return self.core.shared_congested();
        }
        let max = self.core.config.max_connecting;
        self.core.overloaded()
            || (self.sessions.len() >= max
                && self
                    .sessions
                    .values()
                    .filter(|s| s.phase == Phase::Connecting)
                    .count()
                    >= max)
    }

    fn on_pingreq(&mut self, now: Instant, peer: &Peer, p: &PingReq) {
        match self.sessions.get_mut(peer) {
            Some(s) if s.phase == Phase::Asleep && p.client_id.is_some() => {
                s.wake(&mut self.core, now);
            }
            Some(s) => s.on_message(&mut self.core, now, Message::PingReq(p.clone())),
            None => self.core.send(peer, Message::PingResp),
        }
        self.reap(now, peer);
    }

    /// QoS -1 (§6.8): from a connected client, as QoS 0 on its own
    /// connection; from any other, on the gateway's relay connection, for
    /// predefined topic ids and short topic names (others are dropped).
    fn on_minus_one(&mut self, now: Instant, peer: &Peer, mut p: mqttsn_codec::Publish) {
        if let Some(s) = self.sessions.get_mut(peer) {
            p.qos = QoS::AtMostOnce;
            s.on_message(&mut self.core, now, Message::Publish(p));
            self.reap(now, peer);
            return;
        }
        let Some(topic) = Relay::topic_name(&self.core, &p.topic) else {
            return;
        };
        let msg = mqtt_codec::Publish::new(topic, p.data).with_retain(p.retain);
        let upstream = match (&self.core.shared, &self.relay) {
            (Some(s), _) => Some(s.conn),
            (None, Some(r)) if !r.closed => Some(r.conn),
            _ => None,
        };
        if upstream.is_some_and(|c| self.core.congested(c)) {
            self.core.congestion(peer, true);
            return;
        }
        if let Some(shared) = self.core.shared.as_mut() {
            let _ = shared.mqtt.publish(now, msg);
            return;
        }
        let relay = match &mut self.relay {
            Some(r) if !r.closed => r,
            _ => self.relay.insert(Relay::open(&mut self.core, now)),
        };
        relay.publish(&mut self.core, now, msg);
    }

    /// Feeds the relay connection, if `conn` is it; true when it was.
    fn relay_input(&mut self, now: Instant, conn: ConnId, data: Option<&[u8]>) -> bool {
        let Some(relay) = self.relay.as_mut().filter(|r| r.conn == conn) else {
            return false;
        };
        if let Some(d) = data {
            relay.mqtt.handle_bytes(now, d);
        } else {
            relay.mqtt.connection_lost(now);
            relay.mqtt.connect_failed(now);
        }
        relay.drain(&mut self.core, now);
        if relay.closed || data.is_none() {
            self.core.forget(conn);
            self.relay = None;
        }
        true
    }

    /// Bytes from the broker on `conn`.
    pub fn handle_broker_bytes(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        self.broker_bytes(now, conn, data);
        self.normalize();
    }

    fn broker_bytes(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        if let Some(shared) = self.core.shared.as_mut().filter(|s| s.conn == conn) {
            shared.mqtt.handle_bytes(now, data);
            self.drain_shared(now);
            return;
        }
        if self.relay_input(now, conn, Some(data)) {
            return;
        }
        let Some(peer) = self.conns.get(&conn).cloned() else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.conn == conn) {
            if let Some(mqtt) = s.mqtt.as_mut() {
                mqtt.handle_bytes(now, data);
            }
            s.drain(&mut self.core, now);
        }
        self.reap(now, &peer);
    }

    /// The broker connection `conn` closed or could not be opened.
    pub fn handle_broker_closed(&mut self, now: Instant, conn: ConnId) {
        self.broker_closed(now, conn);
        self.core.forget(conn);
        self.normalize();
    }

    fn broker_closed(&mut self, now: Instant, conn: ConnId) {
        if let Some(shared) = self.core.shared.as_mut().filter(|s| s.conn == conn) {
            if shared.mqtt.reconnect_at().is_some() {
                shared.mqtt.connect_failed(now); // the reconnect attempt failed
            } else {
                shared.mqtt.connection_lost(now);
            }
            self.drain_shared(now);
            return;
        }
        if self.relay_input(now, conn, None) {
            return;
        }
        let Some(peer) = self.conns.get(&conn).cloned() else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.conn == conn) {
            if let Some(mqtt) = s.mqtt.as_mut() {
                // While CONNECT waits for CONNACK or once up: lost; before
                // that: the transport never opened.
                mqtt.connection_lost(now);
                mqtt.connect_failed(now);
            }
            s.drain(&mut self.core, now);
            if !s.closed {
                s.close(&mut self.core, Gone::Broker);
            }
        }
        self.reap(now, &peer);
    }

    /// Call when [`Gateway::poll_timeout`] has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(mut shared) = self.core.shared.take() {
            shared.handle_timeout(&mut self.core, now);
            self.core.shared = Some(shared);
        }
        self.timers(now);
        self.drain_shared(now);
        self.normalize();
    }

    fn timers(&mut self, now: Instant) {
        if let (Some(at), Some(adv)) = (self.next_advertise, self.core.config.advertise) {
            if at <= now {
                let duration = u16::try_from(adv.interval.as_secs()).unwrap_or(u16::MAX);
                let msg = mqttsn_codec::Advertise {
                    gw_id: self.core.config.gateway_id,
                    duration,
                };
                self.core.send(&Peer::direct(adv.to), msg);
                self.next_advertise = Some(now + adv.interval);
            }
        }
        if let Some(r) = self.relay.as_mut() {
            if r.mqtt.poll_timeout().is_some_and(|t| t <= now) {
                r.mqtt.handle_timeout(now);
                r.drain(&mut self.core, now);
            }
            if r.closed {
                let conn = r.conn;
                self.core.forget(conn);
                self.relay = None;
            }
        }
        let mut due = Vec::new();
        while let Some(Reverse((t, _))) = self.timers.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((t, peer))) = self.timers.pop() else {
                break;
            };
            if let Some(s) = self.sessions.get_mut(&peer) {
                if s.scheduled == Some(t) {
                    s.scheduled = None;
                    due.push(peer);
                }
            }
        }
        for peer in due {
            let Some(s) = self.sessions.get_mut(&peer) else {
                continue;
            };
            if s.mqtt
                .as_ref()
                .and_then(|m| m.poll_timeout())
                .is_some_and(|t| t <= now)
            {
                if let Some(m) = s.mqtt.as_mut() {
                    m.handle_timeout(now);
                }
                s.drain(&mut self.core, now);
            }
            if !s.closed && s.outbox.next_timeout().is_some_and(|t| t <= now) {
                s.retry(&mut self.core, now);
            }
            if !s.closed && s.deadline.is_some_and(|t| t <= now) {
                s.lose(&mut self.core, now);
            }
            self.reap(now, &peer);
        }
    }

    /// Makes the earliest timer exact (so [`Gateway::poll_timeout`] is) and
    /// drops stale entries; rebuilds the heap when stale ones pile up.
    fn normalize(&mut self) {
        if self.timers.len() > 2 * self.sessions.len() + 64 {
            self.timers.clear();
            for (peer, s) in &mut self.sessions {
                s.scheduled = s.next_deadline();
                if let Some(t) = s.scheduled {
                    self.timers.push(Reverse((t, peer.clone())));
                }
            }
        }
        while let Some(Reverse((t, peer))) = self.timers.peek() {
            let t = *t;
            let Some(s) = self.sessions.get_mut(peer) else {
                self.timers.pop();
                continue;
            };
            if s.scheduled != Some(t) {
                self.timers.pop();
                continue;
            }
            let next = s.next_deadline();
            if next == Some(t) {
                break;
            }
            s.scheduled = next;
            let Some(Reverse((_, peer))) = self.timers.pop() else {
                break;
            };
            if let Some(n) = next {
                self.timers.push(Reverse((n, peer)));
            }
        }
        // Fuzzing and the tests check the heap against a full scan.
        #[cfg(any(test, feature = "__fuzz"))]
        {
            let scan = self
                .sessions
                .values()
                .filter_map(Session::next_deadline)
                .min();
            let heap = self.timers.peek().map(|Reverse((t, _))| *t);
            assert_eq!(heap, scan, "timer heap out of step with the sessions");
        }
    }

    /// The next thing to do, in order.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.core.events.pop_front()
    }

    /// When to call [`Gateway::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sessions = self.timers.peek().map(|Reverse((t, _))| *t);
        let relay = self.relay.as_ref().and_then(|r| r.mqtt.poll_timeout());
        let shared = self
            .core
            .shared
            .as_ref()
            .and_then(|s| s.mqtt.poll_timeout());
        sessions
            .into_iter()
            .chain(relay)
            .chain(shared)
            .chain(self.next_advertise)
            .min()
    }

    /// Dispatches what the shared connection (aggregating mode) produced.
    fn drain_shared(&mut self, now: Instant) {
        if self.core.shared.is_none() {
            return;
        }
        // Reaping may release broker subscriptions: drain what that wrote.
        for _ in 0..8 {
            let touched = aggregate::drain(&mut self.core, &mut self.sessions, now);
            if touched.is_empty() {
                break;
            }
            for peer in touched {
                self.reap(now, &peer);
            }
        }
    }

    /// After `peer`'s session was touched: drops it if it closed, tracks
    /// its connection changes and schedules its next deadline.
    fn reap(&mut self, now: Instant, peer: &Peer) {
        let Some(s) = self.sessions.get_mut(peer) else {
            return;
        };
        for old in s.retired.drain(..) {
            self.conns.remove(&old);
            self.core.forget(old);
        }
        self.conns.entry(s.conn).or_insert_with(|| peer.clone());
        if s.closed {
            if let Some(mut s) = self.sessions.remove(peer) {
                self.conns.remove(&s.conn);
                self.core.forget(s.conn);
                s.release_filters(&mut self.core, now);
            }
            return;
        }
        let next = s.next_deadline();
        if let Some(t) = next.filter(|t| s.scheduled.is_none_or(|c| *t < c)) {
            s.scheduled = Some(t);
            self.timers.push(Reverse((t, peer.clone())));
        }
    }
}
