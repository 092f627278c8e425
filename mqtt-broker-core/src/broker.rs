//! The broker machine: connections, sessions, timers and the calling order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_client::session::Session;
use mqtt_codec::{
    DecodeError, Disconnect, LastWill, Packet, ProtocolVersion, ReasonCode, StreamDecoder,
    Utf8String,
};

use crate::config::Config;
pub use crate::event::{ConnId, Event, Stats, Transmit};
use crate::hooks::{AllowAll, Hooks};
use crate::retain::RetainStore;
use crate::shared::SharedSubs;
use crate::trie::{SubEntry, Trie};

/// Whether a connected client may send a packet whose first byte is
/// `first_byte`. Packet type 0 is reserved, CONNACK and PINGRESP go from
/// server to client only, and so do SUBACK and UNSUBACK with their required
/// flags; an AUTH with flags is forbidden (MQTT 5.0 §2.1.2, §2.1.3).
/// Adapters that decode themselves check it before decoding, so that such a
/// packet is a Protocol Error (0x82) whatever its content, as Mosquitto
/// answers; a SUBACK or UNSUBACK with wrong flags is left to the decoder (a
/// Malformed Packet, as Mosquitto answers too).
#[must_use]
pub fn client_may_send(first_byte: u8) -> bool {
    !matches!(
        (first_byte >> 4, first_byte & 0x0f),
        (0 | 2 | 13, _) | (9 | 11, 0) | (15, 1..)
    )
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) decoder: StreamDecoder,
    pub(crate) buf: BytesMut,
    pub(crate) version: ProtocolVersion,
    pub(crate) client: Option<Arc<str>>,
    /// 1.5 times the keep-alive (MQTT 5.0 §3.1.2.10), if any.
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) deadline: Option<Instant>,
    armed: Option<Instant>,
    pub(crate) will: Option<LastWill>,
    pub(crate) aliases_in: HashMap<u16, Utf8String>,
    /// A CONNECT in the middle of its AUTH exchange.
    pub(crate) pending_auth: Option<Box<crate::auth::PendingAuth>>,
}

#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) session: Session,
    pub(crate) subs: HashMap<Box<str>, SubEntry>,
    pub(crate) conn: Option<ConnId>,
    pub(crate) version: ProtocolVersion,
    /// Session Expiry Interval in seconds; `u32::MAX` never expires.
    pub(crate) expiry: u32,
    pub(crate) expires_at: Option<Instant>,
    pub(crate) will_at: Option<(Instant, LastWill)>,
    /// The client's Maximum Packet Size.
    pub(crate) max_packet: u32,
    /// When queued messages with a Message Expiry Interval expire, by packet id.
    pub(crate) expires: HashMap<u16, Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKey {
    Sys,
    Conn(ConnId),
    Client(Arc<str>),
}

/// The sans-IO MQTT broker.
///
/// Calling order: [`open`](Self::open) a connection, feed it with
/// [`handle_bytes`](Self::handle_bytes) (or already decoded packets with
/// [`handle_packet`](Self::handle_packet)), report its loss with
/// [`connection_lost`](Self::connection_lost); after every call drain
/// [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event),
/// then sleep until [`poll_timeout`](Self::poll_timeout) and call
/// [`handle_timeout`](Self::handle_timeout). Every call takes `now`; the
/// broker never reads a clock.
pub struct Broker {
    pub(crate) config: Config,
    pub(crate) hooks: Box<dyn Hooks>,
    pub(crate) conns: HashMap<ConnId, Conn>,
    pub(crate) clients: HashMap<Arc<str>, Client>,
    pub(crate) trie: Trie,
    pub(crate) shared: SharedSubs,
    pub(crate) retained: RetainStore,
    pub(crate) stats: Stats,
    next_conn: u64,
    rng: u64,
    /// When the broker saw its first connection (uptime counts from there).
    started: Option<Instant>,
    /// Clients connected now.
    pub(crate) connected: usize,
    timers: BinaryHeap<Reverse<(Instant, TimerKey)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Flows of a resumed session not yet resent because the client's
    /// Receive Maximum had no room (MQTT 5.0 §4.9), by client, in order.
    pub(crate) resends: HashMap<Arc<str>, VecDeque<u16>>,
}

impl core::fmt::Debug for Broker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Broker")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// A broker with `config`, allowing every client and topic. `seed` feeds
    /// the generator of assigned client identifiers.
    #[must_use]
    pub fn new(config: Config, seed: u64) -> Self {
        Self::with_hooks(config, seed, Box::new(AllowAll))
    }

    /// A broker whose authentication and authorisation decisions are made by `hooks`.
    #[must_use]
    pub fn with_hooks(config: Config, seed: u64, hooks: Box<dyn Hooks>) -> Self {
        Self {
            config,
            hooks,
            conns: HashMap::new(),
            clients: HashMap::new(),
            trie: Trie::default(),
            shared: SharedSubs::default(),
            retained: RetainStore::default(),
            stats: Stats::default(),
            next_conn: 0,
            rng: seed | 1,
            started: None,
            connected: 0,
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            resends: HashMap::new(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Current counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        Stats {
            clients_connected: self.connected,
            sessions: self.clients.len(),
            subscriptions: self.trie.len() + self.shared.len(),
            retained: self.retained.len(),
            ..self.stats
        }
    }

    /// A new network connection arrived; it must send CONNECT within
    /// [`Config::connect_timeout_secs`].
    pub fn open(&mut self, now: Instant) -> ConnId {
        if self.started.is_none() {
            self.started = Some(now);
            if self.config.sys_interval_secs > 0 {
                self.timers.push(Reverse((now, TimerKey::Sys)));
            }
        }
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        let max = usize::try_from(self.config.max_packet_size).unwrap_or(usize::MAX);
        self.conns.insert(
            id,
            Conn {
                decoder: StreamDecoder::detect_version(max),
                buf: BytesMut::new(),
                version: ProtocolVersion::V3_1_1,
                client: None,
                keep_alive: None,
                deadline: None,
                armed: None,
                will: None,
                aliases_in: HashMap::new(),
                pending_auth: None,
            },
        );
        let secs = u64::from(self.config.connect_timeout_secs);
        self.set_deadline(id, now + Duration::from_secs(secs));
        id
    }

    /// Stream bytes arrived on `conn`. Whole packets are decoded and handled;
    /// a partial one waits for more bytes.
    pub fn handle_bytes(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        self.stats.bytes_received += bytes.len() as u64;
        c.buf.extend_from_slice(bytes);
        // Bounded: every iteration consumes a whole frame or stops.
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.client.is_some() && c.buf.first().is_some_and(|&b| !client_may_send(b)) {
                return self.handle_violation(now, conn, ReasonCode::PROTOCOL_ERROR);
            }
            match c.decoder.decode(&mut c.buf) {
                Ok(Some(packet)) => self.handle_packet(now, conn, packet),
                Ok(None) => return,
                Err(e) => return self.handle_decode_error(now, conn, &e),
            }
        }
        // The buffer of an idle connection is released by `BytesMut` once consumed.
    }

    /// A packet decoded by the adapter arrived on `conn` (the adapter decodes
    /// on the connection's own task, with a `StreamDecoder` that detected the
    /// version from CONNECT).
    pub fn handle_packet(&mut self, now: Instant, conn: ConnId, packet: Packet) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        self.stats.messages_received += 1;
        if let Some(ka) = c.keep_alive {
            c.deadline = Some(now + ka);
        }
        let connected = c.client.is_some();
        match packet {
            Packet::Connect(connect) if !connected && c.pending_auth.is_none() => {
                self.on_connect(now, conn, *connect);
            }
            Packet::Auth(a) => self.on_auth(now, conn, a),
            _ if !connected => self.close(now, conn, ReasonCode::PROTOCOL_ERROR, false),
            Packet::Publish(p) => self.on_publish(now, conn, p),
            Packet::PubAck(a) => self.on_puback(now, conn, a.packet_id, a.reason_code),
            Packet::PubRec(a) => self.on_pubrec(now, conn, a.packet_id, a.reason_code),
            Packet::PubRel(a) => self.on_pubrel(conn, a.packet_id),
            Packet::PubComp(a) => self.on_pubcomp(now, conn, a.packet_id),
            Packet::Subscribe(s) => self.on_subscribe(now, conn, s),
            Packet::Unsubscribe(u) => self.on_unsubscribe(now, conn, u),
            Packet::PingReq => self.send(conn, &Packet::PingResp),
            Packet::Disconnect(d) => self.on_disconnect(now, conn, &d),
            _ => self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR),
        }
    }

    /// Counts bytes an adapter that decodes by itself read, for `$SYS/broker/bytes/received`.
    pub fn record_bytes_received(&mut self, n: usize) {
        self.stats.bytes_received += n as u64;
    }

    /// The adapter's decoder rejected input on `conn`: the connection gets
    /// the specification's answer (CONNACK or DISCONNECT with the reason
    /// code in 5.0) and is closed.
    pub fn handle_decode_error(&mut self, now: Instant, conn: ConnId, error: &DecodeError) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.client.is_none() {
            if let DecodeError::UnsupportedProtocolLevel { .. } = error {
                // MQTT 3.1.1 §3.2.2.3: return code 1, in the 3.1.1 layout.
                self.push_raw(conn, Bytes::from_static(&[0x20, 2, 0, 1]));
            }
            self.stats.protocol_errors += 1;
            return self.close(now, conn, error.reason_code(), true);
        }
        self.protocol_error(now, conn, error.reason_code());
    }

    /// The adapter found `conn` breaking a rule before decoding (for
    /// example a packet type only servers send, see [`client_may_send`]):
    /// DISCONNECT with `reason` in 5.0, then close.
    pub fn handle_violation(&mut self, now: Instant, conn: ConnId, reason: ReasonCode) {
        if self.conns.get(&conn).is_some_and(|c| c.client.is_none()) {
            self.stats.protocol_errors += 1;
            return self.close(now, conn, reason, true);
        }
        self.protocol_error(now, conn, reason);
    }

    /// The network connection `conn` ended (EOF or error) without the
    /// broker asking: the will is published (MQTT 5.0 §3.1.2.5).
    pub fn connection_lost(&mut self, now: Instant, conn: ConnId) {
        self.drop_conn(now, conn, true);
    }

    /// The broker is shutting down: every connection gets DISCONNECT 0x8B
    /// (Server shutting down) in 5.0 and is closed; wills are not published.
    /// Sessions stay in memory (they are not persisted yet).
    pub fn shutdown(&mut self, now: Instant) {
        let mut conns: Vec<ConnId> = self.conns.keys().copied().collect();
        conns.sort_unstable();
        for conn in conns {
            self.close(now, conn, ReasonCode::SERVER_SHUTTING_DOWN, false);
        }
    }

    /// Deadlines passed: keep-alive and CONNECT timeouts, delayed wills,
    /// session expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Bounded: every pop removes an entry; re-pushes are for later times.
        while let Some(Reverse((t, _))) = self.timers.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((t, key))) = self.timers.pop() else {
                break;
            };
            match key {
                TimerKey::Sys => {
                    let started = self.started.unwrap_or(now);
                    if let Some(next) = self.publish_sys(now, started) {
                        self.timers.push(Reverse((next, TimerKey::Sys)));
                    }
                }
                TimerKey::Conn(id) => self.conn_timer(now, id, t),
                TimerKey::Client(id) => self.client_timer(now, &id),
            }
        }
    }

    /// The next transmit, in order.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    fn conn_timer(&mut self, now: Instant, id: ConnId, t: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.armed != Some(t) {
            return;
        }
        c.armed = None;
        match c.deadline {
            Some(d) if d <= now => {
                let reason = if c.client.is_some() {
                    ReasonCode::KEEP_ALIVE_TIMEOUT
                } else {
                    ReasonCode::MAXIMUM_CONNECT_TIME
                };
                self.close(now, id, reason, true);
            }
            Some(d) => self.set_deadline(id, d),
            None => {}
        }
    }

    fn client_timer(&mut self, now: Instant, id: &Arc<str>) {
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        if client.will_at.as_ref().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, will)) = client.will_at.take() {
                self.publish_will(now, id, will);
            }
        }
        let Some(client) = self.clients.get(id) else {
            return;
        };
        if client.conn.is_none() && client.expires_at.is_some_and(|t| t <= now) {
            self.end_session(now, id);
        }
    }

    pub(crate) fn set_deadline(&mut self, id: ConnId, deadline: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.deadline = Some(deadline);
        if c.armed.is_none_or(|a| deadline < a) {
            c.armed = Some(deadline);
            self.timers.push(Reverse((deadline, TimerKey::Conn(id))));
        }
    }

    pub(crate) fn arm_client(&mut self, at: Instant, id: &Arc<str>) {
        self.timers
            .push(Reverse((at, TimerKey::Client(id.clone()))));
    }

    /// A fresh pseudo-random number (xorshift64*), for assigned client ids.
    pub(crate) fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Encodes `packet` for `conn`'s version and queues it.
    pub(crate) fn send(&mut self, conn: ConnId, packet: &Packet) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let mut buf = BytesMut::new();
        if packet.encode(c.version, &mut buf).is_ok() {
            if matches!(packet, Packet::Publish(_)) {
                self.stats.publish_sent += 1;
            }
            self.stats.messages_sent += 1;
            self.push_raw(conn, buf.freeze());
        }
    }

    pub(crate) fn push_raw(&mut self, conn: ConnId, payload: Bytes) {
        self.stats.bytes_sent += payload.len() as u64;
        self.transmits.push_back(Transmit { conn, payload });
    }

    pub(crate) fn push_event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// A connected peer broke a rule: DISCONNECT with `reason` in 5.0, then close.
    pub(crate) fn protocol_error(&mut self, now: Instant, conn: ConnId, reason: ReasonCode) {
        self.stats.protocol_errors += 1;
        self.close(now, conn, reason, true);
    }

    /// The broker closes `conn`: DISCONNECT with `reason` to a connected 5.0
    /// client (MQTT 5.0 §4.13), then [`Event::Close`].
    pub(crate) fn close(&mut self, now: Instant, conn: ConnId, reason: ReasonCode, will: bool) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.client.is_some() && c.version.is_v5() && reason.is_error() {
            let d = Disconnect {
                reason_code: reason,
                ..Disconnect::default()
            };
            self.send(conn, &Packet::Disconnect(d));
        }
        self.push_event(Event::Close { conn, reason });
        self.drop_conn(now, conn, will);
    }

    /// Forgets `conn`; its session stays or ends by its expiry interval, and
    /// its will is published (now or after the Will Delay) when `will`.
    pub(crate) fn drop_conn(&mut self, now: Instant, conn: ConnId, will: bool) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let Some(id) = c.client else {
            return;
        };
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        if client.conn != Some(conn) {
            return;
        }
        client.conn = None;
        self.connected -= 1;
        let expiry = client.expiry;
        let will_msg = c.will.filter(|_| will);
        if let Some(w) = will_msg {
            let delay = w.properties.will_delay_interval.unwrap_or(0).min(expiry);
            if delay == 0 {
                self.publish_will(now, &id, w);
            } else {
                let at = now + Duration::from_secs(u64::from(delay));
                if let Some(client) = self.clients.get_mut(&id) {
                    client.will_at = Some((at, w));
                }
                self.arm_client(at, &id);
            }
        }
        match expiry {
            0 => self.end_session(now, &id),
            u32::MAX => {}
            secs => {
                let at = now + Duration::from_secs(u64::from(secs));
                if let Some(client) = self.clients.get_mut(&id) {
                    client.expires_at = Some(at);
                }
                self.arm_client(at, &id);
            }
        }
    }

    /// Removes `client`'s subscription on `filter` (shared or not); returns
    /// whether it existed.
    pub(crate) fn remove_subscription(&mut self, filter: &str, client: &str) -> bool {
        match mqtt_codec::topic::SharedSubscription::parse(filter) {
            Ok(Some(s)) => self.shared.remove(s.filter, s.group, client),
            _ => self.trie.remove(filter, client),
        }
    }

    /// Removes a session and its subscriptions; a will still waiting for its
    /// delay is published now (MQTT 5.0 §3.1.3.2.2).
    pub(crate) fn end_session(&mut self, now: Instant, id: &Arc<str>) {
        self.resends.remove(id);
        let Some(client) = self.clients.remove(id) else {
            return;
        };
        for filter in client.subs.keys() {
            self.remove_subscription(filter, id);
        }
        if let Some((_, will)) = client.will_at {
            self.publish_will(now, id, will);
        }
    }
}
