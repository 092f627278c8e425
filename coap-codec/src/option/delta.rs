//! Option delta and length encoding (RFC 7252 §3.1).

use bytes::BufMut;

/// Nibble and extension for a delta or length value.
#[inline]
const fn nibble(v: u32) -> (u8, usize) {
    if v < 13 {
        (v as u8, 0)
    } else if v < 269 {
        (13, 1)
    } else {
        (14, 2)
    }
}

/// Encoded size of an option header for this delta and value length.
#[inline]
pub(crate) const fn option_header_len(delta: u32, len: u32) -> usize {
    1 + nibble(delta).1 + nibble(len).1
}

/// Writes an option header. Callers guarantee `delta` and `len` are at
/// most 65535 + 269.
#[inline]
pub(crate) fn encode_option_header(buf: &mut impl BufMut, delta: u32, len: u32) {
    let (dn, dx) = nibble(delta);
    let (ln, lx) = nibble(len);
    buf.put_u8((dn << 4) | ln);
    put_ext(buf, delta, dx);
    put_ext(buf, len, lx);
}

#[inline]
fn put_ext(buf: &mut impl BufMut, v: u32, n: usize) {
    match n {
        1 => buf.put_u8((v - 13) as u8),
        2 => buf.put_u16((v - 269) as u16),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn enc(d: u32, l: u32) -> Vec<u8> {
        let mut v = Vec::new();
        encode_option_header(&mut v, d, l);
        assert_eq!(v.len(), option_header_len(d, l));
        v
    }

    #[test]
    fn boundaries_of_each_form() {
        assert_eq!(enc(12, 12), [0xcc]);
        assert_eq!(enc(13, 0), [0xd0, 0x00]);
        assert_eq!(enc(268, 1), [0xd1, 0xff]);
        assert_eq!(enc(269, 13), [0xed, 0x00, 0x00, 0x00]);
        assert_eq!(enc(65535 + 269, 0), [0xe0, 0xff, 0xff]);
    }
}
