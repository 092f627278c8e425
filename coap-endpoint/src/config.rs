//! Transmission parameters (RFC 7252 §4.8) and resource limits.

use std::time::Duration;

/// Endpoint configuration: RFC 7252 §4.8 transmission parameters plus the
/// limits that bound memory under load or attack.
///
/// [`Config::default`] gives the RFC's default values and safe limits.
/// [`Endpoint::new`](crate::Endpoint::new) clamps nonsensical values
/// (`ack_random_factor < 1`, `nstart == 0`, zero limits) to the nearest
/// sane one rather than failing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// ACK_TIMEOUT: initial retransmission timeout of a CON (default 2 s).
    pub ack_timeout: Duration,
    /// ACK_RANDOM_FACTOR: the initial timeout is drawn from
    /// `[ACK_TIMEOUT, ACK_TIMEOUT × factor)` (default 1.5).
    pub ack_random_factor: f64,
    /// MAX_RETRANSMIT: retransmissions of a CON before giving up (default 4).
    pub max_retransmit: u8,
    /// NSTART: outstanding CON requests towards one peer (default 1).
    pub nstart: usize,
    /// DEFAULT_LEISURE: a server answering a multicast request waits a
    /// random time up to this (default 5 s, RFC 7252 §8.2).
    pub default_leisure: Duration,
    /// PROBING_RATE in bytes per second: the average rate of NON requests
    /// to a peer that does not answer (default 1 byte/s).
    pub probing_rate: u32,
    /// MAX_LATENCY: the longest a datagram is assumed to travel (default
    /// 100 s); it enters EXCHANGE_LIFETIME and NON_LIFETIME.
    pub max_latency: Duration,
    /// PROCESSING_DELAY (default: ACK_TIMEOUT, 2 s).
    pub processing_delay: Duration,
    /// How long the application may take to answer a CON request before the
    /// endpoint sends an empty ACK and the response follows as a separate
    /// CON (RFC 7252 §5.2.2). Default 1 s, well before the client's first
    /// retransmission.
    pub separate_response_delay: Duration,
    /// How long a client waits for a separate response after an empty ACK,
    /// or for the response to a NON request (default MAX_TRANSMIT_WAIT, 93 s).
    pub response_timeout: Duration,
    /// How long a multicast request collects responses (default
    /// DEFAULT_LEISURE + 1 s).
    pub multicast_window: Duration,
    /// Largest datagram sent or accepted (default 1152 bytes, RFC 7252 §4.6).
    pub max_message_size: usize,
    /// Token length for requests, 0-8 bytes (default 4).
    pub token_length: usize,
    /// Client requests in progress or queued (default 4096).
    pub max_requests: usize,
    /// Received requests waiting for the application's response (default
    /// 4096); beyond that a CON request gets 5.03 and a NON is dropped.
    pub max_incoming: usize,
    /// Entries of the deduplication cache (default 65 536); the oldest are
    /// evicted first when a flood fills it.
    pub max_dedup_entries: usize,
    /// Peers with message-ID and congestion state (default 16 384).
    pub max_peers: usize,
    /// Observers of one resource (default 4096, RFC 7641 §4.1: beyond it a
    /// registration is answered without Observe, so it is not added).
    pub max_observers_per_resource: usize,
    /// Observations one peer may hold on this server (default 64).
    pub max_observers_per_peer: usize,
    /// A notification goes out CON at least this often per observer
    /// (default 24 h, RFC 7641 §4.5), so a vanished client is removed.
    pub notification_con_interval: Duration,
    /// Block size exponent this endpoint prefers for block-wise transfers
    /// (RFC 7959 §2.2, `2^(szx + 4)` bytes; default 6, 1024 bytes).
    pub block_szx: u8,
    /// Largest body reassembled from blocks, Block1 as a server or Block2
    /// as a client (default 4 MiB); a larger Block1 body gets 4.13 with
    /// Size1 (RFC 7959 §2.9.3).
    pub max_body_size: usize,
    /// Block1 transfers being reassembled for one peer (default 4).
    pub max_block1_per_peer: usize,
    /// Block1 transfers being reassembled in all (default 256).
    pub max_block1_transfers: usize,
    /// A Block1 transfer with no new block for this long is dropped
    /// (default 60 s); its next block then gets 4.08.
    pub block1_lifetime: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ack_timeout: Duration::from_secs(2),
            ack_random_factor: 1.5,
            max_retransmit: 4,
            nstart: 1,
            default_leisure: Duration::from_secs(5),
            probing_rate: 1,
            max_latency: Duration::from_secs(100),
            processing_delay: Duration::from_secs(2),
            separate_response_delay: Duration::from_secs(1),
            response_timeout: Duration::from_secs(93),
            multicast_window: Duration::from_secs(6),
            max_message_size: 1152,
            token_length: 4,
            max_requests: 4096,
            max_incoming: 4096,
            max_dedup_entries: 65_536,
            max_peers: 16_384,
            max_observers_per_resource: 4096,
            max_observers_per_peer: 64,
            notification_con_interval: Duration::from_secs(24 * 3600),
            block_szx: 6,
            max_body_size: 4 << 20,
            max_block1_per_peer: 4,
            max_block1_transfers: 256,
            block1_lifetime: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// MAX_TRANSMIT_SPAN: from the first transmission of a CON to its last
    /// retransmission, `ACK_TIMEOUT × (2^MAX_RETRANSMIT − 1) × ACK_RANDOM_FACTOR`
    /// (45 s by default).
    pub fn max_transmit_span(&self) -> Duration {
        self.ack_timeout
            .mul_f64(((1u64 << self.max_retransmit.min(20)) - 1) as f64 * self.ack_random_factor)
    }

    /// MAX_TRANSMIT_WAIT: from the first transmission of a CON to giving up,
    /// `ACK_TIMEOUT × (2^(MAX_RETRANSMIT + 1) − 1) × ACK_RANDOM_FACTOR`
    /// (93 s by default).
    pub fn max_transmit_wait(&self) -> Duration {
        self.ack_timeout.mul_f64(
            ((1u64 << (self.max_retransmit.min(20) + 1)) - 1) as f64 * self.ack_random_factor,
        )
    }

    /// EXCHANGE_LIFETIME: how long a message ID stays in use, `MAX_TRANSMIT_SPAN +
    /// 2 × MAX_LATENCY + PROCESSING_DELAY` (247 s by default).
    pub fn exchange_lifetime(&self) -> Duration {
        self.max_transmit_span() + 2 * self.max_latency + self.processing_delay
    }

    /// NON_LIFETIME: how long a NON's message ID stays in use,
    /// `MAX_TRANSMIT_SPAN + MAX_LATENCY` (145 s by default).
    pub fn non_lifetime(&self) -> Duration {
        self.max_transmit_span() + self.max_latency
    }

    /// A copy with every value in its valid range.
    pub(crate) fn sanitized(mut self) -> Self {
        if !(self.ack_random_factor >= 1.0 && self.ack_random_factor.is_finite()) {
            self.ack_random_factor = 1.0;
        }
        self.ack_timeout = self.ack_timeout.max(Duration::from_millis(1));
        self.max_retransmit = self.max_retransmit.min(20);
        self.nstart = self.nstart.max(1);
        self.probing_rate = self.probing_rate.max(1);
        self.max_message_size = self.max_message_size.clamp(64, 65_507);
        self.token_length = self.token_length.min(8);
        self.max_requests = self.max_requests.max(1);
        self.max_incoming = self.max_incoming.max(1);
        self.max_dedup_entries = self.max_dedup_entries.max(1);
        self.max_peers = self.max_peers.max(1);
        self.block_szx = self.block_szx.min(coap_codec::Block::MAX_SZX);
        self.max_block1_per_peer = self.max_block1_per_peer.max(1);
        self.max_block1_transfers = self.max_block1_transfers.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_times_match_rfc_7252_table() {
        let c = Config::default();
        assert_eq!(c.max_transmit_span(), Duration::from_secs(45));
        assert_eq!(c.max_transmit_wait(), Duration::from_secs(93));
        assert_eq!(c.exchange_lifetime(), Duration::from_secs(247));
        assert_eq!(c.non_lifetime(), Duration::from_secs(145));
    }

    #[test]
    fn nonsense_values_are_clamped() {
        let c = Config {
            ack_random_factor: 0.5,
            nstart: 0,
            token_length: 12,
            max_dedup_entries: 0,
            ..Config::default()
        }
        .sanitized();
        assert_eq!(c.ack_random_factor, 1.0);
        assert_eq!(c.nstart, 1);
        assert_eq!(c.token_length, 8);
        assert_eq!(c.max_dedup_entries, 1);
        let nan = Config {
            ack_random_factor: f64::NAN,
            ..Config::default()
        };
        assert_eq!(nan.sanitized().ack_random_factor, 1.0);
    }
}
