#![no_main]
//! Fuzz target: see `mqttsn_gateway::fuzzing::mqttsn_gateway_machine` for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mqttsn_gateway::fuzzing::mqttsn_gateway_machine(data));
