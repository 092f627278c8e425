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

/// A subscriber that stops reading while QoS 0 messages pour in is cut off
/// once the adapter holds `max_write_queue_bytes` for it, instead of the
/// broker buffering without bound; the publisher is not affected.
#[tokio::test]
async fn slow_consumer_is_disconnected_at_the_write_queue_limit() {
    use bytes::BytesMut;
    use mqtt_codec::{Connect, Packet, Subscribe};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut cfg = Config::default();
    cfg.max_write_queue_bytes = 256 << 10;
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(mqtt_broker_core::tokio::serve(
        vec![listener],
        Broker::new(cfg, 5),
        async move {
            let _ = stopped.await;
        },
    ));

    // The slow subscriber speaks raw packets and then stops reading.
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut wire = BytesMut::new();
    let mut connect = Connect::new(ProtocolVersion::V3_1_1);
    connect.client_id = Utf8String::from_static("slow");
    connect.keep_alive = 60;
    Packet::Connect(Box::new(connect))
        .encode(ProtocolVersion::V3_1_1, &mut wire)
        .unwrap();
    let sub = Subscribe::new(
        1,
        vec![Subscription::new(
            Utf8String::from_static("flood"),
            QoS::AtMostOnce,
        )],
    );
    Packet::Subscribe(sub)
        .encode(ProtocolVersion::V3_1_1, &mut wire)
        .unwrap();
    slow.write_all(&wire).await.unwrap();
    let mut head = [0u8; 9]; // CONNACK (4) + SUBACK (5)
    tokio::time::timeout(Duration::from_secs(5), slow.read_exact(&mut head))
        .await
        .expect("CONNACK and SUBACK")
        .unwrap();

    let mut config = ClientConfig::new("fast");
    config.reconnect = None;
    let (client, mut events, driver) = new(config, TcpConnector::new("127.0.0.1", port));
    tokio::spawn(driver.run());
    assert!(matches!(next(&mut events).await, Event::Connected { .. }));
    // 64 MiB: far more than loopback socket buffers plus the 256 KiB limit.
    let payload = Bytes::from(vec![0x5a; 32 << 10]);
    for _ in 0..2048 {
        let m = Publish::new(Utf8String::from_static("flood"), payload.clone());
        client.publish(m).await.unwrap();
    }
    // The publisher still gets answers: a QoS 1 publish completes.
    let m = Publish::new(Utf8String::from_static("other"), Bytes::from_static(b"x"))
        .with_qos(QoS::AtLeastOnce, 0);
    client.publish(m).await.unwrap();

    // The slow subscriber now reads: it finds the end of the stream after
    // far less than what was published.
    let mut total = 0usize;
    let mut buf = vec![0u8; 64 << 10];
    let eof = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => total += n,
            }
        }
    })
    .await;
    assert!(eof.is_ok(), "slow consumer was not disconnected");
    assert!(
        total < 32 << 20,
        "read {total} bytes: the queue was not bounded"
    );
}
