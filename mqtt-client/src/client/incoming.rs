//! What the client does with each packet from the server.

use std::time::{Duration, Instant};

use mqtt_codec::{
    Ack as AckPacket, ConnAck, Packet, Publish, QoS, ReasonCode, Subscription, Unsubscribe,
    Utf8String,
};

use super::{Client, ServerLimits, State};
use crate::event::{DisconnectReason, Event};
use crate::keepalive::KeepAlive;
use crate::session::{Ack, Resend};

impl Client {
    pub(super) fn handle_packet(&mut self, now: Instant, packet: Packet) {
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
        self.resend_waiting.clear();
        if c.session_present {
            // MQTT 5.0 §4.4: resend unacknowledged PUBLISH (DUP) and PUBREL,
            // no more at once than the server's Receive Maximum (§4.9); the
            // rest as acknowledgements make room.
            let window = usize::from(self.session.window());
            for (i, r) in self.session.resend().into_iter().enumerate() {
                match r {
                    Resend::Publish(p) if i >= window => self.resend_waiting.push_back(p.packet_id),
                    Resend::PubRel(id) if i >= window => self.resend_waiting.push_back(id),
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
