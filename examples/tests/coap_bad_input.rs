//! Hostile input against the coap-server binary: malformed datagrams,
//! truncated options, unknown critical options, reserved token lengths and
//! a flood of CON requests from many source ports. The server answers with
//! the RFC's RST or 4.xx, keeps its memory bounded and keeps serving.
#![allow(missing_docs, clippy::disallowed_methods)]

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use coap_codec::{Code, Message, MessageBuilder, MessageType, OptionNumber};
use common::OurServer;

fn socket(server: &OurServer) -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

fn exchange(s: &UdpSocket, datagram: &[u8]) -> Option<Message<Vec<u8>>> {
    s.send(datagram).unwrap();
    let mut buf = vec![0; 2048];
    let n = s.recv(&mut buf).ok()?;
    buf.truncate(n);
    Some(Message::decode(buf).expect("the server sends well-formed CoAP"))
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn malformed_messages_get_rst_or_4_02_or_silence() {
    let server = OurServer::start(&[]);
    let s = socket(&server);
    // Reserved token length 9 in a CON: RST with the same message ID.
    let r = exchange(&s, &[0x49, 0x01, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap();
    assert_eq!(
        (r.message_type(), r.message_id()),
        (MessageType::Reset, 0xbeef)
    );
    // Truncated option (delta 11, length 13, no extension byte).
    let r = exchange(&s, &[0x40, 0x01, 0x00, 0x05, 0xbd]).unwrap();
    assert_eq!((r.message_type(), r.message_id()), (MessageType::Reset, 5));
    // Payload marker with no payload.
    let r = exchange(&s, &[0x40, 0x01, 0x00, 0x06, 0xff]).unwrap();
    assert_eq!(r.message_type(), MessageType::Reset);
    // Unknown critical option in a CON: 4.02 piggybacked.
    let mut m = MessageBuilder::new(MessageType::Confirmable, Code::GET)
        .with_message_id(7)
        .with_token(b"t")
        .path("/test");
    m.add_option(OptionNumber(1013), b"x");
    let r = exchange(&s, &m.to_bytes().unwrap()).unwrap();
    assert_eq!(
        (r.message_type(), r.code(), r.token_bytes()),
        (MessageType::Acknowledgement, Code::BAD_OPTION, &b"t"[..])
    );
    // The same in a NON: RST.
    m.message_type = MessageType::NonConfirmable;
    m.message_id = 8;
    let r = exchange(&s, &m.to_bytes().unwrap()).unwrap();
    assert_eq!((r.message_type(), r.message_id()), (MessageType::Reset, 8));
    // CoAP ping: RST.
    let r = exchange(&s, &[0x40, 0x00, 0x00, 0x09]).unwrap();
    assert_eq!((r.message_type(), r.message_id()), (MessageType::Reset, 9));
    // Garbage that is not CoAP v1, a malformed NON, a stray ACK: no answer.
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for d in [
        &[0xff_u8; 40][..],
        &[0x50, 0x01, 0, 1, 0xbd][..],
        &[0x60, 0, 0, 1][..],
        &[1, 2][..],
    ] {
        assert!(exchange(&s, d).is_none(), "no answer to {d:02x?}");
    }
    // Still serving.
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let ok = MessageBuilder::new(MessageType::Confirmable, Code::GET)
        .with_message_id(10)
        .path("/test");
    assert_eq!(
        exchange(&s, &ok.to_bytes().unwrap()).unwrap().code(),
        Code::CONTENT
    );
}

#[test]
fn flood_of_con_requests_from_many_ports_keeps_memory_bounded() {
    let server = OurServer::start(&["--dedup-entries", "2000", "--max-incoming", "256"]);
    let pid = server.child.id();
    let before = rss_kib(pid);
    let sockets: Vec<UdpSocket> = (0..400).map(|_| socket(&server)).collect();
    for round in 0..25u16 {
        for (i, s) in sockets.iter().enumerate() {
            let m = MessageBuilder::new(MessageType::Confirmable, Code::GET)
                .with_message_id(round)
                .with_token(&(i as u32).to_be_bytes())
                .path("/test");
            let _ = s.send(&m.to_bytes().unwrap());
        }
        // Drain whatever came back so the kernel buffers do not fill.
        for s in &sockets {
            s.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 1500];
            while s.recv(&mut buf).is_ok() {}
            s.set_nonblocking(false).unwrap();
        }
    }
    let after = rss_kib(pid);
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    // The kernel may still drop datagrams while the server works off the
    // flood's backlog, so retransmit as a CoAP client would.
    let s = socket(&server);
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let ok = MessageBuilder::new(MessageType::Confirmable, Code::GET)
        .with_message_id(1)
        .path("/test");
    let r = (0..8)
        .find_map(|_| exchange(&s, &ok.to_bytes().unwrap()))
        .expect("still serving after the flood");
    assert_eq!(r.code(), Code::CONTENT);
}
