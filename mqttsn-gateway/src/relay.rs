//! QoS -1 (MQTT-SN v1.2 §6.8): publishes from clients that never connected,
//! to predefined topic ids or short topic names, carried to the broker at
//! QoS 0 on one MQTT connection of the gateway's own.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use mqtt_client::{Client, Event as MqttEvent};
use mqtt_codec::{Publish as MqttPublish, Utf8String};
use mqttsn_codec::Topic;

use crate::core::Core;
use crate::output::{ConnId, Transmit};

/// The gateway's own MQTT connection for QoS -1 messages.
#[derive(Debug)]
pub(crate) struct Relay {
    pub(crate) conn: ConnId,
    pub(crate) mqtt: Client,
    /// Messages waiting for CONNACK (bounded by `max_buffered`).
    waiting: VecDeque<MqttPublish>,
    pub(crate) closed: bool,
}

impl Relay {
    /// Opens the connection; the broker draws nothing from us but the
    /// client id, which `mqtt-client` derives from the seed.
    pub(crate) fn open(core: &mut Core, now: Instant) -> Self {
        let conn = core.conn_id();
        let mut cfg = mqtt_client::Config::new(String::new());
        cfg.keep_alive = core.config.mqtt_keep_alive;
        cfg.reconnect = None;
        let mut mqtt = Client::new(cfg, core.seed ^ conn.0.rotate_left(32), now);
        mqtt.connect(now);
        core.out.push_back(Transmit::Open(conn));
        Self {
            conn,
            mqtt,
            waiting: VecDeque::new(),
            closed: false,
        }
    }

    /// The topic name of a QoS -1 PUBLISH: predefined ids and short names
    /// only (§6.8).
    pub(crate) fn topic_name(core: &Core, topic: &Topic) -> Option<Utf8String> {
        let name = match topic {
            Topic::Predefined(id) => {
                Bytes::copy_from_slice(core.config.predefined.get(id)?.as_bytes())
            }
            Topic::Short(b) => Bytes::copy_from_slice(b),
            _ => return None,
        };
        Utf8String::from_bytes(name).ok()
    }

    /// Publishes at QoS 0 now, or once connected.
    pub(crate) fn publish(&mut self, core: &mut Core, now: Instant, msg: MqttPublish) {
        if self.mqtt.is_connected() {
            let _ = self.mqtt.publish(now, msg);
        } else if self.waiting.len() < core.config.max_buffered {
            self.waiting.push_back(msg);
        }
        self.drain(core, now);
    }

    /// Moves the client's output into the gateway's queues.
    pub(crate) fn drain(&mut self, core: &mut Core, now: Instant) {
        for _ in 0..=self.waiting.len() + 1 {
            while let Some(bytes) = self.mqtt.poll_transmit() {
                core.upstream(self.conn, bytes);
            }
            match self.mqtt.poll_event() {
                Some(MqttEvent::Connected { .. }) => {
                    while let Some(msg) = self.waiting.pop_front() {
                        let _ = self.mqtt.publish(now, msg);
                    }
                }
                Some(MqttEvent::Disconnected { .. }) => {
                    if !self.closed {
                        self.closed = true;
                        core.out.push_back(Transmit::Close(self.conn));
                    }
                    return;
                }
                Some(_) => {}
                None => return,
            }
        }
    }
}
