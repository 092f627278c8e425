//! The server side of block-wise transfer (RFC 7959): Block2 slicing of
//! large responses and Block1 reassembly of large request bodies.
//!
//! Block2 is stateless: every block request runs the handler again and the
//! endpoint cuts out the block asked for, with an ETag derived from the body
//! when the handler set none, so a client notices a representation that
//! changes mid-transfer (§2.4). Block1 is atomic by default: blocks are
//! collected per client and request (peer, method, options, Request-Tag;
//! not the token, which some clients change per block) and the application
//! sees one request with the whole body (§2.5). For the paths set with
//! [`Endpoint::set_non_atomic`] it is non-atomic: the application sees each
//! block as a request of its own, in order and once, and the endpoint turns
//! its success answer to an intermediate block into 2.31 Continue. Every
//! transfer, atomic or not, is bounded in size, number and age by
//! [`Config`](crate::Config).

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use coap_codec::{Block, Code, Message, MessageBuilder, OptionNumber};

use crate::endpoint::Endpoint;
use crate::hash::{self, KeyedState, Map};

mod non_atomic;

/// A Block1 transfer in progress.
#[derive(Debug)]
struct Partial {
    /// Atomic: the body so far. Non-atomic: empty (the application keeps it).
    body: BytesMut,
    /// Non-atomic: how many bytes the application has accepted (the offset
    /// the next new block must start at), and the block it is handling now
    /// (offset, length), if any.
    stream: Option<non_atomic::Stream>,
    expires: Instant,
}

/// Block1 bodies being reassembled, by (peer, request key).
#[derive(Debug)]
pub(crate) struct Reassembly {
    map: Map<(SocketAddr, u64), Partial>,
    /// Responses to reassembled Block1 requests too large for one block,
    /// for the client's Block2 follow-ups (RFC 7959 §3.3).
    responses: Map<(SocketAddr, u64), (MessageBuilder, Instant)>,
    key: KeyedState,
    /// Paths (`/a/b`) whose Block1 requests are handled non-atomically.
    non_atomic: BTreeSet<String>,
}

/// What to do with a request carrying Block1.
pub(crate) enum Block1Step {
    /// Answer at once (2.31 Continue, 4.08, 4.13) without the application.
    Reply(MessageBuilder),
    /// The body is whole: hand this request to the application.
    Complete(Message<Bytes>),
    /// Non-atomic: hand this block, as it is, to the application.
    Stream,
    /// Non-atomic: another copy of the block the application is handling
    /// now; drop it (the client retransmits if it needs to).
    Ignore,
}

impl Reassembly {
    pub(crate) fn new(key: u64) -> Self {
        Self {
            map: hash::map(key),
            responses: hash::map(key.rotate_left(9)),
            key: KeyedState::new(key.rotate_left(17)),
            non_atomic: BTreeSet::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len() + self.responses.len()
    }

    /// When the oldest transfer or kept response expires.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        let a = self.map.values().map(|p| p.expires).min();
        let b = self.responses.values().map(|r| r.1).min();
        a.into_iter().chain(b).min()
    }

    /// Drops transfers and kept responses that expired by `now`.
    pub(crate) fn expire(&mut self, now: Instant) {
        self.map.retain(|_, p| p.expires > now);
        self.responses.retain(|_, (_, e)| *e > now);
    }

    /// Keeps the whole response to a Block1 request for its Block2
    /// follow-ups, within the transfer limits.
    pub(crate) fn keep_response(
        &mut self,
        at: (SocketAddr, u64),
        response: MessageBuilder,
        expires: Instant,
        now: Instant,
        max: usize,
    ) {
        self.responses.retain(|_, (_, e)| *e > now);
        if self.responses.len() < max {
            self.responses.insert(at, (response, expires));
        }
    }

    /// The kept response for a Block2 follow-up, if still fresh.
    pub(crate) fn kept_response(
        &self,
        at: (SocketAddr, u64),
        now: Instant,
    ) -> Option<MessageBuilder> {
        self.responses
            .get(&at)
            .filter(|(_, e)| *e > now)
            .map(|(m, _)| m.clone())
    }

    /// The transfer key of a request (see `key_of`).
    pub(crate) fn request_key(&self, msg: &Message<Bytes>) -> u64 {
        self.key_of(msg)
    }

    /// Which transfer a block belongs to: method and every option except
    /// the block-wise ones, so Request-Tag (RFC 9175 §3) separates
    /// concurrent transfers to one resource.
    fn key_of(&self, msg: &Message<Bytes>) -> u64 {
        let mut h = self.key.build_hasher();
        h.write_u8(msg.code().0);
        for opt in msg.options().iter() {
            let n = opt.number;
            if matches!(
                n,
                OptionNumber::BLOCK1
                    | OptionNumber::BLOCK2
                    | OptionNumber::SIZE1
                    | OptionNumber::SIZE2
            ) {
                continue;
            }
            h.write_u16(n.0);
            h.write(opt.value);
        }
        h.finish()
    }
}

/// 4.13 with the largest body this server accepts (RFC 7959 §2.9.3).
fn too_large(max: usize) -> MessageBuilder {
    crate::server::response(Code::REQUEST_ENTITY_TOO_LARGE)
        .uint_option(OptionNumber::SIZE1, max as u64)
}

impl Endpoint {
    /// Collects one Block1 block of a request from `from`.
    pub(crate) fn block1_step(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &Message<Bytes>,
        b1: Block,
    ) -> Block1Step {
        let max = self.config.max_body_size;
        let key = (from, self.block1.key_of(msg));
        if self.block1.is_non_atomic(msg) {
            return self.block1_stream_step(now, key, msg, b1);
        }
        let payload = msg.payload();
        if b1.num() == 0 {
            if msg.options().size1().is_some_and(|s| s as usize > max) || payload.len() > max {
                self.block1.map.remove(&key);
                return Block1Step::Reply(too_large(max));
            }
            if !b1.more() {
                return Block1Step::Complete(msg.clone());
            }
            if let Some(busy) = self.start_transfer(now, key) {
                return Block1Step::Reply(busy);
            }
            if payload.len() != b1.size() {
                return Block1Step::Reply(crate::server::response(Code::BAD_REQUEST));
            }
            let mut body = BytesMut::new();
            body.extend_from_slice(payload);
            self.block1.map.insert(
                key,
                Partial {
                    body,
                    stream: None,
                    expires: now + self.config.block1_lifetime,
                },
            );
            return Block1Step::Reply(continue_reply(b1));
        }
        let Some(p) = self.block1.map.get_mut(&key).filter(|p| p.expires > now) else {
            self.block1.map.remove(&key);
            return Block1Step::Reply(crate::server::response(Code::REQUEST_ENTITY_INCOMPLETE));
        };
        if b1.offset() != p.body.len() || (b1.more() && payload.len() != b1.size()) {
            // RFC 7959 §2.5: a block that does not follow is 4.08.
            self.block1.map.remove(&key);
            return Block1Step::Reply(crate::server::response(Code::REQUEST_ENTITY_INCOMPLETE));
        }
        if p.body.len() + payload.len() > max {
            self.block1.map.remove(&key);
            return Block1Step::Reply(too_large(max));
        }
        p.body.extend_from_slice(payload);
        p.expires = now + self.config.block1_lifetime;
        if b1.more() {
            return Block1Step::Reply(continue_reply(b1));
        }
        let Some(p) = self.block1.map.remove(&key) else {
            return Block1Step::Reply(crate::server::response(Code::REQUEST_ENTITY_INCOMPLETE));
        };
        let mut whole = MessageBuilder::from_message(msg);
        // The application sees one request with the whole body: no Block1.
        whole.remove_option(OptionNumber::BLOCK1);
        whole.payload = p.body.freeze();
        match whole.to_bytes().map(Message::decode) {
            Ok(Ok(m)) => Block1Step::Complete(m),
            _ => Block1Step::Reply(crate::server::response(Code::INTERNAL_SERVER_ERROR)),
        }
    }

    /// Makes room for a new transfer at `key` (dropping expired ones and an
    /// older transfer at the same key), or the 5.03 to answer when the
    /// per-peer or overall limit is reached.
    fn start_transfer(&mut self, now: Instant, key: (SocketAddr, u64)) -> Option<MessageBuilder> {
        self.block1.map.retain(|_, p| p.expires > now);
        self.block1.map.remove(&key);
        let full = |m: &Map<(SocketAddr, u64), Partial>, cfg: &crate::Config| {
            m.keys().filter(|k| k.0 == key.0).count() >= cfg.max_block1_per_peer
                || m.len() >= cfg.max_block1_transfers
        };
        if full(&self.block1.map, &self.config) {
            // Complete non-atomic transfers, kept only to answer a copy of
            // their last block, make room for a new one.
            self.block1
                .map
                .retain(|_, p| p.stream.as_ref().is_none_or(|s| s.done.is_none()));
        }
        let per_peer = self.block1.map.keys().filter(|k| k.0 == key.0).count();
        (per_peer >= self.config.max_block1_per_peer
            || self.block1.map.len() >= self.config.max_block1_transfers)
            .then(|| crate::server::response(Code::SERVICE_UNAVAILABLE).max_age(5))
    }

    /// Cuts the block a client asked for (or block 0 when the response does
    /// not fit in a datagram) out of `response` (RFC 7959 §2.4), adding
    /// Block2, Size2 and, when missing, an ETag. Errors name the code to
    /// answer instead.
    pub(crate) fn slice_block2(
        &self,
        requested: Option<Block>,
        response: &mut MessageBuilder,
    ) -> Result<(), Code> {
        let max = self.config.max_message_size;
        let fits = response.encoded_len() <= max;
        // An error is sliced only when it does not fit (then block 0).
        let requested = requested.filter(|_| response.code.is_success());
        if fits && requested.is_none() {
            return Ok(());
        }
        let body = response.payload.clone();
        let etag_len = if response.options().any(|(n, _)| n == OptionNumber::ETAG) {
            0
        } else {
            9
        };
        // Options added below: Block2 ≤ 4, Size2 ≤ 5 bytes, ETag.
        let overhead = response.encoded_len() - body.len() + 9 + etag_len;
        let mut szx = requested.map_or(self.config.block_szx, |b| {
            b.szx().min(self.config.block_szx)
        });
        while szx > 0 && overhead + (16 << szx) > max {
            szx -= 1;
        }
        let offset = requested.map_or(0, Block::offset);
        if offset >= body.len() && offset > 0 {
            return Err(Code::BAD_OPTION);
        }
        let size = 16usize << szx;
        let end = (offset + size).min(body.len());
        let more = end < body.len();
        let num = u32::try_from(offset / size).map_err(|_| Code::BAD_OPTION)?;
        let block = Block::new(num, more, szx).ok_or(Code::REQUEST_ENTITY_TOO_LARGE)?;
        if etag_len > 0 && (more || num > 0) {
            response.add_option(OptionNumber::ETAG, &body_etag(&body));
        }
        response.set_option(
            OptionNumber::SIZE2,
            coap_codec::encode_uint(body.len() as u64).as_bytes(),
        );
        response.payload = body.slice(offset..end);
        *response =
            std::mem::replace(response, crate::server::response(Code::CONTENT)).block2(block);
        Ok(())
    }
}

/// 2.31 Continue echoing the block (RFC 7959 §2.3).
fn continue_reply(b1: Block) -> MessageBuilder {
    crate::server::response(Code::CONTINUE).block1(b1)
}

/// An ETag for a body: a hash of its length and contents (for bodies over
/// 64 KiB, of 256-byte samples every 4 KiB, to keep each block request
/// cheap; a handler that needs exact change detection sets its own ETag).
fn body_etag(body: &[u8]) -> [u8; 8] {
    let mut h = KeyedState::new(0x6574_6167).build_hasher();
    h.write_usize(body.len());
    if body.len() <= 64 * 1024 {
        h.write(body);
    } else {
        for chunk in body.chunks(4096) {
            h.write(&chunk[..chunk.len().min(256)]);
        }
    }
    h.finish().to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_follows_body_contents() {
        assert_eq!(body_etag(b"abc"), body_etag(b"abc"));
        assert_ne!(body_etag(b"abc"), body_etag(b"abd"));
        assert_ne!(body_etag(&[0; 100]), body_etag(&[0; 101]));
    }
}
