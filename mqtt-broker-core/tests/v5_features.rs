//! MQTT 5.0 features of the broker in virtual time: topic aliases both
//! ways, Request Problem / Response Information, Reason Strings, Maximum
//! Packet Size on every packet, and the `$SYS` topics.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{connect, publish, publishes_to, Harness, V4, V5};
use mqtt_broker_core::{AliasPolicy, Config};
use mqtt_codec::{Ack, Packet, Publish, QoS, ReasonCode, Subscribe, Subscription, Utf8String};

/// A 5.0 subscriber on `#` that accepts `max` topic aliases.
fn aliased_sub(
    h: &mut Harness,
    id: &'static str,
    max: u16,
    clean: bool,
) -> mqtt_broker_core::ConnId {
    let mut c = connect(V5, id, clean);
    c.properties.topic_alias_maximum = Some(max);
    if !clean {
        c.properties.session_expiry_interval = Some(600);
    }
    let (s, _) = h.connect_with(c);
    s
}

/// Outgoing aliases on, least recently used replaced.
fn lru() -> Config {
    let mut cfg = Config::default();
    cfg.outgoing_topic_aliases = AliasPolicy::Lru;
    cfg
}

fn topic_and_alias(p: &Publish) -> (&str, Option<u16>) {
    (p.topic.as_str(), p.properties.topic_alias)
}

#[test]
fn outgoing_aliases_first_topic_then_alias_only_and_lru_replacement() {
    let mut h = Harness::with(lru());
    let s = aliased_sub(&mut h, "s", 2, true);
    h.subscribe(s, "#", QoS::AtLeastOnce);
    let p = h.client(V4, "p", true);
    let mut seen = Vec::new();
    for (i, t) in [
        "room/1", "room/1", "room/2", "room/1", "room/3", "room/2", "room/3",
    ]
    .into_iter()
    .enumerate()
    {
        let qos = if i % 2 == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let id = u16::try_from(i + 1).unwrap();
        h.send(
            p,
            Publish::new(Utf8String::from_static(t), Bytes::from_static(b"v")).with_qos(qos, id),
        );
        for m in publishes_to(&h.recv(), s) {
            if m.qos == QoS::AtLeastOnce {
                h.send(s, Packet::PubAck(Ack::new(m.packet_id)));
            }
            seen.push((m.topic.to_string(), m.properties.topic_alias));
        }
    }
    let want = [
        ("room/1", Some(1)),
        ("", Some(1)),
        ("room/2", Some(2)),
        ("", Some(1)),
        // Both taken: room/2 is the least recently used, its alias moves.
        ("room/3", Some(2)),
        ("room/2", Some(1)),
        ("", Some(2)),
    ];
    let want: Vec<(String, Option<u16>)> =
        want.iter().map(|(t, a)| ((*t).to_owned(), *a)).collect();
    assert_eq!(seen, want);
}

#[test]
fn no_outgoing_aliases_without_a_client_maximum_short_topics_or_when_off() {
    for (policy, client_max, topic, aliased) in [
        (AliasPolicy::Lru, None, "long/topic", false),
        (AliasPolicy::Lru, Some(5), "a/b", false), // shorter than 4 bytes
        (AliasPolicy::Off, Some(5), "long/topic", false),
        (AliasPolicy::default(), Some(5), "long/topic", false),
        (AliasPolicy::KeepFirst, Some(5), "long/topic", true),
    ] {
        let mut cfg = Config::default();
        cfg.outgoing_topic_aliases = policy;
        let mut h = Harness::with(cfg);
        let mut c = connect(V5, "s", true);
        c.properties.topic_alias_maximum = client_max;
        let (s, _) = h.connect_with(c);
        h.subscribe(s, "#", QoS::AtMostOnce);
        let p = h.client(V5, "p", true);
        h.send(p, publish(topic, QoS::AtMostOnce, 0));
        let got = publishes_to(&h.recv(), s);
        assert_eq!(topic_and_alias(&got[0]).0, topic);
        assert_eq!(
            got[0].properties.topic_alias.is_some(),
            aliased,
            "{policy:?} {client_max:?}"
        );
    }
}

#[test]
fn outgoing_aliases_start_afresh_on_a_new_connection() {
    let mut h = Harness::with(lru());
    let s = aliased_sub(&mut h, "s", 3, false);
    h.subscribe(s, "#", QoS::AtLeastOnce);
    let p = h.client(V4, "p", true);
    h.send(p, publish("news/today", QoS::AtLeastOnce, 1));
    let first = publishes_to(&h.recv(), s);
    assert_eq!(topic_and_alias(&first[0]), ("news/today", Some(1)));
    h.send(p, publish("news/today", QoS::AtLeastOnce, 2));
    let second = publishes_to(&h.recv(), s);
    assert_eq!(topic_and_alias(&second[0]), ("", Some(1)));
    // Both unacknowledged; the connection is lost. On the new connection
    // the resent messages carry the topic again (§3.3.2.3.4: mappings do
    // not outlive the network connection).
    h.b.connection_lost(h.now, s);
    let mut c = connect(V5, "s", false);
    c.properties.topic_alias_maximum = Some(3);
    c.properties.session_expiry_interval = Some(600);
    let (s3, out) = h.connect_with(c);
    let again = publishes_to(&out, s3);
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|m| m.dup));
    assert_eq!(topic_and_alias(&again[0]), ("news/today", Some(1)));
    assert_eq!(topic_and_alias(&again[1]), ("", Some(1)));
}

#[test]
fn an_alias_announcement_that_would_not_fit_the_maximum_packet_size_is_left_out() {
    let mut h = Harness::with(lru());
    let mut c = connect(V5, "s", true);
    c.properties.topic_alias_maximum = Some(3);
    // A QoS 0 PUBLISH on a 16-byte topic with 1 payload byte takes
    // 2 + 18 + 1 + 1 = 22 bytes; the alias property would add 3. (The
    // CONNACK takes 16.)
    c.properties.maximum_packet_size = Some(23);
    let (s, _) = h.connect_with(c);
    h.subscribe(s, "abcdefghijklmnop", QoS::AtMostOnce);
    let p = h.client(V4, "p", true);
    h.send(p, publish("abcdefghijklmnop", QoS::AtMostOnce, 0));
    let got = publishes_to(&h.recv(), s);
    assert_eq!(topic_and_alias(&got[0]), ("abcdefghijklmnop", None));
    assert!(!h.closed(s));
}

#[test]
fn incoming_alias_zero_or_unknown_is_refused() {
    for (alias, topic, reason) in [
        (0, "t", ReasonCode::TOPIC_ALIAS_INVALID),
        (11, "t", ReasonCode::TOPIC_ALIAS_INVALID),
        (3, "", ReasonCode::PROTOCOL_ERROR),
    ] {
        let mut h = Harness::new();
        let p = h.client(V5, "p", true);
        let mut m = publish("t", QoS::AtMostOnce, 0);
        m.topic = Utf8String::try_from(topic).unwrap();
        m.properties.topic_alias = Some(alias);
        h.send(p, m);
        let out = h.recv();
        assert!(
            matches!(&out[..], [(_, Packet::Disconnect(d))] if d.reason_code == reason),
            "alias {alias}: {out:?}"
        );
        assert!(h.closed(p));
    }
}

#[test]
fn response_information_is_sent_when_configured_and_requested() {
    for (prefix, requested, id, want) in [
        (
            Some("response/"),
            Some(true),
            "dev-1",
            Some("response/dev-1"),
        ),
        (Some("response/"), None, "dev-1", None),
        (Some("response/"), Some(false), "dev-1", None),
        (None, Some(true), "dev-1", None),
        (Some("response/"), Some(true), "a+b", None), // not a valid topic
    ] {
        let mut cfg = Config::default();
        cfg.response_topic_prefix = prefix.map(str::to_owned);
        let mut h = Harness::with(cfg);
        let mut c = connect(V5, id, true);
        c.properties.request_response_information = requested;
        let (_, out) = h.connect_with(c);
        let Packet::ConnAck(a) = &out[0].1 else {
            panic!("{out:?}")
        };
        assert_eq!(
            a.properties.response_information.as_deref(),
            want,
            "{prefix:?} {requested:?} {id}"
        );
    }
}

fn reasons_on() -> Config {
    let mut cfg = Config::default();
    cfg.reason_strings = true;
    cfg
}

struct NoSecrets;

impl mqtt_broker_core::Hooks for NoSecrets {
    fn authorize_publish(&mut self, _: &str, topic: &str, _: QoS, _: bool) -> bool {
        !topic.starts_with("secret")
    }
}

#[test]
fn reason_strings_follow_request_problem_information() {
    for problem_info in [None, Some(false)] {
        let mut h = Harness::with(reasons_on());
        h.b = mqtt_broker_core::Broker::with_hooks(reasons_on(), 1, Box::new(NoSecrets));
        let mut c = connect(V5, "c", true);
        c.properties.request_problem_information = problem_info;
        let (c, _) = h.connect_with(c);
        h.send(c, publish("secret/x", QoS::AtLeastOnce, 1));
        let out = h.recv();
        let Packet::PubAck(a) = &out[0].1 else {
            panic!("{out:?}")
        };
        assert_eq!(a.reason_code, ReasonCode::NOT_AUTHORIZED);
        assert_eq!(a.properties.reason_string.is_some(), problem_info.is_none());
        // SUBACK with a refused filter: the same rule.
        let bad = Subscription::new(Utf8String::from_static("a/#/b"), QoS::AtMostOnce);
        let good = Subscription::new(Utf8String::from_static("a/b"), QoS::AtMostOnce);
        h.send(c, Packet::Subscribe(Subscribe::new(2, vec![good, bad])));
        let out = h.recv();
        let Packet::SubAck(a) = &out[0].1 else {
            panic!("{out:?}")
        };
        assert_eq!(a.reason_codes[1], ReasonCode::TOPIC_FILTER_INVALID);
        assert_eq!(a.properties.reason_string.is_some(), problem_info.is_none());
        // DISCONNECT always carries it (§3.1.2.11.7 allows it there).
        let mut m = publish("t", QoS::AtMostOnce, 0);
        m.properties.topic_alias = Some(0);
        h.send(c, m);
        let out = h.recv();
        let Packet::Disconnect(d) = &out[0].1 else {
            panic!("{out:?}")
        };
        assert_eq!(d.reason_code, ReasonCode::TOPIC_ALIAS_INVALID);
        assert_eq!(
            d.properties.reason_string.as_deref(),
            Some("topic alias invalid")
        );
    }
}

#[test]
fn reason_strings_are_off_by_default_and_on_refused_connack_when_on() {
    let mut h = Harness::new();
    let p = h.client(V5, "p", true);
    h.send(p, publish("t", QoS::AtLeastOnce, 1));
    let out = h.recv();
    assert!(matches!(&out[0].1, Packet::PubAck(a)
        if a.reason_code == ReasonCode::NO_MATCHING_SUBSCRIBERS && a.properties.reason_string.is_none()));

    let mut cfg = reasons_on();
    cfg.allow_anonymous = false;
    let mut h = Harness::with(cfg);
    let (c, out) = h.connect_with(connect(V5, "anon", true));
    let Packet::ConnAck(a) = &out[0].1 else {
        panic!("{out:?}")
    };
    assert_eq!(a.reason_code, ReasonCode::NOT_AUTHORIZED);
    assert_eq!(
        a.properties.reason_string.as_deref(),
        Some("not authorized")
    );
    assert!(h.closed(c));
}

#[test]
fn a_reason_string_that_does_not_fit_the_maximum_packet_size_is_left_out() {
    let mut h = Harness::with(reasons_on());
    h.b = mqtt_broker_core::Broker::with_hooks(reasons_on(), 1, Box::new(NoSecrets));
    let mut c = connect(V5, "c", true);
    // Room for the CONNACK (16 bytes), not for "not authorized" in a PUBACK.
    c.properties.maximum_packet_size = Some(20);
    let (c, _) = h.connect_with(c);
    h.send(c, publish("secret/x", QoS::AtLeastOnce, 1));
    let out = h.recv();
    assert!(matches!(&out[..], [(_, Packet::PubAck(a))]
        if a.reason_code == ReasonCode::NOT_AUTHORIZED && a.properties.reason_string.is_none()));
    assert!(!h.closed(c));
}

#[test]
fn a_connack_larger_than_the_clients_maximum_packet_size_is_not_sent() {
    let mut h = Harness::new();
    let mut c = connect(V5, "tiny", true);
    c.properties.maximum_packet_size = Some(2);
    let (c, out) = h.connect_with(c);
    assert!(out.is_empty(), "{out:?}");
    assert!(h.closed(c));
    assert_eq!(h.b.stats().clients_connected, 0);
}

#[test]
fn a_suback_larger_than_the_clients_maximum_packet_size_closes_the_connection() {
    let mut h = Harness::new();
    let mut c = connect(V5, "small", true);
    c.properties.maximum_packet_size = Some(16);
    let (c, _) = h.connect_with(c);
    let subs: Vec<Subscription> = (0..20)
        .map(|_| Subscription::new(Utf8String::from_static("t"), QoS::AtMostOnce))
        .collect();
    h.send(c, Packet::Subscribe(Subscribe::new(1, subs)));
    assert!(h.recv().is_empty());
    assert!(h.closed(c));
    assert_eq!(h.b.stats().clients_connected, 0);
}

#[test]
fn subscription_identifiers_in_a_clients_publish_are_dropped_or_refused() {
    let mut h = Harness::new();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "t", QoS::AtMostOnce);
    let p = h.client(V5, "p", true);
    let mut m = publish("t", QoS::AtMostOnce, 0);
    m.properties.subscription_identifiers = vec![9];
    h.send(p, m.clone());
    let got = publishes_to(&h.recv(), s);
    assert!(got[0].properties.subscription_identifiers.is_empty());
    m.properties.subscription_identifiers = vec![9, 9];
    h.send(p, m);
    let out = h.recv();
    assert!(
        matches!(&out[..], [(_, Packet::Disconnect(d))] if d.reason_code == ReasonCode::PROTOCOL_ERROR)
    );
}

/// Mosquitto's `$SYS/broker/...` names (besides `heap/...` and `timestamp`).
const SYS_TOPICS: [&str; 22] = [
    "version",
    "uptime",
    "clients/connected",
    "clients/active",
    "clients/disconnected",
    "clients/inactive",
    "clients/total",
    "clients/maximum",
    "clients/expired",
    "messages/received",
    "messages/sent",
    "messages/stored",
    "store/messages/count",
    "publish/messages/received",
    "publish/messages/sent",
    "publish/messages/dropped",
    "publish/bytes/received",
    "publish/bytes/sent",
    "bytes/received",
    "bytes/sent",
    "subscriptions/count",
    "retained messages/count",
];

#[test]
fn sys_topics_have_mosquittos_names_and_load_averages_move_with_traffic() {
    let mut h = Harness::new();
    let s = h.client(V4, "s", true);
    h.subscribe(s, "$SYS/#", QoS::AtMostOnce);
    h.advance(Duration::from_secs(10)); // the first round (10 s after the first connection)
    let first: Vec<Publish> = publishes_to(&h.recv(), s);
    let names: Vec<&str> = first
        .iter()
        .map(|p| p.topic.strip_prefix("$SYS/broker/").unwrap())
        .collect();
    for t in SYS_TOPICS {
        assert!(names.contains(&t), "{t} missing in {names:?}");
    }
    for l in [
        "messages/received",
        "messages/sent",
        "publish/received",
        "publish/sent",
        "publish/dropped",
        "bytes/received",
        "bytes/sent",
        "sockets",
        "connections",
    ] {
        for w in ["1min", "5min", "15min"] {
            assert!(names.contains(&&*format!("load/{l}/{w}")), "load/{l}/{w}");
        }
    }
    // Kept retained for later subscribers (a 3.1.1 live copy has no retain flag).
    assert_eq!(h.b.stats().retained, 49);
    let payload = |ps: &[Publish], t: &str| -> Option<String> {
        ps.iter()
            .find(|p| p.topic.as_str() == format!("$SYS/broker/{t}"))
            .map(|p| String::from_utf8(p.payload.to_vec()).unwrap())
    };
    assert!(payload(&first, "version")
        .unwrap()
        .starts_with("m2m-broker version "));
    assert_eq!(payload(&first, "uptime").as_deref(), Some("10 seconds"));
    assert_eq!(
        payload(&first, "load/connections/1min").as_deref(),
        Some("0.00")
    );

    // 30 publishes received in the next 10 s: 180 a minute, smoothed.
    let p = h.client(V4, "p", true);
    for _ in 0..30 {
        h.send(p, publish("x", QoS::AtMostOnce, 0));
    }
    h.recv();
    h.advance(Duration::from_secs(10));
    let second = publishes_to(&h.recv(), s);
    let rate: f64 = payload(&second, "load/publish/received/1min")
        .unwrap()
        .parse()
        .unwrap();
    let want = 180.0 * (1.0 - (-10.0f64 / 60.0).exp());
    assert!((rate - want).abs() < 0.01, "{rate} vs {want}");
    let conns: f64 = payload(&second, "load/connections/1min")
        .unwrap()
        .parse()
        .unwrap();
    assert!(conns > 0.0);
    // Unchanged values are not published again.
    assert_eq!(payload(&second, "version"), None);
    assert_eq!(payload(&second, "clients/maximum").as_deref(), Some("2"));
}

#[test]
fn clients_cannot_publish_to_sys() {
    let mut h = Harness::new();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "$SYS/#", QoS::AtMostOnce);
    let p = h.client(V5, "p", true);
    let mut m = publish("$SYS/broker/version", QoS::AtLeastOnce, 1).with_retain(true);
    m.payload = Bytes::from_static(b"fake");
    h.send(p, m);
    let out = h.recv();
    assert!(publishes_to(&out, s).is_empty());
    assert!(
        matches!(&out[..], [(_, Packet::PubAck(a))] if a.reason_code == ReasonCode::NOT_AUTHORIZED)
    );
    assert_eq!(h.b.stats().retained, 0);
}
