//! The aggregating architecture (MQTT-SN v1.2 §3): one MQTT connection of
//! the gateway carries every client. Publishes go out on it, subscriptions
//! are made on it and incoming messages are dispatched to each client whose
//! subscriptions match; wills are published by the gateway when a client is
//! lost. The connection reconnects with back-off; clients are told with
//! DISCONNECT when it drops.

use std::collections::HashMap;
use std::time::Instant;

use mqtt_client::{Backoff, Client, Event as MqttEvent};
use mqtt_codec::{topic, Publish as MqttPublish, Utf8String};
use mqttsn_codec::Disconnect;

use crate::core::Core;
use crate::output::{ConnId, Gone, Peer, Transmit};
use crate::session::{to_mqtt_qos, Session};

/// The shared MQTT connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) conn: ConnId,
    pub(crate) mqtt: Client,
    /// Packet id -> the client a PUBACK, SUBACK or UNSUBACK belongs to.
    pub(crate) owners: HashMap<u16, Peer>,
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
        }
    }

    /// Reconnects when the back-off delay has passed.
    pub(crate) fn handle_timeout(&mut self, core: &mut Core, now: Instant) {
        let down = !self.mqtt.is_connected() && self.mqtt.reconnect_at().is_some();
        if down && self.mqtt.reconnect_at().is_some_and(|t| t <= now) {
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
/// sessions closed.
pub(crate) fn drain(
    core: &mut Core,
    sessions: &mut HashMap<Peer, Session>,
    now: Instant,
) -> Vec<Peer> {
    let mut gone = Vec::new();
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
            MqttEvent::Message(p) => deliver(core, sessions, now, &p),
            MqttEvent::Disconnected { .. } => {
                core.out.push_back(Transmit::Close(conn));
                for (peer, s) in sessions.iter_mut().filter(|(_, s)| !s.closed) {
                    core.send(peer, Disconnect::default());
                    s.close(core, Gone::Broker);
                    gone.push(peer.clone());
                }
            }
            MqttEvent::Connected { .. } => {}
            other => {
                if let Some(s) = owner.and_then(|p| sessions.get_mut(&p)) {
                    s.on_mqtt_event(core, now, other);
                }
            }
        }
    }
    gone
}

/// A message from the shared subscription set, to each client whose
/// filters match, at the lower of the message's and the filter's QoS.
fn deliver(core: &mut Core, sessions: &mut HashMap<Peer, Session>, now: Instant, p: &MqttPublish) {
    for s in sessions.values_mut() {
        let granted = s
            .filters
            .iter()
            .filter(|(f, _)| {
                std::str::from_utf8(f).is_ok_and(|f| topic::matches(f, p.topic.as_str()))
            })
            .map(|(_, q)| to_mqtt_qos(*q))
            .max();
        if let Some(q) = granted {
            let mut msg = p.clone();
            msg.qos = msg.qos.min(q);
            s.on_mqtt_event(core, now, MqttEvent::Message(msg));
        }
    }
}

impl Session {
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
