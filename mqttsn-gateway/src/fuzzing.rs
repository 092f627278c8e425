//! Invariant checks for the fuzz target
//! `fuzz/fuzz_targets/mqttsn_gateway_machine.rs` and its corpus replay test.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Packet, ProtocolVersion, QoS as MqttQoS, StreamDecoder};

use crate::{Advertise, Config, ConnId, Gateway, Mode, Transmit};

/// Well-formed datagrams mixed with the arbitrary ones, so inputs reach deep
/// states (connected, will handshake, subscribed, asleep) quickly.
const VALID: [&[u8]; 16] = [
    b"\x08\x04\x04\x01\x00\x3cs1",     // CONNECT s1, keep-alive 60
    b"\x08\x04\x0c\x01\x00\x02s2",     // CONNECT s2 with will, keep-alive 2
    b"\x08\x04\x00\x01\x00\x3cs1",     // CONNECT s1, persistent session
    b"\x06\x07\x20a/b",                // WILLTOPIC
    b"\x04\x09hi",                     // WILLMSG
    b"\x09\x0a\x00\x00\x00\x01a/b",    // REGISTER a/b
    b"\x09\x0c\x20\x00\x01\x00\x02hi", // PUBLISH QoS 1 to id 1
    b"\x09\x0c\x40\x00\x01\x00\x03hi", // PUBLISH QoS 2 to id 1
    b"\x09\x0c\x00\x00\x01\x00\x00hi", // PUBLISH QoS 0 to id 1
    b"\x04\x10\x00\x03",               // PUBREL 3
    b"\x08\x12\x20\x00\x04a/+",        // SUBSCRIBE a/+ QoS 1
    b"\x08\x14\x00\x00\x05a/+",        // UNSUBSCRIBE a/+
    b"\x04\x18\x00\x05",               // DISCONNECT, sleep 5 s
    b"\x04\x16s1",                     // PINGREQ s1
    b"\x09\x0c\x62\x00\x05\x00\x00hi", // PUBLISH QoS -1, predefined 5
    b"\x04\xfe\x01\x02\x08\x04\x04\x01\x00\x3cs1", // CONNECT s1 through a forwarder
];

/// What the harness knows of one broker connection: the MQTT stream the
/// gateway wrote, decoded as a server would, and the packets to answer.
#[derive(Default)]
struct Wire {
    buf: BytesMut,
    decoder: Option<StreamDecoder>,
    /// The last SUBSCRIBE, UNSUBSCRIBE and QoS 1/2 PUBLISH packet ids seen.
    sub: Option<u16>,
    unsub: Option<u16>,
    publish: Option<(u16, MqttQoS)>,
}

fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000 + u16::from(n & 3)))
}

/// Drives a gateway with arbitrary datagrams from four addresses, broker
/// bytes on every connection it opened, backlog reports and time steps.
///
/// The first byte picks the mode (bit 0 set: aggregating), tight limits
/// (bit 1 set) and periodic ADVERTISE (bit 2 set). Then each op byte's low
/// 3 bits choose an action and the rest is its argument. Checks that the
/// gateway never panics, that every datagram it sends decodes, that
/// everything it writes to a broker decodes as MQTT 3.1.1 client packets,
/// that connection ids are never reused, that the client count stays
/// within `max_clients`, and (through the `__fuzz` check in the gateway)
/// that its timer heap always agrees with a scan of the sessions.
pub fn mqttsn_gateway_machine(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let mut config = Config::default();
    if first & 1 == 1 {
        config.mode = Mode::Aggregating;
    }
    config.max_clients = 3;
    config.max_topics = 4;
    config.max_buffered = 3;
    config.max_inflight = 3;
    if first & 2 == 2 {
        config.max_backlog = 256;
        config.max_total_backlog = 1024;
        config.max_pending = 2;
        config.max_connecting = 1;
    }
    if first & 4 == 4 {
        config.advertise = Some(Advertise {
            to: SocketAddr::from(([127, 0, 0, 1], 1884)),
            interval: Duration::from_secs(15),
        });
    }
    config.retry_interval = Duration::from_secs(2);
    config.predefined.insert(5, "p/5".into());
    let max_clients = config.max_clients;
    #[allow(clippy::disallowed_methods)] // the origin of virtual time
    let mut now = Instant::now();
    let mut gw = Gateway::new(config, u64::from(first), now);
    let mut conns: Vec<ConnId> = Vec::new();
    let mut wires: HashMap<ConnId, Wire> = HashMap::new();
    drain(&mut gw, &mut conns, &mut wires);
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let arg = op >> 3;
        let pick = |conns: &[ConnId]| -> Option<ConnId> {
            (!conns.is_empty()).then(|| conns[usize::from(arg) % conns.len()])
        };
        match op & 7 {
            0 => {
                let chunk = Bytes::copy_from_slice(take(&mut rest));
                gw.handle_datagram(now, addr(arg), chunk);
            }
            1 => {
                let i = rest.first().map_or(0, |&i| usize::from(i));
                rest = rest.get(1..).unwrap_or_default();
                let d = VALID[i % VALID.len()];
                gw.handle_datagram(now, addr(arg), Bytes::from_static(d));
            }
            2 => {
                let chunk = take(&mut rest);
                if let Some(c) = pick(&conns) {
                    gw.handle_broker_bytes(now, c, chunk);
                }
            }
            3 => {
                if let Some(c) = conns.last().copied() {
                    let answer = canned(arg, wires.get_mut(&c));
                    gw.handle_broker_bytes(now, c, &answer);
                }
            }
            4 => {
                if let Some(c) = pick(&conns) {
                    conns.retain(|x| *x != c);
                    wires.remove(&c);
                    gw.handle_broker_closed(now, c);
                }
            }
            5 => {
                now += Duration::from_millis(u64::from(arg) * 500);
                for _ in 0..16 {
                    match gw.poll_timeout() {
                        Some(t) if t <= now => gw.handle_timeout(now),
                        _ => break,
                    }
                    drain(&mut gw, &mut conns, &mut wires);
                }
            }
            6 => {
                let n = rest.first().map_or(0, |&n| usize::from(n));
                rest = rest.get(1..).unwrap_or_default();
                if let Some(c) = pick(&conns) {
                    gw.handle_broker_backlog(now, c, n * 8);
                }
            }
            _ => {
                if let Some(t) = gw.poll_timeout() {
                    now = now.max(t);
                    gw.handle_timeout(now);
                }
            }
        }
        drain(&mut gw, &mut conns, &mut wires);
        assert!(gw.client_count() <= max_clients);
    }
}

/// A length byte, then that many bytes (as many as there are).
fn take<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    let Some((&n, tail)) = rest.split_first() else {
        return &[];
    };
    let (chunk, tail) = tail.split_at(usize::from(n).min(tail.len()));
    *rest = tail;
    chunk
}

/// A broker answer: CONNACK, the acknowledgement of the last request seen,
/// a PUBLISH, or PINGRESP / PUBCOMP.
fn canned(arg: u8, wire: Option<&mut Wire>) -> Vec<u8> {
    let Some(w) = wire else {
        return Vec::new();
    };
    match arg & 3 {
        0 => vec![0x20, 2, (arg >> 2) & 1, 0],
        1 => {
            if let Some(id) = w.sub.take() {
                let [a, b] = id.to_be_bytes();
                vec![0x90, 3, a, b, (arg >> 2) % 3]
            } else if let Some(id) = w.unsub.take() {
                let [a, b] = id.to_be_bytes();
                vec![0xb0, 2, a, b]
            } else if let Some((id, qos)) = w.publish.take() {
                let [a, b] = id.to_be_bytes();
                let kind = if qos == MqttQoS::ExactlyOnce {
                    0x50
                } else {
                    0x40
                };
                vec![kind, 2, a, b]
            } else {
                vec![0xd0, 0]
            }
        }
        2 => {
            // PUBLISH a/x (QoS from the argument) with packet id 7.
            let qos = (arg >> 2) % 3;
            let mut p = vec![0x30 | (qos << 1), 0, 0, 3, b'a', b'/', b'x'];
            if qos > 0 {
                p.extend_from_slice(&[0, 7]);
            }
            p.extend_from_slice(b"hi");
            p[1] = u8::try_from(p.len() - 2).unwrap_or(0);
            p
        }
        _ => vec![0x70, 2, 0, arg >> 2],
    }
}

fn drain(gw: &mut Gateway, conns: &mut Vec<ConnId>, wires: &mut HashMap<ConnId, Wire>) {
    for _ in 0..100_000 {
        let Some(t) = gw.poll_transmit() else {
            break;
        };
        match t {
            Transmit::Datagram { data, .. } => {
                mqttsn_codec::Frame::decode(data)
                    .unwrap_or_else(|e| panic!("gateway sent an invalid datagram: {e:?}"));
            }
            Transmit::Open(c) => {
                assert!(!wires.contains_key(&c), "connection id reused");
                conns.push(c);
                if conns.len() > 16 {
                    let old = conns.remove(0);
                    wires.remove(&old);
                }
                wires.insert(
                    c,
                    Wire {
                        decoder: Some(StreamDecoder::new(ProtocolVersion::V3_1_1, 1 << 20)),
                        ..Wire::default()
                    },
                );
            }
            Transmit::Data { conn, data } => {
                // Connections the harness forgot (more than 16) are not checked.
                let Some(w) = wires.get_mut(&conn) else {
                    continue;
                };
                w.buf.extend_from_slice(&data);
                let Some(dec) = w.decoder.as_mut() else {
                    continue;
                };
                while let Some(p) = dec
                    .decode(&mut w.buf)
                    .unwrap_or_else(|e| panic!("gateway sent an invalid MQTT packet: {e}"))
                {
                    match p {
                        Packet::Subscribe(s) => w.sub = Some(s.packet_id),
                        Packet::Unsubscribe(u) => w.unsub = Some(u.packet_id),
                        Packet::Publish(p) if p.qos != MqttQoS::AtMostOnce => {
                            w.publish = Some((p.packet_id, p.qos));
                        }
                        Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) => {
                            panic!("server packet from the gateway: {p:?}")
                        }
                        _ => {}
                    }
                }
            }
            Transmit::Close(c) => {
                // Bytes after Close would be lost: the harness stops
                // decoding but keeps the id to catch a later write.
                if let Some(w) = wires.get_mut(&c) {
                    w.decoder = None;
                }
            }
        }
    }
    while gw.poll_event().is_some() {}
}

#[cfg(test)]
mod tests {
    #[test]
    fn replay_corpus() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/corpus/mqttsn_gateway_machine/"
        );
        let entries: Vec<_> = std::fs::read_dir(dir).expect("corpus directory").collect();
        assert!(!entries.is_empty(), "empty corpus");
        for e in entries {
            let path = e.unwrap().path();
            super::mqttsn_gateway_machine(&std::fs::read(&path).unwrap());
        }
    }
}
