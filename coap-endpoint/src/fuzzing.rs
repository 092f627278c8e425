//! Invariant checks shared by the `coap_endpoint` fuzz target and the
//! corpus-replay test.
