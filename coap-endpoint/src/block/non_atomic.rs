//! Non-atomic Block1 handling (RFC 7959 §2.5): the application sees each
//! block of a request body as a request of its own, once and in order, for
//! the paths set with [`Endpoint::set_non_atomic`].

use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use coap_codec::{Block, Code, Message, MessageBuilder, OptionNumber};

use super::{continue_reply, too_large, Block1Step, Partial, Reassembly};
use crate::endpoint::Endpoint;

/// The progress of a non-atomic transfer.
#[derive(Debug)]
pub(super) struct Stream {
    /// Bytes the application has taken: where the next new block starts.
    pub(super) next: usize,
    /// The block the application is handling (offset, length).
    pub(super) in_flight: Option<(usize, usize)>,
    /// The offset of the last block taken.
    pub(super) last_offset: usize,
    /// The answer to the last block, once the transfer is complete.
    pub(super) done: Option<MessageBuilder>,
}

impl Reassembly {
    /// Whether a request's Block1 blocks go to the application one by one.
    pub(super) fn is_non_atomic(&self, msg: &Message<Bytes>) -> bool {
        !self.non_atomic.is_empty()
            && msg
                .options()
                .path()
                .is_ok_and(|p| self.non_atomic.contains(&p))
    }
}

impl Endpoint {
    /// One block of a non-atomic transfer (RFC 7959 §2.5): a new block in
    /// sequence goes to the application; a copy (new message ID) of a block
    /// it took already is answered again without it (2.31, or the final
    /// response for the last block); a block that does not follow is 4.08.
    /// Block 0 starts a transfer when none is in progress (or the last one
    /// is complete); during one it is a copy like any other block.
    pub(super) fn block1_stream_step(
        &mut self,
        now: Instant,
        key: (SocketAddr, u64),
        msg: &Message<Bytes>,
        b1: Block,
    ) -> Block1Step {
        let max = self.config.max_body_size;
        let len = msg.payload().len();
        let end = b1.offset().saturating_add(len);
        let lifetime = self.config.block1_lifetime;
        let incomplete =
            || Block1Step::Reply(crate::server::response(Code::REQUEST_ENTITY_INCOMPLETE));
        let Some(p) = self.block1.map.get_mut(&key).filter(|p| p.expires > now) else {
            self.block1.map.remove(&key);
            return self.block1_stream_start(now, key, msg, b1);
        };
        let Some(s) = p.stream.as_mut() else {
            // An atomic transfer at this key (the path became non-atomic).
            self.block1.map.remove(&key);
            return self.block1_stream_start(now, key, msg, b1);
        };
        if let Some(done) = &s.done {
            if !b1.more() && b1.offset() == s.last_offset {
                // The last block again: its response again, not the handler.
                return Block1Step::Reply(done.clone());
            }
            if b1.num() == 0 {
                // The transfer is complete: block 0 starts the next one.
                self.block1.map.remove(&key);
                return self.block1_stream_start(now, key, msg, b1);
            }
        }
        if let Some((offset, _)) = s.in_flight {
            if offset == b1.offset() {
                return Block1Step::Ignore;
            }
        } else if b1.more() && end <= s.next {
            // A copy of a block the application took already: not again.
            p.expires = now + lifetime;
            return Block1Step::Reply(continue_reply(b1));
        }
        if b1.num() == 0 {
            self.block1.map.remove(&key);
            return self.block1_stream_start(now, key, msg, b1);
        }
        if s.done.is_some()
            || s.in_flight.is_some()
            || b1.offset() != s.next
            || (b1.more() && len != b1.size())
        {
            // Out of order, or the client went on without our 2.31.
            self.block1.map.remove(&key);
            return incomplete();
        }
        if msg.options().size1().is_some_and(|s| s as usize > max) || end > max {
            self.block1.map.remove(&key);
            return Block1Step::Reply(too_large(max));
        }
        s.in_flight = Some((b1.offset(), len));
        p.expires = now + lifetime;
        Block1Step::Stream
    }

    /// The first block of a non-atomic transfer (no state at its key).
    fn block1_stream_start(
        &mut self,
        now: Instant,
        key: (SocketAddr, u64),
        msg: &Message<Bytes>,
        b1: Block,
    ) -> Block1Step {
        let max = self.config.max_body_size;
        let len = msg.payload().len();
        if b1.num() != 0 {
            return Block1Step::Reply(crate::server::response(Code::REQUEST_ENTITY_INCOMPLETE));
        }
        if msg.options().size1().is_some_and(|s| s as usize > max) || len > max {
            return Block1Step::Reply(too_large(max));
        }
        if !b1.more() {
            // The whole body in one block: nothing to track.
            return Block1Step::Stream;
        }
        if len != b1.size() {
            return Block1Step::Reply(crate::server::response(Code::BAD_REQUEST));
        }
        if let Some(busy) = self.start_transfer(now, key) {
            return Block1Step::Reply(busy);
        }
        tracing::debug!(from = %key.0, size = len, "non-atomic Block1 transfer");
        self.block1.map.insert(
            key,
            Partial {
                body: BytesMut::new(),
                stream: Some(Stream {
                    next: 0,
                    in_flight: Some((0, len)),
                    last_offset: 0,
                    done: None,
                }),
                expires: now + self.config.block1_lifetime,
            },
        );
        Block1Step::Stream
    }

    /// The application answered block `b1` of a non-atomic transfer: an
    /// error ends the transfer and goes out as it is; a success to an
    /// intermediate block records the block as taken and becomes 2.31
    /// Continue; the answer to the last block is kept for a copy of that
    /// block until the transfer expires.
    pub(crate) fn block1_streamed(
        &mut self,
        now: Instant,
        at: (SocketAddr, u64),
        b1: Block,
        response: &mut MessageBuilder,
    ) {
        let lifetime = self.config.block1_lifetime;
        let ours = self.block1.map.get_mut(&at).filter(|p| {
            p.stream
                .as_ref()
                .is_some_and(|s| s.in_flight.is_some_and(|(o, _)| o == b1.offset()))
        });
        if let Some(p) = ours {
            if response.code.is_error() {
                self.block1.map.remove(&at);
            } else if let Some(s) = p.stream.as_mut() {
                if let Some((offset, len)) = s.in_flight.take() {
                    s.next = offset + len;
                    s.last_offset = offset;
                }
                if !b1.more() {
                    s.done = Some(response.clone());
                }
                p.expires = now + lifetime;
            }
        }
        if response.code.is_error() || !b1.more() {
            return;
        }
        if response.code != Code::CONTINUE {
            *response = continue_reply(b1);
        } else if response.options().all(|(n, _)| n != OptionNumber::BLOCK1) {
            *response = std::mem::replace(response, continue_reply(b1)).block1(b1);
        }
    }

    /// Sets whether Block1 requests to `path` (`/a/b`, as Uri-Path
    /// segments) are handled non-atomically (RFC 7959 §2.5): instead of one
    /// request with the reassembled body, the application gets each block
    /// as an [`Event::Request`](crate::Event::Request) of its own carrying
    /// the Block1 option, in order and once. Its success answer to an
    /// intermediate block goes out as 2.31 Continue, an error answer (4.13,
    /// 5.03, ...) ends the transfer, and its answer to the last block is
    /// the response. Copies of blocks already taken (a client re-sending a
    /// block in a new exchange) are answered again without the application
    /// (2.31, or the kept answer to the last block), a block that does not
    /// follow gets 4.08 Request Entity Incomplete. Block 0 starts a
    /// transfer when none is in progress at the same key (or the last one
    /// is complete); during one it counts as a copy, so a client that gives
    /// up on a body for another one half-way uses a new Request-Tag (RFC
    /// 9175 §3) or waits `block1_lifetime`. Handlers should write each block
    /// at its offset, which makes a restart from block 0 harmless. The
    /// limits of `Config` (largest body, transfers per peer and in all,
    /// `block1_lifetime`) apply as for atomic transfers. A
    /// [`Router`](crate::server::Router) sets this for resources whose
    /// attributes say [`non_atomic`](crate::server::Attributes::non_atomic).
    pub fn set_non_atomic(&mut self, path: &str, non_atomic: bool) {
        let path = normal_path(path);
        if non_atomic {
            self.block1.non_atomic.insert(path);
        } else {
            self.block1.non_atomic.remove(&path);
        }
    }

    /// Replaces every non-atomic path (see [`set_non_atomic`](Self::set_non_atomic)).
    pub fn set_non_atomic_paths<I, S>(&mut self, paths: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.block1.non_atomic = paths.into_iter().map(|p| normal_path(p.as_ref())).collect();
    }

    /// The paths handled non-atomically.
    pub fn non_atomic_paths(&self) -> impl Iterator<Item = &str> + '_ {
        self.block1.non_atomic.iter().map(String::as_str)
    }
}

/// `a/b`, `/a/b` and `/a/b/` as `/a/b`; the root as `/`.
fn normal_path(path: &str) -> String {
    let p = path.trim_matches('/');
    format!("/{p}")
}
