//! End to end: our `mqttsn-gateway` binary in front of a stalled broker.
//!
//! The "broker" is a TCP listener on 127.0.0.1 in this test: it answers
//! CONNACK, then stops reading until told to recover, after which it reads
//! everything, acknowledges QoS 1 publishes and SUBSCRIBEs and answers
//! PINGREQ. A client floods the gateway with large QoS 0 publishes; the
//! gateway must keep its memory bounded, refuse REGISTER and QoS 1 PUBLISH
//! with "rejected: congestion", not crash, and carry traffic again once the
//! broker reads. Needs no external peer, so it always runs.
// Tests wait for real processes with real timeouts.
#![allow(clippy::disallowed_methods)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Packet, ProtocolVersion, QoS as MqttQoS, StreamDecoder};
use mqttsn_codec::{Connect, Message, Publish, QoS, Register, ReturnCode, Topic};
use testkit::peers::free_udp_port;

/// A broker that can be stalled: after CONNACK it reads nothing while
/// `stalled` is set.
struct StalledBroker {
    addr: SocketAddr,
    stalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// QoS 1 publishes on topics under `after/` it acknowledged.
    after: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl StalledBroker {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stalled = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let after = Arc::new(AtomicU64::new(0));
        let (s, st, a) = (stalled.clone(), stop.clone(), after.clone());
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (s, st, a) = (s.clone(), st.clone(), a.clone());
                        conns.push(std::thread::spawn(move || serve(stream, &s, &st, &a)));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => break,
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        Self {
            addr,
            stalled,
            stop,
            after,
            thread: Some(thread),
        }
    }
}

impl Drop for StalledBroker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One connection of the stalled broker.
fn serve(mut stream: TcpStream, stalled: &AtomicBool, stop: &AtomicBool, after: &AtomicU64) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = stream.set_nodelay(true);
    let mut dec = StreamDecoder::new(ProtocolVersion::V3_1_1, 1 << 20);
    let mut rx = BytesMut::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut connected = false;
    while !stop.load(Ordering::Relaxed) {
        if connected && stalled.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => rx.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue;
            }
            Err(_) => return,
        }
        let mut answer = Vec::new();
        loop {
            match dec.decode(&mut rx) {
                Ok(Some(Packet::Connect(_))) => {
                    connected = true;
                    answer.extend_from_slice(&[0x20, 2, 0, 0]);
                }
                Ok(Some(Packet::Publish(p))) => {
                    if p.qos == MqttQoS::AtLeastOnce {
                        let id = p.packet_id.to_be_bytes();
                        answer.extend_from_slice(&[0x40, 2, id[0], id[1]]);
                        if p.topic.as_str().starts_with("after/") {
                            after.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Ok(Some(Packet::Subscribe(s))) => {
                    let id = s.packet_id.to_be_bytes();
                    answer.extend_from_slice(&[0x90, 3, id[0], id[1], 0]);
                }
                Ok(Some(Packet::PingReq)) => answer.extend_from_slice(&[0xd0, 0]),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
        if !answer.is_empty() && stream.write_all(&answer).is_err() {
            return;
        }
    }
}

/// The gateway binary with a TOML config, killed on drop.
struct Gateway {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Gateway {
    fn start(broker: SocketAddr, mode: &str) -> Self {
        let port = free_udp_port();
        let dir =
            std::env::temp_dir().join(format!("mqttsn-gw-bp-{}-{mode}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let conf = dir.join("gateway.toml");
        std::fs::write(
            &conf,
            format!(
                "mode = \"{mode}\"\nbind = \"127.0.0.1\"\nport = {port}\n\
                 broker = \"mqtt://{broker}\"\nmax_backlog = 65536\n"
            ),
        )
        .expect("write config");
        let child = Command::new(env!("CARGO_BIN_EXE_mqttsn-gateway"))
            .args(["-c", conf.to_str().expect("utf-8 path")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mqttsn-gateway");
        let gw = Self { child, port, dir };
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        for _ in 0..50 {
            sock.send_to(&[3, 0x01, 1], ("127.0.0.1", port))
                .expect("send SEARCHGW");
            if sock.recv_from(&mut buf).is_ok() {
                return gw;
            }
        }
        panic!("mqttsn-gateway did not answer SEARCHGW within 5 s");
    }

    /// Resident memory of the gateway process, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

struct Client {
    sock: UdpSocket,
    to: SocketAddr,
}

impl Client {
    fn new(gw: &Gateway) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        Self {
            sock,
            to: SocketAddr::from(([127, 0, 0, 1], gw.port)),
        }
    }

    fn send(&self, msg: impl Into<Message>) {
        let data = msg.into().to_bytes().expect("encode");
        let _ = self.sock.send_to(&data, self.to);
    }

    /// The next datagram, or `None` after the 1 s read timeout.
    fn try_recv(&self) -> Option<Message> {
        let mut buf = [0u8; 1500];
        let (n, _) = self.sock.recv_from(&mut buf).ok()?;
        Some(Message::decode(Bytes::copy_from_slice(&buf[..n])).expect("decode"))
    }

    /// Sends `msg` until `answer` picks a reply: during the flood the
    /// gateway's UDP receive buffer overflows, so a request may be lost.
    fn ask<T>(&self, msg: &Message, answer: impl Fn(Message) -> Option<T>) -> T {
        for _ in 0..10 {
            self.send(msg.clone());
            while let Some(m) = self.try_recv() {
                if let Some(t) = answer(m) {
                    return t;
                }
            }
        }
        panic!("no answer to {msg:?}");
    }

    fn register(&self, name: &str, msg_id: u16) -> mqttsn_codec::RegAck {
        let msg = Register {
            topic_id: 0,
            msg_id,
            topic_name: Bytes::from(name.to_owned().into_bytes()),
        }
        .into();
        self.ask(&msg, |m| match m {
            Message::RegAck(r) if r.msg_id == msg_id => Some(r),
            _ => None,
        })
    }

    fn publish_qos1(&self, topic_id: u16, msg_id: u16) -> mqttsn_codec::PubAck {
        let msg = publish(QoS::AtLeastOnce, topic_id, msg_id, 10).into();
        self.ask(&msg, |m| match m {
            Message::PubAck(a) if a.msg_id == msg_id => Some(a),
            _ => None,
        })
    }
}

fn publish(qos: QoS, topic_id: u16, msg_id: u16, len: usize) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: Topic::Id(topic_id),
        msg_id,
        data: Bytes::from(vec![b'x'; len]),
    }
}

fn stalled_broker_round(mode: &str) {
    let broker = StalledBroker::start();
    let mut gw = Gateway::start(broker.addr, mode);
    let c = Client::new(&gw);
    // In aggregating mode the shared connection may not be up yet: CONNACK
    // congestion until it is.
    let mut accepted = false;
    for _ in 0..50 {
        c.send(Connect {
            will: false,
            clean_session: true,
            duration: 600,
            client_id: Bytes::from_static(b"flooder"),
        });
        if matches!(c.try_recv(), Some(Message::ConnAck(a)) if a.return_code == ReturnCode::Accepted)
        {
            accepted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(accepted, "{mode}: CONNECT accepted");
    let reg = c.register("flood/1", 1);
    assert_eq!(reg.return_code, ReturnCode::Accepted);
    let before = gw.rss_kib();
    // Flood with 8 KB QoS 0 publishes until REGISTER is refused for
    // congestion (the kernel's socket buffers take a few MB first).
    let mut congested = false;
    let mut msg_id = 10u16;
    let mut sent_mib = 0;
    while sent_mib < 400 {
        for _ in 0..128 {
            c.send(publish(QoS::AtMostOnce, reg.topic_id, 0, 8 * 1024));
        }
        sent_mib += 1;
        std::thread::sleep(Duration::from_millis(5));
        msg_id += 1;
        if c.register("probe/1", msg_id).return_code == ReturnCode::RejectedCongestion {
            congested = true;
            break;
        }
    }
    assert!(congested, "{mode}: no congestion after {sent_mib} MiB");
    // Past the congestion, QoS 1 is refused too, and more flooding does
    // not grow the gateway.
    for _ in 0..20 {
        for _ in 0..128 {
            c.send(publish(QoS::AtMostOnce, reg.topic_id, 0, 8 * 1024));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    msg_id += 1;
    let ack = c.publish_qos1(reg.topic_id, msg_id);
    assert_eq!(ack.return_code, ReturnCode::RejectedCongestion, "{mode}");
    let grown = gw.rss_kib().saturating_sub(before);
    assert!(
        grown < 64 * 1024,
        "{mode}: gateway grew by {grown} KiB after {sent_mib} MiB"
    );
    assert!(gw.running(), "{mode}: the gateway survived");
    eprintln!(
        "{mode}: congested after {sent_mib} MiB offered, then 20 MiB more; gateway RSS {before} KiB -> +{grown} KiB"
    );
    // The broker recovers: REGISTER is accepted again and a QoS 1 publish
    // reaches it.
    broker.stalled.store(false, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(30);
    let topic = loop {
        msg_id += 1;
        let r = c.register("after/1", msg_id);
        if r.return_code == ReturnCode::Accepted {
            break r.topic_id;
        }
        assert!(Instant::now() < deadline, "{mode}: never recovered");
        std::thread::sleep(Duration::from_millis(100));
    };
    msg_id += 1;
    let ack = c.publish_qos1(topic, msg_id);
    assert_eq!(ack.return_code, ReturnCode::Accepted, "{mode}");
    assert!(broker.after.load(Ordering::Relaxed) >= 1, "{mode}");
    assert!(gw.running(), "{mode}");
}

#[test]
fn a_stalled_broker_gets_congestion_codes_bounded_memory_then_recovers_transparent() {
    stalled_broker_round("transparent");
}

#[test]
fn a_stalled_broker_gets_congestion_codes_bounded_memory_then_recovers_aggregating() {
    stalled_broker_round("aggregating");
}
