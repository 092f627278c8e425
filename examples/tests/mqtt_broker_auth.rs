//! `m2m-broker` with `[[user]]` entries and ACLs (`mqtt_broker_core::AccessControl`
//! behind the authentication and authorisation hooks) against real clients:
//! mosquitto_pub / mosquitto_sub (3.1.1 and 5.0) and paho-mqtt (3.1.1 and
//! 5.0) with right and wrong user names and passwords, PUBLISH and
//! SUBSCRIBE outside a user's patterns, and `%c` / `%u` patterns. Missing
//! peers skip (and fail under `CI=true`).
#![allow(clippy::disallowed_methods)] // real processes, real time

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bytes::Bytes;
use mqtt_codec::{Connect, Packet, ProtocolVersion, Publish, QoS, ReasonCode, Utf8String};

use testkit::peers::missing;

mod broker_proc;
use broker_proc::{mosquitto_client as mosquitto, Broker as OurBroker, MosqSub, Raw};

/// alice may publish under `clients/<her client id>/` and on
/// `users/alice/out`, and subscribe to `clients/<id>/#` and `users/alice/+`;
/// root may do everything; clients without a user name are refused.
const CONFIG: &str = r#"
allow_anonymous = false
[[user]]
name = "alice"
password = "s3cret"
publish = ["clients/%c/#", "users/%u/out"]
subscribe = ["clients/%c/#", "users/%u/+"]
[[user]]
name = "root"
password = "toor"
"#;

fn paho() -> Option<PathBuf> {
    testkit::peers::python_with(&["paho.mqtt.client"])
        .or_else(|| missing("python3 with paho-mqtt (PyPI paho-mqtt 2.x)"))
}

/// mosquitto_pub against the broker with `args`; its output.
fn mosquitto_pub(bin: &Path, port: u16, args: &[&str]) -> Output {
    Command::new(bin)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run mosquitto_pub")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn mosquitto_clients_user_name_and_password() {
    let (Some(publ), Some(sub)) = (mosquitto("mosquitto_pub"), mosquitto("mosquitto_sub")) else {
        return;
    };
    let b = OurBroker::start(CONFIG);
    // (version flag, text for a bad password, text for no user name)
    let cases = [
        (
            "mqttv311",
            "Connection Refused: bad user name or password",
            "Connection Refused: not authorised",
        ),
        ("mqttv5", "Bad User Name or Password", "Not authorized"),
    ];
    for (version, bad, anonymous) in cases {
        let base = ["-V", version, "-t", "users/alice/out", "-m", "x"];
        for (user, pass) in [("alice", "wrong"), ("alice", ""), ("mallory", "s3cret")] {
            let o = mosquitto_pub(
                &publ,
                b.port,
                &[&base[..], &["-u", user, "-P", pass]].concat(),
            );
            assert!(!o.status.success(), "{version} {user}/{pass} accepted");
            assert!(
                stderr(&o).contains(bad),
                "{version} {user}/{pass}: {}",
                stderr(&o)
            );
        }
        let o = mosquitto_pub(&publ, b.port, &base);
        assert!(!o.status.success(), "{version}: anonymous accepted");
        assert!(stderr(&o).contains(anonymous), "{version}: {}", stderr(&o));

        // The right password: a message goes through, subscriber and
        // publisher both authenticated.
        let s = MosqSub::start(
            &sub,
            b.port,
            &[
                "-V",
                version,
                "-u",
                "alice",
                "-P",
                "s3cret",
                "-t",
                "users/alice/+",
            ],
        );
        assert_eq!(s.wait_for("Subscribed"), "Subscribed (mid: 1): 0");
        let o = mosquitto_pub(
            &publ,
            b.port,
            &[
                "-V",
                version,
                "-u",
                "alice",
                "-P",
                "s3cret",
                "-t",
                "users/alice/out",
                "-m",
                version,
            ],
        );
        assert!(o.status.success(), "{version}: {}", stderr(&o));
        assert_eq!(s.next_line(), version);
    }
}

#[test]
fn mosquitto_acls_refuse_subscribe_and_publish() {
    let (Some(publ), Some(sub)) = (mosquitto("mosquitto_pub"), mosquitto("mosquitto_sub")) else {
        return;
    };
    let b = OurBroker::start(CONFIG);
    for (version, refused) in [("mqttv311", "128"), ("mqttv5", "135")] {
        // A filter wider than alice's patterns: SUBACK 0x80 / 0x87.
        let s = MosqSub::start(
            &sub,
            b.port,
            &[
                "-V",
                version,
                "-u",
                "alice",
                "-P",
                "s3cret",
                "-t",
                "clients/#",
            ],
        );
        assert_eq!(
            s.wait_for("Subscribed"),
            format!("Subscribed (mid: 1): {refused}")
        );
        drop(s);

        // %c: her own client id's subtree, narrowed by `+`, is allowed.
        let (sub_id, pub_id) = (
            format!("alice-sub-{version}"),
            format!("alice-pub-{version}"),
        );
        let filter = format!("clients/{sub_id}/+/temp");
        let s = MosqSub::start(
            &sub,
            b.port,
            &[
                "-V", version, "-i", &sub_id, "-u", "alice", "-P", "s3cret", "-t", &filter,
            ],
        );
        assert_eq!(s.wait_for("Subscribed"), "Subscribed (mid: 1): 0");
        let all = MosqSub::start(
            &sub,
            b.port,
            &["-V", version, "-u", "root", "-P", "toor", "-t", "#"],
        );
        assert_eq!(all.wait_for("Subscribed"), "Subscribed (mid: 1): 0");
        let alice_pub = |topic: &str, payload: &str| {
            // A refused QoS 1 PUBLISH is dropped (3.1.1 has no way to say
            // so; 5.0 answers 0x87, which mosquitto_pub may report as a
            // failure): the exit status is not checked here.
            mosquitto_pub(
                &publ,
                b.port,
                &[
                    "-V", version, "-q", "1", "-i", &pub_id, "-u", "alice", "-P", "s3cret", "-t",
                    topic, "-m", payload,
                ],
            )
        };
        // Under another client's id: refused, reaches nobody.
        let _ = alice_pub(&format!("clients/{sub_id}/x/temp"), "not-mine");
        // Under her own (%c) and her user name (%u): delivered.
        let o = alice_pub(&format!("clients/{pub_id}/x/temp"), "own");
        assert!(o.status.success(), "{version}: {}", stderr(&o));
        let o = alice_pub("users/alice/out", "user");
        assert!(o.status.success(), "{version}: {}", stderr(&o));
        let o = mosquitto_pub(
            &publ,
            b.port,
            &[
                "-V",
                version,
                "-q",
                "1",
                "-u",
                "root",
                "-P",
                "toor",
                "-t",
                &format!("clients/{sub_id}/x/temp"),
                "-m",
                "for-sub",
            ],
        );
        assert!(o.status.success(), "{version}: {}", stderr(&o));
        assert_eq!(s.next_line(), "for-sub");
        assert_eq!(all.next_line(), "own");
        assert_eq!(all.next_line(), "user");
        assert_eq!(all.next_line(), "for-sub");
    }
}

/// Byte level: the 3.1.1 CONNACK return code 4 for a wrong password, and
/// the 5.0 PUBREC 0x87 for a QoS 2 PUBLISH outside the user's patterns
/// (paho-mqtt does not report PUBREC reason codes).
#[test]
fn raw_connack_4_and_pubrec_0x87() {
    let b = OurBroker::start(CONFIG);
    let connect = |v: ProtocolVersion, id: &str, user: &str, pass: &'static [u8]| {
        let mut c = Connect::new(v);
        c.client_id = Utf8String::try_from(id).unwrap();
        c.clean_start = true;
        c.username = Some(Utf8String::try_from(user).unwrap());
        c.password = Some(Bytes::from_static(pass));
        Packet::Connect(Box::new(c))
    };
    let mut r = Raw::open(b.port, ProtocolVersion::V3_1_1);
    r.send(&connect(ProtocolVersion::V3_1_1, "raw4", "alice", b"nope"))
        .unwrap();
    match r.packet() {
        Packet::ConnAck(a) => assert_eq!(a.reason_code.0, 4),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert!(r.until_closed(Duration::from_secs(10)).is_empty());

    let mut r = Raw::open(b.port, ProtocolVersion::V5);
    r.send(&connect(ProtocolVersion::V5, "raw5", "alice", b"s3cret"))
        .unwrap();
    match r.packet() {
        Packet::ConnAck(a) => assert_eq!(a.reason_code, ReasonCode::SUCCESS),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    let p = Publish::new(
        Utf8String::from_static("clients/other/x"),
        Bytes::from_static(b"x"),
    )
    .with_qos(QoS::ExactlyOnce, 7);
    r.send(&Packet::Publish(p)).unwrap();
    match r.packet() {
        Packet::PubRec(a) => assert_eq!(
            (a.packet_id, a.reason_code),
            (7, ReasonCode::NOT_AUTHORIZED)
        ),
        other => panic!("expected PUBREC, got {other:?}"),
    }
    // A client that sends PUBREL anyway gets a PUBCOMP and stays connected.
    r.send(&Packet::PubRel(mqtt_codec::Ack::new(7))).unwrap();
    match r.packet() {
        Packet::PubComp(a) => assert_eq!(a.packet_id, 7),
        other => panic!("expected PUBCOMP, got {other:?}"),
    }
    // Refusals hold no QoS 2 state: more of them than the Receive Maximum
    // (20), without PUBREL, as 5.0 asks after a PUBREC error.
    for id in 100..130 {
        let p = Publish::new(
            Utf8String::from_static("clients/other/x"),
            Bytes::from_static(b"x"),
        )
        .with_qos(QoS::ExactlyOnce, id);
        r.send(&Packet::Publish(p)).unwrap();
        match r.packet() {
            Packet::PubRec(a) => assert_eq!(
                (a.packet_id, a.reason_code),
                (id, ReasonCode::NOT_AUTHORIZED)
            ),
            other => panic!("expected PUBREC, got {other:?}"),
        }
    }
    let p = Publish::new(
        Utf8String::from_static("clients/raw5/x"),
        Bytes::from_static(b"x"),
    )
    .with_qos(QoS::ExactlyOnce, 8);
    r.send(&Packet::Publish(p)).unwrap();
    match r.packet() {
        Packet::PubRec(a) => assert_eq!((a.packet_id, a.reason_code), (8, ReasonCode::SUCCESS)),
        other => panic!("expected PUBREC, got {other:?}"),
    }
}

/// paho-mqtt: a wrong password gets CONNACK 0x86; alice's PUBLISH
/// outside her patterns gets PUBACK 0x87 (QoS 1; paho-mqtt reports the
/// PUBCOMP's code for QoS 2, not the PUBREC's) and reaches nobody; a SUBSCRIBE outside them gets 0x87 and one inside
/// (`%c`, `%u`) its QoS. Prints one line per check.
const PAHO_V5: &str = r##"
import sys, threading
import paho.mqtt.client as mqtt
port = int(sys.argv[1])
V = mqtt.MQTTv5 if sys.argv[2] == "5" else mqtt.MQTTv311

def client(cid, user, password):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=V)
    c.username_pw_set(user, password)
    result, done = [], threading.Event()
    def on_connect(client, userdata, flags, rc, props):
        result.append(rc); done.set()
    c.on_connect = on_connect
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert done.wait(10), "no CONNACK"
    return c, result[0]

bad, rc = client("paho-bad", "alice", "wrong")
print("wrong password", rc.is_failure, rc.value)
bad.loop_stop()

got, done = [], threading.Event()
watcher, rc = client("paho-root", "root", "toor")
assert not rc.is_failure, rc
subscribed = threading.Event()
watcher.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
def on_message(c, u, msg):
    got.append(msg.topic + " " + msg.payload.decode())
    if msg.payload == b"end":
        done.set()
watcher.on_message = on_message
watcher.subscribe("#", qos=2)
assert subscribed.wait(10), "no SUBACK"

alice, rc = client("paho-alice", "alice", "s3cret")
print("right password", rc.is_failure)
acks = {}
alice.on_publish = lambda c, u, mid, rc, p: acks.__setitem__(mid, rc.value)
for topic, qos in [("clients/other/x", 1), ("users/bob/out", 2), ("clients/paho-alice/x", 1),
                   ("users/alice/out", 2), ("clients/paho-alice/y", 0)]:
    info = alice.publish(topic, topic.encode(), qos=qos)
    info.wait_for_publish(10)
    print("publish", topic, qos, acks.get(info.mid) if qos else "-")
alice.publish("clients/paho-alice/z", b"end", qos=1).wait_for_publish(10)
assert done.wait(10), f"only {got}"
print("delivered", ",".join(sorted(g.split()[0] for g in got)))

subacks, ev = [], threading.Event()
def on_subscribe(c, u, mid, rcs, p):
    subacks.extend(r.value for r in rcs); ev.set()
alice.on_subscribe = on_subscribe
alice.subscribe([("clients/#", 1), ("clients/paho-alice/#", 1), ("users/alice/+", 2), ("users/+/out", 0)])
assert ev.wait(10), "no SUBACK"
print("suback", subacks)
"##;

fn run_paho(python: &Path, port: u16, version: &str) -> Vec<String> {
    let out = Command::new(python)
        .arg("-c")
        .arg(PAHO_V5)
        .args([&port.to_string(), version])
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

#[test]
fn paho_v5_credentials_and_acl_reason_codes() {
    let Some(python) = paho() else { return };
    let b = OurBroker::start(CONFIG);
    let lines = run_paho(&python, b.port, "5");
    assert_eq!(
        lines,
        [
            "wrong password True 134",
            "right password False",
            "publish clients/other/x 1 135",
            "publish users/bob/out 2 0",
            "publish clients/paho-alice/x 1 0",
            "publish users/alice/out 2 0",
            "publish clients/paho-alice/y 0 -",
            "delivered clients/paho-alice/x,clients/paho-alice/y,clients/paho-alice/z,users/alice/out",
            "suback [135, 1, 2, 135]",
        ]
    );
}

#[test]
fn paho_v311_credentials_and_acl_return_codes() {
    let Some(python) = paho() else { return };
    let b = OurBroker::start(CONFIG);
    let lines = run_paho(&python, b.port, "4");
    // paho-mqtt reports 3.1.1 CONNACK return code 4 as reason code 0x86,
    // and a 3.1.1 PUBACK carries no reason code (0 for every QoS 1/2 publish).
    assert_eq!(
        lines,
        [
            "wrong password True 134",
            "right password False",
            "publish clients/other/x 1 0",
            "publish users/bob/out 2 0",
            "publish clients/paho-alice/x 1 0",
            "publish users/alice/out 2 0",
            "publish clients/paho-alice/y 0 -",
            "delivered clients/paho-alice/x,clients/paho-alice/y,clients/paho-alice/z,users/alice/out",
            "suback [128, 1, 2, 128]",
        ]
    );
}

/// `[anonymous]` lists: clients without a user name may subscribe under
/// `public/` only and publish nothing; users are still checked.
#[test]
fn mosquitto_anonymous_acl() {
    let (Some(publ), Some(sub)) = (mosquitto("mosquitto_pub"), mosquitto("mosquitto_sub")) else {
        return;
    };
    let b = OurBroker::start(
        r#"
[[user]]
name = "root"
password = "toor"
[anonymous]
publish = []
subscribe = ["public/#"]
"#,
    );
    for (version, code) in [("mqttv311", "128"), ("mqttv5", "135")] {
        let refused = MosqSub::start(&sub, b.port, &["-V", version, "-t", "#"]);
        assert_eq!(
            refused.wait_for("Subscribed"),
            format!("Subscribed (mid: 1): {code}")
        );
        drop(refused);
        let s = MosqSub::start(&sub, b.port, &["-V", version, "-t", "public/+"]);
        assert_eq!(s.wait_for("Subscribed"), "Subscribed (mid: 1): 0");
        // An anonymous PUBLISH is dropped; root's goes through.
        let _ = mosquitto_pub(
            &publ,
            b.port,
            &["-V", version, "-q", "1", "-t", "public/a", "-m", "anon"],
        );
        let o = mosquitto_pub(
            &publ,
            b.port,
            &[
                "-V", version, "-u", "root", "-P", "toor", "-t", "public/a", "-m", "root",
            ],
        );
        assert!(o.status.success(), "{version}: {}", stderr(&o));
        assert_eq!(s.next_line(), "root");
        let o = mosquitto_pub(
            &publ,
            b.port,
            &[
                "-V", version, "-u", "root", "-P", "x", "-t", "public/a", "-m", "x",
            ],
        );
        assert!(!o.status.success(), "{version}: wrong password accepted");
    }
}

/// An ACL pattern that is not a topic filter stops m2m-broker at start.
#[test]
fn invalid_pattern_is_a_config_error() {
    let dir = testkit::peers::TempDir::new("m2m-broker-auth");
    let conf = dir.path().join("bad.toml");
    std::fs::write(
        &conf,
        "[[user]]\nname = \"a\"\npassword = \"b\"\npublish = [\"a/#/b\"]\n",
    )
    .unwrap();
    let bin = std::env::var_os("M2M_BROKER_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_m2m-broker").into());
    let port = testkit::peers::free_tcp_port().to_string();
    let o = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .args(["-p", &port])
        .stdin(Stdio::null())
        .output()
        .expect("run m2m-broker");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid ACL pattern \"a/#/b\""),
        "{}",
        stderr(&o)
    );
}
