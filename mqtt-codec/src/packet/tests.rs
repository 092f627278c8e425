//! Packet examples from the specifications, error cases and proptest round trips.

use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;
use proptest::prelude::*;

use crate::error::DecodeError;
use crate::fixed_header::PacketType;
use crate::packet::*;
use crate::primitives::Utf8String;
use crate::property::{Properties, Props};
use crate::qos::QoS;
use crate::reason_code::ReasonCode;
use crate::topic::TopicError;
use crate::version::ProtocolVersion::{self, V3_1, V3_1_1, V5};

fn dec(v: ProtocolVersion, hex: &str) -> Result<Packet, DecodeError> {
    Packet::decode(
        v,
        Bytes::from(hex::decode(hex.replace(' ', "")).expect("hex")),
    )
}

fn enc(v: ProtocolVersion, p: &Packet) -> String {
    let mut out = Vec::new();
    p.encode(v, &mut out).expect("encode");
    hex::encode(out)
}

use alloc::string::String;

#[test]
fn publish_decodes_zero_copy_and_re_encodes() {
    let frame = "32100005746f7069631234 7061796c6f6164".replace(' ', "");
    let Packet::Publish(p) = dec(V3_1_1, &frame).unwrap() else {
        panic!()
    };
    assert_eq!(
        (p.topic.as_str(), p.packet_id, p.qos),
        ("topic", 0x1234, QoS::AtLeastOnce)
    );
    assert_eq!(&p.payload[..], b"payload");
    assert_eq!(enc(V3_1_1, &Packet::Publish(p)), frame);
}

#[test]
fn v5_connect_with_properties_and_will() {
    // CONNECT, level 5, clean start, will QoS 1 retain, user name and password,
    // Session Expiry 10, Receive Maximum 20; will with Will Delay 5.
    let frame = "10 2b 0004 4d515454 05 ee 003c 08 110000000a 210014 0002 6964 05 1800000005 0001 74 0002 6869 0001 75 0002 7077";
    let Packet::Connect(c) = dec(V5, frame).unwrap() else {
        panic!()
    };
    assert_eq!(c.protocol_version, V5);
    assert_eq!(c.properties.session_expiry_interval, Some(10));
    assert_eq!(c.properties.receive_maximum, Some(20));
    let will = c.will.as_ref().unwrap();
    assert_eq!(
        (will.topic.as_str(), will.qos, will.retain),
        ("t", QoS::AtLeastOnce, true)
    );
    assert_eq!(will.properties.will_delay_interval, Some(5));
    assert_eq!(c.username.as_deref(), Some("u"));
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
    assert_eq!(enc(V5, &Packet::Connect(c)), frame.replace(' ', ""));
}

#[test]
fn mqtt_3_1_connect_is_mqisdp_level_3() {
    let frame = "10 0f 0006 4d5149736470 03 02 000a 0001 70";
    let Packet::Connect(c) = dec(V3_1_1, frame).unwrap() else {
        panic!()
    };
    assert_eq!(c.protocol_version, V3_1);
    assert_eq!(enc(V3_1, &Packet::Connect(c)), frame.replace(' ', ""));
}

#[test]
fn connect_flag_rules() {
    let e = |flags: &str| {
        dec(
            V3_1_1,
            &alloc::format!("10 0d 0004 4d515454 04 {flags} 000a 0001 70"),
        )
    };
    assert_eq!(e("03"), Err(DecodeError::InvalidConnectFlags { flags: 3 }));
    assert_eq!(
        e("0a"),
        Err(DecodeError::InvalidConnectFlags { flags: 0x0a })
    );
    assert_eq!(
        e("22"),
        Err(DecodeError::InvalidConnectFlags { flags: 0x22 })
    );
    assert_eq!(
        e("42"),
        Err(DecodeError::InvalidConnectFlags { flags: 0x42 })
    );
    assert!(matches!(
        dec(V3_1_1, "10 0d 0004 4d515455 04 02 000a 0001 70"),
        Err(DecodeError::InvalidProtocolName)
    ));
    assert!(matches!(
        dec(V3_1_1, "10 0d 0004 4d515454 06 02 000a 0001 70"),
        Err(DecodeError::UnsupportedProtocolLevel { level: 6 })
    ));
    assert!(matches!(
        dec(V3_1_1, "12 0d 0004 4d515454 04 02 000a 0001 70"),
        Err(DecodeError::InvalidHeaderFlags { .. })
    ));
}

/// The PUBLISH error cases through `decode_lazy`: same errors as `decode`.
#[test]
fn lazy_publish_errors_match_decode() {
    let cases: &[(ProtocolVersion, &str)] = &[
        (V3_1_1, "36 0e 0005 746f706963 7061796c6f6164"),
        (V3_1_1, "38 0e 0005 746f706963 7061796c6f6164"),
        (V3_1_1, "32 10 0005 746f706963 0000 7061796c6f6164"),
        (V3_1_1, "30 0e 0005 2b6f706963 7061796c6f6164"),
        (V3_1_1, "30 0e 0005 746f702363 7061796c6f6164"),
        (V3_1_1, "30 0e 0005 746f700063 7061796c6f6164"),
        (V3_1_1, "30 09 0000 7061796c6f6164"),
        (V3_1_1, "30 04 0005 7468"),
        (V3_1_1, "32 06 0003 612f62 00"),
        (V5, "30 0f 0005 746feda080 00 7061796c6f6164"),
        (V5, "30 0f 0005 746fc3a963 00 7061796c6f6164"),
        (V5, "30 06 0000 03 230001"),
        (V5, "30 06 0000 03 230000"),
        (V5, "30 06 0000 03 240001"),
        (V5, "30 06 0000 03 7f0001"),
        (V5, "30 08 0001 61 05 0101 0101"),
        (V5, "30 06 0001 61 03 0102"),
        (V5, "30 08 0001 61 05 230001 2300"),
        (V5, "30 09 0001 61 06 230001 230002"),
        (V5, "30 07 0001 61 04 0b00 0b01"),
        (V5, "30 09 0001 61 06 0b01 0b02 0b03"),
        (V5, "30 09 0001 61 06 08 0003 612f23"),
        (V5, "30 06 0001 61 03 08 0000"),
        (V5, "30 09 0001 61 06 03 0003 61 00 62"),
        (V5, "30 0b 0001 61 08 26 0001 61 0002 c328"),
        (V5, "30 0b 0001 61 08 26 0001 61 0002 6162 ff"),
        (V5, "30 06 0001 61 09 0101"),
        (V5, "30 07 0001 61 80 01 0101"),
        (V5, "30 08 0001 61 05 0900 02 6162"),
        (V5, "30 0a 0001 61 07 0200 0000 3c 01 01"),
        (V5, "30 07 0001 61 04 0b 80 80 80 80"),
    ];
    for &(v, hex) in cases {
        let bytes = hex::decode(hex.replace(' ', "")).expect("hex");
        let mut a = bytes::BytesMut::from(&bytes[..]);
        let mut b = a.clone();
        let lazy = crate::StreamDecoder::new(v, 1 << 16).decode_lazy(&mut a);
        let strict = crate::StreamDecoder::new(v, 1 << 16).decode(&mut b);
        assert_eq!(
            lazy.map(|p| p.map(LazyPacket::into_packet)),
            strict,
            "{hex}"
        );
        assert_eq!(a, b, "{hex}");
        crate::fuzzing::mqtt_packet(
            &[[0u8, 1][usize::from(v == V5)]]
                .iter()
                .chain(&bytes)
                .copied()
                .collect::<Vec<_>>(),
        );
    }
}

#[test]
fn publish_frame_reads_fields_from_the_frame() {
    let mut p = Publish::new(Utf8String::from_static("a/b/ü"), Bytes::from_static(b"xyz"))
        .with_qos(QoS::ExactlyOnce, 513)
        .with_retain(true);
    p.dup = true;
    p.properties.topic_alias = Some(9);
    p.properties.content_type = Some(Utf8String::from_static("text/plain"));
    p.properties.user_properties =
        vec![(Utf8String::from_static("k"), Utf8String::from_static("v"))];
    let mut wire = bytes::BytesMut::new();
    Packet::Publish(p.clone()).encode(V5, &mut wire).unwrap();
    let frame = wire.clone().freeze();
    let mut dec = crate::StreamDecoder::new(V5, 1024);
    let Some(LazyPacket::Publish(f)) = dec.decode_lazy(&mut wire).unwrap() else {
        panic!("not a lazy PUBLISH")
    };
    assert!(wire.is_empty());
    assert_eq!(
        (f.dup(), f.qos(), f.retain(), f.packet_id()),
        (true, QoS::ExactlyOnce, true, 513)
    );
    assert_eq!((f.topic(), f.topic_bytes()), ("a/b/ü", "a/b/ü".as_bytes()));
    assert_eq!(
        (f.payload(), f.payload_bytes()),
        (&b"xyz"[..], Bytes::from_static(b"xyz"))
    );
    assert_eq!(f.topic_alias(), Some(9));
    assert!(f.has_properties());
    assert_eq!(f.properties(), p.properties);
    assert_eq!(f.as_bytes(), &frame);
    assert_eq!(Packet::from(f.clone()), Packet::Publish(p.clone()));
    assert!(alloc::format!("{f:?}").contains("a/b/ü"));
    assert_eq!(f.into_publish(), p);

    // 3.1.1, QoS 0, no properties; other packets come back as `Other`.
    let mut wire = bytes::BytesMut::from(&b"\x30\x05\x00\x01ahi\xc0\x00"[..]);
    let mut dec = crate::StreamDecoder::new(V3_1_1, 1024);
    let Some(LazyPacket::Publish(f)) = dec.decode_lazy(&mut wire).unwrap() else {
        panic!("not a lazy PUBLISH")
    };
    assert_eq!(
        (f.topic(), f.payload(), f.packet_id(), f.qos()),
        ("a", &b"hi"[..], 0, QoS::AtMostOnce)
    );
    assert!(!f.has_properties() && f.properties().is_empty() && f.topic_alias().is_none());
    assert_eq!(
        dec.decode_lazy(&mut wire).unwrap(),
        Some(LazyPacket::Other(Packet::PingReq))
    );
    assert_eq!(dec.decode_lazy(&mut wire).unwrap(), None);
}

#[test]
fn publish_rules() {
    assert_eq!(
        dec(V3_1_1, "36 0e 0005 746f706963 7061796c6f6164"),
        Err(DecodeError::InvalidQos { offset: 0 })
    );
    assert_eq!(
        dec(V3_1_1, "38 0e 0005 746f706963 7061796c6f6164"),
        Err(DecodeError::DupWithQos0)
    );
    assert_eq!(
        dec(V3_1_1, "32 10 0005 746f706963 0000 7061796c6f6164"),
        Err(DecodeError::ZeroPacketId {
            packet_type: PacketType::Publish
        })
    );
    assert_eq!(
        dec(V3_1_1, "30 0e 0005 2b6f706963 7061796c6f6164"),
        Err(DecodeError::InvalidTopicName {
            offset: 2,
            error: TopicError::WildcardInName
        })
    );
    assert_eq!(
        dec(V3_1_1, "30 09 0000 7061796c6f6164"),
        Err(DecodeError::InvalidTopicName {
            offset: 2,
            error: TopicError::Empty
        })
    );
    assert_eq!(
        dec(
            V5,
            "30 0f 0005 746feda080 00 7061796c6f6164"
                .replace(' ', "")
                .as_str()
        ),
        Err(DecodeError::InvalidUtf8 { offset: 2 })
    );
    // v5: empty topic with a Topic Alias is fine.
    let Packet::Publish(p) = dec(V5, "30 06 0000 03 230001").unwrap() else {
        panic!()
    };
    assert_eq!(p.properties.topic_alias, Some(1));
}

#[test]
fn subscribe_rules() {
    assert_eq!(
        dec(V3_1_1, "82 02 1234"),
        Err(DecodeError::NoTopicFilters {
            packet_type: PacketType::Subscribe
        })
    );
    assert!(matches!(
        dec(V3_1_1, "80 06 1234 0001 70 00"),
        Err(DecodeError::InvalidHeaderFlags { .. })
    ));
    assert_eq!(
        dec(V3_1_1, "82 06 1234 0001 70 03"),
        Err(DecodeError::InvalidQos { offset: 7 })
    );
    assert_eq!(
        dec(V3_1_1, "82 06 1234 0001 70 04"),
        Err(DecodeError::ReservedSubscriptionOptions { options: 4 })
    );
    assert_eq!(
        dec(V5, "82 07 1234 00 0001 70 30"),
        Err(DecodeError::InvalidRetainHandling)
    );
    assert!(matches!(
        dec(
            V3_1_1,
            "82 08 1234 0003 612f23 00".replace(' ', "").as_str()
        )
        .map(|_| ()),
        Ok(())
    ));
    assert!(matches!(
        dec(V3_1_1, "82 0a 1234 0005 612f232f62 00"),
        Err(DecodeError::InvalidTopicFilter { .. })
    ));
    assert_eq!(
        dec(
            V5,
            "82 10 1234 00 000a 2473686172652f672f 61 04"
                .replace(' ', "")
                .as_str()
        )
        .map(|_| ()),
        Err(DecodeError::NoLocalOnSharedSubscription)
    );
    let Packet::Subscribe(s) = dec(V5, "82 09 1234 02 0b05 0001 70 2d").unwrap() else {
        panic!()
    };
    assert_eq!(s.properties.subscription_identifiers, vec![5]);
    let o = s.filters[0].options;
    assert_eq!(
        (o.qos, o.no_local, o.retain_as_published, o.retain_handling),
        (QoS::AtLeastOnce, true, true, RetainHandling::DoNotSend)
    );
}

#[test]
fn acks_short_forms_in_v5() {
    let Packet::PubAck(a) = dec(V5, "40 02 1234").unwrap() else {
        panic!()
    };
    assert_eq!(a.reason_code, ReasonCode::SUCCESS);
    let Packet::PubAck(a) = dec(V5, "40 03 1234 10").unwrap() else {
        panic!()
    };
    assert_eq!(a.reason_code, ReasonCode::NO_MATCHING_SUBSCRIBERS);
    assert_eq!(enc(V5, &Packet::PubAck(a)), "4003123410");
    assert_eq!(
        dec(V5, "62 03 1234 10"),
        Err(DecodeError::InvalidReasonCode {
            packet_type: PacketType::PubRel,
            code: 0x10
        })
    );
    assert!(matches!(
        dec(V3_1_1, "40 03 1234 10"),
        Err(DecodeError::TrailingBytes { .. })
    ));
    assert!(matches!(
        dec(V3_1_1, "60 02 1234"),
        Err(DecodeError::InvalidHeaderFlags { .. })
    ));
}

#[test]
fn auth_only_in_v5() {
    assert_eq!(dec(V5, "f0 00").unwrap(), Packet::Auth(Auth::default()));
    assert!(matches!(
        dec(V3_1_1, "f0 00"),
        Err(DecodeError::PacketNotInVersion { .. })
    ));
    assert!(matches!(
        dec(V5, "00 00"),
        Err(DecodeError::InvalidPacketType { packet_type: 0 })
    ));
}

#[test]
fn ping_and_disconnect() {
    assert_eq!(dec(V3_1_1, "c0 00").unwrap(), Packet::PingReq);
    assert_eq!(dec(V3_1_1, "d0 00").unwrap(), Packet::PingResp);
    assert!(matches!(
        dec(V3_1_1, "c0 01 00"),
        Err(DecodeError::TrailingBytes { .. })
    ));
    let Packet::Disconnect(d) = dec(V5, "e0 01 04").unwrap() else {
        panic!()
    };
    assert_eq!(d.reason_code, ReasonCode::DISCONNECT_WITH_WILL_MESSAGE);
}

#[test]
fn suback_v3_maps_v5_errors_to_0x80() {
    let s = SubAck::new(
        1,
        vec![ReasonCode::GRANTED_QOS_1, ReasonCode::NOT_AUTHORIZED],
    );
    assert_eq!(enc(V3_1_1, &Packet::SubAck(s)), "900400010180");
}

#[test]
fn frame_length_must_match_header() {
    assert_eq!(
        dec(V3_1_1, "c0 00 00"),
        Err(DecodeError::FrameLength {
            expected: 2,
            actual: 3
        })
    );
}

// ---- proptest round trips ----

fn string() -> impl Strategy<Value = Utf8String> {
    "[a-z0-9/é]{0,12}".prop_map(|s| Utf8String::try_from(s).unwrap())
}

fn topic() -> impl Strategy<Value = Utf8String> {
    "[a-z0-9é][a-z0-9/é]{0,12}".prop_map(|s| Utf8String::try_from(s).unwrap())
}

fn filter() -> impl Strategy<Value = Utf8String> {
    prop_oneof![
        topic(),
        Just(Utf8String::from_static("#")),
        Just(Utf8String::from_static("a/+/b")),
        Just(Utf8String::from_static("+/#")),
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn user_props() -> impl Strategy<Value = Vec<(Utf8String, Utf8String)>> {
    proptest::collection::vec((string(), string()), 0..3)
}

fn publish_props() -> impl Strategy<Value = Properties> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(string()),
        proptest::option::of(topic()),
        proptest::option::of(bytes(8)),
        proptest::collection::vec(1u32..=268_435_455, 0..3),
        proptest::option::of(1u16..),
        user_props(),
    )
        .prop_map(|(pfi, exp, ct, rt, cd, subs, alias, up)| Properties {
            payload_format_indicator: pfi,
            message_expiry_interval: exp,
            content_type: ct,
            response_topic: rt,
            correlation_data: cd,
            subscription_identifiers: subs,
            topic_alias: alias,
            user_properties: up,
            ..Properties::default()
        })
}

fn reason_props() -> impl Strategy<Value = Properties> {
    (proptest::option::of(string()), user_props()).prop_map(|(rs, up)| Properties {
        reason_string: rs,
        user_properties: up,
        ..Properties::default()
    })
}

fn connect() -> impl Strategy<Value = Connect> {
    (
        prop_oneof![Just(V3_1), Just(V3_1_1), Just(V5)],
        any::<bool>(),
        any::<u16>(),
        string(),
        proptest::option::of((
            topic(),
            bytes(8),
            qos(),
            any::<bool>(),
            proptest::option::of(any::<u32>()),
        )),
        proptest::option::of(string()),
        proptest::option::of(bytes(8)),
        proptest::option::of(1u16..),
        user_props(),
    )
        .prop_map(|(v, clean, ka, id, will, user, pass, rm, up)| {
            let v5 = v == V5;
            let will = will.map(|(topic, payload, qos, retain, delay)| LastWill {
                topic,
                payload,
                qos,
                retain,
                properties: Properties {
                    will_delay_interval: delay.filter(|_| v5),
                    ..Properties::default()
                }
                .into(),
            });
            Connect {
                protocol_version: v,
                clean_start: clean,
                keep_alive: ka,
                properties: if v5 {
                    Properties {
                        receive_maximum: rm,
                        user_properties: up,
                        ..Properties::default()
                    }
                    .into()
                } else {
                    Props::default()
                },
                client_id: id,
                will,
                password: if v5 || user.is_some() { pass } else { None },
                username: user,
            }
        })
}

fn packet(v5: bool) -> impl Strategy<Value = Packet> {
    let props = move |p: Properties| -> Props {
        if v5 {
            p.into()
        } else {
            Props::default()
        }
    };
    let rc = move |codes: &'static [u8]| {
        proptest::sample::select(codes)
            .prop_map(move |c| if v5 { ReasonCode(c) } else { ReasonCode(0) })
    };
    prop_oneof![
        connect().prop_map(|c| Packet::Connect(alloc::boxed::Box::new(c))),
        (any::<bool>(), 0u8..=5, reason_props()).prop_map(move |(sp, code, p)| {
            let code = if v5 {
                [0u8, 0x80, 0x85, 0x86][usize::from(code % 4)]
            } else {
                code
            };
            Packet::ConnAck(ConnAck {
                session_present: sp && code == 0,
                reason_code: ReasonCode(code),
                properties: props(p),
            })
        }),
        (
            any::<bool>(),
            qos(),
            any::<bool>(),
            topic(),
            1u16..,
            publish_props(),
            bytes(64)
        )
            .prop_map(move |(dup, qos, retain, topic, id, p, payload)| {
                let q0 = qos == QoS::AtMostOnce;
                Packet::Publish(Publish {
                    dup: dup && !q0,
                    qos,
                    retain,
                    topic,
                    packet_id: if q0 { 0 } else { id },
                    properties: props(p),
                    payload,
                })
            }),
        (1u16.., rc(&[0x00, 0x10, 0x80, 0x97]), reason_props()).prop_map(move |(id, c, p)| {
            Packet::PubAck(Ack {
                packet_id: id,
                reason_code: c,
                properties: props(p),
            })
        }),
        (1u16.., rc(&[0x00, 0x10, 0x83]), reason_props()).prop_map(move |(id, c, p)| {
            Packet::PubRec(Ack {
                packet_id: id,
                reason_code: c,
                properties: props(p),
            })
        }),
        (1u16.., rc(&[0x00, 0x92]), reason_props()).prop_map(move |(id, c, p)| Packet::PubRel(
            Ack {
                packet_id: id,
                reason_code: c,
                properties: props(p)
            }
        )),
        (1u16.., rc(&[0x00, 0x92]), reason_props()).prop_map(move |(id, c, p)| Packet::PubComp(
            Ack {
                packet_id: id,
                reason_code: c,
                properties: props(p)
            }
        )),
        (
            1u16..,
            proptest::collection::vec(
                (filter(), qos(), any::<bool>(), any::<bool>(), 0u8..3),
                1..4
            ),
            proptest::option::of(1u32..1000)
        )
            .prop_map(move |(id, fs, sid)| {
                let filters = fs
                    .into_iter()
                    .map(|(f, qos, nl, rap, rh)| Subscription {
                        filter: f,
                        options: if v5 {
                            SubscriptionOptions {
                                qos,
                                no_local: nl,
                                retain_as_published: rap,
                                retain_handling: [
                                    RetainHandling::SendAtSubscribe,
                                    RetainHandling::SendAtNewSubscribe,
                                    RetainHandling::DoNotSend,
                                ][usize::from(rh)],
                            }
                        } else {
                            SubscriptionOptions {
                                qos,
                                ..SubscriptionOptions::default()
                            }
                        },
                    })
                    .collect();
                let properties = props(Properties {
                    subscription_identifiers: sid.into_iter().collect(),
                    ..Properties::default()
                });
                Packet::Subscribe(Subscribe {
                    packet_id: id,
                    properties,
                    filters,
                })
            }),
        (
            1u16..,
            proptest::collection::vec(proptest::sample::select(&[0u8, 1, 2, 0x80][..]), 1..5),
            reason_props()
        )
            .prop_map(move |(id, codes, p)| Packet::SubAck(SubAck {
                packet_id: id,
                properties: props(p),
                reason_codes: codes.into_iter().map(ReasonCode).collect()
            })),
        (
            1u16..,
            proptest::collection::vec(filter(), 1..4),
            user_props()
        )
            .prop_map(move |(id, fs, up)| Packet::Unsubscribe(Unsubscribe {
                packet_id: id,
                properties: props(Properties {
                    user_properties: up,
                    ..Properties::default()
                }),
                filters: fs
            })),
        (
            1u16..,
            proptest::collection::vec(proptest::sample::select(&[0u8, 0x11, 0x87][..]), 1..4),
            reason_props()
        )
            .prop_map(move |(id, codes, p)| Packet::UnsubAck(if v5 {
                UnsubAck {
                    packet_id: id,
                    properties: p.into(),
                    reason_codes: codes.into_iter().map(ReasonCode).collect(),
                }
            } else {
                UnsubAck::new(id, Vec::new())
            })),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        (
            rc(&[0x00, 0x04, 0x81, 0x8e]),
            proptest::option::of(any::<u32>()),
            reason_props()
        )
            .prop_map(move |(c, se, p)| {
                Packet::Disconnect(Disconnect {
                    reason_code: c,
                    properties: props(Properties {
                        session_expiry_interval: se,
                        ..p
                    }),
                })
            }),
    ]
}

fn auth() -> impl Strategy<Value = Packet> {
    (
        proptest::sample::select(&[0u8, 0x18, 0x19][..]),
        proptest::option::of(string()),
        proptest::option::of(bytes(8)),
    )
        .prop_map(|(c, m, d)| {
            Packet::Auth(Auth {
                reason_code: ReasonCode(c),
                properties: Properties {
                    authentication_method: m,
                    authentication_data: d,
                    ..Properties::default()
                }
                .into(),
            })
        })
}

fn round_trip(v: ProtocolVersion, p: &Packet) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    p.encode(v, &mut out)
        .map_err(|e| TestCaseError::fail(alloc::format!("{e}")))?;
    let back = Packet::decode(v, Bytes::from(out))
        .map_err(|e| TestCaseError::fail(alloc::format!("{e}")))?;
    prop_assert_eq!(&back, p);
    Ok(())
}

proptest! {
    #[test]
    fn every_packet_round_trips_in_3_1_1(p in packet(false)) {
        round_trip(V3_1_1, &p)?;
    }

    #[test]
    fn every_packet_round_trips_in_5_0(p in prop_oneof![packet(true), auth()]) {
        round_trip(V5, &p)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(v5 in any::<bool>(), data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut d = vec![u8::from(v5)];
        d.extend_from_slice(&data);
        crate::fuzzing::mqtt_packet(&d);
        crate::fuzzing::mqtt_stream_chunks(&d);
    }

    /// Lazy and owned PUBLISH decoding agree on valid and mutated PUBLISH
    /// packets of both versions (`fuzzing::mqtt_packet` compares them).
    #[test]
    fn mutated_publish_decodes_the_same_lazily(
        p in packet(true).prop_filter("PUBLISH", |p| matches!(p, Packet::Publish(_))),
        v5 in any::<bool>(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        mutate in any::<bool>(),
    ) {
        let v = if v5 { V5 } else { V3_1_1 };
        let mut out = vec![u8::from(v5)];
        if p.encode(v, &mut out).is_err() {
            // A topic-alias-only PUBLISH has no 3.1.1 form.
            return Ok(());
        }
        if mutate {
            let i = pos.index(out.len() - 1) + 1;
            out[i] = byte;
        }
        crate::fuzzing::mqtt_packet(&out);
    }

    #[test]
    fn mutated_valid_packets_never_panic(p in packet(true), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut out = vec![1u8];
        p.encode(V5, &mut out).unwrap();
        let i = pos.index(out.len() - 1) + 1;
        out[i] = byte;
        crate::fuzzing::mqtt_packet(&out);
    }
}
