//! `mqttsn-bench`: a load tool for an MQTT-SN gateway. K MQTT-SN clients
//! (UDP) publish through the gateway to an MQTT broker, where a subscriber
//! counts what arrives and measures the latency of each message (the
//! payload carries its send time).
//!
//! ```text
//! $ mqttsn-bench --gateway 127.0.0.1:1884 --broker 127.0.0.1:1883 -k 4 -q 0 --rate 2000 -d 5
//! $ mqttsn-bench --gateway 127.0.0.1:1884 --broker 127.0.0.1:1883 -k 4 -q 1 -d 5   # saturation
//! ```
// A load generator reads the clock by nature.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use mqtt_client::tokio::{new, TcpConnector};
use mqtt_client::Event;
use mqtt_codec::{Subscription, Utf8String};
use mqttsn_codec::{Connect, Message, Publish, QoS, Register, Topic};
use tokio::net::UdpSocket;

/// Load an MQTT-SN gateway and measure what reaches the MQTT broker.
#[derive(Parser, Debug)]
#[command(name = "mqttsn-bench")]
struct Cli {
    /// The gateway's UDP address.
    #[arg(long, default_value = "127.0.0.1:1884")]
    gateway: SocketAddr,
    /// The MQTT broker behind it (for the counting subscriber).
    #[arg(long, default_value = "127.0.0.1:1883")]
    broker: SocketAddr,
    /// Number of MQTT-SN clients.
    #[arg(short = 'k', long, default_value_t = 4)]
    clients: u16,
    /// QoS of the publishes: 0 or 1.
    #[arg(short = 'q', long, default_value_t = 0)]
    qos: u8,
    /// Offered publishes per second, all clients together; 0: as fast as possible.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Seconds of publishing.
    #[arg(short = 'd', long, default_value_t = 5)]
    duration: u64,
    /// QoS 1 publishes in flight per client.
    #[arg(short = 'w', long, default_value_t = 16)]
    window: u16,
    /// Baseline: the clients publish over MQTT straight to the broker (no
    /// gateway), QoS 0 only, to measure the floor of the measurement chain.
    #[arg(long)]
    direct: bool,
    /// Runtime worker threads of the load tool (1: a single-threaded runtime).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// QoS 1 publishes the gateway refused (PUBACK with a return code other
/// than "accepted", e.g. congestion).
static REJECTED: AtomicU64 = AtomicU64::new(0);

fn encode(msg: impl Into<Message>) -> Bytes {
    msg.into().to_bytes().expect("encodable")
}

async fn recv(sock: &UdpSocket, buf: &mut [u8]) -> Option<Message> {
    let n = tokio::time::timeout(Duration::from_secs(2), sock.recv(buf))
        .await
        .ok()?
        .ok()?;
    Message::decode(Bytes::copy_from_slice(&buf[..n])).ok()
}

/// A baseline client: MQTT QoS 0 publishes straight to the broker at the
/// same rate, until `end`. Returns how many it sent.
async fn direct_client(cli: Arc<Cli>, k: u16, start: Instant, end: Instant) -> Option<u64> {
    let mut config =
        mqtt_client::Config::new(format!("mqttsn-bench-direct-{k}-{}", std::process::id()));
    config.reconnect = None;
    let (client, mut events, driver) = new(
        config,
        TcpConnector::new(cli.broker.ip().to_string(), cli.broker.port()),
    );
    tokio::spawn(driver.run());
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(Event::Connected { .. })) => break,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return None,
        }
    }
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let topic = Utf8String::try_from(format!("bench/{k}").as_str()).ok()?;
    let per_client = cli.rate / u64::from(cli.clients.max(1));
    let interval = (per_client > 0).then(|| Duration::from_nanos(1_000_000_000 / per_client));
    let mut next = Instant::now();
    let mut sent = 0u64;
    while Instant::now() < end {
        if let Some(i) = interval {
            tokio::time::sleep_until(next.into()).await;
            next += i;
        }
        let t = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let msg = mqtt_codec::Publish::new(topic.clone(), Bytes::copy_from_slice(&t.to_be_bytes()));
        if client.publish_nowait(msg).await.is_err() {
            break;
        }
        sent += 1;
        if interval.is_none() && sent % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let _ = client.disconnect().await;
    Some(sent)
}

/// One client: CONNECT, REGISTER, then publish until `end`. Returns how
/// many it sent.
async fn client(cli: Arc<Cli>, k: u16, start: Instant, end: Instant) -> Option<u64> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.ok()?;
    sock.connect(cli.gateway).await.ok()?;
    let mut buf = vec![0u8; 1500];
    let id = format!("bench-{k}");
    sock.send(&encode(Connect {
        will: false,
        clean_session: true,
        duration: 60,
        client_id: Bytes::from(id.clone().into_bytes()),
    }))
    .await
    .ok()?;
    let Message::ConnAck(_) = recv(&sock, &mut buf).await? else {
        return None;
    };
    sock.send(&encode(Register {
        topic_id: 0,
        msg_id: 1,
        topic_name: Bytes::from(format!("bench/{k}").into_bytes()),
    }))
    .await
    .ok()?;
    let Message::RegAck(reg) = recv(&sock, &mut buf).await? else {
        return None;
    };
    let qos = if cli.qos == 1 {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };
    let per_client = cli.rate / u64::from(cli.clients.max(1));
    let interval = (per_client > 0).then(|| Duration::from_nanos(1_000_000_000 / per_client));
    let mut next = Instant::now();
    let (mut sent, mut inflight, mut msg_id) = (0u64, 0u16, 1u16);
    while Instant::now() < end {
        if let Some(i) = interval {
            tokio::time::sleep_until(next.into()).await;
            next += i;
        }
        if qos == QoS::AtLeastOnce {
            while inflight >= cli.window {
                match recv(&sock, &mut buf).await {
                    Some(Message::PubAck(a)) => {
                        inflight -= 1;
                        if a.return_code != mqttsn_codec::ReturnCode::Accepted {
                            REJECTED.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some(_) => {}
                    None => return Some(sent),
                }
            }
        }
        let t = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        msg_id = msg_id.wrapping_add(1).max(2);
        let publish = Publish {
            dup: false,
            qos,
            retain: false,
            topic: Topic::Id(reg.topic_id),
            msg_id: if qos == QoS::AtMostOnce { 0 } else { msg_id },
            data: Bytes::copy_from_slice(&t.to_be_bytes()),
        };
        if sock.send(&encode(publish)).await.is_ok() {
            sent += 1;
            inflight += u16::from(qos == QoS::AtLeastOnce);
        }
        if interval.is_none() && sent % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let _ = sock
        .send(&encode(mqttsn_codec::Disconnect::default()))
        .await;
    Some(sent)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1e6
}

fn main() -> ExitCode {
    let cli = Arc::new(Cli::parse());
    let rt = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()
    };
    match rt {
        Ok(rt) => rt.block_on(bench(cli)),
        Err(e) => {
            eprintln!("mqttsn-bench: runtime: {e}");
            ExitCode::from(1)
        }
    }
}

async fn bench(cli: Arc<Cli>) -> ExitCode {
    let start = Instant::now();
    let mut config = mqtt_client::Config::new(format!("mqttsn-bench-sub-{}", std::process::id()));
    config.reconnect = None;
    let (sub, mut events, driver) = new(
        config,
        TcpConnector::new(cli.broker.ip().to_string(), cli.broker.port()),
    );
    tokio::spawn(driver.run());
    let filter = Subscription::new(
        Utf8String::from_static("bench/#"),
        mqtt_codec::QoS::AtLeastOnce,
    );
    if sub.subscribe(vec![filter], None).await.is_err() {
        eprintln!("mqttsn-bench: cannot subscribe at {}", cli.broker);
        return ExitCode::from(1);
    }
    // Wait for the SUBACK so nothing is missed.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
            Ok(Some(Event::Subscribed { .. })) => break,
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => return ExitCode::from(1),
        }
    }
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let collector = tokio::spawn(async move {
        let mut latencies = Vec::new();
        while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(3), events.recv()).await {
            if let Event::Message(m) = ev {
                if let Ok(b) = <[u8; 8]>::try_from(&m.payload[..]) {
                    let now = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    latencies.push(now.saturating_sub(u64::from_be_bytes(b)));
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        latencies
    });
    let begin = Instant::now();
    let end = begin + Duration::from_secs(cli.duration);
    let tasks: Vec<_> = (0..cli.clients)
        .map(|k| {
            if cli.direct {
                tokio::spawn(direct_client(cli.clone(), k, start, end))
            } else {
                tokio::spawn(client(cli.clone(), k, start, end))
            }
        })
        .collect();
    let mut sent = 0;
    for t in tasks {
        match t.await {
            Ok(Some(n)) => sent += n,
            _ => eprintln!("mqttsn-bench: a client failed to connect or register"),
        }
    }
    let elapsed = begin.elapsed().as_secs_f64();
    let mut latencies = collector.await.unwrap_or_default();
    latencies.sort_unstable();
    let got = received.load(Ordering::Relaxed);
    println!(
        "clients={} qos={} offered={} sent={} received={} rejected={} loss={:.2}% rate={:.0}/s p50={:.2}ms p99={:.2}ms",
        cli.clients,
        cli.qos,
        if cli.rate == 0 { "max".to_owned() } else { cli.rate.to_string() },
        sent,
        got,
        REJECTED.load(Ordering::Relaxed),
        if sent == 0 { 0.0 } else { 100.0 * (sent.saturating_sub(got)) as f64 / sent as f64 },
        got as f64 / elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
    ExitCode::SUCCESS
}
