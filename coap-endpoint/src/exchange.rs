//! The client role: requests, token matching, responses (RFC 7252 §5.2,
//! §5.3), pings, NSTART queueing and cancellation.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use coap_codec::{Code, Message, MessageBuilder, MessageType, Token};

use crate::endpoint::{encode_empty, Endpoint};
use crate::event::{Event, RequestError, RequestFailure, RequestId};
use crate::reliability::{initial_timeout, OutKind, Outgoing};
use crate::timer::Timer;

/// Where a request of ours stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Waiting for NSTART or PROBING_RATE.
    Queued,
    /// A CON sent, no ACK yet.
    AwaitingAck,
    /// Sent and (for a CON) acknowledged: waiting for the response.
    AwaitingResponse,
}

/// A request of ours in progress.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) peer: SocketAddr,
    pub(crate) token: Token,
    pub(crate) mid: u16,
    pub(crate) state: State,
    pub(crate) multicast: bool,
    pub(crate) ping: bool,
    pub(crate) confirmable: bool,
    /// The message, until it is first sent.
    pub(crate) message: Option<MessageBuilder>,
    pub(crate) deadline: Option<Instant>,
    /// The request as last sent, for block-wise follow-ups and Observe
    /// re-registration (a cheap clone of the retransmission buffer).
    pub(crate) sent: Option<Bytes>,
    /// Observe and block-wise state (RFC 7641, RFC 7959), when in use.
    pub(crate) follow: Option<Box<crate::follow::Follow>>,
}

impl Endpoint {
    /// Sends a request to `peer`. The endpoint draws a fresh token and the
    /// message ID, and sends it as CON or NON per `request.message_type`
    /// (anything but NON means CON). The outcome arrives as
    /// [`Event::Response`] or [`Event::RequestFailed`].
    ///
    /// A CON waits while NSTART CONs to the same peer are unacknowledged; a
    /// NON waits while the peer's PROBING_RATE budget is spent.
    ///
    /// # Errors
    /// [`RequestError`] when the code is not a method, the message is too
    /// large, or `max_requests` are in progress.
    pub fn request(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        mut request: MessageBuilder,
    ) -> Result<RequestId, RequestError> {
        request.token = self.fresh_token(self.config.token_length)?;
        self.start_request(now, peer, request, false)
    }

    /// As [`request`](Self::request), but with the token the caller put in
    /// `request.token` (which may be empty, RFC 7252 §5.3.1).
    ///
    /// # Errors
    /// As `request`, plus [`RequestError::TokenInUse`].
    pub fn request_with_token(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        request: MessageBuilder,
    ) -> Result<RequestId, RequestError> {
        if self.tokens.contains_key(&request.token) {
            return Err(RequestError::TokenInUse);
        }
        self.start_request(now, peer, request, false)
    }

    /// Sends a NON request to a multicast `group` (RFC 7252 §8.1: a
    /// multicast request is always NON). Each server's answer arrives as an
    /// [`Event::Response`] until [`Event::MulticastDone`] after
    /// `Config::multicast_window`.
    ///
    /// # Errors
    /// As [`request`](Self::request).
    pub fn request_multicast(
        &mut self,
        now: Instant,
        group: SocketAddr,
        mut request: MessageBuilder,
    ) -> Result<RequestId, RequestError> {
        request.message_type = MessageType::NonConfirmable;
        request.token = self.fresh_token(self.config.token_length.max(1))?;
        self.start_request(now, group, request, true)
    }

    /// Sends a CoAP ping (an empty CON, RFC 7252 §4.3). An RST answer is
    /// [`Event::Pong`]; silence is [`Event::RequestFailed`] with
    /// [`RequestFailure::Timeout`].
    ///
    /// # Errors
    /// [`RequestError::TooManyRequests`].
    pub fn ping(&mut self, now: Instant, peer: SocketAddr) -> Result<RequestId, RequestError> {
        if self.exchanges.len() >= self.config.max_requests {
            return Err(RequestError::TooManyRequests {
                max: self.config.max_requests,
            });
        }
        let id = self.next_request_id();
        let msg = MessageBuilder::new(MessageType::Confirmable, Code::EMPTY);
        self.insert_exchange(id, peer, msg, false, true);
        self.enqueue(now, peer, id);
        Ok(id)
    }

    /// Abandons a request: no retransmission, no event. Returns whether it
    /// was in progress. A response that still arrives for it is rejected
    /// like any unexpected response.
    pub fn cancel(&mut self, now: Instant, id: RequestId) -> bool {
        let Some(ex) = self.finish(id) else {
            return false;
        };
        match ex.state {
            State::Queued => {
                if let Some(p) = self.peers.get_mut(&ex.peer) {
                    p.queue.retain(|q| *q != id);
                }
            }
            State::AwaitingAck => {
                self.outgoing.remove(&(ex.peer, ex.mid));
                self.release_nstart(now, ex.peer);
            }
            State::AwaitingResponse => {}
        }
        true
    }

    fn fresh_token(&mut self, len: usize) -> Result<Token, RequestError> {
        if len == 0 {
            return Ok(Token::EMPTY);
        }
        // A few draws always suffice unless billions of requests are live.
        for _ in 0..16 {
            let t = Token::from_u64(self.rng.next_u64(), len);
            if !self.tokens.contains_key(&t) {
                return Ok(t);
            }
        }
        Err(RequestError::TokenInUse)
    }

    pub(crate) fn start_request(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        mut request: MessageBuilder,
        multicast: bool,
    ) -> Result<RequestId, RequestError> {
        if !request.code.is_request() {
            return Err(RequestError::NotARequest {
                code: request.code.0,
            });
        }
        if self.exchanges.len() >= self.config.max_requests {
            return Err(RequestError::TooManyRequests {
                max: self.config.max_requests,
            });
        }
        let block1 = self.block1_body(&mut request);
        let len = request.encoded_len();
        if len > self.config.max_message_size {
            return Err(RequestError::TooLarge {
                len,
                max: self.config.max_message_size,
            });
        }
        if request.message_type != MessageType::NonConfirmable {
            request.message_type = MessageType::Confirmable;
        }
        let id = self.next_request_id();
        self.tokens.insert(request.token, id);
        self.insert_exchange(id, peer, request, multicast, false);
        if let (Some(b), Some(f)) = (block1, self.follow_mut(id)) {
            f.block1 = Some(b);
        }
        self.enqueue(now, peer, id);
        Ok(id)
    }

    fn insert_exchange(
        &mut self,
        id: RequestId,
        peer: SocketAddr,
        msg: MessageBuilder,
        multicast: bool,
        ping: bool,
    ) {
        self.exchanges.insert(
            id,
            Exchange {
                peer,
                token: msg.token,
                mid: 0,
                state: State::Queued,
                multicast,
                ping,
                confirmable: msg.message_type == MessageType::Confirmable,
                message: Some(msg),
                deadline: None,
                sent: None,
                follow: None,
            },
        );
    }

    pub(crate) fn enqueue(&mut self, now: Instant, peer: SocketAddr, id: RequestId) {
        let (config, rng) = (&self.config, &mut self.rng);
        match self.peers.get_or_create(peer, now, config, rng) {
            Some(p) => p.queue.push_back(id),
            None => {
                // No room for peer state: send at once, without NSTART.
                self.send_now(now, peer, id);
                return;
            }
        }
        self.arm_sweep(now);
        self.start_queued(now, peer);
    }

    /// Sends the queued requests to `peer` that NSTART and PROBING_RATE allow.
    pub(crate) fn start_queued(&mut self, now: Instant, peer: SocketAddr) {
        loop {
            let Some(p) = self.peers.get_mut(&peer) else {
                return;
            };
            let Some(&id) = p.queue.front() else {
                return;
            };
            let Some(ex) = self.exchanges.get(&id) else {
                p.queue.pop_front();
                continue;
            };
            if ex.confirmable {
                if p.active >= self.config.nstart {
                    return;
                }
            } else {
                let len = ex.message.as_ref().map_or(4, MessageBuilder::encoded_len);
                if let Err(wake) = p.spend_probe(now, len, &self.config) {
                    self.timers.push(wake, Timer::ProbeWake(peer));
                    return;
                }
            }
            p.queue.pop_front();
            self.send_now(now, peer, id);
        }
    }

    fn send_now(&mut self, now: Instant, peer: SocketAddr, id: RequestId) {
        let mid = self.peers.next_mid(peer, now, &self.config, &mut self.rng);
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return;
        };
        let Some(mut msg) = ex.message.take() else {
            return;
        };
        msg.message_id = mid;
        ex.mid = mid;
        ex.deadline = None;
        let bytes = match msg.to_bytes() {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "request cannot be encoded");
                self.fail(id, RequestFailure::Reset);
                return;
            }
        };
        ex.sent = Some(bytes.clone());
        if ex.confirmable {
            ex.state = State::AwaitingAck;
            if let Some(p) = self.peers.get_mut(&peer) {
                p.active += 1;
            }
            let interval = initial_timeout(&self.config, &mut self.rng);
            let kind = if ex.ping {
                OutKind::Ping(id)
            } else {
                OutKind::Request(id)
            };
            self.outgoing.insert(
                (peer, mid),
                Outgoing {
                    kind,
                    payload: bytes.clone(),
                    retransmits: 0,
                    interval,
                    deadline: now + interval,
                },
            );
            self.timers
                .push(now + interval, Timer::Retransmit { peer, mid });
        } else {
            ex.state = State::AwaitingResponse;
            let wait = if ex.multicast {
                self.config.multicast_window
            } else {
                self.config.response_timeout
            };
            ex.deadline = Some(now + wait);
            self.timers.push(now + wait, Timer::ResponseDeadline(id));
            self.non_mids.insert((peer, mid), id);
        }
        self.transmit(peer, bytes);
    }

    /// Removes a finished request from every table.
    pub(crate) fn finish(&mut self, id: RequestId) -> Option<Exchange> {
        let ex = self.exchanges.remove(&id)?;
        if !ex.ping && self.tokens.get(&ex.token) == Some(&id) {
            self.tokens.remove(&ex.token);
        }
        if !ex.confirmable {
            self.non_mids.remove(&(ex.peer, ex.mid));
        }
        Some(ex)
    }

    pub(crate) fn fail(&mut self, id: RequestId, error: RequestFailure) {
        if self.finish(id).is_some() {
            self.events.push_back(Event::RequestFailed { id, error });
        }
    }

    fn release_nstart(&mut self, now: Instant, peer: SocketAddr) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.active = p.active.saturating_sub(1);
        }
        self.start_queued(now, peer);
    }

    /// A CON of ours got MAX_RETRANSMIT retransmissions and no ACK.
    pub(crate) fn on_con_gave_up(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        mid: u16,
        out: Outgoing,
    ) {
        match out.kind {
            OutKind::Request(id) | OutKind::Ping(id) => {
                self.fail(id, RequestFailure::Timeout);
                self.release_nstart(now, peer);
            }
            OutKind::Response => {}
            OutKind::Notification(token) => self.notification_failed(peer, token, mid),
        }
    }

    pub(crate) fn on_response_deadline(&mut self, now: Instant, id: RequestId) {
        let Some(ex) = self.exchanges.get(&id) else {
            return;
        };
        if ex.deadline.is_none_or(|d| d > now) {
            return;
        }
        if ex.follow.as_ref().is_some_and(|f| f.observe.is_some()) {
            self.reregister(now, id);
        } else if ex.multicast {
            self.finish(id);
            self.events.push_back(Event::MulticastDone { id });
        } else {
            self.fail(id, RequestFailure::Timeout);
        }
    }

    /// An ACK: stops retransmission; may carry the response (piggybacked).
    pub(crate) fn on_ack(&mut self, now: Instant, from: SocketAddr, msg: Message<Bytes>) {
        let Some(out) = self.outgoing.remove(&(from, msg.message_id())) else {
            return;
        };
        match out.kind {
            OutKind::Response => {}
            OutKind::Notification(token) => self.notification_acked(from, token, msg.message_id()),
            OutKind::Ping(id) => {
                // An ACK to a ping is odd but proves liveness too.
                if self.finish(id).is_some() {
                    self.events.push_back(Event::Pong { id, from });
                }
                self.release_nstart(now, from);
            }
            OutKind::Request(id) => {
                let piggybacked = msg.code().is_response()
                    && self
                        .exchanges
                        .get(&id)
                        .is_some_and(|e| e.token == msg.token());
                if piggybacked {
                    if let Some(ex) = self.exchanges.get_mut(&id) {
                        ex.state = State::AwaitingResponse;
                    }
                    self.release_nstart(now, from);
                    self.deliver(now, id, from, msg);
                    return;
                } else if let Some(ex) = self.exchanges.get_mut(&id) {
                    // Empty ACK: the response will come separately (§5.2.2).
                    ex.state = State::AwaitingResponse;
                    let at = now + self.config.response_timeout;
                    ex.deadline = Some(at);
                    self.timers.push(at, Timer::ResponseDeadline(id));
                }
                self.release_nstart(now, from);
            }
        }
    }

    /// An RST: the peer rejected a message of ours.
    pub(crate) fn on_reset(&mut self, now: Instant, from: SocketAddr, mid: u16) {
        if let Some(out) = self.outgoing.remove(&(from, mid)) {
            match out.kind {
                OutKind::Request(id) => {
                    self.fail(id, RequestFailure::Reset);
                    self.release_nstart(now, from);
                }
                OutKind::Ping(id) => {
                    if self.finish(id).is_some() {
                        self.events.push_back(Event::Pong { id, from });
                    }
                    self.release_nstart(now, from);
                }
                OutKind::Response => {
                    tracing::debug!(%from, mid, "separate response rejected with RST");
                }
                OutKind::Notification(token) => self.notification_failed(from, token, mid),
            }
        } else if let Some(id) = self.non_mids.remove(&(from, mid)) {
            self.fail(id, RequestFailure::Reset);
        } else if self.observers.on_reset(from, mid) {
            tracing::debug!(%from, mid, "NON notification rejected: observer removed");
        }
    }

    /// A response in its own CON or NON (separate, or the answer to a NON).
    pub(crate) fn on_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: Message<Bytes>,
        multicast: bool,
    ) {
        let mid = msg.message_id();
        let con = msg.message_type() == MessageType::Confirmable;
        if con {
            if let Some(crate::dedup::Reply::Cached(b)) = self.dedup.get(&(from, mid), now) {
                // RFC 7252 §4.5: a duplicate CON gets the same reply again.
                self.stats.duplicates += 1;
                let b = b.clone();
                self.transmit(from, b);
                return;
            }
        }
        let matched = self.tokens.get(&msg.token()).copied().filter(|id| {
            self.exchanges
                .get(id)
                .is_some_and(|e| !e.ping && (e.peer == from || e.multicast))
        });
        let Some(id) = matched else {
            let notification = msg.options().observe().is_some();
            if (con || notification) && !multicast {
                // RFC 7252 §5.3.2: an unexpected CON response is rejected;
                // RFC 7641 §3.6: so is a notification nobody wants any more.
                self.stats.rejected += 1;
                let rst = encode_empty(MessageType::Reset, mid);
                self.remember(from, mid, rst.clone(), now);
                self.transmit(from, rst);
            }
            return;
        };
        if con {
            let ack = encode_empty(MessageType::Acknowledgement, mid);
            self.remember(from, mid, ack.clone(), now);
            self.transmit(from, ack);
        }
        let Some(ex) = self.exchanges.get(&id) else {
            return;
        };
        if ex.state == State::AwaitingAck {
            // The response arrived before our CON's ACK: it acknowledges it.
            let key = (ex.peer, ex.mid);
            self.outgoing.remove(&key);
            self.release_nstart(now, from);
        }
        let multicast_ex = self.exchanges.get(&id).is_some_and(|e| e.multicast);
        if multicast_ex {
            self.events.push_back(Event::Response {
                id,
                from,
                response: msg,
            });
        } else {
            self.deliver(now, id, from, msg);
        }
    }

    fn remember(&mut self, from: SocketAddr, mid: u16, reply: Bytes, now: Instant) {
        let expires = now + self.config.exchange_lifetime();
        self.dedup
            .insert((from, mid), crate::dedup::Reply::Cached(reply), expires);
    }
}
