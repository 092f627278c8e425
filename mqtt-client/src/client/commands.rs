//! The application's commands: publish, subscribe, unsubscribe, auth,
//! disconnect.

use std::time::Instant;

use mqtt_codec::{
    topic, Auth, Disconnect, Packet, PacketType, ProtocolVersion, Publish, QoS, ReasonCode,
    Subscription, Unsubscribe, Utf8String,
};

use super::{Client, State};
use crate::error::{CommandError, PublishError};
use crate::event::{DisconnectReason, Event};

impl Client {
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
}
