//! Interop against a real Mosquitto (Debian `mosquitto` 2.0.x) through the
//! tokio adapter: every QoS both ways, retained messages, wills, queued
//! messages for a persistent session, DUP redelivery, MQTT 5.0 properties.
//! Without mosquitto the tests skip (and fail under `CI=true`).
#![cfg(feature = "tokio")]
#![allow(clippy::disallowed_methods)] // real sockets, real time

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_client::tokio::{new, Client, Events, TcpConnector};
use mqtt_client::{Config, Event};
use mqtt_codec::{ProtocolVersion, Publish, QoS, Subscription, Utf8String};
use testkit::peers::Mosquitto;
use tokio::task::JoinHandle;

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];
const WAIT: Duration = Duration::from_secs(5);

type Driver = JoinHandle<Result<(), mqtt_client::tokio::DriverError>>;

fn config(id: &str, version: ProtocolVersion) -> Config {
    let mut c = Config::new(id);
    c.version = version;
    c
}

/// Starts a client and waits for CONNACK; returns it with its session-present flag.
async fn start(addr: SocketAddr, cfg: Config) -> (Client, Events, Driver, bool) {
    let (client, mut events, driver) = new(cfg, TcpConnector::addr(addr));
    let driver = tokio::spawn(driver.run());
    let ev = next(&mut events, |e| matches!(e, Event::Connected { .. })).await;
    let Event::Connected {
        session_present, ..
    } = ev
    else {
        unreachable!()
    };
    (client, events, driver, session_present)
}

/// The next event that satisfies `pred`, within `WAIT`.
async fn next(events: &mut Events, pred: impl Fn(&Event) -> bool) -> Event {
    tokio::time::timeout(WAIT, async {
        loop {
            let ev = events.recv().await.expect("driver stopped");
            if pred(&ev) {
                return ev;
            }
        }
    })
    .await
    .expect("timed out waiting for an event")
}

async fn message(events: &mut Events) -> Publish {
    match next(events, |e| matches!(e, Event::Message(_))).await {
        Event::Message(m) => m,
        _ => unreachable!(),
    }
}

async fn subscribe(
    client: &Client,
    events: &mut Events,
    filter: &'static str,
    qos: QoS,
    sub_id: Option<u32>,
) {
    let id = client
        .subscribe(
            vec![Subscription::new(Utf8String::from_static(filter), qos)],
            sub_id,
        )
        .await
        .unwrap();
    let ev = next(
        events,
        |e| matches!(e, Event::Subscribed { packet_id, .. } if *packet_id == id),
    )
    .await;
    let Event::Subscribed { reason_codes, .. } = ev else {
        unreachable!()
    };
    assert_eq!(reason_codes[0].0, qos.as_u8(), "granted QoS");
}

fn msg(topic: &'static str, payload: &'static str, qos: QoS) -> Publish {
    Publish::new(
        Utf8String::from_static(topic),
        Bytes::from_static(payload.as_bytes()),
    )
    .with_qos(qos, 0)
}

#[tokio::test]
async fn every_qos_in_both_directions() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    for v in VERSIONS {
        let (sub, mut sub_ev, _d1, _) = start(broker.addr(), config("sub", v)).await;
        subscribe(&sub, &mut sub_ev, "q/#", QoS::ExactlyOnce, None).await;
        let (publ, mut pub_ev, _d2, _) = start(broker.addr(), config("pub", v)).await;
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let id = publ.publish(msg("q/x", "payload", qos)).await.unwrap();
            if let Some(id) = id {
                let ev = next(&mut pub_ev, |e| matches!(e, Event::Published { .. })).await;
                assert_eq!(ev, Event::Published { packet_id: id, qos });
            }
            let m = message(&mut sub_ev).await;
            assert_eq!(
                (m.topic.as_str(), &m.payload[..], m.qos),
                ("q/x", &b"payload"[..], qos),
                "{v:?}"
            );
        }
        publ.disconnect().await.unwrap();
        sub.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn retained_message_reaches_a_later_subscriber() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    for v in VERSIONS {
        let (publ, mut pub_ev, _d, _) = start(broker.addr(), config("pub", v)).await;
        publ.publish(msg("r/state", "on", QoS::AtLeastOnce).with_retain(true))
            .await
            .unwrap();
        next(&mut pub_ev, |e| matches!(e, Event::Published { .. })).await;
        let (sub, mut sub_ev, _d2, _) = start(broker.addr(), config("sub", v)).await;
        subscribe(&sub, &mut sub_ev, "r/#", QoS::AtLeastOnce, None).await;
        let m = message(&mut sub_ev).await;
        assert!(m.retain && m.payload == "on", "{v:?}: {m:?}");
        publ.disconnect().await.unwrap();
        sub.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn will_is_published_when_the_connection_drops() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    for v in VERSIONS {
        let (sub, mut sub_ev, _d, _) = start(broker.addr(), config("watcher", v)).await;
        subscribe(&sub, &mut sub_ev, "wills/#", QoS::AtLeastOnce, None).await;
        let mut cfg = config("doomed", v);
        cfg.will = Some(mqtt_codec::LastWill {
            topic: Utf8String::from_static("wills/doomed"),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtLeastOnce,
            ..Default::default()
        });
        let (_doomed, _ev, driver, _) = start(broker.addr(), cfg).await;
        driver.abort(); // the socket closes without DISCONNECT
        let m = message(&mut sub_ev).await;
        assert_eq!(
            (m.topic.as_str(), &m.payload[..]),
            ("wills/doomed", &b"gone"[..]),
            "{v:?}"
        );
        sub.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn persistent_session_receives_what_mosquitto_queued_while_away() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    for v in VERSIONS {
        let mut cfg = config("persistent", v);
        cfg.clean_start = false;
        cfg.session_expiry_interval = Some(600);
        let (sub, mut sub_ev, _d, _) = start(broker.addr(), cfg.clone()).await;
        subscribe(&sub, &mut sub_ev, "queued/#", QoS::ExactlyOnce, None).await;
        sub.disconnect().await.unwrap();

        let (publ, mut pub_ev, _d2, _) = start(broker.addr(), config("pub", v)).await;
        for (i, qos) in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtLeastOnce]
            .into_iter()
            .enumerate()
        {
            let topic = ["queued/0", "queued/1", "queued/2"][i];
            publ.publish(msg(topic, "while away", qos)).await.unwrap();
            next(&mut pub_ev, |e| matches!(e, Event::Published { .. })).await;
        }
        let (sub, mut sub_ev, _d3, session_present) = start(broker.addr(), cfg).await;
        assert!(session_present, "{v:?}");
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(message(&mut sub_ev).await.topic.as_str().to_owned());
        }
        assert_eq!(got, ["queued/0", "queued/1", "queued/2"], "{v:?}");
        sub.disconnect().await.unwrap();
        publ.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn v5_properties_round_trip_through_mosquitto() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let v = ProtocolVersion::V5;
    let (sub, mut sub_ev, _d, _) = start(broker.addr(), config("sub5", v)).await;
    subscribe(&sub, &mut sub_ev, "props/#", QoS::AtLeastOnce, Some(77)).await;
    let (publ, _pub_ev, _d2, _) = start(broker.addr(), config("pub5", v)).await;
    let mut m = mqtt_client::message::request(
        Utf8String::from_static("props/req"),
        Bytes::from_static(b"{}"),
        Utf8String::from_static("props/resp"),
        Bytes::from_static(b"corr-1"),
        QoS::AtLeastOnce,
    );
    m.properties.content_type = Some(Utf8String::from_static("application/json"));
    m.properties.payload_format_indicator = Some(true);
    m.properties.message_expiry_interval = Some(3600);
    m.properties
        .user_properties
        .push((Utf8String::from_static("k"), Utf8String::from_static("v")));
    publ.publish(m.clone()).await.unwrap();
    let got = message(&mut sub_ev).await;
    let (p, q) = (&got.properties, &m.properties);
    assert_eq!(p.content_type, q.content_type);
    assert_eq!(p.payload_format_indicator, q.payload_format_indicator);
    assert_eq!(p.response_topic, q.response_topic);
    assert_eq!(p.correlation_data, q.correlation_data);
    assert_eq!(p.user_properties, q.user_properties);
    assert!(p
        .message_expiry_interval
        .is_some_and(|e| e <= 3600 && e > 3590));
    assert_eq!(p.subscription_identifiers, [77]);
    // Answer on the response topic, as a responder would.
    let resp = mqtt_client::message::response_to(&got, Bytes::from_static(b"ok")).unwrap();
    publ.publish(resp).await.unwrap();
    let r = message(&mut sub_ev).await;
    assert_eq!(
        (r.topic.as_str(), r.properties.correlation_data.as_deref()),
        ("props/resp", Some(&b"corr-1"[..]))
    );
    sub.disconnect().await.unwrap();
    publ.disconnect().await.unwrap();
}

#[tokio::test]
async fn keepalive_pings_keep_the_connection() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let mut cfg = config("pinger", ProtocolVersion::V3_1_1);
    cfg.keep_alive = 1;
    let (c, mut ev, _d, _) = start(broker.addr(), cfg).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // Still connected: a QoS 1 round trip works and nothing reported a loss.
    let id = c
        .publish(msg("ka", "x", QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    let e = next(&mut ev, |e| {
        matches!(e, Event::Published { .. } | Event::Disconnected { .. })
    })
    .await;
    assert_eq!(
        e,
        Event::Published {
            packet_id: id,
            qos: QoS::AtLeastOnce
        }
    );
    c.disconnect().await.unwrap();
}

/// The sans-IO machine over a blocking socket: the PUBREC for a QoS 2
/// message is never read, the connection drops, and the reconnect (session
/// present) sends the PUBLISH again with DUP. Mosquitto recognises it, so the
/// subscriber gets the message once.
#[tokio::test]
async fn qos2_redelivered_with_dup_after_reconnect_arrives_once() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    for v in VERSIONS {
        let (sub, mut sub_ev, _d, _) = start(broker.addr(), config("observer", v)).await;
        subscribe(&sub, &mut sub_ev, "once/#", QoS::ExactlyOnce, None).await;
        let addr = broker.addr();
        let redelivered = tokio::task::spawn_blocking(move || {
            let mut cfg = config("redeliverer", v);
            cfg.clean_start = false;
            cfg.session_expiry_interval = Some(600);
            let t0 = Instant::now();
            let mut c = mqtt_client::Client::new(cfg, 5, t0);
            let mut s = sync_connect(&mut c, addr);
            let id = c
                .publish(Instant::now(), msg("once/x", "exactly", QoS::ExactlyOnce))
                .unwrap()
                .unwrap();
            write_all(&mut c, &mut s);
            std::thread::sleep(Duration::from_millis(200)); // mosquitto answers PUBREC; we never read it
            drop(s);
            c.connection_lost(Instant::now());
            let mut s = sync_connect(&mut c, addr);
            // Run until PUBCOMP completes the flow.
            let deadline = Instant::now() + WAIT;
            let mut buf = [0u8; 4096];
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            while Instant::now() < deadline {
                write_all(&mut c, &mut s);
                while let Some(e) = c.poll_event() {
                    if e == (Event::Published {
                        packet_id: id,
                        qos: QoS::ExactlyOnce,
                    }) {
                        c.disconnect(Instant::now(), mqtt_codec::ReasonCode::SUCCESS);
                        write_all(&mut c, &mut s);
                        return true;
                    }
                }
                if let Ok(n @ 1..) = s.read(&mut buf) {
                    c.handle_bytes(Instant::now(), &buf[..n]);
                }
            }
            false
        })
        .await
        .unwrap();
        assert!(
            redelivered,
            "{v:?}: the flow did not complete after the reconnect"
        );
        let m = message(&mut sub_ev).await;
        assert_eq!(m.payload, "exactly");
        // No second copy.
        let more = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                if let Some(Event::Message(m)) = sub_ev.recv().await {
                    return m;
                }
            }
        })
        .await;
        assert!(more.is_err(), "{v:?}: delivered twice: {more:?}");
        sub.disconnect().await.unwrap();
    }
}

fn write_all(c: &mut mqtt_client::Client, s: &mut TcpStream) {
    while let Some(b) = c.poll_transmit() {
        s.write_all(&b).unwrap();
    }
}

/// Opens a socket, sends CONNECT and feeds bytes until the machine is connected.
fn sync_connect(c: &mut mqtt_client::Client, addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    c.connect(Instant::now());
    write_all(c, &mut s);
    let mut buf = [0u8; 4096];
    while !c.is_connected() {
        let n = s.read(&mut buf).expect("CONNACK");
        assert!(n > 0, "mosquitto closed the connection");
        c.handle_bytes(Instant::now(), &buf[..n]);
    }
    s
}

#[tokio::test]
async fn outgoing_topic_aliases_are_understood_by_mosquitto() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let v = ProtocolVersion::V5;
    let (sub, mut sub_ev, _d, _) = start(broker.addr(), config("alias-sub", v)).await;
    subscribe(&sub, &mut sub_ev, "alias/#", QoS::AtLeastOnce, None).await;
    let mut cfg = config("alias-pub", v);
    cfg.outgoing_topic_aliases = true;
    let (publ, _ev, _d2, _) = start(broker.addr(), cfg).await;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::AtMostOnce] {
        publ.publish(msg("alias/long/topic/name", "x", qos))
            .await
            .unwrap();
        let m = message(&mut sub_ev).await;
        assert_eq!(m.topic, "alias/long/topic/name");
    }
    publ.disconnect().await.unwrap();
    sub.disconnect().await.unwrap();
}
