//! Property tests: arbitrary scripts of datagrams, time steps and commands
//! never make the endpoint panic, send malformed CoAP, exceed its limits,
//! or keep state past EXCHANGE_LIFETIME (see `coap_endpoint::fuzzing`).
#![allow(missing_docs)]

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_scripts_keep_invariants(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        coap_endpoint::fuzzing::coap_endpoint(&data);
    }

    #[test]
    fn arbitrary_datagrams_never_panic(datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..32)) {
        let mut script = Vec::new();
        for d in &datagrams {
            script.extend([0u8, 1, d.len() as u8]);
            script.extend(d);
        }
        coap_endpoint::fuzzing::coap_endpoint(&script);
    }
}
