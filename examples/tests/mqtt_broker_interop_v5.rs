//! `m2m-broker` against real third-party clients, one test per feature of
//! the broker issue that `mqtt_broker.rs` does not already cover: paho-mqtt
//! 2.x (Python, 3.1.1 and 5.0; scenarios in `paho_scenarios.py`) and
//! mosquitto_pub / mosquitto_sub (3.1, 5.0 properties with `-D`, persistent
//! sessions with `-c -x`). A missing client skips the test outside CI and
//! fails it under `CI=true`.
//!
//! Not covered here, because other work adds them now: outgoing topic
//! aliases, Response Information, `$SYS/broker/load/...`.
#![allow(clippy::disallowed_methods)] // real processes, real time

mod broker_proc;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use broker_proc::Broker;
use testkit::peers::{find_binary, missing, python_with};

/// Runs `scenario` of `paho_scenarios.py` against `b` and returns its
/// stdout lines (without the final "done"), or `None` when paho is missing.
fn paho(b: &Broker, scenario: &str) -> Option<Vec<String>> {
    paho_with(b, scenario, &[])
}

/// As [`paho`], with more arguments for the script.
fn paho_with(b: &Broker, scenario: &str, extra: &[String]) -> Option<Vec<String>> {
    let python = python_with(&["paho.mqtt.client"])
        .or_else(|| missing("python3 with paho-mqtt (PyPI paho-mqtt 2.x)"))?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/paho_scenarios.py");
    let mut child = Command::new(python)
        .arg(script)
        .args([scenario, &b.port.to_string()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut o, &mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "paho scenario {scenario} failed ({status:?}):\n{stdout}\n{stderr}"
    );
    let mut lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    assert_eq!(lines.pop().as_deref(), Some("done"), "{scenario}: {stdout}");
    Some(lines)
}

/// Waits at most `limit` for `child`; kills it past that.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn check(b: &Broker, scenario: &str, want: &[&str]) {
    let Some(got) = paho(b, scenario) else { return };
    assert_eq!(got, want, "paho scenario {scenario}");
}

#[test]
fn paho_v5_takeover_gets_0x8e_and_the_will_is_published() {
    let b = Broker::start("");
    check(
        &b,
        "takeover",
        &[
            "old disconnect 142",
            "will gone",
            "new session_present False",
        ],
    );
}

#[test]
fn paho_v5_session_expiry_interval() {
    let b = Broker::start("");
    check(
        &b,
        "session_expiry",
        &[
            "60 s session_present True ['kept']",
            "1 s session_present False",
            "0 s session_present False",
        ],
    );
}

#[test]
fn paho_v5_will_delay_disconnect_0x04_and_cancel_on_reconnect() {
    let b = Broker::start("");
    check(&b, "will_delay", &["will a delayed True", "others []"]);
}

#[test]
fn paho_v5_retain_handling_0_1_2_retain_flag_and_delete() {
    let b = Broker::start("");
    check(
        &b,
        "retain_handling",
        &[
            "rh0 first ['kept'] True",
            "rh0 again ['kept']",
            "rh1 existing []",
            "rh1 new ['kept']",
            "rh2 []",
            "retained flag True",
            "after delete []",
        ],
    );
}

#[test]
fn paho_v5_no_local() {
    let b = Broker::start("");
    check(&b, "no_local", &["got ['theirs'] []"]);
}

#[test]
fn paho_v5_retain_as_published() {
    let b = Broker::start("");
    check(
        &b,
        "retain_as_published",
        &["rap=1 retain True", "rap=0 retain False"],
    );
}

#[test]
fn paho_v5_subscription_identifiers_of_overlapping_subscriptions() {
    let b = Broker::start("");
    check(&b, "subscription_identifiers", &["ids [5, 6] copies 1"]);
}

#[test]
fn paho_v5_shared_subscription_two_members_then_one_leaves() {
    let b = Broker::start("");
    check(
        &b,
        "shared",
        &[
            "all once True both True",
            "after a leaves ['10', '11', '12', '13']",
        ],
    );
}

#[test]
fn paho_v5_message_expiry_while_queued() {
    let b = Broker::start("");
    check(
        &b,
        "message_expiry",
        &[
            "delivered ['long', 'forever']",
            "long expiry counts down True forever has none True",
        ],
    );
}

#[test]
fn paho_v5_payload_format_content_type_response_topic_correlation_and_user_properties() {
    let b = Broker::start("");
    check(
        &b,
        "properties_forwarded",
        &[
            "format 1 application/json pf/reply 0001",
            "user [('a', '1'), ('a', '2'), ('b', '3')]",
        ],
    );
    check(&b, "request_response", &["reply pong 42"]);
}

#[test]
fn paho_v5_maximum_packet_size_both_ways() {
    let b = Broker::start("max_packet_size = 4096\n");
    check(
        &b,
        "maximum_packet_size",
        &["server maximum 4096", "delivered ['small']"],
    );
}

#[test]
fn paho_v5_receive_maximum_limits_messages_in_flight() {
    let b = Broker::start("");
    check(
        &b,
        "receive_maximum",
        &["in flight before acks 2", "all ['0', '1', '2', '3', '4']"],
    );
}

#[test]
fn paho_assigned_client_identifier() {
    let b = Broker::start("");
    check(
        &b,
        "assigned_client_identifier",
        &["assigned True", "3.1.1 empty id rc 0"],
    );
}

#[test]
fn paho_v5_server_keep_alive_and_authentication() {
    let b = Broker::start("allow_anonymous = false\nmax_keep_alive = 30\n");
    check(&b, "server_keep_alive", &["server keep alive 30"]);
    // 0x87 Not authorized (3.1.1 return code 5, which paho reports as 0x87);
    // an unknown enhanced authentication method is 0x8C.
    check(
        &b,
        "authentication",
        &[
            "anonymous 5 135",
            "anonymous 3.1.1 135",
            "user 0",
            "unknown method 140",
        ],
    );
}

#[test]
fn paho_sys_topics_and_dollar_rules() {
    let b = Broker::start("sys_interval = 1\n");
    let Some(got) = paho(&b, "sys_topics") else {
        return;
    };
    for topic in [
        "version",
        "uptime",
        "clients/connected",
        "clients/total",
        "clients/maximum",
        "messages/received",
        "messages/sent",
        "publish/messages/received",
        "publish/messages/sent",
        "bytes/received",
        "bytes/sent",
        "subscriptions/count",
        "retained messages/count",
    ] {
        let want = format!("$SYS/broker/{topic}");
        assert!(got.contains(&want), "{want} missing from {got:?}");
    }
    // `#` does not match `$` topics, and a client cannot publish to `$SYS`.
    assert!(got.contains(&"hash sees $ []".to_owned()), "{got:?}");
    assert!(!got.iter().any(|t| t.contains("fake")), "{got:?}");
}

#[test]
fn paho_overlapping_subscriptions_and_qos_downgrade_311_and_5() {
    let b = Broker::start("");
    check(
        &b,
        "overlapping_and_downgrade",
        &[
            "v3.1.1 [('low/a', 0), ('ov/a', 2)]",
            "v5 [('low/a', 0), ('ov/a', 2)]",
        ],
    );
}

#[test]
fn paho_v5_unsubscribe_reason_codes() {
    let b = Broker::start("");
    // 0x00 Success, 0x11 No subscription existed.
    check(&b, "unsubscribe", &["unsuback [0] [17] after []"]);
}

#[test]
fn paho_v5_incoming_topic_alias() {
    let b = Broker::start("");
    check(
        &b,
        "topic_alias_in",
        &["topics [('ta/long/topic', '1'), ('ta/long/topic', '2')]"],
    );
}

#[test]
fn paho_will_on_keep_alive_timeout() {
    let b = Broker::start("");
    check(&b, "keep_alive_timeout", &["will ['silent']"]);
}

#[test]
fn paho_v5_will_properties_are_passed_on() {
    let b = Broker::start("");
    check(
        &b,
        "will_properties",
        &["will props text/plain 1 wp/answer 7 [('why', 'test')] True"],
    );
}

#[test]
fn paho_offline_queue_limit_drops_newer_messages() {
    let b = Broker::start("max_queued_messages = 3\n");
    check(&b, "queue_limit", &["delivered ['0', '1', '2']"]);
}

#[test]
fn paho_v5_redelivery_after_reconnect_publish_with_dup_or_pubrel() {
    let b = Broker::start("");
    check(
        &b,
        "redelivery_dup",
        &[
            "qos 1 q1 False q1 True same id True more []",
            "qos 2 q2 ['Received PUBREL (Mid: 1)'] more []",
        ],
    );
}

#[test]
fn paho_v5_retained_message_expiry() {
    let b = Broker::start("");
    check(&b, "retained_expiry", &["retained ['l'] True"]);
}

#[test]
fn paho_graceful_shutdown_sends_0x8b_to_v5_and_closes_v311() {
    let b = Broker::start("");
    let Some(got) = paho_with(&b, "shutdown", &[b.child.id().to_string()]) else {
        return;
    };
    assert_eq!(got, ["v5 disconnect 139", "v3.1.1 closed"]);
}

#[test]
fn paho_v5_over_the_ipv6_loopback_listener() {
    let b = Broker::start("");
    if std::net::TcpStream::connect(("::1", b.port)).is_err() {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    }
    check(&b, "ipv6_listener", &["ipv6 subscriber got over ipv4"]);
}

// ---- mosquitto_pub / mosquitto_sub ----

fn mosquitto(name: &str) -> Option<PathBuf> {
    find_binary(&[name])
        .or_else(|| missing("mosquitto_pub/mosquitto_sub (Debian package mosquitto-clients)"))
}

/// mosquitto_sub with `-d`; its stdout lines arrive on a channel. Killed on drop.
struct Sub {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Lines read while waiting for another one.
    seen: std::cell::RefCell<Vec<String>>,
}

impl Sub {
    fn start(bin: &Path, port: u16, args: &[&str]) -> Self {
        let (child, lines) = broker_proc::spawn_lines(bin, port, args);
        let s = Self {
            child,
            lines,
            seen: std::cell::RefCell::default(),
        };
        s.wait_for("SUBACK");
        s
    }

    /// Waits (at most 10 s) for a line containing `text`, among message
    /// lines (debug lines, "Client ...", only for "SUBACK"), including lines
    /// printed while waiting for an earlier one.
    fn wait_for(&self, text: &str) -> String {
        let wanted = |l: &str| l.contains(text) && (text == "SUBACK" || !l.starts_with("Client "));
        let mut seen = self.seen.borrow_mut();
        if let Some(i) = seen.iter().position(|l| wanted(l)) {
            return seen.remove(i);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if wanted(&l) => return l,
                Ok(l) => seen.push(l),
                Err(_) => panic!("mosquitto_sub never printed {text:?}; it printed {seen:?}"),
            }
        }
    }

    /// Lines (other than debug lines) printed within `d`.
    fn quiet(&self, d: Duration) -> Vec<String> {
        std::thread::sleep(d);
        let mut seen = self.seen.borrow_mut();
        seen.extend(self.lines.try_iter());
        seen.drain(..)
            .filter(|l| !l.starts_with("Client "))
            .collect()
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mosq_pub(bin: &Path, port: u16, args: &[&str]) {
    let mut child = Command::new(bin)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("run mosquitto_pub");
    let status = wait_bounded(&mut child, Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "mosquitto_pub {args:?}: {status:?}"
    );
}

fn mosquitto_pair() -> Option<(PathBuf, PathBuf)> {
    Some((mosquitto("mosquitto_sub")?, mosquitto("mosquitto_pub")?))
}

#[test]
fn mosquitto_mqtt31_clients_at_every_qos() {
    let Some((sub_bin, pub_bin)) = mosquitto_pair() else {
        return;
    };
    let b = Broker::start("");
    let sub = Sub::start(
        &sub_bin,
        b.port,
        &["-V", "mqttv31", "-q", "2", "-t", "v31/#", "-v"],
    );
    for qos in ["0", "1", "2"] {
        let payload = format!("v31-q{qos}");
        mosq_pub(
            &pub_bin,
            b.port,
            &["-V", "mqttv31", "-q", qos, "-t", "v31/x", "-m", &payload],
        );
        assert_eq!(sub.wait_for(&payload), format!("v31/x {payload}"));
    }
}

#[test]
fn mosquitto_v5_persistent_session_with_session_expiry() {
    let Some((sub_bin, pub_bin)) = mosquitto_pair() else {
        return;
    };
    let b = Broker::start("");
    let args = [
        "-V", "5", "-c", "-i", "mq-keep", "-x", "60", "-q", "1", "-t", "mq/q", "-v",
    ];
    // Subscribe, then vanish without DISCONNECT: the session stays.
    Sub::start(&sub_bin, b.port, &args).kill();
    mosq_pub(
        &pub_bin,
        b.port,
        &["-V", "5", "-q", "1", "-t", "mq/q", "-m", "while-away"],
    );
    let sub = Sub::start(&sub_bin, b.port, &args);
    assert_eq!(sub.wait_for("while-away"), "mq/q while-away");
}

#[test]
fn mosquitto_v5_will_delay_from_connect_properties() {
    let Some((sub_bin, _)) = mosquitto_pair() else {
        return;
    };
    let b = Broker::start("");
    let watch = Sub::start(&sub_bin, b.port, &["-V", "5", "-t", "mw/#", "-v"]);
    let doomed = Sub::start(
        &sub_bin,
        b.port,
        &[
            "-V",
            "5",
            "-t",
            "x",
            "-D",
            "connect",
            "session-expiry-interval",
            "60",
            "-D",
            "will",
            "will-delay-interval",
            "1",
            "--will-topic",
            "mw/doomed",
            "--will-payload",
            "late",
        ],
    );
    doomed.kill();
    assert_eq!(watch.wait_for("late"), "mw/doomed late");
}

#[test]
fn mosquitto_v5_maximum_packet_size_and_message_expiry_properties() {
    let Some((sub_bin, pub_bin)) = mosquitto_pair() else {
        return;
    };
    let b = Broker::start("");
    let sub = Sub::start(
        &sub_bin,
        b.port,
        &[
            "-V",
            "5",
            "-t",
            "mp/#",
            "-v",
            "-D",
            "connect",
            "maximum-packet-size",
            "100",
        ],
    );
    let big = "x".repeat(300);
    mosq_pub(&pub_bin, b.port, &["-V", "5", "-t", "mp/big", "-m", &big]);
    mosq_pub(
        &pub_bin,
        b.port,
        &[
            "-V",
            "5",
            "-t",
            "mp/small",
            "-m",
            "small",
            "-D",
            "publish",
            "message-expiry-interval",
            "30",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
        ],
    );
    assert_eq!(sub.wait_for("small"), "mp/small small");
    let rest = sub.quiet(Duration::from_millis(300));
    assert!(rest.iter().all(|l| !l.contains(&big)), "{rest:?}");
}

#[test]
fn mosquitto_sys_version_and_no_dollar_for_hash() {
    let Some((sub_bin, pub_bin)) = mosquitto_pair() else {
        return;
    };
    let b = Broker::start("sys_interval = 1\n");
    let sys = Sub::start(
        &sub_bin,
        b.port,
        &["-V", "5", "-t", "$SYS/broker/version", "-v"],
    );
    assert!(sys
        .wait_for("$SYS/broker/version")
        .starts_with("$SYS/broker/version m2m-broker "));
    let hash = Sub::start(&sub_bin, b.port, &["-V", "mqttv311", "-t", "#", "-v"]);
    mosq_pub(&pub_bin, b.port, &["-t", "plain", "-m", "p"]);
    assert_eq!(hash.wait_for("plain"), "plain p");
    let rest = hash.quiet(Duration::from_millis(1500));
    assert!(rest.iter().all(|l| !l.starts_with('$')), "{rest:?}");
}

#[test]
fn mosquitto_pub_and_the_broker_maximum_packet_size() {
    let Some((sub_bin, pub_bin)) = mosquitto_pair() else {
        return;
    };
    let b = Broker::start("max_packet_size = 1024\n");
    let sub = Sub::start(&sub_bin, b.port, &["-V", "5", "-t", "big/#", "-v"]);
    let big = "x".repeat(2000);
    // 3.1.1 has no Maximum Packet Size: the broker closes the connection
    // and mosquitto_pub reports it lost.
    let mut child = Command::new(&pub_bin)
        .args(["-h", "127.0.0.1", "-p", &b.port.to_string()])
        .args(["-V", "mqttv311", "-q", "1", "-t", "big/x", "-m", &big])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run mosquitto_pub");
    let status = wait_bounded(&mut child, Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| !s.success()),
        "3.1.1 oversize publish: {status:?}"
    );
    // A 5.0 client learns the limit from CONNACK and does not send it.
    mosq_pub(
        &pub_bin,
        b.port,
        &["-V", "5", "-q", "1", "-t", "big/y", "-m", &big],
    );
    mosq_pub(
        &pub_bin,
        b.port,
        &["-V", "5", "-q", "1", "-t", "big/z", "-m", "fits"],
    );
    assert_eq!(sub.wait_for("fits"), "big/z fits");
    let rest = sub.quiet(Duration::from_millis(300));
    assert!(rest.iter().all(|l| !l.contains(&big)), "{rest:?}");
}
