//! Invariant checks for the fuzz target `fuzz/fuzz_targets/mqtt_broker_machine.rs`
//! and its corpus replay test.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Ack, Connect, Disconnect, Packet, ProtocolVersion, Publish, QoS, ReasonCode, StreamDecoder,
    Subscribe, Subscription, Utf8String,
};

use crate::{AliasPolicy, Broker, Config, ConnId, Event};

/// Connections the input plays with at once.
const SLOTS: usize = 4;

#[derive(Default)]
struct Slot {
    conn: Option<ConnId>,
    /// The version of the last CONNECT written by a canned step, for the
    /// next canned packets.
    canned_version: Option<ProtocolVersion>,
    /// The version the broker accepted ([`Event::Connected`]).
    version: Option<ProtocolVersion>,
    /// Topic aliases the broker announced on this connection.
    aliases: HashMap<u16, Utf8String>,
}

/// Drives a broker with arbitrary bytes on several connections, canned
/// packets and time steps.
///
/// The first byte picks options (bit 0: Reason Strings, bit 1: keep-first
/// aliases instead of LRU, bit 2: small limits, bit 3: a response topic
/// prefix). Then each op byte's low 3 bits choose an action and the rest is
/// its argument. Checks that the broker never panics, that everything it
/// writes decodes as whole packets, only to open connections, that an
/// aliased PUBLISH uses an alias announced before on its connection, that
/// its deadline is never in the past after a timeout, and that a shutdown
/// closes every connection.
pub fn mqtt_broker_machine(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let mut cfg = Config {
        reason_strings: first & 1 != 0,
        outgoing_topic_aliases: if first & 2 != 0 {
            AliasPolicy::KeepFirst
        } else {
            AliasPolicy::Lru
        },
        ..Config::default()
    };
    if first & 4 != 0 {
        cfg.max_packet_size = 64;
        cfg.max_queued_messages = 2;
        cfg.receive_maximum = 2;
        cfg.topic_alias_maximum = 2;
        cfg.outgoing_topic_alias_maximum = 1;
        cfg.max_keep_alive = Some(3);
    }
    if first & 8 != 0 {
        cfg.response_topic_prefix = Some("r/".into());
    }
    #[allow(clippy::disallowed_methods)] // the origin of virtual time
    let mut now = Instant::now();
    let mut b = Broker::new(cfg, u64::from(first));
    let mut slots: [Slot; SLOTS] = Default::default();
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let arg = op >> 3;
        let slot = usize::from(arg) % SLOTS;
        match op & 7 {
            0 => {
                if slots[slot].conn.is_none() {
                    slots[slot] = Slot {
                        conn: Some(b.open(now)),
                        ..Slot::default()
                    };
                }
            }
            1 | 2 => {
                let Some((&len, tail)) = rest.split_first() else {
                    break;
                };
                let n = usize::from(len).min(tail.len());
                let (chunk, tail) = tail.split_at(n);
                rest = tail;
                if let Some(c) = slots[slot].conn {
                    b.handle_bytes(now, c, chunk);
                }
            }
            3 => {
                now += Duration::from_millis(u64::from(arg) * 500);
                b.handle_timeout(now);
                if let Some(t) = b.poll_timeout() {
                    assert!(t > now, "a deadline in the past after handle_timeout");
                }
            }
            4 => {
                if let Some(c) = slots[slot].conn.take() {
                    b.connection_lost(now, c);
                }
            }
            _ => {
                let Some((&which, tail)) = rest.split_first() else {
                    break;
                };
                rest = tail;
                if let Some(c) = slots[slot].conn {
                    let (packet, version) = canned(which, slot, slots[slot].canned_version);
                    if let Packet::Connect(_) = packet {
                        slots[slot].canned_version = Some(version);
                    }
                    let mut buf = BytesMut::new();
                    if packet.encode(version, &mut buf).is_ok() {
                        b.handle_bytes(now, c, &buf);
                    }
                }
            }
        }
        drain(&mut b, &mut slots);
    }
    b.shutdown(now);
    drain(&mut b, &mut slots);
    assert!(
        slots.iter().all(|s| s.conn.is_none()),
        "a connection survived the shutdown"
    );
    assert_eq!(b.stats().clients_connected, 0);
}

/// A packet a client could send, chosen by `which`, for `slot`.
fn canned(which: u8, slot: usize, version: Option<ProtocolVersion>) -> (Packet, ProtocolVersion) {
    let v = version.unwrap_or(ProtocolVersion::V5);
    let topics = ["t/a", "t/long/topic", "$SYS/x", "other"];
    let topic = Utf8String::from_static(topics[usize::from(which >> 4) % topics.len()]);
    let qos = QoS::from_u8((which >> 2) % 3).unwrap_or_default();
    let packet = match which & 3 {
        0 => {
            let v = if which & 4 == 0 {
                ProtocolVersion::V5
            } else {
                ProtocolVersion::V3_1_1
            };
            let ids = ["c0", "c1", "c2", "c3"];
            let mut c = Connect::new(v);
            c.client_id = Utf8String::from_static(ids[slot]);
            c.clean_start = which & 8 != 0;
            c.keep_alive = u16::from(which >> 5);
            c.properties.topic_alias_maximum = Some(3);
            c.properties.session_expiry_interval = Some(u32::from(which >> 4) * 10);
            c.properties.request_response_information = Some(true);
            c.properties.receive_maximum = Some(2);
            if which & 16 != 0 {
                c.properties.maximum_packet_size = Some(40);
            }
            return (Packet::Connect(Box::new(c)), v);
        }
        1 => {
            let filters = ["#", "t/+", "$share/g/t/#", "$SYS/#"];
            let mut s = Subscription::new(
                Utf8String::from_static(filters[usize::from(which >> 4) % 4]),
                qos,
            );
            s.options.no_local = which & 0x40 != 0 && which >> 4 & 3 != 2;
            Packet::Subscribe(Subscribe::new(1, vec![s]))
        }
        2 => {
            let id = if qos == QoS::AtMostOnce {
                0
            } else {
                u16::from(which >> 6) + 1
            };
            let mut p = Publish::new(topic, Bytes::from_static(b"payload")).with_qos(qos, id);
            p.retain = which & 0x40 != 0;
            if v.is_v5() && which & 0x80 != 0 {
                p.properties.topic_alias = Some(1);
                p.properties.message_expiry_interval = Some(2);
            }
            Packet::Publish(p)
        }
        _ => match (which >> 2) & 7 {
            0 => Packet::PubAck(Ack::new(u16::from(which >> 5) + 1)),
            1 => Packet::PubRec(Ack::new(u16::from(which >> 5) + 1)),
            2 => Packet::PubRel(Ack::new(u16::from(which >> 5) + 1)),
            3 => Packet::PubComp(Ack::new(u16::from(which >> 5) + 1)),
            4 => Packet::PingReq,
            5 => Packet::Disconnect(Disconnect {
                reason_code: ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
                ..Disconnect::default()
            }),
            _ => Packet::Unsubscribe(mqtt_codec::Unsubscribe::new(
                2,
                vec![Utf8String::from_static("#")],
            )),
        },
    };
    (packet, v)
}

/// Checks and drops what the broker wrote, then follows its events.
fn drain(b: &mut Broker, slots: &mut [Slot; SLOTS]) {
    let mut closed = Vec::new();
    while let Some(ev) = b.poll_event() {
        match ev {
            Event::Connected { conn, version, .. } => {
                if let Some(s) = slots.iter_mut().find(|s| s.conn == Some(conn)) {
                    s.version = Some(version);
                }
            }
            Event::Close { conn, .. } => closed.push(conn),
            Event::QueueFull { .. } => {}
        }
    }
    while let Some(t) = b.poll_transmit() {
        let slot = slots
            .iter_mut()
            .find(|s| s.conn == Some(t.conn))
            .unwrap_or_else(|| panic!("bytes for a connection that is not open"));
        // Before CONNACK is accepted the version is the CONNECT's: try both.
        let versions = match slot.version {
            Some(v) => vec![v],
            None => vec![ProtocolVersion::V5, ProtocolVersion::V3_1_1],
        };
        let packets = versions
            .into_iter()
            .find_map(|v| decode_all(v, &t.payload))
            .unwrap_or_else(|| {
                panic!(
                    "the broker wrote an invalid packet: {:02x?}",
                    &t.payload[..]
                )
            });
        for p in packets {
            assert!(
                !matches!(
                    p,
                    Packet::Connect(_)
                        | Packet::Subscribe(_)
                        | Packet::Unsubscribe(_)
                        | Packet::PingReq
                ),
                "a client packet from the broker"
            );
            if let Packet::Publish(p) = p {
                if let Some(a) = p.properties.topic_alias {
                    if p.topic.is_empty() {
                        assert!(slot.aliases.contains_key(&a), "alias {a} never announced");
                    } else {
                        slot.aliases.insert(a, p.topic.clone());
                    }
                }
            }
        }
    }
    for conn in closed {
        if let Some(s) = slots.iter_mut().find(|s| s.conn == Some(conn)) {
            s.conn = None;
        }
    }
}

/// Every packet of `bytes` in `version`, or `None` if they are not whole, valid packets.
fn decode_all(version: ProtocolVersion, bytes: &[u8]) -> Option<Vec<Packet>> {
    let mut d = StreamDecoder::new(version, mqtt_codec::MAX_PACKET_SIZE);
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    // Bounded: each packet consumes at least two bytes.
    while !buf.is_empty() {
        out.push(d.decode(&mut buf).ok()??);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn replay_corpus() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/corpus/mqtt_broker_machine/"
        );
        let entries: Vec<_> = std::fs::read_dir(dir).expect("corpus directory").collect();
        assert!(!entries.is_empty(), "empty corpus");
        for e in entries {
            let path = e.unwrap().path();
            super::mqtt_broker_machine(&std::fs::read(&path).unwrap());
        }
    }
}
