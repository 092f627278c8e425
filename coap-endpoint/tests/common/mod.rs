//! What the virtual-time tests of this crate share: an endpoint as a
//! `testkit::sim::Machine`.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use coap_endpoint::server::Router;
use coap_endpoint::{Endpoint, Event};
use testkit::sim::Machine;

/// An endpoint, optionally serving a router, keeping the events it saw.
pub struct Node {
    pub ep: Endpoint,
    pub router: Option<Router>,
    pub events: Vec<Event>,
}

impl Node {
    pub fn pump(&mut self, now: Instant) {
        match &mut self.router {
            Some(r) => {
                let other = r.serve(now, &mut self.ep);
                self.events.extend(other);
            }
            None => self
                .events
                .extend(std::iter::from_fn(|| self.ep.poll_event())),
        }
    }
}

impl Machine for Node {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, d: Bytes) {
        self.ep.handle_datagram(now, from, d);
        self.pump(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.pump(now);
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
        self.ep.poll_transmit().map(|t| (t.destination, t.payload))
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.ep.poll_timeout()
    }
}
