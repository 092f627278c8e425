//! Datagrams captured from the PyPI MQTT-SN v1.2 client `mqtt-sn-12` (see
//! `tests/fixtures/README.md`): each decodes to the expected message and
//! re-encodes to the same bytes.

use std::path::Path;

use bytes::Bytes;
use mqttsn_codec::{
    Connect, Disconnect, Frame, Message, PingReq, PubRel, Publish, QoS, RegAck, Register,
    ReturnCode, SearchGw, Subscribe, Topic, Unsubscribe, WillMsg, WillMsgUpd, WillTopic,
};

/// `(from_client, datagram)` for every line of a fixture file.
fn load(scenario: &str) -> Vec<(bool, Bytes)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mqtt-sn-12")
        .join(format!("{scenario}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (dir, hex) = l.split_once("> ").expect("`c> hex` or `g> hex`");
            let bytes = hex::decode(hex.trim()).expect("hex");
            (dir == "c", Bytes::from(bytes))
        })
        .collect()
}

/// Every datagram decodes and re-encodes byte for byte; returns the client's.
fn client_messages(scenario: &str) -> Vec<Message> {
    let mut out = Vec::new();
    for (from_client, datagram) in load(scenario) {
        let frame = Frame::decode(datagram.clone())
            .unwrap_or_else(|e| panic!("{scenario}: {datagram:02x?}: {e}"));
        assert_eq!(
            frame.to_bytes().unwrap(),
            datagram,
            "{scenario}: re-encoding"
        );
        let Frame::Message(msg) = frame else {
            panic!("{scenario}: unexpected encapsulation")
        };
        if from_client {
            out.push(msg);
        }
    }
    out
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn connect(client_id: &'static str, duration: u16, will: bool) -> Message {
    Connect {
        will,
        clean_session: true,
        duration,
        client_id: b(client_id),
    }
    .into()
}

fn register(topic: &'static str) -> Message {
    Register {
        topic_id: 0,
        msg_id: 1,
        topic_name: b(topic),
    }
    .into()
}

fn publish(qos: QoS, retain: bool, topic: Topic, msg_id: u16, data: Bytes) -> Message {
    Publish {
        dup: false,
        qos,
        retain,
        topic,
        msg_id,
        data,
    }
    .into()
}

fn disconnect() -> Message {
    Disconnect::default().into()
}

#[test]
fn pub_qos0_registers_then_publishes() {
    assert_eq!(
        client_messages("pub_qos0"),
        [
            connect("fixture-pub", 30, false),
            register("sensors/temp"),
            publish(QoS::AtMostOnce, false, Topic::Id(1), 0, b("21.5")),
            disconnect(),
        ]
    );
}

#[test]
fn pub_qos1_retained() {
    assert_eq!(
        client_messages("pub_qos1_retain"),
        [
            connect("fixture-pub", 30, false),
            register("sensors/temp"),
            publish(QoS::AtLeastOnce, true, Topic::Id(1), 2, b("21.5")),
            disconnect(),
        ]
    );
}

#[test]
fn pub_qos2_releases_after_pubrec() {
    assert_eq!(
        client_messages("pub_qos2"),
        [
            connect("fixture-pub", 30, false),
            register("sensors/temp"),
            publish(QoS::ExactlyOnce, false, Topic::Id(1), 2, b("21.5")),
            PubRel { msg_id: 2 }.into(),
            disconnect(),
        ]
    );
}

#[test]
fn pub_to_a_short_topic_name() {
    assert_eq!(
        client_messages("pub_short_topic"),
        [
            connect("fixture-pub", 30, false),
            publish(QoS::AtLeastOnce, false, Topic::Short(*b"ab"), 1, b("x")),
            disconnect(),
        ]
    );
}

#[test]
fn pub_to_a_predefined_topic() {
    assert_eq!(
        client_messages("pub_predefined"),
        [
            connect("fixture-pub", 30, false),
            publish(QoS::AtMostOnce, false, Topic::Predefined(5), 0, b("on")),
            disconnect(),
        ]
    );
}

#[test]
fn pub_qos_minus_one_needs_no_connection() {
    assert_eq!(
        client_messages("pub_qos_minus_one"),
        [publish(
            QoS::MinusOne,
            false,
            Topic::Predefined(5),
            0,
            b("on")
        )]
    );
}

#[test]
fn pub_with_will_then_sleep() {
    assert_eq!(
        client_messages("pub_will_sleep"),
        [
            connect("fixture-pub", 120, true),
            Message::WillTopic(Some(WillTopic {
                qos: QoS::AtLeastOnce,
                retain: true,
                topic: b("will/fixture"),
            })),
            WillMsg {
                will_msg: b("gone")
            }
            .into(),
            register("sensors/temp"),
            publish(QoS::AtMostOnce, false, Topic::Id(1), 0, b("21.5")),
            Disconnect {
                duration: Some(600)
            }
            .into(),
        ]
    );
}

#[test]
fn pub_long_payload_uses_the_three_octet_length() {
    let datagrams = load("pub_long_payload");
    assert!(datagrams.iter().any(|(c, d)| *c && d[0] == 0x01));
    assert_eq!(
        client_messages("pub_long_payload"),
        [
            connect("fixture-pub", 30, false),
            register("sensors/blob"),
            publish(
                QoS::AtMostOnce,
                false,
                Topic::Id(1),
                0,
                Bytes::from(vec![b'x'; 300])
            ),
            disconnect(),
        ]
    );
}

#[test]
fn pub_empty_payload() {
    assert_eq!(
        client_messages("pub_empty_payload"),
        [
            connect("fixture-pub", 30, false),
            register("sensors/temp"),
            publish(QoS::AtMostOnce, false, Topic::Id(1), 0, Bytes::new()),
            disconnect(),
        ]
    );
}

#[test]
fn sub_to_a_wildcard_acknowledges_the_register() {
    assert_eq!(
        client_messages("sub_wildcard"),
        [
            connect("fixture-sub", 30, false),
            Subscribe {
                dup: false,
                qos: QoS::AtLeastOnce,
                msg_id: 1,
                topic: Topic::Name(b("sensors/+")),
            }
            .into(),
            RegAck {
                topic_id: 0x21,
                msg_id: 1,
                return_code: ReturnCode::Accepted,
            }
            .into(),
            disconnect(),
        ]
    );
}

#[test]
fn api_session_covers_discovery_ping_unsubscribe_and_will_updates() {
    assert_eq!(
        client_messages("api_session"),
        [
            SearchGw { radius: 1 }.into(),
            connect("fixture-api", 60, false),
            PingReq::default().into(),
            Subscribe {
                dup: false,
                qos: QoS::ExactlyOnce,
                msg_id: 1,
                topic: Topic::Predefined(7),
            }
            .into(),
            Unsubscribe {
                msg_id: 2,
                topic: Topic::Predefined(7),
            }
            .into(),
            Subscribe {
                dup: false,
                qos: QoS::AtLeastOnce,
                msg_id: 3,
                topic: Topic::Short(*b"ab"),
            }
            .into(),
            Unsubscribe {
                msg_id: 4,
                topic: Topic::Short(*b"ab"),
            }
            .into(),
            Unsubscribe {
                msg_id: 5,
                topic: Topic::Name(b("sensors/temp")),
            }
            .into(),
            Message::WillTopicUpd(Some(WillTopic {
                qos: QoS::AtMostOnce,
                retain: false,
                topic: b("will/new"),
            })),
            WillMsgUpd { will_msg: b("bye") }.into(),
            disconnect(),
        ]
    );
}
