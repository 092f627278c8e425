//! Raw codec packets over TCP to a real mosquitto; every answer is decoded.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Ack, Connect, Packet, Properties, ProtocolVersion, Publish, QoS, ReasonCode, StreamDecoder,
    Subscribe, Subscription, SubscriptionOptions, Utf8String,
};
use testkit::peers::Mosquitto;

struct Conn {
    stream: TcpStream,
    dec: StreamDecoder,
    buf: BytesMut,
    version: ProtocolVersion,
}

impl Conn {
    fn open(broker: &Mosquitto, version: ProtocolVersion) -> Self {
        let stream = TcpStream::connect(broker.addr()).expect("connect to mosquitto");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Self {
            stream,
            dec: StreamDecoder::new(version, 1 << 20),
            buf: BytesMut::new(),
            version,
        }
    }

    fn send(&mut self, p: &Packet) {
        let mut out = Vec::new();
        p.encode(self.version, &mut out).expect("encode");
        self.stream.write_all(&out).expect("write");
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// The next packet, or `None` at end of stream. Panics after 25 read
    /// timeouts of 200 ms (5 s).
    fn recv(&mut self) -> Option<Packet> {
        for _ in 0..25 {
            if let Some(p) = self
                .dec
                .decode(&mut self.buf)
                .expect("mosquitto's packet decodes")
            {
                return Some(p);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
        panic!("no packet from mosquitto within 5 s");
    }
}

fn s(x: &str) -> Utf8String {
    Utf8String::try_from(x).expect("valid string")
}

#[test]
fn v5_session_with_qos2_flow_and_malformed_packet() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let mut c = Conn::open(&broker, ProtocolVersion::V5);
    let mut connect = Connect::new(ProtocolVersion::V5);
    connect.client_id = s("mqtt-codec-interop");
    connect.keep_alive = 30;
    connect.properties = Properties {
        session_expiry_interval: Some(0),
        receive_maximum: Some(10),
        topic_alias_maximum: Some(5),
        request_problem_information: Some(true),
        user_properties: vec![(s("origin"), s("m2m-rs"))],
        ..Properties::default()
    }
    .into();
    c.send(&Packet::Connect(Box::new(connect)));
    let Some(Packet::ConnAck(ack)) = c.recv() else {
        panic!("expected CONNACK")
    };
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    assert!(!ack.session_present);

    let mut sub = Subscribe::new(
        1,
        vec![Subscription {
            filter: s("codec/test/#"),
            options: SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                ..SubscriptionOptions::default()
            },
        }],
    );
    sub.properties.subscription_identifiers = vec![7];
    c.send(&Packet::Subscribe(sub));
    let Some(Packet::SubAck(suback)) = c.recv() else {
        panic!("expected SUBACK")
    };
    assert_eq!(
        (suback.packet_id, suback.reason_codes.as_slice()),
        (1, &[ReasonCode::GRANTED_QOS_2][..])
    );

    let mut publish = Publish::new(s("codec/test/a"), Bytes::from_static(b"exactly once"))
        .with_qos(QoS::ExactlyOnce, 42);
    publish.properties.content_type = Some(s("text/plain"));
    publish.properties.user_properties = vec![(s("k"), s("v1")), (s("k"), s("v2"))];
    c.send(&Packet::Publish(publish.clone()));

    // Our QoS 2 flow as sender, and mosquitto's delivery to our subscription.
    let (mut our_flow_done, mut delivered) = (false, None);
    let mut delivery_done = false;
    for _ in 0..10 {
        if our_flow_done && delivery_done {
            break;
        }
        match c.recv().expect("connection open") {
            Packet::PubRec(a) if a.packet_id == 42 => c.send(&Packet::PubRel(Ack::new(42))),
            Packet::PubComp(a) if a.packet_id == 42 => our_flow_done = true,
            Packet::Publish(p) => {
                c.send(&Packet::PubRec(Ack::new(p.packet_id)));
                delivered = Some(p);
            }
            Packet::PubRel(a) => {
                c.send(&Packet::PubComp(Ack::new(a.packet_id)));
                delivery_done = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        our_flow_done && delivery_done,
        "QoS 2 flows did not complete"
    );
    let got = delivered.expect("delivery");
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.qos),
        ("codec/test/a", &b"exactly once"[..], QoS::ExactlyOnce)
    );
    assert_eq!(got.properties.subscription_identifiers, vec![7]);
    assert_eq!(got.properties.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        got.properties.user_properties, publish.properties.user_properties,
        "user properties keep their order"
    );

    // A malformed packet: PUBLISH with QoS 3. Mosquitto answers DISCONNECT 0x81 and closes.
    c.send_raw(&[
        0x36, 0x0f, 0x00, 0x05, b't', b'o', b'p', b'i', b'c', 0x12, 0x34, 0x00, b'p', b'a', b'y',
        b'l', b'd',
    ]);
    let ours = Packet::decode(
        ProtocolVersion::V5,
        Bytes::from_static(&[0x36, 0x03, 0, 1, b'a']),
    )
    .unwrap_err();
    match c.recv() {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, ReasonCode::MALFORMED_PACKET);
            assert_eq!(
                d.reason_code,
                ours.reason_code(),
                "our decoder maps QoS 3 to the same code"
            );
            assert_eq!(c.recv(), None, "mosquitto closes after DISCONNECT");
        }
        None => {}
        Some(other) => panic!("expected DISCONNECT, got {other:?}"),
    }
}

#[test]
fn v3_1_1_and_v3_1_connections_ping() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V3_1] {
        let mut c = Conn::open(&broker, version);
        let mut connect = Connect::new(version);
        connect.client_id = s("interop-v3");
        c.send(&Packet::Connect(Box::new(connect)));
        let Some(Packet::ConnAck(ack)) = c.recv() else {
            panic!("expected CONNACK")
        };
        assert_eq!(ack.reason_code, ReasonCode::SUCCESS, "{version:?}");
        c.send(&Packet::PingReq);
        assert_eq!(c.recv(), Some(Packet::PingResp));
        c.send(&Packet::Subscribe(Subscribe::new(
            3,
            vec![Subscription::new(s("x/+"), QoS::AtLeastOnce)],
        )));
        let Some(Packet::SubAck(sa)) = c.recv() else {
            panic!("expected SUBACK")
        };
        assert_eq!(sa.reason_codes, vec![ReasonCode::GRANTED_QOS_1]);
        c.send(&Packet::Publish(
            Publish::new(s("x/y"), Bytes::from_static(b"1")).with_qos(QoS::AtLeastOnce, 9),
        ));
        let mut seen = (false, false);
        for _ in 0..4 {
            match c.recv().expect("open") {
                Packet::PubAck(a) if a.packet_id == 9 => seen.0 = true,
                Packet::Publish(p) => {
                    assert_eq!(p.topic.as_str(), "x/y");
                    c.send(&Packet::PubAck(Ack::new(p.packet_id)));
                    seen.1 = true;
                }
                other => panic!("unexpected {other:?}"),
            }
            if seen == (true, true) {
                break;
            }
        }
        assert_eq!(seen, (true, true));
        c.send(&Packet::Disconnect(mqtt_codec::Disconnect::default()));
        assert_eq!(c.recv(), None);
    }
}
