//! `mqttsn-gateway`: an MQTT-SN v1.2 gateway (UDP, IPv4 and IPv6) to any
//! MQTT broker, transparent (one MQTT connection per MQTT-SN client, the
//! default) or aggregating (one MQTT connection for all).
//!
//! ```text
//! $ mqttsn-gateway -p 1884 --broker mqtt://127.0.0.1:1883
//! $ mqttsn-gateway -c gateway.toml --predefined 5=parking/a/5 -v 7
//! ```
//!
//! The TOML file (every key optional; the defaults shown):
//!
//! ```toml
//! gateway_id = 1
//! mode = "transparent"          # or "aggregating": one MQTT connection for all
//! client_id = "m2m-mqttsn-gateway"  # MQTT client id of that connection
//! broker = "mqtt://127.0.0.1:1883"
//! bind = "0.0.0.0"              # "::" for IPv6
//! port = 1884
//! max_clients = 10000
//! max_topics = 1000             # topic ids per client
//! max_buffered = 100            # messages kept for a sleeping client
//! max_inflight = 32             # QoS 1/2 publishes per client awaiting the broker
//! mqtt_keep_alive = 60          # seconds, the gateway's MQTT connections
//! # Back-pressure when the broker is slow: past these, QoS 1/2 PUBLISH,
//! # REGISTER and SUBSCRIBE get "rejected: congestion", CONNECT gets CONNACK
//! # congestion, QoS 0/-1 publishes are dropped (and counted).
//! max_backlog = 262144          # bytes unwritten on one broker connection
//! max_total_backlog = 16777216  # bytes unwritten on all broker connections
//! max_pending = 1024            # QoS 1/2 publishes unacknowledged on the shared connection
//! max_connecting = 256          # clients waiting for the broker's CONNACK at once
//! advertise_interval = 0        # seconds between ADVERTISE; 0: none
//! advertise_address = "255.255.255.255:1884"
//!
//! [predefined]                  # topic id = topic name, the same for every client
//! 5 = "parking/a/5"
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use mqttsn_gateway::{Advertise, Config, Mode as GatewayMode};
use serde::Deserialize;
use tokio::net::UdpSocket;

/// Gateway architecture (MQTT-SN v1.2 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// One MQTT connection per MQTT-SN client.
    Transparent,
    /// One MQTT connection for all clients.
    Aggregating,
}

/// An MQTT-SN gateway: MQTT-SN clients on UDP, an MQTT broker on TCP.
#[derive(Parser, Debug)]
#[command(name = "mqttsn-gateway", version)]
struct Cli {
    /// TOML configuration file; the flags below override it.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// UDP port for MQTT-SN clients (default 1884).
    #[arg(short = 'p', long = "port")]
    port: Option<u16>,
    /// Address to bind, IPv4 or IPv6 (default 0.0.0.0).
    #[arg(short = 'b', long = "bind")]
    bind: Option<IpAddr>,
    /// The MQTT broker: mqtt://host:port or host:port (default 127.0.0.1:1883).
    #[arg(long = "broker")]
    broker: Option<String>,
    /// Gateway architecture.
    #[arg(long = "mode", value_enum)]
    mode: Option<Mode>,
    /// A predefined topic, ID=topic. May be repeated.
    #[arg(long = "predefined", value_parser = parse_predefined)]
    predefined: Vec<(u16, String)>,
    /// Gateway id announced in ADVERTISE and GWINFO.
    #[arg(long = "gateway-id")]
    gateway_id: Option<u8>,
    /// Log level, libcoap style: up to 3 errors, 4 warnings, 6 info, 7 debug, 8 trace.
    #[arg(short = 'v', long = "verbose", default_value_t = 4)]
    verbose: u8,
    /// Runtime worker threads: 0 (default) one per core, which keeps the
    /// tail latency low on a busy machine; 1 a single-threaded runtime,
    /// which gives the most messages per second.
    #[arg(long = "threads", default_value_t = 0)]
    threads: usize,
}

/// The TOML file; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    gateway_id: Option<u8>,
    mode: Option<Mode>,
    client_id: Option<String>,
    broker: Option<String>,
    bind: Option<IpAddr>,
    port: Option<u16>,
    max_clients: Option<usize>,
    max_topics: Option<usize>,
    max_buffered: Option<usize>,
    max_inflight: Option<usize>,
    mqtt_keep_alive: Option<u16>,
    max_backlog: Option<usize>,
    max_total_backlog: Option<usize>,
    max_pending: Option<usize>,
    max_connecting: Option<usize>,
    advertise_interval: Option<u64>,
    advertise_address: Option<SocketAddr>,
    #[serde(default)]
    predefined: BTreeMap<u16, String>,
}

fn parse_predefined(s: &str) -> Result<(u16, String), String> {
    let (id, topic) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ID=topic, got {s:?}"))?;
    let id = id
        .trim()
        .parse::<u16>()
        .map_err(|e| format!("topic id {id:?}: {e}"))?;
    if id == 0 || id == u16::MAX || topic.is_empty() {
        return Err(format!("invalid predefined topic {s:?}"));
    }
    Ok((id, topic.to_owned()))
}

/// `mqtt://host:port`, `host:port` or `host` (port 1883).
fn broker_host(url: &str) -> String {
    let rest = url
        .strip_prefix("mqtt://")
        .unwrap_or(url)
        .trim_end_matches('/');
    let has_port = rest.parse::<SocketAddr>().is_ok()
        || rest
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok());
    if has_port {
        rest.to_owned()
    } else if rest.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{rest}]:1883")
    } else {
        format!("{rest}:1883")
    }
}

fn load(cli: &Cli) -> Result<File, String> {
    let Some(path) = &cli.config else {
        return Ok(File::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match cli.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    match rt {
        Ok(rt) => rt.block_on(gateway(cli)),
        Err(e) => {
            eprintln!("mqttsn-gateway: runtime: {e}");
            ExitCode::from(1)
        }
    }
}

async fn gateway(cli: Cli) -> ExitCode {
    m2m_examples::init_logging(cli.verbose);
    let file = match load(&cli) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("mqttsn-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    let mut config = Config::default();
    if cli.mode.or(file.mode) == Some(Mode::Aggregating) {
        config.mode = GatewayMode::Aggregating;
    }
    if let Some(id) = file.client_id {
        config.client_id = id;
    }
    config.gateway_id = cli
        .gateway_id
        .or(file.gateway_id)
        .unwrap_or(config.gateway_id);
    config.predefined = file.predefined;
    config.predefined.extend(cli.predefined.iter().cloned());
    config.max_clients = file.max_clients.unwrap_or(config.max_clients);
    config.max_topics = file.max_topics.unwrap_or(config.max_topics);
    config.max_buffered = file.max_buffered.unwrap_or(config.max_buffered);
    config.max_inflight = file.max_inflight.unwrap_or(config.max_inflight);
    config.mqtt_keep_alive = file.mqtt_keep_alive.unwrap_or(config.mqtt_keep_alive);
    config.max_backlog = file.max_backlog.unwrap_or(config.max_backlog);
    config.max_total_backlog = file.max_total_backlog.unwrap_or(config.max_total_backlog);
    config.max_pending = file.max_pending.unwrap_or(config.max_pending);
    config.max_connecting = file.max_connecting.unwrap_or(config.max_connecting);
    let port = cli.port.or(file.port).unwrap_or(1884);
    if let Some(secs) = file.advertise_interval.filter(|s| *s > 0) {
        config.advertise = Some(Advertise {
            to: file
                .advertise_address
                .unwrap_or_else(|| SocketAddr::from(([255, 255, 255, 255], port))),
            interval: Duration::from_secs(secs),
        });
    }
    let broker = broker_host(
        cli.broker
            .as_deref()
            .or(file.broker.as_deref())
            .unwrap_or("127.0.0.1:1883"),
    );
    let Ok(Some(broker)) = tokio::net::lookup_host(&broker).await.map(|mut a| a.next()) else {
        eprintln!("mqttsn-gateway: cannot resolve broker {broker}");
        return ExitCode::from(2);
    };
    let bind = cli.bind.or(file.bind).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let socket = match UdpSocket::bind((bind, port)).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqttsn-gateway: bind {bind}:{port}: {e}");
            return ExitCode::from(1);
        }
    };
    if config.advertise.is_some() {
        let _ = socket.set_broadcast(true);
    }
    tracing::info!(%bind, port, %broker, "mqttsn-gateway listening");
    match mqttsn_gateway::tokio::run(socket, broker, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mqttsn-gateway: {e}");
            ExitCode::from(1)
        }
    }
}
