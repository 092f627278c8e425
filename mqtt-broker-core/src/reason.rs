//! Reason Strings (MQTT 5.0 §3.2.2.3.9 and the like) and Request Problem
//! Information (§3.1.2.11.7): what the broker may add to its answers for
//! diagnostics, and what it leaves out.

use mqtt_codec::{Packet, ReasonCode, Utf8String};

use crate::broker::Broker;

impl Broker {
    /// A Reason String for `reason`, if [`Config::reason_strings`](crate::Config::reason_strings) is on.
    pub(crate) fn reason_string(&self, reason: ReasonCode) -> Option<Utf8String> {
        if !self.config.reason_strings {
            return None;
        }
        reason_text(reason).map(Utf8String::from_static)
    }
}

/// A short human-readable text for the reason codes the broker sends.
fn reason_text(reason: ReasonCode) -> Option<&'static str> {
    Some(match reason {
        ReasonCode::NO_MATCHING_SUBSCRIBERS => "no subscriber matched the topic",
        ReasonCode::UNSPECIFIED_ERROR => "unspecified error",
        ReasonCode::MALFORMED_PACKET => "malformed packet",
        ReasonCode::PROTOCOL_ERROR => "protocol error",
        ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR => "refused by the broker",
        ReasonCode::UNSUPPORTED_PROTOCOL_VERSION => "unsupported protocol version",
        ReasonCode::CLIENT_IDENTIFIER_NOT_VALID => "client identifier not valid",
        ReasonCode::BAD_USER_NAME_OR_PASSWORD => "bad user name or password",
        ReasonCode::NOT_AUTHORIZED => "not authorized",
        ReasonCode::SERVER_UNAVAILABLE => "server unavailable",
        ReasonCode::SERVER_BUSY => "server busy",
        ReasonCode::BANNED => "banned",
        ReasonCode::SERVER_SHUTTING_DOWN => "server shutting down",
        ReasonCode::BAD_AUTHENTICATION_METHOD => "bad authentication method",
        ReasonCode::KEEP_ALIVE_TIMEOUT => {
            "keep alive timeout: nothing received for 1.5 times the keep alive"
        }
        ReasonCode::SESSION_TAKEN_OVER => {
            "session taken over by a new connection with the same client identifier"
        }
        ReasonCode::TOPIC_FILTER_INVALID => "topic filter invalid",
        ReasonCode::TOPIC_NAME_INVALID => "topic name invalid",
        ReasonCode::RECEIVE_MAXIMUM_EXCEEDED => "receive maximum exceeded",
        ReasonCode::TOPIC_ALIAS_INVALID => "topic alias invalid",
        ReasonCode::PACKET_TOO_LARGE => "packet too large",
        ReasonCode::QUOTA_EXCEEDED => "quota exceeded",
        ReasonCode::RETAIN_NOT_SUPPORTED => "retain not supported",
        ReasonCode::QOS_NOT_SUPPORTED => "QoS not supported",
        ReasonCode::MAXIMUM_CONNECT_TIME => "no CONNECT in time",
        _ => return None,
    })
}

/// The properties of `p` that may carry a Reason String or User Properties
/// the broker adds: acknowledgements, SUBACK, UNSUBACK, AUTH, and with
/// `all` CONNACK and DISCONNECT too (never PUBLISH, whose user properties
/// are the application's).
fn diagnostics(p: &mut Packet, all: bool) -> Option<&mut mqtt_codec::Props> {
    match p {
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            Some(&mut a.properties)
        }
        Packet::SubAck(a) => Some(&mut a.properties),
        Packet::UnsubAck(a) => Some(&mut a.properties),
        Packet::Auth(a) => Some(&mut a.properties),
        Packet::ConnAck(a) if all => Some(&mut a.properties),
        Packet::Disconnect(d) if all => Some(&mut d.properties),
        _ => None,
    }
}

/// Whether [`strip_diagnostics`] would change `p`.
pub(crate) fn has_diagnostics(p: &Packet, all: bool) -> bool {
    let props = match p {
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            &a.properties
        }
        Packet::SubAck(a) => &a.properties,
        Packet::UnsubAck(a) => &a.properties,
        Packet::Auth(a) => &a.properties,
        Packet::ConnAck(a) if all => &a.properties,
        Packet::Disconnect(d) if all => &d.properties,
        _ => return false,
    };
    props.reason_string.is_some() || !props.user_properties.is_empty()
}

/// Leaves out the Reason String and User Properties of `p` (see [`diagnostics`]).
pub(crate) fn strip_diagnostics(p: &mut Packet, all: bool) {
    if let Some(props) = diagnostics(p, all) {
        props.reason_string = None;
        props.user_properties.clear();
    }
}
