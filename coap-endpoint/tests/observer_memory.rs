//! Memory per observer (RFC 7641): the heap held by 1000 registrations of
//! one resource, minus that of 1000 plain GETs from the same clients (which
//! leave the same deduplication and peer state behind).
#![allow(missing_docs, clippy::disallowed_methods)]

use std::alloc::System;
use std::net::SocketAddr;
use std::time::Instant;

use coap_codec::{Code, ContentFormat, MessageBuilder, MessageType};
use coap_endpoint::server::{handler, Attributes, Outcome, Router};
use coap_endpoint::{Config, Endpoint};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CLIENTS: u16 = 1000;

/// Net heap bytes held after `CLIENTS` GETs, with or without Observe 0.
fn held_after_gets(observe: bool) -> isize {
    let now = Instant::now();
    let mut ep = Endpoint::new(Config::default(), 1);
    let mut r = Router::new();
    r.add(
        "/obs",
        handler(|_| Outcome::content(ContentFormat::TEXT_PLAIN, "0")),
        Attributes::new().observable(),
    );
    let requests: Vec<(SocketAddr, bytes::Bytes)> = (0..CLIENTS)
        .map(|p| {
            let mut get = MessageBuilder::new(MessageType::Confirmable, Code::GET)
                .path("/obs")
                .with_message_id(p)
                .with_token(&u32::from(p).to_be_bytes());
            if observe {
                get = get.observe(0);
            }
            (([127, 0, 0, 1], 20000 + p).into(), get.to_bytes().unwrap())
        })
        .collect();
    let region = Region::new(GLOBAL);
    for (from, get) in requests {
        ep.handle_datagram(now, from, get);
        r.serve(now, &mut ep);
        while ep.poll_transmit().is_some() {}
    }
    let stats = region.change();
    assert_eq!(
        ep.observers("/obs"),
        if observe { usize::from(CLIENTS) } else { 0 }
    );
    let held =
        stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated;
    drop(ep);
    held
}

#[test]
fn an_observer_costs_under_512_bytes() {
    let plain = held_after_gets(false);
    let observed = held_after_gets(true);
    let per_observer = (observed - plain) / isize::from(CLIENTS as i16).max(1);
    println!("memory per observer: {per_observer} bytes (plain {plain}, observed {observed})");
    assert!(
        per_observer > 0 && per_observer < 512,
        "{per_observer} bytes"
    );
}
