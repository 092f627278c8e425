#![no_main]
//! Fuzz target: see `coap_codec::fuzzing::coap_message` for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coap_codec::fuzzing::coap_message(data));
