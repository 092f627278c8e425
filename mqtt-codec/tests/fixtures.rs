//! Packets captured from mosquitto_pub, mosquitto_sub and paho-mqtt talking to
//! mosquitto (see `fixtures/README.md`): every one decodes, the client side
//! with version detection, and re-encodes to the same bytes, or (where the
//! sender orders properties differently from our identifier order) to bytes
//! that decode to the same packet.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Packet, ProtocolVersion, StreamDecoder};

struct Outcome {
    packets: usize,
    identical: usize,
    reordered: usize,
}

fn check_file(path: &Path) -> Outcome {
    let text = std::fs::read_to_string(path).expect("read fixture");
    let level: u8 = text
        .lines()
        .find_map(|l| l.strip_prefix("# version "))
        .and_then(|v| v.trim().parse().ok())
        .expect("version header");
    let version = ProtocolVersion::from_level(level).expect("known level");
    let mut client = StreamDecoder::detect_version(1 << 20);
    let mut server = StreamDecoder::new(version, 1 << 20);
    let mut out = Outcome {
        packets: 0,
        identical: 0,
        reordered: 0,
    };
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (dir, hex) = line.split_once(' ').expect("direction and hex");
        let raw = hex::decode(hex).expect("hex");
        let dec = if dir == "c2s" {
            &mut client
        } else {
            &mut server
        };
        let mut buf = BytesMut::from(&raw[..]);
        let packet = dec
            .decode(&mut buf)
            .unwrap_or_else(|e| panic!("{name}: {dir} {hex}: {e}"))
            .unwrap_or_else(|| panic!("{name}: {dir} {hex}: incomplete"));
        assert!(buf.is_empty(), "{name}: one packet per line");
        let mut again = Vec::new();
        packet
            .encode(version, &mut again)
            .unwrap_or_else(|e| panic!("{name}: {packet:?}: {e}"));
        out.packets += 1;
        if again == raw {
            out.identical += 1;
        } else {
            let back =
                Packet::decode(version, Bytes::from(again.clone())).expect("re-encoded decodes");
            assert_eq!(
                back,
                packet,
                "{name}: {hex} re-encoded as {}",
                hex::encode(&again)
            );
            assert_eq!(
                again.len(),
                raw.len(),
                "{name}: same content, other order: {hex}"
            );
            out.reordered += 1;
        }
    }
    assert_eq!(
        client.version(),
        Some(version),
        "{name}: version detected from CONNECT"
    );
    out
}

#[test]
fn captured_client_and_broker_packets_round_trip() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "fixtures missing");
    let (mut total, mut identical) = (0, 0);
    for f in &files {
        let o = check_file(f);
        println!(
            "{}: {} packets, {} byte-identical, {} with properties reordered",
            f.file_name().unwrap().to_string_lossy(),
            o.packets,
            o.identical,
            o.reordered
        );
        total += o.packets;
        identical += o.identical;
    }
    assert!(total > 60);
    assert!(
        identical * 10 >= total * 8,
        "most packets re-encode byte for byte"
    );
}
