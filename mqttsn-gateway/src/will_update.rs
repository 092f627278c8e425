//! WILLTOPICUPD / WILLMSGUPD (MQTT-SN v1.2 §5.4.22–§5.4.25, §6.4) in
//! transparent mode. MQTT fixes the will at CONNECT, so the gateway
//! reconnects the client's MQTT connection with the new will: a clean
//! DISCONNECT first (the old will is not published), then CONNECT on a new
//! connection, replaying the client's subscriptions if the broker did not
//! keep its session. The response goes to the client once the broker
//! accepted the new CONNECT.

use std::time::Instant;

use bytes::Bytes;
use mqtt_codec::{ReasonCode, Subscription, Utf8String};
use mqttsn_codec::{Message, ReturnCode, WillMsgResp, WillTopic, WillTopicResp};

use crate::core::Core;
use crate::output::Transmit;
use crate::session::{to_mqtt_qos, Phase, Session};

impl Session {
    /// WILLTOPICUPD: a new will topic (keeping the message), or none.
    pub(crate) fn update_will_topic(
        &mut self,
        core: &mut Core,
        now: Instant,
        w: Option<WillTopic>,
    ) {
        self.will = w.map(|w| {
            let msg = self.will.take().map(|(_, m)| m).unwrap_or_default();
            (w, msg)
        });
        let resp = WillTopicResp {
            return_code: ReturnCode::Accepted,
        };
        self.reconnect(core, now, resp.into());
    }

    /// WILLMSGUPD: a new will message for the will topic held.
    pub(crate) fn update_will_msg(&mut self, core: &mut Core, now: Instant, msg: Bytes) {
        let Some((_, m)) = self.will.as_mut() else {
            // No will topic to attach it to: nothing changes at the broker.
            let resp = WillMsgResp {
                return_code: ReturnCode::RejectedNotSupported,
            };
            core.send(&self.peer, resp);
            return;
        };
        *m = msg;
        let resp = WillMsgResp {
            return_code: ReturnCode::Accepted,
        };
        self.reconnect(core, now, resp.into());
    }

    fn reconnect(&mut self, core: &mut Core, now: Instant, resp: Message) {
        let Some(old) = self.mqtt.as_mut() else {
            // Aggregating mode: the gateway holds the will and publishes it.
            core.send(&self.peer, resp);
            return;
        };
        let id = old.client_id().to_owned();
        old.disconnect(now, ReasonCode::NORMAL_DISCONNECTION);
        while let Some(bytes) = old.poll_transmit() {
            core.upstream(self.conn, bytes);
        }
        core.out.push_back(Transmit::Close(self.conn));
        self.retired.push(self.conn);
        // What the old connection had in flight is forgotten; the client
        // retransmits it (MQTT-SN §6.13) and it goes out on the new one.
        self.pub_acks.clear();
        self.q2_pending.clear();
        self.subs.clear();
        self.unsubs.clear();
        self.conn = core.conn_id();
        // A clean-session client's broker session ends with the old
        // connection; a persistent one resumes.
        self.open(core, now, id, self.clean);
        self.phase = Phase::Updating;
        self.update = Some(resp);
    }

    /// The broker accepted the CONNECT with the new will.
    pub(crate) fn updated(&mut self, core: &mut Core, now: Instant, session_present: bool) {
        self.phase = Phase::Active;
        if !session_present {
            let filters: Vec<_> = self
                .filters
                .iter()
                .filter_map(|(f, q)| {
                    let f = Utf8String::from_bytes(f.clone()).ok()?;
                    Some(Subscription::new(f, to_mqtt_qos(*q)))
                })
                .collect();
            if let Some(mqtt) = self.mqtt.as_mut() {
                if !filters.is_empty() {
                    if let Ok(pid) = mqtt.subscribe(now, filters, None) {
                        self.resubs.insert(pid);
                    }
                }
            }
        }
        if let Some(resp) = self.update.take() {
            core.send(&self.peer, resp);
        }
    }
}
