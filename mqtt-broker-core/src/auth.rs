//! Enhanced authentication (MQTT 5.0 §4.12): AUTH exchanges during CONNECT
//! and re-authentication, decided by [`Hooks::auth`](crate::Hooks::auth).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use mqtt_codec::{Auth, Connect, Packet, Props, ReasonCode, Utf8String};

use crate::broker::{Broker, ConnId};
use crate::hooks::AuthStep;

/// A CONNECT waiting for the end of its AUTH exchange.
#[derive(Debug)]
pub(crate) struct PendingAuth {
    pub(crate) connect: Connect,
    pub(crate) client_id: Arc<str>,
    pub(crate) props: Props,
}

impl Broker {
    pub(crate) fn send_auth(
        &mut self,
        conn: ConnId,
        reason: ReasonCode,
        method: Utf8String,
        data: Option<Bytes>,
    ) {
        let mut a = Auth {
            reason_code: reason,
            ..Auth::default()
        };
        a.properties.authentication_method = Some(method);
        a.properties.authentication_data = data;
        self.send(conn, &Packet::Auth(a));
    }

    /// AUTH from a client: the next step of a CONNECT's exchange, or a
    /// re-authentication (0x19) of a connected client.
    pub(crate) fn on_auth(&mut self, now: Instant, conn: ConnId, a: Auth) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let v5 = c.version.is_v5();
        let pending = c.pending_auth.take();
        let connected = c.client.clone();
        let Some(method) = a.properties.authentication_method.clone() else {
            return self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR);
        };
        let data = a.properties.authentication_data.as_deref();
        match (pending, connected) {
            (Some(mut p), _) => {
                let same = p.connect.properties.authentication_method.as_ref() == Some(&method);
                if !same || a.reason_code != ReasonCode::CONTINUE_AUTHENTICATION {
                    return self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR);
                }
                match self.hooks.auth(&p.client_id, &method, data) {
                    AuthStep::Success(data) => {
                        p.props.authentication_method = Some(method);
                        p.props.authentication_data = data;
                        let PendingAuth {
                            connect,
                            client_id,
                            props,
                        } = *p;
                        self.finish_connect(now, conn, connect, client_id, props);
                    }
                    AuthStep::Continue(data) => {
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.pending_auth = Some(p);
                        }
                        self.send_auth(conn, ReasonCode::CONTINUE_AUTHENTICATION, method, data);
                    }
                    AuthStep::Refuse(code) => self.refuse(now, conn, code),
                }
            }
            (None, Some(client_id)) if v5 => {
                let reason = a.reason_code;
                if reason != ReasonCode::RE_AUTHENTICATE
                    && reason != ReasonCode::CONTINUE_AUTHENTICATION
                {
                    return self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR);
                }
                match self.hooks.auth(&client_id, &method, data) {
                    AuthStep::Success(data) => {
                        self.send_auth(conn, ReasonCode::SUCCESS, method, data)
                    }
                    AuthStep::Continue(data) => {
                        self.send_auth(conn, ReasonCode::CONTINUE_AUTHENTICATION, method, data);
                    }
                    AuthStep::Refuse(code) => self.protocol_error(now, conn, code),
                }
            }
            _ => self.protocol_error(now, conn, ReasonCode::PROTOCOL_ERROR),
        }
    }
}
