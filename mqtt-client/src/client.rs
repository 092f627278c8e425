//! The client state machine.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    topic, Ack as AckPacket, Auth, ConnAck, Connect, Disconnect, Packet, PacketType,
    ProtocolVersion, Publish, QoS, ReasonCode, StreamDecoder, Subscribe, Subscription, Unsubscribe,
    Utf8String,
};

use crate::alias::OutgoingAliases;
use crate::config::Config;
use crate::error::{CommandError, PublishError};
use crate::event::{DisconnectReason, Event};
use crate::keepalive::{KeepAlive, KeepAliveAction};
use crate::rng::Rng;
use crate::session::{Ack, Resend, Session};

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

    /// Publishes a message (MQTT 5.0 §3.3). QoS 0 is sent at once (and
    /// needs a connection); QoS 1 and 2 get a packet identifier, returned,
    /// and are sent when the inflight window has room, after a reconnect if
    /// need be. The `packet_id` and `dup` fields of `publish` are ignored.
    ///
    /// # Errors
    /// [`PublishError`]: no connection for QoS 0, a limit of the server,
    /// a full queue, or a message that cannot be encoded.
    pub fn publish(
        &mut self,
        now: Instant,
        mut publish: Publish,
    ) -> Result<Option<u16>, PublishError> {
        if self.state == State::Closed {
            return Err(PublishError::Closed);
        }
        topic::validate_topic_name(&publish.topic).map_err(PublishError::Topic)?;
        if publish.qos > self.limits.maximum_qos {
            return Err(PublishError::QoSNotSupported {
                max: self.limits.maximum_qos,
            });
        }
        if publish.retain && !self.limits.retain_available {
            return Err(PublishError::RetainNotSupported);
        }
        publish.dup = false;
        let qos0 = publish.qos == QoS::AtMostOnce;
        if qos0 && self.state != State::Up {
            return Err(PublishError::NotConnected);
        }
        publish.packet_id = u16::from(!qos0);
        // QoS 0 is encoded straight into the send buffer; QoS 1 and 2 once
        // here to refuse what cannot be sent, and again when the window opens.
        let mut packet = Packet::Publish(publish);
        if qos0 {
            if let Packet::Publish(p) = &mut packet {
                self.out_aliases.apply(p);
            }
        }
        let buf = if qos0 {
            &mut self.tx
        } else {
            &mut self.scratch
        };
        if !qos0 {
            buf.clear();
        }
        let start = buf.len();
        let encoded = packet.encode(self.config.version, buf);
        let size = buf.len() - start;
        let too_large = self
            .limits
            .maximum_packet_size
            .filter(|&max| size > max as usize);
        if encoded.is_err() || too_large.is_some() {
            buf.truncate(start);
        }
        encoded.map_err(PublishError::Encode)?;
        if let Some(max) = too_large {
            return Err(PublishError::TooLarge { size, max });
        }
        if qos0 {
            self.keepalive.on_send(now);
            return Ok(None);
        }
        let Packet::Publish(mut publish) = packet else {
            unreachable!("wrapped just above")
        };
        if self.session.queued_len() >= self.config.max_queued {
            return Err(PublishError::QueueFull);
        }
        publish.packet_id = 0;
        let id = self
            .session
            .enqueue(publish)
            .map_err(|_| PublishError::QueueFull)?;
        self.flush_queue(now);
        Ok(Some(id))
    }

    /// Subscribes to `filters` (MQTT 5.0 §3.8) with an optional Subscription
    /// Identifier (5.0). Sent now if connected, else on connect. Returns the
    /// packet identifier that [`Event::Subscribed`] will carry.
    ///
    /// # Errors
    /// [`CommandError`] for no filter, an invalid filter or no free identifier.
    pub fn subscribe(
        &mut self,
        now: Instant,
        filters: Vec<Subscription>,
        subscription_id: Option<u32>,
    ) -> Result<u16, CommandError> {
        if filters.is_empty() {
            return Err(CommandError::Empty);
        }
        for f in &filters {
            topic::validate_topic_filter(&f.filter).map_err(CommandError::Filter)?;
        }
        let id = self.session.reserve_id().ok_or(CommandError::NoPacketId)?;
        if self.state == State::Up {
            self.send_subscribe(now, id, &filters, subscription_id);
        }
        self.pending_sub.insert(id, (filters, subscription_id));
        Ok(id)
    }

    /// Unsubscribes from `filters` (MQTT 5.0 §3.10). Returns the packet
    /// identifier that [`Event::Unsubscribed`] will carry.
    ///
    /// # Errors
    /// [`CommandError`] for no filter, an invalid filter or no free identifier.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: Vec<Utf8String>,
    ) -> Result<u16, CommandError> {
        if filters.is_empty() {
            return Err(CommandError::Empty);
        }
        for f in &filters {
            topic::validate_topic_filter(f).map_err(CommandError::Filter)?;
            self.subscriptions.remove(f.as_str());
        }
        let id = self.session.reserve_id().ok_or(CommandError::NoPacketId)?;
        if self.state == State::Up {
            self.send(
                now,
                &Packet::Unsubscribe(Unsubscribe::new(id, filters.clone())),
            );
        }
        self.pending_unsub.insert(id, filters);
        Ok(id)
    }

    /// Sends AUTH (MQTT 5.0 §3.15), e.g. in answer to [`Event::Auth`] or to
    /// re-authenticate.
    ///
    /// # Errors
    /// [`CommandError::NotV5`] before MQTT 5.0, [`CommandError::NotConnected`]
    /// without a transport, [`CommandError::InvalidReasonCode`] for a code
    /// AUTH may not carry.
    pub fn auth(&mut self, now: Instant, auth: Auth) -> Result<(), CommandError> {
        if !self.config.version.is_v5() {
            return Err(CommandError::NotV5);
        }
        if !auth
            .reason_code
            .is_valid_for(PacketType::Auth, ProtocolVersion::V5)
        {
            return Err(CommandError::InvalidReasonCode {
                code: auth.reason_code,
            });
        }
        if !matches!(self.state, State::Connecting { .. } | State::Up) {
            return Err(CommandError::NotConnected);
        }
        self.send(now, &Packet::Auth(auth));
        Ok(())
    }

    /// Sends DISCONNECT with `reason` (MQTT 5.0 §3.14; 3.1.1 sends no
    /// reason) and closes the client: no reconnect until
    /// [`connect`](Self::connect) is called again. Session state is kept.
    /// A code that DISCONNECT may not carry (MQTT 5.0 §3.14.2.1) goes out as
    /// 0x80 Unspecified error.
    pub fn disconnect(&mut self, now: Instant, mut reason: ReasonCode) {
        if !reason.is_valid_for(PacketType::Disconnect, ProtocolVersion::V5) {
            reason = ReasonCode::UNSPECIFIED_ERROR;
        }
        if matches!(self.state, State::Connecting { .. } | State::Up) {
            let d = Disconnect {
                reason_code: reason,
                ..Disconnect::default()
            };
            self.send(now, &Packet::Disconnect(d));
        }
        if self.state != State::Closed {
            self.state = State::Closed;
            self.events.push_back(Event::Disconnected {
                reason: DisconnectReason::Local,
                reconnect_at: None,
            });
        }
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
        while let Some(mut p) = self.session.next_to_send() {
            self.out_aliases.apply(&mut p);
            self.send(now, &Packet::Publish(p));
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

    fn handle_packet(&mut self, now: Instant, packet: Packet) {
        if let State::Connecting { .. } = self.state {
            match packet {
                Packet::ConnAck(c) => self.on_connack(now, c),
                Packet::Auth(a) => self.events.push_back(Event::Auth(a)),
                Packet::Disconnect(d) => {
                    self.lost(now, DisconnectReason::ServerDisconnect(d.reason_code), true);
                }
                _ => self.protocol_error(now, ReasonCode::PROTOCOL_ERROR),
            }
            return;
        }
        match packet {
            Packet::Publish(p) => self.on_publish(now, p),
            Packet::PubAck(a) => match self.session.on_puback(a.packet_id, a.reason_code) {
                Ack::Done(qos) => self.published(now, a.packet_id, qos),
                Ack::Refused(reason) => self.refused(now, a.packet_id, reason),
                _ => {}
            },
            Packet::PubRec(a) => match self.session.on_pubrec(a.packet_id, a.reason_code) {
                Ack::SendPubRel => self.send(now, &Packet::PubRel(AckPacket::new(a.packet_id))),
                Ack::Refused(reason) => self.refused(now, a.packet_id, reason),
                _ => {
                    // MQTT 5.0 §4.3.3: answer an unknown PUBREC with PUBREL "not found".
                    let rel = AckPacket::new(a.packet_id)
                        .with_reason_code(ReasonCode::PACKET_IDENTIFIER_NOT_FOUND);
                    let rel = if self.config.version.is_v5() {
                        rel
                    } else {
                        AckPacket::new(a.packet_id)
                    };
                    self.send(now, &Packet::PubRel(rel));
                }
            },
            Packet::PubComp(a) => {
                if let Ack::Done(qos) = self.session.on_pubcomp(a.packet_id) {
                    self.published(now, a.packet_id, qos);
                }
            }
            Packet::PubRel(a) => {
                let known = self.session.on_pubrel(a.packet_id);
                let mut comp = AckPacket::new(a.packet_id);
                if !known && self.config.version.is_v5() {
                    comp = comp.with_reason_code(ReasonCode::PACKET_IDENTIFIER_NOT_FOUND);
                }
                self.send(now, &Packet::PubComp(comp));
            }
            Packet::SubAck(s) => {
                if let Some((filters, sub_id)) = self.pending_sub.remove(&s.packet_id) {
                    self.session.release_id(s.packet_id);
                    for (f, code) in filters.into_iter().zip(&s.reason_codes) {
                        if !code.is_error() {
                            self.subscriptions
                                .insert(f.filter.as_str().to_owned(), (f, sub_id));
                        }
                    }
                    self.events.push_back(Event::Subscribed {
                        packet_id: s.packet_id,
                        reason_codes: s.reason_codes,
                    });
                }
            }
            Packet::UnsubAck(u) => {
                if self.pending_unsub.remove(&u.packet_id).is_some() {
                    self.session.release_id(u.packet_id);
                    self.events.push_back(Event::Unsubscribed {
                        packet_id: u.packet_id,
                        reason_codes: u.reason_codes,
                    });
                }
            }
            Packet::PingResp => self.keepalive.on_pingresp(),
            Packet::Disconnect(d) => {
                self.lost(now, DisconnectReason::ServerDisconnect(d.reason_code), true);
            }
            Packet::Auth(a) => self.events.push_back(Event::Auth(a)),
            // CONNACK twice, or packets only a client sends.
            _ => self.protocol_error(now, ReasonCode::PROTOCOL_ERROR),
        }
    }

    fn published(&mut self, now: Instant, packet_id: u16, qos: QoS) {
        self.events.push_back(Event::Published { packet_id, qos });
        self.flush_queue(now);
    }

    fn refused(&mut self, now: Instant, packet_id: u16, reason: ReasonCode) {
        self.events
            .push_back(Event::PublishRefused { packet_id, reason });
        self.flush_queue(now);
    }

    fn on_connack(&mut self, now: Instant, c: ConnAck) {
        let v5 = self.config.version.is_v5();
        if c.reason_code != ReasonCode::SUCCESS {
            // Worth retrying only when the server is unavailable or busy.
            let code = c.reason_code;
            let retry = if v5 {
                matches!(code.0, 0x88 | 0x89 | 0x97 | 0x9F)
            } else {
                code.0 == 3
            };
            self.lost(now, DisconnectReason::Refused(code), retry);
            return;
        }
        self.state = State::Up;
        self.attempt = 0;
        let p = &c.properties;
        self.limits = ServerLimits {
            maximum_qos: p.maximum_qos.unwrap_or(QoS::ExactlyOnce),
            retain_available: p.retain_available.unwrap_or(true),
            maximum_packet_size: p.maximum_packet_size,
        };
        let window = p
            .receive_maximum
            .unwrap_or(u16::MAX)
            .min(self.config.max_inflight);
        self.session.set_window(window);
        if self.config.outgoing_topic_aliases && self.config.version.is_v5() {
            self.out_aliases.reset(p.topic_alias_maximum.unwrap_or(0));
        }
        if let Some(id) = &p.assigned_client_identifier {
            id.as_str().clone_into(&mut self.client_id);
        }
        if let Some(ka) = p.server_keep_alive {
            self.keepalive = KeepAlive::new(
                now,
                Duration::from_secs(u64::from(ka)),
                self.config.ping_timeout,
            );
        }
        // SUBSCRIBE and UNSUBSCRIBE are not part of the session (§4.1): send
        // those not acknowledged on the previous connection again.
        let subs: Vec<(u16, Vec<Subscription>, Option<u32>)> = self
            .pending_sub
            .iter()
            .map(|(&id, (f, s))| (id, f.clone(), *s))
            .collect();
        for (id, filters, sub_id) in subs {
            self.send_subscribe(now, id, &filters, sub_id);
        }
        if c.session_present {
            // MQTT 5.0 §4.4: resend unacknowledged PUBLISH (DUP) and PUBREL.
            for r in self.session.resend() {
                match r {
                    Resend::Publish(mut p) => {
                        self.out_aliases.apply(&mut p);
                        self.send(now, &Packet::Publish(p));
                    }
                    Resend::PubRel(id) => self.send(now, &Packet::PubRel(AckPacket::new(id))),
                }
            }
        } else {
            // The server has no session: start over and resubscribe.
            self.session.restart();
            let subs: Vec<(Subscription, Option<u32>)> =
                self.subscriptions.values().cloned().collect();
            for (sub, sub_id) in subs {
                if let Some(id) = self.session.reserve_id() {
                    self.send_subscribe(now, id, core::slice::from_ref(&sub), sub_id);
                    self.pending_sub.insert(id, (vec![sub], sub_id));
                }
            }
        }
        let unsubs: Vec<(u16, Vec<Utf8String>)> = self
            .pending_unsub
            .iter()
            .map(|(&id, f)| (id, f.clone()))
            .collect();
        for (id, filters) in unsubs {
            self.send(now, &Packet::Unsubscribe(Unsubscribe::new(id, filters)));
        }
        self.flush_queue(now);
        self.events.push_back(Event::Connected {
            session_present: c.session_present,
            connack: c,
        });
    }

    fn on_publish(&mut self, now: Instant, mut p: Publish) {
        // Topic aliases (MQTT 5.0 §3.3.2.3.4).
        if let Some(alias) = p.properties.topic_alias {
            if alias == 0 || alias > self.config.topic_alias_maximum {
                self.protocol_error(now, ReasonCode::TOPIC_ALIAS_INVALID);
                return;
            }
            if p.topic.is_empty() {
                let Some(t) = self.aliases.get(&alias) else {
                    self.protocol_error(now, ReasonCode::PROTOCOL_ERROR);
                    return;
                };
                p.topic = t.clone();
            } else {
                self.aliases.insert(alias, p.topic.clone());
            }
        } else if p.topic.is_empty() {
            self.protocol_error(now, ReasonCode::PROTOCOL_ERROR);
            return;
        }
        match p.qos {
            QoS::AtMostOnce => self.events.push_back(Event::Message(p)),
            QoS::AtLeastOnce => {
                let id = p.packet_id;
                self.events.push_back(Event::Message(p));
                self.send(now, &Packet::PubAck(AckPacket::new(id)));
            }
            _ => {
                let id = p.packet_id;
                if self.session.on_incoming_qos2(id) {
                    self.events.push_back(Event::Message(p));
                }
                self.send(now, &Packet::PubRec(AckPacket::new(id)));
            }
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
