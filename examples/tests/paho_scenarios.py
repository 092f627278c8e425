"""Interop scenarios for m2m-broker with paho-mqtt 2.x clients.

Run as `python3 paho_scenarios.py SCENARIO PORT`; each scenario prints one
line per observation and the Rust test (mqtt_broker_interop_v5.rs) compares
them with what the MQTT specification asks. Every wait is bounded.
"""

import queue
import socket
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

PORT = int(sys.argv[2])


def out(*items):
    print(*items, flush=True)


def props(kind, **values):
    p = Properties(kind)
    for k, v in values.items():
        setattr(p, k, v)
    return p


class C:
    """One paho client with its callbacks turned into queues."""

    def __init__(self, cid, v5=True, clean=True, connect_props=None, will=None,
                 manual_ack=False, username=None, keepalive=60, reconnect=False,
                 expect_ok=True):
        self.msgs = queue.Queue()
        self.events = queue.Queue()
        # paho's packet log ("Received PUBREL (Mid: 1)"...).
        self.log = []
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid,
                             protocol=proto, clean_session=None if v5 else clean,
                             manual_ack=manual_ack, reconnect_on_failure=reconnect)
        self.c.on_connect = lambda c, u, f, rc, p: self.events.put(
            ("connack", f.session_present, rc.value, p))
        self.c.on_disconnect = lambda c, u, f, rc, p: self.events.put(("disconnect", rc.value))
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.events.put(
            ("suback", [r.value for r in rcs]))
        self.c.on_unsubscribe = lambda c, u, mid, rcs, p: self.events.put(
            ("unsuback", [r.value for r in rcs]))
        self.c.on_message = lambda c, u, m: self.msgs.put(m)
        self.c.on_log = lambda c, u, level, line: self.log.append(line)
        if will is not None:
            topic, payload, wprops = will
            self.c.will_set(topic, payload, qos=1, properties=wprops)
        if username is not None:
            self.c.username_pw_set(username, "secret")
        kwargs = {"keepalive": keepalive}
        if v5:
            kwargs["clean_start"] = clean
            kwargs["properties"] = connect_props
        self.c.connect("127.0.0.1", PORT, **kwargs)
        self.c.loop_start()
        _, self.session_present, self.rc, self.props = self.wait("connack")
        if expect_ok:
            assert self.rc == 0, f"{cid}: CONNACK {self.rc}"

    def wait(self, kind, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                ev = self.events.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            if ev[0] == kind:
                return ev
        raise AssertionError(f"no {kind} within {timeout} s")

    def sub(self, topic, qos=1, sub_props=None, **options):
        if options or sub_props is not None:
            opts = SubscribeOptions(qos=qos, **options)
            self.c.subscribe(topic, options=opts, properties=sub_props)
        else:
            self.c.subscribe(topic, qos=qos)
        return self.wait("suback")[1]

    def pub(self, topic, payload, qos=1, retain=False, pub_props=None):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=pub_props)
        if qos > 0:
            info.wait_for_publish(10)
        return info

    def get(self, n, timeout=10):
        got = []
        deadline = time.time() + timeout
        while len(got) < n and time.time() < deadline:
            try:
                got.append(self.msgs.get(timeout=max(0.01, deadline - time.time())))
            except queue.Empty:
                break
        assert len(got) == n, f"got {len(got)} of {n} messages: {[m.payload for m in got]}"
        return got

    def quiet(self, seconds=0.5):
        """Messages that arrive within `seconds` (expected: none)."""
        time.sleep(seconds)
        got = []
        while not self.msgs.empty():
            got.append(self.msgs.get_nowait())
        return got

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()

    def abort(self):
        """Drops the TCP connection without DISCONNECT."""
        self.c.socket().shutdown(socket.SHUT_RDWR)
        self.c.loop_stop()


def payloads(msgs):
    return [m.payload.decode() for m in msgs]


def takeover():
    watch = C("tk-watch")
    watch.sub("tk/#")
    old = C("tk", will=("tk/will", b"gone", None))
    new = C("tk")
    out("old disconnect", old.wait("disconnect")[1])
    out("will", payloads(watch.get(1))[0])
    out("new session_present", new.session_present)


def session_expiry():
    pub = C("se-pub")
    keep = C("se-keep", connect_props=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    keep.sub("se/keep")
    keep.close()
    brief = C("se-brief", connect_props=props(PacketTypes.CONNECT, SessionExpiryInterval=1))
    brief.sub("se/brief")
    brief.close()
    none = C("se-none")
    none.sub("se/none")
    none.close()
    pub.pub("se/keep", b"kept")
    time.sleep(2.5)
    keep = C("se-keep", clean=False, connect_props=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    out("60 s session_present", keep.session_present, payloads(keep.get(1)))
    brief = C("se-brief", clean=False)
    out("1 s session_present", brief.session_present)
    none = C("se-none", clean=False)
    out("0 s session_present", none.session_present)


def will_delay():
    watch = C("wd-watch")
    watch.sub("wd/#")
    sess = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
    # Published after its delay: DISCONNECT 0x04 asks for the will.
    a = C("wd-a", connect_props=sess, will=("wd/a", b"a", props(PacketTypes.WILLMESSAGE, WillDelayInterval=1)))
    # Cancelled: the client is back before its delay ends.
    b = C("wd-b", connect_props=sess, will=("wd/b", b"b", props(PacketTypes.WILLMESSAGE, WillDelayInterval=3)))
    # Not published: a normal DISCONNECT.
    n = C("wd-n", connect_props=sess, will=("wd/n", b"n", None))
    with_will = ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message")
    t0 = time.time()
    a.c.disconnect(reasoncode=with_will)
    b.c.disconnect(reasoncode=with_will)
    n.close()
    a.c.loop_stop()
    b.c.loop_stop()
    C("wd-b", clean=False, connect_props=sess)
    got = watch.get(1)
    out("will", payloads(got)[0], "delayed", time.time() - t0 >= 0.9)
    out("others", payloads(watch.quiet(3.5)))


def retain_handling():
    pub = C("rh-pub")
    pub.pub("rh/x", b"kept", retain=True)
    s = C("rh-sub")
    s.sub("rh/x", retainHandling=0)
    out("rh0 first", payloads(s.get(1)), s.msgs.empty())
    s.sub("rh/x", retainHandling=0)
    out("rh0 again", payloads(s.get(1)))
    s.sub("rh/x", retainHandling=1)
    out("rh1 existing", payloads(s.quiet()))
    s.sub("rh/#", retainHandling=1)
    out("rh1 new", payloads(s.get(1)))
    s.sub("rh/+", retainHandling=2)
    out("rh2", payloads(s.quiet()))
    # Retain flag on delivery at subscribe time.
    s2 = C("rh-sub2")
    s2.sub("rh/x")
    m = s2.get(1)[0]
    out("retained flag", m.retain)
    # An empty retained payload deletes it.
    pub.pub("rh/x", b"", retain=True)
    s3 = C("rh-sub3")
    s3.sub("rh/#")
    out("after delete", payloads(s3.quiet()))


def no_local():
    me = C("nl-me")
    me.sub("nl/t", noLocal=True)
    other = C("nl-other")
    me.pub("nl/t", b"mine")
    other.pub("nl/t", b"theirs")
    out("got", payloads(me.get(1)), payloads(me.quiet()))


def retain_as_published():
    rap = C("rap-1")
    rap.sub("rap/t", retainAsPublished=True)
    plain = C("rap-0")
    plain.sub("rap/t", retainAsPublished=False)
    C("rap-pub").pub("rap/t", b"r", retain=True)
    out("rap=1 retain", rap.get(1)[0].retain)
    out("rap=0 retain", plain.get(1)[0].retain)


def subscription_identifiers():
    s = C("si")
    s.sub("si/#", sub_props=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=5))
    s.sub("si/+", sub_props=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=6))
    s.sub("other/#", sub_props=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7))
    C("si-pub").pub("si/a", b"x")
    got = s.get(1)
    out("ids", sorted(got[0].properties.SubscriptionIdentifier), "copies", 1 + len(s.quiet()))


def shared():
    a = C("sh-a")
    b = C("sh-b")
    a.sub("$share/g/sh/#")
    b.sub("$share/g/sh/#")
    pub = C("sh-pub")
    for i in range(10):
        pub.pub("sh/x", str(i).encode())
    time.sleep(0.5)
    ga, gb = payloads(a.quiet(0)), payloads(b.quiet(0))
    out("all once", sorted(ga + gb, key=int) == [str(i) for i in range(10)], "both", bool(ga) and bool(gb))
    a.close()
    for i in range(10, 14):
        pub.pub("sh/x", str(i).encode())
    out("after a leaves", payloads(b.get(4)))


def message_expiry():
    s = C("me-sub", connect_props=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    s.sub("me/t")
    s.close()
    pub = C("me-pub")
    pub.pub("me/t", b"short", pub_props=props(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    pub.pub("me/t", b"long", pub_props=props(PacketTypes.PUBLISH, MessageExpiryInterval=60))
    pub.pub("me/t", b"forever")
    time.sleep(2.5)
    s = C("me-sub", clean=False, connect_props=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    got = s.get(2) + s.quiet()
    out("delivered", payloads(got))
    left = got[0].properties.MessageExpiryInterval
    out("long expiry counts down", 1 <= left < 60, "forever has none", not hasattr(got[1].properties, "MessageExpiryInterval"))


def properties_forwarded():
    s = C("pf-sub")
    s.sub("pf/t")
    p = props(PacketTypes.PUBLISH, PayloadFormatIndicator=1, ContentType="application/json",
              ResponseTopic="pf/reply", CorrelationData=b"\x00\x01", UserProperty=[("a", "1"), ("a", "2"), ("b", "3")])
    C("pf-pub").pub("pf/t", b"{}", pub_props=p)
    m = s.get(1)[0].properties
    out("format", m.PayloadFormatIndicator, m.ContentType, m.ResponseTopic, m.CorrelationData.hex())
    out("user", m.UserProperty)


def request_response():
    responder = C("rr-responder")
    responder.sub("rr/request")
    requester = C("rr-requester")
    requester.sub("rr/reply/me")
    requester.pub("rr/request", b"ping", pub_props=props(PacketTypes.PUBLISH, ResponseTopic="rr/reply/me", CorrelationData=b"42"))
    req = responder.get(1)[0]
    responder.pub(req.properties.ResponseTopic, b"pong",
                  pub_props=props(PacketTypes.PUBLISH, CorrelationData=req.properties.CorrelationData))
    rep = requester.get(1)[0]
    out("reply", rep.payload.decode(), rep.properties.CorrelationData.decode())


def maximum_packet_size():
    s = C("mps-sub", connect_props=props(PacketTypes.CONNECT, MaximumPacketSize=200))
    out("server maximum", s.props.MaximumPacketSize)
    s.sub("mps/t")
    pub = C("mps-pub")
    pub.pub("mps/t", b"x" * 1000)
    pub.pub("mps/t", b"small")
    out("delivered", payloads(s.get(1) + s.quiet()))


def receive_maximum():
    s = C("rm-sub", manual_ack=True, connect_props=props(PacketTypes.CONNECT, ReceiveMaximum=2))
    s.sub("rm/t")
    pub = C("rm-pub")
    for i in range(5):
        pub.pub("rm/t", str(i).encode())
    first = s.get(2)
    held = s.quiet(1.0)
    out("in flight before acks", len(first) + len(held))
    got = first + held
    for m in first + held:
        s.c.ack(m.mid, m.qos)
    # Bounded: at most 5 messages in all.
    while len(got) < 5:
        m = s.get(1)[0]
        got.append(m)
        s.c.ack(m.mid, m.qos)
    out("all", payloads(got))


def assigned_client_identifier():
    c = C("")
    out("assigned", c.props.AssignedClientIdentifier.startswith("m2m-"))
    c4 = C("", v5=False, clean=True)
    out("3.1.1 empty id rc", c4.rc)


def server_keep_alive():
    c = C("ska", keepalive=120, username="ska")
    out("server keep alive", c.props.ServerKeepAlive)


def sys_topics():
    s = C("sys")
    s.sub("$SYS/broker/#", qos=0)
    hash_sub = C("sys-hash")
    hash_sub.sub("#", qos=0)
    hash_sub.pub("$SYS/broker/fake", b"no", qos=1)
    time.sleep(2.5)
    topics = sorted({m.topic for m in s.quiet(0)})
    for t in topics:
        out(t)
    out("hash sees $", [m.topic for m in hash_sub.quiet(0) if m.topic.startswith("$")])


def authentication():
    anon = C("auth-anon", expect_ok=False)
    out("anonymous 5", anon.rc)
    anon4 = C("auth-anon4", v5=False, expect_ok=False)
    out("anonymous 3.1.1", anon4.rc)
    user = C("auth-user", username="alice")
    out("user", user.rc)
    enhanced = C("auth-enh", username="alice", expect_ok=False,
                 connect_props=props(PacketTypes.CONNECT, AuthenticationMethod="X-UNKNOWN"))
    out("unknown method", enhanced.rc)


def overlapping_and_downgrade():
    for v5 in (False, True):
        s = C("ov-sub", v5=v5)
        s.sub("ov/#", qos=1)
        s.sub("ov/+", qos=2)
        s.sub("low/#", qos=0)
        pub = C("ov-pub", v5=v5)
        pub.pub("ov/a", b"x", qos=2)
        pub.pub("low/a", b"y", qos=2)
        got = s.get(2) + s.quiet()
        # paho hands a QoS 2 message over at PUBREL: the order may vary.
        out("v5" if v5 else "v3.1.1", sorted((m.topic, m.qos) for m in got))
        s.close()
        pub.close()


def unsubscribe():
    s = C("un")
    s.sub("un/t")
    s.c.unsubscribe("un/t")
    first = s.wait("unsuback")[1]
    s.c.unsubscribe("un/never")
    second = s.wait("unsuback")[1]
    C("un-pub").pub("un/t", b"x")
    out("unsuback", first, second, "after", payloads(s.quiet()))


def topic_alias_in():
    s = C("ta-sub")
    s.sub("ta/#")
    pub = C("ta-pub")
    pub.pub("ta/long/topic", b"1", pub_props=props(PacketTypes.PUBLISH, TopicAlias=1))
    pub.pub("", b"2", pub_props=props(PacketTypes.PUBLISH, TopicAlias=1))
    out("topics", [(m.topic, m.payload.decode()) for m in s.get(2)])


def keep_alive_timeout():
    watch = C("ka-watch")
    watch.sub("ka/#")
    c = C("ka", keepalive=1, will=("ka/will", b"silent", None))
    # The network thread stops: the socket stays open, no PINGREQ goes out.
    c.c.loop_stop()
    out("will", payloads(watch.get(1)))


def will_properties():
    watch = C("wp-watch")
    watch.sub("wp/#")
    wprops = props(PacketTypes.WILLMESSAGE, ContentType="text/plain", PayloadFormatIndicator=1,
                   ResponseTopic="wp/answer", CorrelationData=b"7", UserProperty=[("why", "test")],
                   MessageExpiryInterval=60)
    c = C("wp", will=("wp/will", b"bye", wprops))
    c.abort()
    m = watch.get(1)[0].properties
    out("will props", m.ContentType, m.PayloadFormatIndicator, m.ResponseTopic, m.CorrelationData.decode(),
        m.UserProperty, 1 <= m.MessageExpiryInterval <= 60)


def queue_limit():
    sess = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
    s = C("ql-sub", connect_props=sess)
    s.sub("ql/t")
    s.close()
    pub = C("ql-pub")
    for i in range(6):
        pub.pub("ql/t", str(i).encode())
    s = C("ql-sub", clean=False, connect_props=sess)
    out("delivered", payloads(s.get(3) + s.quiet()))


def redelivery_dup():
    sess = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
    # QoS 1, not acknowledged when the connection breaks: PUBLISH again with DUP.
    s = C("rd-sub1", manual_ack=True, connect_props=sess)
    s.sub("rd/t", qos=1)
    C("rd-pub1").pub("rd/t", b"q1", qos=1)
    first = s.get(1)[0]
    s.abort()
    s = C("rd-sub1", clean=False, manual_ack=True, connect_props=sess)
    again = s.get(1)[0]
    s.c.ack(again.mid, again.qos)
    out("qos 1", first.payload.decode(), first.dup, again.payload.decode(), again.dup,
        "same id", first.mid == again.mid, "more", payloads(s.quiet()))
    # QoS 2 received (PUBREC sent) but not completed (paho holds PUBCOMP
    # until the application acknowledges): PUBREL again, not the message.
    s = C("rd-sub2", manual_ack=True, connect_props=sess)
    s.sub("rd/t2", qos=2)
    C("rd-pub2").pub("rd/t2", b"q2", qos=2)
    first = s.get(1)[0]
    s.abort()
    s = C("rd-sub2", clean=False, manual_ack=True, connect_props=sess)
    time.sleep(0.5)
    resent = [l for l in s.log if l.startswith("Received PUB")]
    out("qos 2", first.payload.decode(), resent, "more", payloads(s.quiet()))


def retained_expiry():
    pub = C("rx-pub")
    pub.pub("rx/short", b"s", retain=True, pub_props=props(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    pub.pub("rx/long", b"l", retain=True, pub_props=props(PacketTypes.PUBLISH, MessageExpiryInterval=60))
    time.sleep(2.5)
    s = C("rx-sub")
    s.sub("rx/#")
    got = s.get(1) + s.quiet()
    out("retained", payloads(got), 1 <= got[0].properties.MessageExpiryInterval < 60)


def shutdown():
    import os
    import signal
    c5 = C("sd5")
    c4 = C("sd4", v5=False)
    os.kill(int(sys.argv[3]), signal.SIGINT)
    out("v5 disconnect", c5.wait("disconnect")[1])
    # 3.1.1 has no DISCONNECT from the server: the connection just closes.
    c4.wait("disconnect")
    out("v3.1.1 closed")


def ipv6_listener():
    global PORT
    s = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="v6", protocol=mqtt.MQTTv5)
    got = queue.Queue()
    s.on_message = lambda c, u, m: got.put(m)
    s.connect("::1", PORT)
    s.loop_start()
    s.subscribe("v6/t", qos=1)
    time.sleep(0.3)
    C("v6-pub").pub("v6/t", b"over ipv4")
    out("ipv6 subscriber got", got.get(timeout=10).payload.decode())


SCENARIOS = {f.__name__: f for f in [
    takeover, session_expiry, will_delay, retain_handling, no_local, retain_as_published,
    subscription_identifiers, shared, message_expiry, properties_forwarded, request_response,
    maximum_packet_size, receive_maximum, assigned_client_identifier, server_keep_alive,
    sys_topics, authentication, overlapping_and_downgrade, unsubscribe, topic_alias_in,
    keep_alive_timeout, will_properties, queue_limit, redelivery_dup, retained_expiry, shutdown,
    ipv6_listener,
]}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]]()
    out("done")
    # Threads of paho clients still running must not keep the process alive.
    sys.stdout.flush()
    import os
    os._exit(0)
