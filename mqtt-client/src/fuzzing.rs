//! Invariant checks for the fuzz target `fuzz/fuzz_targets/mqtt_client_machine.rs`
//! and its corpus replay test.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Packet, ProtocolVersion, Publish, QoS, ReasonCode, StreamDecoder, Subscription, Utf8String,
};

use crate::{Client, Config, Event};

/// Drives a client with arbitrary server bytes, time steps and commands.
///
/// The first byte picks the version (bit 0: 5.0), whether the session is
/// persistent (bit 1) and whether outgoing topic aliases are on (bit 2). Then each op byte's low 3 bits choose an action and
/// the rest is its argument. Checks that the machine never panics, that
/// everything it transmits decodes as valid packets on the server side, that
/// the inflight window holds, and that its deadline never lies in the past.
pub fn mqtt_client_machine(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let version = if first & 1 == 1 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V3_1_1
    };
    let mut cfg = Config::new("fuzz");
    cfg.version = version;
    cfg.clean_start = first & 2 == 0;
    cfg.keep_alive = 5;
    cfg.max_inflight = 4;
    cfg.topic_alias_maximum = 3;
    cfg.outgoing_topic_aliases = first & 4 != 0;
    #[allow(clippy::disallowed_methods)] // the origin of virtual time
    let mut now = Instant::now();
    let mut c = Client::new(cfg, u64::from(first), now);
    let mut server = StreamDecoder::detect_version(1 << 20);
    let mut wire = BytesMut::new();
    c.connect(now);
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let arg = op >> 3;
        match op & 7 {
            0 | 1 => {
                let n = usize::from(arg).min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                rest = tail;
                c.handle_bytes(now, chunk);
            }
            2 => {
                now += Duration::from_millis(u64::from(arg) * 250);
                c.handle_timeout(now);
            }
            3 => {
                let qos = QoS::from_u8(arg % 3).unwrap_or(QoS::AtMostOnce);
                let p = Publish::new(Utf8String::from_static("f/t"), Bytes::from_static(b"x"))
                    .with_qos(qos, 0);
                let _ = c.publish(now, p);
            }
            4 => {
                let f = Subscription::new(Utf8String::from_static("f/#"), QoS::ExactlyOnce);
                let _ = c.subscribe(now, vec![f], Some(u32::from(arg) + 1));
            }
            5 => c.connection_lost(now),
            6 => {
                if c.reconnect_at().is_some() || c.is_closed() {
                    server = StreamDecoder::detect_version(1 << 20);
                    wire.clear();
                    c.connect(now);
                    // A CONNACK, so the rest of the input meets a connected client.
                    c.handle_bytes(
                        now,
                        &[0x20, if version.is_v5() { 3 } else { 2 }, arg & 1, 0, 0]
                            [..if version.is_v5() { 5 } else { 4 }],
                    );
                }
            }
            _ => c.disconnect(now, ReasonCode(arg)),
        }
        while let Some(b) = c.poll_transmit() {
            wire.extend_from_slice(&b);
            while let Some(p) = server
                .decode(&mut wire)
                .unwrap_or_else(|e| panic!("client sent an invalid packet: {e}"))
            {
                assert!(
                    !matches!(p, Packet::ConnAck(_) | Packet::SubAck(_)),
                    "server packet from the client"
                );
            }
        }
        while let Some(ev) = c.poll_event() {
            if let Event::Disconnected { .. } = ev {
                assert!(!c.is_connected());
            }
        }
        assert!(c.session().inflight_len() <= usize::from(c.session().window()));
        if c.is_closed() {
            assert_eq!(c.poll_timeout(), None);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replay_corpus() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/corpus/mqtt_client_machine/"
        );
        let entries: Vec<_> = std::fs::read_dir(dir).expect("corpus directory").collect();
        assert!(!entries.is_empty(), "empty corpus");
        for e in entries {
            let path = e.unwrap().path();
            super::mqtt_client_machine(&std::fs::read(&path).unwrap());
        }
    }
}
