//! `mqtt-sub`: subscribe to MQTT topics and print the messages, with the
//! flags of mosquitto_sub.
//!
//! ```text
//! $ mqtt-sub -t '$SYS/#' -v
//! $ mqtt-sub -V 5 -q 1 -t 'sensors/+/temp' -C 10 -W 30
//! $ mqtt-sub -c -i logger -q 2 -t logs      # persistent session
//! ```

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use m2m_examples::mqtt_cli::{self, ConnArgs};
use mqtt_client::tokio::{new, TcpConnector};
use mqtt_client::Event;
use mqtt_codec::{topic, RetainHandling, Subscription, Utf8String};

/// Subscribe to topics on an MQTT broker (MQTT 3.1.1 or 5.0) and print each
/// message's payload, one per line. Flags follow mosquitto_sub; it
/// reconnects by itself (and resubscribes if the broker lost the session).
#[derive(Parser, Debug)]
#[command(name = "mqtt-sub", disable_help_flag = true)]
struct Cli {
    #[command(flatten)]
    conn: ConnArgs,
    /// Topic filter to subscribe to (wildcards + and #). May be repeated.
    #[arg(short = 't', long = "topic")]
    topics: Vec<String>,
    /// Do not print messages whose topic matches this filter. May be repeated.
    #[arg(short = 'T', long = "filter-out")]
    filter_out: Vec<String>,
    /// Unsubscribe from this filter after connecting. May be repeated.
    #[arg(short = 'U', long = "unsubscribe")]
    unsubscribe: Vec<String>,
    /// Maximum QoS of the subscriptions: 0, 1 or 2.
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = mqtt_cli::parse_qos_u8)]
    qos: u8,
    /// Exit after receiving this many messages.
    #[arg(short = 'C', long = "count")]
    count: Option<u64>,
    /// Exit (status 27) after this many seconds.
    #[arg(short = 'W', long = "timeout")]
    timeout: Option<u64>,
    /// Print the topic before each payload ("topic payload").
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Do not add a newline after each payload.
    #[arg(short = 'N')]
    no_newline: bool,
    /// Do not print stale messages (those with the retain flag set).
    #[arg(short = 'R')]
    no_retained: bool,
    /// Print only retained messages; exit at the first message without retain.
    #[arg(long = "retained-only")]
    retained_only: bool,
    /// Exit once every subscription is acknowledged.
    #[arg(short = 'E')]
    exit_after_subscribe: bool,
    /// MQTT 5 subscription option No Local: do not receive our own messages.
    #[arg(long = "no-local")]
    no_local: bool,
    /// MQTT 5 subscription option Retain As Published.
    #[arg(long = "retain-as-published")]
    retain_as_published: bool,
    /// MQTT 5 subscription option Retain Handling: 0 send retained messages,
    /// 1 only for new subscriptions, 2 never.
    #[arg(long = "retain-handling", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    retain_handling: u8,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = cli.conn.quiet;
    let timeout = cli.timeout.map(Duration::from_secs);
    let work = run(cli);
    let result = match timeout {
        Some(t) => match tokio::time::timeout(t, work).await {
            Ok(r) => r,
            Err(_) => {
                if !quiet {
                    eprintln!("Timed out");
                }
                return ExitCode::from(27);
            }
        },
        None => work.await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            if !quiet {
                eprintln!("Error: {msg}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let (host, port, url_topic) = mqtt_cli::endpoint(&cli.conn)?;
    let mut topics = cli.topics.clone();
    topics.extend(url_topic);
    if topics.is_empty() {
        return Err("a topic is needed (-t or -L)".into());
    }
    let sub_props = mqtt_cli::properties_for(&cli.conn, "subscribe")?;
    let sub_id = sub_props.subscription_identifiers.first().copied();
    let retain_handling = match cli.retain_handling {
        1 => RetainHandling::SendAtNewSubscribe,
        2 => RetainHandling::DoNotSend,
        _ => RetainHandling::SendAtSubscribe,
    };
    let mut filters = Vec::new();
    for t in &topics {
        let filter = Utf8String::try_from(t.as_str()).map_err(|e| format!("topic {t:?}: {e}"))?;
        let mut s = Subscription::new(filter, mqtt_cli::qos(cli.qos));
        if cli.conn.version.is_v5() {
            s.options.no_local = cli.no_local;
            s.options.retain_as_published = cli.retain_as_published;
            s.options.retain_handling = retain_handling;
        }
        filters.push(s);
    }
    let unsubs = cli
        .unsubscribe
        .iter()
        .map(|t| Utf8String::try_from(t.as_str()).map_err(|e| format!("-U {t:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let config = mqtt_cli::config(&cli.conn, true)?;
    let debug = cli.conn.debug;

    let (client, mut events, driver) = new(config, TcpConnector::new(host, port));
    let driver = tokio::spawn(driver.run());
    client
        .subscribe(filters, sub_id)
        .await
        .map_err(|e| e.to_string())?;
    if !unsubs.is_empty() {
        client
            .unsubscribe(unsubs)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut stdout = std::io::stdout().lock();
    let mut received = 0u64;
    let mut ever_connected = false;
    while let Some(ev) = events.recv().await {
        match ev {
            Event::Message(m) => {
                if cli.filter_out.iter().any(|f| topic::matches(f, &m.topic)) {
                    continue;
                }
                if cli.retained_only && !m.retain {
                    break;
                }
                if cli.no_retained && m.retain {
                    continue;
                }
                let mut line = Vec::with_capacity(m.topic.len() + m.payload.len() + 2);
                if cli.verbose {
                    line.extend_from_slice(m.topic.as_bytes());
                    line.push(b' ');
                }
                line.extend_from_slice(&m.payload);
                if !cli.no_newline {
                    line.push(b'\n');
                }
                if stdout
                    .write_all(&line)
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    break;
                }
                received += 1;
                if cli.count.is_some_and(|c| received >= c) {
                    break;
                }
            }
            Event::Connected {
                session_present, ..
            } => {
                ever_connected = true;
                if debug {
                    eprintln!("Client connected, session present: {session_present}");
                }
            }
            Event::Subscribed {
                packet_id,
                reason_codes,
            } => {
                if debug {
                    let codes: Vec<u8> = reason_codes.iter().map(|c| c.0).collect();
                    eprintln!("Client received SUBACK (Mid: {packet_id}, granted: {codes:?})");
                }
                if let Some(c) = reason_codes.iter().find(|c| c.is_error()) {
                    if !cli.conn.quiet {
                        eprintln!("Warning: subscription refused by the broker: {:#04x}", c.0);
                    }
                }
                if cli.exit_after_subscribe {
                    break;
                }
            }
            Event::Disconnected {
                reason,
                reconnect_at,
            } => {
                if debug {
                    eprintln!("Client disconnected: {reason:?}");
                }
                // Like mosquitto_sub, give up when the first connection fails.
                if !ever_connected || reconnect_at.is_none() {
                    return Err(format!("connection failed: {reason:?}"));
                }
            }
            other => {
                if debug {
                    eprintln!("Client event: {other:?}");
                }
            }
        }
    }
    let _ = client.disconnect().await;
    let _ = driver.await;
    Ok(())
}
