//! What the broker hands back: bytes to write, events, counters.

use std::sync::Arc;

use bytes::Bytes;
use mqtt_codec::{ProtocolVersion, ReasonCode};

/// A connection, numbered by the broker ([`Broker::open`](crate::Broker::open)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Bytes to write to a connection, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The connection.
    pub conn: ConnId,
    /// One or more whole MQTT packets.
    pub payload: Bytes,
}

/// What the application (the adapter) must see or do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A client's CONNECT was accepted.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The client identifier (assigned when the client sent none).
        client_id: Arc<str>,
        /// The protocol version of the connection.
        version: ProtocolVersion,
        /// Whether an existing session was resumed.
        session_present: bool,
    },
    /// Close this connection once the transmits queued before it are
    /// written. The broker has already forgotten it.
    Close {
        /// The connection.
        conn: ConnId,
        /// Why (a DISCONNECT reason code; [`ReasonCode::NORMAL_DISCONNECTION`]
        /// when the client sent DISCONNECT).
        reason: ReasonCode,
    },
    /// Messages for this client are being dropped (and counted in
    /// [`Stats::dropped`]): its queue holds
    /// [`Config::max_queued_messages`](crate::Config::max_queued_messages).
    /// Reported once, and again only after the queue had room, so that an
    /// adapter can log it without a flood.
    QueueFull {
        /// The client.
        client_id: Arc<str>,
        /// The queue limit.
        limit: usize,
    },
}

/// Counters, in the spirit of Mosquitto's `$SYS/broker/...` topics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Clients connected now.
    pub clients_connected: usize,
    /// Sessions kept (connected or not).
    pub sessions: usize,
    /// Packets received.
    pub messages_received: u64,
    /// Packets sent.
    pub messages_sent: u64,
    /// PUBLISH packets received.
    pub publish_received: u64,
    /// PUBLISH packets sent.
    pub publish_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received (through [`Broker::handle_bytes`](crate::Broker::handle_bytes) and
    /// [`Broker::record_bytes_received`](crate::Broker::record_bytes_received)).
    pub bytes_received: u64,
    /// Most clients connected at once.
    pub clients_maximum: usize,
    /// Messages dropped: queue full, too large for the client, QoS 0 offline.
    pub dropped: u64,
    /// Connections closed for a protocol violation.
    pub protocol_errors: u64,
    /// Subscriptions (client, filter).
    pub subscriptions: usize,
    /// Retained messages.
    pub retained: usize,
    /// Network connections opened ([`Broker::open`](crate::Broker::open)).
    pub sockets: u64,
    /// CONNECTs accepted.
    pub connections: u64,
    /// Sessions ended by their expiry interval while disconnected.
    pub clients_expired: u64,
    /// Payload bytes of the PUBLISH packets received.
    pub publish_bytes_received: u64,
    /// Payload bytes of the PUBLISH packets sent.
    pub publish_bytes_sent: u64,
}
