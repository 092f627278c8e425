//! Zero-copy, `no_std` MQTT-SN v1.2 codec.
//!
//! **Status: in progress** (issue 4): every MQTT-SN v1.2 message and the
//! forwarder encapsulation land here.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;
