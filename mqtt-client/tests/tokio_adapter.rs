//! The tokio adapter over in-memory streams, in paused (virtual) time: the
//! test plays the server, so keep-alive, loss detection, back-off and
//! resubscription are checked against the clock without waiting for it.
#![cfg(feature = "tokio")]

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_client::tokio::{with_seed, Connector};
use mqtt_client::{Backoff, Config, DisconnectReason, Event};
use mqtt_codec::{
    ConnAck, Packet, ProtocolVersion, Publish, QoS, StreamDecoder, SubAck, Subscription, Utf8String,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Each connect makes an in-memory pipe and hands the server end to the test.
struct Pipe(mpsc::UnboundedSender<DuplexStream>);

impl Connector for Pipe {
    type Stream = DuplexStream;
    async fn connect(&mut self) -> io::Result<DuplexStream> {
        let (client, server) = tokio::io::duplex(1 << 16);
        self.0
            .send(server)
            .map_err(|_| io::Error::other("test ended"))?;
        Ok(client)
    }
}

struct Server {
    io: DuplexStream,
    dec: StreamDecoder,
    buf: BytesMut,
}

impl Server {
    fn new(io: DuplexStream) -> Self {
        Self {
            io,
            dec: StreamDecoder::detect_version(1 << 16),
            buf: BytesMut::new(),
        }
    }

    async fn recv(&mut self) -> Option<Packet> {
        loop {
            if let Some(p) = self.dec.decode(&mut self.buf).unwrap() {
                return Some(p);
            }
            if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                return None;
            }
        }
    }

    async fn send(&mut self, p: Packet) {
        let mut b = BytesMut::new();
        p.encode(ProtocolVersion::V3_1_1, &mut b).unwrap();
        self.io.write_all(&b).await.unwrap();
    }

    async fn accept(&mut self, session_present: bool) {
        assert!(matches!(self.recv().await, Some(Packet::Connect(_))));
        self.send(Packet::ConnAck(ConnAck {
            session_present,
            ..ConnAck::default()
        }))
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn keepalive_loss_backoff_and_resubscription_in_virtual_time() {
    let (tx, mut servers) = mpsc::unbounded_channel();
    let mut cfg = Config::new("paused");
    cfg.keep_alive = 10;
    cfg.ping_timeout = Duration::from_secs(5);
    cfg.reconnect = Some(Backoff::new(
        Duration::from_secs(2),
        Duration::from_secs(60),
    ));
    let (client, mut events, driver) = with_seed(cfg, Pipe(tx), 7);
    let driver = tokio::spawn(driver.run());

    let mut server = Server::new(servers.recv().await.unwrap());
    server.accept(false).await;
    assert!(matches!(events.recv().await, Some(Event::Connected { .. })));
    let id = client
        .subscribe(
            vec![Subscription::new(
                Utf8String::from_static("a/#"),
                QoS::AtLeastOnce,
            )],
            None,
        )
        .await
        .unwrap();
    let Some(Packet::Subscribe(s)) = server.recv().await else {
        panic!("SUBSCRIBE expected")
    };
    assert_eq!(s.packet_id, id);
    server
        .send(Packet::SubAck(SubAck::new(
            id,
            vec![mqtt_codec::ReasonCode::GRANTED_QOS_1],
        )))
        .await;
    assert!(matches!(
        events.recv().await,
        Some(Event::Subscribed { .. })
    ));

    // Idle: PINGREQ after the keep-alive interval.
    let idle_from = Instant::now();
    assert_eq!(server.recv().await, Some(Packet::PingReq));
    let waited = idle_from.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited <= Duration::from_secs(10),
        "{waited:?}"
    );
    // No PINGRESP: the client gives up after the ping timeout.
    let ping_at = Instant::now();
    let ev = events.recv().await.unwrap();
    let Event::Disconnected {
        reason: DisconnectReason::KeepAliveTimeout,
        reconnect_at: Some(_),
    } = ev
    else {
        panic!("{ev:?}")
    };
    assert_eq!(ping_at.elapsed(), Duration::from_secs(5));

    // Reconnect within the first back-off band [1 s, 2 s]; the server lost
    // the session, so the client subscribes again.
    let lost_at = Instant::now();
    let mut server = Server::new(servers.recv().await.unwrap());
    let wait = lost_at.elapsed();
    assert!(
        wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2),
        "{wait:?}"
    );
    server.accept(false).await;
    let Some(Packet::Subscribe(s)) = server.recv().await else {
        panic!("resubscription expected")
    };
    assert_eq!(s.filters[0].filter, "a/#");

    // Messages flow on the new connection.
    server
        .send(Packet::Publish(Publish::new(
            Utf8String::from_static("a/b"),
            Bytes::from_static(b"hi"),
        )))
        .await;
    let msg = loop {
        if let Some(Event::Message(m)) = events.recv().await {
            break m;
        }
    };
    assert_eq!(msg.payload, "hi");
    client.disconnect().await.unwrap();
    assert!(matches!(server.recv().await, Some(Packet::Disconnect(_))));
    assert!(driver.await.unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_disconnects_and_stops_the_driver() {
    let (tx, mut servers) = mpsc::unbounded_channel();
    let (client, _events, driver) = with_seed(Config::new("x"), Pipe(tx), 1);
    let driver = tokio::spawn(driver.run());
    let mut server = Server::new(servers.recv().await.unwrap());
    server.accept(false).await;
    drop(client);
    assert!(matches!(server.recv().await, Some(Packet::Disconnect(_))));
    assert!(driver.await.unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn publish_nowait_goes_out_in_order_and_completes_by_event() {
    let (tx, mut servers) = mpsc::unbounded_channel();
    let (client, mut events, driver) = with_seed(Config::new("n"), Pipe(tx), 1);
    let driver = tokio::spawn(driver.run());
    let mut server = Server::new(servers.recv().await.unwrap());
    server.accept(false).await;
    // QoS 0 needs the connection up (before CONNACK it would be refused and dropped).
    assert!(matches!(events.recv().await, Some(Event::Connected { .. })));
    for i in 0..50u8 {
        let qos = if i % 2 == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let m = Publish::new(Utf8String::from_static("n"), Bytes::copy_from_slice(&[i]))
            .with_qos(qos, 0);
        client.publish_nowait(m).await.unwrap();
    }
    for i in 0..50u8 {
        let Some(Packet::Publish(p)) = server.recv().await else {
            panic!("PUBLISH expected")
        };
        assert_eq!(p.payload[..], [i]);
        if p.qos == QoS::AtLeastOnce {
            server
                .send(Packet::PubAck(mqtt_codec::Ack::new(p.packet_id)))
                .await;
        }
    }
    let mut done = 0;
    while done < 25 {
        if let Some(Event::Published { .. }) = events.recv().await {
            done += 1;
        }
    }
    client.disconnect().await.unwrap();
    assert!(driver.await.unwrap().is_ok());
}
