//! Invariant checks shared by the fuzz targets (`fuzz/fuzz_targets/`) and the
//! corpus-replay test. Not a stable API.

use alloc::string::ToString;

use bytes::Bytes;

use crate::{Frame, Message};

/// Fuzz target `mqttsn_message`: decodes `data` as a datagram and panics if an
/// invariant breaks.
///
/// - [`Frame::decode`] and [`Message::decode`] agree on plain messages, and
///   `Message::decode` refuses encapsulations;
/// - what decodes re-encodes, to [`Frame::encoded_len`] octets, and decodes
///   again to the same value;
/// - the re-encoding is byte-identical unless the input used the 3-octet
///   Length form for a message of at most 255 octets (it re-encodes shorter);
/// - error messages format.
///
/// # Panics
/// When an invariant breaks: that is the point.
pub fn mqttsn_message(data: &[u8]) {
    let datagram = Bytes::copy_from_slice(data);
    let frame = Frame::decode(datagram.clone());
    let message = Message::decode(datagram);
    match (&frame, &message) {
        (Ok(Frame::Message(f)), Ok(m)) => assert_eq!(f, m, "Frame and Message disagree"),
        (Ok(Frame::Message(_)), Err(e)) => panic!("Frame decodes a plain message, Message: {e}"),
        (Err(e), Ok(_)) => panic!("Message decodes, Frame: {e}"),
        (Ok(Frame::Encapsulated(_)), Ok(_)) => panic!("Message decoded an encapsulation"),
        _ => {}
    }
    for e in [frame.as_ref().err(), message.as_ref().err()]
        .into_iter()
        .flatten()
    {
        assert!(!e.to_string().is_empty());
    }
    let Ok(frame) = frame else { return };
    let encoded = frame.to_bytes().expect("a decoded frame encodes");
    assert_eq!(encoded.len(), frame.encoded_len(), "encoded_len is exact");
    let again = Frame::decode(encoded.clone()).expect("a re-encoded frame decodes");
    assert_eq!(again, frame, "decode(encode(frame)) == frame");
    if encoded != data {
        assert!(
            uses_long_form(data) && encoded.len() < data.len(),
            "re-encoding differs: {data:02x?} -> {encoded:02x?}"
        );
    }
}

/// Whether the outer or the encapsulated message uses the 3-octet Length form.
fn uses_long_form(data: &[u8]) -> bool {
    match data {
        [0x01, ..] => true,
        [len, 0xFE, ..] => data.get(usize::from(*len)) == Some(&0x01),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn replay_corpus() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/corpus/mqttsn_message/"
        );
        let mut count = 0;
        for entry in fs::read_dir(dir).expect("corpus directory") {
            let path = entry.expect("corpus entry").path();
            if path.is_file() {
                mqttsn_message(&fs::read(&path).expect("corpus file"));
                count += 1;
            }
        }
        assert!(count > 0, "no corpus files in {dir}");
    }

    #[test]
    fn long_form_of_a_short_message_re_encodes_shorter() {
        mqttsn_message(&[0x01, 0x00, 0x05, 0x03, 0x05]);
        mqttsn_message(&[0x03, 0xFE, 0x00, 0x01, 0x00, 0x04, 0x17]);
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for data in [
            &[][..],
            &[0xFF],
            &[0x01, 0xFF, 0xFF],
            &[0x05, 0xFE, 0x00, 0x01],
        ] {
            mqttsn_message(data);
        }
    }
}
