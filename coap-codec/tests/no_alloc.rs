//! Decoding a message view allocates nothing: the counting allocator
//! below sees zero allocations while messages are decoded and read.

use std::alloc::System;

use bytes::Bytes;
use coap_codec::{tcp::StreamMessage, Message};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn decoding_and_reading_a_message_does_not_allocate() {
    let get = Bytes::from(
        hex::decode("4101adbe0172a6724773656e736f72730474656d7046756e69743d6308666d743d6a736f6e")
            .unwrap(),
    );
    let mut block2 = vec![
        0x62, 0x45, 0x30, 0x01, 0x72, 0x4b, 0xc1, 0x28, 0xb1, 0x0e, 0xff,
    ];
    block2.extend(std::iter::repeat_n(0x5a, 1024));
    let block2 = Bytes::from(block2);
    let tcp = Bytes::from_static(b"\x21\x01\x01\xb1a");

    // A `Bytes` made from a `Vec` allocates its shared header on its first
    // clone; that is the test's cloning, not the decoder, so do it first.
    let _warm = (get.clone(), block2.clone());

    let region = Region::new(GLOBAL);
    let mut sum = 0usize;
    for _ in 0..100 {
        let m = Message::decode(get.clone()).unwrap();
        sum += m.options().iter().map(|o| o.value.len()).sum::<usize>();
        sum += m.options().uri_query().count();
        let r = Message::decode(block2.clone()).unwrap();
        sum += r.payload().len() + r.options().block2().unwrap().size();
        let s = Message::decode(&get[..]).unwrap();
        sum += usize::from(s.options().content_format().is_some());
        let t = StreamMessage::decode_tcp(tcp.clone()).unwrap();
        sum += t.options().len();
    }
    let stats = region.change();
    assert_eq!(stats.allocations, 0, "decode allocated: {stats:?}");
    assert!(sum > 0);
}
