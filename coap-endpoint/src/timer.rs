//! Every deadline of the endpoint, so `poll_timeout` is a `min`.
//!
//! Deadlines with a variable delay (retransmissions, response timeouts,
//! leisure) sit in a binary heap. Deadlines that are always "now + a
//! constant" (the separate-response delay, the expiry of unanswered
//! requests) are born in order, so they sit in FIFO queues: O(1) each.
//! Entries are not removed when their cause goes away; the endpoint checks
//! each one as it fires and discards the stale ones.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use crate::event::{IncomingId, RequestId, Transmit};

/// Why a deadline was armed (also what tracing prints).
#[derive(Debug, Clone)]
pub(crate) enum Timer {
    /// A CON to `peer` with message ID `mid` is due for retransmission.
    Retransmit { peer: SocketAddr, mid: u16 },
    /// A request's response did not come in time.
    ResponseDeadline(RequestId),
    /// A response delayed by a multicast leisure (RFC 7252 §8.2).
    Delayed(Transmit),
    /// A peer's PROBING_RATE budget has refilled.
    ProbeWake(SocketAddr),
    /// The application did not answer a CON in time: send an empty ACK.
    SeparateAck(IncomingId),
    /// A request nobody answered is forgotten.
    IncomingExpiry(IncomingId),
    /// Forget idle peers.
    PeerSweep,
}

#[derive(Debug)]
struct Entry {
    at: Instant,
    seq: u64,
    timer: Timer,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The endpoint's deadlines.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    separate: VecDeque<(Instant, IncomingId)>,
    expiry: VecDeque<(Instant, IncomingId)>,
    sweep: Option<Instant>,
}

impl Timers {
    pub(crate) fn push(&mut self, at: Instant, timer: Timer) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            timer,
        }));
    }

    pub(crate) fn push_separate(&mut self, at: Instant, id: IncomingId) {
        self.separate.push_back((at, id));
    }

    pub(crate) fn push_expiry(&mut self, at: Instant, id: IncomingId) {
        self.expiry.push_back((at, id));
    }

    /// Arms the peer sweep unless it is armed already.
    pub(crate) fn arm_sweep(&mut self, at: Instant) {
        if self.sweep.is_none() {
            self.sweep = Some(at);
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        [
            self.heap.peek().map(|e| e.0.at),
            self.separate.front().map(|e| e.0),
            self.expiry.front().map(|e| e.0),
            self.sweep,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Removes and returns the earliest timer due at `now`, if any.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let candidates = [
            self.heap.peek().map(|e| e.0.at),
            self.separate.front().map(|e| e.0),
            self.expiry.front().map(|e| e.0),
            self.sweep,
        ];
        let (source, at) = candidates
            .into_iter()
            .enumerate()
            .filter_map(|(i, at)| Some((i, at?)))
            .min_by_key(|&(i, at)| (at, i))?;
        if at > now {
            return None;
        }
        match source {
            0 => self.heap.pop().map(|e| e.0.timer),
            1 => self.separate.pop_front().map(|e| Timer::SeparateAck(e.1)),
            2 => self.expiry.pop_front().map(|e| Timer::IncomingExpiry(e.1)),
            _ => self.sweep.take().map(|_| Timer::PeerSweep),
        }
    }

    /// Armed timers, stale ones included.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
            + self.separate.len()
            + self.expiry.len()
            + usize::from(self.sweep.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timers_fire_in_deadline_order_across_sources() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut t = Timers::default();
        t.push(ms(30), Timer::ResponseDeadline(RequestId(1)));
        t.push(ms(10), Timer::ResponseDeadline(RequestId(2)));
        t.push_separate(ms(20), IncomingId(3));
        t.arm_sweep(ms(5));
        assert_eq!(t.next(), Some(ms(5)));
        assert!(t.pop_due(ms(4)).is_none());
        let fired: Vec<String> = std::iter::from_fn(|| t.pop_due(ms(100)))
            .map(|x| format!("{x:?}"))
            .collect();
        assert_eq!(fired.len(), 4);
        assert_eq!(fired[0], "PeerSweep");
        assert!(fired[1].contains("RequestId(2)"), "{fired:?}");
        assert!(fired[2].contains("IncomingId(3)"), "{fired:?}");
        assert!(fired[3].contains("RequestId(1)"), "{fired:?}");
        assert_eq!(t.len(), 0);
        assert_eq!(t.next(), None);
    }
}
