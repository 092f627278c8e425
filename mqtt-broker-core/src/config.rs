//! Broker limits and options, with the defaults Mosquitto uses where it has one.

use crate::alias::AliasPolicy;

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
    /// Whether and how the broker gives topic aliases to 5.0 clients that
    /// announce a Topic Alias Maximum (MQTT 5.0 §3.3.2.3.4). Default
    /// [`AliasPolicy::Off`] (see there why); [`AliasPolicy::Lru`] is the
    /// policy of choice for clients known to resolve aliases.
    pub outgoing_topic_aliases: AliasPolicy,
    /// Most aliases the broker assigns on one connection (fewer if the
    /// client's Topic Alias Maximum is lower); each holds a copy of a topic.
    /// 0 turns outgoing aliases off. Default 10.
    pub outgoing_topic_alias_maximum: u16,
    /// When set, a 5.0 client whose CONNECT has Request Response Information
    /// 1 gets Response Information `<prefix><client id>` in CONNACK (MQTT 5.0
    /// §3.1.2.11.7, §4.10), e.g. `response/` gives `response/sensor-1`: a
    /// topic root the client may build response topics under (ACLs are up
    /// to the application). Left out when the result would not be a valid
    /// topic name (a `+` or `#` in the client identifier). Default `None`:
    /// no Response Information, as Mosquitto.
    pub response_topic_prefix: Option<String>,
    /// Whether the broker's error answers in 5.0 carry a Reason String
    /// (MQTT 5.0 §3.2.2.3.9 etc.): DISCONNECT, a refused CONNACK, a failed
    /// PUBACK or PUBREC, a SUBACK with a failure. A client that sets Request Problem
    /// Information to 0 only gets them on CONNACK and DISCONNECT (§3.1.2.11.7).
    /// Default `false`: the bytes are Mosquitto's (which sends none).
    pub reason_strings: bool,
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
            outgoing_topic_aliases: AliasPolicy::Off,
            outgoing_topic_alias_maximum: 10,
            response_topic_prefix: None,
            reason_strings: false,
        }
    }
}
