//! Observe (RFC 7641): the server's observer table and notifications, and
//! the client's freshness rule for ordering notifications.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coap_codec::{Code, MessageBuilder, MessageType, Token};

use crate::endpoint::Endpoint;
use crate::event::{IncomingId, RespondError};
use crate::hash::{self, Map};
use crate::reliability::OutKind;

/// RFC 7641 §3.4: a notification whose Observe value is not newer within
/// the 2^23 window is still fresh if it arrives this long after the last one.
const FRESHNESS_WINDOW: Duration = Duration::from_secs(128);

/// Whether a notification with Observe value `v2` received at `t2` is newer
/// than the last one delivered, `v1` received at `t1` (RFC 7641 §3.4).
///
/// ```
/// use std::time::{Duration, Instant};
/// use coap_endpoint::observe::is_fresh;
/// let t = Instant::now();
/// assert!(is_fresh(5, t, 6, t));
/// assert!(!is_fresh(6, t, 5, t));
/// assert!(is_fresh(0xff_fff0, t, 3, t)); // wrapped around 2^24
/// assert!(is_fresh(6, t, 5, t + Duration::from_secs(129))); // 128-second rule
/// ```
pub fn is_fresh(v1: u32, t1: Instant, v2: u32, t2: Instant) -> bool {
    let (v1, v2) = (v1 & 0xff_ffff, v2 & 0xff_ffff);
    (v1 < v2 && v2 - v1 < 1 << 23)
        || (v1 > v2 && v1 - v2 > 1 << 23)
        || t2.saturating_duration_since(t1) > FRESHNESS_WINDOW
}

/// One observation of a resource by a client.
#[derive(Debug)]
struct Observer {
    resource: String,
    /// When the last CON notification went out (RFC 7641 §4.5: at least one
    /// every 24 hours).
    last_con: Instant,
    /// The message ID of the last notification, to match an RST.
    last_mid: Option<u16>,
    /// The unacknowledged CON notification, replaced by a newer one.
    pending_con: Option<u16>,
}

type Key = (SocketAddr, Token);

/// Every observation this endpoint serves, indexed by resource and peer.
#[derive(Debug)]
pub(crate) struct Observers {
    by_key: Map<Key, Observer>,
    by_resource: Map<String, Vec<Key>>,
    per_peer: Map<SocketAddr, usize>,
    /// Notification message IDs → observer, for RSTs to NON notifications.
    mids: Map<(SocketAddr, u16), Token>,
    /// The last sequence number used; the next notification gets one more.
    seq: u32,
}

impl Observers {
    pub(crate) fn new(key: u64) -> Self {
        Self {
            by_key: hash::map(key),
            by_resource: hash::map(key.rotate_left(3)),
            per_peer: hash::map(key.rotate_left(5)),
            mids: hash::map(key.rotate_left(11)),
            seq: 0,
        }
    }

    fn next_seq(&mut self) -> u32 {
        // 24 bits; grows by one per notification of any resource, so it
        // grows for every observer (RFC 7641 §4.4).
        self.seq = (self.seq + 1) & 0xff_ffff;
        self.seq
    }

    fn remove(&mut self, key: Key) -> bool {
        let Some(o) = self.by_key.remove(&key) else {
            return false;
        };
        if let Some(list) = self.by_resource.get_mut(&o.resource) {
            list.retain(|k| *k != key);
            if list.is_empty() {
                self.by_resource.remove(&o.resource);
            }
        }
        if let Some(n) = self.per_peer.get_mut(&key.0) {
            *n -= 1;
            if *n == 0 {
                self.per_peer.remove(&key.0);
            }
        }
        if let Some(mid) = o.last_mid {
            self.mids.remove(&(key.0, mid));
        }
        true
    }

    /// Observers of `resource`.
    pub(crate) fn count(&self, resource: &str) -> usize {
        self.by_resource.get(resource).map_or(0, Vec::len)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }

    /// An RST for `(peer, mid)` that matched no CON of ours: a NON
    /// notification rejected (RFC 7641 §4.5).
    pub(crate) fn on_reset(&mut self, peer: SocketAddr, mid: u16) -> bool {
        match self.mids.remove(&(peer, mid)) {
            Some(token) => self.remove((peer, token)),
            None => false,
        }
    }
}

impl Endpoint {
    /// Answers an Observe registration (a GET or FETCH with Observe 0, RFC
    /// 7641 §3.1) and adds the client as an observer of `resource` (any
    /// key, typically the path). A registration from the same client with
    /// the same token replaces the old one (§4.1). The response gets an
    /// Observe option unless it is an error or the per-resource or per-peer
    /// limit is reached, in which case it is sent as a plain response and
    /// the client is not added. Returns whether the client was added.
    ///
    /// # Errors
    /// As [`respond`](Self::respond).
    pub fn accept_observer(
        &mut self,
        now: Instant,
        id: IncomingId,
        resource: &str,
        response: MessageBuilder,
    ) -> Result<bool, RespondError> {
        let Some((peer, token)) = self.incoming_key(id) else {
            return Err(RespondError::UnknownRequest);
        };
        let key = (peer, token);
        self.observers.remove(key);
        let peer_count = self.observers.per_peer.get(&peer).copied().unwrap_or(0);
        let room = self.observers.count(resource) < self.config.max_observers_per_resource
            && peer_count < self.config.max_observers_per_peer;
        if !room || !response.code.is_success() {
            self.respond(now, id, response)?;
            return Ok(false);
        }
        let seq = self.observers.next_seq();
        self.respond(now, id, response.observe(seq))?;
        self.observers.by_key.insert(
            key,
            Observer {
                resource: resource.to_owned(),
                last_con: now,
                last_mid: None,
                pending_con: None,
            },
        );
        self.observers
            .by_resource
            .entry(resource.to_owned())
            .or_default()
            .push(key);
        *self.observers.per_peer.entry(peer).or_default() += 1;
        Ok(true)
    }

    /// Sends a notification of `resource` to each of its observers: the
    /// response with the observer's token, a new Observe sequence number
    /// and the caller's options (set Max-Age when the representation ages,
    /// RFC 7641 §4.3.1). It goes out CON when `confirmable` is true or the
    /// observer has had no CON notification for
    /// `Config::notification_con_interval`, else NON. A CON notification
    /// that is answered with RST or never acknowledged removes the
    /// observer, as does an RST to a NON one (§3.6). A notification with an
    /// error code ends every observation of the resource (§3.2). A newer
    /// notification replaces an unacknowledged CON one (§4.5.2). A body too
    /// large for one datagram sends its first block (RFC 7959 §2.6).
    ///
    /// Returns the number of observers notified.
    pub fn notify(
        &mut self,
        now: Instant,
        resource: &str,
        response: MessageBuilder,
        confirmable: bool,
    ) -> usize {
        let Some(keys) = self.observers.by_resource.get(resource).cloned() else {
            return 0;
        };
        let final_notification = !response.code.is_success();
        let mut base = response;
        if !final_notification {
            base = base.observe(self.observers.next_seq());
        }
        if let Err(code) = self.slice_block2(None, &mut base) {
            tracing::debug!(%code, "notification cannot be sliced");
            return 0;
        }
        let mut sent = 0;
        for key in keys {
            let (peer, token) = key;
            let Some(o) = self.observers.by_key.get_mut(&key) else {
                continue;
            };
            let con = confirmable
                || final_notification
                || now.saturating_duration_since(o.last_con)
                    >= self.config.notification_con_interval;
            if let Some(old) = o.pending_con.take() {
                // §4.5.2: the newer notification takes over the old one's
                // transmission state; the old one is not retransmitted.
                self.outgoing.remove(&(peer, old));
            }
            if let Some(old) = o.last_mid {
                self.observers.mids.remove(&(peer, old));
            }
            let mid = self.peers.next_mid(peer, now, &self.config, &mut self.rng);
            let Some(o) = self.observers.by_key.get_mut(&key) else {
                continue;
            };
            o.last_mid = Some(mid);
            if con {
                o.last_con = now;
                o.pending_con = Some(mid);
            }
            let mut msg = base.clone();
            msg.token = token;
            msg.message_id = mid;
            msg.message_type = if con {
                MessageType::Confirmable
            } else {
                MessageType::NonConfirmable
            };
            let Ok(bytes) = msg.to_bytes() else {
                continue;
            };
            if bytes.len() > self.config.max_message_size {
                tracing::warn!(len = bytes.len(), "notification too large; not sent");
                continue;
            }
            if con {
                self.send_reliably(now, peer, mid, OutKind::Notification(token), bytes.clone());
            } else {
                self.observers.mids.insert((peer, mid), token);
            }
            self.transmit(peer, bytes);
            sent += 1;
            if final_notification {
                self.observers.remove(key);
            }
        }
        self.arm_sweep(now);
        sent
    }

    /// Number of clients observing `resource`.
    pub fn observers(&self, resource: &str) -> usize {
        self.observers.count(resource)
    }

    /// Removes the observation of `peer` with `token`, as a GET with
    /// Observe 1 does (RFC 7641 §3.6). Returns whether there was one.
    pub fn remove_observer(&mut self, peer: SocketAddr, token: Token) -> bool {
        self.observers.remove((peer, token))
    }

    /// A CON notification was acknowledged.
    pub(crate) fn notification_acked(&mut self, peer: SocketAddr, token: Token, mid: u16) {
        if let Some(o) = self.observers.by_key.get_mut(&(peer, token)) {
            if o.pending_con == Some(mid) {
                o.pending_con = None;
            }
        }
    }

    /// A CON notification was rejected or timed out: the client is gone.
    pub(crate) fn notification_failed(&mut self, peer: SocketAddr, token: Token, mid: u16) {
        let current = self
            .observers
            .by_key
            .get(&(peer, token))
            .is_some_and(|o| o.pending_con == Some(mid) || o.last_mid == Some(mid));
        if current {
            tracing::debug!(%peer, %token, "observer removed");
            self.observers.remove((peer, token));
        }
    }

    /// A request arrived: Observe 1 deregisters (RFC 7641 §3.6).
    pub(crate) fn observe_request(
        &mut self,
        from: SocketAddr,
        code: Code,
        token: Token,
        observe: Option<u32>,
    ) {
        if observe == Some(1) && (code == Code::GET || code == Code::FETCH) {
            self.observers.remove((from, token));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_follows_rfc_7641_window() {
        let t = Instant::now();
        assert!(is_fresh(1, t, 2, t));
        assert!(!is_fresh(2, t, 2, t));
        assert!(!is_fresh(2, t, 1, t));
        // Wrap-around: 2^24 - 1 then 0 is newer.
        assert!(is_fresh(0xff_ffff, t, 0, t));
        // Exactly 2^23 apart is not newer in either direction.
        assert!(!is_fresh(0, t, 1 << 23, t));
        assert!(!is_fresh(1 << 23, t, 0, t));
        // After 128 s anything is fresh; at exactly 128 s it is not.
        assert!(!is_fresh(9, t, 3, t + FRESHNESS_WINDOW));
        assert!(is_fresh(
            9,
            t,
            3,
            t + FRESHNESS_WINDOW + Duration::from_millis(1)
        ));
    }
}
