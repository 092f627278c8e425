//! The aggregating architecture (MQTT-SN v1.2 §3): one MQTT connection of
//! the gateway carries every client. Publishes go out on it, subscriptions
//! are made on it and incoming messages are dispatched to each client whose
//! subscriptions match; wills are published by the gateway when a client is
//! lost. The connection reconnects with back-off; clients are told with
//! DISCONNECT when it drops.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use bytes::Bytes;
use mqtt_client::{Backoff, Client, Event as MqttEvent};
use mqtt_codec::{topic, Publish as MqttPublish, QoS as MqttQoS, Utf8String};
use mqttsn_codec::Disconnect;

use crate::core::Core;
use crate::output::{ConnId, Gone, Peer, Transmit};
use crate::session::{to_mqtt_qos, Phase, Session};

/// The shared MQTT connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) conn: ConnId,
    pub(crate) mqtt: Client,
    /// Packet id -> the client a PUBACK, SUBACK or UNSUBACK belongs to.
    pub(crate) owners: HashMap<u16, Peer>,
    /// Filter -> the clients holding a granted subscription to it: the
    /// dispatch index and the broker subscription's reference count.
    pub(crate) subscribers: BTreeMap<Bytes, HashSet<Peer>>,
}

impl Shared {
    /// Opens the shared connection.
    pub(crate) fn open(core: &mut Core, now: Instant) -> Self {
        let conn = core.conn_id();
        let mut cfg = mqtt_client::Config::new(core.config.client_id.clone());
        cfg.keep_alive = core.config.mqtt_keep_alive;
        cfg.reconnect = Some(Backoff::default());
        cfg.max_inflight = u16::try_from(core.config.max_inflight * 8).unwrap_or(u16::MAX);
        let mut mqtt = Client::new(cfg, core.seed, now);
        mqtt.connect(now);
        core.out.push_back(Transmit::Open(conn));
        while let Some(b) = mqtt.poll_transmit() {
            core.upstream(conn, b);
        }
        Self {
            conn,
            mqtt,
            owners: HashMap::new(),
            subscribers: BTreeMap::new(),
        }
    }

    /// `peer` holds a granted subscription to `filter`.
    pub(crate) fn hold(&mut self, filter: Bytes, peer: &Peer) {
        self.subscribers
            .entry(filter)
            .or_default()
            .insert(peer.clone());
    }

    /// `peer` no longer holds `filter`; when no client does, the broker
    /// subscription is removed: the UNSUBSCRIBE's packet id is returned.
    pub(crate) fn release(&mut self, now: Instant, filter: &Bytes, peer: &Peer) -> Option<u16> {
        let holders = self.subscribers.get_mut(filter)?;
        holders.remove(peer);
        if !holders.is_empty() {
            return None;
        }
        self.subscribers.remove(filter);
        // While down too: `mqtt-client` then forgets the filter, so it is
        // not among those it subscribes again after a reconnect without
        // session (it does so for every filter still held).
        let f = Utf8String::from_bytes(filter.clone()).ok()?;
        self.mqtt.unsubscribe(now, vec![f]).ok()
    }

    /// Reconnects when the back-off delay has passed.
    pub(crate) fn handle_timeout(&mut self, core: &mut Core, now: Instant) {
        let down = !self.mqtt.is_connected() && self.mqtt.reconnect_at().is_some();
        if down && self.mqtt.reconnect_at().is_some_and(|t| t <= now) {
            core.forget(self.conn);
            self.conn = core.conn_id();
            self.owners.clear();
            core.out.push_back(Transmit::Open(self.conn));
            self.mqtt.connect(now);
        } else if !down && self.mqtt.poll_timeout().is_some_and(|t| t <= now) {
            self.mqtt.handle_timeout(now);
        }
    }
}

/// The client's own connection, or the shared one with its owner table.
pub(crate) fn upstream<'a>(
    own: &'a mut Option<Client>,
    shared: &'a mut Option<Shared>,
) -> Option<(&'a mut Client, Option<&'a mut HashMap<u16, Peer>>)> {
    match (own, shared) {
        (Some(c), _) => Some((c, None)),
        (None, Some(s)) => Some((&mut s.mqtt, Some(&mut s.owners))),
        (None, None) => None,
    }
}

/// Dispatches the shared client's output: bytes to the broker, acks to
/// their owners, messages to every matching client. Returns the peers whose
/// sessions it touched (for the gateway to reap and reschedule).
pub(crate) fn drain(
    core: &mut Core,
    sessions: &mut HashMap<Peer, Session>,
    now: Instant,
) -> Vec<Peer> {
    let mut touched = Vec::new();
    for _ in 0..100_000 {
        let Some(shared) = core.shared.as_mut() else {
            break;
        };
        let conn = shared.conn;
        let mut bytes = Vec::new();
        while let Some(b) = shared.mqtt.poll_transmit() {
            bytes.push(b);
        }
        let ev = shared.mqtt.poll_event();
        let owner = match &ev {
            Some(
                MqttEvent::Published { packet_id, .. }
                | MqttEvent::PublishRefused { packet_id, .. }
                | MqttEvent::Subscribed { packet_id, .. }
                | MqttEvent::Unsubscribed { packet_id, .. },
            ) => shared.owners.remove(packet_id),
            _ => None,
        };
        for b in bytes {
            core.upstream(conn, b);
        }
        let Some(ev) = ev else {
            break;
        };
        match ev {
            MqttEvent::Message(p) => touched.extend(deliver(core, sessions, now, &p)),
            MqttEvent::Disconnected { .. } => {
                core.out.push_back(Transmit::Close(conn));
                // Sleeping clients keep their sessions (and subscriptions,
                // renewed on reconnect); the others are told.
                for (peer, s) in sessions
                    .iter_mut()
                    .filter(|(_, s)| !s.closed && s.phase != Phase::Asleep)
                {
                    core.send(peer, Disconnect::default());
                    s.close(core, Gone::Broker);
                    touched.push(peer.clone());
                }
            }
            MqttEvent::Connected { .. } => {}
            other => {
                if let Some(p) = owner {
                    if let Some(s) = sessions.get_mut(&p) {
                        s.on_mqtt_event(core, now, other);
                        touched.push(p);
                    }
                }
            }
        }
    }
    touched
}

/// A message from the shared subscription set, to each client whose
/// filters match, at the lower of the message's and the filter's QoS.
fn deliver(
    core: &mut Core,
    sessions: &mut HashMap<Peer, Session>,
    now: Instant,
    p: &MqttPublish,
) -> Vec<Peer> {
    let Some(shared) = core.shared.as_ref() else {
        return Vec::new();
    };
    let mut granted: HashMap<Peer, MqttQoS> = HashMap::new();
    for (f, holders) in &shared.subscribers {
        if !std::str::from_utf8(f).is_ok_and(|f| topic::matches(f, p.topic.as_str())) {
            continue;
        }
        for peer in holders {
            if let Some(q) = sessions.get(peer).and_then(|s| s.filters.get(f)) {
                let q = to_mqtt_qos(*q);
                let g = granted.entry(peer.clone()).or_insert(q);
                *g = (*g).max(q);
            }
        }
    }
    let mut touched = Vec::with_capacity(granted.len());
    for (peer, q) in granted {
        if let Some(s) = sessions.get_mut(&peer) {
            let mut msg = p.clone();
            msg.qos = msg.qos.min(q);
            s.on_mqtt_event(core, now, MqttEvent::Message(msg));
            touched.push(peer);
        }
    }
    touched
}

impl Session {
    /// A session ends (aggregating mode): its filters are released, and the
    /// broker subscriptions no other client holds are removed.
    pub(crate) fn release_filters(&mut self, core: &mut Core, now: Instant) {
        if self.mqtt.is_some() {
            return;
        }
        let Some(shared) = core.shared.as_mut() else {
            return;
        };
        for f in std::mem::take(&mut self.filters).into_keys() {
            let _ = shared.release(now, &f, &self.peer);
        }
    }

    /// A lost client in aggregating mode: the gateway publishes its will.
    pub(crate) fn publish_will(&mut self, core: &mut Core, now: Instant) {
        let (Some((w, msg)), Some(shared)) = (self.will.as_ref(), core.shared.as_mut()) else {
            return;
        };
        if self.mqtt.is_some() {
            return; // transparent: the broker publishes it
        }
        if let Ok(topic) = Utf8String::from_bytes(w.topic.clone()) {
            let will = MqttPublish::new(topic, msg.clone())
                .with_qos(to_mqtt_qos(w.qos), 0)
                .with_retain(w.retain);
            let _ = shared.mqtt.publish(now, will);
        }
    }
}

/// Whether the shared connection is up (aggregating mode).
pub(crate) fn is_shared_up(core: &Core) -> bool {
    core.shared.as_ref().is_some_and(|s| s.mqtt.is_connected())
}
