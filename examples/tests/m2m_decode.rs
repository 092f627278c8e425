//! The `m2m-decode` tool, run as a user would.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_m2m-decode"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run m2m-decode");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn decodes_a_libcoap_request_from_an_argument() {
    // libcoap's coap-client: GET /sensors/temp?unit=c&fmt=json
    let (ok, out, _) = run(
        &["4101adbe0172a6724773656e736f72730474656d7046756e69743d6308666d743d6a736f6e"],
        "",
    );
    assert!(ok);
    assert!(out.contains("Type: CON"), "{out}");
    assert!(out.contains("Code: 0.01 GET"), "{out}");
    assert!(out.contains("Uri-Path: \"sensors\""), "{out}");
    assert!(out.contains("Uri-Query: \"fmt=json\""), "{out}");
}

#[test]
fn decodes_link_format_from_stdin_and_lists_links() {
    // libcoap's coap-server: 2.05 with </>;ct=0,</time>;obs
    let hex = "62453002776bc128ff3c2f3e3b63743d302c3c2f74696d653e3b6f6273\n";
    let (ok, out, _) = run(&[], hex);
    assert!(ok);
    assert!(out.contains("Content-Format: 40"), "{out}");
    assert!(out.contains("  /time obs"), "{out}");
}

#[test]
fn reports_malformed_input_with_the_offset_and_fails() {
    let (ok, _, err) = run(&["40 01 00 00 ff"], "");
    assert!(!ok);
    assert!(
        err.contains("payload marker at byte 4 with no payload"),
        "{err}"
    );
    let (ok, _, err) = run(&["zz"], "");
    assert!(!ok);
    assert!(err.contains("not hex"), "{err}");
}

#[test]
fn decodes_a_tcp_stream_of_frames() {
    let (ok, out, _) = run(
        &[
            "--protocol",
            "coap-tcp",
            "50e12380010020d10301017294874773656e736f72730474656d70",
        ],
        "",
    );
    assert!(ok, "{out}");
    assert!(out.contains("Code: 7.01 CSM"), "{out}");
    assert!(out.contains("Max-Message-Size: 8388864"), "{out}");
    assert!(out.contains("Code: 0.01 GET"), "{out}");
}

#[test]
fn decodes_an_mqttsn_register() {
    // REGISTER topic id 0, msg id 1, "park/a/12"
    let (ok, out, err) = run(&["-p", "mqttsn", "0f0a00000001706172 6b2f612f3132"], "");
    assert!(ok, "{err}");
    assert!(out.contains("Register"), "{out}");
    assert!(out.contains("msg_id: 1"), "{out}");
    let (ok, _, err) = run(&["-p", "mqttsn", "05 0a 00"], "");
    assert!(!ok);
    assert!(!err.is_empty());
}
