//! CONNECT (MQTT 5.0 §3.1, MQTT 3.1.1 §3.1, MQTT 3.1 `MQIsdp`).

use bytes::{BufMut, Bytes};

use super::{check_binary, put_binary, put_header, with_len_prefix};
use crate::error::{DecodeError, EncodeError};
use crate::fixed_header::PacketType;
use crate::parse::Reader;
use crate::primitives::Utf8String;
use crate::property::{Properties, PropertyContext, Props};
use crate::qos::QoS;
use crate::topic::{check_name, TopicError};
use crate::version::ProtocolVersion;

/// CONNECT: the first packet a client sends.
///
/// The packet names its own protocol version; decoding reads it from the
/// protocol name and level, encoding writes [`Connect::protocol_version`].
/// MQTT 3.1 left the fixed header flags of CONNECT unspecified, so they are
/// ignored for `MQIsdp` and written as 0.
///
/// ```
/// use mqtt_codec::{Connect, Packet, ProtocolVersion, Utf8String};
/// let connect = Connect {
///     client_id: Utf8String::from_static("sensor-7"),
///     keep_alive: 30,
///     ..Connect::new(ProtocolVersion::V5)
/// };
/// let mut buf = Vec::new();
/// Packet::Connect(Box::new(connect)).encode(ProtocolVersion::V5, &mut buf).unwrap();
/// assert_eq!(&buf[..9], b"\x10\x15\x00\x04MQTT\x05");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Protocol version (from protocol name and level).
    pub protocol_version: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.1.1).
    pub clean_start: bool,
    /// Keep Alive, seconds.
    pub keep_alive: u16,
    /// Properties (MQTT 5.0).
    pub properties: Props,
    /// Client Identifier (may be empty).
    pub client_id: Utf8String,
    /// Will message.
    pub will: Option<LastWill>,
    /// User Name.
    pub username: Option<Utf8String>,
    /// Password (binary data).
    pub password: Option<Bytes>,
}

/// The will message of a CONNECT (MQTT 5.0 §3.1.2.5, §3.1.3.2–§3.1.3.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LastWill {
    /// Will Topic (a topic name).
    pub topic: Utf8String,
    /// Will Payload.
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will Properties (MQTT 5.0).
    pub properties: Props,
}

impl Connect {
    /// A clean-start CONNECT with an empty client identifier and keep-alive 60 s.
    #[must_use]
    pub fn new(protocol_version: ProtocolVersion) -> Self {
        Self {
            protocol_version,
            clean_start: true,
            keep_alive: 60,
            properties: Props::default(),
            client_id: Utf8String::default(),
            will: None,
            username: None,
            password: None,
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>, header_flags: u8) -> Result<Self, DecodeError> {
        let name = r.binary()?;
        let level = r.u8()?;
        let version = ProtocolVersion::from_level(level)
            .ok_or(DecodeError::UnsupportedProtocolLevel { level })?;
        if name != version.protocol_name().as_bytes() {
            if &name[..] == b"MQTT" || &name[..] == b"MQIsdp" {
                return Err(DecodeError::UnsupportedProtocolLevel { level });
            }
            return Err(DecodeError::InvalidProtocolName);
        }
        if header_flags != 0 && version != ProtocolVersion::V3_1 {
            return Err(DecodeError::InvalidHeaderFlags {
                packet_type: PacketType::Connect,
                flags: header_flags,
            });
        }
        let flags = r.u8()?;
        let will_flag = flags & 0x04 != 0;
        let will_qos = (flags >> 3) & 3;
        let will_retain = flags & 0x20 != 0;
        let has_password = flags & 0x40 != 0;
        let has_username = flags & 0x80 != 0;
        // MQTT-3.1.2-3 reserved bit; MQTT-3.1.2-11/13/14/15 will bits;
        // MQTT-3.1.2-22 (3.1.1 and 3.1) password needs a user name.
        let bad_will = if will_flag {
            will_qos == 3
        } else {
            will_qos != 0 || will_retain
        };
        // MQTT 3.1 has no reserved-bit rule; Mosquitto accepts it set there.
        let reserved = flags & 1 != 0 && version != ProtocolVersion::V3_1;
        if reserved || bad_will || (has_password && !has_username && !version.is_v5()) {
            return Err(DecodeError::InvalidConnectFlags { flags });
        }
        let keep_alive = r.u16()?;
        let properties = if version.is_v5() {
            Properties::decode(r, PropertyContext::Packet(PacketType::Connect))?
        } else {
            Props::default()
        };
        let client_id = r.utf8()?;
        let will = if will_flag {
            let properties = if version.is_v5() {
                Properties::decode(r, PropertyContext::Will)?
            } else {
                Props::default()
            };
            let (topic, at) = r.string()?;
            check_name(topic.as_bytes())
                .map_err(|error| DecodeError::InvalidTopicName { offset: at, error })?;
            let payload = r.binary()?;
            Some(LastWill {
                topic,
                payload,
                qos: QoS::from_u8(will_qos).unwrap_or_default(),
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if has_username { Some(r.utf8()?) } else { None };
        let password = if has_password {
            Some(r.binary()?)
        } else {
            None
        };
        Ok(Self {
            protocol_version: version,
            clean_start: flags & 0x02 != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    pub(crate) fn encode(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        let version = self.protocol_version;
        let v5 = version.is_v5();
        if self.password.is_some() && self.username.is_none() && !v5 {
            return Err(EncodeError::PasswordWithoutUsername);
        }
        let name = version.protocol_name();
        let mut remaining = 2 + name.len() + 1 + 1 + 2 + 2 + self.client_id.len();
        let plen = if v5 {
            let plen = self
                .properties
                .encoded_len(PropertyContext::Packet(PacketType::Connect))?;
            remaining += with_len_prefix(plen);
            plen
        } else {
            0
        };
        let mut flags = u8::from(self.clean_start) << 1;
        let mut will_plen = 0;
        if let Some(w) = &self.will {
            if w.topic.is_empty() {
                return Err(EncodeError::InvalidTopicName(TopicError::Empty));
            }
            check_name(w.topic.as_bytes()).map_err(EncodeError::InvalidTopicName)?;
            check_binary(&w.payload)?;
            if v5 {
                will_plen = w.properties.encoded_len(PropertyContext::Will)?;
                remaining += with_len_prefix(will_plen);
            }
            remaining += 2 + w.topic.len() + 2 + w.payload.len();
            flags |= 0x04 | (w.qos.as_u8() << 3) | (u8::from(w.retain) << 5);
        }
        if let Some(u) = &self.username {
            remaining += 2 + u.len();
            flags |= 0x80;
        }
        if let Some(p) = &self.password {
            check_binary(p)?;
            remaining += 2 + p.len();
            flags |= 0x40;
        }
        put_header(buf, 0x10, remaining)?;
        put_binary(buf, name.as_bytes());
        buf.put_u8(version.level());
        buf.put_u8(flags);
        buf.put_u16(self.keep_alive);
        if v5 {
            self.properties.encode(plen, buf);
        }
        put_binary(buf, self.client_id.as_bytes());
        if let Some(w) = &self.will {
            if v5 {
                w.properties.encode(will_plen, buf);
            }
            put_binary(buf, w.topic.as_bytes());
            put_binary(buf, &w.payload);
        }
        if let Some(u) = &self.username {
            put_binary(buf, u.as_bytes());
        }
        if let Some(p) = &self.password {
            put_binary(buf, p);
        }
        Ok(())
    }
}
