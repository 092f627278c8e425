#![no_main]
//! Fuzz target: see `coap_codec::fuzzing::coap_link_format` for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coap_codec::fuzzing::coap_link_format(data));
