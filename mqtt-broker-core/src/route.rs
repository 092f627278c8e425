//! PUBLISH in both directions, SUBSCRIBE, UNSUBSCRIBE and delivery
//! (MQTT 5.0 §3.3–§3.11, §4.3, §4.7, §4.8).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_client::session::{Ack as SessionAck, OutState};
use mqtt_codec::{
    has_discouraged_code_points, topic, Ack, Packet, Publish, QoS, ReasonCode, RetainHandling,
    SubAck, Subscribe, UnsubAck, Unsubscribe, Utf8String,
};

use crate::alias::Plan;
use crate::broker::{Broker, ConnId};
use crate::trie::SubEntry;

/// How one client receives one message: the highest QoS of its matching
/// subscriptions, their identifiers, and whether one keeps the retain flag.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    qos: QoS,
    ids: Vec<u32>,
    retain_as_published: bool,
}

impl Broker {
    fn client_of(&self, conn: ConnId) -> Option<Arc<str>> {
        self.conns.get(&conn).and_then(|c| c.client.clone())
    }

    pub(crate) fn on_publish(&mut self, now: Instant, conn: ConnId, mut p: Publish) {
        self.stats.publish_received += 1;
        self.stats.publish_bytes_received += p.payload.len() as u64;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(id) = c.client.clone() else {
            return;
        };
        let v5 = c.version.is_v5();
        // A client's PUBLISH carries no Subscription Identifier (MQTT 5.0
        // §3.3.4, MQTT-3.3.4-6). One is ignored, as Mosquitto does; more
        // than one is a repeated property, a Protocol Error (§2.2.2.2), as
        // Mosquitto answers. Read before clearing: a mutable access
        // allocates the property table.
        match p.properties.subscription_identifiers.len() {
            0 => {}
            1 => p.properties.subscription_identifiers.clear(),
            _ => return self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR),
        }
        // Topic aliases from the client (MQTT 5.0 §3.3.2.3.4).
        if let Some(alias) = p.properties.topic_alias {
            p.properties.topic_alias = None;
            if alias == 0 || alias > self.config.topic_alias_maximum {
                return self.protocol_error(now, conn, ReasonCode::TOPIC_ALIAS_INVALID);
            }
            if p.topic.is_empty() {
                match c.aliases_in.get(&alias) {
                    Some(t) => p.topic = t.clone(),
                    None => return self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR),
                }
            } else {
                // A copy: the decoded topic shares the frame's buffer, which
                // holds the payload too (up to the maximum packet size).
                let topic = Utf8String::try_from(p.topic.as_str()).unwrap_or_default();
                c.aliases_in.insert(alias, topic);
            }
        }
        // MQTT 5.0 §1.5.4: control characters are refused, as Mosquitto does.
        if has_discouraged_code_points(&p.topic) {
            return self.protocol_error(now, conn, ReasonCode::MALFORMED_PACKET);
        }
        if topic::validate_topic_name(&p.topic).is_err() {
            return self.protocol_error(now, conn, ReasonCode::TOPIC_NAME_INVALID);
        }
        if p.retain && !self.config.retain_available && v5 {
            return self.protocol_error(now, conn, ReasonCode::RETAIN_NOT_SUPPORTED);
        }
        // Clients cannot publish to `$` topics such as `$SYS` (MQTT 5.0 §4.7.2).
        let allowed = !p.topic.starts_with('$')
            && self.hooks.authorize_publish(&id, &p.topic, p.qos, p.retain);
        let pid = p.packet_id;
        let qos = p.qos;
        if qos == QoS::ExactlyOnce {
            let Some(client) = self.clients.get_mut(&id) else {
                return;
            };
            let first = client.session.on_incoming_qos2(pid);
            let waiting = client.session.incoming_qos2().count();
            if first && waiting > usize::from(self.config.receive_maximum) {
                client.session.on_pubrel(pid);
                return self.protocol_error(now, conn, ReasonCode::RECEIVE_MAXIMUM_EXCEEDED);
            }
            if !first {
                // A duplicate before PUBREL: answer, do not deliver again (§4.3.3).
                return self.send(conn, &Packet::PubRec(Ack::new(pid)));
            }
        }
        let mut reason = ReasonCode::SUCCESS;
        if allowed {
            if p.retain && self.config.retain_available {
                self.retained.store(now, &p);
            }
            p.packet_id = 0;
            p.dup = false;
            if self.route(now, Some(&id), &p) == 0 && v5 && qos == QoS::AtLeastOnce {
                reason = ReasonCode::NO_MATCHING_SUBSCRIBERS;
            }
        } else if v5 {
            reason = ReasonCode::NOT_AUTHORIZED;
        }
        let mut ack = Ack::new(pid).with_reason_code(reason);
        if reason.is_error() {
            ack.properties.reason_string = self.reason_string(reason);
        }
        match qos {
            QoS::AtLeastOnce => self.send(conn, &Packet::PubAck(ack)),
            QoS::ExactlyOnce => {
                if reason.is_error() {
                    if let Some(client) = self.clients.get_mut(&id) {
                        client.session.on_pubrel(pid);
                    }
                }
                self.send(conn, &Packet::PubRec(ack));
            }
            _ => {}
        }
    }

    pub(crate) fn on_puback(&mut self, now: Instant, conn: ConnId, pid: u16, reason: ReasonCode) {
        let Some(id) = self.client_of(conn) else {
            return;
        };
        // One session lookup on this hot path (one PUBACK per QoS 1 delivery).
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        // One B-tree search when the flow is a QoS 1 one (the common case);
        // a PUBACK for a QoS 2 flow (MQTT 5.0 §4.3), as `wrong_ack` checks,
        // leaves the flow alone and is a Protocol Error.
        if client.session.on_puback(pid, reason) == SessionAck::Unknown
            && client.session.state(pid).is_some()
        {
            return self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR);
        }
        // Queued messages, or flows of a resumed session waiting for room
        // in the client's Receive Maximum.
        let queued = client.session.queued_len() > 0;
        if queued || (!self.resends.is_empty() && self.resends.contains_key(&id)) {
            self.flush(now, &id);
        }
    }

    /// Whether the flow of `pid` is of the other QoS than the acknowledgement
    /// (PUBACK for QoS 2, PUBREC or PUBCOMP for QoS 1; MQTT 5.0 §4.3).
    fn wrong_ack(&self, id: &Arc<str>, pid: u16, qos2_ack: bool) -> bool {
        let Some(state) = self.clients.get(id).and_then(|c| c.session.state(pid)) else {
            return false;
        };
        let is_qos1 = matches!(state, OutState::AwaitPubAck(_));
        is_qos1 == qos2_ack
    }

    pub(crate) fn on_pubrec(&mut self, now: Instant, conn: ConnId, pid: u16, reason: ReasonCode) {
        let Some(id) = self.client_of(conn) else {
            return;
        };
        if self.wrong_ack(&id, pid, true) {
            return self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR);
        }
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        match client.session.on_pubrec(pid, reason) {
            SessionAck::SendPubRel => self.send(conn, &Packet::PubRel(Ack::new(pid))),
            // An unknown identifier: release it anyway, as Mosquitto does,
            // unless the PUBREC reports an error (no PUBREL then, §4.3.3).
            SessionAck::Unknown if !reason.is_error() => {
                self.send(conn, &Packet::PubRel(Ack::new(pid)));
            }
            _ => self.flush(now, &id),
        }
    }

    pub(crate) fn on_pubrel(&mut self, conn: ConnId, pid: u16) {
        let Some(id) = self.client_of(conn) else {
            return;
        };
        // PUBCOMP either way (an unknown identifier was already completed,
        // e.g. before a reconnect); Mosquitto answers success too.
        if let Some(c) = self.clients.get_mut(&id) {
            c.session.on_pubrel(pid);
        }
        self.send(conn, &Packet::PubComp(Ack::new(pid)));
    }

    pub(crate) fn on_pubcomp(&mut self, now: Instant, conn: ConnId, pid: u16) {
        let Some(id) = self.client_of(conn) else {
            return;
        };
        let state = self.clients.get(&id).and_then(|c| c.session.state(pid));
        if state.is_some_and(|s| !matches!(s, OutState::AwaitPubComp)) {
            return self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR);
        }
        if let Some(client) = self.clients.get_mut(&id) {
            client.session.on_pubcomp(pid);
        }
        self.flush(now, &id);
    }

    pub(crate) fn on_subscribe(&mut self, now: Instant, conn: ConnId, s: Subscribe) {
        let Some(id) = self.client_of(conn) else {
            return;
        };
        if s.filters
            .iter()
            .any(|f| has_discouraged_code_points(&f.filter))
        {
            return self.protocol_error(now, conn, ReasonCode::MALFORMED_PACKET);
        }
        let sub_id = s.properties.subscription_identifiers.first().copied();
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained = Vec::new();
        for sub in &s.filters {
            let filter = sub.filter.as_str();
            let code = if topic::validate_topic_filter(filter).is_err() {
                ReasonCode::TOPIC_FILTER_INVALID
            } else if !self.hooks.authorize_subscribe(&id, filter) {
                ReasonCode::NOT_AUTHORIZED
            } else {
                let entry = SubEntry {
                    options: sub.options,
                    id: sub_id,
                };
                let shared = topic::SharedSubscription::parse(filter).ok().flatten();
                let existed = match shared {
                    Some(s) => self.shared.insert(s.filter, s.group, &id, entry),
                    None => self.trie.insert(filter, &id, entry),
                };
                if let Some(client) = self.clients.get_mut(&id) {
                    client.subs.insert(filter.into(), entry);
                }
                // No retained messages for a shared subscription (MQTT 5.0 §4.8.2).
                let send = shared.is_none()
                    && match sub.options.retain_handling {
                        RetainHandling::SendAtSubscribe => true,
                        RetainHandling::SendAtNewSubscribe => !existed,
                        _ => false,
                    };
                if send {
                    retained.push((filter.to_owned(), entry));
                }
                ReasonCode(sub.options.qos.as_u8())
            };
            // Before 5.0 the codec writes any error as 0x80.
            codes.push(code);
        }
        let mut ack = SubAck::new(s.packet_id, codes);
        if let Some(&err) = ack.reason_codes.iter().find(|c| c.is_error()) {
            ack.properties.reason_string = self.reason_string(err);
        }
        self.send(conn, &Packet::SubAck(ack));
        // Retained messages follow the SUBACK, with the retain flag (§3.3.1.3).
        for (filter, entry) in retained {
            for p in self.retained.matching(now, &filter) {
                let d = Delivery {
                    qos: entry.options.qos,
                    ids: entry.id.into_iter().collect(),
                    retain_as_published: true,
                };
                self.deliver(now, &id, &p, &d, None);
            }
        }
    }

    pub(crate) fn on_unsubscribe(&mut self, now: Instant, conn: ConnId, u: Unsubscribe) {
        let Some(id) = self.client_of(conn) else {
            return;
        };
        if u.filters.iter().any(|f| has_discouraged_code_points(f)) {
            return self.protocol_error(now, conn, ReasonCode::MALFORMED_PACKET);
        }
        let codes = u
            .filters
            .iter()
            .map(|f| {
                if let Some(client) = self.clients.get_mut(&id) {
                    client.subs.remove(f.as_str());
                }
                if self.remove_subscription(f, &id) {
                    ReasonCode::SUCCESS
                } else {
                    ReasonCode::NO_SUBSCRIPTION_EXISTED
                }
            })
            .collect();
        self.send(conn, &Packet::UnsubAck(UnsubAck::new(u.packet_id, codes)));
    }

    /// Delivers `p` to every matching subscriber, once per client at the
    /// highest matching QoS with all matching subscription identifiers
    /// (MQTT 5.0 §3.3.4). Returns the number of clients matched.
    pub(crate) fn route(&mut self, now: Instant, from: Option<&Arc<str>>, p: &Publish) -> usize {
        // Kept between calls: no map allocated and grown per message.
        let mut targets = std::mem::take(&mut self.route_targets);
        self.trie.for_each_match(&p.topic, |client, e| {
            if e.options.no_local && from.is_some_and(|f| f == client) {
                return;
            }
            let d = targets.entry(client.clone()).or_default();
            d.qos = d.qos.max(e.options.qos);
            d.ids.extend(e.id);
            d.retain_as_published |= e.options.retain_as_published;
        });
        let clients = &self.clients;
        let online = |c: &str| clients.get(c).is_some_and(|c| c.conn.is_some());
        for (client, e) in self.shared.pick(&p.topic, online) {
            let d = targets.entry(client).or_default();
            d.qos = d.qos.max(e.options.qos);
            d.ids.extend(e.id);
            d.retain_as_published |= e.options.retain_as_published;
        }
        let n = targets.len();
        // QoS 0 copies are encoded once per wire form (version, retain flag).
        let mut cache: Vec<((bool, bool), Bytes)> = Vec::new();
        for (client, d) in targets.drain() {
            self.deliver(now, &client, p, &d, Some(&mut cache));
        }
        if targets.capacity() <= 256 {
            self.route_targets = targets;
        }
        n
    }

    fn deliver(
        &mut self,
        now: Instant,
        id: &Arc<str>,
        p: &Publish,
        d: &Delivery,
        cache: Option<&mut Vec<((bool, bool), Bytes)>>,
    ) {
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        let mut out = p.clone();
        out.qos = p.qos.min(d.qos);
        out.retain = p.retain && d.retain_as_published;
        out.dup = false;
        out.packet_id = 0;
        // Only when set: a mutable access allocates the property table, and
        // every copy of the message would then copy it.
        if out.properties.topic_alias.is_some() {
            out.properties.topic_alias = None;
        }
        if out.properties.is_empty() {
            out.properties = mqtt_codec::Props::default();
        }
        if !d.ids.is_empty() {
            out.properties.subscription_identifiers.clone_from(&d.ids);
        }
        let max = usize::try_from(client.max_packet).unwrap_or(usize::MAX);
        if out.qos == QoS::AtMostOnce {
            let Some(conn) = client.conn else {
                self.stats.dropped += 1;
                return;
            };
            let version = client.version;
            // (The configuration first: with aliases off, no lookup.)
            if self.config.outgoing_topic_aliases != crate::AliasPolicy::Off
                && self
                    .conns
                    .get(&conn)
                    .is_some_and(|c| c.aliases_out.is_some())
            {
                // Encoded for this connection alone: its topic aliases.
                return self.send_publish(conn, out);
            }
            let key = (version.is_v5(), out.retain);
            let cached = (d.ids.is_empty())
                .then(|| {
                    cache
                        .as_ref()
                        .and_then(|c| c.iter().find(|(k, _)| *k == key))
                })
                .flatten()
                .map(|(_, b)| b.clone());
            let bytes = if let Some(b) = cached {
                b
            } else {
                let mut buf = BytesMut::with_capacity(16 + out.topic.len() + out.payload.len());
                if Packet::Publish(out).encode(version, &mut buf).is_err() {
                    return;
                }
                let b = buf.freeze();
                if let (true, Some(c)) = (d.ids.is_empty(), cache) {
                    c.push((key, b.clone()));
                }
                b
            };
            if bytes.len() > max {
                self.stats.dropped += 1;
                return;
            }
            self.stats.publish_sent += 1;
            self.stats.publish_bytes_sent += p.payload.len() as u64;
            self.stats.messages_sent += 1;
            return self.push_raw(conn, bytes);
        }
        // No packet reaches u32::MAX bytes: the size is only computed for a
        // client that announced a Maximum Packet Size.
        if client.max_packet < u32::MAX && encoded_len(&out, client.version) > max {
            // MQTT 5.0 §3.1.2.11.4: too large for this client, dropped for it.
            self.stats.dropped += 1;
            return;
        }
        let waiting = client.session.queued_len();
        let expiry = out.properties.message_expiry_interval;
        let limit = self.config.max_queued_messages;
        if waiting >= limit {
            self.stats.dropped += 1;
            if !client.dropping {
                client.dropping = true;
                let client_id = id.clone();
                self.push_event(crate::Event::QueueFull { client_id, limit });
            }
            return;
        }
        // Fast path: a connected client with nothing waiting and room in its
        // window gets the message now, without a second session lookup
        // (what `flush` would send).
        if let (Some(conn), None, true) = (client.conn, expiry, self.resends.is_empty()) {
            if client.session.queued_len() == 0 {
                let Ok((_, sent)) = client.session.enqueue_and_send(out) else {
                    self.stats.dropped += 1;
                    return;
                };
                if client.dropping && client.session.queued_len() < limit {
                    client.dropping = false;
                }
                if let Some(p) = sent {
                    self.send_publish(conn, p);
                }
                return;
            }
        }
        let Ok(pid) = client.session.enqueue(out) else {
            self.stats.dropped += 1;
            return;
        };
        if let Some(secs) = expiry {
            let at = now + Duration::from_secs(u64::from(secs));
            client
                .expires
                .get_or_insert_with(Box::default)
                .insert(pid, at);
        }
        if client.conn.is_some() {
            self.flush(now, id);
        }
    }

    /// Sends what the client's inflight window has room for. A message whose
    /// Message Expiry Interval passed while it waited is dropped; the others
    /// carry the time left (MQTT 5.0 §3.3.2.3.3).
    pub(crate) fn flush(&mut self, now: Instant, id: &Arc<str>) {
        self.resend_waiting(id);
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        let Some(conn) = client.conn else {
            return;
        };
        let mut out = std::mem::take(&mut self.flush_buf);
        // Bounded: each turn takes a message off the queue.
        while let Some(mut p) = client.session.next_to_send() {
            let expiry = match client.expires.as_mut() {
                Some(e) => {
                    let at = e.remove(&p.packet_id);
                    if e.is_empty() {
                        client.expires = None;
                    }
                    at
                }
                None => None,
            };
            if let Some(at) = expiry {
                if at <= now {
                    // Never sent: end its flow here.
                    let pid = p.packet_id;
                    if p.qos == QoS::ExactlyOnce {
                        client.session.on_pubrec(pid, ReasonCode::SUCCESS);
                        client.session.on_pubcomp(pid);
                    } else {
                        client.session.on_puback(pid, ReasonCode::SUCCESS);
                    }
                    self.stats.dropped += 1;
                    continue;
                }
                let left = at.saturating_duration_since(now).as_secs();
                p.properties.message_expiry_interval =
                    Some(u32::try_from(left).unwrap_or(u32::MAX).max(1));
            }
            out.push(p);
        }
        if client.dropping && client.session.queued_len() < self.config.max_queued_messages {
            client.dropping = false;
        }
        for p in out.drain(..) {
            self.send_publish(conn, p);
        }
        if out.capacity() <= 64 {
            self.flush_buf = out;
        }
    }

    /// Sends `p` to `conn`, with a topic alias where the connection has one
    /// or can assign one (MQTT 5.0 §3.3.2.3.4) and the aliased packet fits
    /// the client's Maximum Packet Size.
    pub(crate) fn send_publish(&mut self, conn: ConnId, mut p: Publish) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(aliases) = c.aliases_out.as_deref_mut() else {
            return self.send(conn, &Packet::Publish(p));
        };
        let Some(plan) = aliases.plan(&p.topic) else {
            return self.send(conn, &Packet::Publish(p));
        };
        let max = usize::try_from(c.max_packet).unwrap_or(usize::MAX);
        let topic = p.topic.clone();
        let alias = match plan {
            Plan::Known(a) => {
                p.topic = Utf8String::default();
                a
            }
            Plan::New(a) => a,
        };
        p.properties.topic_alias = Some(alias);
        let payload_len = p.payload.len() as u64;
        let packet = Packet::Publish(p);
        let mut buf = BytesMut::new();
        if packet.encode(c.version, &mut buf).is_err() || buf.len() > max {
            // Sent as it came (an announcement may make it too large).
            let Packet::Publish(mut p) = packet else {
                return;
            };
            p.topic = topic;
            p.properties.topic_alias = None;
            return self.send(conn, &Packet::Publish(p));
        }
        aliases.commit(plan, &topic);
        self.stats.publish_sent += 1;
        self.stats.publish_bytes_sent += payload_len;
        self.stats.messages_sent += 1;
        self.push_raw(conn, buf.freeze());
    }
}

impl Broker {
    /// Resends flows of a resumed session that waited for room in the
    /// client's Receive Maximum: PUBLISH with DUP, or PUBREL.
    fn resend_waiting(&mut self, id: &Arc<str>) {
        let (Some(waiting), Some(client)) = (self.resends.get_mut(id), self.clients.get(id)) else {
            return;
        };
        let Some(conn) = client.conn else {
            return;
        };
        let window = usize::from(client.session.window());
        let mut out = Vec::new();
        // Bounded: each turn takes an identifier off the list.
        while client.session.inflight_len().saturating_sub(waiting.len()) < window {
            let Some(pid) = waiting.pop_front() else {
                break;
            };
            match client.session.state(pid) {
                Some(OutState::AwaitPubAck(p) | OutState::AwaitPubRec(p)) => {
                    let mut p = p.clone();
                    p.dup = true;
                    out.push(Packet::Publish(p));
                }
                Some(OutState::AwaitPubComp) => out.push(Packet::PubRel(Ack::new(pid))),
                // Acknowledged meanwhile.
                _ => {}
            }
        }
        if waiting.is_empty() {
            self.resends.remove(id);
        }
        for p in out {
            match p {
                Packet::Publish(p) => self.send_publish(conn, p),
                p => self.send(conn, &p),
            }
        }
    }
}

fn encoded_len(p: &Publish, version: mqtt_codec::ProtocolVersion) -> usize {
    let mut buf = BytesMut::new();
    // The identifier is chosen later; its size is fixed.
    let p = p.clone().with_qos(p.qos, 1);
    match Packet::Publish(p).encode(version, &mut buf) {
        Ok(()) => buf.len(),
        Err(_) => usize::MAX,
    }
}
