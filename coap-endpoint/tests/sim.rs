//! Deterministic simulation: client and server endpoints in virtual time
//! over a network that loses, duplicates and reorders datagrams.
#![allow(missing_docs, clippy::disallowed_methods)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use coap_codec::{Code, ContentFormat, Message, MessageBuilder, MessageType};
use coap_endpoint::server::{handler, Attributes, Outcome, Router};
use coap_endpoint::{Config, Endpoint, Event, RequestFailure, RequestId};
use testkit::sim::{Fate, LinkConfig, Sim};

mod common;
use common::Node;

const SERVER: usize = 0;
const CLIENT: usize = 1;

/// A server whose /echo counts the requests its application saw.
fn network(seed: u64, link: LinkConfig) -> Sim<Node> {
    let mut sim = Sim::new(seed, link);
    let mut router = Router::new();
    router.add(
        "/echo",
        handler(|req| Outcome::content(ContentFormat::TEXT_PLAIN, req.payload_bytes())),
        Attributes::new(),
    );
    sim.add(
        ([10, 0, 0, 1], 5683).into(),
        Node {
            ep: Endpoint::new(Config::default(), seed ^ 1),
            router: Some(router),
            events: Vec::new(),
        },
    );
    sim.add(
        ([10, 0, 0, 2], 40000).into(),
        Node {
            ep: Endpoint::new(Config::default(), seed ^ 2),
            router: None,
            events: Vec::new(),
        },
    );
    sim
}

fn lossy() -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(200),
        loss: 0.3,
        duplicate: 0.1,
    }
}

/// Sends `n` requests (every third one NON) and runs until all are settled.
fn exchange_many(sim: &mut Sim<Node>, n: usize) -> HashMap<RequestId, String> {
    let server = sim.addr(SERVER);
    let now = sim.now();
    let mut sent = HashMap::new();
    for i in 0..n {
        let body = format!("payload {i}");
        let mut req = MessageBuilder::new(MessageType::Confirmable, Code::POST)
            .path("/echo")
            .payload(body.clone());
        if i % 3 == 2 {
            req.message_type = MessageType::NonConfirmable;
        }
        let id = sim.node(CLIENT).ep.request(now, server, req).unwrap();
        sent.insert(id, body);
    }
    let mut settled = 0;
    sim.run_for(Duration::from_secs(3600), 1_000_000, |s| {
        settled = s.node(CLIENT).events.len();
    });
    assert_eq!(
        settled,
        n,
        "seed {}: every request settles (response or failure)",
        sim.seed()
    );
    sent
}

#[test]
fn exchanges_complete_under_30_percent_loss() {
    for seed in [1u64, 2, 3] {
        let mut sim = network(seed, lossy());
        let sent = exchange_many(&mut sim, 60);
        let mut ok = 0;
        for ev in std::mem::take(&mut sim.node(CLIENT).events) {
            match ev {
                Event::Response { id, response, .. } => {
                    assert_eq!(
                        response.payload(),
                        sent[&id].as_bytes(),
                        "seed {seed}: response matches its request"
                    );
                    ok += 1;
                }
                Event::RequestFailed {
                    error: RequestFailure::Timeout,
                    ..
                } => {}
                other => panic!("seed {seed}: unexpected {other:?}"),
            }
        }
        // A CON gets 5 tries with 0.7 × 0.7 odds each: ~97 % succeed; a NON
        // has one try (49 %). 40 CON + 20 NON: expect well above 40.
        assert!(ok >= 45, "seed {seed}: only {ok} of 60 completed");
    }
}

#[test]
fn confirmable_exchanges_all_complete_with_more_retransmissions() {
    let mut sim = network(11, lossy());
    let mut config = Config::default();
    config.max_retransmit = 8;
    sim.node(CLIENT).ep = Endpoint::new(config.clone(), 5);
    sim.node(SERVER).ep = Endpoint::new(config, 6);
    let server = sim.addr(SERVER);
    let now = sim.now();
    for i in 0..40 {
        let req = MessageBuilder::new(MessageType::Confirmable, Code::POST)
            .path("/echo")
            .payload(format!("{i}"));
        sim.node(CLIENT).ep.request(now, server, req).unwrap();
    }
    sim.run_for(Duration::from_secs(3600), 1_000_000, |_| {});
    let ok = sim
        .node(CLIENT)
        .events
        .iter()
        .filter(|e| matches!(e, Event::Response { .. }))
        .count();
    assert_eq!(ok, 40, "seed {}", sim.seed());
}

#[test]
fn retransmission_schedule_stays_within_rfc_bounds() {
    let mut sim = network(21, lossy());
    exchange_many(&mut sim, 60);
    let c = Config::default();
    let client = sim.addr(CLIENT);
    // Every transmission of each CON the client sent, by message ID.
    let mut by_mid: HashMap<u16, Vec<Instant>> = HashMap::new();
    for r in sim.log().iter().filter(|r| r.from == client) {
        let m = Message::decode(r.payload.clone()).unwrap();
        if m.message_type() == MessageType::Confirmable && m.code().is_request() {
            by_mid.entry(m.message_id()).or_default().push(r.at);
        }
    }
    let mut retransmitted = 0;
    for (mid, times) in &by_mid {
        assert!(
            times.len() <= 1 + usize::from(c.max_retransmit),
            "mid {mid}: {} sends",
            times.len()
        );
        if times.len() > 1 {
            retransmitted += 1;
            let first = times[1] - times[0];
            assert!(
                first >= c.ack_timeout && first <= c.ack_timeout.mul_f64(c.ack_random_factor),
                "mid {mid}: first timeout {first:?}"
            );
            for w in times.windows(3) {
                let (a, b) = (w[1] - w[0], w[2] - w[1]);
                assert!(
                    b.abs_diff(a * 2) < Duration::from_millis(1),
                    "mid {mid}: {a:?} then {b:?}"
                );
            }
            assert!(
                *times.last().unwrap() - times[0] <= c.max_transmit_span(),
                "mid {mid}"
            );
        }
    }
    assert!(
        retransmitted > 5,
        "30 % loss causes retransmissions ({retransmitted})"
    );
}

#[test]
fn duplicates_are_answered_from_the_cache_not_the_application() {
    let link = LinkConfig {
        duplicate: 0.5,
        loss: 0.0,
        ..lossy()
    };
    let mut sim = network(31, link);
    let mut calls = 0u64;
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = counter.clone();
    sim.node(SERVER).router.as_mut().unwrap().add(
        "/count",
        handler(move |_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Outcome::status(Code::CHANGED)
        }),
        Attributes::new(),
    );
    let server = sim.addr(SERVER);
    let now = sim.now();
    for _ in 0..50 {
        let req = MessageBuilder::new(MessageType::Confirmable, Code::POST).path("/count");
        sim.node(CLIENT).ep.request(now, server, req).unwrap();
        calls += 1;
    }
    sim.run_for(Duration::from_secs(600), 1_000_000, |_| {});
    let dups = sim
        .log()
        .iter()
        .filter(|r| r.fate == Fate::Duplicated && r.from == sim.addr(CLIENT))
        .count();
    assert!(dups > 10, "{dups}");
    assert_eq!(
        counter.load(std::sync::atomic::Ordering::Relaxed),
        calls,
        "each request reached the application once"
    );
    assert!(sim.node(SERVER).ep.stats().duplicates >= dups as u64);
}

#[test]
fn nothing_stays_in_memory_after_exchange_lifetime() {
    let mut sim = network(41, lossy());
    exchange_many(&mut sim, 30);
    let end = sim.elapsed() + Config::default().exchange_lifetime() + Duration::from_secs(2);
    sim.run_for(end, 1_000_000, |_| {});
    assert_eq!(sim.in_flight(), 0);
    for i in [SERVER, CLIENT] {
        let u = sim.node(i).ep.usage();
        assert_eq!(u.queued, 0);
        assert!(u.is_empty(), "node {i}: {u:?} (seed {})", sim.seed());
        assert_eq!(sim.node(i).ep.poll_timeout(), None);
    }
}
