//! Keep-alive (MQTT 5.0 §3.1.2.10): send PINGREQ when nothing was sent for
//! the keep-alive interval, and declare the connection dead when PINGRESP
//! does not come within the ping timeout.

use std::time::{Duration, Instant};

/// What the keep-alive timer asks for at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepAliveAction {
    Nothing,
    SendPing,
    Dead,
}

#[derive(Debug, Clone)]
pub(crate) struct KeepAlive {
    interval: Option<Duration>,
    ping_timeout: Duration,
    last_sent: Instant,
    ping_deadline: Option<Instant>,
}

impl KeepAlive {
    /// `interval` of zero turns keep-alive off (MQTT 5.0 §3.1.2.10).
    pub(crate) fn new(now: Instant, interval: Duration, ping_timeout: Duration) -> Self {
        Self {
            interval: (!interval.is_zero()).then_some(interval),
            ping_timeout,
            last_sent: now,
            ping_deadline: None,
        }
    }

    pub(crate) fn on_send(&mut self, now: Instant) {
        self.last_sent = now;
    }

    pub(crate) fn on_pingresp(&mut self) {
        self.ping_deadline = None;
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.ping_deadline
            .or_else(|| self.interval.map(|i| self.last_sent + i))
    }

    pub(crate) fn poll(&mut self, now: Instant) -> KeepAliveAction {
        if let Some(d) = self.ping_deadline {
            return if now >= d {
                KeepAliveAction::Dead
            } else {
                KeepAliveAction::Nothing
            };
        }
        match self.interval {
            Some(i) if now >= self.last_sent + i => {
                self.ping_deadline = Some(now + self.ping_timeout);
                KeepAliveAction::SendPing
            }
            _ => KeepAliveAction::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_when_idle_and_dies_without_pingresp() {
        let t0 = origin();
        let mut k = KeepAlive::new(t0, Duration::from_secs(10), Duration::from_secs(5));
        assert_eq!(k.deadline(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(
            k.poll(t0 + Duration::from_secs(9)),
            KeepAliveAction::Nothing
        );
        k.on_send(t0 + Duration::from_secs(9));
        assert_eq!(
            k.poll(t0 + Duration::from_secs(10)),
            KeepAliveAction::Nothing
        );
        assert_eq!(
            k.poll(t0 + Duration::from_secs(19)),
            KeepAliveAction::SendPing
        );
        assert_eq!(k.deadline(), Some(t0 + Duration::from_secs(24)));
        assert_eq!(
            k.poll(t0 + Duration::from_secs(23)),
            KeepAliveAction::Nothing
        );
        assert_eq!(k.poll(t0 + Duration::from_secs(24)), KeepAliveAction::Dead);
    }

    #[test]
    fn pingresp_clears_the_deadline_and_zero_disables() {
        let t0 = origin();
        let mut k = KeepAlive::new(t0, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(
            k.poll(t0 + Duration::from_secs(1)),
            KeepAliveAction::SendPing
        );
        k.on_pingresp();
        k.on_send(t0 + Duration::from_secs(1));
        assert_eq!(k.deadline(), Some(t0 + Duration::from_secs(2)));
        let mut off = KeepAlive::new(t0, Duration::ZERO, Duration::from_secs(1));
        assert_eq!(off.deadline(), None);
        assert_eq!(
            off.poll(t0 + Duration::from_secs(1000)),
            KeepAliveAction::Nothing
        );
    }

    #[allow(clippy::disallowed_methods)] // any origin will do in a unit test
    fn origin() -> Instant {
        Instant::now()
    }
}
