//! The server role: receiving requests, deduplication, piggybacked and
//! separate responses, NON responses, multicast leisure (RFC 7252 §4.5,
//! §5.2, §8.2).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coap_codec::{
    Block, Code, Message, MessageBuilder, MessageType, NoResponse, OptionNumber, Token,
};

use crate::block::Block1Step;

use crate::dedup::Reply;
use crate::endpoint::{encode_empty, Endpoint};
use crate::event::{Event, IncomingId, RespondError, Transmit};
use crate::reliability::{initial_timeout, OutKind, Outgoing};
use crate::timer::Timer;

/// A received request waiting for the application's response.
#[derive(Debug)]
pub(crate) struct Incoming {
    peer: SocketAddr,
    mid: u16,
    token: Token,
    confirmable: bool,
    multicast: bool,
    /// An empty ACK went out: the response must be a separate CON.
    acked: bool,
    no_response: Option<NoResponse>,
    expires: Instant,
    /// The Block2 option of the request: which block to answer (RFC 7959).
    block2: Option<Block>,
    /// The last Block1 block of a reassembled body, echoed in the answer.
    block1: Option<Block>,
    /// The Block1 transfer's key, to keep a large response for Block2.
    block_key: Option<u64>,
    /// A block of a non-atomic Block1 transfer (RFC 7959 §2.5).
    streamed: bool,
}

impl Endpoint {
    pub(crate) fn on_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: Message<Bytes>,
        multicast: bool,
    ) {
        let mid = msg.message_id();
        let con = msg.message_type() == MessageType::Confirmable;
        let key = (from, mid);
        if let Some(reply) = self.dedup.get(&key, now) {
            self.stats.duplicates += 1;
            if con {
                self.answer_duplicate(now, key, reply.clone());
            }
            return;
        }
        let lifetime = if con {
            self.config.exchange_lifetime()
        } else {
            self.config.non_lifetime()
        };
        if multicast && con {
            // RFC 7252 §8.1: multicast requests are NON; ignore a CON.
            return;
        }
        if let Some(opt) = msg.options().unrecognized_critical() {
            self.stats.rejected += 1;
            tracing::debug!(%from, option = opt.0, "unrecognised critical option");
            if multicast {
                return;
            }
            // RFC 7252 §5.4.1: 4.02 for a CON request, reject a NON.
            let reply = if con {
                MessageBuilder::response_to(&msg, Code::BAD_OPTION)
                    .payload(format!("unrecognised critical option {}", opt.0))
                    .to_bytes()
                    .unwrap_or_else(|_| encode_empty(MessageType::Reset, mid))
            } else {
                encode_empty(MessageType::Reset, mid)
            };
            self.dedup
                .insert(key, Reply::Cached(reply.clone()), now + lifetime);
            self.transmit(from, reply);
            return;
        }
        if self.incoming.len() >= self.config.max_incoming {
            self.stats.overloaded += 1;
            if con && !multicast {
                let reply = MessageBuilder::response_to(&msg, Code::SERVICE_UNAVAILABLE)
                    .max_age(1)
                    .to_bytes()
                    .unwrap_or_else(|_| encode_empty(MessageType::Reset, mid));
                self.transmit(from, reply);
            }
            return;
        }
        let options = msg.options();
        self.observe_request(from, msg.code(), msg.token(), options.observe());
        let block1 = options.block1().filter(|_| !multicast);
        let block2 = options.block2();
        let mut step = block1.map(|b| self.block1_step(now, from, &msg, b));
        if matches!(step, Some(Block1Step::Ignore)) {
            // A copy (new message ID) of the block the application is
            // handling: not again; the client retransmits if it must.
            self.stats.duplicates += 1;
            return;
        }
        let streamed = matches!(step, Some(Block1Step::Stream));
        let mut block_key = None;
        if block1.is_some() || block2.is_some_and(|b| b.num() > 0) {
            let key = self.block1.request_key(&msg);
            block_key = Some(key);
            if block1.is_none() {
                // RFC 7959 §3.3: a Block2 follow-up of a Block1 request is
                // answered from the kept response, not by the application.
                step = self
                    .block1
                    .kept_response((from, key), now)
                    .map(Block1Step::Reply);
            }
        }
        let id = self.next_incoming_id();
        let expires = now + self.config.exchange_lifetime();
        self.incoming.insert(
            id,
            Incoming {
                peer: from,
                mid,
                token: msg.token(),
                confirmable: con,
                multicast,
                acked: false,
                no_response: msg.options().no_response(),
                expires,
                block2,
                block1,
                block_key,
                streamed,
            },
        );
        let reply = if con {
            Reply::Pending(id)
        } else {
            Reply::Ignore
        };
        self.dedup.insert(key, reply, now + lifetime);
        // One FIFO entry per request, due after the separate-response
        // delay: it sends the empty ACK of a CON and, for any request still
        // unanswered then, arms its expiry. Requests answered at once (the
        // common case) never reach the EXCHANGE_LIFETIME queue, which would
        // otherwise hold an entry per request for 247 s.
        self.timers
            .push_separate(now + self.config.separate_response_delay, id);
        let msg = match step {
            Some(Block1Step::Reply(r)) => {
                if let Err(e) = self.respond(now, id, r) {
                    tracing::debug!(error = %e, "block-wise answer not sent");
                }
                return;
            }
            Some(Block1Step::Complete(m)) => m,
            Some(Block1Step::Stream | Block1Step::Ignore) | None => msg,
        };
        self.events.push_back(Event::Request {
            id,
            from,
            request: msg,
            multicast,
        });
    }

    /// RFC 7252 §4.5: a duplicate CON gets the reply the first copy got; if
    /// the application is still busy, the empty ACK is sent now.
    fn answer_duplicate(&mut self, now: Instant, key: (SocketAddr, u16), reply: Reply) {
        match reply {
            Reply::Cached(b) => self.transmit(key.0, b),
            Reply::Pending(id) => self.send_empty_ack(now, id),
            Reply::Ignore => {}
        }
    }

    fn send_empty_ack(&mut self, _now: Instant, id: IncomingId) {
        let Some(inc) = self.incoming.get_mut(&id) else {
            return;
        };
        if !inc.confirmable || inc.acked {
            return;
        }
        inc.acked = true;
        let (peer, mid) = (inc.peer, inc.mid);
        let ack = encode_empty(MessageType::Acknowledgement, mid);
        self.dedup.update(&(peer, mid), Reply::Cached(ack.clone()));
        self.transmit(peer, ack);
    }

    pub(crate) fn on_separate_timer(&mut self, now: Instant, id: IncomingId) {
        self.send_empty_ack(now, id);
        if let Some(inc) = self.incoming.get(&id) {
            self.timers.push_expiry(inc.expires, id);
        }
    }

    pub(crate) fn on_incoming_expiry(&mut self, now: Instant, id: IncomingId) {
        if self.incoming.get(&id).is_some_and(|i| i.expires <= now) {
            tracing::debug!(?id, "request never answered; forgotten");
            self.incoming.remove(&id);
        }
    }

    /// Answers a received request. The endpoint sets the type, message ID
    /// and token: piggybacked on the ACK when the CON has not been
    /// acknowledged yet, a separate CON after an empty ACK, a NON for a NON
    /// (RFC 7252 §5.2). A response to a multicast request waits a random
    /// leisure, and an error response to one is not sent at all (§8.2).
    /// Honours the request's No-Response option (RFC 7967).
    ///
    /// # Errors
    /// [`RespondError`] when `id` is unknown (answered or expired), the
    /// code is not a response code, or the message is too large.
    pub fn respond(
        &mut self,
        now: Instant,
        id: IncomingId,
        mut response: MessageBuilder,
    ) -> Result<(), RespondError> {
        if !response.code.is_response() {
            return Err(RespondError::NotAResponse {
                code: response.code.0,
            });
        }
        let inc = self.incoming.get(&id).ok_or(RespondError::UnknownRequest)?;
        response.token = inc.token;
        if let (true, Some(b1), Some(key)) = (inc.streamed, inc.block1, inc.block_key) {
            let at = (inc.peer, key);
            self.block1_streamed(now, at, b1, &mut response);
        }
        let Some(inc) = self.incoming.get(&id) else {
            return Err(RespondError::UnknownRequest);
        };
        if let Some(b1) = inc.block1 {
            if response.options().all(|(n, _)| n != OptionNumber::BLOCK1) {
                response = response.block1(b1.with_more(false));
            }
        }
        let keep = match (inc.block1, inc.block_key) {
            (Some(_), Some(key)) if response.encoded_len() > self.config.max_message_size => {
                let mut whole = response.clone();
                whole.remove_option(OptionNumber::BLOCK1);
                Some(((inc.peer, key), whole))
            }
            _ => None,
        };
        if let Some((at, whole)) = keep {
            let expires = now + self.config.block1_lifetime;
            let max = self.config.max_block1_transfers;
            self.block1.keep_response(at, whole, expires, now, max);
        }
        if let Err(code) = self.slice_block2(inc.block2, &mut response) {
            let token = response.token;
            response = crate::server::response(code);
            response.token = token;
        }
        let len = response.encoded_len();
        if len > self.config.max_message_size {
            return Err(RespondError::TooLarge {
                len,
                max: self.config.max_message_size,
            });
        }
        let Some(inc) = self.incoming.remove(&id) else {
            return Err(RespondError::UnknownRequest);
        };
        let suppressed = inc
            .no_response
            .is_some_and(|nr| nr.suppresses(response.code.class()));
        if inc.multicast {
            if response.code.is_error() || suppressed {
                return Ok(());
            }
            response.message_type = MessageType::NonConfirmable;
            response.message_id = self
                .peers
                .next_mid(inc.peer, now, &self.config, &mut self.rng);
            self.arm_sweep(now);
            let bytes = response.to_bytes().map_err(RespondError::Encode)?;
            let leisure = self.config.default_leisure.mul_f64(self.rng.next_f64());
            self.timers.push(
                now + leisure,
                Timer::Delayed(Transmit {
                    destination: inc.peer,
                    payload: bytes,
                }),
            );
            return Ok(());
        }
        if suppressed {
            if inc.confirmable && !inc.acked {
                let ack = encode_empty(MessageType::Acknowledgement, inc.mid);
                self.dedup
                    .update(&(inc.peer, inc.mid), Reply::Cached(ack.clone()));
                self.transmit(inc.peer, ack);
            }
            return Ok(());
        }
        if inc.confirmable && !inc.acked {
            response.message_type = MessageType::Acknowledgement;
            response.message_id = inc.mid;
            let bytes = response.to_bytes().map_err(RespondError::Encode)?;
            self.dedup
                .update(&(inc.peer, inc.mid), Reply::Cached(bytes.clone()));
            self.transmit(inc.peer, bytes);
        } else {
            response.message_type = if inc.confirmable {
                MessageType::Confirmable
            } else {
                MessageType::NonConfirmable
            };
            let mid = self
                .peers
                .next_mid(inc.peer, now, &self.config, &mut self.rng);
            self.arm_sweep(now);
            response.message_id = mid;
            let bytes = response.to_bytes().map_err(RespondError::Encode)?;
            if inc.confirmable {
                self.send_reliably(now, inc.peer, mid, OutKind::Response, bytes.clone());
            }
            self.transmit(inc.peer, bytes);
        }
        Ok(())
    }

    /// The client and token of a pending request.
    pub(crate) fn incoming_key(&self, id: IncomingId) -> Option<(SocketAddr, Token)> {
        self.incoming.get(&id).map(|i| (i.peer, i.token))
    }

    pub(crate) fn send_reliably(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        mid: u16,
        kind: OutKind,
        payload: Bytes,
    ) {
        let interval: Duration = initial_timeout(&self.config, &mut self.rng);
        self.outgoing.insert(
            (peer, mid),
            Outgoing {
                kind,
                payload,
                retransmits: 0,
                interval,
                deadline: now + interval,
            },
        );
        self.timers
            .push(now + interval, Timer::Retransmit { peer, mid });
    }
}
