//! Broker limits and options, with the defaults Mosquitto uses where it has one.

/// Limits and options of a [`Broker`](crate::Broker).
///
/// ```
/// let mut c = mqtt_broker_core::Config::default();
/// c.max_queued_messages = 100;
/// assert_eq!(c.receive_maximum, 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest packet accepted from a client, in bytes (announced as Maximum
    /// Packet Size in 5.0, MQTT 5.0 §3.2.2.3.6). Default 1 MiB.
    pub max_packet_size: u32,
    /// QoS 2 messages a client may have awaiting PUBREL (our Receive
    /// Maximum, MQTT 5.0 §3.2.2.3.3). Default 20.
    pub receive_maximum: u16,
    /// Topic aliases a 5.0 client may use towards us (§3.2.2.3.8). Default 10.
    pub topic_alias_maximum: u16,
    /// QoS 1/2 messages kept for one client beyond its inflight window
    /// (offline or slow). Newer messages are dropped and counted. Default 1000.
    pub max_queued_messages: usize,
    /// Largest keep-alive accepted, in seconds; a larger or zero keep-alive
    /// from a 5.0 client is answered with Server Keep Alive (§3.2.2.3.14).
    /// `None` accepts any. Default `None`.
    pub max_keep_alive: Option<u16>,
    /// Seconds a new connection has to send CONNECT. Default 10.
    pub connect_timeout_secs: u16,
    /// Whether clients without a user name are accepted. Default `true`.
    pub allow_anonymous: bool,
    /// Whether retained messages are kept (Retain Available, §3.2.2.3.5). Default `true`.
    pub retain_available: bool,
    /// Seconds between two publications of the `$SYS/broker/...` topics;
    /// 0 turns them off. Default 10, as Mosquitto.
    pub sys_interval_secs: u32,
    /// Bytes the tokio adapter may hold for one connection that does not
    /// read fast enough. Past this the connection is closed as a slow
    /// consumer: QoS 0 fan-out cannot grow the broker's memory without
    /// bound, and a persistent session keeps its QoS 1/2 messages for
    /// redelivery. Default 8 MiB.
    pub max_write_queue_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_packet_size: 1 << 20,
            receive_maximum: 20,
            topic_alias_maximum: 10,
            max_queued_messages: 1000,
            max_keep_alive: None,
            connect_timeout_secs: 10,
            allow_anonymous: true,
            retain_available: true,
            sys_interval_secs: 10,
            max_write_queue_bytes: 8 << 20,
        }
    }
}
