#![no_main]
//! Fuzz target: see `coap_endpoint::fuzzing::coap_endpoint` for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coap_endpoint::fuzzing::coap_endpoint(data));
