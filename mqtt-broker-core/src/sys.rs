//! `$SYS/broker/...` statistics, published retained every
//! [`Config::sys_interval_secs`](crate::Config::sys_interval_secs) with
//! Mosquitto's topic names and payload formats. As Mosquitto does, a topic
//! is published again only when its value changed; a new subscriber gets
//! the retained value at once.
//!
//! The `load/...` topics are rates per minute, smoothed exponentially over
//! 1, 5 and 15 minutes from the counters' growth between two rounds (the
//! time between them comes from the `now` the adapter passes in), with
//! two decimals.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_codec::{Publish, Utf8String};

use crate::broker::{Broker, Stats};

/// The version string published on `$SYS/broker/version` (Mosquitto
/// publishes `mosquitto version <version>`).
pub(crate) const VERSION: &str = concat!("m2m-broker version ", env!("CARGO_PKG_VERSION"));

/// The counters behind `$SYS/broker/load/<name>/{1min,5min,15min}`.
const LOADS: [&str; 9] = [
    "messages/received",
    "messages/sent",
    "publish/received",
    "publish/sent",
    "publish/dropped",
    "bytes/received",
    "bytes/sent",
    "sockets",
    "connections",
];

/// The averaging windows of the load topics, in seconds, and their names.
const WINDOWS: [(f64, &str); 3] = [(60.0, "1min"), (300.0, "5min"), (900.0, "15min")];

fn load_counters(st: &Stats) -> [u64; 9] {
    [
        st.messages_received,
        st.messages_sent,
        st.publish_received,
        st.publish_sent,
        st.dropped,
        st.bytes_received,
        st.bytes_sent,
        st.sockets,
        st.connections,
    ]
}

/// What the `$SYS` publisher remembers between two rounds.
#[derive(Debug, Default)]
pub(crate) struct SysState {
    /// The time and the load counters of the last round.
    last: Option<(Instant, [u64; 9])>,
    /// Smoothed rates per minute: counter × window.
    loads: [[f64; 3]; 9],
    /// The value last published on each topic (below `$SYS/broker/`).
    published: HashMap<String, String>,
}

impl SysState {
    /// Updates the load averages to `now` and returns them, as
    /// (topic below `$SYS/broker/`, value) pairs.
    fn update_loads(&mut self, now: Instant, counters: [u64; 9]) -> Vec<(String, String)> {
        if let Some((then, before)) = self.last {
            let dt = now.saturating_duration_since(then).as_secs_f64();
            if dt > 0.0 {
                self.last = Some((now, counters));
                for (i, load) in self.loads.iter_mut().enumerate() {
                    let grown = counters[i].saturating_sub(before[i]) as f64;
                    let rate = grown * 60.0 / dt;
                    for (w, (secs, _)) in WINDOWS.iter().enumerate() {
                        let decay = (-dt / secs).exp();
                        load[w] = rate + decay * (load[w] - rate);
                    }
                }
            }
        } else {
            self.last = Some((now, counters));
        }
        let mut out = Vec::with_capacity(LOADS.len() * WINDOWS.len());
        for (name, load) in LOADS.iter().zip(&self.loads) {
            for ((_, window), value) in WINDOWS.iter().zip(load) {
                out.push((format!("load/{name}/{window}"), format!("{value:.2}")));
            }
        }
        out
    }
}

impl Broker {
    /// Publishes the `$SYS/broker/...` topics whose value changed and
    /// returns when to do it next.
    pub(crate) fn publish_sys(&mut self, now: Instant, started: Instant) -> Option<Instant> {
        let interval = self.config.sys_interval_secs;
        if interval == 0 {
            return None;
        }
        let st = self.stats();
        let uptime = now.saturating_duration_since(started).as_secs();
        let held: usize = self
            .clients
            .values()
            .map(|c| c.session.queued_len() + c.session.inflight_len())
            .sum::<usize>()
            + st.retained;
        let disconnected = st.sessions.saturating_sub(st.clients_connected);
        let mut items: Vec<(String, String)> = [
            ("version", VERSION.to_owned()),
            ("uptime", format!("{uptime} seconds")),
            ("clients/connected", st.clients_connected.to_string()),
            ("clients/active", st.clients_connected.to_string()),
            ("clients/disconnected", disconnected.to_string()),
            ("clients/inactive", disconnected.to_string()),
            ("clients/total", st.sessions.to_string()),
            ("clients/maximum", st.clients_maximum.to_string()),
            ("clients/expired", st.clients_expired.to_string()),
            ("messages/received", st.messages_received.to_string()),
            ("messages/sent", st.messages_sent.to_string()),
            ("messages/stored", held.to_string()),
            ("store/messages/count", held.to_string()),
            ("publish/messages/received", st.publish_received.to_string()),
            ("publish/messages/sent", st.publish_sent.to_string()),
            ("publish/messages/dropped", st.dropped.to_string()),
            (
                "publish/bytes/received",
                st.publish_bytes_received.to_string(),
            ),
            ("publish/bytes/sent", st.publish_bytes_sent.to_string()),
            ("bytes/received", st.bytes_received.to_string()),
            ("bytes/sent", st.bytes_sent.to_string()),
            ("subscriptions/count", st.subscriptions.to_string()),
            ("retained messages/count", st.retained.to_string()),
        ]
        .into_iter()
        .map(|(t, v)| (t.to_owned(), v))
        .collect();
        items.extend(self.sys.update_loads(now, load_counters(&st)));
        for (topic, value) in items {
            if self.sys.published.get(&topic) == Some(&value) {
                continue;
            }
            let Ok(name) = Utf8String::try_from(format!("$SYS/broker/{topic}")) else {
                continue;
            };
            let p = Publish::new(name, Bytes::from(value.clone())).with_retain(true);
            self.retained.store(now, &p);
            self.route(now, None, &p);
            self.sys.published.insert(topic, value);
        }
        Some(now + Duration::from_secs(u64::from(interval)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)] // the test is the clock
    fn t0() -> Instant {
        Instant::now()
    }

    fn value(out: &[(String, String)], topic: &str) -> f64 {
        out.iter()
            .find(|(t, _)| t == topic)
            .map(|(_, v)| v.parse().unwrap())
            .unwrap()
    }

    #[test]
    fn loads_are_rates_per_minute_decayed_over_each_window() {
        let mut s = SysState::default();
        let t = t0();
        let first = s.update_loads(t, [0; 9]);
        assert_eq!(first.len(), 27);
        assert!(first.iter().all(|(_, v)| v == "0.00"));
        // 600 messages received in 60 s: 600 per minute; the 1-minute
        // average moves 1 - e^-1 of the way, the 15-minute one 1 - e^-1/15.
        let mut c = [0; 9];
        c[0] = 600;
        let out = s.update_loads(t + Duration::from_secs(60), c);
        let one = value(&out, "load/messages/received/1min");
        let fifteen = value(&out, "load/messages/received/15min");
        assert!(
            (one - 600.0 * (1.0 - (-1.0f64).exp())).abs() < 0.01,
            "{one}"
        );
        assert!(
            (fifteen - 600.0 * (1.0 - (-1.0f64 / 15.0).exp())).abs() < 0.01,
            "{fifteen}"
        );
        assert_eq!(value(&out, "load/connections/5min"), 0.0);
        // Nothing more for half an hour: the averages decay towards zero,
        // the short ones faster.
        let out = s.update_loads(t + Duration::from_secs(1860), c);
        assert!(value(&out, "load/messages/received/1min") < 0.01);
        assert!(value(&out, "load/messages/received/15min") > 1.0);
    }

    #[test]
    fn no_time_passed_changes_nothing() {
        let mut s = SysState::default();
        let t = t0();
        s.update_loads(t, [0; 9]);
        let out = s.update_loads(t, [5; 9]);
        assert!(out.iter().all(|(_, v)| v == "0.00"));
    }
}
