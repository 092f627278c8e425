//! What the endpoint hands back: datagrams to send, events, command errors.

use std::net::SocketAddr;

use bytes::Bytes;
use coap_codec::{EncodeError, Message};

/// A datagram to send. Plain data: the caller owns the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    /// The whole UDP payload: one encoded CoAP message.
    pub payload: Bytes,
}

/// Identifies a request this endpoint sent (the client role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

/// Identifies a request this endpoint received and has to answer (the
/// server role), with [`Endpoint::respond`](crate::Endpoint::respond).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncomingId(pub(crate) u64);

/// Something the application must see, from
/// [`Endpoint::poll_event`](crate::Endpoint::poll_event).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A new request (duplicates are answered by the endpoint and never
    /// surface). Answer it with [`Endpoint::respond`](crate::Endpoint::respond).
    Request {
        /// Pass this to `respond`.
        id: IncomingId,
        /// The client.
        from: SocketAddr,
        /// The request; its payload and options are slices of the datagram.
        request: Message<Bytes>,
        /// Whether it arrived on a multicast address (RFC 7252 §8.2): the
        /// response is delayed by a leisure and error responses are dropped.
        multicast: bool,
    },
    /// The response to a request of ours. A multicast request may get
    /// several, one per server, until [`Event::MulticastDone`].
    Response {
        /// The request it answers.
        id: RequestId,
        /// The server.
        from: SocketAddr,
        /// The response, a view over the datagram.
        response: Message<Bytes>,
    },
    /// A request of ours failed; the exchange is over.
    RequestFailed {
        /// The request.
        id: RequestId,
        /// Why.
        error: RequestFailure,
    },
    /// A CoAP ping sent with [`Endpoint::ping`](crate::Endpoint::ping) was
    /// answered with RST: the peer is alive (RFC 7252 §4.3).
    Pong {
        /// The ping.
        id: RequestId,
        /// The peer.
        from: SocketAddr,
    },
    /// A notification of an observation started with
    /// [`Endpoint::observe`](crate::Endpoint::observe): the first response
    /// and every fresher one (RFC 7641 §3.4; stale and reordered ones are
    /// dropped). The observation ends with an [`Event::Response`] (a
    /// response without Observe or an error) or [`Event::RequestFailed`].
    Notification {
        /// The observation.
        id: RequestId,
        /// The server.
        from: SocketAddr,
        /// The notification (reassembled when it came in blocks).
        response: Message<Bytes>,
    },
    /// A multicast request's collection window closed.
    MulticastDone {
        /// The request.
        id: RequestId,
    },
}

/// Why a request of ours failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestFailure {
    /// No ACK after MAX_RETRANSMIT retransmissions (RFC 7252 §4.2), or no
    /// response within the configured response timeout.
    #[error("request timed out")]
    Timeout,
    /// The peer rejected the message with RST (RFC 7252 §4.2, §4.3).
    #[error("peer answered with reset")]
    Reset,
    /// The representation's ETag changed between blocks (RFC 7959 §2.4).
    #[error("representation changed during block-wise transfer")]
    EtagChanged,
    /// A block-wise body exceeds `Config::max_body_size`, or the blocks do
    /// not fit together.
    #[error("block-wise transfer failed")]
    BlockTransfer,
}

/// Why [`Endpoint::request`](crate::Endpoint::request) refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The message's code is not a method (0.01-0.31).
    #[error("code {code} is not a request method")]
    NotARequest {
        /// The code.
        code: u8,
    },
    /// `max_requests` are already in progress.
    #[error("{max} requests already in progress")]
    TooManyRequests {
        /// The configured limit.
        max: usize,
    },
    /// The encoded message exceeds `max_message_size`.
    #[error("message of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Encoded length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The caller-chosen token is used by another request in progress.
    #[error("token already in use by another request")]
    TokenInUse,
    /// The message cannot be encoded.
    #[error("cannot encode request")]
    Encode(#[source] EncodeError),
}

/// Why [`Endpoint::respond`](crate::Endpoint::respond) refused a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// No request with this id awaits a response (answered already, or
    /// expired after EXCHANGE_LIFETIME).
    #[error("no pending request with this id")]
    UnknownRequest,
    /// The message's code is not a response code (2.xx, 4.xx, 5.xx).
    #[error("code {code} is not a response code")]
    NotAResponse {
        /// The code.
        code: u8,
    },
    /// The encoded response exceeds `max_message_size`.
    #[error("response of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Encoded length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The message cannot be encoded.
    #[error("cannot encode response")]
    Encode(#[source] EncodeError),
}

/// Counters of what the endpoint has seen and done, for tracing and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams queued for sending (first transmissions and retransmissions).
    pub sent: u64,
    /// CON retransmissions.
    pub retransmissions: u64,
    /// Duplicate messages answered from the cache or ignored.
    pub duplicates: u64,
    /// Datagrams that were not well-formed CoAP.
    pub malformed: u64,
    /// Messages rejected with RST or 4.02 (unrecognised critical option,
    /// unexpected response, ping).
    pub rejected: u64,
    /// CON requests refused with 5.03 because `max_incoming` was reached.
    pub overloaded: u64,
    /// Deduplication entries evicted before EXCHANGE_LIFETIME because the
    /// cache was full.
    pub dedup_evictions: u64,
}

/// How many entries each of the endpoint's tables holds: memory in use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Client requests in progress or queued.
    pub requests: usize,
    /// Received requests waiting for a response.
    pub incoming: usize,
    /// CON messages waiting for their ACK.
    pub unacknowledged: usize,
    /// Deduplication cache entries.
    pub dedup: usize,
    /// Peers with message-ID or congestion state.
    pub peers: usize,
    /// Armed timers, including stale ones not yet discarded.
    pub timers: usize,
    /// Datagrams and events not yet polled.
    pub queued: usize,
    /// Observations of our resources (RFC 7641).
    pub observers: usize,
    /// Block1 bodies being reassembled (RFC 7959).
    pub block_transfers: usize,
}

impl Usage {
    /// True when the endpoint holds no state at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
