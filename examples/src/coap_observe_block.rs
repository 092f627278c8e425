//! The Observe and block-wise plugtest resources `coap-server` serves
//! (ETSI TD_COAP_OBS_* and TD_COAP_BLOCK_*), and the ticker that makes
//! `/time` and `/obs*` change.
//!
//! - `/obs`: observable text that changes every 5 s; CON notifications.
//! - `/obs-non`: the same with NON notifications.
//! - `/obs-large`: observable, a 1500-byte representation that changes
//!   every 5 s, so each notification comes in blocks (RFC 7959 §2.6).
//! - `/obs-reset`: POST resets the counters of the `/obs*` resources, which
//!   notifies their observers.
//! - `/large`: 2048 bytes of text (more than the 1280 the plugtests ask).
//! - `/large-update`: GET reads, PUT replaces the stored body (Block1).
//! - `/large-create`: POST creates a child holding the body (2.01 with
//!   Location-Path).
//! - `/large-post`: POST answers 2.04 with the body's length and checksum.
//! - `/large-stream`: GET reads, PUT replaces the stored body with
//!   non-atomic Block1 handling (RFC 7959 §2.5): each block is written at
//!   its offset as it arrives (2.31 Continue), the last one answers 2.04
//!   Changed, so a GET during an upload sees the part received so far.
//!   One upload at a time: block 0 from another client (or Request-Tag)
//!   while one is in progress gets 5.03 with Max-Age, a later block of an
//!   upload that is not the current one 4.08; bodies above
//!   [`LARGE_STREAM_MAX`] get 4.13 with Size1.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use coap_codec::{Code, ContentFormat, OptionNumber};
use coap_endpoint::server::{handler, response, Attributes, Outcome, Request, Resource, Router};
use coap_endpoint::tokio::ServerHandle;

/// How often `/obs`, `/obs-non` and `/obs-large` change.
pub const OBS_PERIOD: Duration = Duration::from_secs(5);

/// The shared state of the observable resources.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    obs: u64,
    obs_non: u64,
    obs_large: u64,
}

/// The 2048-byte body of `/large`: numbered lines of text.
pub fn large_body() -> Bytes {
    let mut s = String::with_capacity(2048);
    let mut line = 0;
    while s.len() < 2048 {
        s.push_str(&format!(
            "{line:04} the quick brown fox jumps over the lazy dog\n"
        ));
        line += 1;
    }
    s.truncate(2048);
    Bytes::from(s)
}

/// The `/obs-large` representation for counter value `n`: 1500 bytes.
pub fn obs_large_body(n: u64) -> Bytes {
    let head = format!("obs-large {n}\n");
    let mut s = head.repeat(1500 / head.len() + 1);
    s.truncate(1500);
    Bytes::from(s)
}

fn text(n: u64) -> Outcome {
    Outcome::Reply(
        response(Code::CONTENT)
            .content_format(ContentFormat::TEXT_PLAIN)
            .max_age(OBS_PERIOD.as_secs() as u32 + 5)
            .payload(n.to_string()),
    )
}

/// A checksum of a body: its length and a position-weighted byte sum.
pub fn body_summary(b: &[u8]) -> String {
    let sum: u64 = b
        .iter()
        .enumerate()
        .map(|(i, x)| (i as u64 + 1) * u64::from(*x))
        .sum();
    format!("{} bytes, checksum {sum}", b.len())
}

/// A body stored by PUT, read by GET.
#[derive(Debug)]
struct Stored(Bytes);

impl Resource for Stored {
    fn get(&mut self, _req: &Request<'_>) -> Outcome {
        Outcome::content(ContentFormat::OCTET_STREAM, self.0.clone())
    }
    fn put(&mut self, req: &Request<'_>) -> Outcome {
        self.0 = req.payload_bytes();
        Outcome::status(Code::CHANGED)
    }
}

/// The largest body `/large-stream` stores (1 MiB).
pub const LARGE_STREAM_MAX: usize = 1024 * 1024;

/// How long `/large-stream` waits for the next block of an upload before
/// another client may start one.
const LARGE_STREAM_IDLE: Duration = Duration::from_secs(60);

/// `/large-stream`: a body replaced by PUT block by block (non-atomic).
#[derive(Debug, Default)]
pub struct Streamed {
    body: Vec<u8>,
    /// The upload in progress: client, Request-Tag, when it lapses.
    writer: Option<(SocketAddr, Vec<u8>, Instant)>,
}

impl Resource for Streamed {
    fn get(&mut self, _req: &Request<'_>) -> Outcome {
        Outcome::content(ContentFormat::OCTET_STREAM, self.body.clone())
    }

    fn put(&mut self, req: &Request<'_>) -> Outcome {
        let (offset, more) = req.block1().map_or((0, false), |b| (b.offset(), b.more()));
        let who = (
            req.from,
            req.options()
                .get(OptionNumber::REQUEST_TAG)
                .unwrap_or_default()
                .to_vec(),
        );
        let current = self
            .writer
            .as_ref()
            .filter(|w| w.2 > req.now)
            .map(|w| (w.0, w.1.clone()));
        if offset == 0 {
            if req
                .options()
                .size1()
                .is_some_and(|n| n as usize > LARGE_STREAM_MAX)
            {
                return Outcome::Reply(
                    response(Code::REQUEST_ENTITY_TOO_LARGE)
                        .uint_option(OptionNumber::SIZE1, LARGE_STREAM_MAX as u64),
                );
            }
            if let Some(c) = current.filter(|c| *c != who) {
                let wait = self
                    .writer
                    .as_ref()
                    .map_or(Duration::ZERO, |w| w.2 - req.now);
                tracing::debug!(writer = %c.0, from = %req.from, "/large-stream busy");
                return Outcome::Reply(
                    response(Code::SERVICE_UNAVAILABLE).max_age(wait.as_secs() as u32 + 1),
                );
            }
            self.body.clear();
        } else if current.as_ref() != Some(&who) || offset != self.body.len() {
            return Outcome::status(Code::REQUEST_ENTITY_INCOMPLETE);
        }
        if offset + req.payload().len() > LARGE_STREAM_MAX {
            self.writer = None;
            return Outcome::Reply(
                response(Code::REQUEST_ENTITY_TOO_LARGE)
                    .uint_option(OptionNumber::SIZE1, LARGE_STREAM_MAX as u64),
            );
        }
        self.body.truncate(offset);
        self.body.extend_from_slice(req.payload());
        if more {
            self.writer = Some((who.0, who.1, req.now + LARGE_STREAM_IDLE));
            Outcome::status(Code::CONTINUE)
        } else {
            self.writer = None;
            Outcome::status(Code::CHANGED)
        }
    }
}

/// `/large-create`: POST makes a child holding the body.
#[derive(Debug)]
struct Creator;

impl Resource for Creator {
    fn post(&mut self, req: &Request<'_>) -> Outcome {
        Outcome::create(Stored(req.payload_bytes()), Attributes::new())
    }
}

/// Adds the resources to `router` and starts the ticker that changes them
/// and notifies their observers through `handle` (and `/time` every
/// second). Call from inside a tokio runtime.
pub fn install(router: &mut Router, handle: ServerHandle) {
    let counters = Arc::new(Mutex::new(Counters::default()));
    let c = counters.clone();
    router.add(
        "/obs",
        handler(move |req| match req.method() {
            Code::GET => text(c.lock().map_or(0, |c| c.obs)),
            _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
        }),
        Attributes::new()
            .title("Observable resource which changes every 5 seconds")
            .observable(),
    );
    let c = counters.clone();
    router.add(
        "/obs-non",
        handler(move |req| match req.method() {
            Code::GET => text(c.lock().map_or(0, |c| c.obs_non)),
            _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
        }),
        Attributes::new()
            .title("Observable resource with NON notifications")
            .observable(),
    );
    let c = counters.clone();
    router.add(
        "/obs-large",
        handler(move |req| match req.method() {
            Code::GET => Outcome::content(
                ContentFormat::TEXT_PLAIN,
                obs_large_body(c.lock().map_or(0, |c| c.obs_large)),
            ),
            _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
        }),
        Attributes::new()
            .title("Large observable resource")
            .observable(),
    );
    let (c, h) = (counters.clone(), handle.clone());
    router.add(
        "/obs-reset",
        handler(move |req| {
            if req.method() != Code::POST {
                return Outcome::status(Code::METHOD_NOT_ALLOWED);
            }
            if let Ok(mut c) = c.lock() {
                *c = Counters::default();
            }
            notify_all(&h, &Counters::default());
            Outcome::status(Code::CHANGED)
        }),
        Attributes::new().title("Resets the observable resources"),
    );
    router.add(
        "/large",
        handler(|req| match req.method() {
            Code::GET => Outcome::content(ContentFormat::TEXT_PLAIN, large_body()),
            _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
        }),
        Attributes::new().title("Large resource").size(2048),
    );
    router.add(
        "/large-update",
        Stored(large_body()),
        Attributes::new().title("Large resource that can be updated using PUT"),
    );
    router.add(
        "/large-create",
        Creator,
        Attributes::new()
            .title("Large resource that can be created using POST")
            .allow_children(),
    );
    router.add(
        "/large-post",
        handler(|req| match req.method() {
            Code::POST => Outcome::Reply(
                response(Code::CHANGED)
                    .content_format(ContentFormat::TEXT_PLAIN)
                    .payload(body_summary(req.payload())),
            ),
            _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
        }),
        Attributes::new().title("Handles large POST requests"),
    );
    router.add(
        "/large-stream",
        Streamed::default(),
        Attributes::new()
            .title("Large resource updated by PUT block by block (non-atomic)")
            .non_atomic(),
    );
    tokio::spawn(tick(counters, handle));
}

fn notify_all(h: &ServerHandle, c: &Counters) {
    let msg = |n: u64| match text(n) {
        Outcome::Reply(m) => m,
        _ => response(Code::CONTENT),
    };
    h.notify("/obs", msg(c.obs), true);
    h.notify("/obs-non", msg(c.obs_non), false);
    h.notify(
        "/obs-large",
        response(Code::CONTENT)
            .content_format(ContentFormat::TEXT_PLAIN)
            .payload(obs_large_body(c.obs_large)),
        false,
    );
}

async fn tick(counters: Arc<Mutex<Counters>>, handle: ServerHandle) {
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    loop {
        second.tick().await;
        n += 1;
        if let Outcome::Reply(m) = crate::coap_resources::time_now(false) {
            if !handle.notify("/time", m, false) {
                return;
            }
        }
        if n % OBS_PERIOD.as_secs() == 0 {
            let snapshot = {
                let Ok(mut c) = counters.lock() else {
                    return;
                };
                c.obs += 1;
                c.obs_non += 1;
                c.obs_large += 1;
                *c
            };
            notify_all(&handle, &snapshot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_bodies_exceed_one_block() {
        assert_eq!(large_body().len(), 2048);
        assert_eq!(obs_large_body(7).len(), 1500);
        assert!(obs_large_body(7).starts_with(b"obs-large 7\n"));
    }

    /// Drives a non-atomic `/large-stream` by hand (sans-IO).
    struct Rig {
        ep: coap_endpoint::Endpoint,
        router: Router,
        now: Instant,
        mid: u16,
    }

    impl Rig {
        #[allow(clippy::disallowed_methods)] // a test's arbitrary start
        fn new() -> Self {
            let mut router = Router::new();
            router.add(
                "/large-stream",
                Streamed::default(),
                Attributes::new().non_atomic(),
            );
            let mut ep = coap_endpoint::Endpoint::new(coap_endpoint::Config::default(), 3);
            router.attach(&mut ep);
            Self {
                ep,
                router,
                now: Instant::now(),
                mid: 0,
            }
        }

        fn send(
            &mut self,
            from: SocketAddr,
            m: coap_codec::MessageBuilder,
        ) -> coap_codec::Message<Bytes> {
            self.mid += 1;
            let d = m.with_message_id(self.mid).to_bytes().unwrap();
            self.ep.handle_datagram(self.now, from, d);
            self.router.serve(self.now, &mut self.ep);
            let t = self.ep.poll_transmit().expect("an answer");
            coap_codec::Message::decode(t.payload).unwrap()
        }

        fn block(&mut self, from: SocketAddr, body: &[u8], num: u32) -> coap_codec::Message<Bytes> {
            let start = num as usize * 64;
            let end = (start + 64).min(body.len());
            let m =
                coap_codec::MessageBuilder::new(coap_codec::MessageType::Confirmable, Code::PUT)
                    .path("/large-stream")
                    .block1(coap_codec::Block::new(num, end < body.len(), 2).unwrap())
                    .payload(body[start..end].to_vec());
            self.send(from, m)
        }

        fn get(&mut self, from: SocketAddr) -> Bytes {
            let m =
                coap_codec::MessageBuilder::new(coap_codec::MessageType::Confirmable, Code::GET)
                    .path("/large-stream");
            self.send(from, m).payload_bytes()
        }
    }

    #[test]
    fn large_stream_stores_each_block_as_it_arrives() {
        let (a, b): (SocketAddr, SocketAddr) = (
            "127.0.0.1:40001".parse().unwrap(),
            "127.0.0.1:40002".parse().unwrap(),
        );
        let mut rig = Rig::new();
        let body: Vec<u8> = (0..200u32).map(|i| (i * 3) as u8).collect();
        assert_eq!(rig.block(a, &body, 0).code(), Code::CONTINUE);
        assert_eq!(rig.block(a, &body, 1).code(), Code::CONTINUE);
        // Non-atomic: a GET during the upload sees what arrived so far.
        assert_eq!(rig.get(b), &body[..128]);
        // Another client cannot start an upload meanwhile.
        let busy = rig.block(b, &body, 0);
        assert_eq!(busy.code(), Code::SERVICE_UNAVAILABLE);
        assert!(busy.options().max_age().is_some());
        assert_eq!(rig.block(a, &body, 2).code(), Code::CONTINUE);
        assert_eq!(rig.block(a, &body, 3).code(), Code::CHANGED);
        assert_eq!(rig.get(b), body);
        // Now it can; a too large announced body is refused up front.
        assert_eq!(rig.block(b, &body, 0).code(), Code::CONTINUE);
        let big = coap_codec::MessageBuilder::new(coap_codec::MessageType::Confirmable, Code::PUT)
            .path("/large-stream")
            .uint_option(coap_codec::OptionNumber::SIZE1, LARGE_STREAM_MAX as u64 + 1)
            .block1(coap_codec::Block::new(0, true, 2).unwrap())
            .payload(vec![0u8; 64]);
        let r = rig.send(a, big);
        assert_eq!(r.code(), Code::REQUEST_ENTITY_TOO_LARGE);
        assert_eq!(r.options().size1(), Some(LARGE_STREAM_MAX as u32));
    }

    #[test]
    fn summary_names_length_and_checksum() {
        assert_eq!(body_summary(&[1, 2]), "2 bytes, checksum 5");
    }
}
