//! The Mosquitto broker-test corpus (`shared/conformance/mqtt-broker-sequences`,
//! about 2,700 packets) replayed through the decoder.
//!
//! Classification rule, per case (see the corpus README for the format):
//! - **must accept**: every packet of a case whose connection must stay open
//!   (`expect_disconnect: false`), and every packet of a disconnect case except
//!   its last `send`. The broker processed them, so they decode, and re-encode
//!   to the same bytes (or, where the sender chose a longer form than ours,
//!   e.g. properties in another order, to bytes that decode to the same packet;
//!   counted as "re-encoded canonically").
//! - **culprit**: the last `send` of a case that expects a disconnect. If the
//!   codec rejects it, it counts as rejected, and our `reason_code()` must be
//!   one a server closes a connection with for a bad packet (0x81 Malformed
//!   Packet, 0x82 Protocol Error, 0x84, 0x95). Where Mosquitto answers with an
//!   MQTT 5.0 reason code we count agreement but do not require it: Mosquitto
//!   answers 0x82 to any packet a client must not send before parsing it, and
//!   0x82 for properties not allowed in a packet, which MQTT 5.0 §2.2.2.2
//!   calls a Malformed Packet (0x81, our answer). A culprit that is a valid
//!   client DISCONNECT is simply accepted (it ends the connection) and gets
//!   the must-accept checks. If the codec accepts any other culprit, the reason
//!   must be one a codec cannot see, and the case counts as out of reach:
//!   broker state (a second CONNECT, an identifier
//!   unknown to the session, a Topic Alias above the negotiated maximum, a
//!   packet type a client never sends), the server's policy (client
//!   identifiers, authentication), or a MAY of the specification that we leave
//!   to the broker: control characters and non-characters in strings (§1.5.4,
//!   see `has_discouraged_code_points`). Each accepted culprit must match one
//!   of these rules (`out_of_reach` below); anything else is a mismatch.
//! - every `recv` (what Mosquitto sent) decodes.
//!
//! The test asserts zero mismatches and prints a summary.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    has_discouraged_code_points, DecodeError, Packet, ProtocolVersion, ReasonCode, StreamDecoder,
};
use serde_json::Value;

/// Reason codes a server may close a connection with for a packet it cannot accept.
const SERVER_DECODE_CODES: &[u8] = &[0x81, 0x82, 0x84, 0x95];

/// DISCONNECT reason codes only a server sends (MQTT 5.0 §3.14.2.1).
fn server_only_disconnect(code: u8) -> bool {
    !matches!(
        code,
        0x00 | 0x04
            | 0x80
            | 0x81
            | 0x82
            | 0x83
            | 0x87
            | 0x90
            | 0x93
            | 0x94
            | 0x95
            | 0x96
            | 0x97
            | 0x98
            | 0x99
    )
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    accepted: usize,
    byte_identical: usize,
    canonical: usize,
    rejected: usize,
    disconnects: usize,
    reason_checked: usize,
    reason_agrees: usize,
    out_of_reach: BTreeMap<&'static str, usize>,
    recv_decoded: usize,
    mismatches: Vec<String>,
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn version_of(ver: u64) -> ProtocolVersion {
    if ver == 5 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V3_1_1
    }
}

/// Decodes all whole packets of `bytes`; `Err` on the first error. Every
/// input also goes through `StreamDecoder::decode_lazy` (on a copy of the
/// decoder), which must give the same packets, error and leftover.
fn decode_all(
    dec: &mut StreamDecoder,
    bytes: &[u8],
) -> (Vec<(Packet, Bytes)>, Option<DecodeError>, usize) {
    let mut lazy_dec = dec.clone();
    let lazy = decode_all_with(&mut lazy_dec, bytes, true);
    let strict = decode_all_with(dec, bytes, false);
    assert_eq!(
        lazy,
        strict,
        "decode_lazy differs on {}",
        hex::encode(bytes)
    );
    assert_eq!(lazy_dec.version(), dec.version());
    strict
}

fn decode_all_with(
    dec: &mut StreamDecoder,
    bytes: &[u8],
    lazy: bool,
) -> (Vec<(Packet, Bytes)>, Option<DecodeError>, usize) {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    loop {
        let before = buf.clone().freeze();
        let got = if lazy {
            dec.decode_lazy(&mut buf)
                .map(|p| p.map(mqtt_codec::LazyPacket::into_packet))
        } else {
            dec.decode(&mut buf)
        };
        match got {
            Ok(Some(p)) => {
                let used = before.len() - buf.len();
                out.push((p, before.slice(..used)));
            }
            Ok(None) => return (out, None, buf.len()),
            Err(e) => return (out, Some(e), buf.len()),
        }
    }
}

/// Strings of a packet that a strict server may refuse (spec MAY, §1.5.4).
fn discouraged(p: &Packet) -> bool {
    match p {
        Packet::Connect(c) => {
            has_discouraged_code_points(&c.client_id)
                || c.will
                    .as_ref()
                    .is_some_and(|w| has_discouraged_code_points(&w.topic))
                || c.username
                    .as_ref()
                    .is_some_and(|u| has_discouraged_code_points(u))
        }
        Packet::Publish(p) => has_discouraged_code_points(&p.topic),
        Packet::Subscribe(s) => s
            .filters
            .iter()
            .any(|f| has_discouraged_code_points(&f.filter)),
        Packet::Unsubscribe(u) => u.filters.iter().any(|f| has_discouraged_code_points(f)),
        _ => false,
    }
}

/// Why an accepted culprit is beyond a codec, or `None`.
fn out_of_reach(
    p: &Packet,
    index: usize,
    connect_first: bool,
    name: &str,
    version: ProtocolVersion,
) -> Option<&'static str> {
    if discouraged(p) {
        return Some("spec MAY: control or non-character code points (§1.5.4)");
    }
    match p {
        Packet::Connect(_) if connect_first || index > 0 => {
            Some("broker state: second CONNECT (MQTT-3.1.0-2)")
        }
        Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
            Some("broker state: a packet only servers send")
        }
        Packet::Connect(c) if c.client_id.is_empty() => {
            Some("server policy: empty client identifier")
        }
        Packet::Connect(c) if c.properties.authentication_method.is_some() => {
            Some("server policy: authentication method")
        }
        Packet::Connect(c) if c.properties.maximum_packet_size.is_some() => {
            Some("server policy: CONNACK does not fit the client's Maximum Packet Size")
        }
        Packet::Publish(p) if p.properties.topic_alias.is_some() => {
            Some("broker state: Topic Alias above the negotiated maximum or unknown")
        }
        Packet::Publish(p) if p.properties.subscription_identifiers.len() > 1 => {
            Some("direction: Subscription Identifiers in a client's PUBLISH (MQTT-3.3.4-6)")
        }
        Packet::Auth(_) => Some("broker state: AUTH without an authentication exchange"),
        Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubRel(_) | Packet::PubComp(_) => {
            Some("broker state: acknowledgement out of the QoS flow")
        }
        Packet::Disconnect(d)
            if version.is_v5() && d.properties.session_expiry_interval.is_some() =>
        {
            Some("broker state: Session Expiry Interval changed from 0 (MQTT-3.14.2-2)")
        }
        _ => {
            let _ = name;
            None
        }
    }
}

/// The MQTT 5.0 reason code in Mosquitto's answer, if it is a DISCONNECT or CONNACK.
fn answered_reason(recv: &[u8]) -> Option<u8> {
    match recv {
        [0xe0, 1, code] => Some(*code),
        [0xe0, _, code, ..] => Some(*code),
        [0x20, _, 0, code, ..] if recv.len() > 4 => Some(*code),
        _ => None,
    }
}

fn run_case(t: &Value, group: &str, tally: &mut Tally) {
    let name = format!("{group} / {}", t["name"].as_str().unwrap_or("?"));
    let ver = t["ver"].as_u64().unwrap_or(4);
    let connect_first = t["connect"].as_bool().unwrap_or(true);
    let expect_disconnect = t["expect_disconnect"].as_bool().unwrap_or(true);
    let msgs = t["msgs"].as_array().expect("msgs");
    let sends: Vec<usize> = msgs
        .iter()
        .enumerate()
        .filter(|(_, m)| m["type"] == "send")
        .map(|(i, _)| i)
        .collect();
    let culprit = if expect_disconnect {
        sends.last().copied()
    } else {
        None
    };
    let mut dec = if connect_first {
        StreamDecoder::new(version_of(ver), mqtt_codec::MAX_PACKET_SIZE)
    } else {
        StreamDecoder::detect_version(mqtt_codec::MAX_PACKET_SIZE)
    };
    tally.cases += 1;
    let mut packets_seen = 0;
    for (i, m) in msgs.iter().enumerate() {
        let bytes = match m["payload"].as_str() {
            Some(h) if m["type"] != "publish" => unhex(h),
            _ => continue,
        };
        if m["type"] == "recv" {
            let v = dec.version().unwrap_or(version_of(ver));
            let mut rdec = StreamDecoder::new(v, mqtt_codec::MAX_PACKET_SIZE);
            let (got, err, left) = decode_all(&mut rdec, &bytes);
            if err.is_some() || left > 0 || got.is_empty() {
                tally.mismatches.push(format!(
                    "{name}: broker's answer {} does not decode: {err:?}",
                    hex::encode(&bytes)
                ));
            } else {
                tally.recv_decoded += got.len();
            }
            continue;
        }
        let (got, err, left) = decode_all(&mut dec, &bytes);
        let version = dec.version().unwrap_or(version_of(ver));
        if Some(i) == culprit {
            let answer = msgs
                .get(i + 1)
                .filter(|n| n["type"] == "recv")
                .and_then(|n| n["payload"].as_str())
                .map(unhex);
            if let Some(e) = err {
                tally.rejected += 1;
                let ours = e.reason_code();
                if !SERVER_DECODE_CODES.contains(&ours.0) {
                    tally
                        .mismatches
                        .push(format!("{name}: {e} maps to {:#x}", ours.0));
                }
                // Compare with Mosquitto's MQTT 5.0 answer (3.1.1 has no reason codes).
                if let Some(code) = answer
                    .as_deref()
                    .filter(|_| version.is_v5())
                    .and_then(answered_reason)
                {
                    tally.reason_checked += 1;
                    if ours == ReasonCode(code) {
                        tally.reason_agrees += 1;
                    }
                }
            } else if let (0, Some((Packet::Disconnect(d), _))) = (
                left,
                got.last().filter(|_| version.is_v5() || got.len() == 1),
            ) {
                if server_only_disconnect(d.reason_code.0) {
                    *tally
                        .out_of_reach
                        .entry("direction: a DISCONNECT reason code only servers send")
                        .or_default() += 1;
                } else {
                    tally.disconnects += 1;
                    check_accepted(&name, version, &got, tally);
                }
            } else if left > 0 {
                *tally
                    .out_of_reach
                    .entry("incomplete packet: a broker waits for more bytes")
                    .or_default() += 1;
            } else if let Some((p, _)) = got.last() {
                let idx = packets_seen + got.len() - 1;
                match out_of_reach(p, idx, connect_first, &name, version) {
                    Some(why) => *tally.out_of_reach.entry(why).or_default() += 1,
                    None => tally
                        .mismatches
                        .push(format!("{name}: accepted {} as {p:?}", hex::encode(&bytes))),
                }
            }
            packets_seen += got.len();
            continue;
        }
        if let Some(e) = err {
            tally.mismatches.push(format!(
                "{name}: rejected {} which the broker accepts: {e}",
                hex::encode(&bytes)
            ));
            return;
        }
        check_accepted(&name, version, &got, tally);
        packets_seen += got.len();
    }
}

/// Must-accept packets decode and re-encode to the same bytes, or to a shorter
/// form that decodes to the same packet.
fn check_accepted(
    name: &str,
    version: ProtocolVersion,
    got: &[(Packet, Bytes)],
    tally: &mut Tally,
) {
    for (p, raw) in got {
        tally.accepted += 1;
        let mut out = Vec::new();
        if let Err(e) = p.encode(version, &mut out) {
            tally
                .mismatches
                .push(format!("{name}: {p:?} does not re-encode: {e}"));
            continue;
        }
        if out == raw[..] {
            tally.byte_identical += 1;
        } else if Packet::decode(version, Bytes::from(out.clone())).as_ref() == Ok(p) {
            tally.canonical += 1;
            println!(
                "  canonical re-encode: {name}: {} -> {}",
                hex::encode(raw),
                hex::encode(&out)
            );
        } else {
            tally.mismatches.push(format!(
                "{name}: re-encode of {} differs: {}",
                hex::encode(raw),
                hex::encode(&out)
            ));
        }
    }
}

#[test]
fn mosquitto_broker_sequences() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/conformance/mqtt-broker-sequences"
    ));
    if !dir.is_dir() {
        let _ = testkit::peers::missing::<()>("shared/conformance corpus");
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read corpus dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    let mut tally = Tally::default();
    for f in &files {
        let json: Value = serde_json::from_slice(&std::fs::read(f).expect("read")).expect("json");
        for g in json.as_array().expect("groups") {
            if g["disable"].as_bool() == Some(true) {
                continue;
            }
            let group = g["group"].as_str().unwrap_or("?");
            for t in g["tests"].as_array().expect("tests") {
                run_case(t, group, &mut tally);
            }
        }
    }
    let reach: usize = tally.out_of_reach.values().sum();
    println!("corpus: {} cases in {} files", tally.cases, files.len());
    println!(
        "  accepted packets decoded: {} ({} byte-identical re-encode, {} canonical re-encode)",
        tally.accepted, tally.byte_identical, tally.canonical
    );
    println!("  broker answers decoded: {}", tally.recv_decoded);
    println!(
        "  culprits that are a client's DISCONNECT, accepted: {}",
        tally.disconnects
    );
    println!(
        "  culprits rejected by the codec: {} (mosquitto answered a v5 reason code in {}, same code as ours in {})",
        tally.rejected, tally.reason_checked, tally.reason_agrees
    );
    println!("  culprits out of a codec's reach: {reach}");
    for (why, n) in &tally.out_of_reach {
        println!("    {n:4}  {why}");
    }
    println!("  mismatches: {}", tally.mismatches.len());
    for m in &tally.mismatches {
        println!("    {m}");
    }
    assert!(tally.cases > 1400, "corpus looks truncated");
    assert!(
        tally.mismatches.is_empty(),
        "{} mismatches",
        tally.mismatches.len()
    );
}
