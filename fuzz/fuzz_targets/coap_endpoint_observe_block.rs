#![no_main]
//! Fuzz target: see `coap_endpoint::fuzzing::coap_endpoint_observe_block`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coap_endpoint::fuzzing::coap_endpoint_observe_block(data));
