//! Authentication and authorisation hooks, so that password files and ACLs
//! plug in without touching the engine.

use bytes::Bytes;
use mqtt_codec::{QoS, ReasonCode};

/// The answer of [`Hooks::auth`] to one step of enhanced authentication
/// (MQTT 5.0 §4.12).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthStep {
    /// Authenticated: CONNACK (or AUTH 0x00 when re-authenticating), with
    /// this Authentication Data.
    Success(Option<Bytes>),
    /// Another round: AUTH 0x18 (Continue authentication) with this data.
    Continue(Option<Bytes>),
    /// Refused with this reason code (CONNACK, or DISCONNECT when re-authenticating).
    Refuse(ReasonCode),
}

/// What the broker asks the application about clients. Every method has a
/// permissive default.
pub trait Hooks: Send {
    /// CONNECT with these credentials: [`ReasonCode::SUCCESS`] accepts, an
    /// error code (e.g. [`ReasonCode::BAD_USER_NAME_OR_PASSWORD`] or
    /// [`ReasonCode::NOT_AUTHORIZED`]) refuses (MQTT 5.0 §3.1.4).
    fn authenticate(
        &mut self,
        client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> ReasonCode {
        let _ = (client_id, username, password);
        ReasonCode::SUCCESS
    }

    /// One step of enhanced authentication with `method` and the client's
    /// Authentication Data. By default no method is known: 0x8C (Bad
    /// authentication method).
    fn auth(&mut self, client_id: &str, method: &str, data: Option<&[u8]>) -> AuthStep {
        let _ = (client_id, method, data);
        AuthStep::Refuse(ReasonCode::BAD_AUTHENTICATION_METHOD)
    }

    /// May `client_id` publish on `topic`? A refusal answers PUBACK/PUBREC
    /// 0x87 in 5.0 and drops the message silently before.
    fn authorize_publish(&mut self, client_id: &str, topic: &str, qos: QoS, retain: bool) -> bool {
        let _ = (client_id, topic, qos, retain);
        true
    }

    /// May `client_id` subscribe to `filter`? A refusal answers 0x87 (0x80 before 5.0).
    fn authorize_subscribe(&mut self, client_id: &str, filter: &str) -> bool {
        let _ = (client_id, filter);
        true
    }
}

/// Hooks that allow everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Hooks for AllowAll {}
