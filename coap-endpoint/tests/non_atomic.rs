//! Non-atomic Block1 handling (RFC 7959 §2.5): the handler sees each block
//! once and in order, copies are answered without it, a block that does not
//! follow gets 4.08, the handler's errors end the transfer, the limits
//! apply; driven by hand and in virtual time with loss, duplication and
//! reordering.
#![allow(missing_docs, clippy::disallowed_methods)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use coap_codec::{Block, Code, Message, MessageBuilder, MessageType, OptionNumber};
use coap_endpoint::server::{handler, response, Attributes, Outcome, Router};
use coap_endpoint::{Config, Endpoint, Event, IncomingId, RequestFailure};
use testkit::sim::{LinkConfig, Machine, Sim};

/// What the streaming resource saw and stored, per Request-Tag.
#[derive(Debug, Default)]
struct Store {
    /// Stored bodies by Request-Tag (empty tag: none).
    bodies: HashMap<Vec<u8>, Vec<u8>>,
    /// Every call: (tag, offset, length, more).
    calls: Vec<(Vec<u8>, usize, usize, bool)>,
    /// Answer blocks at or past this offset with 4.13.
    refuse_from: Option<usize>,
    /// Answer the block at this offset later (the id is kept here).
    later_at: Option<usize>,
    later: Option<IncomingId>,
}

type Shared = Arc<Mutex<Store>>;

/// `/stream`: writes each block at its offset into the body of its
/// Request-Tag; 2.31 for intermediate blocks, 2.04 with the length at the
/// end. GET reads the untagged body.
fn stream_router(store: Shared) -> Router {
    let mut router = Router::new();
    router.add(
        "/stream",
        handler(move |req| {
            let mut st = store.lock().unwrap();
            let tag = req
                .options()
                .get(OptionNumber::REQUEST_TAG)
                .unwrap_or_default()
                .to_vec();
            if req.method() == Code::GET {
                let body = st.bodies.get(&tag).cloned().unwrap_or_default();
                return Outcome::Reply(response(Code::CONTENT).payload(body));
            }
            let (offset, more) = req.block1().map_or((0, false), |b| (b.offset(), b.more()));
            st.calls
                .push((tag.clone(), offset, req.payload().len(), more));
            if st.refuse_from.is_some_and(|r| offset >= r) {
                return Outcome::Reply(
                    response(Code::REQUEST_ENTITY_TOO_LARGE).uint_option(OptionNumber::SIZE1, 64),
                );
            }
            if st.later_at == Some(offset) {
                st.later = Some(req.id);
                return Outcome::Later;
            }
            let body = st.bodies.entry(tag).or_default();
            body.truncate(offset);
            body.extend_from_slice(req.payload());
            let len = body.len();
            if more {
                Outcome::status(Code::CONTINUE)
            } else {
                Outcome::Reply(response(Code::CHANGED).payload(len.to_string()))
            }
        }),
        Attributes::new().non_atomic(),
    );
    router
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 253) as u8).collect()
}

const PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40000);

/// A server endpoint and its router, driven by hand.
struct Server {
    ep: Endpoint,
    router: Router,
    now: Instant,
    store: Shared,
}

impl Server {
    fn new(config: Config) -> Self {
        let store = Shared::default();
        let mut router = stream_router(store.clone());
        let mut ep = Endpoint::new(config, 7);
        router.attach(&mut ep);
        Self {
            ep,
            router,
            now: Instant::now(),
            store,
        }
    }

    /// Delivers `msg` from `PEER`, serves, returns what the server sent.
    fn send(&mut self, msg: MessageBuilder) -> Vec<Message<Bytes>> {
        self.ep
            .handle_datagram(self.now, PEER.into(), msg.to_bytes().unwrap());
        self.router.serve(self.now, &mut self.ep);
        std::iter::from_fn(|| self.ep.poll_transmit())
            .map(|t| Message::decode(t.payload).unwrap())
            .collect()
    }

    /// Sends one block and expects exactly one answer.
    fn one(&mut self, msg: MessageBuilder) -> Message<Bytes> {
        let mut out = self.send(msg);
        assert_eq!(out.len(), 1, "{out:?}");
        out.remove(0)
    }

    fn offsets(&self) -> Vec<usize> {
        self.store
            .lock()
            .unwrap()
            .calls
            .iter()
            .map(|c| c.1)
            .collect()
    }
}

/// Block `num` (64-byte blocks) of `data` as a CON PUT with message ID `mid`.
fn block(mid: u16, num: u32, data: &[u8], tag: Option<&[u8]>) -> MessageBuilder {
    let start = num as usize * 64;
    let end = (start + 64).min(data.len());
    let more = end < data.len();
    let mut m = MessageBuilder::new(MessageType::Confirmable, Code::PUT)
        .with_message_id(mid)
        .with_token(&mid.to_be_bytes())
        .path("/stream");
    if let Some(t) = tag {
        m.add_option(OptionNumber::REQUEST_TAG, t);
    }
    m.block1(Block::new(num, more, 2).unwrap())
        .payload(data[start..end].to_vec())
}

fn block1_of(m: &Message<Bytes>) -> Option<(u32, bool)> {
    m.options().block1().map(|b| (b.num(), b.more()))
}

#[test]
fn non_atomic_blocks_reach_the_handler_once_and_in_order() {
    let mut s = Server::new(Config::default());
    let data = body(150);
    for (mid, num) in [(1, 0), (2, 1)] {
        let r = s.one(block(mid, num, &data, None));
        assert_eq!(r.code(), Code::CONTINUE);
        assert_eq!(block1_of(&r), Some((num, true)));
        assert_eq!(r.message_id(), mid);
    }
    let r = s.one(block(3, 2, &data, None));
    assert_eq!(r.code(), Code::CHANGED);
    assert_eq!(r.payload(), b"150");
    assert_eq!(block1_of(&r), Some((2, false)));
    assert_eq!(s.offsets(), [0, 64, 128]);
    assert_eq!(s.store.lock().unwrap().bodies[&Vec::new()], data);
}

#[test]
fn non_atomic_copies_with_new_message_ids_are_not_applied_twice() {
    let mut s = Server::new(Config::default());
    let data = body(150);
    s.one(block(1, 0, &data, None));
    s.one(block(2, 1, &data, None));
    // Block 1 again in a new exchange (its 2.31 was lost, say): 2.31
    // again, the handler not called.
    let r = s.one(block(10, 1, &data, None));
    assert_eq!((r.code(), block1_of(&r)), (Code::CONTINUE, Some((1, true))));
    assert_eq!(r.token().as_ref(), &10u16.to_be_bytes());
    // The same datagram again (same message ID): the cached answer.
    let r = s.one(block(10, 1, &data, None));
    assert_eq!(r.code(), Code::CONTINUE);
    // Block 0 again during the transfer is a copy too.
    let r = s.one(block(12, 0, &data, None));
    assert_eq!((r.code(), block1_of(&r)), (Code::CONTINUE, Some((0, true))));
    let r = s.one(block(3, 2, &data, None));
    assert_eq!(r.code(), Code::CHANGED);
    // The last block in a new exchange: the same final answer, no call.
    let r = s.one(block(11, 2, &data, None));
    assert_eq!((r.code(), r.payload()), (Code::CHANGED, &b"150"[..]));
    assert_eq!(block1_of(&r), Some((2, false)));
    assert_eq!(s.offsets(), [0, 64, 128]);
    assert_eq!(s.store.lock().unwrap().bodies[&Vec::new()], data);
    // A new transfer (block 0) starts over.
    let data2 = body(100);
    s.one(block(20, 0, &data2, None));
    let r = s.one(block(21, 1, &data2, None));
    assert_eq!((r.code(), r.payload()), (Code::CHANGED, &b"100"[..]));
    assert_eq!(s.offsets(), [0, 64, 128, 0, 64]);
    assert_eq!(s.store.lock().unwrap().bodies[&Vec::new()], data2);
}

#[test]
fn non_atomic_out_of_order_block_gets_4_08() {
    let mut s = Server::new(Config::default());
    let data = body(300);
    s.one(block(1, 0, &data, None));
    // Block 2 before block 1 (reordered): 4.08, the transfer is dropped.
    let r = s.one(block(2, 2, &data, None));
    assert_eq!(r.code(), Code::REQUEST_ENTITY_INCOMPLETE);
    let r = s.one(block(3, 1, &data, None));
    assert_eq!(r.code(), Code::REQUEST_ENTITY_INCOMPLETE);
    // A block other than 0 without a transfer is 4.08 too.
    let r = s.one(block(4, 3, &data, None));
    assert_eq!(r.code(), Code::REQUEST_ENTITY_INCOMPLETE);
    assert_eq!(s.offsets(), [0]);
    assert_eq!(s.ep.usage().block_transfers, 0);
}

#[test]
fn non_atomic_handler_error_ends_the_transfer() {
    let mut s = Server::new(Config::default());
    s.store.lock().unwrap().refuse_from = Some(64);
    let data = body(300);
    assert_eq!(s.one(block(1, 0, &data, None)).code(), Code::CONTINUE);
    let r = s.one(block(2, 1, &data, None));
    assert_eq!(r.code(), Code::REQUEST_ENTITY_TOO_LARGE);
    assert_eq!(r.options().size1(), Some(64));
    let r = s.one(block(3, 2, &data, None));
    assert_eq!(r.code(), Code::REQUEST_ENTITY_INCOMPLETE);
    assert_eq!(s.offsets(), [0, 64]);
    assert_eq!(s.ep.usage().block_transfers, 0);
}

#[test]
fn non_atomic_later_answer_and_a_copy_while_in_flight() {
    let mut s = Server::new(Config::default());
    s.store.lock().unwrap().later_at = Some(64);
    let data = body(150);
    s.one(block(1, 0, &data, None));
    // The handler answers block 1 later: nothing goes out yet.
    assert!(s.send(block(2, 1, &data, None)).is_empty());
    // A copy of block 1 in a new exchange while the handler has it: dropped.
    assert!(s.send(block(3, 1, &data, None)).is_empty());
    assert_eq!(s.offsets(), [0, 64]);
    let id = s.store.lock().unwrap().later.take().unwrap();
    {
        let mut st = s.store.lock().unwrap();
        let b = st.bodies.entry(Vec::new()).or_default();
        b.extend_from_slice(&data[64..128]);
    }
    // Any success to an intermediate block goes out as 2.31 Continue.
    s.ep.respond(s.now, id, response(Code::CHANGED)).unwrap();
    let r = Message::decode(s.ep.poll_transmit().unwrap().payload).unwrap();
    assert_eq!((r.code(), block1_of(&r)), (Code::CONTINUE, Some((1, true))));
    // Block 1 again (the copy's retransmission): 2.31 without the handler.
    let r = s.one(block(3, 1, &data, None));
    assert_eq!(r.code(), Code::CONTINUE);
    let r = s.one(block(4, 2, &data, None));
    assert_eq!((r.code(), r.payload()), (Code::CHANGED, &b"150"[..]));
    assert_eq!(s.offsets(), [0, 64, 128]);
    assert_eq!(s.store.lock().unwrap().bodies[&Vec::new()], data);
}

#[test]
fn non_atomic_limits_apply() {
    let mut config = Config::default();
    config.max_body_size = 200;
    config.max_block1_per_peer = 1;
    config.block1_lifetime = Duration::from_secs(10);
    let mut s = Server::new(config);
    // Size1 announces too much: 4.13 with the limit, no call.
    let r = s.one(block(1, 0, &body(300), None).uint_option(OptionNumber::SIZE1, 300));
    assert_eq!(r.code(), Code::REQUEST_ENTITY_TOO_LARGE);
    assert_eq!(r.options().size1(), Some(200));
    // No Size1, but the blocks go past the limit: 4.13 at the block that does.
    let data = body(300);
    for (mid, num) in [(2, 0), (3, 1), (4, 2)] {
        assert_eq!(s.one(block(mid, num, &data, None)).code(), Code::CONTINUE);
    }
    let r = s.one(block(5, 3, &data, None));
    assert_eq!(r.code(), Code::REQUEST_ENTITY_TOO_LARGE);
    assert_eq!(s.offsets(), [0, 64, 128]);
    // One transfer per peer: a second (other Request-Tag) gets 5.03.
    s.one(block(6, 0, &data, Some(b"a")));
    let r = s.one(block(7, 0, &data, Some(b"b")));
    assert_eq!(r.code(), Code::SERVICE_UNAVAILABLE);
    // A transfer idle for longer than block1_lifetime is gone: 4.08.
    s.now += Duration::from_secs(11);
    s.ep.handle_timeout(s.now);
    let r = s.one(block(8, 1, &data, Some(b"a")));
    assert_eq!(r.code(), Code::REQUEST_ENTITY_INCOMPLETE);
    assert_eq!(s.ep.usage().block_transfers, 0);
    // Now the second one fits.
    assert_eq!(s.one(block(9, 0, &data, Some(b"b"))).code(), Code::CONTINUE);
}

#[test]
fn non_atomic_request_tags_separate_concurrent_transfers() {
    let mut s = Server::new(Config::default());
    let (a, b) = (
        body(200),
        body(130).iter().map(|x| x ^ 0xff).collect::<Vec<u8>>(),
    );
    let mut mid = 0;
    let mut next = || {
        mid += 1;
        mid
    };
    // Interleaved: a0 b0 a1 b1 a2 b2 a3.
    for num in 0..4u32 {
        for (tag, data) in [(&b"A"[..], &a), (&b"B"[..], &b)] {
            if num as usize * 64 >= data.len() {
                continue;
            }
            let r = s.one(block(next(), num, data, Some(tag)));
            let last = (num as usize + 1) * 64 >= data.len();
            let want = if last { Code::CHANGED } else { Code::CONTINUE };
            assert_eq!(r.code(), want, "tag {tag:?} block {num}");
        }
    }
    let st = s.store.lock().unwrap();
    assert_eq!(st.bodies[&b"A".to_vec()], a);
    assert_eq!(st.bodies[&b"B".to_vec()], b);
    assert_eq!(st.calls.len(), 4 + 3);
}

#[test]
fn atomic_resources_still_see_the_whole_body_without_block1() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let mut s = Server::new(Config::default());
    s.router.add(
        "/whole",
        handler(move |req| {
            s2.lock()
                .unwrap()
                .push((req.payload().len(), req.block1().is_some()));
            Outcome::status(Code::CHANGED)
        }),
        Attributes::new(),
    );
    let data = body(150);
    for (mid, num) in [(1u16, 0u32), (2, 1), (3, 2)] {
        let mut m = block(mid, num, &data, None);
        m.remove_option(OptionNumber::URI_PATH);
        s.one(m.path("/whole"));
    }
    assert_eq!(*seen.lock().unwrap(), [(150, false)]);
    assert!(s.offsets().is_empty());
}

#[test]
fn router_tells_the_endpoint_about_non_atomic_resources() {
    let mut s = Server::new(Config::default());
    assert_eq!(s.ep.non_atomic_paths().collect::<Vec<_>>(), ["/stream"]);
    s.router.add(
        "/a/b",
        handler(|_| Outcome::status(Code::CHANGED)),
        Attributes::new().non_atomic(),
    );
    // serve() passes the change on before it handles anything.
    s.router.serve(s.now, &mut s.ep);
    assert_eq!(
        s.ep.non_atomic_paths().collect::<Vec<_>>(),
        ["/a/b", "/stream"]
    );
    s.router.remove("/stream");
    s.router.serve(s.now, &mut s.ep);
    assert_eq!(s.ep.non_atomic_paths().collect::<Vec<_>>(), ["/a/b"]);
    s.ep.set_non_atomic("x/y/", true);
    assert!(s.ep.non_atomic_paths().any(|p| p == "/x/y"));
}

// ---- In virtual time -------------------------------------------------

/// A client that sends Block1 blocks one at a time without the endpoint's
/// retransmission: on a timeout, and at random right after sending, it
/// sends the current block again in a new exchange (new message ID and
/// token), as a client that gave up on an exchange would.
struct Resender {
    server: SocketAddr,
    data: Vec<u8>,
    num: u32,
    mid: u16,
    rng: u64,
    deadline: Option<Instant>,
    out: Vec<Bytes>,
    tries: u32,
    result: Option<Message<Bytes>>,
}

impl Resender {
    fn next_rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn send(&mut self, now: Instant) {
        self.tries += 1;
        if self.tries > 200 {
            self.deadline = None;
            return;
        }
        let copies = if self.next_rand() % 3 == 0 { 2 } else { 1 };
        for _ in 0..copies {
            self.mid = self.mid.wrapping_add(1);
            let m = block(self.mid, self.num, &self.data, None);
            self.out.push(m.to_bytes().unwrap());
        }
        self.deadline = Some(now + Duration::from_secs(2));
    }
}

enum Node {
    Server { ep: Endpoint, router: Router },
    Client { ep: Endpoint, events: Vec<Event> },
    Resender(Box<Resender>),
}

impl Machine for Node {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, d: Bytes) {
        match self {
            Self::Server { ep, router } => {
                ep.handle_datagram(now, from, d);
                router.serve(now, ep);
            }
            Self::Client { ep, events } => {
                ep.handle_datagram(now, from, d);
                events.extend(std::iter::from_fn(|| ep.poll_event()));
            }
            Self::Resender(r) => {
                let Ok(m) = Message::decode(d) else { return };
                if r.result.is_some() {
                    return;
                }
                match (m.code(), m.options().block1()) {
                    (Code::CONTINUE, Some(b)) if b.num() == r.num => {
                        r.num += 1;
                        r.send(now);
                    }
                    (Code::CONTINUE, _) => {} // a late answer to a copy
                    _ => {
                        r.result = Some(m);
                        r.deadline = None;
                    }
                }
            }
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Self::Server { ep, router } => {
                ep.handle_timeout(now);
                router.serve(now, ep);
            }
            Self::Client { ep, events } => {
                ep.handle_timeout(now);
                events.extend(std::iter::from_fn(|| ep.poll_event()));
            }
            Self::Resender(r) => {
                if r.deadline.is_some_and(|d| d <= now) {
                    r.send(now);
                }
            }
        }
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
        match self {
            Self::Server { ep, .. } | Self::Client { ep, .. } => {
                ep.poll_transmit().map(|t| (t.destination, t.payload))
            }
            Self::Resender(r) => r.out.pop().map(|b| (r.server, b)),
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Self::Server { ep, .. } | Self::Client { ep, .. } => ep.poll_timeout(),
            Self::Resender(r) => r.deadline,
        }
    }
}

fn lossy() -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(300),
        loss: 0.15,
        duplicate: 0.2,
    }
}

fn sim_with_server(seed: u64, store: Shared) -> Sim<Node> {
    let mut sim = Sim::new(seed, lossy());
    let mut router = stream_router(store);
    let mut ep = Endpoint::new(Config::default(), seed ^ 1);
    router.attach(&mut ep);
    sim.add(([10, 0, 0, 1], 5683).into(), Node::Server { ep, router });
    sim
}

/// Every block was handed to the handler exactly once, in order.
fn assert_each_block_once(store: &Shared, len: usize, block: usize, seed: u64) {
    let st = store.lock().unwrap();
    let offsets: Vec<usize> = st.calls.iter().map(|c| c.1).collect();
    let want: Vec<usize> = (0..len.div_ceil(block)).map(|i| i * block).collect();
    assert_eq!(offsets, want, "seed {seed}");
}

#[test]
fn non_atomic_upload_under_loss_duplication_and_reordering() {
    let mut ok = 0;
    for seed in 1u64..=4 {
        let store = Shared::default();
        let mut sim = sim_with_server(seed, store.clone());
        let mut config = Config::default();
        config.block_szx = 2; // 64-byte blocks: many of them
        sim.add(
            ([10, 0, 0, 2], 40000).into(),
            Node::Client {
                ep: Endpoint::new(config, seed ^ 2),
                events: Vec::new(),
            },
        );
        let (server, now) = (sim.addr(0), sim.now());
        let data = body(5000);
        let Node::Client { ep, .. } = sim.node(1) else {
            unreachable!()
        };
        let req = MessageBuilder::new(MessageType::Confirmable, Code::PUT)
            .path("/stream")
            .payload(data.clone());
        ep.request(now, server, req).unwrap();
        sim.run_for(Duration::from_secs(3600), 1_000_000, |_| {});
        let Node::Client { events, .. } = sim.node(1) else {
            unreachable!()
        };
        assert_eq!(events.len(), 1, "seed {seed}: {events:?}");
        match &events[0] {
            Event::Response { response, .. } => {
                assert_eq!(response.code(), Code::CHANGED, "seed {seed}");
                assert_eq!(response.payload(), b"5000", "seed {seed}");
                assert_each_block_once(&store, 5000, 64, seed);
                assert_eq!(store.lock().unwrap().bodies[&Vec::new()], data);
                ok += 1;
            }
            Event::RequestFailed {
                error: RequestFailure::Timeout,
                ..
            } => {
                // Gave up: still, no block was applied twice or skipped.
                let st = store.lock().unwrap();
                let offsets: Vec<usize> = st.calls.iter().map(|c| c.1).collect();
                let want: Vec<usize> = (0..offsets.len()).map(|i| i * 64).collect();
                assert_eq!(offsets, want, "seed {seed}");
            }
            other => panic!("seed {seed}: {other:?}"),
        }
    }
    assert!(ok >= 3, "{ok} of 4 uploads completed");
}

#[test]
fn non_atomic_upload_from_a_client_resending_in_new_exchanges() {
    for seed in 1u64..=4 {
        let store = Shared::default();
        let mut sim = sim_with_server(seed, store.clone());
        let data = body(3000);
        let server = sim.addr(0);
        let mut r = Resender {
            server,
            data: data.clone(),
            num: 0,
            mid: 0,
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            deadline: None,
            out: Vec::new(),
            tries: 0,
            result: None,
        };
        r.send(sim.now());
        sim.add(([10, 0, 0, 3], 40001).into(), Node::Resender(Box::new(r)));
        sim.run_for(Duration::from_secs(3600), 1_000_000, |_| {});
        let Node::Resender(r) = sim.node(1) else {
            unreachable!()
        };
        // Copies in new exchanges were sent: more messages than blocks.
        assert!(usize::from(r.mid) > data.len().div_ceil(64), "seed {seed}");
        let result = r.result.as_ref().expect("the upload ended");
        assert_eq!(result.code(), Code::CHANGED, "seed {seed}");
        assert_eq!(result.payload(), b"3000", "seed {seed}");
        assert_each_block_once(&store, 3000, 64, seed);
        assert_eq!(store.lock().unwrap().bodies[&Vec::new()], data);
    }
}

#[test]
fn non_atomic_last_block_with_a_large_response_goes_out_in_block2() {
    for seed in [1u64, 2] {
        let store = Shared::default();
        let mut sim = sim_with_server(seed, store.clone());
        sim.set_link(LinkConfig::lossless(Duration::from_millis(5)));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let c2 = calls.clone();
        let Node::Server { ep, router } = sim.node(0) else {
            unreachable!()
        };
        // Echoes the whole body, kept block by block, after the last block.
        let mut kept = Vec::new();
        router.add(
            "/echo",
            handler(move |req| {
                let b = req.block1();
                c2.lock().unwrap().push(b.map_or(0, |b| b.offset()));
                kept.truncate(b.map_or(0, |b| b.offset()));
                kept.extend_from_slice(req.payload());
                if b.is_some_and(|b| b.more()) {
                    Outcome::status(Code::CONTINUE)
                } else {
                    Outcome::Reply(response(Code::CHANGED).payload(kept.clone()))
                }
            }),
            Attributes::new().non_atomic(),
        );
        router.attach(ep);
        let mut config = Config::default();
        config.block_szx = 4; // 256-byte blocks
        sim.add(
            ([10, 0, 0, 2], 40000).into(),
            Node::Client {
                ep: Endpoint::new(config, seed ^ 2),
                events: Vec::new(),
            },
        );
        let (server, now) = (sim.addr(0), sim.now());
        let data = body(3000);
        let Node::Client { ep, .. } = sim.node(1) else {
            unreachable!()
        };
        let req = MessageBuilder::new(MessageType::Confirmable, Code::POST)
            .path("/echo")
            .payload(data.clone());
        ep.request(now, server, req).unwrap();
        sim.run_for(Duration::from_secs(600), 100_000, |_| {});
        let Node::Client { events, .. } = sim.node(1) else {
            unreachable!()
        };
        let [Event::Response { response, .. }] = &events[..] else {
            panic!("seed {seed}: {events:?}")
        };
        assert_eq!(response.code(), Code::CHANGED, "seed {seed}");
        assert_eq!(response.payload(), &data[..], "seed {seed}");
        // Each block once; the Block2 follow-ups came from the kept response.
        let want: Vec<usize> = (0..3000usize.div_ceil(256)).map(|i| i * 256).collect();
        assert_eq!(*calls.lock().unwrap(), want, "seed {seed}");
    }
}
