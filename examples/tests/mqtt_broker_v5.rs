//! `m2m-broker`'s MQTT 5.0 extras with real clients: topic aliases from the
//! broker (paho-mqtt and mosquitto_sub announcing a Topic Alias Maximum),
//! Response Information and Reason Strings (paho-mqtt), and the
//! `$SYS/broker/load/...` topics (mosquitto_sub). Missing peers skip (and
//! fail under `CI=true`).
#![allow(clippy::disallowed_methods)] // real processes, real time

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::peers::missing;

mod broker_proc;
use broker_proc::{mosquitto_client as mosquitto, Broker as OurBroker, MosqSub};

fn paho() -> Option<PathBuf> {
    testkit::peers::python_with(&["paho.mqtt.client"])
        .or_else(|| missing("python3 with paho-mqtt (PyPI paho-mqtt 2.x)"))
}

/// Runs a python script with arguments; returns its stdout lines.
fn run_python(python: &PathBuf, script: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// A paho 5.0 subscriber announcing Topic Alias Maximum 2 and a publisher
/// sending on three topics. paho-mqtt passes aliases through without
/// resolving them, so the script prints what came on the wire (topic,
/// alias) and resolves the aliases itself, as §3.3.2.3.4 asks a receiver.
const PAHO_ALIASES: &str = r#"
import sys, threading
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
port = int(sys.argv[1])
topics = ["alias/one", "alias/one", "alias/two", "alias/one", "alias/three", "alias/three"]
subscribed, done, got = threading.Event(), threading.Event(), []
aliases = {}
def on_subscribe(client, userdata, mid, rcs, props):
    subscribed.set()
def on_message(client, userdata, msg):
    alias = getattr(msg.properties, "TopicAlias", None)
    topic = msg.topic
    if alias is not None:
        if topic:
            aliases[alias] = topic
        else:
            topic = aliases[alias]
    got.append(f"{msg.topic or '-'} {alias} {topic} {msg.payload.decode()}")
    if len(got) == len(topics):
        done.set()
sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-alias-sub", protocol=mqtt.MQTTv5)
sub.on_subscribe, sub.on_message = on_subscribe, on_message
props = Properties(PacketTypes.CONNECT)
props.TopicAliasMaximum = 2
sub.connect("127.0.0.1", port, properties=props)
sub.loop_start()
sub.subscribe("alias/#", qos=1)
assert subscribed.wait(10), "no SUBACK"
pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-alias-pub", protocol=mqtt.MQTTv5)
pub.connect("127.0.0.1", port)
pub.loop_start()
for i, t in enumerate(topics):
    pub.publish(t, f"m{i}".encode(), qos=i % 2).wait_for_publish(10)
assert done.wait(10), f"only {got}"
for line in got:
    print(line, flush=True)
pub.disconnect(); sub.disconnect(); pub.loop_stop(); sub.loop_stop()
"#;

#[test]
fn paho_v5_subscriber_gets_topic_aliases_from_m2m_broker() {
    let Some(python) = paho() else {
        return;
    };
    let b = OurBroker::start("outgoing_topic_aliases = \"lru\"\n");
    let lines = run_python(&python, PAHO_ALIASES, &[&b.port.to_string()]);
    assert_eq!(
        lines,
        [
            "alias/one 1 alias/one m0",
            "- 1 alias/one m1",
            "alias/two 2 alias/two m2",
            "- 1 alias/one m3",
            // Both aliases taken: alias/two was used least recently.
            "alias/three 2 alias/three m4",
            "- 2 alias/three m5",
        ]
    );
}

/// libmosquitto 2.0 announces a Topic Alias Maximum when asked (`-D connect
/// topic-alias-maximum`) but drops the connection on a PUBLISH with an
/// empty topic: with the default configuration (no outgoing aliases) it
/// gets full topics; with aliases on, a mosquitto_sub that announces
/// nothing gets full topics too.
#[test]
fn mosquitto_sub_v5_gets_full_topics_unless_it_takes_aliases() {
    let (Some(sub_bin), Some(pub_bin)) = (mosquitto("mosquitto_sub"), mosquitto("mosquitto_pub"))
    else {
        return;
    };
    for (config, announce) in [("", true), ("outgoing_topic_aliases = \"lru\"\n", false)] {
        let b = OurBroker::start(config);
        let mut args = vec!["-V", "mqttv5", "-t", "mosq/#", "-v"];
        if announce {
            args.extend(["-D", "connect", "topic-alias-maximum", "4"]);
        }
        let sub = MosqSub::start(&sub_bin, b.port, &args);
        for i in 0..3 {
            let payload = format!("n{i}");
            let status = Command::new(&pub_bin)
                .args(["-h", "127.0.0.1", "-p", &b.port.to_string()])
                .args(["-V", "mqttv5", "-t", "mosq/aliased/topic", "-m", &payload])
                .stdin(Stdio::null())
                .status()
                .expect("run mosquitto_pub");
            assert!(status.success());
            assert_eq!(
                sub.wait_for(&payload),
                format!("mosq/aliased/topic {payload}"),
                "{config:?}"
            );
        }
    }
}

/// The workspace's mqtt-client resolves the aliases m2m-broker assigns.
#[tokio::test]
async fn our_client_resolves_the_topic_aliases_of_m2m_broker() {
    use bytes::Bytes;
    use mqtt_client::tokio::{new, TcpConnector};
    use mqtt_client::{Config, Event};
    use mqtt_codec::{ProtocolVersion, Publish, QoS, Subscription, Utf8String};

    let b =
        OurBroker::start("outgoing_topic_aliases = \"lru\"\noutgoing_topic_alias_maximum = 1\n");
    let mut config = Config::new("alias-sub");
    config.version = ProtocolVersion::V5;
    config.reconnect = None;
    config.topic_alias_maximum = 5;
    let (sub, mut events, driver) = new(config, TcpConnector::new("127.0.0.1", b.port));
    tokio::spawn(driver.run());
    assert!(matches!(
        next_event(&mut events).await,
        Event::Connected { .. }
    ));
    let f = Subscription::new(Utf8String::from_static("ours/#"), QoS::AtLeastOnce);
    sub.subscribe(vec![f], None).await.unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        Event::Subscribed { .. }
    ));

    let mut config = Config::new("alias-pub");
    config.reconnect = None;
    let (publ, mut pub_events, driver) = new(config, TcpConnector::new("127.0.0.1", b.port));
    tokio::spawn(driver.run());
    let ev = next_event(&mut pub_events).await;
    assert!(matches!(ev, Event::Connected { .. }), "{ev:?}");
    // One alias for three topics: it moves (LRU), each topic is resolved.
    let topics = ["ours/a/long", "ours/a/long", "ours/b/long", "ours/a/long"];
    for (i, t) in topics.iter().enumerate() {
        let p = Publish::new(Utf8String::from_static(t), Bytes::from(format!("m{i}")))
            .with_qos(QoS::AtLeastOnce, 0);
        publ.publish(p).await.unwrap();
    }
    let mut got = Vec::new();
    // Bounded: at most 20 events.
    for _ in 0..20 {
        if got.len() == topics.len() {
            break;
        }
        if let Event::Message(m) = next_event(&mut events).await {
            got.push(format!(
                "{} {}",
                m.topic,
                String::from_utf8_lossy(&m.payload)
            ));
        }
    }
    let want: Vec<String> = topics
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{t} m{i}"))
        .collect();
    assert_eq!(got, want);
}

async fn next_event(events: &mut mqtt_client::tokio::Events) -> mqtt_client::Event {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("event within 5 s")
        .expect("driver alive")
}

/// paho 5.0: Response Information on request, and a refused CONNACK with
/// its Reason String.
const PAHO_CONNACK: &str = r#"
import sys, threading
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
port, request = int(sys.argv[1]), sys.argv[2] == "1"
answered = threading.Event()
def on_connect(client, userdata, flags, rc, props):
    print(int(rc.value), getattr(props, "ResponseInformation", None), getattr(props, "ReasonString", None), flush=True)
    answered.set()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-rri", protocol=mqtt.MQTTv5)
c.on_connect = on_connect
props = Properties(PacketTypes.CONNECT)
if request:
    props.RequestResponseInformation = 1
c.connect("127.0.0.1", port, properties=props)
c.loop_start()
assert answered.wait(10), "no CONNACK"
c.disconnect(); c.loop_stop()
"#;

#[test]
fn paho_v5_gets_response_information_and_reason_strings_from_m2m_broker() {
    let Some(python) = paho() else {
        return;
    };
    let b = OurBroker::start("response_topic_prefix = \"reply/\"\n");
    let port = b.port.to_string();
    assert_eq!(
        run_python(&python, PAHO_CONNACK, &[&port, "1"]),
        ["0 reply/paho-rri None"]
    );
    assert_eq!(
        run_python(&python, PAHO_CONNACK, &[&port, "0"]),
        ["0 None None"]
    );
    drop(b);
    let b = OurBroker::start("allow_anonymous = false\nreason_strings = true\n");
    assert_eq!(
        run_python(&python, PAHO_CONNACK, &[&b.port.to_string(), "0"]),
        ["135 None not authorized"]
    );
}

#[test]
fn mosquitto_sub_reads_sys_load_topics_of_m2m_broker() {
    let Some(sub_bin) = mosquitto("mosquitto_sub") else {
        return;
    };
    let b = OurBroker::start("sys_interval = 1\n");
    let sub = MosqSub::start(
        &sub_bin,
        b.port,
        &[
            "-V",
            "mqttv5",
            "-t",
            "$SYS/broker/load/#",
            "-t",
            "$SYS/broker/retained messages/count",
            "-v",
        ],
    );
    // Every load topic is retained from the first round on (0.00 then),
    // each a rate per minute with two decimals.
    let mut want: Vec<String> = [
        "messages/received",
        "messages/sent",
        "publish/received",
        "publish/sent",
        "publish/dropped",
        "bytes/received",
        "bytes/sent",
        "sockets",
        "connections",
    ]
    .iter()
    .flat_map(|t| ["1min", "5min", "15min"].map(|w| format!("$SYS/broker/load/{t}/{w}")))
    .collect();
    let mut retained = None;
    // Bounded: each turn takes a line within 10 s.
    while !want.is_empty() || retained.is_none() {
        let line = sub.next_line();
        let (topic, value) = line.rsplit_once(' ').expect("topic value");
        if topic == "$SYS/broker/retained messages/count" {
            // Counted before a round publishes: 0 at first, then the 49
            // `$SYS` topics (22 counters, 27 load averages).
            let n = value.parse::<u32>().expect("a count");
            retained = retained.or((n > 0).then_some(n));
            continue;
        }
        if let Some(i) = want.iter().position(|t| t == topic) {
            let (whole, cents) = value.split_once('.').expect("two decimals");
            assert!(whole.parse::<u64>().is_ok() && cents.len() == 2, "{line}");
            want.swap_remove(i);
        }
    }
    assert_eq!(retained, Some(49));
}
