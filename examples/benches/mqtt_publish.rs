//! Publish throughput against a local Mosquitto, for our client
//! (`mqtt_client::tokio`), rumqttc and paho-mqtt (Python) in the same run.
//!
//! ```text
//! cargo bench -p m2m-examples --bench mqtt_publish
//! BENCH_N0=200000 BENCH_N1=50000 BENCH_SIZE=64 BENCH_RUNS=3 cargo bench -p m2m-examples --bench mqtt_publish
//! ```
//!
//! Our client runs twice: with `publish_nowait` (returns once the command
//! is queued, as rumqttc's `publish` does) and with `publish().await`
//! (waits for the machine's answer: packet identifier or error).
//!
//! Each client connects with MQTT 3.1.1, keeps at most 100 QoS 1 messages
//! in flight, publishes N messages of BENCH_SIZE bytes to one topic (no
//! subscriber), then one QoS 1 marker; the clock stops at the marker's
//! PUBACK (Mosquitto handles one connection's packets in order, so every
//! message before it has been processed). The best of BENCH_RUNS runs is
//! reported. Speed is measured here, never asserted.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock
#![allow(missing_docs)]

use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_client::tokio::{new, TcpConnector};
use mqtt_client::{Config, Event};
use mqtt_codec::{Publish, QoS, Utf8String};
use testkit::peers::{python_with, Mosquitto};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing special: run small.
    let quick = !std::env::args().any(|a| a == "--bench");
    let Some(broker) = Mosquitto::start_with("max_inflight_messages 100\n") else {
        return;
    };
    let addr = broker.addr();
    let size = env("BENCH_SIZE", 64);
    let runs = if quick { 1 } else { env("BENCH_RUNS", 3) };
    let ns = if quick {
        [1000, 500]
    } else {
        [env("BENCH_N0", 200_000), env("BENCH_N1", 50_000)]
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let python = python_with(&["paho.mqtt.client"]);
    if python.is_none() {
        eprintln!("paho-mqtt (PyPI) not installed: its column stays empty");
    }
    println!(
        "| case | m2m `publish_nowait` | m2m `publish().await` | rumqttc 0.24 | paho-mqtt 2.x (Python) | m2m nowait / rumqttc | m2m nowait / paho |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (qos, n) in [(0u8, ns[0]), (1u8, ns[1])] {
        let best = |f: &dyn Fn() -> Duration| (0..runs).map(|_| f()).min().unwrap();
        let ours = best(&|| rt.block_on(run_ours(addr, qos, n, size, true)));
        let awaited = best(&|| rt.block_on(run_ours(addr, qos, n, size, false)));
        let rumq = best(&|| rt.block_on(run_rumqttc(addr, qos, n, size)));
        let paho = python
            .as_ref()
            .map(|py| best(&|| run_paho(py, addr, qos, n, size)));
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        let paho_rate = paho.map(rate);
        println!(
            "| QoS {qos}, {n} × {size} B | {:.0} msg/s | {:.0} msg/s | {:.0} msg/s | {} | {:.2}× | {} |",
            rate(ours),
            rate(awaited),
            rate(rumq),
            paho_rate.map_or("n/a".into(), |r| format!("{r:.0} msg/s")),
            rate(ours) / rate(rumq),
            paho_rate.map_or("n/a".into(), |r| format!("{:.2}×", rate(ours) / r)),
        );
    }
}

fn marker() -> Publish {
    Publish::new(
        Utf8String::from_static("bench/m2m"),
        Bytes::from_static(b"end"),
    )
    .with_qos(QoS::AtLeastOnce, 0)
}

async fn run_ours(
    addr: std::net::SocketAddr,
    qos: u8,
    n: usize,
    size: usize,
    nowait: bool,
) -> Duration {
    let mut cfg = Config::new("m2m-bench");
    cfg.max_inflight = 100;
    cfg.reconnect = None;
    let (client, mut events, driver) = new(cfg, TcpConnector::addr(addr));
    let driver = tokio::spawn(driver.run());
    while !matches!(events.recv().await, Some(Event::Connected { .. })) {}
    let expected = if qos == 1 { n + 1 } else { 1 };
    let counter = tokio::spawn(async move {
        let mut acked = 0;
        while let Some(ev) = events.recv().await {
            if let Event::Published { .. } = ev {
                acked += 1;
                if acked == expected {
                    break;
                }
            }
        }
        Instant::now()
    });
    let msg = Publish::new(
        Utf8String::from_static("bench/m2m"),
        Bytes::from(vec![b'x'; size]),
    )
    .with_qos(QoS::from_u8(qos).unwrap(), 0);
    let start = Instant::now();
    for _ in 0..n {
        if nowait {
            client.publish_nowait(msg.clone()).await.unwrap();
        } else {
            client.publish(msg.clone()).await.unwrap();
        }
    }
    client.publish(marker()).await.unwrap();
    let end = counter.await.unwrap();
    client.disconnect().await.unwrap();
    let _ = driver.await;
    end - start
}

async fn run_rumqttc(addr: std::net::SocketAddr, qos: u8, n: usize, size: usize) -> Duration {
    use rumqttc::{AsyncClient, Event as REvent, Incoming, MqttOptions, QoS as RQoS};
    let mut opts = MqttOptions::new("rumqttc-bench", addr.ip().to_string(), addr.port());
    opts.set_keep_alive(Duration::from_secs(60));
    opts.set_inflight(100);
    let (client, mut eventloop) = AsyncClient::new(opts, 1000);
    let expected = if qos == 1 { n + 1 } else { 1 };
    let rqos = if qos == 1 {
        RQoS::AtLeastOnce
    } else {
        RQoS::AtMostOnce
    };
    // Connect first.
    loop {
        if let Ok(REvent::Incoming(Incoming::ConnAck(_))) = eventloop.poll().await {
            break;
        }
    }
    let payload = Bytes::from(vec![b'x'; size]);
    let start = Instant::now();
    let publisher = {
        let client = client.clone();
        tokio::spawn(async move {
            for _ in 0..n {
                client
                    .publish_bytes("bench/rumqttc", rqos, false, payload.clone())
                    .await
                    .unwrap();
            }
            client
                .publish("bench/rumqttc", RQoS::AtLeastOnce, false, "end")
                .await
                .unwrap();
        })
    };
    let mut acked = 0;
    while acked < expected {
        match eventloop.poll().await {
            Ok(REvent::Incoming(Incoming::PubAck(_))) => acked += 1,
            Ok(_) => {}
            Err(e) => panic!("rumqttc: {e}"),
        }
    }
    let end = Instant::now();
    publisher.await.unwrap();
    client.disconnect().await.unwrap();
    // Let the event loop write DISCONNECT.
    let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
    end - start
}

const PAHO: &str = r#"
import sys, time, threading
import paho.mqtt.client as mqtt
host, port, qos, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
connected = threading.Event()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-bench", protocol=mqtt.MQTTv311)
c.max_inflight_messages_set(100)
c.max_queued_messages_set(0)
c.on_connect = lambda *a: connected.set()
c.connect(host, port, 60)
c.loop_start()
connected.wait(10)
payload = b"x" * size
t = time.perf_counter()
for _ in range(n):
    c.publish("bench/paho", payload, qos)
c.publish("bench/paho", b"end", 1).wait_for_publish(120)
print(time.perf_counter() - t)
c.disconnect()
c.loop_stop()
"#;

fn run_paho(
    python: &std::path::Path,
    addr: std::net::SocketAddr,
    qos: u8,
    n: usize,
    size: usize,
) -> Duration {
    let out = Command::new(python)
        .args(["-c", PAHO, &addr.ip().to_string(), &addr.port().to_string()])
        .args([qos.to_string(), n.to_string(), size.to_string()])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "paho: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("paho prints seconds");
    Duration::from_secs_f64(secs)
}
