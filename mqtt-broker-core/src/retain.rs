//! Retained messages (MQTT 5.0 §3.3.1.3): one per topic, replaced by a newer
//! one, deleted by an empty payload, expired by Message Expiry Interval.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mqtt_codec::Publish;

#[derive(Debug, Clone)]
struct Retained {
    publish: Publish,
    expires: Option<Instant>,
}

/// The retained messages of a broker.
#[derive(Debug, Default)]
pub(crate) struct RetainStore {
    by_topic: BTreeMap<Box<str>, Retained>,
}

impl RetainStore {
    /// Stores, replaces or (empty payload) deletes the message of `publish.topic`.
    pub(crate) fn store(&mut self, now: Instant, publish: &Publish) {
        if publish.payload.is_empty() {
            self.by_topic.remove(publish.topic.as_str());
            return;
        }
        let expires = publish
            .properties
            .message_expiry_interval
            .map(|s| now + Duration::from_secs(u64::from(s)));
        let mut p = publish.clone();
        p.dup = false;
        p.packet_id = 0;
        p.properties.topic_alias = None;
        p.properties.subscription_identifiers.clear();
        self.by_topic.insert(
            publish.topic.as_str().into(),
            Retained {
                publish: p,
                expires,
            },
        );
    }

    /// Number of retained messages (expired ones count until dropped).
    pub(crate) fn len(&self) -> usize {
        self.by_topic.len()
    }

    /// The live messages whose topic matches `filter`, with their remaining
    /// expiry interval set (MQTT 5.0 §3.3.2.3.3). Expired ones are dropped.
    pub(crate) fn matching(&mut self, now: Instant, filter: &str) -> Vec<Publish> {
        self.by_topic
            .retain(|_, r| r.expires.is_none_or(|e| e > now));
        self.by_topic
            .iter()
            .filter(|(t, _)| mqtt_codec::topic::matches(filter, t))
            .map(|(_, r)| {
                let mut p = r.publish.clone();
                if let Some(e) = r.expires {
                    let left = e.saturating_duration_since(now).as_secs();
                    p.properties.message_expiry_interval =
                        Some(u32::try_from(left).unwrap_or(u32::MAX).max(1));
                }
                p
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use mqtt_codec::Utf8String;

    #[allow(clippy::disallowed_methods)] // the test is the clock
    fn t0() -> Instant {
        Instant::now()
    }

    fn publish(topic: &'static str, payload: &'static [u8]) -> Publish {
        Publish::new(Utf8String::from_static(topic), Bytes::from_static(payload)).with_retain(true)
    }

    #[test]
    fn stored_replaced_and_deleted_by_empty_payload() {
        let now = t0();
        let mut s = RetainStore::default();
        s.store(now, &publish("a/b", b"1"));
        s.store(now, &publish("a/b", b"2"));
        s.store(now, &publish("a/c", b"3"));
        let got = s.matching(now, "a/b");
        assert_eq!(got.len(), 1);
        assert_eq!(&got[0].payload[..], b"2");
        s.store(now, &publish("a/b", b""));
        assert_eq!(s.matching(now, "a/+").len(), 1);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn expired_messages_are_not_delivered_and_remaining_time_is_set() {
        let now = t0();
        let mut s = RetainStore::default();
        let mut p = publish("t", b"x");
        p.properties.message_expiry_interval = Some(10);
        s.store(now, &p);
        let got = s.matching(now + Duration::from_secs(4), "t");
        assert_eq!(got[0].properties.message_expiry_interval, Some(6));
        assert!(s.matching(now + Duration::from_secs(10), "#").is_empty());
        assert_eq!(s.len(), 0);
    }
}
