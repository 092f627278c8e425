//! Client configuration: what goes into CONNECT and how the machine behaves.

use std::time::Duration;

use bytes::Bytes;
use mqtt_codec::{LastWill, Props, ProtocolVersion};

use crate::reconnect::Backoff;

/// Client configuration. Start from [`Config::new`] or `Config::default()`
/// and set the fields you need.
///
/// ```
/// use mqtt_client::Config;
/// use mqtt_codec::ProtocolVersion;
/// let mut cfg = Config::new("sensor-7");
/// cfg.version = ProtocolVersion::V5;
/// cfg.clean_start = false;
/// cfg.session_expiry_interval = Some(3600);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Protocol version (3.1.1 by default; 3.1 and 5.0 also work).
    pub version: ProtocolVersion,
    /// Client identifier. Empty: the machine draws `m2m-` and 16 hex digits
    /// from its seed (MQTT 3.1.1 servers refuse an empty one with a
    /// persistent session); an identifier the server assigns (MQTT 5.0) is
    /// used for later reconnects.
    pub client_id: String,
    /// Keep Alive in seconds (MQTT 5.0 §3.1.2.10); 0 turns it off. Default 60.
    pub keep_alive: u16,
    /// How long to wait for PINGRESP before declaring the connection dead.
    /// Default 10 s.
    pub ping_timeout: Duration,
    /// How long to wait for CONNACK. Default 30 s.
    pub connect_timeout: Duration,
    /// Clean Start (5.0) / Clean Session (3.1.1). Default `true`.
    pub clean_start: bool,
    /// Session Expiry Interval in seconds (MQTT 5.0 §3.1.2.11.2); `None`
    /// means 0: the server drops the session when the connection ends.
    pub session_expiry_interval: Option<u32>,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Bytes>,
    /// Will message.
    pub will: Option<LastWill>,
    /// Further CONNECT properties (MQTT 5.0): user properties,
    /// authentication method and data, request problem/response information.
    /// The fields below override the matching ones.
    pub connect_properties: Props,
    /// Receive Maximum announced to the server (MQTT 5.0 §3.1.2.11.3);
    /// `None` leaves the default of 65535.
    pub receive_maximum: Option<u16>,
    /// Largest packet accepted from the server; also announced as Maximum
    /// Packet Size in MQTT 5.0. Default 1 MiB.
    pub max_packet_size: u32,
    /// Topic Alias Maximum announced to the server (MQTT 5.0); 0 (default)
    /// refuses incoming aliases.
    pub topic_alias_maximum: u16,
    /// Replace topics by aliases in outgoing messages (MQTT 5.0), up to the
    /// server's Topic Alias Maximum. Default off.
    pub outgoing_topic_aliases: bool,
    /// Most QoS 1/2 messages of ours in flight at once; the server's
    /// Receive Maximum lowers it. Default 100.
    pub max_inflight: u16,
    /// Most QoS 1/2 messages waiting for the window (beyond that `publish`
    /// fails with `QueueFull`). Default 10 000.
    pub max_queued: usize,
    /// Reconnect after a lost connection; `None` never reconnects.
    pub reconnect: Option<Backoff>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: ProtocolVersion::V3_1_1,
            client_id: String::new(),
            keep_alive: 60,
            ping_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(30),
            clean_start: true,
            session_expiry_interval: None,
            username: None,
            password: None,
            will: None,
            connect_properties: Props::default(),
            receive_maximum: None,
            max_packet_size: 1024 * 1024,
            topic_alias_maximum: 0,
            outgoing_topic_aliases: false,
            max_inflight: 100,
            max_queued: 10_000,
            reconnect: Some(Backoff::default()),
        }
    }
}

impl Config {
    /// The default configuration with this client identifier.
    #[must_use]
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            ..Self::default()
        }
    }
}
