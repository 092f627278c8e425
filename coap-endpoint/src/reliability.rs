//! The message layer's per-peer state (RFC 7252 §4): message IDs, CON
//! retransmission with exponential back-off, NSTART and PROBING_RATE.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::Config;
use crate::event::RequestId;
use crate::hash::{self, Map};
use crate::rng::Rng;

/// The first retransmission timeout of a CON: uniform in
/// `[ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR)` (RFC 7252 §4.2).
pub(crate) fn initial_timeout(config: &Config, rng: &mut Rng) -> Duration {
    let spread = config.ack_random_factor - 1.0;
    config.ack_timeout.mul_f64(1.0 + spread * rng.next_f64())
}

/// What an unacknowledged CON carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OutKind {
    /// A request of ours.
    Request(RequestId),
    /// A CoAP ping (empty CON).
    Ping(RequestId),
    /// A separate response of ours (RFC 7252 §5.2.2).
    Response,
    /// A CON notification to the observer with this token (RFC 7641 §4.5).
    Notification(coap_codec::Token),
}

/// A CON waiting for its ACK.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) kind: OutKind,
    pub(crate) payload: Bytes,
    pub(crate) retransmits: u8,
    pub(crate) interval: Duration,
    pub(crate) deadline: Instant,
}

/// What the endpoint knows about one peer.
#[derive(Debug)]
pub(crate) struct Peer {
    next_mid: u16,
    /// CON requests to this peer not yet acknowledged (NSTART).
    pub(crate) active: usize,
    /// Requests waiting for NSTART or PROBING_RATE, in order.
    pub(crate) queue: VecDeque<RequestId>,
    /// PROBING_RATE budget in bytes.
    credit: f64,
    credit_at: Instant,
    last_used: Instant,
}

impl Peer {
    fn is_idle(&self) -> bool {
        self.active == 0 && self.queue.is_empty()
    }

    /// Spends `len` bytes of the PROBING_RATE budget for a NON request, or
    /// says when the budget will allow it (RFC 7252 §4.7).
    pub(crate) fn spend_probe(
        &mut self,
        now: Instant,
        len: usize,
        config: &Config,
    ) -> Result<(), Instant> {
        let cap = config.max_message_size as f64;
        let rate = f64::from(config.probing_rate);
        let elapsed = now.saturating_duration_since(self.credit_at).as_secs_f64();
        self.credit = (self.credit + elapsed * rate).min(cap);
        self.credit_at = now;
        let need = len as f64;
        if self.credit >= need {
            self.credit -= need;
            Ok(())
        } else {
            Err(now + Duration::from_secs_f64((need - self.credit) / rate))
        }
    }

    /// The peer answered: it is not "a peer that does not respond".
    pub(crate) fn responded(&mut self, now: Instant, config: &Config) {
        self.credit = config.max_message_size as f64;
        self.credit_at = now;
    }
}

/// Peers by address, bounded by `max_peers`.
#[derive(Debug)]
pub(crate) struct Peers {
    map: Map<SocketAddr, Peer>,
    /// Message IDs for peers that do not fit in the table.
    overflow_mid: u16,
}

impl Peers {
    pub(crate) fn new(hash_key: u64, rng: &mut Rng) -> Self {
        Self {
            map: hash::map(hash_key),
            overflow_mid: rng.next_u64() as u16,
        }
    }

    /// The peer's state, created on first use when there is room.
    pub(crate) fn get_or_create(
        &mut self,
        addr: SocketAddr,
        now: Instant,
        config: &Config,
        rng: &mut Rng,
    ) -> Option<&mut Peer> {
        if !self.map.contains_key(&addr) {
            if self.map.len() >= config.max_peers {
                return None;
            }
            self.map.insert(
                addr,
                Peer {
                    // RFC 7252 §4.4: start at a random message ID.
                    next_mid: rng.next_u64() as u16,
                    active: 0,
                    queue: VecDeque::new(),
                    credit: config.max_message_size as f64,
                    credit_at: now,
                    last_used: now,
                },
            );
        }
        let p = self.map.get_mut(&addr)?;
        p.last_used = now;
        Some(p)
    }

    pub(crate) fn get_mut(&mut self, addr: &SocketAddr) -> Option<&mut Peer> {
        self.map.get_mut(addr)
    }

    /// A fresh message ID for `addr` (RFC 7252 §4.4).
    pub(crate) fn next_mid(
        &mut self,
        addr: SocketAddr,
        now: Instant,
        config: &Config,
        rng: &mut Rng,
    ) -> u16 {
        match self.get_or_create(addr, now, config, rng) {
            Some(p) => {
                let mid = p.next_mid;
                p.next_mid = p.next_mid.wrapping_add(1);
                mid
            }
            None => {
                self.overflow_mid = self.overflow_mid.wrapping_add(1);
                self.overflow_mid
            }
        }
    }

    /// Forgets idle peers whose message IDs have been unused for
    /// EXCHANGE_LIFETIME. Returns whether any peer remains.
    pub(crate) fn sweep(&mut self, now: Instant, lifetime: Duration) -> bool {
        self.map.retain(|_, p| {
            !(p.is_idle() && now.saturating_duration_since(p.last_used) >= lifetime)
        });
        !self.map.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_timeout_lies_in_rfc_interval() {
        let c = Config::default();
        let mut rng = Rng::new(3);
        for _ in 0..1000 {
            let t = initial_timeout(&c, &mut rng);
            assert!(
                t >= Duration::from_secs(2) && t < Duration::from_secs(3),
                "{t:?}"
            );
        }
    }

    #[test]
    fn message_ids_are_consecutive_per_peer() {
        let c = Config::default();
        let mut rng = Rng::new(3);
        let now = Instant::now();
        let mut peers = Peers::new(1, &mut rng);
        let a: SocketAddr = ([127, 0, 0, 1], 1).into();
        let m1 = peers.next_mid(a, now, &c, &mut rng);
        let m2 = peers.next_mid(a, now, &c, &mut rng);
        assert_eq!(m2, m1.wrapping_add(1));
    }

    #[test]
    fn probing_rate_limits_non_to_silent_peer() {
        let c = Config::default();
        let mut rng = Rng::new(3);
        let now = Instant::now();
        let mut peers = Peers::new(1, &mut rng);
        let a: SocketAddr = ([127, 0, 0, 1], 1).into();
        let p = peers.get_or_create(a, now, &c, &mut rng).unwrap();
        assert!(p.spend_probe(now, 1000, &c).is_ok());
        let wake = p.spend_probe(now, 1000, &c).unwrap_err();
        // 1152 - 1000 = 152 bytes left; 848 more at 1 byte/s.
        assert_eq!(wake - now, Duration::from_secs(848));
        p.responded(now, &c);
        assert!(p.spend_probe(now, 1000, &c).is_ok());
    }

    #[test]
    fn sweep_forgets_idle_peers_after_lifetime() {
        let c = Config::default();
        let mut rng = Rng::new(3);
        let now = Instant::now();
        let mut peers = Peers::new(1, &mut rng);
        let a: SocketAddr = ([127, 0, 0, 1], 1).into();
        peers.next_mid(a, now, &c, &mut rng);
        assert!(peers.sweep(now + Duration::from_secs(246), Duration::from_secs(247)));
        assert!(!peers.sweep(now + Duration::from_secs(247), Duration::from_secs(247)));
        assert_eq!(peers.len(), 0);
    }
}
