//! Criterion benchmarks of the endpoint state machine without sockets.
//!
//! - `server_con_get`: the server side of one CON GET: decode, dedup,
//!   route, handler, piggybacked response encoded (what a server does per
//!   request, minus the two system calls).
//! - `round_trip_con_get`: client and server endpoints exchanging one CON
//!   GET in memory (both sides' work per request).
#![allow(missing_docs, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coap_codec::{Code, ContentFormat, MessageBuilder, MessageType};
use coap_endpoint::server::{handler, Attributes, Outcome, Router};
use coap_endpoint::{Config, Endpoint, Event};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn router() -> Router {
    let mut r = Router::new();
    r.add(
        "/",
        handler(|_| {
            Outcome::content(
                ContentFormat::TEXT_PLAIN,
                "This is a test server made with m2m-rs coap-endpoint",
            )
        }),
        Attributes::new(),
    );
    r
}

fn server_con_get(c: &mut Criterion) {
    let mut g = c.benchmark_group("endpoint");
    g.throughput(Throughput::Elements(1));
    let mut ep = Endpoint::new(Config::default(), 1);
    let mut r = router();
    // 1024 clients (ports), message IDs advancing: no request is a duplicate.
    let requests: Vec<(SocketAddr, u16)> = (0..1024u16)
        .map(|p| (([127, 0, 0, 1], 20000 + p).into(), p))
        .collect();
    let mut i = 0usize;
    let mut now = Instant::now();
    g.bench_function("server_con_get", |b| {
        b.iter(|| {
            let (from, base) = requests[i % requests.len()];
            let mid = base.wrapping_add((i / requests.len()) as u16);
            i += 1;
            now += Duration::from_micros(10);
            let req = MessageBuilder::new(MessageType::Confirmable, Code::GET)
                .with_message_id(mid)
                .with_token(&(i as u32).to_be_bytes())
                .to_bytes()
                .unwrap();
            ep.handle_datagram(now, from, req);
            r.serve(now, &mut ep);
            let t = ep.poll_transmit().unwrap();
            if i % 4096 == 0 {
                ep.handle_timeout(now);
            }
            t
        });
    });
    let mut client = Endpoint::new(Config::default(), 2);
    let mut server = Endpoint::new(Config::default(), 3);
    let mut r = router();
    let (sa, ca): (SocketAddr, SocketAddr) = (
        ([127, 0, 0, 1], 5683).into(),
        ([127, 0, 0, 1], 40000).into(),
    );
    let mut now = Instant::now();
    let mut n = 0u32;
    g.bench_function("round_trip_con_get", |b| {
        b.iter(|| {
            // One client port may reuse a message ID only after
            // EXCHANGE_LIFETIME (RFC 7252 §4.4): 247 s / 65536 ≈ 3.8 ms.
            now += Duration::from_millis(4);
            n += 1;
            let id = client
                .request(
                    now,
                    sa,
                    MessageBuilder::new(MessageType::Confirmable, Code::GET),
                )
                .unwrap();
            let t = client.poll_transmit().unwrap();
            server.handle_datagram(now, ca, t.payload);
            r.serve(now, &mut server);
            let t = server.poll_transmit().unwrap();
            client.handle_datagram(now, sa, t.payload);
            let Some(Event::Response { id: got, .. }) = client.poll_event() else {
                panic!("no response")
            };
            assert_eq!(got, id);
            if n % 4096 == 0 {
                client.handle_timeout(now);
                server.handle_timeout(now);
            }
        });
    });
    g.finish();
}

criterion_group!(benches, server_con_get);
criterion_main!(benches);
