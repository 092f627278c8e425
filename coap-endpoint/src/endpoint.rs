//! The endpoint: inputs, outputs and the message-layer dispatch.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use coap_codec::{CodeKind, Message, MessageType};

use crate::config::Config;
use crate::dedup::Dedup;
use crate::event::{Event, IncomingId, RequestId, Stats, Transmit, Usage};
use crate::exchange::Exchange;
use crate::hash::{self, Map};
use crate::incoming::Incoming;
use crate::reliability::{Outgoing, Peers};
use crate::rng::Rng;
use crate::timer::{Timer, Timers};

/// A CoAP endpoint over UDP: client and server roles in one sans-IO state
/// machine (RFC 7252).
///
/// The endpoint owns no socket and reads no clock. The caller feeds it
/// datagrams and the current time, and drains what it wants done:
///
/// 1. an input: [`handle_datagram`](Self::handle_datagram),
///    [`handle_timeout`](Self::handle_timeout), or a command
///    ([`request`](Self::request), [`respond`](Self::respond),
///    [`cancel`](Self::cancel), [`ping`](Self::ping));
/// 2. then drain [`poll_transmit`](Self::poll_transmit) (send each datagram),
///    [`poll_event`](Self::poll_event) (requests to serve, responses to
///    requests), and read [`poll_timeout`](Self::poll_timeout) (call
///    `handle_timeout` then, unless another input comes first).
///
/// Everything random (message IDs, tokens, retransmission jitter, leisure)
/// comes from a PRNG seeded in [`Endpoint::new`], so the same inputs give
/// the same outputs.
///
/// ```
/// use std::time::Instant;
/// use coap_codec::{Code, MessageBuilder, MessageType};
/// use coap_endpoint::{Config, Endpoint, Event};
///
/// let now = Instant::now();
/// let (a, b) = ("127.0.0.1:5683".parse().unwrap(), "127.0.0.1:40000".parse().unwrap());
/// let mut server = Endpoint::new(Config::default(), 1);
/// let mut client = Endpoint::new(Config::default(), 2);
///
/// let req = MessageBuilder::new(MessageType::Confirmable, Code::GET).path("/hello");
/// let id = client.request(now, a, req).unwrap();
/// let t = client.poll_transmit().unwrap();
/// server.handle_datagram(now, b, t.payload);
/// let Some(Event::Request { id: incoming, request, .. }) = server.poll_event() else { panic!() };
/// assert_eq!(request.options().path().unwrap(), "/hello");
/// server
///     .respond(now, incoming, MessageBuilder::new(MessageType::Acknowledgement, Code::CONTENT).payload("world"))
///     .unwrap();
/// let ack = server.poll_transmit().unwrap(); // piggybacked on the ACK
/// client.handle_datagram(now, a, ack.payload);
/// match client.poll_event() {
///     Some(Event::Response { id: r, response, .. }) => {
///         assert_eq!(r, id);
///         assert_eq!(response.payload(), b"world");
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
pub struct Endpoint {
    pub(crate) config: Config,
    pub(crate) rng: Rng,
    pub(crate) peers: Peers,
    /// CONs waiting for their ACK, by (peer, message ID).
    pub(crate) outgoing: Map<(SocketAddr, u16), Outgoing>,
    /// Requests of ours in progress.
    pub(crate) exchanges: Map<RequestId, Exchange>,
    /// Token → request, for matching responses (RFC 7252 §5.3.2).
    pub(crate) tokens: Map<coap_codec::Token, RequestId>,
    /// NON requests of ours by (peer, message ID), to match an RST.
    pub(crate) non_mids: Map<(SocketAddr, u16), RequestId>,
    /// Requests received and not yet answered.
    pub(crate) incoming: Map<IncomingId, Incoming>,
    pub(crate) dedup: Dedup,
    /// Clients observing our resources (RFC 7641).
    pub(crate) observers: crate::observe::Observers,
    /// Block1 bodies being reassembled (RFC 7959 §2.5).
    pub(crate) block1: crate::block::Reassembly,
    pub(crate) timers: Timers,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) next_request: u64,
    pub(crate) next_incoming: u64,
    pub(crate) stats: Stats,
}

impl Endpoint {
    /// A new endpoint. `seed` drives every random choice: seed it from the
    /// OS in production (the tokio adapter does) and with a constant in
    /// tests. Out-of-range `config` values are clamped (see [`Config`]).
    pub fn new(config: Config, seed: u64) -> Self {
        let config = config.sanitized();
        let mut rng = Rng::new(seed);
        let k = rng.next_u64();
        let peers = Peers::new(k, &mut rng);
        Self {
            dedup: Dedup::new(config.max_dedup_entries, k.rotate_left(7)),
            outgoing: hash::map(k.rotate_left(13)),
            exchanges: hash::map(k.rotate_left(19)),
            tokens: hash::map(k.rotate_left(29)),
            non_mids: hash::map(k.rotate_left(37)),
            incoming: hash::map(k.rotate_left(43)),
            observers: crate::observe::Observers::new(k.rotate_left(47)),
            block1: crate::block::Reassembly::new(k.rotate_left(53)),
            config,
            rng,
            peers,
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_request: 0,
            next_incoming: 0,
            stats: Stats::default(),
        }
    }

    /// The configuration in effect (after clamping).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A datagram arrived from `from` on a unicast address.
    ///
    /// A malformed CON is rejected with RST, a malformed NON or anything
    /// else ignored (RFC 7252 §4.2, §4.3); nothing here panics or returns
    /// an error: misbehaviour is answered and counted in [`Stats`].
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: Bytes) {
        self.handle(now, from, datagram, false);
    }

    /// A datagram arrived on a multicast address (RFC 7252 §8). Requests
    /// are answered after a random leisure, never with RST or an error.
    pub fn handle_multicast_datagram(&mut self, now: Instant, from: SocketAddr, datagram: Bytes) {
        self.handle(now, from, datagram, true);
    }

    fn handle(&mut self, now: Instant, from: SocketAddr, datagram: Bytes, multicast: bool) {
        self.stats.received += 1;
        if datagram.len() > self.config.max_message_size {
            self.reject_malformed(from, &datagram, multicast);
            return;
        }
        let msg = match Message::decode(datagram.clone()) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(%from, error = %e, "malformed datagram");
                self.reject_malformed(from, &datagram, multicast);
                return;
            }
        };
        if let Some(p) = self.peers.get_mut(&from) {
            p.responded(now, &self.config);
        }
        match (msg.message_type(), msg.code().kind()) {
            (MessageType::Acknowledgement, _) => self.on_ack(now, from, msg),
            (MessageType::Reset, _) => self.on_reset(now, from, msg.message_id()),
            (_, CodeKind::Request) => self.on_request(now, from, msg, multicast),
            (_, CodeKind::Response) => self.on_response(now, from, msg, multicast),
            (MessageType::Confirmable, CodeKind::Empty) if !multicast => {
                // RFC 7252 §4.3: an empty CON is a "ping", answered with RST.
                self.stats.rejected += 1;
                self.send_reset(from, msg.message_id());
            }
            (MessageType::Confirmable, CodeKind::Reserved | CodeKind::Signaling) if !multicast => {
                // A code class this endpoint does not know: a format error.
                self.stats.malformed += 1;
                self.send_reset(from, msg.message_id());
            }
            _ => {}
        }
    }

    /// RFC 7252 §4.2: a CON that cannot be parsed is rejected with RST. The
    /// header is read by hand so a reserved token length (9-15), which
    /// `Header::decode` refuses, still yields the message ID.
    fn reject_malformed(&mut self, from: SocketAddr, datagram: &[u8], multicast: bool) {
        self.stats.malformed += 1;
        let Some(&[first, _, hi, lo]) = datagram.first_chunk::<4>() else {
            return;
        };
        let is_v1_con = first >> 6 == 1 && (first >> 4) & 0x3 == 0;
        if is_v1_con && !multicast {
            self.send_reset(from, u16::from_be_bytes([hi, lo]));
        }
    }

    pub(crate) fn send_reset(&mut self, to: SocketAddr, mid: u16) {
        let rst = encode_empty(MessageType::Reset, mid);
        self.transmit(to, rst);
    }

    pub(crate) fn transmit(&mut self, destination: SocketAddr, payload: Bytes) {
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            destination,
            payload,
        });
    }

    /// The deadline passed: retransmit, time out, send empty ACKs and
    /// delayed responses, expire state. Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.dedup.expire(now);
        self.stats.dedup_evictions = self.dedup.evictions;
        if self.block1.len() > 0 {
            self.block1.expire(now);
        }
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Retransmit { peer, mid } => self.on_retransmit_timer(now, peer, mid),
                Timer::ResponseDeadline(id) => self.on_response_deadline(now, id),
                Timer::Delayed(t) => self.transmit(t.destination, t.payload),
                Timer::ProbeWake(peer) => self.start_queued(now, peer),
                Timer::SeparateAck(id) => self.on_separate_timer(now, id),
                Timer::IncomingExpiry(id) => self.on_incoming_expiry(now, id),
                Timer::PeerSweep => {
                    if self.peers.sweep(now, self.config.exchange_lifetime()) {
                        self.timers
                            .arm_sweep(now + std::time::Duration::from_secs(1));
                    }
                }
            }
        }
    }

    fn on_retransmit_timer(&mut self, now: Instant, peer: SocketAddr, mid: u16) {
        let key = (peer, mid);
        let Some(out) = self.outgoing.get_mut(&key) else {
            return;
        };
        if out.deadline > now {
            return;
        }
        if out.retransmits < self.config.max_retransmit {
            // RFC 7252 §4.2: retransmit and double the timeout.
            out.retransmits += 1;
            out.interval *= 2;
            out.deadline += out.interval;
            let (payload, deadline) = (out.payload.clone(), out.deadline);
            self.stats.retransmissions += 1;
            tracing::trace!(%peer, mid, "retransmit");
            self.transmit(peer, payload);
            self.timers.push(deadline, Timer::Retransmit { peer, mid });
        } else if let Some(out) = self.outgoing.remove(&key) {
            tracing::debug!(%peer, mid, "no ACK after MAX_RETRANSMIT");
            self.on_con_gave_up(now, peer, mid, out);
        }
    }

    /// Drives the peer sweep: called whenever peer state may have been made.
    pub(crate) fn arm_sweep(&mut self, now: Instant) {
        self.timers
            .arm_sweep(now + std::time::Duration::from_secs(1));
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next,
    /// or `None` when nothing is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let block1 = if self.block1.len() > 0 {
            self.block1.next_expiry()
        } else {
            None
        };
        [self.timers.next(), self.dedup.next_expiry(), block1]
            .into_iter()
            .flatten()
            .min()
    }

    /// Counters of received, sent, retransmitted, duplicate and rejected
    /// messages.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.dedup_evictions = self.dedup.evictions;
        s
    }

    /// How many entries each table holds (memory in use).
    pub fn usage(&self) -> Usage {
        Usage {
            requests: self.exchanges.len(),
            incoming: self.incoming.len(),
            unacknowledged: self.outgoing.len(),
            dedup: self.dedup.len(),
            peers: self.peers.len(),
            timers: self.timers.len(),
            queued: self.transmits.len() + self.events.len(),
            observers: self.observers.len(),
            block_transfers: self.block1.len(),
        }
    }

    /// Whether CON messages of ours still wait for an ACK (a graceful
    /// shutdown waits for this to become false).
    pub fn has_unacknowledged(&self) -> bool {
        !self.outgoing.is_empty()
    }

    pub(crate) fn next_request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    pub(crate) fn next_incoming_id(&mut self) -> IncomingId {
        self.next_incoming += 1;
        IncomingId(self.next_incoming)
    }
}

/// An Empty message (ACK or RST) with `mid`: always 4 bytes.
pub(crate) fn encode_empty(t: MessageType, mid: u16) -> Bytes {
    let first = (1u8 << 6) | ((t as u8) << 4);
    let [hi, lo] = mid.to_be_bytes();
    Bytes::copy_from_slice(&[first, 0, hi, lo])
}

#[cfg(test)]
mod tests;
