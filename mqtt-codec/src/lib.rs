//! Zero-copy, `no_std` MQTT 3.1, 3.1.1 and 5.0 codec.
//!
//! **Status: in progress** (issue 3): packet types, properties, reason codes,
//! the streaming decoder and topic helpers land here.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;
