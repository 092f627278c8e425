//! Observe (RFC 7641) and block-wise transfer (RFC 7959) between two
//! endpoints in virtual time, on clean and lossy, reordering links.
#![allow(missing_docs, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coap_codec::{Code, ContentFormat, Message, MessageBuilder, MessageType};
use coap_endpoint::server::{handler, response, Attributes, Outcome, Router};
use coap_endpoint::{Config, Endpoint, Event, RequestFailure};
use testkit::sim::{LinkConfig, Sim};

mod common;
use common::Node;

const SERVER: usize = 0;
const CLIENT: usize = 1;

fn large_body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A server with an observable `/obs` (its state shared with the test),
/// a 5000-byte `/large` and an `/upload` that answers with the body's
/// length.
fn network(seed: u64, link: LinkConfig, state: Arc<Mutex<u32>>) -> Sim<Node> {
    let mut sim = Sim::new(seed, link);
    let mut router = Router::new();
    router.add(
        "/obs",
        handler(move |_| {
            let v = *state.lock().unwrap();
            Outcome::content(ContentFormat::TEXT_PLAIN, v.to_string())
        }),
        Attributes::new().observable(),
    );
    router.add(
        "/large",
        handler(|_| Outcome::content(ContentFormat::OCTET_STREAM, large_body(5000))),
        Attributes::new(),
    );
    router.add(
        "/upload",
        handler(|req| {
            Outcome::Reply(response(Code::CHANGED).payload(format!(
                "{}:{}",
                req.payload().len(),
                checksum(req.payload())
            )))
        }),
        Attributes::new(),
    );
    for (addr, seed2, router) in [
        (([10, 0, 0, 1], 5683), seed ^ 1, Some(router)),
        (([10, 0, 0, 2], 40000), seed ^ 2, None),
    ] {
        sim.add(
            addr.into(),
            Node {
                ep: Endpoint::new(Config::default(), seed2),
                router,
                events: Vec::new(),
            },
        );
    }
    sim
}

fn checksum(b: &[u8]) -> u64 {
    b.iter()
        .enumerate()
        .map(|(i, x)| (i as u64 + 1) * u64::from(*x))
        .sum()
}

fn lossy() -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(300),
        loss: 0.2,
        duplicate: 0.1,
    }
}

fn get(path: &str) -> MessageBuilder {
    MessageBuilder::new(MessageType::Confirmable, Code::GET).path(path)
}

fn notifications(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Notification { response, .. } => {
                std::str::from_utf8(response.payload()).ok()?.parse().ok()
            }
            _ => None,
        })
        .collect()
}

#[test]
fn observer_gets_every_change_in_order_on_clean_link() {
    let state = Arc::new(Mutex::new(0));
    let mut sim = network(
        1,
        LinkConfig::lossless(Duration::from_millis(5)),
        state.clone(),
    );
    let server = sim.addr(SERVER);
    let now = sim.now();
    sim.node(CLIENT)
        .ep
        .observe(now, server, get("/obs"))
        .unwrap();
    sim.run_for(Duration::from_secs(1), 10_000, |_| {});
    assert_eq!(sim.node(SERVER).ep.observers("/obs"), 1);
    for v in 1..=5u32 {
        *state.lock().unwrap() = v;
        let now = sim.now();
        let n = sim.node(SERVER).ep.notify(
            now,
            "/obs",
            response(Code::CONTENT).payload(v.to_string()),
            v % 2 == 0,
        );
        assert_eq!(n, 1);
        let until = sim.elapsed() + Duration::from_secs(1);
        sim.run_for(until, 10_000, |_| {});
    }
    assert_eq!(
        notifications(&sim.node(CLIENT).events),
        vec![0, 1, 2, 3, 4, 5]
    );
}

#[test]
fn reordered_notifications_are_delivered_fresh_only() {
    for seed in [3u64, 4, 5, 6] {
        let state = Arc::new(Mutex::new(0));
        let mut link = LinkConfig::lossless(Duration::from_millis(10));
        link.jitter = Duration::from_millis(500);
        let mut sim = network(seed, link, state.clone());
        let server = sim.addr(SERVER);
        let now = sim.now();
        sim.node(CLIENT)
            .ep
            .observe(now, server, get("/obs"))
            .unwrap();
        sim.run_for(Duration::from_secs(2), 10_000, |_| {});
        // Ten NON notifications 10 ms apart: the jitter reorders them.
        for v in 1..=10u32 {
            let now = sim.now();
            sim.node(SERVER).ep.notify(
                now,
                "/obs",
                response(Code::CONTENT).payload(v.to_string()),
                false,
            );
            let until = sim.elapsed() + Duration::from_millis(10);
            sim.run_for(until, 10_000, |_| {});
        }
        let until = sim.elapsed() + Duration::from_secs(5);
        sim.run_for(until, 100_000, |_| {});
        let got = notifications(&sim.node(CLIENT).events);
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: in order: {got:?}"
        );
        assert_eq!(
            got.last(),
            Some(&10),
            "seed {seed}: the newest arrives: {got:?}"
        );
    }
}

#[test]
fn observer_removed_when_con_notification_is_reset() {
    let state = Arc::new(Mutex::new(0));
    let mut sim = network(7, LinkConfig::lossless(Duration::from_millis(5)), state);
    let server = sim.addr(SERVER);
    let now = sim.now();
    let id = sim
        .node(CLIENT)
        .ep
        .observe(now, server, get("/obs"))
        .unwrap();
    sim.run_for(Duration::from_secs(1), 10_000, |_| {});
    // The client forgets the observation: the next notification gets RST.
    assert!(sim.node(CLIENT).ep.cancel(now, id));
    let now = sim.now();
    sim.node(SERVER)
        .ep
        .notify(now, "/obs", response(Code::CONTENT).payload("1"), true);
    sim.run_for(Duration::from_secs(3), 10_000, |_| {});
    assert_eq!(sim.node(SERVER).ep.observers("/obs"), 0);
}

#[test]
fn observer_removed_when_client_vanishes() {
    let state = Arc::new(Mutex::new(0));
    let mut sim = network(8, LinkConfig::lossless(Duration::from_millis(5)), state);
    let server = sim.addr(SERVER);
    let now = sim.now();
    sim.node(CLIENT)
        .ep
        .observe(now, server, get("/obs"))
        .unwrap();
    sim.run_for(Duration::from_secs(1), 10_000, |_| {});
    let mut dead = LinkConfig::lossless(Duration::from_millis(5));
    dead.loss = 1.0;
    sim.set_link(dead);
    let now = sim.now();
    sim.node(SERVER)
        .ep
        .notify(now, "/obs", response(Code::CONTENT).payload("1"), true);
    // MAX_TRANSMIT_WAIT is 93 s.
    sim.run_for(Duration::from_secs(120), 100_000, |_| {});
    assert_eq!(sim.node(SERVER).ep.observers("/obs"), 0);
}

#[test]
fn non_notifications_turn_con_after_24_hours() {
    let state = Arc::new(Mutex::new(0));
    let mut sim = network(9, LinkConfig::lossless(Duration::from_millis(5)), state);
    let server = sim.addr(SERVER);
    let now = sim.now();
    sim.node(CLIENT)
        .ep
        .observe(now, server, get("/obs"))
        .unwrap();
    sim.run_for(Duration::from_secs(1), 10_000, |_| {});
    let t0 = sim.now();
    let kinds: Vec<MessageType> = [Duration::from_secs(60), Duration::from_secs(24 * 3600)]
        .into_iter()
        .map(|after| {
            let ep = &mut sim.node(SERVER).ep;
            ep.notify(
                t0 + after,
                "/obs",
                response(Code::CONTENT).payload("x"),
                false,
            );
            let t = ep.poll_transmit().unwrap();
            Message::decode(t.payload).unwrap().message_type()
        })
        .collect();
    assert_eq!(
        kinds,
        [MessageType::NonConfirmable, MessageType::Confirmable]
    );
}

#[test]
fn deregistration_with_observe_1_removes_observer() {
    let state = Arc::new(Mutex::new(0));
    let mut sim = network(10, LinkConfig::lossless(Duration::from_millis(5)), state);
    let server = sim.addr(SERVER);
    let now = sim.now();
    let id = sim
        .node(CLIENT)
        .ep
        .observe(now, server, get("/obs"))
        .unwrap();
    sim.run_for(Duration::from_secs(1), 10_000, |_| {});
    assert_eq!(sim.node(SERVER).ep.observers("/obs"), 1);
    let now = sim.now();
    assert!(sim.node(CLIENT).ep.cancel_observe(now, id));
    sim.run_for(Duration::from_secs(2), 10_000, |_| {});
    assert_eq!(sim.node(SERVER).ep.observers("/obs"), 0);
    let last = sim.node(CLIENT).events.last().cloned();
    assert!(
        matches!(&last, Some(Event::Response { response, .. }) if response.options().observe().is_none()),
        "{last:?}"
    );
}

#[test]
fn observation_lapsing_max_age_registers_again() {
    let state = Arc::new(Mutex::new(0));
    let mut sim = network(11, LinkConfig::lossless(Duration::from_millis(5)), state);
    let server = sim.addr(SERVER);
    let now = sim.now();
    sim.node(CLIENT)
        .ep
        .observe(now, server, get("/obs"))
        .unwrap();
    sim.run_for(Duration::from_secs(1), 10_000, |_| {});
    // The server forgets the observer; the client re-registers after
    // Max-Age (60 s by default) plus a margin.
    let client = sim.addr(CLIENT);
    let token = {
        let ev = &sim.node(CLIENT).events[0];
        let Event::Notification { response, .. } = ev else {
            panic!("{ev:?}")
        };
        response.token()
    };
    assert!(sim.node(SERVER).ep.remove_observer(client, token));
    sim.run_for(Duration::from_secs(70), 100_000, |_| {});
    assert_eq!(sim.node(SERVER).ep.observers("/obs"), 1);
    assert_eq!(notifications(&sim.node(CLIENT).events).len(), 2);
}

fn run_until_settled(sim: &mut Sim<Node>) -> Event {
    sim.run_for(Duration::from_secs(3600), 1_000_000, |_| {});
    let seed = sim.seed();
    let events = &sim.node(CLIENT).events;
    assert_eq!(events.len(), 1, "seed {seed}: {events:?}");
    events[0].clone()
}

#[test]
fn block2_body_is_reassembled_under_loss() {
    let mut ok = 0;
    for seed in [1u64, 2, 3, 4] {
        let mut sim = network(seed, lossy(), Arc::default());
        let server = sim.addr(SERVER);
        let now = sim.now();
        sim.node(CLIENT)
            .ep
            .request(now, server, get("/large"))
            .unwrap();
        match run_until_settled(&mut sim) {
            Event::Response { response, .. } => {
                assert_eq!(response.payload(), &large_body(5000)[..], "seed {seed}");
                assert!(response.options().block2().is_none());
                ok += 1;
            }
            Event::RequestFailed {
                error: RequestFailure::Timeout,
                ..
            } => {}
            other => panic!("seed {seed}: {other:?}"),
        }
    }
    assert!(ok >= 3, "{ok} of 4 transfers completed");
}

#[test]
fn block2_early_negotiation_uses_smaller_blocks() {
    let mut sim = network(
        5,
        LinkConfig::lossless(Duration::from_millis(5)),
        Arc::default(),
    );
    let server = sim.addr(SERVER);
    let now = sim.now();
    let req = get("/large").block2(coap_codec::Block::new(0, false, 2).unwrap());
    sim.node(CLIENT).ep.request(now, server, req).unwrap();
    let Event::Response { response, .. } = run_until_settled(&mut sim) else {
        panic!()
    };
    assert_eq!(response.payload(), &large_body(5000)[..]);
    // 5000 bytes in 64-byte blocks: 79 requests.
    let requests = sim
        .log()
        .iter()
        .filter(|r| r.from == sim.addr(CLIENT))
        .count();
    assert_eq!(requests, 79);
}

#[test]
fn block1_upload_is_reassembled_under_loss() {
    let mut ok = 0;
    for seed in [1u64, 2, 3] {
        let mut sim = network(seed, lossy(), Arc::default());
        let server = sim.addr(SERVER);
        let now = sim.now();
        let body = large_body(20_000);
        let req = MessageBuilder::new(MessageType::Confirmable, Code::PUT)
            .path("/upload")
            .payload(body.clone());
        sim.node(CLIENT).ep.request(now, server, req).unwrap();
        match run_until_settled(&mut sim) {
            Event::Response { response, .. } => {
                assert_eq!(response.code(), Code::CHANGED, "seed {seed}");
                let want = format!("20000:{}", checksum(&body));
                assert_eq!(response.payload(), want.as_bytes(), "seed {seed}");
                assert_eq!(response.options().block1().map(|b| b.more()), Some(false));
                assert_eq!(
                    sim.node(SERVER).ep.usage().block_transfers,
                    0,
                    "seed {seed}"
                );
                ok += 1;
            }
            Event::RequestFailed {
                error: RequestFailure::Timeout,
                ..
            } => {}
            other => panic!("seed {seed}: {other:?}"),
        }
    }
    assert!(ok >= 2, "{ok} of 3 uploads completed");
}

#[test]
fn large_post_with_large_response_combines_block1_and_block2() {
    let mut ok = 0;
    for seed in [1u64, 2] {
        let mut sim = network(seed, lossy(), Arc::default());
        let calls = Arc::new(Mutex::new(0u32));
        let c2 = calls.clone();
        sim.node(SERVER).router.as_mut().unwrap().add(
            "/echo-large",
            handler(move |req| {
                *c2.lock().unwrap() += 1;
                Outcome::Reply(response(Code::CHANGED).payload(req.payload_bytes()))
            }),
            Attributes::new(),
        );
        let server = sim.addr(SERVER);
        let now = sim.now();
        let body = large_body(6000);
        let req = MessageBuilder::new(MessageType::Confirmable, Code::POST)
            .path("/echo-large")
            .payload(body.clone());
        sim.node(CLIENT).ep.request(now, server, req).unwrap();
        match run_until_settled(&mut sim) {
            Event::Response { response, .. } => {
                assert_eq!(response.code(), Code::CHANGED, "seed {seed}");
                assert_eq!(response.payload(), &body[..], "seed {seed}");
                // The application saw the POST once; follow-ups came from
                // the kept response.
                assert_eq!(*calls.lock().unwrap(), 1, "seed {seed}");
                ok += 1;
            }
            Event::RequestFailed {
                error: RequestFailure::Timeout,
                ..
            } => {}
            other => panic!("seed {seed}: {other:?}"),
        }
    }
    assert!(ok >= 1, "no transfer completed");
}

#[test]
fn block1_too_large_gets_4_13_with_size1() {
    let mut sim = network(
        2,
        LinkConfig::lossless(Duration::from_millis(5)),
        Arc::default(),
    );
    let server = sim.addr(SERVER);
    let mut config = Config::default();
    config.max_body_size = 4096;
    sim.node(SERVER).ep = Endpoint::new(config, 99);
    let now = sim.now();
    let req = MessageBuilder::new(MessageType::Confirmable, Code::PUT)
        .path("/upload")
        .payload(large_body(10_000));
    sim.node(CLIENT).ep.request(now, server, req).unwrap();
    let Event::Response { response, .. } = run_until_settled(&mut sim) else {
        panic!()
    };
    assert_eq!(response.code(), Code::REQUEST_ENTITY_TOO_LARGE);
    assert_eq!(response.options().size1(), Some(4096));
}

#[test]
fn block1_out_of_order_gets_4_08() {
    let t0 = Instant::now();
    let mut ep = Endpoint::new(Config::default(), 1);
    let peer: SocketAddr = ([127, 0, 0, 1], 9).into();
    let put = MessageBuilder::new(MessageType::Confirmable, Code::PUT)
        .path("/upload")
        .with_message_id(1)
        .block1(coap_codec::Block::new(3, true, 2).unwrap())
        .payload(vec![0u8; 64]);
    ep.handle_datagram(t0, peer, put.to_bytes().unwrap());
    let m = Message::decode(ep.poll_transmit().unwrap().payload).unwrap();
    assert_eq!(m.code(), Code::REQUEST_ENTITY_INCOMPLETE);
    assert!(ep.poll_event().is_none());
}

#[test]
fn etag_change_during_block2_fails_the_transfer() {
    let state = Arc::new(Mutex::new(0u32));
    let mut sim = network(
        3,
        LinkConfig::lossless(Duration::from_millis(5)),
        Arc::default(),
    );
    let s2 = state.clone();
    sim.node(SERVER).router.as_mut().unwrap().add(
        "/changing",
        handler(move |_| {
            let mut v = s2.lock().unwrap();
            *v += 1;
            Outcome::content(ContentFormat::OCTET_STREAM, vec![*v as u8; 3000])
        }),
        Attributes::new(),
    );
    let server = sim.addr(SERVER);
    let now = sim.now();
    sim.node(CLIENT)
        .ep
        .request(now, server, get("/changing"))
        .unwrap();
    let ev = run_until_settled(&mut sim);
    assert!(
        matches!(
            ev,
            Event::RequestFailed {
                error: RequestFailure::EtagChanged,
                ..
            }
        ),
        "{ev:?}"
    );
}

#[test]
fn large_notifications_are_fetched_block_wise() {
    let mut sim = network(
        12,
        LinkConfig::lossless(Duration::from_millis(5)),
        Arc::default(),
    );
    let body = |n: u8| vec![n; 3000];
    let version = Arc::new(Mutex::new(0u8));
    let v2 = version.clone();
    sim.node(SERVER).router.as_mut().unwrap().add(
        "/obs-large",
        handler(move |_| {
            Outcome::content(ContentFormat::OCTET_STREAM, vec![*v2.lock().unwrap(); 3000])
        }),
        Attributes::new().observable(),
    );
    let server = sim.addr(SERVER);
    let now = sim.now();
    sim.node(CLIENT)
        .ep
        .observe(now, server, get("/obs-large"))
        .unwrap();
    sim.run_for(Duration::from_secs(2), 10_000, |_| {});
    *version.lock().unwrap() = 1;
    let now = sim.now();
    let sent = sim.node(SERVER).ep.notify(
        now,
        "/obs-large",
        response(Code::CONTENT).payload(body(1)),
        false,
    );
    assert_eq!(sent, 1);
    sim.run_for(Duration::from_secs(4), 10_000, |_| {});
    let got: Vec<Vec<u8>> = sim
        .node(CLIENT)
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Notification { response, .. } => Some(response.payload().to_vec()),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![body(0), body(1)]);
    // The follow-up block requests did not register again.
    assert_eq!(sim.node(SERVER).ep.observers("/obs-large"), 1);
}
