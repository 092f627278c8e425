//! Property list tests.

use super::*;
use crate::error::DecodeError;
use crate::parse::Reader;
use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;

fn decode(bytes: &'static [u8], ctx: PropertyContext) -> Result<Properties, DecodeError> {
    let frame = Bytes::from_static(bytes);
    let mut r = Reader::new(&frame, 0);
    Properties::decode(&mut r, ctx).map(|p| (*p).clone())
}

const PUB: PropertyContext = PropertyContext::Packet(PacketType::Publish);

#[test]
fn user_properties_keep_their_order() {
    let p = decode(b"\x0e\x26\x00\x01b\x00\x012\x26\x00\x01a\x00\x011", PUB).unwrap();
    let keys: Vec<&str> = p.user_properties.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, vec!["b", "a"]);
}

#[test]
fn duplicate_singleton_is_a_protocol_error() {
    assert_eq!(
        decode(b"\x04\x01\x01\x01\x01", PUB),
        Err(DecodeError::DuplicateProperty { id: 1 })
    );
}

#[test]
fn several_subscription_identifiers_allowed_in_publish_only() {
    assert_eq!(
        decode(b"\x04\x0b\x01\x0b\x02", PUB)
            .unwrap()
            .subscription_identifiers,
        vec![1, 2]
    );
    let sub = PropertyContext::Packet(PacketType::Subscribe);
    assert_eq!(
        decode(b"\x04\x0b\x01\x0b\x02", sub),
        Err(DecodeError::DuplicateProperty { id: 0x0b })
    );
}

#[test]
fn property_outside_its_packets_is_rejected() {
    assert_eq!(
        decode(b"\x02\x24\x00", PUB),
        Err(DecodeError::PropertyNotAllowed {
            id: 0x24,
            packet_type: PacketType::Publish
        })
    );
    assert_eq!(
        decode(b"\x05\x18\x00\x00\x00\x01", PUB),
        Err(DecodeError::PropertyNotAllowed {
            id: 0x18,
            packet_type: PacketType::Publish
        })
    );
    assert!(decode(b"\x05\x18\x00\x00\x00\x01", PropertyContext::Will).is_ok());
}

#[test]
fn unknown_and_zero_values_are_rejected() {
    assert!(matches!(
        decode(b"\x02\x04\x01", PUB),
        Err(DecodeError::UnknownProperty { id: 4, .. })
    ));
    assert_eq!(
        decode(b"\x03\x23\x00\x00", PUB),
        Err(DecodeError::InvalidPropertyValue { id: 0x23 })
    );
    assert_eq!(
        decode(b"\x02\x01\x02", PUB),
        Err(DecodeError::InvalidPropertyValue { id: 1 })
    );
}

#[test]
fn truncated_value_is_malformed() {
    assert!(matches!(
        decode(b"\x01\x02", PUB),
        Err(DecodeError::UnexpectedEnd { .. })
    ));
    assert!(matches!(
        decode(b"\x05\x02", PUB),
        Err(DecodeError::PropertyLength { .. })
    ));
}

#[test]
fn every_property_round_trips_in_connack() {
    let ctx = PropertyContext::Packet(PacketType::ConnAck);
    let p = Properties {
        session_expiry_interval: Some(10),
        assigned_client_identifier: Some(Utf8String::from_static("id")),
        server_keep_alive: Some(30),
        authentication_method: Some(Utf8String::from_static("SCRAM")),
        authentication_data: Some(Bytes::from_static(b"\x01")),
        response_information: Some(Utf8String::from_static("r")),
        server_reference: Some(Utf8String::from_static("s")),
        reason_string: Some(Utf8String::from_static("why")),
        receive_maximum: Some(10),
        topic_alias_maximum: Some(5),
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(false),
        user_properties: vec![(Utf8String::from_static("k"), Utf8String::from_static("v"))],
        maximum_packet_size: Some(1024),
        wildcard_subscription_available: Some(true),
        subscription_identifier_available: Some(false),
        shared_subscription_available: Some(true),
        ..Properties::default()
    };
    let len = p.encoded_len(ctx).unwrap();
    let mut out = Vec::new();
    p.encode(len, &mut out);
    let frame = Bytes::from(out);
    let mut r = Reader::new(&frame, 0);
    assert_eq!(*Properties::decode(&mut r, ctx).unwrap(), p);
    assert!(r.is_empty());
    assert_eq!(
        p.encoded_len(PUB),
        Err(EncodeError::PropertyNotAllowed { id: 0x11 })
    );
}
