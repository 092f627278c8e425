//! The tokio adapter over loopback: client and server in one process.
#![allow(missing_docs, clippy::disallowed_methods)]

use std::time::Duration;

use coap_codec::{Code, ContentFormat, MessageBuilder, MessageType};
use coap_endpoint::server::{handler, response, Attributes, Outcome};
use coap_endpoint::tokio::{Client, ClientError, Server};
use coap_endpoint::Config;

async fn start() -> (
    std::net::SocketAddr,
    coap_endpoint::tokio::ServerHandle,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let mut server = Server::bind("127.0.0.1:0").await.unwrap();
    let handle = server.handle();
    let late = server.handle();
    server
        .add(
            "/hello",
            handler(|_| Outcome::content(ContentFormat::TEXT_PLAIN, "world")),
            Attributes::new(),
        )
        .add(
            "/slow",
            handler(move |req| {
                let (id, h) = (req.id, late.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    h.respond(id, response(Code::CONTENT).payload("finally"));
                });
                Outcome::Later
            }),
            Attributes::new(),
        );
    let addr = server.local_addr();
    let task = tokio::spawn(server.run());
    (addr, handle, task)
}

#[tokio::test]
async fn client_gets_piggybacked_response_from_server() {
    let (addr, handle, task) = start().await;
    let client = Client::bind("127.0.0.1:0").await.unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        client.get(&format!("coap://{addr}/hello")),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((r.code(), r.payload()), (Code::CONTENT, &b"world"[..]));
    assert_eq!(r.message_type(), MessageType::Acknowledgement);
    let missing = client.get(&format!("coap://{addr}/missing")).await.unwrap();
    assert_eq!(missing.code(), Code::NOT_FOUND);
    let wk = client
        .get(&format!("coap://{addr}/.well-known/core"))
        .await
        .unwrap();
    assert!(wk.payload().starts_with(b"</hello>"));
    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    client.shutdown().await;
}

#[tokio::test]
async fn slow_handler_answers_with_separate_response() {
    let (addr, handle, _task) = start().await;
    let client = Client::bind("127.0.0.1:0").await.unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        client.get(&format!("coap://{addr}/slow")),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.payload(), b"finally");
    assert_eq!(
        r.message_type(),
        MessageType::Confirmable,
        "separate response after the empty ACK"
    );
    handle.shutdown();
}

#[tokio::test]
async fn non_request_gets_non_response_and_ping_gets_pong() {
    let (addr, handle, _task) = start().await;
    let client = Client::bind("127.0.0.1:0").await.unwrap();
    let msg = MessageBuilder::new(MessageType::NonConfirmable, Code::GET).path("/hello");
    let r = client.send(addr, msg).await.unwrap();
    assert_eq!(r.message_type(), MessageType::NonConfirmable);
    client.ping(addr).await.unwrap();
    handle.shutdown();
}

#[tokio::test]
async fn silent_server_times_out() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut config = Config::default();
    config.ack_timeout = Duration::from_millis(20);
    config.max_retransmit = 2;
    let client = Client::bind_with("127.0.0.1:0", config).await.unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        client.get(&format!("coap://{}/x", silent.local_addr().unwrap())),
    )
    .await
    .unwrap();
    assert_eq!(r.unwrap_err(), ClientError::Timeout);
}

#[tokio::test]
async fn bad_uris_are_refused() {
    let client = Client::bind("127.0.0.1:0").await.unwrap();
    assert!(matches!(
        client.get("http://x/").await,
        Err(ClientError::Uri(_))
    ));
    assert_eq!(
        client.get("coaps://127.0.0.1/").await.unwrap_err(),
        ClientError::UnsupportedScheme
    );
}

#[tokio::test]
async fn ipv6_loopback_works() {
    let Ok(mut server) = Server::bind("[::1]:0").await else {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    };
    server.add(
        "/v6",
        handler(|_| Outcome::content(ContentFormat::TEXT_PLAIN, "six")),
        Attributes::new(),
    );
    let addr = server.local_addr();
    let handle = server.handle();
    tokio::spawn(server.run());
    let client = Client::bind("[::1]:0").await.unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        client.get(&format!("coap://{addr}/v6")),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.payload(), b"six");
    handle.shutdown();
}

#[tokio::test]
async fn shutdown_waits_for_separate_response_acknowledgement() {
    let (addr, handle, task) = start().await;
    let client = Client::bind("127.0.0.1:0").await.unwrap();
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.get(&format!("coap://{addr}/slow")).await }
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // The empty ACK went out; the response follows at 1.5 s. Shut down now:
    // the server still delivers it before returning from `run`.
    handle.shutdown();
    let r = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r.payload(), b"finally");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_server_serves_and_shuts_down() {
    let mut server = Server::bind("127.0.0.1:0").await.unwrap();
    let late = server.handle();
    server
        .add(
            "/hello",
            handler(|_| Outcome::content(ContentFormat::TEXT_PLAIN, "world")),
            Attributes::new(),
        )
        .add(
            "/slow",
            handler(move |req| {
                let (id, h) = (req.id, late.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1200)).await;
                    h.respond(id, response(Code::CONTENT).payload("finally"));
                });
                Outcome::Later
            }),
            Attributes::new(),
        );
    let addr = server.local_addr();
    let handle = server.handle();
    let task = tokio::task::spawn_blocking(move || server.run_blocking());
    let client = Client::bind("127.0.0.1:0").await.unwrap();
    let r = client.get(&format!("coap://{addr}/hello")).await.unwrap();
    assert_eq!(r.payload(), b"world");
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        client.get(&format!("coap://{addr}/slow")),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        (r.message_type(), r.payload()),
        (MessageType::Confirmable, &b"finally"[..])
    );
    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn dropping_a_request_future_cancels_its_retransmissions() {
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = silent.local_addr().unwrap();
    let mut config = Config::default();
    config.ack_timeout = Duration::from_millis(300);
    config.ack_random_factor = 1.0;
    let client = Client::bind_with("127.0.0.1:0", config).await.unwrap();
    let r = tokio::time::timeout(
        Duration::from_millis(100),
        client.get(&format!("coap://{target}/x")),
    )
    .await;
    assert!(r.is_err(), "gave up waiting");
    let mut buf = [0u8; 64];
    // The first transmission arrived; after the sweep (1 s) cancels the
    // exchange, no retransmission (due at 0.3, 0.9, 2.1 s...) follows the
    // one at 0.9 s at the latest.
    silent.recv(&mut buf).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let mut seen = 0;
    while silent.try_recv(&mut buf).is_ok() {
        seen += 1;
    }
    assert!(seen <= 2, "{seen} retransmissions before the cancel");
    let late = tokio::time::timeout(Duration::from_millis(1500), silent.recv(&mut buf)).await;
    assert!(
        late.is_err(),
        "no retransmission after the request was abandoned"
    );
}

#[tokio::test]
async fn tokio_server_hands_non_atomic_resources_each_block() {
    let offsets = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let o2 = offsets.clone();
    let mut server = Server::bind("127.0.0.1:0").await.unwrap();
    let mut body = Vec::new();
    server.add(
        "/stream",
        handler(move |req| {
            let (offset, more) = req.block1().map_or((0, false), |b| (b.offset(), b.more()));
            o2.lock().unwrap().push(offset);
            body.truncate(offset);
            body.extend_from_slice(req.payload());
            if more {
                Outcome::status(Code::CONTINUE)
            } else {
                Outcome::Reply(response(Code::CHANGED).payload(body.len().to_string()))
            }
        }),
        Attributes::new().non_atomic(),
    );
    let addr = server.local_addr();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    let mut config = Config::default();
    config.block_szx = 2; // 64-byte blocks
    let client = Client::bind_with("127.0.0.1:0", config).await.unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(Code::PUT, &format!("coap://{addr}/stream"), vec![5u8; 1000]),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((r.code(), r.payload()), (Code::CHANGED, &b"1000"[..]));
    let want: Vec<usize> = (0..16).map(|i| i * 64).collect();
    assert_eq!(*offsets.lock().unwrap(), want);
    handle.shutdown();
    task.await.unwrap().unwrap();
}
