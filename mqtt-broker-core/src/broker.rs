//! The broker machine: connections, sessions, timers and the calling order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_client::session::Session;
use mqtt_codec::{
    DecodeError, Disconnect, LastWill, Packet, PacketType, ProtocolVersion, ReasonCode,
    StreamDecoder, Utf8String,
};

use crate::config::Config;
pub use crate::event::{ConnId, Event, Stats, Transmit};
use crate::hooks::{AllowAll, Hooks};
use crate::reason::{has_diagnostics, strip_diagnostics};
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
    /// The decoder and buffered bytes of a connection fed through
    /// [`Broker::handle_bytes`]; adapters that decode themselves never
    /// create it (memory per idle connection).
    pub(crate) stream: Option<Box<ByteStream>>,
    pub(crate) version: ProtocolVersion,
    pub(crate) client: Option<Arc<str>>,
    /// The keep-alive in seconds, 0 for none; the broker allows 1.5 times
    /// it (MQTT 5.0 §3.1.2.10). Seconds rather than a `Duration`: 14 bytes
    /// less in every connection.
    pub(crate) keep_alive: u16,
    pub(crate) deadline: Option<Instant>,
    armed: Option<Instant>,
    /// Boxed: most clients have none, and every connection pays for the field.
    pub(crate) will: Option<Box<LastWill>>,
    /// A B-tree: smaller than a hash map in every connection.
    pub(crate) aliases_in: BTreeMap<u16, Utf8String>,
    /// Topic aliases we send (5.0 clients with a Topic Alias Maximum).
    pub(crate) aliases_out: Option<Box<crate::alias::OutAliases>>,
    /// The client's Maximum Packet Size (MQTT 5.0 §3.1.2.11.4).
    pub(crate) max_packet: u32,
    /// Request Problem Information (MQTT 5.0 §3.1.2.11.7): when `false`, no
    /// Reason String or User Property but on PUBLISH, CONNACK and DISCONNECT.
    pub(crate) problem_info: bool,
    /// A CONNECT in the middle of its AUTH exchange.
    pub(crate) pending_auth: Option<Box<crate::auth::PendingAuth>>,
}

impl Conn {
    /// How long the connection may stay silent: 1.5 times its keep-alive
    /// (MQTT 5.0 §3.1.2.10), if it has one.
    pub(crate) fn keep_alive_limit(&self) -> Option<Duration> {
        (self.keep_alive > 0).then(|| Duration::from_millis(u64::from(self.keep_alive) * 1500))
    }
}

/// A hash map keyed by what peers choose (client ids, topic levels): aHash
/// with a per-process random key, which resists hash flooding as SipHash
/// does and costs less per lookup on the routing path.
pub(crate) type Map<K, V> = HashMap<K, V, ahash::RandomState>;

/// Hashes [`ConnId`]s, which the broker numbers itself (no peer chooses
/// them, so no flooding attack on the hash): a multiplication instead of
/// SipHash on the hot path of every packet.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ConnIdHash;

impl std::hash::BuildHasher for ConnIdHash {
    type Hasher = ConnIdHasher;

    fn build_hasher(&self) -> ConnIdHasher {
        ConnIdHasher(0)
    }
}

/// The hasher of [`ConnIdHash`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ConnIdHasher(u64);

impl std::hash::Hasher for ConnIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: spreads sequential numbers over the high bits too.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// What [`Broker::handle_bytes`] keeps between calls.
#[derive(Debug)]
pub(crate) struct ByteStream {
    pub(crate) decoder: StreamDecoder,
    pub(crate) buf: BytesMut,
}

#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) session: Session,
    /// A B-tree: nothing allocated while empty, and smaller than a hash map.
    pub(crate) subs: BTreeMap<Box<str>, SubEntry>,
    pub(crate) conn: Option<ConnId>,
    pub(crate) version: ProtocolVersion,
    /// Session Expiry Interval in seconds; `u32::MAX` never expires.
    pub(crate) expiry: u32,
    pub(crate) expires_at: Option<Instant>,
    /// Boxed with its time: only sessions waiting for a Will Delay have one.
    pub(crate) will_at: Option<Box<(Instant, LastWill)>>,
    /// The client's Maximum Packet Size.
    pub(crate) max_packet: u32,
    /// When queued messages with a Message Expiry Interval expire, by packet
    /// id. Boxed: most sessions never queue such a message.
    // The box is the point: 8 bytes in every session instead of 24.
    #[allow(clippy::box_collection)]
    pub(crate) expires: Option<Box<BTreeMap<u16, Instant>>>,
    /// Whether messages are being dropped for a full queue ([`Event::QueueFull`] sent).
    pub(crate) dropping: bool,
}

/// The key of the `$SYS` timer among the connection timers: connections
/// are numbered from 1.
const SYS_TIMER: u64 = 0;

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
    /// Boxed values: a hash map keeps up to twice the buckets it needs, and
    /// a bucket is then a pointer instead of the whole connection or session
    /// (memory per idle connection).
    pub(crate) conns: HashMap<ConnId, Box<Conn>, ConnIdHash>,
    pub(crate) clients: Map<Arc<str>, Box<Client>>,
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
    /// Connection timers by [`ConnId`] number, and the `$SYS` timer
    /// ([`SYS_TIMER`]): 24 bytes an entry, one entry per idle connection
    /// (memory per idle connection).
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Session timers (Will Delay, Session Expiry), by client id.
    client_timers: BinaryHeap<Reverse<(Instant, Arc<str>)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Connections that were owed a packet larger than their Maximum Packet
    /// Size: closed at the end of the call.
    oversized: Vec<ConnId>,
    /// `$SYS` load averages and the values last published.
    pub(crate) sys: crate::sys::SysState,
    /// Messages a flush takes from a session, kept between calls (no
    /// allocation per delivery).
    pub(crate) flush_buf: Vec<mqtt_codec::Publish>,
    /// The clients one message goes to, kept between calls of `route`.
    pub(crate) route_targets: Map<Arc<str>, crate::route::Delivery>,
    /// Flows of a resumed session not yet resent because the client's
    /// Receive Maximum had no room (MQTT 5.0 §4.9), by client, in order.
    pub(crate) resends: Map<Arc<str>, VecDeque<u16>>,
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
            conns: HashMap::default(),
            clients: Map::default(),
            trie: Trie::default(),
            shared: SharedSubs::default(),
            retained: RetainStore::default(),
            stats: Stats::default(),
            next_conn: 0,
            rng: seed | 1,
            started: None,
            connected: 0,
            timers: BinaryHeap::new(),
            client_timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            oversized: Vec::new(),
            sys: crate::sys::SysState::default(),
            flush_buf: Vec::new(),
            route_targets: Map::default(),
            resends: Map::default(),
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
                self.timers.push(Reverse((now, SYS_TIMER)));
            }
        }
        self.next_conn += 1;
        self.stats.sockets += 1;
        let id = ConnId(self.next_conn);
        self.conns.insert(
            id,
            Box::new(Conn {
                stream: None,
                version: ProtocolVersion::V3_1_1,
                client: None,
                keep_alive: 0,
                deadline: None,
                armed: None,
                will: None,
                aliases_in: BTreeMap::new(),
                aliases_out: None,
                max_packet: u32::MAX,
                problem_info: true,
                pending_auth: None,
            }),
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
        let max = usize::try_from(self.config.max_packet_size).unwrap_or(usize::MAX);
        // After a CONNECT handed over with `handle_packet`, its version.
        let seen = c.client.is_some() || c.pending_auth.is_some();
        let version = c.version;
        c.stream
            .get_or_insert_with(|| {
                let decoder = if seen {
                    StreamDecoder::new(version, max)
                } else {
                    StreamDecoder::detect_version(max)
                };
                Box::new(ByteStream {
                    decoder,
                    buf: BytesMut::new(),
                })
            })
            .buf
            .extend_from_slice(bytes);
        // Bounded: every iteration consumes a whole frame or stops.
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let connected = c.client.is_some();
            let Some(s) = c.stream.as_mut() else {
                return;
            };
            if connected && s.buf.first().is_some_and(|&b| !client_may_send(b)) {
                return self.handle_violation(now, conn, ReasonCode::PROTOCOL_ERROR);
            }
            match s.decoder.decode(&mut s.buf) {
                Ok(Some(packet)) => {
                    if let Packet::Connect(c) = &packet {
                        s.decoder.set_version(c.protocol_version);
                    }
                    self.handle_packet(now, conn, packet);
                }
                Ok(None) => return,
                Err(e) => return self.handle_decode_error(now, conn, &e),
            }
        }
    }

    /// A packet decoded by the adapter arrived on `conn` (the adapter decodes
    /// on the connection's own task, with a `StreamDecoder` that detected the
    /// version from CONNECT).
    pub fn handle_packet(&mut self, now: Instant, conn: ConnId, packet: Packet) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        self.stats.messages_received += 1;
        if let Some(ka) = c.keep_alive_limit() {
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
        self.close_oversized(now);
    }

    /// Closes the connections that were owed a packet larger than their
    /// Maximum Packet Size (MQTT 5.0 §3.1.2.11.4: the server MUST NOT send
    /// it), without DISCONNECT (which may not fit either), will published.
    fn close_oversized(&mut self, now: Instant) {
        // Bounded: each turn removes one entry; closing sends nothing more to it.
        while let Some(conn) = self.oversized.pop() {
            if self.conns.contains_key(&conn) {
                self.push_event(Event::Close {
                    conn,
                    reason: ReasonCode::PACKET_TOO_LARGE,
                });
                self.drop_conn(now, conn, true);
            }
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
        // A `$share/` filter without share name or filter: Mosquitto answers
        // Protocol Error, which MQTT 5.0 §4.8.2 leaves open (the codec
        // reports a malformed filter).
        let reason = match error {
            DecodeError::InvalidTopicFilter {
                error: mqtt_codec::TopicError::InvalidSharedSubscription,
                ..
            } => ReasonCode::PROTOCOL_ERROR,
            e => e.reason_code(),
        };
        if c.client.is_none() {
            if let DecodeError::UnsupportedProtocolLevel { .. } = error {
                // MQTT 3.1.1 §3.2.2.3: return code 1, in the 3.1.1 layout.
                self.push_raw(conn, Bytes::from_static(&[0x20, 2, 0, 1]));
            }
            self.stats.protocol_errors += 1;
            return self.close(now, conn, reason, true);
        }
        // Once connected, a CONNECT-only answer (say a second CONNECT with
        // an unknown level, 0x84) is a Protocol Error (MQTT-3.1.0-2).
        let reason = if reason.is_valid_for(PacketType::Disconnect, ProtocolVersion::V5) {
            reason
        } else {
            ReasonCode::PROTOCOL_ERROR
        };
        self.protocol_error(now, conn, reason);
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
        // Bounded: every turn pops an entry; re-pushes are for later times.
        // Among timers due at the same time, `$SYS` and connections go first.
        loop {
            let conn_due = self.timers.peek().map(|Reverse((t, _))| *t);
            let client_due = self.client_timers.peek().map(|Reverse((t, _))| *t);
            let conn_first = match (conn_due, client_due) {
                (Some(a), Some(b)) => a <= b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if conn_first {
                if conn_due.is_none_or(|t| t > now) {
                    break;
                }
                let Some(Reverse((t, key))) = self.timers.pop() else {
                    break;
                };
                if key == SYS_TIMER {
                    let started = self.started.unwrap_or(now);
                    if let Some(next) = self.publish_sys(now, started) {
                        self.timers.push(Reverse((next, SYS_TIMER)));
                    }
                } else {
                    self.conn_timer(now, ConnId(key), t);
                }
            } else {
                if client_due.is_none_or(|t| t > now) {
                    break;
                }
                let Some(Reverse((_, id))) = self.client_timers.pop() else {
                    break;
                };
                self.client_timer(now, &id);
            }
        }
        self.close_oversized(now);
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
        let conn = self.timers.peek().map(|Reverse((t, _))| *t);
        let client = self.client_timers.peek().map(|Reverse((t, _))| *t);
        match (conn, client) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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
        if client.will_at.as_ref().is_some_and(|w| w.0 <= now) {
            if let Some(w) = client.will_at.take() {
                self.publish_will(now, id, w.1);
            }
        }
        let Some(client) = self.clients.get(id) else {
            return;
        };
        if client.conn.is_none() && client.expires_at.is_some_and(|t| t <= now) {
            self.stats.clients_expired += 1;
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
            self.timers.push(Reverse((deadline, id.0)));
        }
    }

    pub(crate) fn arm_client(&mut self, at: Instant, id: &Arc<str>) {
        self.client_timers.push(Reverse((at, id.clone())));
    }

    /// A fresh pseudo-random number (xorshift64*), for assigned client ids.
    pub(crate) fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Encodes `packet` for `conn`'s version and queues it. Without Request
    /// Problem Information, or when the packet would exceed the client's
    /// Maximum Packet Size, Reason String and User Properties are left out
    /// (MQTT 5.0 §3.1.2.11.4, §3.1.2.11.7); a packet still too large is not
    /// sent and the connection is closed.
    pub(crate) fn send(&mut self, conn: ConnId, packet: &Packet) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if self.oversized.contains(&conn) {
            return;
        }
        let version = c.version;
        let max = usize::try_from(c.max_packet).unwrap_or(usize::MAX);
        if !c.problem_info && has_diagnostics(packet, false) {
            let mut bare = packet.clone();
            strip_diagnostics(&mut bare, false);
            return self.send(conn, &bare);
        }
        // One allocation of about the right size instead of growing.
        let size = match packet {
            Packet::Publish(p) => 16 + p.topic.len() + p.payload.len(),
            _ => 16,
        };
        let mut buf = BytesMut::with_capacity(size);
        if packet.encode(version, &mut buf).is_err() {
            return;
        }
        if buf.len() > max {
            if has_diagnostics(packet, true) {
                let mut bare = packet.clone();
                strip_diagnostics(&mut bare, true);
                return self.send(conn, &bare);
            }
            match packet {
                // Checked before queueing; a message that grew is dropped.
                Packet::Publish(_) => self.stats.dropped += 1,
                Packet::Disconnect(_) => {}
                _ => self.oversized.push(conn),
            }
            return;
        }
        if let Packet::Publish(p) = packet {
            self.stats.publish_sent += 1;
            self.stats.publish_bytes_sent += p.payload.len() as u64;
        }
        self.stats.messages_sent += 1;
        self.push_raw(conn, buf.freeze());
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
            // Only DISCONNECT's codes (a hook may refuse with a CONNACK one).
            let reason = if reason.is_valid_for(PacketType::Disconnect, ProtocolVersion::V5) {
                reason
            } else {
                ReasonCode::UNSPECIFIED_ERROR
            };
            let mut d = Disconnect {
                reason_code: reason,
                ..Disconnect::default()
            };
            d.properties.reason_string = self.reason_string(reason);
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
                self.publish_will(now, &id, *w);
            } else {
                let at = now + Duration::from_secs(u64::from(delay));
                if let Some(client) = self.clients.get_mut(&id) {
                    client.will_at = Some(Box::new((at, *w)));
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
        if let Some(w) = client.will_at {
            self.publish_will(now, id, w.1);
        }
    }
}
