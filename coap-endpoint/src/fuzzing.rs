//! Invariant checks shared by the `coap_endpoint` fuzz target
//! (`fuzz/fuzz_targets/coap_endpoint.rs`) and the corpus-replay test.
//! Internal: behind the `__fuzz` feature.
//!
//! The input is a script of operations on one endpoint (with a router):
//! raw datagrams from a handful of peers, well-formed messages with
//! arbitrary header fields, multicast datagrams, time steps, client
//! requests, late responses and cancellations. The function panics only if
//! the endpoint breaks a promise: every datagram it sends is well-formed
//! CoAP within `max_message_size`, its tables stay within their limits,
//! and after `handle_timeout(now)` its next deadline lies after `now`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coap_codec::{Code, ContentFormat, Message, MessageBuilder, MessageType};

use crate::server::{handler, Attributes, Outcome, Request, Router};
use crate::{Config, Endpoint, Event, IncomingId, RequestId};

struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

fn peer(b: u8) -> SocketAddr {
    ([10, 0, 0, 1 + (b & 1)], 40000 + u16::from(b % 8)).into()
}

/// Runs the script in `data` against an endpoint and checks its invariants.
///
/// # Panics
/// When an invariant breaks.
pub fn coap_endpoint(data: &[u8]) {
    let config = Config {
        max_incoming: 8,
        max_dedup_entries: 32,
        max_requests: 8,
        max_peers: 4,
        ..Config::default()
    };
    let limits = config.clone();
    let mut ep = Endpoint::new(config, 0x5eed);
    let mut router = Router::new();
    router
        .add(
            "/a",
            handler(|r| Outcome::content(ContentFormat::TEXT_PLAIN, r.payload_bytes())),
            Attributes::new().rt("x"),
        )
        .add(
            "/later",
            handler(|_| Outcome::Later),
            Attributes::new().allow_children(),
        );
    let mut later: Vec<IncomingId> = Vec::new();
    let mut requests: Vec<RequestId> = Vec::new();
    // Test support: the harness picks an arbitrary starting instant.
    #[allow(clippy::disallowed_methods)]
    let mut now = Instant::now();
    let mut s = Script(data);
    let mut steps = 0;
    while !s.0.is_empty() && steps < 256 {
        steps += 1;
        match s.byte() % 8 {
            0 | 1 => {
                let (from, len) = (peer(s.byte()), usize::from(s.byte()));
                let d = Bytes::copy_from_slice(s.take(len));
                ep.handle_datagram(now, from, d);
            }
            2 => {
                let (from, len) = (peer(s.byte()), usize::from(s.byte()));
                let d = Bytes::copy_from_slice(s.take(len));
                ep.handle_multicast_datagram(now, from, d);
            }
            3 => {
                let ms = u64::from(u16::from_be_bytes([s.byte(), s.byte()])) * 50;
                now += Duration::from_millis(ms);
                ep.handle_timeout(now);
                if let Some(t) = ep.poll_timeout() {
                    assert!(
                        t > now,
                        "deadline {t:?} not after now {now:?} after handle_timeout"
                    );
                }
            }
            4 => {
                let (from, b) = (peer(s.byte()), s.byte());
                let t = MessageType::from_bits(b);
                let code = Code(s.byte());
                let mid = u16::from_be_bytes([s.byte(), s.byte()]);
                let tkl = usize::from(s.byte() % 9);
                let token = s.take(tkl).to_vec();
                let path =
                    ["/a", "/later", "/.well-known/core", "/later/kid"][usize::from(b >> 2) % 4];
                let m = MessageBuilder::new(t, code)
                    .with_message_id(mid)
                    .with_token(&token)
                    .path(path);
                if let Ok(d) = m.to_bytes() {
                    ep.handle_datagram(now, from, d);
                }
            }
            5 => {
                let (to, b) = (peer(s.byte()), s.byte());
                let mut m = MessageBuilder::new(MessageType::Confirmable, Code(b % 8)).path("/x");
                if b & 0x80 != 0 {
                    m.message_type = MessageType::NonConfirmable;
                }
                let r = if b & 0x40 != 0 {
                    ep.ping(now, to)
                } else {
                    ep.request(now, to, m)
                };
                if let Ok(id) = r {
                    requests.push(id);
                }
            }
            6 => {
                let b = s.byte();
                if !later.is_empty() {
                    let id = later.remove(usize::from(b) % later.len());
                    let resp =
                        MessageBuilder::new(MessageType::Acknowledgement, Code(b)).payload("late");
                    let _ = ep.respond(now, id, resp);
                }
            }
            _ => {
                let b = s.byte();
                if !requests.is_empty() {
                    let id = requests.remove(usize::from(b) % requests.len());
                    ep.cancel(now, id);
                }
            }
        }
        while let Some(ev) = ep.poll_event() {
            if let Event::Request {
                id,
                from,
                request,
                multicast,
            } = ev
            {
                let req = Request {
                    id,
                    from,
                    message: &request,
                    multicast,
                    now,
                };
                match router.handle(&req) {
                    Some(resp) => {
                        let _ = ep.respond(now, id, resp);
                    }
                    None => later.push(id),
                }
            }
        }
        while let Some(t) = ep.poll_transmit() {
            assert!(
                t.payload.len() <= limits.max_message_size,
                "oversized datagram"
            );
            let m = Message::decode(t.payload.clone());
            assert!(
                m.is_ok(),
                "endpoint sent malformed CoAP {:02x?}: {m:?}",
                &t.payload[..]
            );
        }
        let u = ep.usage();
        assert!(u.incoming <= limits.max_incoming, "{u:?}");
        assert!(u.dedup <= limits.max_dedup_entries * 2, "{u:?}");
        assert!(u.requests <= limits.max_requests, "{u:?}");
        assert!(u.peers <= limits.max_peers, "{u:?}");
    }
    // Everything expires: a NON queued behind PROBING_RATE may wait up to
    // max_message_size / probing_rate seconds, then its message ID lives
    // for EXCHANGE_LIFETIME; after that the endpoint holds nothing.
    let bound = limits.exchange_lifetime()
        + limits.max_transmit_wait()
        + Duration::from_secs(limits.max_message_size as u64 * 8 / u64::from(limits.probing_rate))
        + Duration::from_secs(2);
    let end = now + bound;
    for _ in 0..100_000 {
        match ep.poll_timeout() {
            Some(t) => {
                assert!(t <= end, "state outlives its bound: {:?}", ep.usage());
                ep.handle_timeout(t);
            }
            None => break,
        }
        while ep.poll_transmit().is_some() {}
        while ep.poll_event().is_some() {}
    }
    assert!(ep.usage().is_empty(), "{:?}", ep.usage());
}

/// Runs a script of Observe and block-wise traffic against an endpoint
/// serving an observable resource, a large one, an upload sink and a
/// non-atomic (block by block) upload sink, and
/// observing and uploading as a client. Panics when the endpoint sends a
/// malformed or oversized datagram, exceeds a limit, or keeps state after
/// a final CON notification and every lifetime have run out.
///
/// # Panics
/// When an invariant breaks.
pub fn coap_endpoint_observe_block(data: &[u8]) {
    let config = Config {
        max_observers_per_peer: 2,
        max_observers_per_resource: 4,
        max_block1_per_peer: 1,
        max_block1_transfers: 2,
        max_body_size: 4096,
        max_peers: 4,
        max_requests: 4,
        ..Config::default()
    };
    let limits = config.clone();
    let mut ep = Endpoint::new(config, 0x0b5e);
    let mut router = Router::new();
    router
        .add(
            "/obs",
            handler(|_| Outcome::content(ContentFormat::TEXT_PLAIN, "v")),
            Attributes::new().observable(),
        )
        .add(
            "/big",
            handler(|_| Outcome::content(ContentFormat::OCTET_STREAM, vec![7u8; 3000])),
            Attributes::new(),
        )
        .add(
            "/up",
            handler(|r| Outcome::content(ContentFormat::TEXT_PLAIN, r.payload_bytes())),
            Attributes::new(),
        )
        .add(
            "/stream",
            // Non-atomic Block1: every block as it comes, written at its
            // offset; the first payload byte picks an error or a late
            // answer that never comes (the request and transfer expire).
            handler({
                let mut body = Vec::new();
                move |r| {
                    let (offset, more) = r.block1().map_or((0, false), |b| (b.offset(), b.more()));
                    match r.payload().first().map(|b| b % 16) {
                        Some(0) => return Outcome::status(Code::SERVICE_UNAVAILABLE),
                        Some(1) => return Outcome::Later,
                        _ => {}
                    }
                    body.truncate(offset);
                    body.extend_from_slice(r.payload());
                    assert!(body.len() <= 4096, "non-atomic body past max_body_size");
                    let code = if more { Code::CONTINUE } else { Code::CHANGED };
                    Outcome::status(code)
                }
            }),
            Attributes::new().non_atomic(),
        );
    router.attach(&mut ep);
    // Test support: the harness picks an arbitrary starting instant.
    #[allow(clippy::disallowed_methods)]
    let mut now = Instant::now();
    let mut s = Script(data);
    let mut sent_mids: Vec<(SocketAddr, u16)> = Vec::new();
    let mut steps = 0;
    while !s.0.is_empty() && steps < 256 {
        steps += 1;
        match s.byte() % 8 {
            0..=2 => {
                let (from, b) = (peer(s.byte()), s.byte());
                let code = [Code::GET, Code::PUT, Code::POST, Code::FETCH][usize::from(b & 3)];
                let path = match b >> 2 & 3 {
                    0 => "/obs",
                    1 => "/big",
                    2 => "/up",
                    // Bit 6 (the type takes bits 4 and 5): the non-atomic one.
                    _ if b & 0x40 != 0 => "/stream",
                    _ => "/none",
                };
                let mid = u16::from_be_bytes([s.byte(), s.byte()]);
                let token = [s.byte() & 3];
                let mut m = MessageBuilder::new(MessageType::from_bits(b >> 4), code)
                    .with_message_id(mid)
                    .with_token(&token)
                    .path(path);
                let opts = s.byte();
                if opts & 1 != 0 {
                    m = m.observe(u32::from(opts >> 1 & 1));
                }
                let raw = u32::from_be_bytes([0, s.byte(), s.byte(), s.byte()]);
                if let Ok(blk) = coap_codec::Block::from_value(&raw.to_be_bytes()[1..]) {
                    if opts & 4 != 0 {
                        m = m.block1(blk);
                    }
                    if opts & 8 != 0 {
                        m = m.block2(blk);
                    }
                }
                if opts & 16 != 0 {
                    m.add_option(coap_codec::OptionNumber::REQUEST_TAG, &[opts]);
                }
                let len = usize::from(s.byte()) * 4;
                m = m.payload(vec![opts; len]);
                if let Ok(d) = m.to_bytes() {
                    ep.handle_datagram(now, from, d);
                }
            }
            3 => {
                let ms = u64::from(u16::from_be_bytes([s.byte(), s.byte()])) * 50;
                now += Duration::from_millis(ms);
                ep.handle_timeout(now);
                if let Some(t) = ep.poll_timeout() {
                    assert!(t > now, "deadline {t:?} not after now {now:?}");
                }
            }
            4 => {
                let b = s.byte();
                let body = vec![b; usize::from(b) * 16];
                let code = if b == 0xff {
                    Code::NOT_FOUND
                } else {
                    Code::CONTENT
                };
                ep.notify(
                    now,
                    "/obs",
                    MessageBuilder::new(MessageType::Acknowledgement, code).payload(body),
                    b & 1 != 0,
                );
            }
            5 => {
                let b = s.byte();
                if !sent_mids.is_empty() {
                    let (to, mid) = sent_mids[usize::from(b) % sent_mids.len()];
                    let t = if b & 1 != 0 {
                        MessageType::Reset
                    } else {
                        MessageType::Acknowledgement
                    };
                    let d = crate::endpoint::encode_empty(t, mid);
                    ep.handle_datagram(now, to, d);
                }
            }
            6 => {
                let (to, b) = (peer(s.byte()), s.byte());
                let get = MessageBuilder::new(MessageType::Confirmable, Code::GET).path("/obs");
                if b & 1 != 0 {
                    let _ = ep.observe(now, to, get);
                } else {
                    let put = MessageBuilder::new(MessageType::Confirmable, Code::PUT)
                        .path("/up")
                        .payload(vec![b; usize::from(b) * 20]);
                    let _ = ep.request(now, to, put);
                }
            }
            _ => {
                // A response to whatever the client sent last, as a server
                // would send it: Observe, Block1 or Block2, arbitrary.
                let (from, b) = (peer(s.byte()), s.byte());
                let mid = u16::from_be_bytes([s.byte(), s.byte()]);
                let mut m = MessageBuilder::new(MessageType::from_bits(b), Code(s.byte()))
                    .with_message_id(mid)
                    .with_token(s.take(4));
                if b & 4 != 0 {
                    m = m.observe(u32::from(s.byte()));
                }
                let raw = [s.byte(), s.byte(), s.byte()];
                if let Ok(blk) = coap_codec::Block::from_value(&raw) {
                    m = if b & 8 != 0 {
                        m.block2(blk)
                    } else {
                        m.block1(blk)
                    };
                }
                let len = usize::from(s.byte()) * 4;
                if let Ok(d) = m.payload(vec![b; len]).to_bytes() {
                    ep.handle_datagram(now, from, d);
                }
            }
        }
        router.serve(now, &mut ep);
        while let Some(t) = ep.poll_transmit() {
            assert!(
                t.payload.len() <= limits.max_message_size,
                "oversized datagram {:?}",
                Message::decode(t.payload.clone()).map(|m| (
                    m.code(),
                    m.payload().len(),
                    m.options().block2(),
                    m.message_type()
                ))
            );
            let m = Message::decode(t.payload.clone());
            let Ok(m) = m else {
                panic!("endpoint sent malformed CoAP {:02x?}", &t.payload[..]);
            };
            if sent_mids.len() < 64 {
                sent_mids.push((t.destination, m.message_id()));
            }
        }
        let u = ep.usage();
        assert!(u.observers <= limits.max_observers_per_peer * 8, "{u:?}");
        assert!(
            u.block_transfers <= limits.max_block1_transfers * 2,
            "{u:?}"
        );
        assert!(u.requests <= limits.max_requests, "{u:?}");
    }
    // A final CON notification that nobody acknowledges removes every
    // observer; then every transfer, exchange and message ID expires.
    ep.notify(
        now,
        "/obs",
        MessageBuilder::new(MessageType::Acknowledgement, Code::CONTENT),
        true,
    );
    let bound = limits.exchange_lifetime()
        + limits.block1_lifetime
        + 3 * limits.max_transmit_wait()
        + Duration::from_secs(limits.max_message_size as u64 * 8 / u64::from(limits.probing_rate))
        + Duration::from_secs(130);
    let end = now + bound;
    for _ in 0..100_000 {
        match ep.poll_timeout() {
            Some(t) => {
                assert!(t <= end, "state outlives its bound: {:?}", ep.usage());
                ep.handle_timeout(t);
            }
            None => break,
        }
        while ep.poll_transmit().is_some() {}
        while ep.poll_event().is_some() {}
    }
    assert!(ep.usage().is_empty(), "{:?}", ep.usage());
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn replay_corpus() {
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/corpus/coap_endpoint/"
        ));
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!files.is_empty(), "{} has no seeds", dir.display());
        for f in files {
            super::coap_endpoint(&std::fs::read(&f).unwrap());
        }
    }

    #[test]
    fn replay_corpus_observe_block() {
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/corpus/coap_endpoint_observe_block/"
        ));
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!files.is_empty(), "{} has no seeds", dir.display());
        for f in files {
            super::coap_endpoint_observe_block(&std::fs::read(&f).unwrap());
        }
    }
}
