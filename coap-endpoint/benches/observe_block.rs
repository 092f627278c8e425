//! Criterion benchmarks of Observe and block-wise transfer.
//!
//! - `notify_1000_observers_{non,con}`: one `Endpoint::notify` of a resource
//!   with 1000 observers, every notification encoded and drained (the
//!   throughput is notifications).
//! - `block2_1mib_in_memory`: a client endpoint fetching a 1 MiB body from
//!   a server endpoint in 1024-byte Block2 blocks, in memory (both sides'
//!   work, no sockets).
//! - `block2_1mib_loopback`: the same through the tokio `Client` and
//!   `Server` over 127.0.0.1.
#![allow(missing_docs, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coap_codec::{Code, ContentFormat, MessageBuilder, MessageType};
use coap_endpoint::server::{handler, response, Attributes, Outcome, Router};
use coap_endpoint::{Config, Endpoint, Event};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const OBSERVERS: u16 = 1000;

fn observed_server(now: Instant) -> Endpoint {
    let mut ep = Endpoint::new(Config::default(), 1);
    let mut r = Router::new();
    r.add(
        "/obs",
        handler(|_| Outcome::content(ContentFormat::TEXT_PLAIN, "0")),
        Attributes::new().observable(),
    );
    for p in 0..OBSERVERS {
        let from: SocketAddr = ([127, 0, 0, 1], 20000 + p).into();
        let get = MessageBuilder::new(MessageType::Confirmable, Code::GET)
            .path("/obs")
            .observe(0)
            .with_message_id(p)
            .with_token(&u32::from(p).to_be_bytes())
            .to_bytes()
            .unwrap();
        ep.handle_datagram(now, from, get);
        r.serve(now, &mut ep);
        while ep.poll_transmit().is_some() {}
    }
    assert_eq!(ep.observers("/obs"), usize::from(OBSERVERS));
    ep
}

fn notify(c: &mut Criterion) {
    let mut g = c.benchmark_group("observe");
    g.throughput(Throughput::Elements(u64::from(OBSERVERS)));
    for (name, con) in [
        ("notify_1000_observers_non", false),
        ("notify_1000_observers_con", true),
    ] {
        let mut now = Instant::now();
        let mut ep = observed_server(now);
        let mut v = 0u32;
        g.bench_function(name, |b| {
            b.iter(|| {
                v += 1;
                now += Duration::from_millis(1);
                let msg = response(Code::CONTENT)
                    .content_format(ContentFormat::TEXT_PLAIN)
                    .payload(v.to_string());
                let n = ep.notify(now, "/obs", msg, con);
                let mut sent = 0;
                while ep.poll_transmit().is_some() {
                    sent += 1;
                }
                assert_eq!((n, sent), (usize::from(OBSERVERS), usize::from(OBSERVERS)));
            });
        });
    }
    g.finish();
}

fn block2_in_memory(c: &mut Criterion) {
    let body = Bytes::from(vec![0x5a; 1 << 20]);
    let mut g = c.benchmark_group("block");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(10);
    let (sa, ca): (SocketAddr, SocketAddr) = (
        ([127, 0, 0, 1], 5683).into(),
        ([127, 0, 0, 1], 40000).into(),
    );
    let mut config = Config::default();
    config.max_body_size = 2 << 20;
    let mut server = Endpoint::new(config.clone(), 1);
    let mut client = Endpoint::new(config, 2);
    let mut r = Router::new();
    let b2 = body.clone();
    r.add(
        "/big",
        handler(move |_| Outcome::content(ContentFormat::OCTET_STREAM, b2.clone())),
        Attributes::new(),
    );
    let mut now = Instant::now();
    g.bench_function("block2_1mib_in_memory", |b| {
        b.iter(|| {
            now += Duration::from_secs(1);
            let get = MessageBuilder::new(MessageType::Confirmable, Code::GET).path("/big");
            client.request(now, sa, get).unwrap();
            loop {
                // RFC 7252 §4.4: a message ID is not reused within
                // EXCHANGE_LIFETIME, so 65 536 blocks need 247 s of
                // virtual time: advance 4 ms per block.
                now += Duration::from_millis(4);
                server.handle_timeout(now);
                client.handle_timeout(now);
                while let Some(t) = client.poll_transmit() {
                    server.handle_datagram(now, ca, t.payload);
                }
                r.serve(now, &mut server);
                while let Some(t) = server.poll_transmit() {
                    client.handle_datagram(now, sa, t.payload);
                }
                if let Some(ev) = client.poll_event() {
                    let Event::Response { response, .. } = ev else {
                        panic!("{ev:?}")
                    };
                    assert_eq!(response.payload().len(), 1 << 20);
                    break;
                }
            }
        });
    });
    g.finish();
}

fn block2_loopback(c: &mut Criterion) {
    use coap_endpoint::tokio::{Client, Server};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = Bytes::from(vec![0xa5; 1 << 20]);
    let mut config = Config::default();
    config.max_body_size = 2 << 20;
    let addr = rt.block_on(async {
        let mut server = Server::bind_with("127.0.0.1:0", config.clone())
            .await
            .unwrap();
        let b2 = body.clone();
        server.add(
            "/big",
            handler(move |_| Outcome::content(ContentFormat::OCTET_STREAM, b2.clone())),
            Attributes::new(),
        );
        let addr = server.local_addr();
        tokio::spawn(server.run());
        addr
    });
    let mut g = c.benchmark_group("block");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(10);
    let uri = format!("coap://{addr}/big");
    g.bench_function("block2_1mib_loopback", |b| {
        b.iter(|| {
            // A fresh client (source port) per transfer: 1024 message IDs
            // each, so none is reused within EXCHANGE_LIFETIME (§4.4).
            let r = rt.block_on(async {
                let client = Client::bind_with("127.0.0.1:0", config.clone())
                    .await
                    .unwrap();
                let r = client.get(&uri).await;
                client.shutdown().await;
                r
            });
            assert_eq!(r.unwrap().payload().len(), 1 << 20);
        });
    });
    g.finish();
}

criterion_group!(benches, notify, block2_in_memory, block2_loopback);
criterion_main!(benches);
