//! Invariant checks for the fuzz targets (`fuzz/fuzz_targets/mqtt_*.rs`)
//! and the corpus replay tests.

use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

use crate::packet::{LazyPacket, Packet};
use crate::stream::StreamDecoder;
use crate::version::ProtocolVersion;

/// Re-encodes a decoded packet and checks it decodes to the same value and
/// that encoding is stable.
fn check_round_trip(version: ProtocolVersion, packet: &Packet) {
    let mut first = Vec::new();
    packet
        .encode(version, &mut first)
        .unwrap_or_else(|e| panic!("decoded packet does not re-encode: {e} {packet:?}"));
    let again = Packet::decode(version, Bytes::from(first.clone()))
        .unwrap_or_else(|e| panic!("re-encoded packet does not decode: {e} {packet:?}"));
    assert_eq!(&again, packet, "round trip changed the packet");
    let mut second = Vec::new();
    again.encode(version, &mut second).expect("second encode");
    assert_eq!(first, second, "encoding is not stable");
}

/// One-shot decode: the first byte picks the version (even: 3.1.1, odd: 5.0),
/// the rest is the frame.
pub fn mqtt_packet(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let version = if first & 1 == 0 {
        ProtocolVersion::V3_1_1
    } else {
        ProtocolVersion::V5
    };
    if let Ok(packet) = Packet::decode(version, Bytes::copy_from_slice(rest)) {
        check_round_trip(version, &packet);
    }
    check_lazy_agrees(version, rest);
}

/// `decode_lazy`, `decode` and `decode`'s general path (no PUBLISH fast
/// path) give the same packet or the same error for the first frame of `bytes`, and a lazy PUBLISH's accessors agree with
/// the owned [`crate::Publish`] it turns into.
fn check_lazy_agrees(version: ProtocolVersion, bytes: &[u8]) {
    let mut a = BytesMut::from(bytes);
    let mut b = BytesMut::from(bytes);
    let mut c = BytesMut::from(bytes);
    let lazy = StreamDecoder::new(version, 1 << 16).decode_lazy(&mut a);
    let strict = StreamDecoder::new(version, 1 << 16).decode(&mut b);
    let general = StreamDecoder::new(version, 1 << 16).decode_general(&mut c);
    assert_eq!(a, b, "lazy and strict decode consumed different lengths");
    assert_eq!(b, c, "fast and general path consumed different lengths");
    assert_eq!(strict, general, "fast and general path differ");
    if let Ok(Some(LazyPacket::Publish(p))) = &lazy {
        check_publish_frame(p);
    }
    assert_eq!(lazy.map(|p| p.map(LazyPacket::into_packet)), strict);
}

fn check_publish_frame(p: &crate::PublishFrame) {
    let owned = p.clone().into_publish();
    assert_eq!(p.topic(), owned.topic.as_str());
    assert_eq!(p.topic_bytes(), &owned.topic.as_bytes()[..]);
    assert_eq!(p.topic_string(), owned.topic);
    assert_eq!(p.payload(), &owned.payload[..]);
    assert_eq!(p.payload_bytes(), owned.payload);
    assert_eq!(
        (p.dup(), p.qos(), p.retain(), p.packet_id()),
        (owned.dup, owned.qos, owned.retain, owned.packet_id)
    );
    assert_eq!(p.topic_alias(), owned.properties.topic_alias);
    assert_eq!(p.has_properties(), !owned.properties.is_empty());
    assert_eq!(p.properties(), owned.properties);
}

/// Stream decode: the first byte picks the version (bits 0-1: 3.1.1, 5.0,
/// detect, 5.0) and the chunk size (bits 2-7, plus one); the rest is fed in
/// chunks through `decode_lazy`. The packets must equal those `decode` gets
/// from the whole input at once.
pub fn mqtt_stream_chunks(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first >> 2) + 1;
    let make = || match first & 3 {
        0 => StreamDecoder::new(ProtocolVersion::V3_1_1, 1 << 16),
        2 => StreamDecoder::detect_version(1 << 16),
        _ => StreamDecoder::new(ProtocolVersion::V5, 1 << 16),
    };
    let whole = {
        let mut dec = make();
        let mut buf = BytesMut::from(rest);
        let mut out = Vec::new();
        let mut end = None;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(p)) => out.push((p, dec.version())),
                Ok(None) => break,
                Err(e) => {
                    end = Some(e);
                    break;
                }
            }
        }
        (out, end)
    };
    let mut dec = make();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut end = None;
    // The chunked pass goes through `decode_lazy`: it must agree with `decode`.
    'feed: for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode_lazy(&mut buf) {
                Ok(Some(p)) => {
                    if let LazyPacket::Publish(f) = &p {
                        check_publish_frame(f);
                    }
                    out.push((p.into_packet(), dec.version()));
                }
                Ok(None) => break,
                Err(e) => {
                    end = Some(e);
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(out, whole.0, "chunked decode differs from whole decode");
    assert_eq!(end, whole.1, "chunked decode ends differently");
    for (p, v) in &out {
        check_round_trip(v.unwrap_or(ProtocolVersion::V5), p);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::path::Path;

    fn replay(target: &str, f: fn(&[u8])) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            f(&std::fs::read(&path).expect("read corpus file"));
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    #[test]
    fn replay_corpus() {
        replay("mqtt_packet", super::mqtt_packet);
        replay("mqtt_stream_chunks", super::mqtt_stream_chunks);
    }
}
