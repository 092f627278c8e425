//! Command-line tools built on the m2m-rs crates (see `src/bin/`), with
//! their end-to-end and interop tests in `tests/`.
//!
//! This library holds what the binaries share: logging set-up from a
//! libcoap-style `-v` level, the CoAP plugtest resources served by
//! `coap-server`, and the mosquitto_pub/sub-style options of `mqtt-pub`
//! and `mqtt-sub`.
#![forbid(unsafe_code)]

pub mod coap_observe_block;
pub mod coap_resources;
pub mod mqtt_cli;

/// Installs a `tracing` subscriber on stderr for a libcoap-style verbosity
/// level (`-v`: 0-3 errors, 4 warnings, 5-6 info, 7 debug, 8+ trace).
/// `RUST_LOG` overrides it.
pub fn init_logging(level: u8) {
    let default = match level {
        0..=3 => "error",
        4 => "warn",
        5 | 6 => "info",
        7 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
