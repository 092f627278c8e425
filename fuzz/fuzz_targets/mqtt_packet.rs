#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mqtt_codec::fuzzing::mqtt_packet(data));
