//! Reading and writing property lists (MQTT 5.0 §2.2.2).

use alloc::boxed::Box;
use bytes::{BufMut, Bytes};

use super::{allowed, id, is_allowed, Properties, PropertyContext, Props};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::primitives::{put_varint, varint_len, Utf8String, VARINT_MAX};
use crate::qos::QoS;
use crate::topic::check_name_bytes;

fn set<T>(slot: &mut Option<T>, value: T, id: u8) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty { id });
    }
    *slot = Some(value);
    Ok(())
}

#[inline]
fn flag(r: &mut Reader<'_>, id: u8) -> Result<bool, DecodeError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::InvalidPropertyValue { id }),
    }
}

#[inline]
fn nonzero_u16(r: &mut Reader<'_>, id: u8) -> Result<u16, DecodeError> {
    match r.u16()? {
        0 => Err(DecodeError::InvalidPropertyValue { id }),
        v => Ok(v),
    }
}

impl Properties {
    /// Reads a property length and the properties after it. Allocates the
    /// table only when there is at least one property.
    pub(crate) fn decode(r: &mut Reader<'_>, ctx: PropertyContext) -> Result<Props, DecodeError> {
        let at = r.pos();
        let len = r.varint()? as usize;
        if len == 0 {
            return Ok(Props(None));
        }
        if len > r.remaining() {
            return Err(DecodeError::PropertyLength { offset: at });
        }
        let mut r = r.sub(len)?;
        let mut p = Box::<Self>::default();
        let ctx_bit = ctx.bit();
        while !r.is_empty() {
            let at = r.pos();
            let raw = r.varint()?;
            let Some(mask) = u8::try_from(raw).ok().and_then(allowed) else {
                return Err(DecodeError::UnknownProperty {
                    id: raw,
                    offset: at,
                });
            };
            let id = raw as u8;
            if mask & ctx_bit == 0 {
                return Err(DecodeError::PropertyNotAllowed {
                    id,
                    packet_type: ctx.packet_type(),
                });
            }
            p.decode_one(&mut r, id, ctx)?;
        }
        Ok(Props(Some(p)))
    }

    /// Checks a PUBLISH's Property Length and properties with the rules and
    /// errors of [`Properties::decode`], without building the table: no
    /// allocation and no reference counting. Returns whether there is any
    /// property, and the Topic Alias.
    pub(crate) fn validate_publish(r: &mut Reader<'_>) -> Result<(bool, Option<u16>), DecodeError> {
        use id::*;
        const CTX: PropertyContext = PropertyContext::Packet(PacketType::Publish);
        let at = r.pos();
        let len = r.varint()? as usize;
        if len == 0 {
            return Ok((false, None));
        }
        if len > r.remaining() {
            return Err(DecodeError::PropertyLength { offset: at });
        }
        let mut r = r.sub(len)?;
        let mut seen = 0u64;
        let mut alias = None;
        while !r.is_empty() {
            let at = r.pos();
            let raw = r.varint()?;
            let Some(mask) = u8::try_from(raw).ok().and_then(allowed) else {
                return Err(DecodeError::UnknownProperty {
                    id: raw,
                    offset: at,
                });
            };
            let id = raw as u8;
            if mask & CTX.bit() == 0 {
                return Err(DecodeError::PropertyNotAllowed {
                    id,
                    packet_type: PacketType::Publish,
                });
            }
            match id {
                PAYLOAD_FORMAT_INDICATOR => {
                    flag(&mut r, id)?;
                }
                MESSAGE_EXPIRY_INTERVAL => {
                    r.u32()?;
                }
                CONTENT_TYPE => {
                    r.skip_string()?;
                }
                RESPONSE_TOPIC => {
                    let t = r.skip_string()?;
                    if t.is_empty() || check_name_bytes(t).is_err() {
                        return Err(DecodeError::InvalidPropertyValue { id });
                    }
                }
                CORRELATION_DATA => {
                    r.skip_binary()?;
                }
                // Repeatable in PUBLISH.
                SUBSCRIPTION_IDENTIFIER => {
                    if r.varint()? == 0 {
                        return Err(DecodeError::InvalidPropertyValue { id });
                    }
                    continue;
                }
                TOPIC_ALIAS => alias = Some(nonzero_u16(&mut r, id)?),
                USER_PROPERTY => {
                    r.skip_string()?;
                    r.skip_string()?;
                    continue;
                }
                // The table above lets no other identifier into PUBLISH.
                _ => {
                    return Err(DecodeError::PropertyNotAllowed {
                        id,
                        packet_type: PacketType::Publish,
                    })
                }
            }
            // Every identifier is below 0x40.
            let bit = 1u64 << (id & 0x3f);
            if seen & bit != 0 {
                return Err(DecodeError::DuplicateProperty { id });
            }
            seen |= bit;
        }
        Ok((true, alias))
    }

    fn decode_one(
        &mut self,
        r: &mut Reader<'_>,
        id: u8,
        ctx: PropertyContext,
    ) -> Result<(), DecodeError> {
        use id::*;
        match id {
            PAYLOAD_FORMAT_INDICATOR => set(&mut self.payload_format_indicator, flag(r, id)?, id),
            MESSAGE_EXPIRY_INTERVAL => set(&mut self.message_expiry_interval, r.u32()?, id),
            CONTENT_TYPE => set(&mut self.content_type, r.utf8()?, id),
            RESPONSE_TOPIC => {
                let t = r.utf8()?;
                if t.is_empty() || check_name_bytes(t.as_bytes()).is_err() {
                    return Err(DecodeError::InvalidPropertyValue { id });
                }
                set(&mut self.response_topic, t, id)
            }
            CORRELATION_DATA => set(&mut self.correlation_data, r.binary()?, id),
            SUBSCRIPTION_IDENTIFIER => {
                let v = r.varint()?;
                if v == 0 {
                    return Err(DecodeError::InvalidPropertyValue { id });
                }
                if ctx != PropertyContext::Packet(PacketType::Publish)
                    && !self.subscription_identifiers.is_empty()
                {
                    return Err(DecodeError::DuplicateProperty { id });
                }
                self.subscription_identifiers.push(v);
                Ok(())
            }
            SESSION_EXPIRY_INTERVAL => set(&mut self.session_expiry_interval, r.u32()?, id),
            ASSIGNED_CLIENT_IDENTIFIER => set(&mut self.assigned_client_identifier, r.utf8()?, id),
            SERVER_KEEP_ALIVE => set(&mut self.server_keep_alive, r.u16()?, id),
            AUTHENTICATION_METHOD => set(&mut self.authentication_method, r.utf8()?, id),
            AUTHENTICATION_DATA => set(&mut self.authentication_data, r.binary()?, id),
            REQUEST_PROBLEM_INFORMATION => {
                set(&mut self.request_problem_information, flag(r, id)?, id)
            }
            WILL_DELAY_INTERVAL => set(&mut self.will_delay_interval, r.u32()?, id),
            REQUEST_RESPONSE_INFORMATION => {
                set(&mut self.request_response_information, flag(r, id)?, id)
            }
            RESPONSE_INFORMATION => set(&mut self.response_information, r.utf8()?, id),
            SERVER_REFERENCE => set(&mut self.server_reference, r.utf8()?, id),
            REASON_STRING => set(&mut self.reason_string, r.utf8()?, id),
            RECEIVE_MAXIMUM => set(&mut self.receive_maximum, nonzero_u16(r, id)?, id),
            TOPIC_ALIAS_MAXIMUM => set(&mut self.topic_alias_maximum, r.u16()?, id),
            TOPIC_ALIAS => set(&mut self.topic_alias, nonzero_u16(r, id)?, id),
            MAXIMUM_QOS => {
                let q = match r.u8()? {
                    0 => QoS::AtMostOnce,
                    1 => QoS::AtLeastOnce,
                    _ => return Err(DecodeError::InvalidPropertyValue { id }),
                };
                set(&mut self.maximum_qos, q, id)
            }
            RETAIN_AVAILABLE => set(&mut self.retain_available, flag(r, id)?, id),
            USER_PROPERTY => {
                let k = r.utf8()?;
                let v = r.utf8()?;
                self.user_properties.push((k, v));
                Ok(())
            }
            MAXIMUM_PACKET_SIZE => match r.u32()? {
                0 => Err(DecodeError::InvalidPropertyValue { id }),
                v => set(&mut self.maximum_packet_size, v, id),
            },
            WILDCARD_SUBSCRIPTION_AVAILABLE => {
                set(&mut self.wildcard_subscription_available, flag(r, id)?, id)
            }
            SUBSCRIPTION_IDENTIFIER_AVAILABLE => set(
                &mut self.subscription_identifier_available,
                flag(r, id)?,
                id,
            ),
            _ => set(&mut self.shared_subscription_available, flag(r, id)?, id),
        }
    }

    /// Calls `f(id, encoded value length)` for every property set.
    fn for_each(
        &self,
        mut f: impl FnMut(u8, usize) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        use id::*;
        let s = |s: &Utf8String| 2 + s.len();
        let b = |b: &Bytes| 2 + b.len();
        macro_rules! one {
            ($field:ident, $id:expr, $len:expr) => {
                if let Some(v) = &self.$field {
                    #[allow(clippy::redundant_closure_call)]
                    f($id, ($len)(v))?;
                }
            };
        }
        one!(payload_format_indicator, PAYLOAD_FORMAT_INDICATOR, |_| 1);
        one!(message_expiry_interval, MESSAGE_EXPIRY_INTERVAL, |_| 4);
        one!(content_type, CONTENT_TYPE, s);
        one!(response_topic, RESPONSE_TOPIC, s);
        one!(correlation_data, CORRELATION_DATA, b);
        for &v in &self.subscription_identifiers {
            f(SUBSCRIPTION_IDENTIFIER, varint_len(v as usize))?;
        }
        one!(session_expiry_interval, SESSION_EXPIRY_INTERVAL, |_| 4);
        one!(assigned_client_identifier, ASSIGNED_CLIENT_IDENTIFIER, s);
        one!(server_keep_alive, SERVER_KEEP_ALIVE, |_| 2);
        one!(authentication_method, AUTHENTICATION_METHOD, s);
        one!(authentication_data, AUTHENTICATION_DATA, b);
        one!(
            request_problem_information,
            REQUEST_PROBLEM_INFORMATION,
            |_| 1
        );
        one!(will_delay_interval, WILL_DELAY_INTERVAL, |_| 4);
        one!(
            request_response_information,
            REQUEST_RESPONSE_INFORMATION,
            |_| 1
        );
        one!(response_information, RESPONSE_INFORMATION, s);
        one!(server_reference, SERVER_REFERENCE, s);
        one!(reason_string, REASON_STRING, s);
        one!(receive_maximum, RECEIVE_MAXIMUM, |_| 2);
        one!(topic_alias_maximum, TOPIC_ALIAS_MAXIMUM, |_| 2);
        one!(topic_alias, TOPIC_ALIAS, |_| 2);
        one!(maximum_qos, MAXIMUM_QOS, |_| 1);
        one!(retain_available, RETAIN_AVAILABLE, |_| 1);
        for (k, v) in &self.user_properties {
            f(USER_PROPERTY, 4 + k.len() + v.len())?;
        }
        one!(maximum_packet_size, MAXIMUM_PACKET_SIZE, |_| 4);
        one!(
            wildcard_subscription_available,
            WILDCARD_SUBSCRIPTION_AVAILABLE,
            |_| 1
        );
        one!(
            subscription_identifier_available,
            SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            |_| 1
        );
        one!(
            shared_subscription_available,
            SHARED_SUBSCRIPTION_AVAILABLE,
            |_| 1
        );
        Ok(())
    }

    /// Length of the properties (without the Property Length in front),
    /// after checking they may appear in `ctx` and fit on the wire.
    pub(crate) fn encoded_len(&self, ctx: PropertyContext) -> Result<usize, EncodeError> {
        let mut total = 0;
        self.for_each(|id, len| {
            if !is_allowed(id, ctx) {
                return Err(EncodeError::PropertyNotAllowed { id });
            }
            total += 1 + len;
            Ok(())
        })?;
        for b in [&self.correlation_data, &self.authentication_data]
            .into_iter()
            .flatten()
        {
            if b.len() > usize::from(u16::MAX) {
                return Err(EncodeError::FieldTooLong { len: b.len() });
            }
        }
        if let Some(&bad) = self
            .subscription_identifiers
            .iter()
            .find(|&&v| v == 0 || v > VARINT_MAX)
        {
            let _ = bad;
            return Err(EncodeError::InvalidPropertyValue {
                id: id::SUBSCRIPTION_IDENTIFIER,
            });
        }
        let zero16 = [self.receive_maximum, self.topic_alias].contains(&Some(0));
        if zero16
            || self.maximum_packet_size == Some(0)
            || self.maximum_qos == Some(QoS::ExactlyOnce)
        {
            return Err(EncodeError::InvalidPropertyValue { id: 0 });
        }
        Ok(total)
    }

    /// Writes Property Length and the properties; `len` comes from [`Self::encoded_len`].
    pub(crate) fn encode(&self, len: usize, buf: &mut impl BufMut) {
        use id::*;
        put_varint(buf, len);
        if len == 0 {
            return;
        }
        let put_s = |buf: &mut dyn BufMut, id: u8, s: &[u8]| {
            buf.put_u8(id);
            buf.put_u16(s.len() as u16);
            buf.put_slice(s);
        };
        let put_flag = |buf: &mut dyn BufMut, id: u8, v: Option<bool>| {
            if let Some(v) = v {
                buf.put_u8(id);
                buf.put_u8(u8::from(v));
            }
        };
        let put_u16 = |buf: &mut dyn BufMut, id: u8, v: Option<u16>| {
            if let Some(v) = v {
                buf.put_u8(id);
                buf.put_u16(v);
            }
        };
        let put_u32 = |buf: &mut dyn BufMut, id: u8, v: Option<u32>| {
            if let Some(v) = v {
                buf.put_u8(id);
                buf.put_u32(v);
            }
        };
        let mut buf: &mut dyn BufMut = buf;
        put_flag(buf, PAYLOAD_FORMAT_INDICATOR, self.payload_format_indicator);
        put_u32(buf, MESSAGE_EXPIRY_INTERVAL, self.message_expiry_interval);
        if let Some(v) = &self.content_type {
            put_s(buf, CONTENT_TYPE, v.as_bytes());
        }
        if let Some(v) = &self.response_topic {
            put_s(buf, RESPONSE_TOPIC, v.as_bytes());
        }
        if let Some(v) = &self.correlation_data {
            put_s(buf, CORRELATION_DATA, v);
        }
        for &v in &self.subscription_identifiers {
            buf.put_u8(SUBSCRIPTION_IDENTIFIER);
            put_varint(&mut buf, v as usize);
        }
        put_u32(buf, SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        if let Some(v) = &self.assigned_client_identifier {
            put_s(buf, ASSIGNED_CLIENT_IDENTIFIER, v.as_bytes());
        }
        put_u16(buf, SERVER_KEEP_ALIVE, self.server_keep_alive);
        if let Some(v) = &self.authentication_method {
            put_s(buf, AUTHENTICATION_METHOD, v.as_bytes());
        }
        if let Some(v) = &self.authentication_data {
            put_s(buf, AUTHENTICATION_DATA, v);
        }
        put_flag(
            buf,
            REQUEST_PROBLEM_INFORMATION,
            self.request_problem_information,
        );
        put_u32(buf, WILL_DELAY_INTERVAL, self.will_delay_interval);
        put_flag(
            buf,
            REQUEST_RESPONSE_INFORMATION,
            self.request_response_information,
        );
        if let Some(v) = &self.response_information {
            put_s(buf, RESPONSE_INFORMATION, v.as_bytes());
        }
        if let Some(v) = &self.server_reference {
            put_s(buf, SERVER_REFERENCE, v.as_bytes());
        }
        if let Some(v) = &self.reason_string {
            put_s(buf, REASON_STRING, v.as_bytes());
        }
        put_u16(buf, RECEIVE_MAXIMUM, self.receive_maximum);
        put_u16(buf, TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        put_u16(buf, TOPIC_ALIAS, self.topic_alias);
        if let Some(q) = self.maximum_qos {
            buf.put_u8(MAXIMUM_QOS);
            buf.put_u8(q.as_u8());
        }
        put_flag(buf, RETAIN_AVAILABLE, self.retain_available);
        for (k, v) in &self.user_properties {
            buf.put_u8(USER_PROPERTY);
            buf.put_u16(k.len() as u16);
            buf.put_slice(k.as_bytes());
            buf.put_u16(v.len() as u16);
            buf.put_slice(v.as_bytes());
        }
        put_u32(buf, MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        put_flag(
            buf,
            WILDCARD_SUBSCRIPTION_AVAILABLE,
            self.wildcard_subscription_available,
        );
        put_flag(
            buf,
            SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            self.subscription_identifier_available,
        );
        put_flag(
            buf,
            SHARED_SUBSCRIPTION_AVAILABLE,
            self.shared_subscription_available,
        );
    }
}
