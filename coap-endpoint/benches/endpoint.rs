//! Criterion benchmark of the endpoint state machine (filled in below).
fn main() {}
