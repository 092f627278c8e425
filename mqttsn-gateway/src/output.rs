//! What the gateway hands back: datagrams, broker connection actions, events.

use std::net::SocketAddr;

use bytes::Bytes;

/// Where a client sits: its UDP address, and the wireless node id of the
/// forwarder encapsulation (§5.5) when it speaks through a forwarder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Peer {
    /// The UDP address datagrams come from (the forwarder's, if any).
    pub addr: SocketAddr,
    /// The Wireless Node Id of the encapsulation, `None` for a direct client.
    pub node: Option<Bytes>,
}

impl Peer {
    /// A client reached directly at `addr`.
    #[must_use]
    pub const fn direct(addr: SocketAddr) -> Self {
        Self { addr, node: None }
    }
}

/// Identifies one upstream MQTT connection; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Something the I/O layer must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transmit {
    /// Send one UDP datagram.
    Datagram {
        /// Destination.
        to: SocketAddr,
        /// The encoded MQTT-SN message (encapsulated if need be).
        data: Bytes,
    },
    /// Open a TCP connection to the broker; report with
    /// [`Gateway::handle_broker_closed`](crate::Gateway::handle_broker_closed)
    /// if it fails. Bytes for it may follow before it is up: buffer them.
    Open(ConnId),
    /// Write bytes on a broker connection.
    Data {
        /// The connection.
        conn: ConnId,
        /// MQTT bytes.
        data: Bytes,
    },
    /// Close a broker connection (after writing what was queued for it).
    Close(ConnId),
}

/// What the application may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A client completed CONNECT and the broker accepted it.
    Connected {
        /// The client.
        peer: Peer,
        /// Its client id.
        client_id: Bytes,
    },
    /// A client is gone.
    Disconnected {
        /// The client.
        peer: Peer,
        /// Why.
        reason: Gone,
    },
    /// A datagram that did not decode; dropped.
    Malformed {
        /// Who sent it.
        from: SocketAddr,
    },
    /// A message for a sleeping client was dropped: its buffer is full.
    Dropped {
        /// The client.
        peer: Peer,
    },
    /// The broker side is congested (back-pressure): a message of `peer`
    /// was refused with "rejected: congestion" (`dropped` false) or, at
    /// QoS 0 or -1, dropped (`dropped` true). Counted in [`Stats`].
    Congested {
        /// The client.
        peer: Peer,
        /// Dropped silently (QoS 0, -1) rather than refused.
        dropped: bool,
    },
}

/// Counters of what back-pressure and the buffer limits cost
/// ([`Gateway::stats`](crate::Gateway::stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// PUBACK, REGACK, SUBACK or CONNACK sent with "rejected: congestion"
    /// because the broker side could not keep up.
    pub rejected_congestion: u64,
    /// QoS 0 and QoS -1 publishes dropped because the broker side could
    /// not keep up.
    pub dropped_congestion: u64,
    /// Messages for a client dropped: its sleep buffer or inflight window
    /// was full.
    pub dropped_buffer: u64,
}

/// Why a client is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Gone {
    /// It sent DISCONNECT.
    Disconnect,
    /// It went silent past its keep-alive or sleep duration; the will goes out.
    Lost,
    /// The broker refused or dropped its connection.
    Broker,
}
