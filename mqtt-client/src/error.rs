//! Errors for the application's commands (caller mistakes and limits).

use mqtt_codec::{EncodeError, QoS, ReasonCode, TopicError};

/// Why `publish` refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// A QoS 0 message needs a connection; QoS 1 and 2 wait for one.
    #[error("not connected (QoS 0 messages are not queued)")]
    NotConnected,
    /// The client was closed with `disconnect` and not connected again.
    #[error("client is closed")]
    Closed,
    /// Invalid topic name.
    #[error("invalid topic name: {0}")]
    Topic(#[source] TopicError),
    /// The server's Maximum QoS is lower (MQTT 5.0 §3.2.2.3.4).
    #[error("server accepts QoS up to {max:?}")]
    QoSNotSupported {
        /// The server's maximum.
        max: QoS,
    },
    /// The server has no retained messages (MQTT 5.0 §3.2.2.3.5).
    #[error("server does not support retained messages")]
    RetainNotSupported,
    /// The encoded PUBLISH exceeds the server's Maximum Packet Size.
    #[error("packet of {size} bytes exceeds the server's maximum of {max}")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The server's maximum.
        max: u32,
    },
    /// `max_queued` messages already wait, or no packet identifier is free.
    #[error("send queue is full")]
    QueueFull,
    /// The message cannot be encoded.
    #[error("cannot encode: {0}")]
    Encode(#[source] EncodeError),
}

/// Why `subscribe`, `unsubscribe` or `auth` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The command needs a connection.
    #[error("not connected")]
    NotConnected,
    /// No filter given.
    #[error("no topic filter given")]
    Empty,
    /// Invalid topic filter.
    #[error("invalid topic filter: {0}")]
    Filter(#[source] TopicError),
    /// No packet identifier is free.
    #[error("all packet identifiers are in use")]
    NoPacketId,
    /// AUTH exists only in MQTT 5.0.
    #[error("AUTH needs MQTT 5.0")]
    NotV5,
    /// The packet may not carry this reason code (MQTT 5.0 §2.4).
    #[error("reason code {code:?} is not allowed here")]
    InvalidReasonCode {
        /// The code.
        code: ReasonCode,
    },
}
