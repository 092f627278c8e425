//! `$SYS/broker/...` statistics, published retained every
//! [`Config::sys_interval_secs`](crate::Config::sys_interval_secs) as
//! Mosquitto does (its `$SYS` topic names).

use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_codec::{Publish, Utf8String};

use crate::broker::Broker;

/// The version string published on `$SYS/broker/version`.
pub(crate) const VERSION: &str = concat!("m2m-broker ", env!("CARGO_PKG_VERSION"));

impl Broker {
    /// Publishes every `$SYS/broker/...` topic now and returns when to do it next.
    pub(crate) fn publish_sys(&mut self, now: Instant, started: Instant) -> Option<Instant> {
        let interval = self.config.sys_interval_secs;
        if interval == 0 {
            return None;
        }
        let st = self.stats();
        let uptime = now.saturating_duration_since(started).as_secs();
        let items: [(&str, String); 13] = [
            ("version", VERSION.to_owned()),
            ("uptime", format!("{uptime} seconds")),
            ("clients/connected", st.clients_connected.to_string()),
            ("clients/total", st.sessions.to_string()),
            ("clients/maximum", st.clients_maximum.to_string()),
            ("messages/received", st.messages_received.to_string()),
            ("messages/sent", st.messages_sent.to_string()),
            ("publish/messages/received", st.publish_received.to_string()),
            ("publish/messages/sent", st.publish_sent.to_string()),
            ("bytes/received", st.bytes_received.to_string()),
            ("bytes/sent", st.bytes_sent.to_string()),
            ("subscriptions/count", st.subscriptions.to_string()),
            ("retained messages/count", st.retained.to_string()),
        ];
        for (topic, value) in items {
            let Ok(topic) = Utf8String::try_from(format!("$SYS/broker/{topic}")) else {
                continue;
            };
            let p = Publish::new(topic, Bytes::from(value)).with_retain(true);
            self.retained.store(now, &p);
            self.route(now, None, &p);
        }
        Some(now + Duration::from_secs(u64::from(interval)))
    }
}
