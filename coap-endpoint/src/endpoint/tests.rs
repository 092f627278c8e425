use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coap_codec::{Code, Message, MessageBuilder, MessageType, NoResponse, OptionNumber};

use crate::{Config, Endpoint, Event, RequestFailure, Transmit};

#[test]
fn con_request_gets_piggybacked_response() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair();
    let id = client.request(t0, SERVER.into(), get("/a")).unwrap();
    let req = one(&mut client);
    assert_eq!(req.destination, SocketAddr::from(SERVER));
    server.handle_datagram(t0, CLIENT.into(), req.payload);
    let inc = expect_request(&mut server);
    server.respond(t0, inc, content("hi")).unwrap();
    let ack = one(&mut server);
    let m = decode(&ack);
    assert_eq!(m.message_type(), MessageType::Acknowledgement);
    assert_eq!(m.code(), Code::CONTENT);
    client.handle_datagram(t0, SERVER.into(), ack.payload);
    match client.poll_event() {
        Some(Event::Response {
            id: r, response, ..
        }) => {
            assert_eq!(r, id);
            assert_eq!(response.payload(), b"hi");
        }
        other => panic!("{other:?}"),
    }
    assert!(!client.has_unacknowledged());
}

#[test]
fn silent_peer_gets_retransmissions_with_doubling_timeout_then_timeout() {
    let t0 = Instant::now();
    let mut client = Endpoint::new(Config::default(), 9);
    let id = client.request(t0, SERVER.into(), get("/a")).unwrap();
    let first = one(&mut client);
    let mut sent = vec![t0];
    let mut now = t0;
    let mut failed = None;
    for _ in 0..500 {
        let Some(wake) = client.poll_timeout() else {
            break;
        };
        now = wake;
        client.handle_timeout(now);
        while let Some(t) = client.poll_transmit() {
            assert_eq!(
                t.payload, first.payload,
                "retransmission is the same datagram"
            );
            sent.push(now);
        }
        if let Some(ev) = client.poll_event() {
            failed = Some(ev);
            break;
        }
    }
    assert_eq!(
        sent.len(),
        5,
        "one transmission and MAX_RETRANSMIT=4 retransmissions"
    );
    let first_gap = sent[1] - sent[0];
    assert!(first_gap >= Duration::from_secs(2) && first_gap < Duration::from_secs(3));
    for w in sent.windows(3) {
        let (a, b) = (w[1] - w[0], w[2] - w[1]);
        assert_eq!(b, a * 2, "timeout doubles");
    }
    assert!(
        matches!(failed, Some(Event::RequestFailed { id: f, error: RequestFailure::Timeout }) if f == id)
    );
    assert!(now - t0 <= Config::default().max_transmit_wait());
    assert!(
        now - t0 >= Duration::from_secs(62),
        "waits for the last timeout to expire"
    );
}

#[test]
fn duplicate_con_gets_cached_response_and_one_event() {
    let t0 = Instant::now();
    let mut server = Endpoint::new(Config::default(), 1);
    let req = raw(MessageType::Confirmable, Code::GET, 0x1234, b"tk", "/x");
    server.handle_datagram(t0, CLIENT.into(), req.clone());
    let inc = expect_request(&mut server);
    server.respond(t0, inc, content("v")).unwrap();
    let first = one(&mut server);
    server.handle_datagram(t0 + Duration::from_secs(5), CLIENT.into(), req);
    let again = one(&mut server);
    assert_eq!(first.payload, again.payload);
    assert!(server.poll_event().is_none());
    assert_eq!(server.stats().duplicates, 1);
}

#[test]
fn duplicate_while_handler_is_busy_gets_empty_ack_then_separate_con() {
    let t0 = Instant::now();
    let mut server = Endpoint::new(Config::default(), 1);
    let req = raw(MessageType::Confirmable, Code::GET, 7, b"t", "/slow");
    server.handle_datagram(t0, CLIENT.into(), req.clone());
    let inc = expect_request(&mut server);
    server.handle_datagram(t0 + Duration::from_millis(100), CLIENT.into(), req);
    let ack = decode(&one(&mut server));
    assert_eq!(
        (ack.message_type(), ack.code(), ack.message_id()),
        (MessageType::Acknowledgement, Code::EMPTY, 7)
    );
    server
        .respond(t0 + Duration::from_secs(3), inc, content("late"))
        .unwrap();
    let resp = decode(&one(&mut server));
    assert_eq!(resp.message_type(), MessageType::Confirmable);
    assert_eq!(resp.token_bytes(), b"t");
    assert!(server.has_unacknowledged());
}

#[test]
fn handler_slower_than_separate_delay_gets_empty_ack_first() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair();
    let id = client.request(t0, SERVER.into(), get("/separate")).unwrap();
    server.handle_datagram(t0, CLIENT.into(), one(&mut client).payload);
    let inc = expect_request(&mut server);
    let due = server.poll_timeout().unwrap();
    assert_eq!(due, t0 + Duration::from_secs(1));
    server.handle_timeout(due);
    let empty = one(&mut server);
    assert_eq!(decode(&empty).code(), Code::EMPTY);
    client.handle_datagram(due, SERVER.into(), empty.payload);
    assert!(client.poll_event().is_none());
    assert!(
        !client.has_unacknowledged(),
        "empty ACK stops retransmission"
    );
    let later = due + Duration::from_secs(1);
    server.respond(later, inc, content("done")).unwrap();
    let con = one(&mut server);
    client.handle_datagram(later, SERVER.into(), con.payload);
    let ack = one(&mut client);
    let a = decode(&ack);
    assert_eq!(
        (a.message_type(), a.code()),
        (MessageType::Acknowledgement, Code::EMPTY)
    );
    assert!(matches!(client.poll_event(), Some(Event::Response { id: r, .. }) if r == id));
    server.handle_datagram(later, CLIENT.into(), ack.payload);
    assert!(!server.has_unacknowledged());
}

#[test]
fn empty_con_is_a_ping_answered_with_rst() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair();
    let id = client.ping(t0, SERVER.into()).unwrap();
    let ping = one(&mut client);
    assert_eq!(ping.payload.len(), 4);
    server.handle_datagram(t0, CLIENT.into(), ping.payload);
    let rst = one(&mut server);
    assert_eq!(decode(&rst).message_type(), MessageType::Reset);
    client.handle_datagram(t0, SERVER.into(), rst.payload);
    assert!(matches!(client.poll_event(), Some(Event::Pong { id: p, .. }) if p == id));
}

#[test]
fn unknown_critical_option_in_con_gets_4_02_and_in_non_gets_rst() {
    let t0 = Instant::now();
    let mut server = Endpoint::new(Config::default(), 1);
    let mut con = MessageBuilder::new(MessageType::Confirmable, Code::GET)
        .with_message_id(1)
        .path("/x");
    con.add_option(OptionNumber(1013), b"?");
    server.handle_datagram(t0, CLIENT.into(), con.to_bytes().unwrap());
    let r = decode(&one(&mut server));
    assert_eq!(
        (r.message_type(), r.code(), r.message_id()),
        (MessageType::Acknowledgement, Code::BAD_OPTION, 1)
    );
    let mut non = MessageBuilder::new(MessageType::NonConfirmable, Code::GET).with_message_id(2);
    non.add_option(OptionNumber(65001), b"");
    server.handle_datagram(t0, CLIENT.into(), non.to_bytes().unwrap());
    let r = decode(&one(&mut server));
    assert_eq!((r.message_type(), r.message_id()), (MessageType::Reset, 2));
    assert!(server.poll_event().is_none());
}

#[test]
fn malformed_con_gets_rst_and_malformed_non_is_ignored() {
    let t0 = Instant::now();
    let mut server = Endpoint::new(Config::default(), 1);
    // CON, TKL 9 (reserved), MID 0xbeef.
    server.handle_datagram(
        t0,
        CLIENT.into(),
        Bytes::from_static(&[0x49, 0x01, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
    );
    let r = decode(&one(&mut server));
    assert_eq!(
        (r.message_type(), r.message_id()),
        (MessageType::Reset, 0xbeef)
    );
    // CON with a truncated option.
    server.handle_datagram(
        t0,
        CLIENT.into(),
        Bytes::from_static(&[0x40, 0x01, 0, 5, 0xbd]),
    );
    assert_eq!(decode(&one(&mut server)).message_id(), 5);
    // NON with a payload marker and no payload; a 3-byte datagram; version 2.
    for d in [
        &[0x50, 0x01, 0, 6, 0xff][..],
        &[0x40, 1, 0][..],
        &[0x80, 1, 0, 1][..],
    ] {
        server.handle_datagram(t0, CLIENT.into(), Bytes::copy_from_slice(d));
        assert!(server.poll_transmit().is_none());
    }
    assert_eq!(server.stats().malformed, 5);
    assert!(server.poll_event().is_none());
}

#[test]
fn non_request_gets_non_response() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair();
    let id = client
        .request(t0, SERVER.into(), get("/n").with_message_id(0))
        .unwrap();
    let _ = id;
    let mut req = get("/n");
    req.message_type = MessageType::NonConfirmable;
    let id = client.request(t0, SERVER.into(), req).unwrap();
    // The CON went first; the NON is not held back by NSTART.
    let sent: Vec<Transmit> = std::iter::from_fn(|| client.poll_transmit()).collect();
    assert_eq!(sent.len(), 2);
    server.handle_datagram(t0, CLIENT.into(), sent[1].payload.clone());
    let inc = expect_request(&mut server);
    server.respond(t0, inc, content("n")).unwrap();
    let resp = one(&mut server);
    assert_eq!(decode(&resp).message_type(), MessageType::NonConfirmable);
    client.handle_datagram(t0, SERVER.into(), resp.payload);
    assert!(matches!(client.poll_event(), Some(Event::Response { id: r, .. }) if r == id));
}

#[test]
fn rst_to_our_con_fails_the_request() {
    let t0 = Instant::now();
    let mut client = Endpoint::new(Config::default(), 3);
    let id = client.request(t0, SERVER.into(), get("/a")).unwrap();
    let mid = decode(&one(&mut client)).message_id();
    client.handle_datagram(
        t0,
        SERVER.into(),
        MessageBuilder::reset(mid).to_bytes().unwrap(),
    );
    assert!(
        matches!(client.poll_event(), Some(Event::RequestFailed { id: f, error: RequestFailure::Reset }) if f == id)
    );
    let u = client.usage();
    assert_eq!((u.requests, u.unacknowledged), (0, 0), "{u:?}");
}

#[test]
fn nstart_holds_second_con_until_first_is_acknowledged() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair();
    client.request(t0, SERVER.into(), get("/1")).unwrap();
    client.request(t0, SERVER.into(), get("/2")).unwrap();
    let first = one(&mut client);
    server.handle_datagram(t0, CLIENT.into(), first.payload);
    let inc = expect_request(&mut server);
    server.respond(t0, inc, content("1")).unwrap();
    client.handle_datagram(t0, SERVER.into(), one(&mut server).payload);
    let second = one(&mut client);
    assert_eq!(decode(&second).options().path().unwrap(), "/2");
}

#[test]
fn cancel_stops_retransmission_and_frees_the_peer() {
    let t0 = Instant::now();
    let mut client = Endpoint::new(Config::default(), 3);
    let a = client.request(t0, SERVER.into(), get("/1")).unwrap();
    client.request(t0, SERVER.into(), get("/2")).unwrap();
    one(&mut client);
    assert!(client.cancel(t0, a));
    assert!(!client.cancel(t0, a));
    assert_eq!(decode(&one(&mut client)).options().path().unwrap(), "/2");
    assert!(client.poll_event().is_none());
}

#[test]
fn unexpected_con_response_gets_rst() {
    let t0 = Instant::now();
    let mut client = Endpoint::new(Config::default(), 3);
    let stray = MessageBuilder::new(MessageType::Confirmable, Code::CONTENT)
        .with_message_id(77)
        .with_token(b"zz");
    client.handle_datagram(t0, SERVER.into(), stray.to_bytes().unwrap());
    let r = decode(&one(&mut client));
    assert_eq!((r.message_type(), r.message_id()), (MessageType::Reset, 77));
    assert!(client.poll_event().is_none());
}

#[test]
fn multicast_request_collects_responses_until_window_closes() {
    let t0 = Instant::now();
    let group: SocketAddr = ([224, 0, 1, 187], 5683).into();
    let mut client = Endpoint::new(Config::default(), 4);
    let id = client
        .request_multicast(t0, group, get("/.well-known/core"))
        .unwrap();
    let req = one(&mut client);
    assert_eq!(decode(&req).message_type(), MessageType::NonConfirmable);
    let mut responses = 0;
    for (i, port) in [7001u16, 7002].into_iter().enumerate() {
        let mut server = Endpoint::new(Config::default(), 10 + i as u64);
        server.handle_multicast_datagram(t0, CLIENT.into(), req.payload.clone());
        let inc = expect_request(&mut server);
        server.respond(t0, inc, content("here")).unwrap();
        assert!(
            server.poll_transmit().is_none(),
            "leisure delays the response"
        );
        let (due, resp) = run_until_transmit(&mut server);
        assert!(due - t0 < Config::default().default_leisure);
        client.handle_datagram(due, ([127, 0, 0, 1], port).into(), resp.payload);
        if let Some(Event::Response { id: r, .. }) = client.poll_event() {
            assert_eq!(r, id);
            responses += 1;
        }
    }
    assert_eq!(responses, 2);
    client.handle_timeout(t0 + Config::default().multicast_window);
    assert!(matches!(client.poll_event(), Some(Event::MulticastDone { id: d }) if d == id));
}

#[test]
fn multicast_request_never_gets_error_or_rst() {
    let t0 = Instant::now();
    let mut server = Endpoint::new(Config::default(), 1);
    let req = raw(MessageType::NonConfirmable, Code::GET, 1, b"m", "/missing");
    server.handle_multicast_datagram(t0, CLIENT.into(), req);
    let inc = expect_request(&mut server);
    server
        .respond(
            t0,
            inc,
            MessageBuilder::new(MessageType::Acknowledgement, Code::NOT_FOUND),
        )
        .unwrap();
    let mut bad = MessageBuilder::new(MessageType::NonConfirmable, Code::GET).with_message_id(2);
    bad.add_option(OptionNumber(1013), b"");
    server.handle_multicast_datagram(t0, CLIENT.into(), bad.to_bytes().unwrap());
    server.handle_multicast_datagram(t0, CLIENT.into(), Bytes::from_static(&[0x40, 0, 0, 3]));
    server.handle_timeout(t0 + Duration::from_secs(10));
    assert!(server.poll_transmit().is_none());
}

#[test]
fn no_response_option_suppresses_the_response() {
    let t0 = Instant::now();
    let mut server = Endpoint::new(Config::default(), 1);
    let req = MessageBuilder::new(MessageType::NonConfirmable, Code::POST)
        .with_message_id(9)
        .no_response(NoResponse::SUCCESS)
        .to_bytes()
        .unwrap();
    server.handle_datagram(t0, CLIENT.into(), req);
    let inc = expect_request(&mut server);
    server
        .respond(
            t0,
            inc,
            MessageBuilder::new(MessageType::Acknowledgement, Code::CHANGED),
        )
        .unwrap();
    assert!(server.poll_transmit().is_none());
}

#[test]
fn too_many_pending_requests_get_5_03() {
    let t0 = Instant::now();
    let config = Config {
        max_incoming: 2,
        ..Config::default()
    };
    let mut server = Endpoint::new(config, 1);
    for mid in 0..3 {
        server.handle_datagram(
            t0,
            CLIENT.into(),
            raw(MessageType::Confirmable, Code::GET, mid, b"", "/"),
        );
    }
    let r = decode(&one(&mut server));
    assert_eq!((r.code(), r.message_id()), (Code::SERVICE_UNAVAILABLE, 2));
    assert_eq!(server.usage().incoming, 2);
}

#[test]
fn flood_from_many_ports_keeps_memory_bounded() {
    let t0 = Instant::now();
    let config = Config {
        max_dedup_entries: 500,
        max_incoming: 100,
        ..Config::default()
    };
    let mut server = Endpoint::new(config, 1);
    for port in 0..5000u16 {
        let from: SocketAddr = ([10, 0, 0, 1], 1024 + port).into();
        server.handle_datagram(
            t0,
            from,
            raw(MessageType::Confirmable, Code::GET, port, b"x", "/"),
        );
        while let Some(Event::Request { id, .. }) = server.poll_event() {
            server.respond(t0, id, content("ok")).unwrap();
        }
        while server.poll_transmit().is_some() {}
    }
    let u = server.usage();
    assert!(u.dedup <= 500, "{u:?}");
    assert_eq!(u.incoming, 0);
    assert!(server.stats().dedup_evictions >= 4500);
}

#[test]
fn nothing_stays_in_memory_after_exchange_lifetime() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair();
    for i in 0..20 {
        let mut req = get("/x");
        if i % 2 == 0 {
            req.message_type = MessageType::NonConfirmable;
        }
        client.request(t0, SERVER.into(), req).unwrap();
    }
    let mut now = t0;
    for _ in 0..200 {
        while let Some(t) = client.poll_transmit() {
            server.handle_datagram(now, CLIENT.into(), t.payload);
        }
        while let Some(Event::Request { id, .. }) = server.poll_event() {
            server.respond(now, id, content("x")).unwrap();
        }
        while let Some(t) = server.poll_transmit() {
            client.handle_datagram(now, SERVER.into(), t.payload);
        }
        while client.poll_event().is_some() {}
        now += Duration::from_millis(10);
    }
    assert_eq!(client.usage().requests, 0);
    let end = t0 + Config::default().exchange_lifetime() + Duration::from_secs(3);
    for ep in [&mut client, &mut server] {
        while let Some(t) = ep.poll_timeout().filter(|t| *t <= end) {
            ep.handle_timeout(t);
        }
        assert!(ep.usage().is_empty(), "{:?}", ep.usage());
        assert_eq!(ep.poll_timeout(), None);
    }
}

#[test]
fn timers_stay_bounded_under_sustained_load() {
    // 1000 requests/s for 20 s, answered at once: the timer queues hold
    // about one separate-response delay's worth of entries, not
    // EXCHANGE_LIFETIME's.
    let t0 = Instant::now();
    let mut server = Endpoint::new(Config::default(), 1);
    let mut peak = 0;
    for i in 0..20_000u32 {
        let now = t0 + Duration::from_millis(u64::from(i));
        let from: SocketAddr = ([10, 0, 0, 1], 2000 + (i % 1000) as u16).into();
        server.handle_datagram(
            now,
            from,
            raw(
                MessageType::Confirmable,
                Code::GET,
                (i / 1000) as u16,
                b"t",
                "/",
            ),
        );
        let inc = expect_request(&mut server);
        server.respond(now, inc, content("x")).unwrap();
        while server.poll_transmit().is_some() {}
        if server.poll_timeout().is_some_and(|t| t <= now) {
            server.handle_timeout(now);
        }
        peak = peak.max(server.usage().timers);
    }
    assert!(peak <= 1100, "timer entries peaked at {peak}");
}

#[test]
fn respond_twice_is_an_error() {
    let t0 = Instant::now();
    let mut server = Endpoint::new(Config::default(), 1);
    server.handle_datagram(
        t0,
        CLIENT.into(),
        raw(MessageType::Confirmable, Code::GET, 1, b"", "/"),
    );
    let inc = expect_request(&mut server);
    assert!(
        server.respond(t0, inc, get("/")).is_err(),
        "a request code is not a response"
    );
    server.respond(t0, inc, content("a")).unwrap();
    assert_eq!(
        server.respond(t0, inc, content("b")),
        Err(crate::RespondError::UnknownRequest)
    );
}

// Helpers.

const SERVER: ([u8; 4], u16) = ([127, 0, 0, 1], 5683);
const CLIENT: ([u8; 4], u16) = ([127, 0, 0, 1], 40000);

fn pair() -> (Endpoint, Endpoint) {
    (
        Endpoint::new(Config::default(), 100),
        Endpoint::new(Config::default(), 200),
    )
}

fn get(path: &str) -> MessageBuilder {
    MessageBuilder::new(MessageType::Confirmable, Code::GET).path(path)
}

fn content(p: &'static str) -> MessageBuilder {
    MessageBuilder::new(MessageType::Acknowledgement, Code::CONTENT).payload(p)
}

fn raw(t: MessageType, code: Code, mid: u16, token: &[u8], path: &str) -> Bytes {
    MessageBuilder::new(t, code)
        .with_message_id(mid)
        .with_token(token)
        .path(path)
        .to_bytes()
        .unwrap()
}

fn one(ep: &mut Endpoint) -> Transmit {
    let t = ep.poll_transmit().expect("a datagram to send");
    assert!(ep.poll_transmit().is_none(), "exactly one datagram");
    t
}

fn decode(t: &Transmit) -> Message<Bytes> {
    Message::decode(t.payload.clone()).unwrap()
}

fn expect_request(ep: &mut Endpoint) -> crate::IncomingId {
    match ep.poll_event() {
        Some(Event::Request { id, .. }) => id,
        other => panic!("expected a request, got {other:?}"),
    }
}

/// Fires timers until the endpoint sends something; returns when and what.
fn run_until_transmit(ep: &mut Endpoint) -> (Instant, Transmit) {
    for _ in 0..100 {
        let due = ep.poll_timeout().expect("a timer");
        ep.handle_timeout(due);
        if let Some(t) = ep.poll_transmit() {
            return (due, t);
        }
    }
    panic!("nothing sent after 100 timers");
}
