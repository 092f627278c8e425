//! CONNECT, CONNACK, takeover, DISCONNECT and wills (MQTT 5.0 §3.1, §3.2,
//! §3.14; MQTT 3.1.1 §3.1, §3.2).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use mqtt_client::session::{Resend, Session};
use mqtt_codec::{
    Ack, ConnAck, Connect, Disconnect, LastWill, Packet, ProtocolVersion, Publish, ReasonCode,
    Utf8String,
};

use crate::auth::PendingAuth;
use crate::broker::{Broker, Client, ConnId, Event};
use crate::hooks::AuthStep;

impl Broker {
    pub(crate) fn on_connect(&mut self, now: Instant, conn: ConnId, connect: Connect) {
        let version = connect.protocol_version;
        let v5 = version.is_v5();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.version = version;
            if v5 {
                // Even a refusal must fit (MQTT 5.0 §3.1.2.11.4).
                c.max_packet = connect.properties.maximum_packet_size.unwrap_or(u32::MAX);
                c.problem_info = connect.properties.request_problem_information != Some(false);
            }
        }
        // MQTT 5.0 §1.5.4: control characters in these strings are refused
        // (the connection is closed), as Mosquitto does.
        let discouraged = |s: &str| mqtt_codec::has_discouraged_code_points(s);
        if discouraged(&connect.client_id)
            || connect.username.as_deref().is_some_and(discouraged)
            || connect.will.as_ref().is_some_and(|w| discouraged(&w.topic))
        {
            self.stats.protocol_errors += 1;
            return self.close(now, conn, ReasonCode::MALFORMED_PACKET, false);
        }
        let mut props = mqtt_codec::Props::default();
        let client_id: Arc<str> = if connect.client_id.is_empty() {
            // MQTT 3.1.1 §3.1.3.1: an empty id needs CleanSession 1; 3.1 has no empty ids.
            if version == ProtocolVersion::V3_1 || (!v5 && !connect.clean_start) {
                return self.refuse(now, conn, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
            }
            let id = format!("m2m-{:016x}", self.next_random());
            if v5 {
                props.assigned_client_identifier = Utf8String::try_from(id.as_str()).ok();
            }
            Arc::from(id)
        } else {
            Arc::from(connect.client_id.as_str())
        };
        if v5 {
            if let Some(method) = connect.properties.authentication_method.clone() {
                // Enhanced authentication (MQTT 5.0 §4.12), through the hook.
                let data = connect.properties.authentication_data.clone();
                let step = self.hooks.auth(&client_id, &method, data.as_deref());
                match step {
                    AuthStep::Success(data) => {
                        props.authentication_method = Some(method);
                        props.authentication_data = data;
                    }
                    AuthStep::Continue(data) => {
                        let pending = PendingAuth {
                            connect,
                            client_id,
                            props,
                        };
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.pending_auth = Some(Box::new(pending));
                        }
                        return self.send_auth(
                            conn,
                            ReasonCode::CONTINUE_AUTHENTICATION,
                            method,
                            data,
                        );
                    }
                    AuthStep::Refuse(code) => return self.refuse(now, conn, code),
                }
            }
        }
        self.finish_connect(now, conn, connect, client_id, props);
    }

    /// The rest of CONNECT once enhanced authentication (if any) succeeded.
    pub(crate) fn finish_connect(
        &mut self,
        now: Instant,
        conn: ConnId,
        connect: Connect,
        client_id: Arc<str>,
        mut props: mqtt_codec::Props,
    ) {
        let version = connect.protocol_version;
        let v5 = version.is_v5();
        if connect.username.is_none() && !self.config.allow_anonymous {
            return self.refuse(now, conn, ReasonCode::NOT_AUTHORIZED);
        }
        let verdict = self.hooks.authenticate(
            &client_id,
            connect.username.as_deref(),
            connect.password.as_deref(),
        );
        if verdict.is_error() {
            return self.refuse(now, conn, verdict);
        }

        // Keep-alive, enforced at 1.5 times (MQTT 5.0 §3.1.2.10).
        let mut keep_alive = connect.keep_alive;
        if let Some(max) = self.config.max_keep_alive {
            if v5 && (keep_alive == 0 || keep_alive > max) {
                keep_alive = max;
                props.server_keep_alive = Some(max);
            }
        }
        // Takeover (MQTT 5.0 §3.1.4-3): the old connection is closed with 0x8E.
        let old = self.clients.get(&client_id).and_then(|c| c.conn);
        if let Some(old) = old {
            self.close(now, old, ReasonCode::SESSION_TAKEN_OVER, true);
        }
        let expiry = if v5 {
            connect.properties.session_expiry_interval.unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            u32::MAX
        };
        if connect.clean_start {
            self.end_session(now, &client_id);
        }
        let window = connect.properties.receive_maximum.unwrap_or(u16::MAX);
        let max_packet = connect.properties.maximum_packet_size.unwrap_or(u32::MAX);
        let session_present = self.clients.contains_key(&client_id);
        let client = self.clients.entry(client_id.clone()).or_insert_with(|| {
            Box::new(Client {
                session: Session::new(window),
                subs: BTreeMap::new(),
                conn: None,
                version,
                expiry,
                expires_at: None,
                will_at: None,
                max_packet,
                expires: None,
                dropping: false,
            })
        });
        client.session.set_window(window);
        client.conn = Some(conn);
        client.version = version;
        client.expiry = expiry;
        client.expires_at = None;
        // A reconnect before the Will Delay ends cancels the will (§3.1.3.2.2).
        client.will_at = None;
        client.max_packet = max_packet;

        if let Some(c) = self.conns.get_mut(&conn) {
            c.client = Some(client_id.clone());
            c.will = connect.will.map(Box::new);
            c.keep_alive = keep_alive;
            c.deadline = None;
            // Aliases towards the client (MQTT 5.0 §3.3.2.3.4), per connection.
            let max = connect.properties.topic_alias_maximum.unwrap_or(0);
            c.aliases_out = crate::alias::OutAliases::new(
                self.config.outgoing_topic_aliases,
                max.min(self.config.outgoing_topic_alias_maximum),
            );
        }
        if let Some(ka) = self.conns.get(&conn).and_then(|c| c.keep_alive_limit()) {
            self.set_deadline(conn, now + ka);
        }
        if v5 {
            props.receive_maximum = Some(self.config.receive_maximum).filter(|&m| m != u16::MAX);
            props.topic_alias_maximum = Some(self.config.topic_alias_maximum).filter(|&m| m > 0);
            props.maximum_packet_size = Some(self.config.max_packet_size);
            if !self.config.retain_available {
                props.retain_available = Some(false);
            }
            if connect.properties.request_response_information == Some(true) {
                props.response_information = self.response_information(&client_id);
            }
        }
        let connack = ConnAck {
            // MQTT 3.1 has no Session Present flag (the byte is reserved).
            session_present: session_present && version != ProtocolVersion::V3_1,
            reason_code: ReasonCode::SUCCESS,
            properties: props,
        };
        // A CONNACK too large for the client closes the connection at the
        // end of this call (see `Broker::send`).
        self.send(conn, &Packet::ConnAck(connack));
        self.stats.connections += 1;
        self.connected += 1;
        self.stats.clients_maximum = self.stats.clients_maximum.max(self.connected);
        self.push_event(Event::Connected {
            conn,
            client_id: client_id.clone(),
            version,
            session_present,
        });
        if session_present {
            self.resume(now, conn, &client_id);
        }
    }

    /// Sends again what the session had in flight (MQTT 5.0 §4.4), then what
    /// waited. No more flows than the client's Receive Maximum go out before
    /// acknowledgements come (§4.9): the others are resent by
    /// [`flush`](Self::flush) as the window opens.
    fn resume(&mut self, now: Instant, conn: ConnId, id: &Arc<str>) {
        let Some(client) = self.clients.get(id) else {
            return;
        };
        let window = usize::from(client.session.window());
        let mut later = std::collections::VecDeque::new();
        for (i, r) in client.session.resend().into_iter().enumerate() {
            match r {
                Resend::Publish(p) if i >= window => later.push_back(p.packet_id),
                Resend::PubRel(pid) if i >= window => later.push_back(pid),
                Resend::Publish(p) => self.send_publish(conn, p),
                Resend::PubRel(pid) => self.send(conn, &Packet::PubRel(Ack::new(pid))),
                _ => {}
            }
        }
        if later.is_empty() {
            self.resends.remove(id);
        } else {
            self.resends.insert(id.clone(), later);
        }
        self.flush(now, id);
    }

    /// Response Information for `client_id` (MQTT 5.0 §3.2.2.3.15), from
    /// [`Config::response_topic_prefix`](crate::Config::response_topic_prefix).
    fn response_information(&self, client_id: &str) -> Option<Utf8String> {
        let prefix = self.config.response_topic_prefix.as_deref()?;
        let topic = format!("{prefix}{client_id}");
        mqtt_codec::topic::validate_topic_name(&topic).ok()?;
        Utf8String::try_from(topic).ok()
    }

    /// Refuses a CONNECT with `reason` (mapped to a 3.1.1 return code by the codec).
    pub(crate) fn refuse(&mut self, now: Instant, conn: ConnId, reason: ReasonCode) {
        let mut connack = ConnAck {
            session_present: false,
            reason_code: reason,
            ..ConnAck::default()
        };
        connack.properties.reason_string = self.reason_string(reason);
        self.send(conn, &Packet::ConnAck(connack));
        self.close(now, conn, reason, false);
    }

    pub(crate) fn on_disconnect(&mut self, now: Instant, conn: ConnId, d: &Disconnect) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(id) = c.client.clone() else {
            return;
        };
        if let Some(secs) = d.properties.session_expiry_interval {
            let client_expiry = self.clients.get(&id).map_or(0, |c| c.expiry);
            // MQTT 5.0 §3.14.2.2.2: 0 in CONNECT cannot become non-zero.
            if client_expiry == 0 && secs != 0 {
                return self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR);
            }
            if let Some(client) = self.clients.get_mut(&id) {
                client.expiry = secs;
            }
        }
        let with_will = d.reason_code == ReasonCode::DISCONNECT_WITH_WILL_MESSAGE;
        self.push_event(Event::Close {
            conn,
            reason: d.reason_code,
        });
        self.drop_conn(now, conn, with_will);
    }

    /// Publishes a will as if its client had sent it (MQTT 5.0 §3.1.2.5).
    pub(crate) fn publish_will(&mut self, now: Instant, client: &Arc<str>, will: LastWill) {
        let mut p = Publish::new(will.topic, will.payload).with_retain(will.retain);
        p.qos = will.qos;
        let wp = &will.properties;
        if !wp.is_empty() {
            p.properties.payload_format_indicator = wp.payload_format_indicator;
            p.properties.message_expiry_interval = wp.message_expiry_interval;
            p.properties.content_type.clone_from(&wp.content_type);
            p.properties.response_topic.clone_from(&wp.response_topic);
            p.properties
                .correlation_data
                .clone_from(&wp.correlation_data);
            p.properties.user_properties.clone_from(&wp.user_properties);
        }
        if !self
            .hooks
            .authorize_publish(client, &p.topic, p.qos, p.retain)
            || p.topic.starts_with('$')
        {
            return;
        }
        if p.retain && self.config.retain_available {
            self.retained.store(now, &p);
        }
        self.route(now, Some(client), &p);
    }
}
