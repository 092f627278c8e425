#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mqttsn_codec::fuzzing::mqttsn_message(data));
