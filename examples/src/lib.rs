//! Command-line tools built on the m2m-rs crates (see `src/bin/`), with
//! their end-to-end and interop tests in `tests/`.
#![forbid(unsafe_code)]

pub mod mqtt_cli;
