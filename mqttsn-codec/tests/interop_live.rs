//! Live interop with the PyPI MQTT-SN v1.2 client `mqtt-sn-12` (CLIs
//! `mqtt_sn_pub` / `mqtt_sn_sub`): a small gateway built on this codec, on an
//! ephemeral UDP port of 127.0.0.1, decodes what the client sends and answers
//! with messages this codec encodes. The client exiting with success proves it
//! parsed our CONNACK, WILLTOPICREQ, WILLMSGREQ, REGACK, PUBACK, PUBREC,
//! PUBCOMP, SUBACK, REGISTER, PUBLISH and DISCONNECT.
//!
//! Outside CI a missing client prints why and skips; with `CI=true` it fails.
// Wall-clock timeouts bound the exchange with a real process.
#![allow(clippy::disallowed_methods)]

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqttsn_codec::{
    ConnAck, Disconnect, Message, PubAck, PubComp, PubRec, Publish, QoS, RegAck, Register,
    ReturnCode, SubAck, Topic,
};
use testkit::peers::{find_binary, missing};

const REGISTERED_ID: u16 = 1;
const WILDCARD_MATCH_ID: u16 = 0x21;

/// What the gateway answers to one message from the client.
fn answer(msg: &Message) -> Vec<Message> {
    match msg {
        Message::Connect(c) if c.will => vec![Message::WillTopicReq],
        Message::WillTopic(_) => vec![Message::WillMsgReq],
        Message::Connect(_) | Message::WillMsg(_) => vec![ConnAck::default().into()],
        Message::Register(r) => vec![RegAck {
            topic_id: REGISTERED_ID,
            msg_id: r.msg_id,
            return_code: ReturnCode::Accepted,
        }
        .into()],
        Message::Publish(p) if p.qos == QoS::AtLeastOnce => vec![PubAck {
            topic_id: match p.topic {
                Topic::Id(id) | Topic::Predefined(id) => id,
                Topic::Short(name) => u16::from_be_bytes(name),
                _ => 0,
            },
            msg_id: p.msg_id,
            return_code: ReturnCode::Accepted,
        }
        .into()],
        Message::Publish(p) if p.qos == QoS::ExactlyOnce => {
            vec![PubRec { msg_id: p.msg_id }.into()]
        }
        Message::PubRel(r) => vec![PubComp { msg_id: r.msg_id }.into()],
        Message::Subscribe(s) => vec![
            SubAck {
                qos: s.qos,
                topic_id: 0,
                msg_id: s.msg_id,
                return_code: ReturnCode::Accepted,
            }
            .into(),
            Register {
                topic_id: WILDCARD_MATCH_ID,
                msg_id: 1,
                topic_name: Bytes::from_static(b"sensors/temp"),
            }
            .into(),
            Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: Topic::Id(WILDCARD_MATCH_ID),
                msg_id: 0,
                data: Bytes::from_static(b"from-rust-gateway"),
            }
            .into(),
        ],
        Message::PingReq(_) => vec![Message::PingResp],
        Message::Disconnect(_) => vec![Disconnect::default().into()],
        _ => Vec::new(),
    }
}

/// Runs `program args` (with `PORT` replaced) against the gateway; returns
/// what the client sent and its output. Bounded by 30 seconds.
fn run(program: &str, args: &[&str]) -> Option<(Vec<Message>, Output)> {
    let Some(bin) = find_binary(&[program]) else {
        return missing(&format!("{program} (PyPI package mqtt-sn-12)"));
    };
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("read timeout");
    let port = sock.local_addr().expect("local addr").port().to_string();
    let mut child: Child = Command::new(bin)
        .args(args.iter().map(|a| if *a == "PORT" { &port } else { *a }))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the client");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut received = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} did not finish within 30 s; got {received:?}");
        }
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let datagram = Bytes::copy_from_slice(&buf[..n]);
                let msg = Message::decode(datagram.clone())
                    .unwrap_or_else(|e| panic!("{program} sent {datagram:02x?}: {e}"));
                for reply in answer(&msg) {
                    let bytes = reply.to_bytes().expect("encode reply");
                    sock.send_to(&bytes, from).expect("send reply");
                }
                received.push(msg);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if child.try_wait().expect("wait for the client").is_some() {
                    break;
                }
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
    let output = child.wait_with_output().expect("client output");
    assert!(
        output.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some((received, output))
}

fn types(msgs: &[Message]) -> Vec<&'static str> {
    msgs.iter().map(|m| m.msg_type().name()).collect()
}

const PUB: [&str; 6] = ["-h", "127.0.0.1", "-p", "PORT", "-i", "live-pub"];

#[test]
fn client_publishes_at_every_qos_through_our_gateway() {
    for (qos, flow) in [
        ("0", &["CONNECT", "REGISTER", "PUBLISH", "DISCONNECT"][..]),
        ("1", &["CONNECT", "REGISTER", "PUBLISH", "DISCONNECT"][..]),
        (
            "2",
            &["CONNECT", "REGISTER", "PUBLISH", "PUBREL", "DISCONNECT"][..],
        ),
    ] {
        let mut args = PUB.to_vec();
        args.extend(["-q", qos, "-t", "sensors/temp", "-m", "21.5"]);
        let Some((got, _)) = run("mqtt_sn_pub", &args) else {
            return;
        };
        assert_eq!(types(&got), flow, "qos {qos}");
        let Message::Publish(p) = &got[2] else {
            panic!("not a PUBLISH: {:?}", got[2])
        };
        assert_eq!(p.topic, Topic::Id(REGISTERED_ID));
        assert_eq!(p.data, "21.5");
    }
}

#[test]
fn client_sends_its_will_when_our_gateway_asks() {
    let mut args = PUB.to_vec();
    args.extend([
        "-q",
        "0",
        "--will-topic",
        "will/live",
        "--will-payload",
        "gone",
        "-t",
        "ab",
        "-m",
        "x",
        "-e",
        "30",
    ]);
    let Some((got, _)) = run("mqtt_sn_pub", &args) else {
        return;
    };
    assert_eq!(
        types(&got),
        ["CONNECT", "WILLTOPIC", "WILLMSG", "PUBLISH", "DISCONNECT"]
    );
    assert_eq!(got[4], Disconnect { duration: Some(30) }.into());
}

#[test]
fn client_receives_a_publish_registered_by_our_gateway() {
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        "PORT",
        "-i",
        "live-sub",
        "-q",
        "0",
        "-1",
        "-t",
        "sensors/+",
    ];
    let Some((got, output)) = run("mqtt_sn_sub", &args) else {
        return;
    };
    assert_eq!(
        types(&got),
        ["CONNECT", "SUBSCRIBE", "REGACK", "DISCONNECT"]
    );
    assert_eq!(
        got[2],
        RegAck {
            topic_id: WILDCARD_MATCH_ID,
            msg_id: 1,
            return_code: ReturnCode::Accepted
        }
        .into()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("from-rust-gateway"), "stdout: {stdout}");
}
