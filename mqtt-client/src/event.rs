//! What the client machine tells the application.

use std::time::Instant;

use mqtt_codec::{Auth, ConnAck, Publish, QoS, ReasonCode};

/// An event from [`Client::poll_event`](crate::Client::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// CONNACK accepted the connection. `session_present` says whether the
    /// server kept the session; if not, the client has resubscribed and will
    /// send unacknowledged messages again as new ones.
    Connected {
        /// Session Present flag (MQTT 5.0 §3.2.2.1.1).
        session_present: bool,
        /// The whole CONNACK, with the server's properties (MQTT 5.0).
        connack: ConnAck,
    },
    /// An application message arrived. QoS 1 and 2 messages are acknowledged
    /// by the machine; a QoS 2 message comes out once even if the server
    /// sends it again (MQTT 5.0 §4.3.3).
    Message(Publish),
    /// A QoS 1 or 2 message of ours completed (PUBACK or PUBCOMP).
    Published {
        /// Its packet identifier, as returned by `publish`.
        packet_id: u16,
        /// Its QoS.
        qos: QoS,
    },
    /// The server refused a message of ours (PUBACK or PUBREC reason ≥ 0x80).
    PublishRefused {
        /// Its packet identifier.
        packet_id: u16,
        /// The server's reason code.
        reason: ReasonCode,
    },
    /// SUBACK: one reason code (granted QoS or error) per filter, in order.
    /// Resubscriptions after a lost session come out here too.
    Subscribed {
        /// The SUBSCRIBE's packet identifier.
        packet_id: u16,
        /// The reason codes.
        reason_codes: Vec<ReasonCode>,
    },
    /// UNSUBACK (reason codes are empty before MQTT 5.0).
    Unsubscribed {
        /// The UNSUBSCRIBE's packet identifier.
        packet_id: u16,
        /// The reason codes.
        reason_codes: Vec<ReasonCode>,
    },
    /// AUTH from the server (MQTT 5.0 §4.12): answer with
    /// [`Client::auth`](crate::Client::auth).
    Auth(Auth),
    /// The connection ended. The transport should be closed once
    /// `poll_transmit` is drained. With `reconnect_at`, open a new one at
    /// that time and call [`Client::connect`](crate::Client::connect).
    Disconnected {
        /// Why.
        reason: DisconnectReason,
        /// When to reconnect, by the back-off policy.
        reconnect_at: Option<Instant>,
    },
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The application called `disconnect`.
    Local,
    /// The transport reported the connection closed or failed.
    ConnectionLost,
    /// No PINGRESP within the ping timeout.
    KeepAliveTimeout,
    /// No CONNACK within the connect timeout.
    ConnectTimeout,
    /// CONNACK refused the connection with this code (3.1.1 return code or
    /// 5.0 reason code).
    Refused(ReasonCode),
    /// The server sent DISCONNECT with this reason (MQTT 5.0 §3.14).
    ServerDisconnect(ReasonCode),
    /// The server broke the protocol; the client sent DISCONNECT with this
    /// reason (MQTT 5.0: Malformed Packet, Protocol Error, ...).
    ProtocolError(ReasonCode),
}
