//! Test support shared by every crate of the workspace (not published).
//!
//! - [`peers`]: find and start real peers that nobody here wrote (Mosquitto,
//!   libcoap, Python's aiocoap and paho-mqtt) on ephemeral loopback ports.
//!   Outside CI a missing peer makes the test print why and skip; under
//!   `CI=true` it fails the test, so CI cannot pass by skipping.
//!
//! - [`sim`]: a deterministic virtual-time network simulator that drives
//!   sans-IO state machines over links with latency, jitter (reordering),
//!   loss and duplication.
//!
//! ```no_run
//! let Some(broker) = testkit::peers::Mosquitto::start() else { return };
//! println!("mosquitto listens on {}", broker.addr());
//! ```
#![forbid(unsafe_code)]
// Test support may read the clock: it waits for real peers to come up.
#![allow(clippy::disallowed_methods)]

pub mod peers;
pub mod sim;
