//! The client state machine.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Ack as AckPacket, Connect, Disconnect, Packet, PacketType, ProtocolVersion, QoS, ReasonCode,
    StreamDecoder, Subscribe, Subscription, Utf8String,
};

mod commands;
mod incoming;

use crate::alias::OutgoingAliases;
use crate::config::Config;
use crate::event::{DisconnectReason, Event};
use crate::keepalive::{KeepAlive, KeepAliveAction};
use crate::rng::Rng;
use crate::session::{OutState, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No connection; `reconnect_at` says when to open one, if ever.
    Down { reconnect_at: Option<Instant> },
    /// CONNECT sent, waiting for CONNACK until the deadline.
    Connecting { deadline: Instant },
    /// CONNACK accepted.
    Up,
    /// `disconnect` was called.
    Closed,
}

/// Limits the server announced in CONNACK (MQTT 5.0 §3.2.2.3).
#[derive(Debug, Clone, Copy)]
struct ServerLimits {
    maximum_qos: QoS,
    retain_available: bool,
    maximum_packet_size: Option<u32>,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: None,
        }
    }
}

/// A sans-IO MQTT client: one logical session over a sequence of
/// connections.
///
/// The caller owns the transport (TCP, TLS, WebSocket...) and the clock.
/// Calling order, after each input or command:
///
/// 1. an input: [`connect`](Self::connect) once a transport is open,
///    [`handle_bytes`](Self::handle_bytes) when bytes arrive,
///    [`handle_timeout`](Self::handle_timeout) when the deadline passed,
///    [`connection_lost`](Self::connection_lost) when the transport failed;
///    or a command: [`publish`](Self::publish), [`subscribe`](Self::subscribe),
///    [`unsubscribe`](Self::unsubscribe), [`auth`](Self::auth),
///    [`disconnect`](Self::disconnect);
/// 2. drain [`poll_transmit`](Self::poll_transmit) into the transport;
/// 3. drain [`poll_event`](Self::poll_event);
/// 4. sleep until [`poll_timeout`](Self::poll_timeout) or the next input.
///
/// After [`Event::Disconnected`], close the transport (once `poll_transmit`
/// is drained) and, if it says `reconnect_at`, open a new one then.
#[derive(Debug)]
pub struct Client {
    config: Config,
    client_id: String,
    rng: Rng,
    state: State,
    session: Session,
    decoder: StreamDecoder,
    rx: BytesMut,
    tx: BytesMut,
    scratch: BytesMut,
    events: VecDeque<Event>,
    keepalive: KeepAlive,
    limits: ServerLimits,
    attempt: u32,
    /// Filters granted by the server, for resubscription (filter → subscription).
    subscriptions: BTreeMap<String, (Subscription, Option<u32>)>,
    pending_sub: BTreeMap<u16, (Vec<Subscription>, Option<u32>)>,
    pending_unsub: BTreeMap<u16, Vec<Utf8String>>,
    /// Incoming topic aliases (MQTT 5.0 §3.3.2.3.4).
    aliases: HashMap<u16, Utf8String>,
    /// Outgoing topic aliases, when `Config::outgoing_topic_aliases` is on.
    out_aliases: OutgoingAliases,
    /// Flows of a resumed session not resent yet because the server's
    /// Receive Maximum had no room for them (MQTT 5.0 §4.9), in order.
    resend_waiting: VecDeque<u16>,
}

impl Client {
    /// A client with `config`; `seed` feeds its PRNG (client identifier and
    /// back-off jitter). `now` is any instant of the caller's clock.
    #[must_use]
    pub fn new(config: Config, seed: u64, now: Instant) -> Self {
        let mut rng = Rng::new(seed);
        let client_id = if config.client_id.is_empty() {
            format!("m2m-{:016x}", rng.next_u64())
        } else {
            config.client_id.clone()
        };
        let window = config.max_inflight;
        let decoder = StreamDecoder::new(config.version, config.max_packet_size as usize);
        let keepalive = KeepAlive::new(now, Duration::ZERO, config.ping_timeout);
        Self {
            config,
            client_id,
            rng,
            state: State::Down { reconnect_at: None },
            session: Session::new(window),
            decoder,
            rx: BytesMut::new(),
            tx: BytesMut::new(),
            scratch: BytesMut::new(),
            events: VecDeque::new(),
            keepalive,
            limits: ServerLimits::default(),
            attempt: 0,
            subscriptions: BTreeMap::new(),
            pending_sub: BTreeMap::new(),
            pending_unsub: BTreeMap::new(),
            aliases: HashMap::new(),
            out_aliases: OutgoingAliases::default(),
            resend_waiting: VecDeque::new(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The client identifier in use (configured, drawn, or assigned by the server).
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Whether CONNACK accepted the current connection.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.state == State::Up
    }

    /// Whether `disconnect` closed the client.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether `publish` has room for another QoS 1 or 2 message
    /// (fewer than `max_queued` wait for the window).
    #[must_use]
    pub fn can_queue(&self) -> bool {
        self.session.queued_len() < self.config.max_queued
    }

    /// The session state (inflight window, queued messages).
    #[must_use]
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// When to open a new transport and call [`connect`](Self::connect), if
    /// the connection is down and the policy reconnects.
    #[must_use]
    pub fn reconnect_at(&self) -> Option<Instant> {
        match self.state {
            State::Down { reconnect_at } => reconnect_at,
            _ => None,
        }
    }

    /// A new transport is open: sends CONNECT (MQTT 5.0 §3.1). Bytes not yet
    /// taken from `poll_transmit` for an earlier connection are dropped.
    pub fn connect(&mut self, now: Instant) {
        self.rx.clear();
        self.tx.clear();
        self.aliases.clear();
        self.out_aliases.reset(0);
        self.decoder =
            StreamDecoder::new(self.config.version, self.config.max_packet_size as usize);
        let c = &self.config;
        let mut connect = Connect::new(c.version);
        connect.clean_start = c.clean_start;
        connect.keep_alive = c.keep_alive;
        connect.client_id = Utf8String::try_from(self.client_id.as_str()).unwrap_or_default();
        connect.username = c
            .username
            .as_deref()
            .and_then(|u| Utf8String::try_from(u).ok());
        connect.password.clone_from(&c.password);
        connect.will.clone_from(&c.will);
        if c.version.is_v5() {
            connect.properties = c.connect_properties.clone();
            let p = &mut *connect.properties;
            if let Some(s) = c.session_expiry_interval.filter(|&s| s > 0) {
                p.session_expiry_interval = Some(s);
            }
            if let Some(r) = c.receive_maximum.filter(|&r| r > 0) {
                p.receive_maximum = Some(r);
            }
            p.maximum_packet_size = Some(c.max_packet_size.max(1));
            if c.topic_alias_maximum > 0 {
                p.topic_alias_maximum = Some(c.topic_alias_maximum);
            }
            if connect.properties.is_empty() {
                connect.properties = mqtt_codec::Props::default();
            }
        }
        self.keepalive = KeepAlive::new(
            now,
            Duration::from_secs(u64::from(c.keep_alive)),
            c.ping_timeout,
        );
        self.state = State::Connecting {
            deadline: now + c.connect_timeout,
        };
        self.send(now, &Packet::Connect(Box::new(connect)));
    }

    /// Bytes arrived on the current transport.
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if !matches!(self.state, State::Connecting { .. } | State::Up) {
            return;
        }
        self.rx.extend_from_slice(bytes);
        loop {
            match self.decoder.decode(&mut self.rx) {
                Ok(Some(packet)) => self.handle_packet(now, packet),
                Ok(None) => break,
                Err(e) => {
                    self.protocol_error(now, e.reason_code());
                    break;
                }
            }
            if !matches!(self.state, State::Connecting { .. } | State::Up) {
                break;
            }
        }
    }

    /// The deadline from [`poll_timeout`](Self::poll_timeout) passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Connecting { deadline } if now >= deadline => {
                self.lost(now, DisconnectReason::ConnectTimeout, true);
            }
            State::Up => match self.keepalive.poll(now) {
                KeepAliveAction::SendPing => self.send(now, &Packet::PingReq),
                KeepAliveAction::Dead => self.lost(now, DisconnectReason::KeepAliveTimeout, true),
                KeepAliveAction::Nothing => {}
            },
            _ => {}
        }
    }

    /// The transport closed or failed.
    pub fn connection_lost(&mut self, now: Instant) {
        if matches!(self.state, State::Connecting { .. } | State::Up) {
            self.lost(now, DisconnectReason::ConnectionLost, true);
        }
    }

    /// Opening a transport failed (or it closed before [`connect`](Self::connect)):
    /// schedules the next attempt by the back-off policy and reports
    /// [`Event::Disconnected`] with [`DisconnectReason::ConnectionLost`].
    pub fn connect_failed(&mut self, now: Instant) {
        if matches!(self.state, State::Down { .. }) {
            self.lost(now, DisconnectReason::ConnectionLost, true);
        }
    }

    /// Bytes to write to the transport, batched.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        (!self.tx.is_empty()).then(|| self.tx.split().freeze())
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next (or, while
    /// down, when to reconnect).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Down { reconnect_at } => reconnect_at,
            State::Connecting { deadline } => Some(deadline),
            State::Up => self.keepalive.deadline(),
            State::Closed => None,
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn send(&mut self, now: Instant, packet: &Packet) {
        // Packets built here are valid by construction; one that is not (a
        // user's property the version cannot carry) is dropped.
        let len = self.tx.len();
        if packet.encode(self.config.version, &mut self.tx).is_err() {
            self.tx.truncate(len);
            return;
        }
        self.keepalive.on_send(now);
    }

    fn send_subscribe(
        &mut self,
        now: Instant,
        id: u16,
        filters: &[Subscription],
        sub_id: Option<u32>,
    ) {
        let mut s = Subscribe::new(id, filters.to_vec());
        if let Some(sid) = sub_id.filter(|_| self.config.version.is_v5()) {
            s.properties.subscription_identifiers.push(sid);
        }
        self.send(now, &Packet::Subscribe(s));
    }

    fn flush_queue(&mut self, now: Instant) {
        if self.state != State::Up {
            return;
        }
        self.resend_more(now);
        while let Some(mut p) = self.session.next_to_send() {
            self.out_aliases.apply(&mut p);
            self.send(now, &Packet::Publish(p));
        }
    }

    /// Resends waiting flows of a resumed session while the server's Receive
    /// Maximum has room (each waiting flow is still counted in flight).
    fn resend_more(&mut self, now: Instant) {
        let window = usize::from(self.session.window());
        // Bounded: each turn takes an identifier off the list.
        while self
            .session
            .inflight_len()
            .saturating_sub(self.resend_waiting.len())
            < window
        {
            let Some(id) = self.resend_waiting.pop_front() else {
                break;
            };
            match self.session.state(id) {
                Some(OutState::AwaitPubAck(p) | OutState::AwaitPubRec(p)) => {
                    let mut p = p.clone();
                    p.dup = true;
                    self.out_aliases.apply(&mut p);
                    self.send(now, &Packet::Publish(p));
                }
                Some(OutState::AwaitPubComp) => {
                    self.send(now, &Packet::PubRel(AckPacket::new(id)));
                }
                // Acknowledged meanwhile.
                None => {}
            }
        }
    }

    fn lost(&mut self, now: Instant, reason: DisconnectReason, may_reconnect: bool) {
        let reconnect_at = self.config.reconnect.filter(|_| may_reconnect).map(|b| {
            let d = b.delay(self.attempt, &mut self.rng);
            self.attempt = self.attempt.saturating_add(1);
            now + d
        });
        self.state = State::Down { reconnect_at };
        self.rx.clear();
        self.events.push_back(Event::Disconnected {
            reason,
            reconnect_at,
        });
    }

    fn protocol_error(&mut self, now: Instant, mut reason: ReasonCode) {
        // Decode errors map to the code a server would use; some of those
        // (0x84 in CONNACK) are not DISCONNECT codes.
        if !reason.is_valid_for(PacketType::Disconnect, ProtocolVersion::V5) {
            reason = ReasonCode::PROTOCOL_ERROR;
        }
        if self.config.version.is_v5() {
            let d = Disconnect {
                reason_code: reason,
                ..Disconnect::default()
            };
            self.send(now, &Packet::Disconnect(d));
        }
        self.lost(now, DisconnectReason::ProtocolError(reason), true);
    }
}

#[cfg(test)]
mod tests;
