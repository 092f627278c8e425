//! `m2m-broker`: an MQTT 3.1, 3.1.1 and 5.0 broker on `mqtt-broker-core`,
//! with the flags of mosquitto.
//!
//! ```text
//! $ m2m-broker                    # loopback only, port 1883 (as mosquitto 2 without a config)
//! $ m2m-broker -p 1884 -v
//! $ m2m-broker -c m2m-broker.toml
//! ```
//!
//! The configuration file is TOML; every key is optional and the defaults
//! are those below:
//!
//! ```toml
//! allow_anonymous = true
//! max_packet_size = 1048576      # bytes, announced to 5.0 clients
//! receive_maximum = 20           # QoS 2 messages awaiting PUBREL per client
//! topic_alias_maximum = 10
//! max_queued_messages = 1000     # per client, beyond its inflight window
//! max_keep_alive = 0             # seconds; 0 accepts any keep-alive
//! connect_timeout = 10           # seconds to send CONNECT
//! retain_available = true
//! sys_interval = 10              # seconds between $SYS/broker/... updates; 0 turns them off
//! max_write_queue_bytes = 8388608 # bytes held for a slow reader before it is disconnected
//! outgoing_topic_aliases = "off" # aliases to 5.0 clients that allow them: "lru",
//! #                               # "keep-first" or "off" (libmosquitto 2.0 cannot take them)
//! outgoing_topic_alias_maximum = 10 # most aliases per connection (the client may allow fewer)
//! # response_topic_prefix = "response/" # CONNACK Response Information "<prefix><client id>"
//! #                                      # to 5.0 clients that request it; unset: none
//! reason_strings = false         # Reason Strings on 5.0 error answers (Mosquitto sends none)
//! threads = 1                    # tokio worker threads; 0 = one per core. Routing is one
//! #                               # task: on 2 cores, 1 worker measured 10-30 % faster than 2
//!
//! acl_client_limit = 100000     # client ids whose user the ACLs remember (with users only)
//!
//! [[listener]]                   # repeatable; default: 127.0.0.1 and ::1 on port 1883
//! bind = "0.0.0.0:1883"
//! [[listener]]
//! bind = "[::]:1883"
//!
//! # Users and ACLs; default: none, and every client may do everything.
//! # With at least one [[user]] (or an [anonymous] table), a client giving a
//! # user name must give that user's password, else CONNACK "bad user name
//! # or password" (5.0: 0x86, 3.1.1: return code 4), and each PUBLISH and
//! # SUBSCRIBE is checked against the client's lists (refused: PUBACK/PUBREC
//! # 0x87 in 5.0, the message dropped; SUBACK 0x87, 0x80 before 5.0).
//! # Patterns are topic filters; %c is the client id, %u the user name. A
//! # SUBSCRIBE filter is allowed when a pattern matches every topic it can
//! # match (`a/#` allows `a/+/b`); `$share/group/f` is checked as `f`.
//! # A user (or [anonymous]) with neither list may do everything; with one
//! # list only, nothing of the other kind. Clients without a user name use
//! # [anonymous]: everything when the table is absent; set
//! # allow_anonymous = false to admit the listed users only.
//! [[user]]                       # repeatable
//! name = "sensor"
//! password = "secret"            # plain text: keep the file private
//! publish = ["sensors/%c/#"]
//! subscribe = ["commands/%u/#"]
//! [anonymous]
//! publish = []
//! subscribe = ["public/#"]
//! ```

use std::hash::{BuildHasher as _, Hasher as _};
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use mqtt_broker_core::{AccessControl, AccessError, Acl, AliasPolicy, Broker, Config, User};
use serde::Deserialize;

/// Run an MQTT broker (3.1, 3.1.1 and 5.0 clients on one broker).
#[derive(Parser, Debug)]
#[command(name = "m2m-broker", version)]
struct Cli {
    /// TOML configuration file (see the binary's docs for the keys).
    #[arg(short = 'c', long = "config-file")]
    config: Option<std::path::PathBuf>,
    /// Listen on this port on the loopback addresses (127.0.0.1 and ::1),
    /// instead of the configured listeners. May be repeated.
    #[arg(short = 'p', long = "port")]
    ports: Vec<u16>,
    /// Verbose logging (info; repeat for debug). `RUST_LOG` overrides it.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    /// Tokio worker threads (0: one per core); overrides `threads` in the
    /// config file. Default 1: routing is a single task, and on small
    /// machines one worker avoids cross-thread wake-ups (BENCHMARKS.md).
    #[arg(long = "threads")]
    threads: Option<usize>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    allow_anonymous: Option<bool>,
    max_packet_size: Option<u32>,
    receive_maximum: Option<u16>,
    topic_alias_maximum: Option<u16>,
    max_queued_messages: Option<usize>,
    max_keep_alive: Option<u16>,
    connect_timeout: Option<u16>,
    retain_available: Option<bool>,
    sys_interval: Option<u32>,
    max_write_queue_bytes: Option<usize>,
    threads: Option<usize>,
    outgoing_topic_aliases: Option<AliasPolicyName>,
    outgoing_topic_alias_maximum: Option<u16>,
    response_topic_prefix: Option<String>,
    reason_strings: Option<bool>,
    acl_client_limit: Option<usize>,
    #[serde(default)]
    listener: Vec<ListenerConfig>,
    #[serde(default)]
    user: Vec<UserConfig>,
    anonymous: Option<AclConfig>,
}

/// One `[[user]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserConfig {
    name: String,
    password: String,
    publish: Option<Vec<String>>,
    subscribe: Option<Vec<String>>,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("publish", &self.publish)
            .field("subscribe", &self.subscribe)
            .finish_non_exhaustive()
    }
}

/// `[anonymous]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AclConfig {
    publish: Option<Vec<String>>,
    subscribe: Option<Vec<String>>,
}

/// `outgoing_topic_aliases` in the file.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum AliasPolicyName {
    Off,
    KeepFirst,
    Lru,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ListenerConfig {
    bind: SocketAddr,
}

impl FileConfig {
    fn broker_config(&self) -> Config {
        let mut c = Config::default();
        if let Some(v) = self.allow_anonymous {
            c.allow_anonymous = v;
        }
        if let Some(v) = self.max_packet_size {
            c.max_packet_size = v;
        }
        if let Some(v) = self.receive_maximum {
            c.receive_maximum = v.max(1);
        }
        if let Some(v) = self.topic_alias_maximum {
            c.topic_alias_maximum = v;
        }
        if let Some(v) = self.max_queued_messages {
            c.max_queued_messages = v;
        }
        c.max_keep_alive = self.max_keep_alive.filter(|&k| k > 0);
        if let Some(v) = self.connect_timeout {
            c.connect_timeout_secs = v;
        }
        if let Some(v) = self.retain_available {
            c.retain_available = v;
        }
        if let Some(v) = self.sys_interval {
            c.sys_interval_secs = v;
        }
        if let Some(v) = self.max_write_queue_bytes {
            c.max_write_queue_bytes = v;
        }
        if let Some(v) = self.outgoing_topic_aliases {
            c.outgoing_topic_aliases = match v {
                AliasPolicyName::Off => AliasPolicy::Off,
                AliasPolicyName::KeepFirst => AliasPolicy::KeepFirst,
                AliasPolicyName::Lru => AliasPolicy::Lru,
            };
        }
        if let Some(v) = self.outgoing_topic_alias_maximum {
            c.outgoing_topic_alias_maximum = v;
        }
        c.response_topic_prefix
            .clone_from(&self.response_topic_prefix);
        if let Some(v) = self.reason_strings {
            c.reason_strings = v;
        }
        c
    }
}

impl FileConfig {
    /// The users and ACLs, if any are configured.
    fn access_control(&self) -> Result<Option<AccessControl>, AccessError> {
        if self.user.is_empty() && self.anonymous.is_none() {
            return Ok(None);
        }
        let users = self
            .user
            .iter()
            .map(|u| {
                User::new(u.name.as_str(), u.password.as_bytes()).with_acl(Acl {
                    publish: u.publish.clone(),
                    subscribe: u.subscribe.clone(),
                })
            })
            .collect();
        let anonymous = self
            .anonymous
            .as_ref()
            .map_or_else(Acl::allow_all, |a| Acl {
                publish: a.publish.clone(),
                subscribe: a.subscribe.clone(),
            });
        let mut access = AccessControl::new(users, anonymous)?;
        if let Some(limit) = self.acl_client_limit {
            access = access.with_client_limit(limit);
        }
        Ok(Some(access))
    }
}

fn loopback(port: u16) -> [SocketAddr; 2] {
    [
        SocketAddr::from(([127, 0, 0, 1], port)),
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
    ]
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    m2m_examples::init_logging(match cli.verbose {
        0 => 4,
        1 => 6,
        _ => 7,
    });
    let file = match &cli.config {
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("m2m-broker: cannot read {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            };
            match toml::from_str::<FileConfig>(&text) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("m2m-broker: {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
        None => FileConfig::default(),
    };
    let threads = cli.threads.or(file.threads).unwrap_or(1);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        builder.worker_threads(threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("m2m-broker: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(cli, file))
}

/// Listens, serves until Ctrl-C or SIGTERM, then shuts down gracefully.
async fn run(cli: Cli, file: FileConfig) -> ExitCode {
    let access = match file.access_control() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("m2m-broker: {e}");
            return ExitCode::from(2);
        }
    };
    let addrs: Vec<SocketAddr> = if !cli.ports.is_empty() {
        cli.ports.iter().flat_map(|&p| loopback(p)).collect()
    } else if !file.listener.is_empty() {
        file.listener.iter().map(|l| l.bind).collect()
    } else {
        loopback(1883).to_vec()
    };
    let mut listeners = Vec::new();
    for addr in addrs {
        match listen(addr) {
            Ok(l) => {
                tracing::info!(%addr, "listening");
                listeners.push(l);
            }
            // An IPv6 loopback may be missing; IPv4 alone is enough.
            Err(e) if addr.is_ipv6() && cli.config.is_none() => {
                tracing::warn!(%addr, error = %e, "cannot listen");
            }
            Err(e) => {
                eprintln!("m2m-broker: cannot listen on {addr}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    if listeners.is_empty() {
        eprintln!("m2m-broker: no listener");
        return ExitCode::from(1);
    }
    // The adapter seeds the engine from the OS (hash keys are random per process).
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let broker = match access {
        Some(access) => {
            tracing::info!(users = file.user.len(), "authentication and ACLs on");
            Broker::with_hooks(file.broker_config(), seed, Box::new(access))
        }
        None => Broker::new(file.broker_config(), seed),
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    // On a worker thread, beside the connection tasks it wakes, rather than
    // on the main thread.
    let serve = tokio::spawn(mqtt_broker_core::tokio::serve(listeners, broker, shutdown));
    match serve.await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("m2m-broker: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("m2m-broker: {e}");
            ExitCode::from(1)
        }
    }
}

/// Connections the kernel may hold for one listener before `accept` (capped
/// by `net.core.somaxconn`). tokio's `TcpListener::bind` asks for 128 here,
/// so a burst of a few hundred connects overflowed the queue and each
/// dropped SYN cost its client a one-second retransmission.
const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `addr` with [`LISTEN_BACKLOG`] (address reuse as `bind` does).
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
