//! Private cursor over one frame. Every read is bounds-checked and reports
//! the offset of the field that ran short.

use bytes::Bytes;

use crate::error::DecodeError;
use crate::primitives::{decode_varint, validate_utf8, StringError, Utf8String};

/// Reads fields from `frame[pos..end]`; offsets in errors are frame offsets.
pub(crate) struct Reader<'a> {
    frame: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(frame: &'a Bytes, pos: usize) -> Self {
        Self {
            frame,
            pos,
            end: frame.len(),
        }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    /// A reader over the next `len` bytes; this one skips them.
    #[inline]
    pub(crate) fn sub(&mut self, len: usize) -> Result<Self, DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::PropertyLength { offset: self.pos });
        }
        let sub = Self {
            frame: self.frame,
            pos: self.pos,
            end: self.pos + len,
        };
        self.pos += len;
        Ok(sub)
    }

    #[inline]
    fn short(&self) -> DecodeError {
        DecodeError::UnexpectedEnd { offset: self.pos }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        if self.pos >= self.end {
            return Err(self.short());
        }
        let b = self.frame[self.pos];
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        if self.remaining() < 2 {
            return Err(self.short());
        }
        let v = u16::from_be_bytes([self.frame[self.pos], self.frame[self.pos + 1]]);
        self.pos += 2;
        Ok(v)
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        if self.remaining() < 4 {
            return Err(self.short());
        }
        let p = self.pos;
        let f = &self.frame[p..p + 4];
        self.pos += 4;
        Ok(u32::from_be_bytes([f[0], f[1], f[2], f[3]]))
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u32, DecodeError> {
        let start = self.pos;
        match decode_varint(&self.frame[self.pos..self.end]) {
            Ok(Some((v, n))) => {
                self.pos += n;
                Ok(v)
            }
            Ok(None) => Err(self.short()),
            Err(()) => Err(DecodeError::MalformedVarInt { offset: start }),
        }
    }

    /// `len` raw bytes as a zero-copy slice.
    pub(crate) fn take(&mut self, len: usize) -> Result<Bytes, DecodeError> {
        if len > self.remaining() {
            return Err(self.short());
        }
        let b = self.frame.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(b)
    }

    /// Binary Data: two-byte length, then bytes (MQTT 5.0 §1.5.6).
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        let len = usize::from(self.u16()?);
        if len > self.remaining() {
            return Err(DecodeError::UnexpectedEnd { offset: start });
        }
        self.take(len)
    }

    /// Skips a Binary Data field without slicing the frame (no reference
    /// count traffic); same errors as [`Reader::binary`].
    #[inline]
    pub(crate) fn skip_binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let len = usize::from(self.u16()?);
        if len > self.remaining() {
            return Err(DecodeError::UnexpectedEnd { offset: start });
        }
        let frame: &'a Bytes = self.frame;
        let b = &frame[self.pos..self.pos + len];
        self.pos += len;
        Ok(b)
    }

    /// Validates a UTF-8 string field without slicing the frame; same
    /// checks and errors as [`Reader::string`].
    #[inline]
    pub(crate) fn skip_string(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let b = self.skip_binary()?;
        match crate::primitives::check_utf8_fast(b) {
            Ok(()) => Ok(b),
            Err(StringError::NullCharacter) => Err(DecodeError::NullCharacter { offset: start }),
            Err(_) => Err(DecodeError::InvalidUtf8 { offset: start }),
        }
    }

    /// The raw bytes of a UTF-8 string field, validated; also returns its offset.
    pub(crate) fn string(&mut self) -> Result<(Utf8String, usize), DecodeError> {
        let start = self.pos;
        let b = self.binary()?;
        match validate_utf8(&b) {
            Ok(_) => Ok((Utf8String::from_validated(b), start)),
            Err(StringError::NullCharacter) => Err(DecodeError::NullCharacter { offset: start }),
            Err(_) => Err(DecodeError::InvalidUtf8 { offset: start }),
        }
    }

    /// A topic filter: the filter rules (which include "no NUL") in one scan,
    /// then UTF-8 validity.
    pub(crate) fn filter(&mut self) -> Result<Utf8String, DecodeError> {
        let start = self.pos;
        let b = self.binary()?;
        crate::topic::check_filter(&b).map_err(|error| DecodeError::InvalidTopicFilter {
            offset: start,
            error,
        })?;
        if core::str::from_utf8(&b).is_err() {
            return Err(DecodeError::InvalidUtf8 { offset: start });
        }
        Ok(Utf8String::from_validated(b))
    }

    /// How many `length-prefixed string + extra bytes` entries the rest holds,
    /// to size a `Vec` once (bounded by the input length).
    pub(crate) fn count_entries(&self, extra: usize) -> usize {
        let (mut i, mut n) = (self.pos, 0);
        while i + 2 <= self.end {
            let len = usize::from(u16::from_be_bytes([self.frame[i], self.frame[i + 1]]));
            i += 2 + len + extra;
            n += 1;
        }
        n
    }

    pub(crate) fn utf8(&mut self) -> Result<Utf8String, DecodeError> {
        Ok(self.string()?.0)
    }
}
