//! Human-readable rendering shared by the message views.

use core::fmt;

use crate::{ContentFormat, OptionFormat, OptionNumber, Options};

/// One line per option: `Name: value`, values shown by their format.
pub(crate) fn options(f: &mut fmt::Formatter<'_>, opts: Options<'_>) -> fmt::Result {
    for o in opts {
        write!(f, "{}: ", o.number)?;
        match o.number.format() {
            Some(OptionFormat::Uint) => match o.as_uint() {
                Some(v) if o.number == OptionNumber::BLOCK1 || o.number == OptionNumber::BLOCK2 => {
                    write!(f, "{}/{}/{}", v >> 4, (v >> 3) & 1, 16u64 << (v & 7).min(6))?
                }
                Some(v) => write!(f, "{v}")?,
                None => hex(f, o.value)?,
            },
            Some(OptionFormat::String) => match o.as_str() {
                Some(s) => write!(f, "{s:?}")?,
                None => hex(f, o.value)?,
            },
            _ => hex(f, o.value)?,
        }
        writeln!(f)?;
    }
    Ok(())
}

/// `Payload: ...` as text when it is UTF-8 and not declared binary,
/// otherwise as a hex summary.
pub(crate) fn payload(
    f: &mut fmt::Formatter<'_>,
    p: &[u8],
    cf: Option<ContentFormat>,
) -> fmt::Result {
    if p.is_empty() {
        return Ok(());
    }
    let textual = !matches!(
        cf,
        Some(ContentFormat::OCTET_STREAM) | Some(ContentFormat::CBOR)
    );
    match core::str::from_utf8(p) {
        Ok(s) if textual => writeln!(f, "Payload:\n{s}"),
        _ => {
            write!(f, "Payload ({} bytes): ", p.len())?;
            hex(f, &p[..p.len().min(64)])?;
            if p.len() > 64 {
                f.write_str("...")?;
            }
            writeln!(f)
        }
    }
}

fn hex(f: &mut fmt::Formatter<'_>, v: &[u8]) -> fmt::Result {
    f.write_str("0x")?;
    for b in v {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}
