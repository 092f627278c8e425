//! Interop: libcoap's coap-client and aiocoap against our coap-server, and
//! our coap-client against libcoap's coap-server. Outside CI a missing peer
//! skips with a message; under CI=true it fails.
#![allow(missing_docs, clippy::disallowed_methods)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

mod common;
use common::{run, stdout, OurServer};

fn libcoap(client: &Path, args: &[&str]) -> Output {
    run(
        Command::new(client).args(["-B", "10"]).args(args),
        Duration::from_secs(20),
    )
}

#[test]
fn libcoap_client_against_our_server() {
    let Some(client) = testkit::peers::coap_client() else {
        return;
    };
    let server = OurServer::start(&[]);

    let wk = libcoap(&client, &[&server.uri("/.well-known/core")]);
    let doc = stdout(&wk);
    assert!(
        doc.contains("</basic>;title=\"Basic Resource\";obs"),
        "{doc}"
    );
    assert!(doc.contains("</time>"), "{doc}");
    let filtered = stdout(&libcoap(
        &client,
        &[&server.uri("/.well-known/core?rt=Type1")],
    ));
    assert!(
        filtered.contains("</link1>")
            && filtered.contains("</link3>")
            && !filtered.contains("</link2>"),
        "{filtered}"
    );

    assert_eq!(
        stdout(&libcoap(&client, &[&server.uri("/basic")])),
        "Basic Resource"
    );
    let put = libcoap(
        &client,
        &["-m", "put", "-e", "replaced", &server.uri("/basic")],
    );
    assert!(put.status.success());
    assert_eq!(
        stdout(&libcoap(&client, &[&server.uri("/basic")])),
        "replaced"
    );

    let post = libcoap(
        &client,
        &[
            "-m",
            "post",
            "-e",
            "child",
            "-v",
            "7",
            &server.uri("/basic?x=1"),
        ],
    );
    let log =
        String::from_utf8_lossy(&post.stdout).to_string() + &String::from_utf8_lossy(&post.stderr);
    assert!(
        log.contains("c:2.01")
            && log.contains("Location-Path:1")
            && log.contains("Location-Query:x=1"),
        "{log}"
    );
    assert_eq!(
        stdout(&libcoap(&client, &[&server.uri("/basic/1")])),
        "child"
    );

    let non = libcoap(&client, &["-N", &server.uri("/test")]);
    assert_eq!(stdout(&non), "Test resource");

    let sep = libcoap(&client, &["-v", "7", &server.uri("/separate")]);
    let log =
        String::from_utf8_lossy(&sep.stdout).to_string() + &String::from_utf8_lossy(&sep.stderr);
    assert!(log.contains("Separate response"), "{log}");
    assert!(
        log.contains("t:ACK c:0.00") && log.contains("t:CON c:2.05"),
        "empty ACK then CON response: {log}"
    );

    let del = libcoap(&client, &["-m", "delete", &server.uri("/basic")]);
    assert!(del.status.success());
    let gone = libcoap(&client, &[&server.uri("/basic")]);
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("4.04") || stdout(&gone).contains("4.04"),
        "{gone:?}"
    );

    // An unrecognised critical option (1013) in a CON request: 4.02.
    let bad = libcoap(&client, &["-O", "1013,x", &server.uri("/test")]);
    let text = String::from_utf8_lossy(&bad.stderr).to_string() + &stdout(&bad);
    assert!(text.contains("4.02"), "{text}");
}

#[test]
fn our_client_against_libcoap_server() {
    let Some(peer) = testkit::peers::coap_server(&["-d", "10"]) else {
        return;
    };
    let base = format!("coap://{}", peer.addr());
    let ours = |args: &[&str]| {
        run(
            Command::new(env!("CARGO_BIN_EXE_coap-client"))
                .args(["-B", "10"])
                .args(args),
            Duration::from_secs(20),
        )
    };

    let root = ours(&[&format!("{base}/")]);
    assert!(root.status.success(), "{root:?}");
    assert!(stdout(&root).contains("libcoap"), "{}", stdout(&root));

    let wk = ours(&[&format!("{base}/.well-known/core")]);
    assert!(stdout(&wk).contains("</time>"), "{}", stdout(&wk));

    let time = ours(&["-N", &format!("{base}/time")]);
    assert!(
        time.status.success() && !stdout(&time).is_empty(),
        "{time:?}"
    );

    let put = ours(&[
        "-m",
        "put",
        "-e",
        "made by m2m-rs",
        &format!("{base}/example_data"),
    ]);
    assert!(put.status.success(), "{put:?}");
    assert_eq!(
        stdout(&ours(&[&format!("{base}/example_data")])),
        "made by m2m-rs"
    );

    let missing = ours(&[&format!("{base}/does-not-exist")]);
    assert_eq!(
        missing.status.code(),
        Some(1),
        "error response exits 1: {missing:?}"
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("4.04"));

    let token = ours(&["-T", "0xcafe", "-A", "text", &format!("{base}/")]);
    assert!(token.status.success(), "{token:?}");
}

#[test]
fn aiocoap_client_against_our_server() {
    let Some(python) = testkit::peers::python_with(&["aiocoap"]) else {
        testkit::peers::missing::<()>("python3 with aiocoap (pip install aiocoap)");
        return;
    };
    let server = OurServer::start(&[]);
    let script = r#"
import asyncio, sys
from aiocoap import Context, Message, GET, PUT, POST, DELETE, NON
async def main(base):
    ctx = await Context.create_client_context()
    async def req(code, path, payload=b"", mtype=None):
        m = Message(code=code, uri=base + path, payload=payload)
        if mtype is not None:
            m.mtype = mtype
        r = await asyncio.wait_for(ctx.request(m).response, 15)
        print(path, r.code, r.payload.decode(errors="replace").replace("\n", " "))
        return r
    await req(GET, "/basic")
    await req(PUT, "/basic", b"from aiocoap")
    await req(GET, "/basic")
    r = await req(POST, "/basic?who=aiocoap", b"kid")
    print("location", "/".join(r.opt.location_path), "&".join(r.opt.location_query))
    await req(GET, "/basic/1")
    await req(GET, "/test", mtype=NON)
    await req(GET, "/separate")
    await req(GET, "/.well-known/core?href=/link*")
    await req(DELETE, "/basic")
    await req(GET, "/basic")
    await ctx.shutdown()
asyncio.run(main(sys.argv[1]))
"#;
    let out = run(
        Command::new(python).args(["-c", script, &format!("coap://{}", server.addr)]),
        Duration::from_secs(60),
    );
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let expect = [
        "/basic 2.05 Content Basic Resource",
        "/basic 2.04 Changed",
        "/basic 2.05 Content from aiocoap",
        "/basic?who=aiocoap 2.01 Created",
        "location basic/1 who=aiocoap",
        "/basic/1 2.05 Content kid",
        "/test 2.05 Content Test resource",
        "/separate 2.05 Content Separate response",
        "/.well-known/core?href=/link* 2.05 Content </link1>",
        "/basic 2.02 Deleted",
        "/basic 4.04 Not Found",
    ];
    assert_eq!(lines.len(), expect.len(), "{text}");
    for (line, want) in lines.iter().zip(expect) {
        assert!(
            line.starts_with(want),
            "got {line:?}, want {want:?}\n{text}"
        );
    }
}

#[test]
fn our_client_against_our_server() {
    let server = OurServer::start(&[]);
    let ours = |args: &[&str]| {
        run(
            Command::new(env!("CARGO_BIN_EXE_coap-client"))
                .args(["-B", "10"])
                .args(args),
            Duration::from_secs(20),
        )
    };
    assert_eq!(
        stdout(&ours(&[&server.uri("/seg1/seg2/seg3")])),
        "Long path resource"
    );
    assert_eq!(
        stdout(&ours(&[&server.uri("/query?first=1&second=2")])),
        "query: first=1&second=2"
    );
    assert_eq!(
        stdout(&ours(&["-A", "41", &server.uri("/multi-format")])),
        "<msg>multi-format</msg>"
    );
    let e = ours(&["-A", "50", &server.uri("/multi-format")]);
    assert_eq!(e.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&e.stderr).contains("4.06"));
    let dir = testkit::peers::TempDir::new("coap-client");
    let file = dir.path().join("in.txt");
    std::fs::write(&file, "file payload").unwrap();
    let out = dir.path().join("out.txt");
    assert!(ours(&[
        "-m",
        "put",
        "-f",
        file.to_str().unwrap(),
        "-t",
        "text",
        &server.uri("/test")
    ])
    .status
    .success());
    assert!(ours(&["-o", out.to_str().unwrap(), &server.uri("/test")])
        .status
        .success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "file payload");
    assert_eq!(
        stdout(&ours(&["-N", "-T", "tok", &server.uri("/separate")])),
        "Separate response"
    );
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let t = ours(&[
        "-B",
        "1",
        &format!("coap://{}/x", silent.local_addr().unwrap()),
    ]);
    assert_eq!(t.status.code(), Some(2), "timeout exits 2: {t:?}");
}
