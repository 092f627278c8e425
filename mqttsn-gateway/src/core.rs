//! State shared by every session: configuration and output queues.

use std::collections::VecDeque;

use bytes::Bytes;
use mqttsn_codec::{Encapsulation, Frame, Message};

use crate::aggregate::Shared;
use crate::config::Config;
use crate::output::{ConnId, Event, Peer, Transmit};

/// The gateway-wide half of the state, lent to a session while it works.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: Config,
    pub(crate) out: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) seed: u64,
    /// The shared MQTT connection (aggregating mode).
    pub(crate) shared: Option<Shared>,
    next_conn: u64,
}

impl Core {
    pub(crate) fn new(config: Config, seed: u64) -> Self {
        Self {
            config,
            out: VecDeque::new(),
            events: VecDeque::new(),
            seed,
            shared: None,
            next_conn: 0,
        }
    }

    /// A fresh connection id.
    pub(crate) fn conn_id(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    /// Queues `msg` for `peer`, inside a forwarder encapsulation (§5.5) if
    /// the peer spoke through one. A message that cannot be encoded (which
    /// the gateway never builds) is dropped rather than panicking.
    pub(crate) fn send(&mut self, peer: &Peer, msg: impl Into<Message>) {
        let msg = msg.into();
        let frame = match &peer.node {
            None => Frame::Message(msg),
            Some(node) => Frame::Encapsulated(Encapsulation {
                radius: 1,
                wireless_node_id: node.clone(),
                message: msg,
            }),
        };
        if let Ok(data) = frame.to_bytes() {
            self.out.push_back(Transmit::Datagram {
                to: peer.addr,
                data,
            });
        }
    }

    /// Queues bytes for a broker connection.
    pub(crate) fn upstream(&mut self, conn: ConnId, data: Bytes) {
        self.out.push_back(Transmit::Data { conn, data });
    }
}
