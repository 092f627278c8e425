//! Authentication and authorisation hooks, so that password files and ACLs
//! plug in without touching the engine.

use mqtt_codec::{QoS, ReasonCode};

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
