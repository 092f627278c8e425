//! nom parsers for the wire format. Private: no `IResult` leaves this module.
//!
//! A datagram (or a framed body) is whole, so every parser is `complete`:
//! running out of input is a truncation error, not "need more".

use nom::number::complete::{be_u16, be_u32, be_u8};
use nom::IResult;

/// An extended option delta or length field for nibble `n` (RFC 7252 §3.1):
/// 13 adds one byte (+13), 14 two bytes (+269). Nibble 15 is the caller's.
#[inline(always)]
pub(crate) fn extended(n: u8, i: &[u8]) -> IResult<&[u8], u32> {
    match n {
        13 => {
            let (i, b) = be_u8(i)?;
            Ok((i, u32::from(b) + 13))
        }
        14 => {
            let (i, b) = be_u16(i)?;
            Ok((i, u32::from(b) + 269))
        }
        n => Ok((i, u32::from(n))),
    }
}

/// An RFC 8323 §3.2 extended length for nibble `n`: 13 → 1 byte (+13),
/// 14 → 2 bytes (+269), 15 → 4 bytes (+65805).
pub(crate) fn tcp_length(n: u8, i: &[u8]) -> IResult<&[u8], u64> {
    match n {
        15 => {
            let (i, b) = be_u32(i)?;
            Ok((i, u64::from(b) + 65805))
        }
        n => extended(n, i).map(|(i, v)| (i, u64::from(v))),
    }
}
