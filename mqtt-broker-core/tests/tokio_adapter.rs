//! The tokio adapter on loopback with the workspace's MQTT client: a QoS 1
//! round trip, then a graceful shutdown that tells the 5.0 client 0x8B.
#![cfg(feature = "tokio")]

use std::time::Duration;

use bytes::Bytes;
use mqtt_broker_core::{Broker, Config};
use mqtt_client::tokio::{new, Events, TcpConnector};
use mqtt_client::{Config as ClientConfig, DisconnectReason, Event};
use mqtt_codec::{ProtocolVersion, Publish, QoS, ReasonCode, Subscription, Utf8String};

async fn next(events: &mut Events) -> Event {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("event within 5 s")
        .expect("driver alive")
}

#[tokio::test]
async fn qos1_round_trip_then_graceful_shutdown_sends_0x8b() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mqtt_broker_core::tokio::serve(
        vec![listener],
        Broker::new(Config::default(), 3),
        async move {
            let _ = stopped.await;
        },
    ));

    let mut config = ClientConfig::new("c");
    config.version = ProtocolVersion::V5;
    config.reconnect = None;
    let (client, mut events, driver) = new(config, TcpConnector::new("127.0.0.1", port));
    tokio::spawn(driver.run());
    assert!(matches!(next(&mut events).await, Event::Connected { .. }));
    let f = Subscription::new(Utf8String::from_static("a/#"), QoS::AtLeastOnce);
    client.subscribe(vec![f], None).await.unwrap();
    assert!(matches!(next(&mut events).await, Event::Subscribed { .. }));
    let msg = Publish::new(Utf8String::from_static("a/b"), Bytes::from_static(b"hi"))
        .with_qos(QoS::AtLeastOnce, 0);
    client.publish(msg).await.unwrap();
    let mut got = None;
    for _ in 0..5 {
        if let Event::Message(m) = next(&mut events).await {
            got = Some(m);
            break;
        }
    }
    let m = got.expect("own message back");
    assert_eq!((&m.payload[..], m.qos), (&b"hi"[..], QoS::AtLeastOnce));

    stop.send(()).unwrap();
    let mut reason = None;
    for _ in 0..5 {
        if let Event::Disconnected { reason: r, .. } = next(&mut events).await {
            reason = Some(r);
            break;
        }
    }
    assert_eq!(
        reason,
        Some(DisconnectReason::ServerDisconnect(
            ReasonCode::SERVER_SHUTTING_DOWN
        ))
    );
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
}
