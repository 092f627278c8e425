//! Helpers to build messages: request/response (MQTT 5.0 §4.10).

use bytes::Bytes;
use mqtt_codec::{Publish, QoS, Utf8String};

/// A request (MQTT 5.0 §4.10): a message on `topic` that asks for an answer
/// on `response_topic`, tagged with `correlation_data` so the answer can be
/// matched.
///
/// ```
/// use bytes::Bytes;
/// use mqtt_client::message::{request, response_to};
/// use mqtt_codec::{QoS, Utf8String};
/// let req = request(
///     Utf8String::from_static("svc/time"),
///     Bytes::new(),
///     Utf8String::from_static("replies/me"),
///     Bytes::from_static(b"42"),
///     QoS::AtLeastOnce,
/// );
/// let resp = response_to(&req, Bytes::from_static(b"12:00")).unwrap();
/// assert_eq!(resp.topic, "replies/me");
/// assert_eq!(resp.properties.correlation_data.as_deref(), Some(&b"42"[..]));
/// ```
#[must_use]
pub fn request(
    topic: Utf8String,
    payload: Bytes,
    response_topic: Utf8String,
    correlation_data: Bytes,
    qos: QoS,
) -> Publish {
    let mut p = Publish::new(topic, payload).with_qos(qos, 0);
    p.properties.response_topic = Some(response_topic);
    if !correlation_data.is_empty() {
        p.properties.correlation_data = Some(correlation_data);
    }
    p
}

/// The response to a request: published on its Response Topic with its
/// Correlation Data and QoS; `None` when the request has no Response Topic.
#[must_use]
pub fn response_to(request: &Publish, payload: Bytes) -> Option<Publish> {
    let topic = request.properties.response_topic.clone()?;
    let mut p = Publish::new(topic, payload).with_qos(request.qos, 0);
    if let Some(c) = &request.properties.correlation_data {
        p.properties.correlation_data = Some(c.clone());
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_needs_a_response_topic() {
        let plain = Publish::new(Utf8String::from_static("a"), Bytes::new());
        assert!(response_to(&plain, Bytes::new()).is_none());
        let req = request(
            Utf8String::from_static("a"),
            Bytes::new(),
            Utf8String::from_static("r"),
            Bytes::new(),
            QoS::AtMostOnce,
        );
        let resp = response_to(&req, Bytes::from_static(b"x")).unwrap();
        assert_eq!(resp.properties.correlation_data, None);
        assert_eq!(resp.payload, "x");
    }
}
