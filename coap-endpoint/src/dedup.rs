//! Message deduplication (RFC 7252 §4.5).
//!
//! A CON keeps its message ID in use for EXCHANGE_LIFETIME and a NON for
//! NON_LIFETIME, so the cache remembers `(peer, message ID)` that long and
//! answers a duplicate CON with the very bytes it answered the first copy
//! with. Entries are born in time order, so expiry is a FIFO; when a flood
//! fills the cache the oldest entries go first and are counted.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use crate::event::IncomingId;
use crate::hash::{self, Map};

/// What a duplicate of a message gets.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// The request is with the application; no reply yet.
    Pending(IncomingId),
    /// Send these bytes again (piggybacked response, empty ACK, RST, 4.02).
    Cached(Bytes),
    /// Nothing (a duplicate NON).
    Ignore,
}

type Key = (SocketAddr, u16);

#[derive(Debug)]
pub(crate) struct Dedup {
    map: Map<Key, (Instant, Reply)>,
    order: VecDeque<(Instant, Key)>,
    max: usize,
    pub(crate) evictions: u64,
}

impl Dedup {
    pub(crate) fn new(max: usize, hash_key: u64) -> Self {
        Self {
            map: hash::map(hash_key),
            order: VecDeque::new(),
            max,
            evictions: 0,
        }
    }

    /// The reply remembered for `key`, unless it has expired.
    pub(crate) fn get(&self, key: &Key, now: Instant) -> Option<&Reply> {
        match self.map.get(key) {
            Some((expires, reply)) if *expires > now => Some(reply),
            _ => None,
        }
    }

    /// Replaces the reply of a live entry; no-op when there is none.
    pub(crate) fn update(&mut self, key: &Key, reply: Reply) {
        if let Some(e) = self.map.get_mut(key) {
            e.1 = reply;
        }
    }

    /// Remembers `key` until `expires`, evicting the oldest entries when full.
    pub(crate) fn insert(&mut self, key: Key, reply: Reply, expires: Instant) {
        while self.map.len() >= self.max {
            let Some((at, old)) = self.order.pop_front() else {
                break;
            };
            if self.remove_if(&old, at) {
                self.evictions += 1;
            }
        }
        self.map.insert(key, (expires, reply));
        self.order.push_back((expires, key));
    }

    /// Forgets every entry whose time has come.
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.order.front() {
            if at > now {
                break;
            }
            self.order.pop_front();
            self.remove_if(&key, at);
        }
    }

    fn remove_if(&mut self, key: &Key, at: Instant) -> bool {
        if self.map.get(key).is_some_and(|e| e.0 == at) {
            self.map.remove(key);
            true
        } else {
            false
        }
    }

    /// When the oldest entry expires.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.order.front().map(|e| e.0)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len().max(self.order.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn peer(port: u16) -> SocketAddr {
        ([127, 0, 0, 1], port).into()
    }

    #[test]
    fn duplicate_within_lifetime_finds_cached_reply() {
        let t0 = Instant::now();
        let mut d = Dedup::new(8, 1);
        d.insert(
            (peer(1), 7),
            Reply::Cached(Bytes::from_static(b"ack")),
            t0 + Duration::from_secs(247),
        );
        assert!(matches!(d.get(&(peer(1), 7), t0), Some(Reply::Cached(b)) if b == "ack"));
        assert!(d.get(&(peer(2), 7), t0).is_none());
        assert!(d
            .get(&(peer(1), 7), t0 + Duration::from_secs(247))
            .is_none());
    }

    #[test]
    fn expiry_empties_the_cache() {
        let t0 = Instant::now();
        let mut d = Dedup::new(100, 1);
        for mid in 0..50 {
            d.insert(
                (peer(1), mid),
                Reply::Ignore,
                t0 + Duration::from_secs(u64::from(mid)),
            );
        }
        d.expire(t0 + Duration::from_secs(25));
        assert_eq!(d.len(), 24);
        d.expire(t0 + Duration::from_secs(100));
        assert_eq!(d.len(), 0);
        assert_eq!(d.next_expiry(), None);
    }

    #[test]
    fn full_cache_evicts_oldest_and_counts() {
        let t0 = Instant::now();
        let mut d = Dedup::new(3, 1);
        for mid in 0..5 {
            d.insert((peer(1), mid), Reply::Ignore, t0 + Duration::from_secs(10));
        }
        assert_eq!(d.len(), 3);
        assert_eq!(d.evictions, 2);
        assert!(d.get(&(peer(1), 0), t0).is_none());
        assert!(d.get(&(peer(1), 4), t0).is_some());
    }

    #[test]
    fn reinserted_key_survives_expiry_of_its_old_entry() {
        let t0 = Instant::now();
        let mut d = Dedup::new(8, 1);
        d.insert((peer(1), 1), Reply::Ignore, t0 + Duration::from_secs(1));
        d.insert((peer(1), 1), Reply::Ignore, t0 + Duration::from_secs(5));
        d.expire(t0 + Duration::from_secs(2));
        assert!(d.get(&(peer(1), 1), t0 + Duration::from_secs(3)).is_some());
    }
}
