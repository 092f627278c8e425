//! A connected client's requests: REGISTER (§6.5), PUBLISH (§6.6–§6.8),
//! SUBSCRIBE and UNSUBSCRIBE (§6.9), with their acknowledgements.

use std::time::Instant;

use bytes::Bytes;
use mqtt_client::PublishError;
use mqtt_codec::{Publish as MqttPublish, Utf8String};
use mqttsn_codec::{PubAck, QoS, ReturnCode, Topic};

use crate::aggregate::upstream;
use crate::core::Core;
use crate::session::{to_mqtt_qos, topic_id_of, Session};

pub(crate) fn puback(topic_id: u16, msg_id: u16, return_code: ReturnCode) -> PubAck {
    PubAck {
        topic_id,
        msg_id,
        return_code,
    }
}

pub(crate) fn suback(
    qos: QoS,
    topic_id: u16,
    msg_id: u16,
    return_code: ReturnCode,
) -> mqttsn_codec::SubAck {
    mqttsn_codec::SubAck {
        qos,
        topic_id,
        msg_id,
        return_code,
    }
}

fn regack(topic_id: u16, msg_id: u16, return_code: ReturnCode) -> mqttsn_codec::RegAck {
    mqttsn_codec::RegAck {
        topic_id,
        msg_id,
        return_code,
    }
}

pub(crate) fn has_wildcard(name: &[u8]) -> bool {
    name.iter().any(|b| matches!(b, b'+' | b'#'))
}

impl Session {
    /// Whether this client's broker connection has too many bytes
    /// unwritten (back-pressure).
    pub(crate) fn bytes_congested(&self, core: &Core) -> bool {
        match (&self.mqtt, &core.shared) {
            (Some(_), _) => core.congested(self.conn),
            (None, Some(s)) => core.congested(s.conn),
            (None, None) => false,
        }
    }

    /// Whether requests that wait for the broker must be refused with
    /// "rejected: congestion": too many bytes unwritten, or (aggregating
    /// mode) too many QoS 1/2 publishes unacknowledged on the shared
    /// connection.
    pub(crate) fn congested(&self, core: &Core) -> bool {
        if self.mqtt.is_none() && core.shared.is_some() {
            core.shared_congested()
        } else {
            self.bytes_congested(core)
        }
    }

    pub(crate) fn on_register(&mut self, core: &mut Core, r: &mqttsn_codec::Register) {
        if self.congested(core) {
            core.congestion(&self.peer, false);
            core.send(
                &self.peer,
                regack(0, r.msg_id, ReturnCode::RejectedCongestion),
            );
            return;
        }
        let valid = std::str::from_utf8(&r.topic_name).is_ok() && !has_wildcard(&r.topic_name);
        let config = &core.config;
        let reserved = |id| config.predefined.contains_key(&id);
        let id = valid
            .then(|| {
                self.topics
                    .register(r.topic_name.clone(), config.max_topics, reserved)
            })
            .flatten();
        let ack = match id {
            Some(id) => regack(id, r.msg_id, ReturnCode::Accepted),
            None if valid => regack(0, r.msg_id, ReturnCode::RejectedCongestion),
            None => regack(0, r.msg_id, ReturnCode::RejectedNotSupported),
        };
        core.send(&self.peer, ack);
    }

    /// The topic name a client's topic field stands for.
    pub(crate) fn resolve(&self, core: &Core, topic: &Topic) -> Option<Bytes> {
        match topic {
            Topic::Id(id) => self.topics.name(*id).cloned(),
            Topic::Predefined(id) => core
                .config
                .predefined
                .get(id)
                .map(|n| Bytes::copy_from_slice(n.as_bytes())),
            Topic::Short(b) => Some(Bytes::copy_from_slice(b)),
            _ => None,
        }
    }

    pub(crate) fn on_publish(&mut self, core: &mut Core, now: Instant, p: mqttsn_codec::Publish) {
        let topic_id = topic_id_of(&p.topic);
        let name = self
            .resolve(core, &p.topic)
            .and_then(|n| Utf8String::from_bytes(n).ok());
        let Some(name) = name else {
            let rc = ReturnCode::RejectedInvalidTopicId;
            core.send(&self.peer, puback(topic_id, p.msg_id, rc));
            return;
        };
        match p.qos {
            QoS::ExactlyOnce if self.qos2_in.contains(&p.msg_id) => {
                core.send(&self.peer, mqttsn_codec::PubRec { msg_id: p.msg_id });
                return;
            }
            QoS::AtLeastOnce if self.pub_acks.values().any(|v| v.0 == p.msg_id) => return,
            QoS::AtLeastOnce | QoS::ExactlyOnce
                if self.pub_acks.len() + self.qos2_in.len() >= core.config.max_inflight =>
            {
                let rc = ReturnCode::RejectedCongestion;
                core.send(&self.peer, puback(topic_id, p.msg_id, rc));
                return;
            }
            QoS::AtLeastOnce | QoS::ExactlyOnce if self.congested(core) => {
                core.congestion(&self.peer, false);
                let rc = ReturnCode::RejectedCongestion;
                core.send(&self.peer, puback(topic_id, p.msg_id, rc));
                return;
            }
            QoS::AtMostOnce | QoS::MinusOne if self.bytes_congested(core) => {
                core.congestion(&self.peer, true);
                return;
            }
            _ => {}
        }
        let Some((mqtt, owners)) = upstream(&mut self.mqtt, &mut core.shared) else {
            return;
        };
        let qos = to_mqtt_qos(p.qos);
        let msg = MqttPublish::new(name, p.data)
            .with_qos(qos, 0)
            .with_retain(p.retain);
        let result = mqtt.publish(now, msg);
        if let (Ok(Some(pid)), Some(owners)) = (&result, owners) {
            owners.insert(*pid, self.peer.clone());
        }
        match (result, p.qos) {
            (Ok(Some(pid)), QoS::AtLeastOnce) => {
                self.pub_acks.insert(pid, (p.msg_id, topic_id));
            }
            (Ok(pid), QoS::ExactlyOnce) => {
                if let Some(pid) = pid {
                    self.q2_pending.insert(pid, p.msg_id);
                }
                self.qos2_in.insert(p.msg_id);
                core.send(&self.peer, mqttsn_codec::PubRec { msg_id: p.msg_id });
            }
            (Ok(_), _) => {}
            (Err(e), QoS::AtLeastOnce | QoS::ExactlyOnce) => {
                let rc = match e {
                    PublishError::QueueFull | PublishError::NotConnected => {
                        ReturnCode::RejectedCongestion
                    }
                    _ => ReturnCode::RejectedNotSupported,
                };
                core.send(&self.peer, puback(topic_id, p.msg_id, rc));
            }
            (Err(_), _) => {}
        }
    }

    pub(crate) fn on_subscribe(
        &mut self,
        core: &mut Core,
        now: Instant,
        s: mqttsn_codec::Subscribe,
    ) {
        if s.dup && self.subs.values().any(|v| v.0 == s.msg_id) {
            return;
        }
        if self.congested(core) {
            core.congestion(&self.peer, false);
            let rc = ReturnCode::RejectedCongestion;
            core.send(&self.peer, suback(s.qos, 0, s.msg_id, rc));
            return;
        }
        let (filter, topic_id) = match &s.topic {
            Topic::Name(n) if has_wildcard(n) => (Some(n.clone()), 0),
            Topic::Name(n) => {
                let config = &core.config;
                let reserved = |id| config.predefined.contains_key(&id);
                let id = self.topics.register(n.clone(), config.max_topics, reserved);
                (id.map(|_| n.clone()), id.unwrap_or(0))
            }
            Topic::Predefined(id) => (self.resolve(core, &s.topic), *id),
            other => (self.resolve(core, other), 0),
        };
        let raw = filter.clone().unwrap_or_default();
        let filter = filter.and_then(|f| Utf8String::from_bytes(f).ok());
        let pid = filter.and_then(|f| {
            let sub = mqtt_codec::Subscription::new(f, to_mqtt_qos(s.qos));
            let (mqtt, owners) = upstream(&mut self.mqtt, &mut core.shared)?;
            let pid = mqtt.subscribe(now, vec![sub], None).ok()?;
            if let Some(owners) = owners {
                owners.insert(pid, self.peer.clone());
            }
            Some(pid)
        });
        match pid {
            Some(pid) => {
                self.subs.insert(pid, (s.msg_id, topic_id, raw, s.qos));
            }
            None => {
                let rc = ReturnCode::RejectedInvalidTopicId;
                let ack = suback(s.qos, topic_id, s.msg_id, rc);
                core.send(&self.peer, ack);
            }
        }
    }

    pub(crate) fn on_unsubscribe(
        &mut self,
        core: &mut Core,
        now: Instant,
        u: mqttsn_codec::Unsubscribe,
    ) {
        let filter = match &u.topic {
            Topic::Name(n) => Some(n.clone()),
            other => self.resolve(core, other),
        };
        let held = filter
            .as_ref()
            .is_some_and(|f| self.filters.remove(f).is_some());
        let pid = match (&mut self.mqtt, &mut core.shared) {
            (Some(mqtt), _) => filter
                .and_then(|f| Utf8String::from_bytes(f).ok())
                .and_then(|f| mqtt.unsubscribe(now, vec![f]).ok()),
            // Aggregating mode: the broker subscription goes when its last
            // client leaves it; the UNSUBACK waits for the broker's then.
            (None, Some(shared)) => match filter {
                Some(f) if held => shared.release(now, &f, &self.peer).inspect(|pid| {
                    shared.owners.insert(*pid, self.peer.clone());
                }),
                _ => None,
            },
            (None, None) => None,
        };
        match pid {
            Some(pid) => {
                self.unsubs.insert(pid, u.msg_id);
            }
            None => core.send(&self.peer, mqttsn_codec::UnsubAck { msg_id: u.msg_id }),
        }
    }
}
