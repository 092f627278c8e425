//! Arbitrary sequences of datagrams, broker bytes and time steps: the
//! gateway never panics and its state stays within the configured limits.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqttsn_gateway::{Config, ConnId, Gateway, Mode, Transmit};
use proptest::prelude::*;

/// Well-formed datagrams the random ones are mixed with, so the sequences
/// reach deep states (connected, will handshake, asleep, subscribed).
const VALID: [&[u8]; 12] = [
    b"\x08\x04\x04\x01\x00\x3cs1",     // CONNECT, keep-alive 60
    b"\x08\x04\x0c\x01\x00\x02s1",     // CONNECT with will, keep-alive 2
    b"\x06\x07\x20a/b",                // WILLTOPIC
    b"\x04\x09hi",                     // WILLMSG
    b"\x09\x0a\x00\x00\x00\x01a/b",    // REGISTER a/b
    b"\x09\x0c\x20\x00\x01\x00\x02hi", // PUBLISH QoS 1 to id 1
    b"\x09\x0c\x40\x00\x01\x00\x03hi", // PUBLISH QoS 2 to id 1
    b"\x04\x10\x00\x03",               // PUBREL 3
    b"\x08\x12\x20\x00\x04a/+",        // SUBSCRIBE a/+ QoS 1
    b"\x04\x18\x00\x05",               // DISCONNECT, sleep 5 s
    b"\x04\x16s1",                     // PINGREQ s1
    b"\x09\x0c\x62\x00\x05\x00\x00hi", // PUBLISH QoS -1, short "\0\x05"
];

/// Broker answers to mix in: CONNACK, SUBACK 1, a PUBLISH on a/x, PUBACK 1.
const BROKER: [&[u8]; 4] = [
    &[0x20, 2, 0, 0],
    &[0x90, 3, 0, 1, 1],
    &[0x32, 9, 0, 3, b'a', b'/', b'x', 0, 7, b'h', b'i'],
    &[0x40, 2, 0, 1],
];

#[derive(Debug, Clone)]
enum Op {
    Valid(usize, u8),
    Random(Vec<u8>, u8),
    Broker(usize),
    BrokerRandom(Vec<u8>),
    BrokerClosed,
    Backlog(u16),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..VALID.len(), 0u8..3).prop_map(|(i, a)| Op::Valid(i, a)),
        2 => (proptest::collection::vec(any::<u8>(), 0..40), 0u8..3).prop_map(|(d, a)| Op::Random(d, a)),
        2 => (0..BROKER.len()).prop_map(Op::Broker),
        1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(Op::BrokerRandom),
        1 => Just(Op::BrokerClosed),
        1 => any::<u16>().prop_map(Op::Backlog),
        1 => (0u16..20_000).prop_map(Op::Advance),
    ]
}

fn drain(gw: &mut Gateway, conns: &mut Vec<ConnId>) {
    for _ in 0..100_000 {
        match gw.poll_transmit() {
            Some(Transmit::Open(c)) => conns.push(c),
            Some(_) => {}
            None => break,
        }
    }
    while gw.poll_event().is_some() {}
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics_and_stays_bounded(
        aggregating in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        #[allow(clippy::disallowed_methods)] // virtual time starts anywhere
        let mut now = Instant::now();
        let mut config = Config::default();
        config.max_clients = 2;
        config.max_buffered = 3;
        config.max_backlog = 64 * 1024;
        config.max_pending = 4;
        if aggregating {
            config.mode = Mode::Aggregating;
        }
        let mut gw = Gateway::new(config, 3, now);
        let mut conns = Vec::new();
        let addr = |a: u8| SocketAddr::from(([127, 0, 0, 1], 40_000 + u16::from(a)));
        for op in ops {
            match op {
                Op::Valid(i, a) => gw.handle_datagram(now, addr(a), Bytes::from_static(VALID[i])),
                Op::Random(d, a) => gw.handle_datagram(now, addr(a), Bytes::from(d)),
                Op::Broker(i) => {
                    if let Some(c) = conns.last() {
                        gw.handle_broker_bytes(now, *c, BROKER[i]);
                    }
                }
                Op::BrokerRandom(d) => {
                    if let Some(c) = conns.last() {
                        gw.handle_broker_bytes(now, *c, &d);
                    }
                }
                Op::BrokerClosed => {
                    if let Some(c) = conns.pop() {
                        gw.handle_broker_closed(now, c);
                    }
                }
                Op::Backlog(n) => {
                    if let Some(c) = conns.last() {
                        gw.handle_broker_backlog(now, *c, usize::from(n) * 8);
                    }
                }
                Op::Advance(ms) => {
                    now += Duration::from_millis(u64::from(ms));
                    if gw.poll_timeout().is_some_and(|t| t <= now) {
                        gw.handle_timeout(now);
                    }
                }
            }
            drain(&mut gw, &mut conns);
            prop_assert!(gw.client_count() <= 2);
        }
    }
}

#[test]
fn the_valid_datagrams_are_valid() {
    for d in VALID {
        assert!(
            mqttsn_codec::Message::decode(Bytes::from_static(d)).is_ok(),
            "{d:?}"
        );
    }
}
