//! `m2m-broker` as a user runs it: our mqtt-client (3.1.1 and 5.0) and
//! mosquitto_pub / mosquitto_sub against it on an ephemeral loopback port.
//! The mosquitto clients skip when missing (and fail under `CI=true`).
#![allow(clippy::disallowed_methods)] // real processes, real time

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use mqtt_client::tokio::{new, Events, TcpConnector};
use mqtt_client::{Config, Event};
use mqtt_codec::{ProtocolVersion, Publish, QoS, Subscription, Utf8String};
use testkit::peers::missing;

mod broker_proc;
use broker_proc::{mosquitto_client as mosquitto, Broker as OurBroker, MosqSub};

async fn client(
    port: u16,
    id: &str,
    version: ProtocolVersion,
) -> (mqtt_client::tokio::Client, Events) {
    let mut config = Config::new(id);
    config.version = version;
    config.reconnect = None;
    let (c, mut events, driver) = new(config, TcpConnector::new("127.0.0.1", port));
    tokio::spawn(driver.run());
    let ev = next(&mut events).await;
    assert!(matches!(ev, Event::Connected { .. }), "{ev:?}");
    (c, events)
}

async fn next(events: &mut Events) -> Event {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("event within 5 s")
        .expect("driver alive")
}

async fn next_message(events: &mut Events) -> Publish {
    // Bounded: at most 20 other events before the message.
    for _ in 0..20 {
        if let Event::Message(m) = next(events).await {
            return m;
        }
    }
    panic!("no message among 20 events");
}

#[tokio::test]
async fn our_client_through_m2m_broker_at_every_qos_both_versions() {
    let b = OurBroker::start("");
    let (sub, mut sub_ev) = client(b.port, "sub5", ProtocolVersion::V5).await;
    let f = Subscription::new(Utf8String::from_static("t/#"), QoS::ExactlyOnce);
    sub.subscribe(vec![f], Some(7)).await.unwrap();
    assert!(matches!(next(&mut sub_ev).await, Event::Subscribed { .. }));
    let (publ, mut pub_ev) = client(b.port, "pub4", ProtocolVersion::V3_1_1).await;
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let topic = Utf8String::try_from(format!("t/{i}")).unwrap();
        let payload = Bytes::from(format!("m{i}"));
        publ.publish(Publish::new(topic, payload).with_qos(qos, 0))
            .await
            .unwrap();
        let m = next_message(&mut sub_ev).await;
        assert_eq!(
            (m.topic.as_str(), &m.payload[..], m.qos),
            (&*format!("t/{i}"), format!("m{i}").as_bytes(), qos)
        );
        assert_eq!(m.properties.subscription_identifiers, [7]);
    }

    // Retained: stored, then delivered to a later subscriber with the retain flag.
    let r = Publish::new(Utf8String::from_static("r/x"), Bytes::from_static(b"kept"))
        .with_qos(QoS::AtLeastOnce, 0)
        .with_retain(true);
    let id = publ.publish(r).await.unwrap().expect("a QoS 1 packet id");
    // Stored once acknowledged: `publish` returns when the message is
    // queued, so a later subscriber could otherwise overtake it.
    // Bounded: at most 20 events (the earlier flows' completions) first.
    let mut acked = false;
    for _ in 0..20 {
        if matches!(next(&mut pub_ev).await, Event::Published { packet_id, .. } if packet_id == id)
        {
            acked = true;
            break;
        }
    }
    assert!(acked, "PUBACK of the retained message");
    let (late, mut late_ev) = client(b.port, "late4", ProtocolVersion::V3_1_1).await;
    let f = Subscription::new(Utf8String::from_static("r/#"), QoS::AtLeastOnce);
    late.subscribe(vec![f], None).await.unwrap();
    let m = next_message(&mut late_ev).await;
    assert!(m.retain);
    assert_eq!(&m.payload[..], b"kept");
}

#[tokio::test]
async fn persistent_session_gets_messages_published_while_offline() {
    let b = OurBroker::start("");
    let mut config = Config::new("keeper");
    config.clean_start = false;
    config.reconnect = None;
    let (c, mut ev, driver) = new(config.clone(), TcpConnector::new("127.0.0.1", b.port));
    tokio::spawn(driver.run());
    next(&mut ev).await;
    let f = Subscription::new(Utf8String::from_static("q"), QoS::AtLeastOnce);
    c.subscribe(vec![f], None).await.unwrap();
    assert!(matches!(next(&mut ev).await, Event::Subscribed { .. }));
    c.disconnect().await.unwrap();

    let (publ, _e) = client(b.port, "p", ProtocolVersion::V3_1_1).await;
    let msg = Publish::new(
        Utf8String::from_static("q"),
        Bytes::from_static(b"while away"),
    )
    .with_qos(QoS::AtLeastOnce, 0);
    publ.publish(msg).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (_c2, mut ev2, driver) = new(config, TcpConnector::new("127.0.0.1", b.port));
    tokio::spawn(driver.run());
    assert!(matches!(
        next(&mut ev2).await,
        Event::Connected {
            session_present: true,
            ..
        }
    ));
    assert_eq!(&next_message(&mut ev2).await.payload[..], b"while away");
}

fn mosq_pub(bin: &PathBuf, port: u16, args: &[&str]) {
    let status = Command::new(bin)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .status()
        .expect("run mosquitto_pub");
    assert!(status.success(), "mosquitto_pub {args:?}: {status}");
}

#[test]
fn mosquitto_clients_through_m2m_broker_at_every_qos_both_versions() {
    let (Some(sub_bin), Some(pub_bin)) = (mosquitto("mosquitto_sub"), mosquitto("mosquitto_pub"))
    else {
        return;
    };
    let b = OurBroker::start("");
    for version in ["mqttv311", "mqttv5"] {
        let sub = MosqSub::start(
            &sub_bin,
            b.port,
            &["-V", version, "-q", "2", "-t", "m/#", "-v"],
        );
        for qos in ["0", "1", "2"] {
            let payload = format!("{version}-q{qos}");
            mosq_pub(
                &pub_bin,
                b.port,
                &["-V", version, "-q", qos, "-t", "m/x", "-m", &payload],
            );
            let line = sub.wait_for(&payload);
            assert_eq!(line, format!("m/x {payload}"));
        }
    }
}

#[test]
fn mosquitto_retained_and_will_through_m2m_broker() {
    let (Some(sub_bin), Some(pub_bin)) = (mosquitto("mosquitto_sub"), mosquitto("mosquitto_pub"))
    else {
        return;
    };
    let b = OurBroker::start("");
    mosq_pub(
        &pub_bin,
        b.port,
        &["-t", "keep/a", "-m", "retained-a", "-r", "-q", "1"],
    );
    let sub = MosqSub::start(
        &sub_bin,
        b.port,
        &["-V", "mqttv5", "-t", "keep/#", "-t", "will/#", "-v"],
    );
    assert_eq!(sub.wait_for("retained-a"), "keep/a retained-a");

    // A client killed without DISCONNECT has its will published.
    let mut doomed = MosqSub::start(
        &sub_bin,
        b.port,
        &[
            "-t",
            "x",
            "--will-topic",
            "will/doomed",
            "--will-payload",
            "gone",
        ],
    );
    let _ = doomed.child.kill();
    let _ = doomed.child.wait();
    assert_eq!(sub.wait_for("gone"), "will/doomed gone");
}

/// Two paho-mqtt clients in one process: a subscriber on `paho/#` at QoS 2
/// and a publisher sending QoS 0, 1 and 2 (in 5.0 with properties). Prints
/// one line per message received, then "done".
const PAHO: &str = r#"
import sys, threading
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
version, port = sys.argv[1], int(sys.argv[2])
proto = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311
subscribed, got = threading.Event(), []
all_in = threading.Event()
def on_subscribe(client, userdata, mid, rcs, props):
    subscribed.set()
def on_message(client, userdata, msg):
    line = f"{msg.topic} {msg.qos} {msg.payload.decode()}"
    p = msg.properties
    if proto == mqtt.MQTTv5 and hasattr(p, "ContentType"):
        line += f" {p.ContentType} {p.ResponseTopic} {p.CorrelationData.decode()} {dict(p.UserProperty)}"
    got.append(line)
    if len(got) == 3:
        all_in.set()
sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-sub-" + version, protocol=proto)
sub.on_subscribe, sub.on_message = on_subscribe, on_message
sub.connect("127.0.0.1", port)
sub.loop_start()
sub.subscribe("paho/#", qos=2)
assert subscribed.wait(10), "no SUBACK"
pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-pub-" + version, protocol=proto)
pub.connect("127.0.0.1", port)
pub.loop_start()
for qos in (0, 1, 2):
    props = None
    if proto == mqtt.MQTTv5:
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "text/plain"
        props.ResponseTopic = "paho/reply"
        props.CorrelationData = b"abc"
        props.UserProperty = [("from", "paho")]
    pub.publish(f"paho/q{qos}", f"m{qos}".encode(), qos=qos, properties=props).wait_for_publish(10)
assert all_in.wait(10), f"only {got}"
for line in sorted(got):
    print(line, flush=True)
print("done", flush=True)
pub.disconnect(); sub.disconnect(); pub.loop_stop(); sub.loop_stop()
"#;

#[test]
fn paho_clients_through_m2m_broker_311_and_5() {
    let Some(python) = testkit::peers::python_with(&["paho.mqtt.client"])
        .or_else(|| missing("python3 with paho-mqtt (PyPI paho-mqtt 2.x)"))
    else {
        return;
    };
    let b = OurBroker::start("");
    for version in ["4", "5"] {
        let out = Command::new(&python)
            .args(["-c", PAHO, version, &b.port.to_string()])
            .stdin(Stdio::null())
            .output()
            .expect("run python");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "paho {version}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        let props = if version == "5" {
            " text/plain paho/reply abc {'from': 'paho'}"
        } else {
            ""
        };
        let want: Vec<String> = (0..3)
            .map(|q| format!("paho/q{q} {q} m{q}{props}"))
            .chain(["done".to_owned()])
            .collect();
        assert_eq!(lines, want, "paho {version}");
    }
}
