//! State shared by every session: configuration and output queues.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use mqttsn_codec::{Encapsulation, Frame, Message};

use crate::aggregate::Shared;
use crate::config::Config;
use crate::output::{ConnId, Event, Peer, Stats, Transmit};

/// The gateway-wide half of the state, lent to a session while it works.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: Config,
    pub(crate) out: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) seed: u64,
    /// The shared MQTT connection (aggregating mode).
    pub(crate) shared: Option<Shared>,
    pub(crate) stats: Stats,
    /// Unwritten bytes per broker connection, as the I/O layer reported.
    backlog: HashMap<ConnId, usize>,
    total_backlog: usize,
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
            stats: Stats::default(),
            backlog: HashMap::new(),
            total_backlog: 0,
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

    /// Records the I/O layer's count of unwritten bytes on `conn`.
    pub(crate) fn set_backlog(&mut self, conn: ConnId, bytes: usize) {
        let old = if bytes == 0 {
            self.backlog.remove(&conn)
        } else {
            self.backlog.insert(conn, bytes)
        };
        self.total_backlog = self.total_backlog - old.unwrap_or(0) + bytes;
    }

    /// Forgets a closed connection's backlog.
    pub(crate) fn forget(&mut self, conn: ConnId) {
        self.set_backlog(conn, 0);
    }

    /// Whether the broker side as a whole is past its byte budget.
    pub(crate) fn overloaded(&self) -> bool {
        self.total_backlog > 0 && self.total_backlog >= self.config.max_total_backlog
    }

    /// Whether writing more to `conn` is past the byte budget.
    pub(crate) fn congested(&self, conn: ConnId) -> bool {
        self.overloaded()
            || self
                .backlog
                .get(&conn)
                .is_some_and(|b| *b >= self.config.max_backlog)
    }

    /// Whether the shared connection (aggregating mode) is congested: too
    /// many bytes unwritten or too many QoS 1/2 publishes unacknowledged.
    pub(crate) fn shared_congested(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| {
            let session = s.mqtt.session();
            self.congested(s.conn)
                || session.inflight_len() + session.queued_len() >= self.config.max_pending
        })
    }

    /// Counts and reports a message refused or dropped for congestion.
    pub(crate) fn congestion(&mut self, peer: &Peer, dropped: bool) {
        if dropped {
            self.stats.dropped_congestion += 1;
        } else {
            self.stats.rejected_congestion += 1;
        }
        self.events.push_back(Event::Congested {
            peer: peer.clone(),
            dropped,
        });
    }

    /// Queues bytes for a broker connection.
    pub(crate) fn upstream(&mut self, conn: ConnId, data: Bytes) {
        self.out.push_back(Transmit::Data { conn, data });
    }
}
