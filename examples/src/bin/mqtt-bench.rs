//! `mqtt-bench`: measure publish throughput (and, with `--subscribe`,
//! delivery) against an MQTT broker with the m2m-rs client.
//!
//! ```text
//! $ mqtt-bench -h 127.0.0.1 -p 1883 -q 1 -n 100000 -s 64
//! $ mqtt-bench -V 5 -q 0 -n 1000000 --subscribe
//! ```
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::process::ExitCode;
use std::time::Instant;

use bytes::Bytes;
use clap::Parser;
use m2m_examples::mqtt_cli::{self, ConnArgs};
use mqtt_client::tokio::{new, TcpConnector};
use mqtt_client::Event;
use mqtt_codec::{Publish, QoS, Subscription, Utf8String};

/// Publish N messages as fast as the broker takes them and report messages
/// per second. The clock stops at the PUBACK of a final QoS 1 marker (the
/// broker handles one connection in order), or, with --subscribe, when a
/// second connection has received every message (QoS 0 may lose some: the
/// count is reported).
#[derive(Parser, Debug)]
#[command(name = "mqtt-bench", disable_help_flag = true)]
struct Cli {
    #[command(flatten)]
    conn: ConnArgs,
    /// Topic to publish to.
    #[arg(short = 't', long = "topic", default_value = "m2m/bench")]
    topic: String,
    /// Quality of service: 0, 1 or 2.
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = mqtt_cli::parse_qos_u8)]
    qos: u8,
    /// Number of messages.
    #[arg(short = 'n', long = "count", default_value_t = 100_000)]
    count: u64,
    /// Payload size in bytes.
    #[arg(short = 's', long = "size", default_value_t = 64)]
    size: usize,
    /// Most QoS 1/2 messages in flight.
    #[arg(long = "inflight", default_value_t = 100)]
    inflight: u16,
    /// Also subscribe on a second connection and time delivery.
    #[arg(long = "subscribe")]
    subscribe: bool,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let (host, port, _) = mqtt_cli::endpoint(&cli.conn)?;
    let topic = Utf8String::try_from(cli.topic.clone()).map_err(|e| format!("topic: {e}"))?;
    let qos = mqtt_cli::qos(cli.qos);
    let mut cfg = mqtt_cli::config(&cli.conn, false)?;
    cfg.max_inflight = cli.inflight;

    let receiver = if cli.subscribe {
        let mut scfg = cfg.clone();
        scfg.client_id = String::new();
        scfg.will = None;
        let (sub, mut events, driver) = new(scfg, TcpConnector::new(host.clone(), port));
        tokio::spawn(driver.run());
        sub.subscribe(vec![Subscription::new(topic.clone(), qos)], None)
            .await
            .map_err(|e| e.to_string())?;
        while !matches!(events.recv().await, Some(Event::Subscribed { .. })) {}
        let n = cli.count;
        Some(tokio::spawn(async move {
            let mut got = 0u64;
            while let Some(ev) = events.recv().await {
                if let Event::Message(m) = ev {
                    if m.payload == "end" {
                        break;
                    }
                    got += 1;
                    if got == n {
                        break;
                    }
                }
            }
            let _ = sub.disconnect().await;
            (got, Instant::now())
        }))
    } else {
        None
    };

    let (client, mut events, driver) = new(cfg, TcpConnector::new(host, port));
    let driver = tokio::spawn(driver.run());
    loop {
        match events.recv().await {
            Some(Event::Connected { .. }) => break,
            Some(Event::Disconnected { reason, .. }) => {
                return Err(format!("connection failed: {reason:?}"))
            }
            Some(_) => {}
            None => return Err("connection failed".into()),
        }
    }
    let expected = if qos == QoS::AtMostOnce {
        1
    } else {
        cli.count + 1
    };
    let acks = tokio::spawn(async move {
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
    let msg = Publish::new(topic.clone(), Bytes::from(vec![b'x'; cli.size])).with_qos(qos, 0);
    let start = Instant::now();
    for _ in 0..cli.count {
        client
            .publish(msg.clone())
            .await
            .map_err(|e| e.to_string())?;
    }
    let marker = Publish::new(topic, Bytes::from_static(b"end")).with_qos(QoS::AtLeastOnce, 0);
    client.publish(marker).await.map_err(|e| e.to_string())?;
    let acked_at = acks.await.map_err(|e| e.to_string())?;
    let secs = (acked_at - start).as_secs_f64();
    println!(
        "published {} × {} B at QoS {}: {:.3} s, {:.0} msg/s, {:.1} MB/s",
        cli.count,
        cli.size,
        cli.qos,
        secs,
        cli.count as f64 / secs,
        (cli.count as f64 * cli.size as f64) / secs / 1e6
    );
    if let Some(r) = receiver {
        let (got, at) = tokio::time::timeout(std::time::Duration::from_secs(30), r)
            .await
            .map_err(|_| "the subscriber did not receive everything within 30 s".to_owned())?
            .map_err(|e| e.to_string())?;
        let secs = (at - start).as_secs_f64();
        println!(
            "received {got} of {}: {:.3} s, {:.0} msg/s",
            cli.count,
            secs,
            got as f64 / secs
        );
    }
    let _ = client.disconnect().await;
    let _ = driver.await;
    Ok(())
}
