//! Property tests: every message round-trips; arbitrary bytes never panic.

use bytes::Bytes;
use mqttsn_codec::{
    Advertise, ConnAck, Connect, Disconnect, Encapsulation, Frame, GwInfo, Message, PingReq,
    PubAck, PubComp, PubRec, PubRel, Publish, QoS, RegAck, Register, ReturnCode, SearchGw, SubAck,
    Subscribe, Topic, UnsubAck, Unsubscribe, WillMsg, WillMsgResp, WillMsgUpd, WillTopic,
    WillTopicResp,
};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn non_empty(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 1..=max).prop_map(Bytes::from)
}

/// Payloads up to 600 bytes, so both Length forms come up.
fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![bytes(40), bytes(600)]
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn any_qos() -> impl Strategy<Value = QoS> {
    prop_oneof![qos(), Just(QoS::MinusOne)]
}

fn return_code() -> impl Strategy<Value = ReturnCode> {
    prop_oneof![
        Just(ReturnCode::Accepted),
        Just(ReturnCode::RejectedCongestion),
        Just(ReturnCode::RejectedInvalidTopicId),
        Just(ReturnCode::RejectedNotSupported),
    ]
}

fn publish_topic() -> impl Strategy<Value = Topic> {
    prop_oneof![
        any::<u16>().prop_map(Topic::Id),
        any::<u16>().prop_map(Topic::Predefined),
        any::<[u8; 2]>().prop_map(Topic::Short),
    ]
}

fn subscribe_topic() -> impl Strategy<Value = Topic> {
    prop_oneof![
        non_empty(300).prop_map(Topic::Name),
        any::<u16>().prop_map(Topic::Predefined),
        any::<[u8; 2]>().prop_map(Topic::Short),
    ]
}

fn will_topic() -> impl Strategy<Value = Option<WillTopic>> {
    prop::option::of(
        (qos(), any::<bool>(), non_empty(300)).prop_map(|(qos, retain, topic)| WillTopic {
            qos,
            retain,
            topic,
        }),
    )
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (any::<u8>(), any::<u16>())
            .prop_map(|(gw_id, duration)| Advertise { gw_id, duration }.into()),
        any::<u8>().prop_map(|radius| SearchGw { radius }.into()),
        (any::<u8>(), bytes(20)).prop_map(|(gw_id, gw_add)| GwInfo { gw_id, gw_add }.into()),
        (any::<bool>(), any::<bool>(), any::<u16>(), bytes(300)).prop_map(
            |(will, clean_session, duration, client_id)| Connect {
                will,
                clean_session,
                duration,
                client_id
            }
            .into()
        ),
        return_code().prop_map(|return_code| ConnAck { return_code }.into()),
        Just(Message::WillTopicReq),
        will_topic().prop_map(Message::WillTopic),
        Just(Message::WillMsgReq),
        payload().prop_map(|will_msg| WillMsg { will_msg }.into()),
        (any::<u16>(), any::<u16>(), non_empty(300)).prop_map(|(topic_id, msg_id, topic_name)| {
            Register {
                topic_id,
                msg_id,
                topic_name,
            }
            .into()
        }),
        (any::<u16>(), any::<u16>(), return_code()).prop_map(|(topic_id, msg_id, return_code)| {
            RegAck {
                topic_id,
                msg_id,
                return_code,
            }
            .into()
        }),
        (
            any::<bool>(),
            any_qos(),
            any::<bool>(),
            publish_topic(),
            any::<u16>(),
            payload()
        )
            .prop_map(|(dup, qos, retain, topic, msg_id, data)| Publish {
                dup,
                qos,
                retain,
                topic,
                msg_id,
                data
            }
            .into()),
        (any::<u16>(), any::<u16>(), return_code()).prop_map(|(topic_id, msg_id, return_code)| {
            PubAck {
                topic_id,
                msg_id,
                return_code,
            }
            .into()
        }),
        any::<u16>().prop_map(|msg_id| PubComp { msg_id }.into()),
        any::<u16>().prop_map(|msg_id| PubRec { msg_id }.into()),
        any::<u16>().prop_map(|msg_id| PubRel { msg_id }.into()),
        (any::<bool>(), qos(), any::<u16>(), subscribe_topic()).prop_map(
            |(dup, qos, msg_id, topic)| Subscribe {
                dup,
                qos,
                msg_id,
                topic
            }
            .into()
        ),
        (qos(), any::<u16>(), any::<u16>(), return_code()).prop_map(
            |(qos, topic_id, msg_id, return_code)| SubAck {
                qos,
                topic_id,
                msg_id,
                return_code
            }
            .into()
        ),
        (any::<u16>(), subscribe_topic())
            .prop_map(|(msg_id, topic)| Unsubscribe { msg_id, topic }.into()),
        any::<u16>().prop_map(|msg_id| UnsubAck { msg_id }.into()),
        prop::option::of(non_empty(30)).prop_map(|client_id| PingReq { client_id }.into()),
        Just(Message::PingResp),
        prop::option::of(any::<u16>()).prop_map(|duration| Disconnect { duration }.into()),
        will_topic().prop_map(Message::WillTopicUpd),
        return_code().prop_map(|return_code| WillTopicResp { return_code }.into()),
        payload().prop_map(|will_msg| WillMsgUpd { will_msg }.into()),
        return_code().prop_map(|return_code| WillMsgResp { return_code }.into()),
    ]
}

/// Messages with any field values, including ones the codec refuses to
/// encode (QoS -1 outside PUBLISH, empty topic names, the wrong topic kind).
fn loose_message() -> impl Strategy<Value = Message> {
    let any_topic = || {
        prop_oneof![
            bytes(4).prop_map(Topic::Name),
            any::<u16>().prop_map(Topic::Id),
            any::<u16>().prop_map(Topic::Predefined),
            any::<[u8; 2]>().prop_map(Topic::Short),
        ]
    };
    let loose_will = || {
        prop::option::of(
            (any_qos(), any::<bool>(), bytes(4)).prop_map(|(qos, retain, topic)| WillTopic {
                qos,
                retain,
                topic,
            }),
        )
    };
    prop_oneof![
        (any::<bool>(), any_qos(), any::<u16>(), any_topic()).prop_map(
            |(dup, qos, msg_id, topic)| Subscribe {
                dup,
                qos,
                msg_id,
                topic
            }
            .into()
        ),
        (any::<u16>(), any_topic())
            .prop_map(|(msg_id, topic)| Unsubscribe { msg_id, topic }.into()),
        (any_qos(), any_topic(), bytes(4)).prop_map(|(qos, topic, data)| Publish {
            dup: false,
            qos,
            retain: false,
            topic,
            msg_id: 0,
            data
        }
        .into()),
        (any_qos(), any::<u16>()).prop_map(|(qos, msg_id)| SubAck {
            qos,
            topic_id: 0,
            msg_id,
            return_code: ReturnCode::Accepted
        }
        .into()),
        bytes(4).prop_map(|topic_name| Register {
            topic_id: 0,
            msg_id: 1,
            topic_name
        }
        .into()),
        loose_will().prop_map(Message::WillTopic),
        loose_will().prop_map(Message::WillTopicUpd),
        prop::option::of(bytes(4)).prop_map(|client_id| PingReq { client_id }.into()),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        message().prop_map(Frame::Message),
        (0u8..=3, bytes(40), message()).prop_map(|(radius, wireless_node_id, message)| {
            Frame::Encapsulated(Encapsulation {
                radius,
                wireless_node_id,
                message,
            })
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn every_message_round_trips(msg in message()) {
        let wire = msg.to_bytes().expect("encode");
        prop_assert_eq!(wire.len(), msg.encoded_len());
        // The shortest Length form: 1 octet up to 255 in total.
        prop_assert_eq!(wire[0] == 0x01, wire.len() > 255);
        prop_assert_eq!(Message::decode(wire.clone()), Ok(msg.clone()));
        prop_assert_eq!(Frame::decode(wire), Ok(Frame::Message(msg)));
    }

    #[test]
    fn whatever_encodes_decodes_back(msg in loose_message()) {
        if let Ok(wire) = msg.to_bytes() {
            let expected = match msg {
                Message::PingReq(PingReq { client_id: Some(id) }) if id.is_empty() => {
                    PingReq::default().into()
                }
                other => other,
            };
            prop_assert_eq!(Message::decode(wire), Ok(expected));
        }
    }

    #[test]
    fn every_frame_round_trips(frame in frame()) {
        let wire = frame.to_bytes().expect("encode");
        prop_assert_eq!(wire.len(), frame.encoded_len());
        prop_assert_eq!(Frame::decode(wire), Ok(frame));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        mqttsn_codec::fuzzing::mqttsn_message(&data);
    }

    #[test]
    fn mutated_messages_never_panic(
        frame in frame(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = frame.to_bytes().expect("encode").to_vec();
        let i = at.index(wire.len());
        wire[i] = value;
        mqttsn_codec::fuzzing::mqttsn_message(&wire);
        wire.truncate(cut.index(wire.len()));
        mqttsn_codec::fuzzing::mqttsn_message(&wire);
    }

    #[test]
    fn encoding_into_a_short_slice_fails_cleanly(msg in message(), short in 1usize..8) {
        let len = msg.encoded_len();
        let mut storage = vec![0u8; len.saturating_sub(short)];
        let mut buf = &mut storage[..];
        prop_assert!(msg.encode(&mut buf).is_err());
        prop_assert!(storage.iter().all(|&b| b == 0));
    }
}
