//! Interop with Eclipse Paho (PyPI `paho-mqtt` 2.x) through Mosquitto: MQTT
//! 5.0 messages with properties from paho to us and from us to paho, at QoS 2.
//! Skips without mosquitto or paho-mqtt (fails under `CI=true`).
#![cfg(feature = "tokio")]
#![allow(clippy::disallowed_methods)] // real processes, real time

use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use mqtt_client::tokio::{new, TcpConnector};
use mqtt_client::{Config, Event};
use mqtt_codec::{ProtocolVersion, Publish, QoS, Subscription, Utf8String};
use testkit::peers::{missing, python_with, Mosquitto};

/// Publishes one QoS 2 v5 message with properties, or (with "sub") waits
/// for one and prints its properties.
const PAHO: &str = r#"
import sys, threading
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ready, got = threading.Event(), threading.Event()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-" + mode, protocol=mqtt.MQTTv5)
def on_connect(client, userdata, flags, rc, props):
    if mode == "sub":
        client.subscribe("paho/in", qos=2)
    else:
        ready.set()
def on_subscribe(client, userdata, mid, rcs, props):
    print("subscribed", flush=True)
def on_message(client, userdata, msg):
    p = msg.properties
    print(msg.topic, msg.qos, msg.payload.decode(), p.ContentType, p.CorrelationData.decode(), dict(p.UserProperty), flush=True)
    got.set()
c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
c.connect(host, port)
c.loop_start()
if mode == "sub":
    got.wait(10)
else:
    ready.wait(10)
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = "text/plain"
    props.ResponseTopic = "paho/reply"
    props.CorrelationData = b"abc"
    props.UserProperty = [("from", "paho")]
    c.publish("paho/out", b"hello from paho", qos=2, properties=props).wait_for_publish(10)
c.disconnect()
c.loop_stop()
"#;

fn paho(python: &std::path::Path, mode: &str, port: u16) -> Command {
    let mut cmd = Command::new(python);
    cmd.args(["-c", PAHO, mode, "127.0.0.1", &port.to_string()]);
    cmd
}

#[tokio::test]
async fn v5_properties_between_paho_and_us_at_qos2() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let Some(python) = python_with(&["paho.mqtt.client"]).or_else(|| missing("paho-mqtt (PyPI)"))
    else {
        return;
    };
    let port = broker.addr().port();
    let mut cfg = Config::new("ours");
    cfg.version = ProtocolVersion::V5;
    let (client, mut events, _driver) = {
        let (c, e, d) = new(cfg, TcpConnector::addr(broker.addr()));
        (c, e, tokio::spawn(d.run()))
    };
    client
        .subscribe(
            vec![Subscription::new(
                Utf8String::from_static("paho/out"),
                QoS::ExactlyOnce,
            )],
            None,
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !matches!(events.recv().await, Some(Event::Subscribed { .. })) {}
    })
    .await
    .expect("SUBACK");

    // Paho → us.
    let status = tokio::task::spawn_blocking({
        let mut cmd = paho(&python, "pub", port);
        move || cmd.status().unwrap()
    })
    .await
    .unwrap();
    assert!(status.success());
    let m = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Event::Message(m)) = events.recv().await {
                return m;
            }
        }
    })
    .await
    .expect("message from paho");
    assert_eq!(
        (m.qos, &m.payload[..]),
        (QoS::ExactlyOnce, &b"hello from paho"[..])
    );
    let p = &m.properties;
    assert_eq!(p.content_type.as_deref(), Some("text/plain"));
    assert_eq!(p.response_topic.as_deref(), Some("paho/reply"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"abc"[..]));
    assert_eq!(p.user_properties[0].0, "from");
    assert_eq!(p.user_properties[0].1, "paho");

    // Us → paho: a response built from paho's request.
    let mut sub = paho(&python, "sub", port)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(sub.stdout.take().unwrap());
    let line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead as _;
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert_eq!(first.trim(), "subscribed");
        out
    })
    .await
    .unwrap();
    let mut resp: Publish =
        mqtt_client::message::response_to(&m, Bytes::from_static(b"hi paho")).unwrap();
    resp.topic = Utf8String::from_static("paho/in");
    resp.properties.content_type = Some(Utf8String::from_static("text/plain"));
    resp.properties.user_properties.push((
        Utf8String::from_static("from"),
        Utf8String::from_static("m2m"),
    ));
    client.publish(resp).await.unwrap();
    let printed = tokio::task::spawn_blocking(move || {
        use std::io::BufRead as _;
        let mut out = line;
        let mut s = String::new();
        out.read_line(&mut s).unwrap();
        s
    })
    .await
    .unwrap();
    let _ = sub.wait();
    assert_eq!(
        printed.trim(),
        "paho/in 2 hi paho text/plain abc {'from': 'm2m'}"
    );
    client.disconnect().await.unwrap();
}
