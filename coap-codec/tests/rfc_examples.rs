//! The exchanges RFC 7252 draws in §2.2 and Appendix A (confirmable with a
//! piggybacked response, tokens, separate response, non-confirmable) and an
//! RFC 7959 block, checked byte by byte in both directions.

use coap_codec::{Block, Code, ContentFormat, Message, MessageBuilder, MessageType};

fn both_ways(bytes: &[u8], built: MessageBuilder) -> Message<&[u8]> {
    assert_eq!(built.to_bytes().unwrap(), bytes, "encode");
    let m = Message::decode(bytes).unwrap();
    assert_eq!(MessageBuilder::from_message(&m), built, "decode");
    m
}

#[test]
fn confirmable_request_with_piggybacked_response() {
    // CON [0x7d34] GET /temperature, no token
    both_ways(
        b"\x40\x01\x7d\x34\xbbtemperature",
        MessageBuilder::new(MessageType::Confirmable, Code::GET)
            .with_message_id(0x7d34)
            .path("/temperature"),
    );
    // ACK [0x7d34] 2.05 Content "22.3 C"
    let m = both_ways(
        b"\x60\x45\x7d\x34\xff22.3 C",
        MessageBuilder::new(MessageType::Acknowledgement, Code::CONTENT)
            .with_message_id(0x7d34)
            .payload(&b"22.3 C"[..]),
    );
    assert_eq!(m.payload(), b"22.3 C");
}

#[test]
fn request_and_response_with_token() {
    // CON [0x7d35] GET /temperature, token 0x20
    both_ways(
        b"\x41\x01\x7d\x35\x20\xbbtemperature",
        MessageBuilder::new(MessageType::Confirmable, Code::GET)
            .with_message_id(0x7d35)
            .with_token(&[0x20])
            .path("/temperature"),
    );
    // ACK [0x7d35] 2.05 token 0x20 "22.3 C"
    both_ways(
        b"\x61\x45\x7d\x35\x20\xff22.3 C",
        MessageBuilder::new(MessageType::Acknowledgement, Code::CONTENT)
            .with_message_id(0x7d35)
            .with_token(&[0x20])
            .payload(&b"22.3 C"[..]),
    );
}

#[test]
fn separate_response_empty_ack_then_con() {
    // The empty ACK first, then a CON response with a new message ID.
    both_ways(b"\x60\x00\x7d\x38", MessageBuilder::empty_ack(0x7d38));
    both_ways(
        b"\x42\x45\xad\x7d\xa3\x1f\xff22.3 C",
        MessageBuilder::new(MessageType::Confirmable, Code::CONTENT)
            .with_message_id(0xad7d)
            .with_token(&[0xa3, 0x1f])
            .payload(&b"22.3 C"[..]),
    );
}

#[test]
fn non_confirmable_request() {
    // NON [0x7d37] GET /temperature, token 0x74
    both_ways(
        b"\x51\x01\x7d\x37\x74\xbbtemperature",
        MessageBuilder::new(MessageType::NonConfirmable, Code::GET)
            .with_message_id(0x7d37)
            .with_token(&[0x74])
            .path("/temperature"),
    );
}

#[test]
fn rfc7959_last_block2_with_content_format() {
    // 2.05 Content, Block2 2/0/128 (last block), text/plain.
    let m = both_ways(
        b"\x60\x45\x12\x34\xc0\xb1\x23\xff!",
        MessageBuilder::new(MessageType::Acknowledgement, Code::CONTENT)
            .with_message_id(0x1234)
            .content_format(ContentFormat::TEXT_PLAIN)
            .block2(Block::new(2, false, 3).unwrap())
            .payload(&b"!"[..]),
    );
    let b = m.options().block2().unwrap();
    assert_eq!(
        (b.num(), b.more(), b.size(), b.offset()),
        (2, false, 128, 256)
    );
}

#[test]
fn rfc7252_3_message_format_errors() {
    use coap_codec::DecodeError as E;
    let e = |b: &[u8]| Message::decode(b).unwrap_err();
    assert_eq!(e(&[0x40, 0x01, 0x00]), E::TruncatedHeader { len: 3 });
    assert_eq!(
        e(&[0x00, 0x01, 0x00, 0x00]),
        E::UnsupportedVersion { version: 0 }
    );
    assert_eq!(
        e(&[0x4f, 0x01, 0x00, 0x00]),
        E::ReservedTokenLength { tkl: 15 }
    );
    assert_eq!(
        e(&[0x40, 0x01, 0x00, 0x00, 0xf1, 0x00]),
        E::ReservedOptionDelta { offset: 4 }
    );
    assert_eq!(
        e(&[0x40, 0x01, 0x00, 0x00, 0x1f]),
        E::ReservedOptionLength { offset: 4 }
    );
    assert_eq!(
        e(&[0x40, 0x01, 0x00, 0x00, 0xb5, b'a']),
        E::TruncatedOption { offset: 4 }
    );
    assert_eq!(
        e(&[0x40, 0x01, 0x00, 0x00, 0xff]),
        E::EmptyPayload { offset: 4 }
    );
}
