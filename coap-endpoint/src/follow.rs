//! The client side of Observe (RFC 7641) and block-wise transfer (RFC
//! 7959): what happens to a response of an exchange that goes on after it.
//! Notifications are ordered by the freshness rule, Block1 bodies are sent
//! block by block, Block2 bodies are fetched and reassembled, and an
//! observation whose Max-Age lapses is registered again.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use coap_codec::{Block, Code, Message, MessageBuilder, OptionNumber};

use crate::endpoint::Endpoint;
use crate::event::{Event, RequestError, RequestFailure, RequestId};
use crate::exchange::State;
use crate::timer::Timer;

/// Re-register this long after Max-Age lapsed without a notification
/// (RFC 7641 §3.3.1 leaves the margin to the client).
const REREGISTER_MARGIN: Duration = Duration::from_secs(2);

/// Max-Age when a notification has none (RFC 7252 §5.10.5).
const DEFAULT_MAX_AGE: u64 = 60;

/// Observe and block-wise state of one exchange.
#[derive(Debug, Default)]
pub(crate) struct Follow {
    /// `Some` while observing: the last Observe value delivered and when.
    pub(crate) observe: Option<Option<(u32, Instant)>>,
    /// A body being sent in Block1 blocks.
    pub(crate) block1: Option<Block1Out>,
    /// A body being received in Block2 blocks.
    pub(crate) block2: Option<Block2In>,
}

/// A request body sent block by block (RFC 7959 §2.5).
#[derive(Debug)]
pub(crate) struct Block1Out {
    body: Bytes,
    /// The block last sent.
    block: Block,
}

/// A response body received block by block (RFC 7959 §2.4).
#[derive(Debug)]
pub(crate) struct Block2In {
    body: BytesMut,
    etag: Option<Bytes>,
    /// The Observe value of the notification's first block (§2.6).
    observe: Option<u32>,
}

impl Endpoint {
    /// Registers interest in a resource (RFC 7641 §3.1): sends `request`
    /// (a GET or FETCH) with Observe 0. Each notification arrives as an
    /// [`Event::Notification`], in freshness order (§3.4). When Max-Age
    /// lapses with no notification the endpoint registers again with the
    /// same token (§3.3.1). Stop with [`cancel_observe`](Self::cancel_observe)
    /// (GET with Observe 1) or [`cancel`](Self::cancel) (the next
    /// notification is rejected with RST).
    ///
    /// # Errors
    /// As [`request`](Self::request).
    pub fn observe(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        request: MessageBuilder,
    ) -> Result<RequestId, RequestError> {
        let id = self.request(now, peer, request.observe(0))?;
        if let Some(f) = self.follow_mut(id) {
            f.observe = Some(None);
        }
        Ok(id)
    }

    /// Ends an observation actively: a GET with Observe 1 and the same
    /// token (RFC 7641 §3.6). Its response arrives as [`Event::Response`]
    /// and ends the exchange. Returns false when `id` is not an observation.
    pub fn cancel_observe(&mut self, now: Instant, id: RequestId) -> bool {
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return false;
        };
        let Some(f) = ex.follow.as_mut().filter(|f| f.observe.is_some()) else {
            return false;
        };
        f.observe = None;
        f.block2 = None;
        let Some(mut msg) = template(ex.sent.as_ref()) else {
            return false;
        };
        msg.remove_option(OptionNumber::BLOCK2);
        self.resend(now, id, msg.observe(1));
        true
    }

    /// The exchange's follow-up state, created on first use.
    pub(crate) fn follow_mut(&mut self, id: RequestId) -> Option<&mut Follow> {
        let ex = self.exchanges.get_mut(&id)?;
        Some(ex.follow.get_or_insert_with(Box::default))
    }

    /// Splits a request body that does not fit in one datagram: the
    /// request keeps the first block (RFC 7959 §2.5, with Size1 §4).
    pub(crate) fn block1_body(&self, request: &mut MessageBuilder) -> Option<Block1Out> {
        let block_size = 16usize << self.config.block_szx;
        let fits = request.encoded_len() <= self.config.max_message_size;
        if (fits && request.payload.len() <= block_size) || request.payload.is_empty() {
            return None;
        }
        let body = request.payload.clone();
        let overhead = request.encoded_len() - body.len() + 16;
        let mut szx = self.config.block_szx;
        while szx > 0 && overhead + (16 << szx) > self.config.max_message_size {
            szx -= 1;
        }
        let block = Block::new(0, body.len() > 16 << szx, szx)?;
        request.payload = body.slice(..block.size().min(body.len()));
        request.add_uint_option(OptionNumber::SIZE1, body.len() as u64);
        request.add_uint_option(OptionNumber::BLOCK1, u64::from(block.to_uint()));
        Some(Block1Out { body, block })
    }

    /// Sends `msg` as the exchange's next request, with its token.
    fn resend(&mut self, now: Instant, id: RequestId, mut msg: MessageBuilder) {
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return;
        };
        msg.token = ex.token;
        msg.message_type = if ex.confirmable {
            coap_codec::MessageType::Confirmable
        } else {
            coap_codec::MessageType::NonConfirmable
        };
        if !ex.confirmable {
            self.non_mids.remove(&(ex.peer, ex.mid));
        }
        ex.message = Some(msg);
        ex.state = State::Queued;
        ex.deadline = None;
        let peer = ex.peer;
        self.enqueue(now, peer, id);
    }

    /// Max-Age lapsed with no notification: register again (RFC 7641 §3.3.1).
    pub(crate) fn reregister(&mut self, now: Instant, id: RequestId) {
        let Some(ex) = self.exchanges.get(&id) else {
            return;
        };
        let Some(mut msg) = template(ex.sent.as_ref()) else {
            self.fail(id, RequestFailure::Timeout);
            return;
        };
        tracing::debug!(?id, "observation lapsed; registering again");
        msg.remove_option(OptionNumber::BLOCK2);
        self.resend(now, id, msg.observe(0));
    }

    /// A response to a request of ours arrived (piggybacked or separate).
    pub(crate) fn deliver(
        &mut self,
        now: Instant,
        id: RequestId,
        from: SocketAddr,
        msg: Message<Bytes>,
    ) {
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return;
        };
        let Some(f) = ex.follow.as_mut() else {
            // Plain request: no Block2 continuation unless the response asks.
            if msg.code().is_success() && msg.options().block2().is_some_and(Block::more) {
                if self.follow_mut(id).is_some() {
                    self.deliver(now, id, from, msg);
                }
                return;
            }
            self.finish(id);
            self.events.push_back(Event::Response {
                id,
                from,
                response: msg,
            });
            return;
        };
        if let Some(b1) = f.block1.as_mut() {
            if msg.code() == Code::CONTINUE {
                let Some(next) = next_block1(b1, msg.options().block1()) else {
                    self.fail(id, RequestFailure::BlockTransfer);
                    return;
                };
                b1.block = next;
                let end = (next.offset() + next.size()).min(b1.body.len());
                let payload = b1.body.slice(next.offset()..end);
                let Some(mut m) = template(ex.sent.as_ref()) else {
                    self.fail(id, RequestFailure::BlockTransfer);
                    return;
                };
                m.remove_option(OptionNumber::BLOCK2);
                let m = m.block1(next).payload(payload);
                self.resend(now, id, m);
                return;
            }
            f.block1 = None;
        }
        let block2 = msg.options().block2().filter(|_| msg.code().is_success());
        let msg = match block2 {
            Some(b2) if b2.more() || f.block2.is_some() => {
                match self.on_block2(now, id, &msg, b2) {
                    Ok(Some(full)) => full,
                    Ok(None) => return,
                    Err(e) => {
                        self.fail(id, e);
                        return;
                    }
                }
            }
            _ => msg,
        };
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return;
        };
        let observing = ex.follow.as_ref().and_then(|f| f.observe);
        if let (Some(last), Some(v), true) =
            (observing, msg.options().observe(), msg.code().is_success())
        {
            if last.is_some_and(|(v1, t1)| !crate::observe::is_fresh(v1, t1, v, now)) {
                tracing::trace!(?id, v, "stale notification dropped");
                return;
            }
            if let Some(f) = ex.follow.as_mut() {
                f.observe = Some(Some((v, now)));
            }
            ex.state = State::AwaitingResponse;
            let max_age = msg.options().max_age().map_or(DEFAULT_MAX_AGE, u64::from);
            let at = now + Duration::from_secs(max_age) + REREGISTER_MARGIN;
            ex.deadline = Some(at);
            self.timers.push(at, Timer::ResponseDeadline(id));
            self.events.push_back(Event::Notification {
                id,
                from,
                response: msg,
            });
            return;
        }
        self.finish(id);
        self.events.push_back(Event::Response {
            id,
            from,
            response: msg,
        });
    }

    /// One Block2 block arrived: keep it and ask for the next, or return
    /// the whole response.
    fn on_block2(
        &mut self,
        now: Instant,
        id: RequestId,
        msg: &Message<Bytes>,
        b2: Block,
    ) -> Result<Option<Message<Bytes>>, RequestFailure> {
        let max = self.config.max_body_size;
        let Some(ex) = self.exchanges.get_mut(&id) else {
            return Ok(None);
        };
        let f = ex.follow.get_or_insert_with(Box::default);
        let etag = msg.options().etag().map(Bytes::copy_from_slice);
        if b2.num() == 0 {
            f.block2 = Some(Block2In {
                body: BytesMut::new(),
                etag: etag.clone(),
                observe: msg.options().observe(),
            });
        }
        let Some(st) = f.block2.as_mut() else {
            return Err(RequestFailure::BlockTransfer);
        };
        if st.etag != etag {
            return Err(RequestFailure::EtagChanged);
        }
        if b2.offset() != st.body.len() {
            // A duplicate or a block from an older request: ignore it.
            if b2.offset() < st.body.len() {
                return Ok(None);
            }
            return Err(RequestFailure::BlockTransfer);
        }
        if st.body.len() + msg.payload().len() > max {
            return Err(RequestFailure::BlockTransfer);
        }
        st.body.extend_from_slice(msg.payload());
        if b2.more() {
            if msg.payload().len() != b2.size() {
                return Err(RequestFailure::BlockTransfer);
            }
            let next =
                Block::new(b2.num() + 1, false, b2.szx()).ok_or(RequestFailure::BlockTransfer)?;
            let Some(mut m) = template(ex.sent.as_ref()) else {
                return Err(RequestFailure::BlockTransfer);
            };
            // RFC 7959 §2.6: the follow-up requests carry no Observe.
            m.remove_option(OptionNumber::OBSERVE);
            m.remove_option(OptionNumber::BLOCK1);
            m.remove_option(OptionNumber::SIZE1);
            m.payload = Bytes::new();
            self.resend(now, id, m.block2(next));
            return Ok(None);
        }
        let Some(st) = f.block2.take() else {
            return Err(RequestFailure::BlockTransfer);
        };
        let mut full = MessageBuilder::from_message(msg);
        full.remove_option(OptionNumber::BLOCK2);
        if let Some(v) = st.observe {
            full = full.observe(v);
        }
        full.payload = st.body.freeze();
        let bytes = full.to_bytes().map_err(|_| RequestFailure::BlockTransfer)?;
        Message::decode(bytes)
            .map(Some)
            .map_err(|_| RequestFailure::BlockTransfer)
    }
}

/// The request last sent, as a builder to derive the next one from.
fn template(sent: Option<&Bytes>) -> Option<MessageBuilder> {
    let m = Message::decode(sent?.clone()).ok()?;
    Some(MessageBuilder::from_message(&m))
}

/// The next Block1 block after a 2.31, honouring a smaller size the server
/// asked for (late negotiation, RFC 7959 §2.5).
fn next_block1(b1: &Block1Out, answer: Option<Block>) -> Option<Block> {
    let answer = answer?;
    let szx = answer.szx().min(b1.block.szx());
    let offset = b1.block.offset() + b1.block.size();
    if offset >= b1.body.len() {
        return None;
    }
    let size = 16usize << szx;
    let num = u32::try_from(offset / size).ok()?;
    Block::new(num, offset + size < b1.body.len(), szx)
}
