#![no_main]
//! Fuzz target: see `mqtt_broker_core::fuzzing::mqtt_broker_machine` for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mqtt_broker_core::fuzzing::mqtt_broker_machine(data));
