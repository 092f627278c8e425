//! Gateway configuration.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Periodic ADVERTISE (MQTT-SN v1.2 §5.4.1, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertise {
    /// Where ADVERTISE goes: a broadcast or multicast address.
    pub to: SocketAddr,
    /// How often; also announced as the Duration field.
    pub interval: Duration,
}

/// The gateway architecture (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// One MQTT connection per MQTT-SN client, carrying its client id, will
    /// and session (the broker publishes the will).
    #[default]
    Transparent,
    /// One MQTT connection for all clients: subscriptions multiplexed, wills
    /// published by the gateway.
    Aggregating,
}

/// What the gateway needs to know; every field has a documented default
/// ([`Config::default`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Transparent (default) or aggregating.
    pub mode: Mode,
    /// MQTT client id of the gateway's shared connection in aggregating
    /// mode. Default `"m2m-mqttsn-gateway"`.
    pub client_id: String,
    /// GwId announced in ADVERTISE and GWINFO. Default 1.
    pub gateway_id: u8,
    /// Predefined topic ids (§2.5.3), the same for every client. Default empty.
    pub predefined: BTreeMap<u16, String>,
    /// Most clients at once; a CONNECT beyond gets CONNACK "rejected:
    /// congestion". Default 10 000.
    pub max_clients: usize,
    /// Most topic ids registered per client. Default 1 000.
    pub max_topics: usize,
    /// Most messages buffered for a sleeping client (§6.14); further ones
    /// are dropped. Default 100.
    pub max_buffered: usize,
    /// Most QoS 1/2 publishes of one client waiting for the broker (flow
    /// control); beyond that PUBACK "rejected: congestion". Default 32.
    pub max_inflight: usize,
    /// A client silent for its keep-alive duration times this factor, or
    /// asleep for its sleep duration times this factor, is lost and its will
    /// is published. Default 1.5.
    pub grace: f32,
    /// Tretry (§6.13): how long the gateway waits for a client to
    /// acknowledge its REGISTER, PUBLISH (QoS 1, 2) or PUBREL before sending
    /// it again. Default 10 s.
    pub retry_interval: Duration,
    /// Nretry (§6.13): retransmissions before the client counts as lost.
    /// Default 3.
    pub max_retries: u8,
    /// Keep-alive of the gateway's MQTT connections (seconds) when a client
    /// announces 0. Default 60.
    pub mqtt_keep_alive: u16,
    /// Back-pressure: bytes written to one broker connection that the I/O
    /// layer has not handed to the transport yet (reported with
    /// [`Gateway::handle_broker_backlog`](crate::Gateway::handle_broker_backlog)).
    /// At or above it the connection is congested: QoS 1/2 publishes,
    /// REGISTER and SUBSCRIBE of its clients are refused with "rejected:
    /// congestion", QoS 0 publishes are dropped (and counted). Default 256 KiB.
    pub max_backlog: usize,
    /// Back-pressure: the same, summed over every broker connection; at or
    /// above it every connection counts as congested and new CONNECTs get
    /// CONNACK "rejected: congestion". Default 16 MiB.
    pub max_total_backlog: usize,
    /// Back-pressure: most QoS 1/2 publishes queued or in flight towards the
    /// broker on the shared connection (aggregating mode) before further
    /// ones, REGISTER, SUBSCRIBE and CONNECT are refused with "rejected:
    /// congestion" (in transparent mode [`Config::max_inflight`] bounds
    /// each client's own connection). Default 1 024.
    pub max_pending: usize,
    /// Back-pressure: most clients whose MQTT connection waits for the
    /// broker's CONNACK at once (transparent mode); a CONNECT beyond gets
    /// CONNACK "rejected: congestion". Default 256.
    pub max_connecting: usize,
    /// Periodic ADVERTISE; `None` (default) sends none.
    pub advertise: Option<Advertise>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Transparent,
            client_id: "m2m-mqttsn-gateway".into(),
            gateway_id: 1,
            predefined: BTreeMap::new(),
            max_clients: 10_000,
            max_topics: 1_000,
            max_buffered: 100,
            max_inflight: 32,
            grace: 1.5,
            retry_interval: Duration::from_secs(10),
            max_retries: 3,
            mqtt_keep_alive: 60,
            max_backlog: 256 * 1024,
            max_total_backlog: 16 * 1024 * 1024,
            max_pending: 1024,
            max_connecting: 256,
            advertise: None,
        }
    }
}

impl Config {
    /// The predefined topic id of `name`, if any.
    #[must_use]
    pub fn predefined_id(&self, name: &str) -> Option<u16> {
        self.predefined
            .iter()
            .find_map(|(id, n)| (n == name).then_some(*id))
    }

    /// `d` seconds stretched by [`Config::grace`].
    pub(crate) fn stretched(&self, secs: u16) -> Duration {
        Duration::from_secs(u64::from(secs)).mul_f32(self.grace.max(1.0))
    }
}
