//! A deterministic, virtual-time network simulator for sans-IO machines.
//!
//! Nodes are state machines behind the [`Machine`] trait (datagrams in,
//! datagrams and deadlines out). The simulator owns a virtual clock and a
//! seeded link model that delays, loses, duplicates and (through jitter)
//! reorders datagrams. [`Sim::step`] jumps to the next arrival or deadline,
//! so minutes of protocol time run in milliseconds and every run with the
//! same seed is identical. Every datagram is logged with its fate, for
//! assertions on timing (for example RFC 7252 retransmission bounds).
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use testkit::sim::{LinkConfig, Machine, Sim};
//!
//! /// Echoes every datagram back once.
//! #[derive(Default)]
//! struct Echo(Vec<(SocketAddr, Bytes)>);
//! impl Machine for Echo {
//!     fn handle_datagram(&mut self, _: Instant, from: SocketAddr, d: Bytes) { self.0.push((from, d)); }
//!     fn handle_timeout(&mut self, _: Instant) {}
//!     fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> { self.0.pop() }
//!     fn poll_timeout(&mut self) -> Option<Instant> { None }
//! }
//!
//! let mut sim = Sim::new(7, LinkConfig::lossless(Duration::from_millis(5)));
//! let a = sim.add("10.0.0.1:1".parse().unwrap(), Echo::default());
//! let b = sim.add("10.0.0.2:1".parse().unwrap(), Echo::default());
//! sim.node(a).0.push(("10.0.0.2:1".parse().unwrap(), Bytes::from_static(b"hi")));
//! for _ in 0..3 { sim.step(); }
//! assert_eq!(sim.log().len(), 4); // a→b, b→a, a→b, b→a: echoes forever
//! let _ = b;
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// A sans-IO machine the simulator can drive.
pub trait Machine {
    /// A datagram from `from` arrived at `now`.
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: Bytes);
    /// The machine's deadline passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send: destination and bytes.
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)>;
    /// When `handle_timeout` is due.
    fn poll_timeout(&mut self) -> Option<Instant>;
}

/// How the simulated network treats every datagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Extra delay, uniform in `[0, jitter)`: datagrams overtake each other.
    pub jitter: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a delivered datagram arrives twice.
    pub duplicate: f64,
}

impl LinkConfig {
    /// A perfect link with a fixed latency.
    pub fn lossless(latency: Duration) -> Self {
        Self {
            latency,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// What happened to a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered once.
    Delivered,
    /// Delivered twice.
    Duplicated,
    /// Dropped by the link.
    Lost,
    /// No node has the destination address.
    Unroutable,
}

/// One datagram sent by a node.
#[derive(Debug, Clone)]
pub struct Record {
    /// When it was sent (virtual time).
    pub at: Instant,
    /// Sender.
    pub from: SocketAddr,
    /// Destination.
    pub to: SocketAddr,
    /// The bytes.
    pub payload: Bytes,
    /// What the link did with it.
    pub fate: Fate,
}

#[derive(Debug)]
struct Arrival {
    at: Instant,
    seq: u64,
    to: usize,
    from: SocketAddr,
    payload: Bytes,
}

impl PartialEq for Arrival {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Arrival {}
impl PartialOrd for Arrival {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Arrival {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// The simulator: nodes, a virtual clock and a lossy network.
#[derive(Debug)]
pub struct Sim<M> {
    seed: u64,
    rng: u64,
    start: Instant,
    now: Instant,
    link: LinkConfig,
    nodes: Vec<(SocketAddr, M)>,
    in_flight: BinaryHeap<Reverse<Arrival>>,
    seq: u64,
    log: Vec<Record>,
}

impl<M: Machine> Sim<M> {
    /// An empty network whose randomness comes from `seed`.
    pub fn new(seed: u64, link: LinkConfig) -> Self {
        let start = Instant::now();
        Self {
            seed,
            rng: seed,
            start,
            now: start,
            link,
            nodes: Vec::new(),
            in_flight: BinaryHeap::new(),
            seq: 0,
            log: Vec::new(),
        }
    }

    /// The seed (print it when a test fails).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Adds a node reachable at `addr`; returns its index.
    pub fn add(&mut self, addr: SocketAddr, machine: M) -> usize {
        self.nodes.push((addr, machine));
        self.nodes.len() - 1
    }

    /// Node `i`.
    ///
    /// # Panics
    /// When there is no node `i`.
    pub fn node(&mut self, i: usize) -> &mut M {
        &mut self.nodes[i].1
    }

    /// Node `i`'s address.
    ///
    /// # Panics
    /// When there is no node `i`.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].0
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Changes the link model from now on.
    pub fn set_link(&mut self, link: LinkConfig) {
        self.link = link;
    }

    /// Every datagram sent so far.
    pub fn log(&self) -> &[Record] {
        &self.log
    }

    /// Datagrams still travelling.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn next_f64(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Moves every node's pending datagrams onto the network.
    pub fn collect(&mut self) {
        for i in 0..self.nodes.len() {
            while let Some((to, payload)) = self.nodes[i].1.poll_transmit() {
                let from = self.nodes[i].0;
                let fate = self.send(from, to, payload.clone());
                self.log.push(Record {
                    at: self.now,
                    from,
                    to,
                    payload,
                    fate,
                });
            }
        }
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, payload: Bytes) -> Fate {
        let Some(dest) = self.nodes.iter().position(|(a, _)| *a == to) else {
            return Fate::Unroutable;
        };
        if self.next_f64() < self.link.loss {
            return Fate::Lost;
        }
        let copies = if self.next_f64() < self.link.duplicate {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = self.link.latency + self.link.jitter.mul_f64(self.next_f64());
            self.seq += 1;
            self.in_flight.push(Reverse(Arrival {
                at: self.now + delay,
                seq: self.seq,
                to: dest,
                from,
                payload: payload.clone(),
            }));
        }
        if copies == 2 {
            Fate::Duplicated
        } else {
            Fate::Delivered
        }
    }

    /// When the next thing happens: an arrival or a node's deadline.
    pub fn next_event(&mut self) -> Option<Instant> {
        let arrival = self.in_flight.peek().map(|a| a.0.at);
        let timers = self
            .nodes
            .iter_mut()
            .filter_map(|(_, m)| m.poll_timeout())
            .min();
        [arrival, timers].into_iter().flatten().min()
    }

    /// Sends what the nodes queued, then advances the clock to the next
    /// event and processes everything due then. Returns false when nothing
    /// is left to happen.
    pub fn step(&mut self) -> bool {
        self.collect();
        let Some(at) = self.next_event() else {
            return false;
        };
        self.now = self.now.max(at);
        while self.in_flight.peek().is_some_and(|a| a.0.at <= self.now) {
            let Some(Reverse(a)) = self.in_flight.pop() else {
                break;
            };
            self.nodes[a.to]
                .1
                .handle_datagram(self.now, a.from, a.payload);
        }
        let now = self.now;
        for (_, m) in &mut self.nodes {
            if m.poll_timeout().is_some_and(|t| t <= now) {
                m.handle_timeout(now);
            }
        }
        self.collect();
        true
    }

    /// Steps until `elapsed()` reaches `until` (or nothing is left), at
    /// most `max_steps` times; calls `each` after every step. Returns the
    /// number of steps taken.
    pub fn run_for(
        &mut self,
        until: Duration,
        max_steps: usize,
        mut each: impl FnMut(&mut Self),
    ) -> usize {
        let end = self.start + until;
        let mut steps = 0;
        while steps < max_steps {
            match self.next_event() {
                Some(t) if t <= end => {}
                _ => {
                    self.now = self.now.max(end);
                    break;
                }
            }
            self.step();
            each(self);
            steps += 1;
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `n` numbered datagrams to `peer` at start; records arrivals.
    struct Counter {
        peer: SocketAddr,
        to_send: Vec<Bytes>,
        got: Vec<(Instant, Bytes)>,
    }

    impl Machine for Counter {
        fn handle_datagram(&mut self, now: Instant, _: SocketAddr, d: Bytes) {
            self.got.push((now, d));
        }
        fn handle_timeout(&mut self, _: Instant) {}
        fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
            self.to_send.pop().map(|b| (self.peer, b))
        }
        fn poll_timeout(&mut self) -> Option<Instant> {
            None
        }
    }

    fn net(seed: u64, link: LinkConfig) -> Sim<Counter> {
        let (a, b): (SocketAddr, SocketAddr) =
            ("10.0.0.1:1".parse().unwrap(), "10.0.0.2:1".parse().unwrap());
        let mut sim = Sim::new(seed, link);
        let data = (0..1000u32)
            .map(|i| Bytes::from(i.to_be_bytes().to_vec()))
            .collect();
        sim.add(
            a,
            Counter {
                peer: b,
                to_send: data,
                got: Vec::new(),
            },
        );
        sim.add(
            b,
            Counter {
                peer: a,
                to_send: Vec::new(),
                got: Vec::new(),
            },
        );
        while sim.step() {}
        sim
    }

    #[test]
    fn lossy_link_loses_and_duplicates_about_as_configured() {
        let link = LinkConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(50),
            loss: 0.3,
            duplicate: 0.1,
        };
        let mut sim = net(1, link);
        let lost = sim.log().iter().filter(|r| r.fate == Fate::Lost).count();
        assert!((240..360).contains(&lost), "lost {lost}");
        let got = sim.node(1).got.len();
        assert!(got > 700 && got < 850, "got {got}");
        let arrivals: Vec<Instant> = sim.node(1).got.iter().map(|g| g.0).collect();
        assert!(
            arrivals.windows(2).all(|w| w[0] <= w[1]),
            "virtual time never runs backwards"
        );
    }

    #[test]
    fn same_seed_same_run_and_jitter_reorders() {
        let link = LinkConfig {
            latency: Duration::from_millis(1),
            jitter: Duration::from_millis(20),
            loss: 0.1,
            duplicate: 0.0,
        };
        let mut a = net(9, link);
        let mut b = net(9, link);
        let pa: Vec<Bytes> = a.node(1).got.iter().map(|g| g.1.clone()).collect();
        let pb: Vec<Bytes> = b.node(1).got.iter().map(|g| g.1.clone()).collect();
        assert_eq!(pa, pb);
        let mut sorted = pa.clone();
        sorted.sort();
        sorted.reverse();
        assert_ne!(pa, sorted, "jitter reorders datagrams");
    }
}
