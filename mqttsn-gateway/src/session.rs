//! One MQTT-SN client in transparent mode: its MQTT connection (an
//! `mqtt_client::Client`), topic table, pending acknowledgements and sleep
//! buffer.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_client::{Client, Event as MqttEvent};
use mqtt_codec::{LastWill, Publish as MqttPublish, QoS as MqttQoS, ReasonCode, Utf8String};
use mqttsn_codec::{ConnAck, Disconnect, Message, QoS, ReturnCode, Topic, WillTopic};

use crate::aggregate::is_shared_up;
use crate::core::Core;
use crate::output::{ConnId, Event, Gone, Peer, Transmit};
use crate::requests::{puback, suback};
use crate::retry::Outbox;
use crate::topics::TopicTable;

/// How long the split CONNECT (will topic and message) and the broker's
/// CONNACK may take.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a session is in its life (§6.2, §6.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// WILLTOPICREQ sent.
    WillTopic,
    /// WILLMSGREQ sent.
    WillMsg,
    /// CONNECT sent to the broker, waiting for CONNACK.
    Connecting,
    /// Connected.
    Active,
    /// Connected, reconnecting to the broker with an updated will.
    Updating,
    /// Asleep for `sleep` seconds.
    Asleep,
}

/// One client.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) peer: Peer,
    pub(crate) client_id: Bytes,
    pub(crate) phase: Phase,
    pub(crate) conn: ConnId,
    pub(crate) mqtt: Option<Client>,
    pub(crate) closed: bool,
    pub(crate) clean: bool,
    pub(crate) duration: u16,
    pub(crate) sleep: u16,
    /// When the client counts as lost unless it speaks.
    pub(crate) deadline: Option<Instant>,
    pub(crate) will_topic: Option<WillTopic>,
    /// The will the broker holds: topic and message.
    pub(crate) will: Option<(WillTopic, Bytes)>,
    /// Granted subscriptions, replayed after a will update reconnects.
    pub(crate) filters: BTreeMap<Bytes, QoS>,
    /// Packet ids of those replays (no SUBACK for them).
    pub(crate) resubs: HashSet<u16>,
    /// WILLTOPICRESP / WILLMSGRESP to send once the broker took the new will.
    pub(crate) update: Option<Message>,
    /// Broker connections replaced by a will update, for the gateway to forget.
    pub(crate) retired: Vec<ConnId>,
    pub(crate) topics: TopicTable,
    pub(crate) next_msg_id: u16,
    /// MQTT packet id -> (MQTT-SN msg id, topic id) of a client QoS 1 publish.
    pub(crate) pub_acks: HashMap<u16, (u16, u16)>,
    /// MQTT-SN msg ids of client QoS 2 publishes answered with PUBREC.
    pub(crate) qos2_in: HashSet<u16>,
    /// MQTT packet id -> MQTT-SN msg id of a client QoS 2 publish the
    /// broker has not completed yet.
    pub(crate) q2_pending: HashMap<u16, u16>,
    /// MQTT-SN msg ids whose PUBREL came before the broker's PUBCOMP: their
    /// PUBCOMP waits for it, so a client that disconnects after PUBCOMP
    /// never loses the message.
    pub(crate) q2_released: HashSet<u16>,
    /// MQTT packet id -> (msg id, topic id) of a SUBSCRIBE.
    pub(crate) subs: HashMap<u16, (u16, u16, Bytes, QoS)>,
    /// MQTT packet id -> msg id of an UNSUBSCRIBE.
    pub(crate) unsubs: HashMap<u16, u16>,
    pub(crate) buffered: VecDeque<MqttPublish>,
    /// The gateway's messages waiting for the client's acknowledgement.
    pub(crate) outbox: Outbox,
    /// The earliest entry of this session in the gateway's timer heap.
    pub(crate) scheduled: Option<Instant>,
}

pub(crate) fn to_mqtt_qos(q: QoS) -> MqttQoS {
    match q {
        QoS::AtLeastOnce => MqttQoS::AtLeastOnce,
        QoS::ExactlyOnce => MqttQoS::ExactlyOnce,
        _ => MqttQoS::AtMostOnce,
    }
}

fn to_sn_qos(q: MqttQoS) -> QoS {
    match q {
        MqttQoS::AtLeastOnce => QoS::AtLeastOnce,
        MqttQoS::ExactlyOnce => QoS::ExactlyOnce,
        _ => QoS::AtMostOnce,
    }
}

/// The topic id field of a PUBACK or SUBACK answering `topic`.
pub(crate) fn topic_id_of(topic: &Topic) -> u16 {
    match topic {
        Topic::Id(id) | Topic::Predefined(id) => *id,
        Topic::Short(b) => u16::from_be_bytes(*b),
        _ => 0,
    }
}

impl Session {
    /// A session for a CONNECT from `peer`; the caller sends WILLTOPICREQ
    /// or calls [`Session::start`].
    pub(crate) fn new(
        core: &mut Core,
        now: Instant,
        peer: Peer,
        connect: &mqttsn_codec::Connect,
    ) -> Self {
        Self {
            peer,
            client_id: connect.client_id.clone(),
            phase: if connect.will {
                Phase::WillTopic
            } else {
                Phase::Connecting
            },
            conn: core.conn_id(),
            mqtt: None,
            closed: false,
            clean: connect.clean_session,
            duration: connect.duration,
            sleep: 0,
            deadline: Some(now + HANDSHAKE_TIMEOUT),
            will_topic: None,
            will: None,
            filters: BTreeMap::new(),
            resubs: HashSet::new(),
            update: None,
            retired: Vec::new(),
            topics: TopicTable::default(),
            next_msg_id: 0,
            pub_acks: HashMap::new(),
            qos2_in: HashSet::new(),
            q2_pending: HashMap::new(),
            q2_released: HashSet::new(),
            subs: HashMap::new(),
            unsubs: HashMap::new(),
            buffered: VecDeque::new(),
            outbox: Outbox::default(),
            scheduled: None,
        }
    }

    /// When this session needs [`Session::retry`], its MQTT client's
    /// timeout or its keep-alive/sleep deadline next.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let mqtt = self.mqtt.as_ref().and_then(Client::poll_timeout);
        let retry = (self.phase == Phase::Active)
            .then(|| self.outbox.next_timeout())
            .flatten();
        [mqtt, self.deadline, retry].into_iter().flatten().min()
    }

    pub(crate) fn msg_id(&mut self) -> u16 {
        self.next_msg_id = self.next_msg_id.wrapping_add(1).max(1);
        self.next_msg_id
    }

    /// Retransmits what is due (§6.13); a client that never answers is lost.
    pub(crate) fn retry(&mut self, core: &mut Core, now: Instant) {
        if self.phase != Phase::Active {
            return;
        }
        let (every, max) = (core.config.retry_interval, core.config.max_retries);
        match self.outbox.due(now, every, max) {
            Ok(again) => {
                for msg in again {
                    core.send(&self.peer, msg);
                }
            }
            Err(_) => self.lose(core, now),
        }
    }

    /// The client spoke: push its keep-alive deadline.
    pub(crate) fn touch(&mut self, core: &Core, now: Instant) {
        if matches!(self.phase, Phase::Active | Phase::Updating) {
            self.deadline = (self.duration > 0).then(|| now + core.config.stretched(self.duration));
        }
    }

    /// The client is lost: its will goes out (published by the broker in
    /// transparent mode, by the gateway in aggregating mode).
    pub(crate) fn lose(&mut self, core: &mut Core, now: Instant) {
        if !self.closed {
            self.publish_will(core, now);
            self.close(core, Gone::Lost);
        }
    }

    /// Ends the session: sends nothing to the client, closes the broker
    /// connection (without DISCONNECT when `lost`, so the broker publishes
    /// the will).
    pub(crate) fn close(&mut self, core: &mut Core, reason: Gone) {
        if self.closed {
            return;
        }
        self.closed = true;
        if self.mqtt.is_some() {
            core.out.push_back(Transmit::Close(self.conn));
        }
        core.events.push_back(Event::Disconnected {
            peer: self.peer.clone(),
            reason,
        });
    }

    /// Opens the MQTT connection with the will gathered so far.
    pub(crate) fn start(&mut self, core: &mut Core, now: Instant, will_msg: Option<Bytes>) {
        let Ok(id) = std::str::from_utf8(&self.client_id) else {
            core.send(
                &self.peer,
                ConnAck {
                    return_code: ReturnCode::RejectedNotSupported,
                },
            );
            self.close(core, Gone::Broker);
            return;
        };
        if let (Some(w), Some(msg)) = (self.will_topic.take(), will_msg) {
            self.will = Some((w, msg));
        }
        if self.clean {
            self.topics.clear();
        }
        if core.shared.is_some() {
            self.phase = Phase::Connecting;
            let ev = if is_shared_up(core) {
                MqttEvent::Connected {
                    session_present: false,
                    connack: mqtt_codec::ConnAck::default(),
                }
            } else {
                MqttEvent::Disconnected {
                    reason: mqtt_client::DisconnectReason::ConnectionLost,
                    reconnect_at: None,
                }
            };
            self.on_mqtt_event(core, now, ev);
            return;
        }
        self.open(core, now, id.to_owned(), self.clean);
        self.phase = Phase::Connecting;
        self.deadline = Some(now + HANDSHAKE_TIMEOUT);
        self.drain(core, now);
    }

    /// A new MQTT client on `self.conn` carrying `self.will`.
    pub(crate) fn open(&mut self, core: &mut Core, now: Instant, id: String, clean: bool) {
        let mut cfg = mqtt_client::Config::new(id);
        cfg.keep_alive = core.config.mqtt_keep_alive;
        cfg.clean_start = clean;
        cfg.reconnect = None;
        cfg.connect_timeout = HANDSHAKE_TIMEOUT;
        if let Some((w, msg)) = &self.will {
            if let Ok(topic) = Utf8String::from_bytes(w.topic.clone()) {
                cfg.will = Some(LastWill {
                    topic,
                    payload: msg.clone(),
                    qos: to_mqtt_qos(w.qos),
                    retain: w.retain,
                    ..LastWill::default()
                });
            }
        }
        let mut client = Client::new(cfg, core.seed ^ self.conn.0, now);
        client.connect(now);
        core.out.push_back(Transmit::Open(self.conn));
        self.mqtt = Some(client);
    }

    /// Moves what the MQTT client produced into the gateway's queues.
    pub(crate) fn drain(&mut self, core: &mut Core, now: Instant) {
        loop {
            let Some(mqtt) = self.mqtt.as_mut() else {
                return;
            };
            while let Some(bytes) = mqtt.poll_transmit() {
                core.upstream(self.conn, bytes);
            }
            if self.closed {
                return;
            }
            let Some(ev) = mqtt.poll_event() else {
                return;
            };
            self.on_mqtt_event(core, now, ev);
        }
    }

    pub(crate) fn on_mqtt_event(&mut self, core: &mut Core, now: Instant, ev: MqttEvent) {
        match ev {
            MqttEvent::Connected { .. } if self.phase == Phase::Connecting => {
                self.phase = Phase::Active;
                self.deadline = None;
                self.touch(core, now);
                core.send(
                    &self.peer,
                    ConnAck {
                        return_code: ReturnCode::Accepted,
                    },
                );
                core.events.push_back(Event::Connected {
                    peer: self.peer.clone(),
                    client_id: self.client_id.clone(),
                });
            }
            MqttEvent::Connected {
                session_present, ..
            } if self.phase == Phase::Updating => self.updated(core, now, session_present),
            MqttEvent::Message(p) => self.deliver(core, now, p),
            MqttEvent::Published { packet_id, .. }
            | MqttEvent::PublishRefused { packet_id, .. }
                if self.q2_pending.contains_key(&packet_id) =>
            {
                let msg_id = self.q2_pending.remove(&packet_id).unwrap_or_default();
                if self.q2_released.remove(&msg_id) {
                    core.send(&self.peer, mqttsn_codec::PubComp { msg_id });
                }
            }
            MqttEvent::Published { packet_id, .. } => {
                if let Some((msg_id, topic_id)) = self.pub_acks.remove(&packet_id) {
                    core.send(&self.peer, puback(topic_id, msg_id, ReturnCode::Accepted));
                }
            }
            MqttEvent::PublishRefused { packet_id, .. } => {
                if let Some((msg_id, topic_id)) = self.pub_acks.remove(&packet_id) {
                    let rc = ReturnCode::RejectedNotSupported;
                    core.send(&self.peer, puback(topic_id, msg_id, rc));
                }
            }
            MqttEvent::Subscribed {
                packet_id,
                reason_codes,
            } => {
                self.resubs.remove(&packet_id);
                if let Some((msg_id, topic_id, filter, asked)) = self.subs.remove(&packet_id) {
                    let code = reason_codes.first().copied().unwrap_or(ReasonCode(0x80));
                    let (qos, rc) = match MqttQoS::from_u8(code.0) {
                        Some(q) => {
                            if self.mqtt.is_none() {
                                if let Some(shared) = core.shared.as_mut() {
                                    shared.hold(filter.clone(), &self.peer);
                                }
                            }
                            self.filters.insert(filter, asked);
                            (to_sn_qos(q), ReturnCode::Accepted)
                        }
                        None => (QoS::AtMostOnce, ReturnCode::RejectedNotSupported),
                    };
                    core.send(&self.peer, suback(qos, topic_id, msg_id, rc));
                }
            }
            MqttEvent::Unsubscribed { packet_id, .. } => {
                if let Some(msg_id) = self.unsubs.remove(&packet_id) {
                    core.send(&self.peer, mqttsn_codec::UnsubAck { msg_id });
                }
            }
            MqttEvent::Disconnected { .. } => {
                if self.phase == Phase::Connecting {
                    core.send(
                        &self.peer,
                        ConnAck {
                            return_code: ReturnCode::RejectedCongestion,
                        },
                    );
                } else {
                    core.send(&self.peer, Disconnect::default());
                }
                self.close(core, Gone::Broker);
            }
            _ => {}
        }
    }

    /// A message from the broker for this client (§6.9, §6.10).
    fn deliver(&mut self, core: &mut Core, now: Instant, p: MqttPublish) {
        if self.phase == Phase::Asleep {
            if self.buffered.len() < core.config.max_buffered {
                self.buffered.push_back(p);
            } else {
                core.stats.dropped_buffer += 1;
                core.events.push_back(Event::Dropped {
                    peer: self.peer.clone(),
                });
            }
            return;
        }
        if p.qos != MqttQoS::AtMostOnce && self.outbox.len() >= core.config.max_inflight {
            // The client acknowledges slower than the broker sends.
            core.stats.dropped_buffer += 1;
            core.events.push_back(Event::Dropped {
                peer: self.peer.clone(),
            });
            return;
        }
        let name = p.topic.as_bytes();
        let topic = if let Some(id) = self.topics.id(name) {
            Topic::Id(id)
        } else if let Some(id) = core.config.predefined_id(p.topic.as_str()) {
            Topic::Predefined(id)
        } else if let [a, b] = name[..] {
            Topic::Short([a, b])
        } else {
            let config = &core.config;
            let reserved = |id| config.predefined.contains_key(&id);
            let Some(id) = self
                .topics
                .register(name.clone(), config.max_topics, reserved)
            else {
                core.stats.dropped_buffer += 1;
                core.events.push_back(Event::Dropped {
                    peer: self.peer.clone(),
                });
                return;
            };
            let msg_id = self.msg_id();
            let register = mqttsn_codec::Register {
                topic_id: id,
                msg_id,
                topic_name: name.clone(),
            };
            let every = core.config.retry_interval;
            self.outbox
                .track(now, every, msg_id, register.clone().into());
            core.send(&self.peer, register);
            Topic::Id(id)
        };
        let qos = to_sn_qos(p.qos);
        let msg_id = if qos == QoS::AtMostOnce {
            0
        } else {
            self.msg_id()
        };
        let publish = mqttsn_codec::Publish {
            dup: false,
            qos,
            retain: p.retain,
            topic,
            msg_id,
            data: p.payload,
        };
        if qos != QoS::AtMostOnce {
            let every = core.config.retry_interval;
            self.outbox
                .track(now, every, msg_id, publish.clone().into());
        }
        core.send(&self.peer, publish);
    }

    /// A message from the client, once CONNECT was seen.
    pub(crate) fn on_message(&mut self, core: &mut Core, now: Instant, msg: Message) {
        self.touch(core, now);
        match msg {
            Message::WillTopic(w) if self.phase == Phase::WillTopic => {
                if w.is_some() {
                    self.will_topic = w;
                    self.phase = Phase::WillMsg;
                    core.send(&self.peer, Message::WillMsgReq);
                } else {
                    self.start(core, now, None);
                }
            }
            Message::WillMsg(m) if self.phase == Phase::WillMsg => {
                self.start(core, now, Some(m.will_msg));
            }
            Message::Disconnect(d) => self.on_disconnect(core, now, d.duration),
            _ if !matches!(self.phase, Phase::Active | Phase::Updating) => {}
            Message::Register(r) => self.on_register(core, &r),
            Message::Publish(p) => self.on_publish(core, now, p),
            Message::PubRel(r) => {
                self.qos2_in.remove(&r.msg_id);
                if self.q2_pending.values().any(|m| *m == r.msg_id) {
                    self.q2_released.insert(r.msg_id);
                } else {
                    core.send(&self.peer, mqttsn_codec::PubComp { msg_id: r.msg_id });
                }
            }
            Message::PubRec(r) => {
                let rel = mqttsn_codec::PubRel { msg_id: r.msg_id };
                let every = core.config.retry_interval;
                self.outbox.track(now, every, r.msg_id, rel.into());
                core.send(&self.peer, rel);
            }
            Message::PubAck(mqttsn_codec::PubAck { msg_id, .. })
            | Message::PubComp(mqttsn_codec::PubComp { msg_id })
            | Message::RegAck(mqttsn_codec::RegAck { msg_id, .. }) => self.outbox.ack(msg_id),
            Message::Subscribe(s) => self.on_subscribe(core, now, s),
            Message::Unsubscribe(u) => self.on_unsubscribe(core, now, u),
            Message::PingReq(_) => core.send(&self.peer, Message::PingResp),
            Message::WillTopicUpd(w) => self.update_will_topic(core, now, w),
            Message::WillMsgUpd(m) => self.update_will_msg(core, now, m.will_msg),
            _ => {}
        }
        self.drain(core, now);
    }

    fn on_disconnect(&mut self, core: &mut Core, now: Instant, duration: Option<u16>) {
        match duration {
            Some(secs) if self.phase == Phase::Active || self.phase == Phase::Asleep => {
                self.phase = Phase::Asleep;
                self.sleep = secs;
                self.deadline = Some(now + core.config.stretched(secs));
                core.send(&self.peer, Disconnect::default());
            }
            _ => {
                core.send(&self.peer, Disconnect::default());
                self.end(core, now);
            }
        }
    }

    /// Ends the session cleanly: MQTT DISCONNECT first, so the broker
    /// drops the will (a DISCONNECT from the client, or a new CONNECT that
    /// replaces the session).
    pub(crate) fn end(&mut self, core: &mut Core, now: Instant) {
        if let Some(mqtt) = self.mqtt.as_mut() {
            mqtt.disconnect(now, ReasonCode::NORMAL_DISCONNECTION);
            while let Some(bytes) = mqtt.poll_transmit() {
                core.upstream(self.conn, bytes);
            }
        }
        self.close(core, Gone::Disconnect);
    }

    /// PINGREQ while asleep (§6.14): deliver what was buffered, answer
    /// PINGRESP, sleep again.
    pub(crate) fn wake(&mut self, core: &mut Core, now: Instant) {
        self.phase = Phase::Active;
        while let Some(p) = self.buffered.pop_front() {
            self.deliver(core, now, p);
        }
        core.send(&self.peer, Message::PingResp);
        self.phase = Phase::Asleep;
        self.deadline = Some(now + core.config.stretched(self.sleep));
    }

    /// CONNECT from a sleeping or connected client that keeps its session.
    pub(crate) fn resume(&mut self, core: &mut Core, now: Instant, duration: u16) {
        self.duration = duration;
        self.phase = Phase::Active;
        self.touch(core, now);
        core.send(
            &self.peer,
            ConnAck {
                return_code: ReturnCode::Accepted,
            },
        );
        while let Some(p) = self.buffered.pop_front() {
            self.deliver(core, now, p);
        }
    }
}
