#![no_main]
//! Fuzz target: see `mqtt_client::fuzzing::mqtt_client_machine` for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mqtt_client::fuzzing::mqtt_client_machine(data));
