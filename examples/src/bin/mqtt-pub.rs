//! `mqtt-pub`: publish messages to an MQTT broker, with the flags of
//! mosquitto_pub.
//!
//! ```text
//! $ mqtt-pub -t sensors/7/temp -m 21.5
//! $ mqtt-pub -h ::1 -V 5 -q 2 -r -t status -m online -D publish content-type text/plain
//! $ tail -f log | mqtt-pub -l -t logs -q 1
//! $ mqtt-pub -L mqtt://user:secret@broker:1883/a/b -f reading.json
//! ```

use std::io::{BufRead as _, Read as _};
use std::process::ExitCode;

use bytes::Bytes;
use clap::Parser;
use m2m_examples::mqtt_cli::{self, ConnArgs};
use mqtt_client::tokio::{new, TcpConnector};
use mqtt_client::Event;
use mqtt_codec::{Publish, QoS, Utf8String};
use tokio::sync::mpsc;

/// Publish one message, a file, or every line of standard input to an MQTT
/// broker (MQTT 3.1.1 or 5.0). Flags follow mosquitto_pub. Exits 0 once
/// every message is acknowledged (QoS 1/2) or written (QoS 0).
#[derive(Parser, Debug)]
#[command(name = "mqtt-pub", disable_help_flag = true)]
struct Cli {
    #[command(flatten)]
    conn: ConnArgs,
    /// Topic to publish to.
    #[arg(short = 't', long = "topic")]
    topic: Option<String>,
    /// Message payload.
    #[arg(short = 'm', long = "message", group = "source")]
    message: Option<String>,
    /// Send the contents of FILE as one message.
    #[arg(short = 'f', long = "file", group = "source")]
    file: Option<String>,
    /// Send each line of standard input as a separate message.
    #[arg(short = 'l', long = "stdin-line", group = "source")]
    lines: bool,
    /// Send all of standard input as one message.
    #[arg(short = 's', long = "stdin-file", group = "source")]
    stdin: bool,
    /// Send a zero-length message.
    #[arg(short = 'n', long = "null-message", group = "source")]
    null: bool,
    /// Quality of service: 0, 1 or 2.
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = mqtt_cli::parse_qos_u8)]
    qos: u8,
    /// Retain the message on the broker.
    #[arg(short = 'r', long = "retain")]
    retain: bool,
    /// Publish the message this many times.
    #[arg(long = "repeat", default_value_t = 1)]
    repeat: u64,
    /// Seconds between repeats (fractions allowed).
    #[arg(long = "repeat-delay", default_value_t = 0.0)]
    repeat_delay: f64,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err((msg, quiet)) => {
            if !quiet {
                eprintln!("Error: {msg}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), (String, bool)> {
    let quiet = cli.conn.quiet;
    let fail = |m: String| (m, quiet);
    let (host, port, url_topic) = mqtt_cli::endpoint(&cli.conn).map_err(fail)?;
    let topic = cli
        .topic
        .clone()
        .or(url_topic)
        .ok_or_else(|| fail("a topic is needed (-t or -L)".into()))?;
    let topic = Utf8String::try_from(topic).map_err(|e| fail(format!("topic: {e}")))?;
    let mut template = Publish::new(topic, Bytes::new())
        .with_qos(mqtt_cli::qos(cli.qos), 0)
        .with_retain(cli.retain);
    let props = mqtt_cli::properties_for(&cli.conn, "publish").map_err(fail)?;
    if !props.is_empty() {
        template.properties = props.into();
    }
    let config = mqtt_cli::config(&cli.conn, false).map_err(fail)?;
    let debug = cli.conn.debug;

    // Payloads come from a thread so a slow standard input never blocks the client.
    let (payloads_tx, mut payloads) = mpsc::channel::<Bytes>(64);
    let single = if cli.lines || cli.stdin {
        None
    } else if let Some(f) = &cli.file {
        Some(Bytes::from(
            std::fs::read(f).map_err(|e| fail(format!("{f}: {e}")))?,
        ))
    } else if let Some(m) = &cli.message {
        Some(Bytes::from(m.clone().into_bytes()))
    } else if cli.null {
        Some(Bytes::new())
    } else {
        return Err(fail("a message is needed: -m, -f, -l, -s or -n".into()));
    };
    let (lines, whole, repeat) = (cli.lines, cli.stdin, cli.repeat.max(1));
    let delay = std::time::Duration::from_secs_f64(cli.repeat_delay.max(0.0));
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        if lines {
            for line in stdin.lock().split(b'\n') {
                let Ok(mut line) = line else { break };
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if payloads_tx.blocking_send(Bytes::from(line)).is_err() {
                    break;
                }
            }
        } else {
            let payload = if whole {
                let mut buf = Vec::new();
                let _ = stdin.lock().read_to_end(&mut buf);
                Bytes::from(buf)
            } else {
                single.unwrap_or_default()
            };
            for i in 0..repeat {
                if i > 0 && !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                if payloads_tx.blocking_send(payload.clone()).is_err() {
                    break;
                }
            }
        }
    });

    let (client, mut events, driver) = new(config, TcpConnector::new(host, port));
    let driver = tokio::spawn(driver.run());
    // Wait for CONNACK.
    loop {
        match events.recv().await {
            Some(Event::Connected { .. }) => {
                if debug {
                    eprintln!("Client connected (CONNACK accepted)");
                }
                break;
            }
            Some(Event::Disconnected { reason, .. }) => {
                let _ = driver.await;
                return Err(fail(format!("connection failed: {reason:?}")));
            }
            Some(_) => {}
            None => {
                let e = driver.await.ok().and_then(Result::err);
                return Err(fail(format!(
                    "connection failed{}",
                    e.map(|e| format!(": {e}")).unwrap_or_default()
                )));
            }
        }
    }
    let mut sent_acked = 0u64;
    let mut acked = 0u64;
    let mut refused = 0u64;
    let mut input_done = false;
    while !(input_done && acked + refused == sent_acked) {
        tokio::select! {
            p = payloads.recv(), if !input_done => match p {
                Some(payload) => {
                    let mut msg = template.clone();
                    msg.payload = payload;
                    match client.publish(msg).await {
                        Ok(Some(_)) => sent_acked += 1,
                        Ok(None) => {}
                        Err(e) => return Err(fail(format!("publish: {e}"))),
                    }
                }
                None => input_done = true,
            },
            ev = events.recv() => match ev {
                Some(Event::Published { packet_id, qos }) => {
                    acked += 1;
                    if debug {
                        eprintln!("Client received {} (Mid: {packet_id})", if qos == QoS::AtLeastOnce { "PUBACK" } else { "PUBCOMP" });
                    }
                }
                Some(Event::PublishRefused { packet_id, reason }) => {
                    refused += 1;
                    if !quiet {
                        eprintln!("Warning: publish {packet_id} refused: {:#04x}", reason.0);
                    }
                }
                Some(Event::Disconnected { reason, .. }) => {
                    return Err(fail(format!("connection lost: {reason:?}")));
                }
                Some(_) => {}
                None => return Err(fail("client stopped".into())),
            },
        }
    }
    let _ = client.disconnect().await;
    let _ = driver.await;
    if debug {
        eprintln!("Client sent DISCONNECT");
    }
    if refused > 0 {
        return Err(fail(format!("{refused} message(s) refused by the broker")));
    }
    Ok(())
}
