//! Interop for Observe (RFC 7641) and block-wise transfer (RFC 7959):
//! libcoap's coap-client with `-s` and `-b` against our coap-server, our
//! coap-client against libcoap's coap-server, and aiocoap against ours,
//! including a 100 KiB PUT in each direction. Outside CI a missing peer
//! skips with a message; under CI=true it fails.
#![allow(missing_docs, clippy::disallowed_methods)]

use std::process::{Command, Output};
use std::time::Duration;

mod common;
use common::{run, stdout, OurServer};

use m2m_examples::coap_observe_block::{body_summary, large_body};

fn ours(args: &[&str], timeout: Duration) -> Output {
    run(
        Command::new(env!("CARGO_BIN_EXE_coap-client")).args(args),
        timeout,
    )
}

/// 100 KiB of varied bytes, written to a temp file.
fn body_100k(dir: &testkit::peers::TempDir) -> (Vec<u8>, String) {
    let body: Vec<u8> = (0..100 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = dir.path().join("body.bin");
    std::fs::write(&path, &body).expect("write body");
    (body, path.to_string_lossy().into_owned())
}

#[test]
fn libcoap_client_observes_and_transfers_blocks_with_our_server() {
    let Some(client) = testkit::peers::coap_client() else {
        return;
    };
    let server = OurServer::start(&[]);
    let libcoap = |args: &[&str], secs: u64| {
        run(
            Command::new(&client).args(["-B", "15"]).args(args),
            Duration::from_secs(secs),
        )
    };

    // -s: /obs changes every 5 s; 11 s of observing gives the first
    // response and at least one notification, with increasing values.
    let obs = libcoap(&["-s", "11", &server.uri("/obs")], 30);
    let text = String::from_utf8_lossy(&obs.stdout).into_owned();
    assert!(obs.status.success(), "{text}");
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    assert!(
        digits.len() >= 2,
        "first response and a notification: {text:?}"
    );
    assert!(digits.windows(2).all(|w| w[0] < w[1]), "{text:?}");

    // -b: Block2 with 64-byte blocks (early negotiation) and the default.
    let want = String::from_utf8_lossy(&large_body()).trim().to_owned();
    for b in [&["-b", "64"][..], &[][..]] {
        let mut args = b.to_vec();
        let uri = server.uri("/large");
        args.push(&uri);
        assert_eq!(stdout(&libcoap(&args, 30)), want, "{b:?}");
    }

    // 100 KiB PUT in Block1 blocks (libcoap changes the token per block),
    // then read back in Block2 blocks.
    let dir = testkit::peers::TempDir::new("coap-block");
    let (body, file) = body_100k(&dir);
    let put = libcoap(
        &[
            "-m",
            "put",
            "-b",
            "1024",
            "-f",
            &file,
            &server.uri("/large-update"),
        ],
        60,
    );
    assert!(put.status.success(), "{put:?}");
    let back = dir.path().join("back.bin");
    let get = libcoap(
        &["-o", &back.to_string_lossy(), &server.uri("/large-update")],
        60,
    );
    assert!(get.status.success(), "{get:?}");
    assert_eq!(std::fs::read(&back).expect("read back"), body);

    // Block1 with a small block size and a summary response.
    let post = libcoap(
        &[
            "-m",
            "post",
            "-b",
            "256",
            "-f",
            &file,
            &server.uri("/large-post"),
        ],
        60,
    );
    assert_eq!(stdout(&post), body_summary(&body));
}

#[test]
fn our_client_observes_and_transfers_blocks_with_libcoap_server() {
    let Some(peer) = testkit::peers::coap_server(&["-d", "10"]) else {
        return;
    };
    let base = format!("coap://{}", peer.addr());

    // libcoap's /time is observable and changes every second.
    let obs = ours(
        &["-B", "10", "-s", "4", &format!("{base}/time")],
        Duration::from_secs(20),
    );
    let text = stdout(&obs);
    assert!(obs.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() >= 3,
        "first response and notifications: {text:?}"
    );
    // libcoap may notify twice within one second of its clock.
    let distinct: std::collections::BTreeSet<&str> = lines.iter().copied().collect();
    assert!(distinct.len() >= 3, "the time moves on: {text:?}");

    // 100 KiB PUT from us (Block1), read back (Block2), also with -b 64.
    let dir = testkit::peers::TempDir::new("coap-block-ours");
    let (body, file) = body_100k(&dir);
    let uri = format!("{base}/large-update");
    let put = ours(
        &["-B", "30", "-m", "put", "-f", &file, &uri],
        Duration::from_secs(60),
    );
    assert!(put.status.success(), "{put:?}");
    for extra in [&[][..], &["-b", "64"][..]] {
        let back = dir.path().join("back.bin");
        let back_s = back.to_string_lossy().into_owned();
        let mut args = vec!["-B", "60", "-o", &back_s];
        args.extend_from_slice(extra);
        args.push(&uri);
        let get = ours(&args, Duration::from_secs(90));
        assert!(get.status.success(), "{extra:?}: {get:?}");
        assert_eq!(std::fs::read(&back).expect("read back"), body, "{extra:?}");
    }
}

#[test]
fn aiocoap_observes_and_fetches_blocks_from_our_server() {
    let Some(python) = testkit::peers::python_with(&["aiocoap"]) else {
        testkit::peers::missing::<()>("python3 with aiocoap (pip install aiocoap)");
        return;
    };
    let server = OurServer::start(&[]);
    let script = r#"
import asyncio, sys
from aiocoap import Context, Message, GET, PUT
async def main(base):
    ctx = await Context.create_client_context()
    req = ctx.request(Message(code=GET, uri=base + "/obs", observe=0))
    first = await asyncio.wait_for(req.response, 15)
    print("first", first.code, first.payload.decode(), first.opt.observe is not None)
    async def two():
        n = 0
        async for r in req.observation:
            print("notification", r.payload.decode())
            n += 1
            if n == 2:
                return
    await asyncio.wait_for(two(), 15)
    req.observation.cancel()
    large = await asyncio.wait_for(ctx.request(Message(code=GET, uri=base + "/large")).response, 15)
    print("large", len(large.payload))
    body = bytes((i * 7) % 256 for i in range(100 * 1024))
    put = await asyncio.wait_for(ctx.request(Message(code=PUT, uri=base + "/large-update", payload=body)).response, 60)
    print("put", put.code)
    back = await asyncio.wait_for(ctx.request(Message(code=GET, uri=base + "/large-update")).response, 60)
    print("back", back.payload == body)
    await ctx.shutdown()
asyncio.run(main(sys.argv[1]))
"#;
    let out = run(
        Command::new(python).args(["-c", script, &format!("coap://{}", server.addr)]),
        Duration::from_secs(120),
    );
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("first 2.05 Content ") && lines[0].ends_with(" True"),
        "{text}"
    );
    let values: Vec<u64> = lines[..3]
        .iter()
        .filter_map(|l| {
            l.split(' ')
                .nth(if l.starts_with("first") { 3 } else { 1 })?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(values.len(), 3, "{text}");
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(
        &lines[3..],
        ["large 2048", "put 2.04 Changed", "back True"],
        "{text}"
    );
}

#[test]
fn libcoap_client_puts_100k_to_our_non_atomic_resource() {
    let Some(client) = testkit::peers::coap_client() else {
        return;
    };
    let server = OurServer::start(&[]);
    let libcoap = |args: &[&str], secs: u64| {
        run(
            Command::new(&client).args(["-B", "30"]).args(args),
            Duration::from_secs(secs),
        )
    };
    let dir = testkit::peers::TempDir::new("coap-block-stream");
    let (body, file) = body_100k(&dir);
    let uri = server.uri("/large-stream");
    // 1600 blocks of 64 bytes, each stored by the handler as it arrives;
    // then with 1024-byte blocks (a second upload replaces the first).
    for size in ["64", "1024"] {
        let put = libcoap(&["-m", "put", "-b", size, "-f", &file, &uri], 120);
        assert!(put.status.success(), "-b {size}: {put:?}");
        let back = dir.path().join(format!("back-{size}.bin"));
        let get = libcoap(&["-o", &back.to_string_lossy(), &uri], 60);
        assert!(get.status.success(), "-b {size}: {get:?}");
        let got = std::fs::read(&back)
            .unwrap_or_else(|e| panic!("-b {size}: read back: {e}; put: {put:?}; get: {get:?}"));
        assert_eq!(got.len(), body.len(), "-b {size}: put: {put:?}");
        assert_eq!(got, body, "-b {size}");
    }
}

#[test]
fn aiocoap_puts_100k_to_our_non_atomic_resource() {
    let Some(python) = testkit::peers::python_with(&["aiocoap"]) else {
        testkit::peers::missing::<()>("python3 with aiocoap (pip install aiocoap)");
        return;
    };
    let server = OurServer::start(&[]);
    let script = r#"
import asyncio, sys
from aiocoap import Context, Message, GET, PUT
async def main(base):
    ctx = await Context.create_client_context()
    for n, seed in ((100 * 1024, 7), (3000, 11)):
        body = bytes((i * seed) % 256 for i in range(n))
        put = await asyncio.wait_for(ctx.request(Message(code=PUT, uri=base + "/large-stream", payload=body)).response, 90)
        print("put", put.code)
        back = await asyncio.wait_for(ctx.request(Message(code=GET, uri=base + "/large-stream")).response, 90)
        print("back", len(back.payload), back.payload == body)
    await ctx.shutdown()
asyncio.run(main(sys.argv[1]))
"#;
    let out = run(
        Command::new(python).args(["-c", script, &format!("coap://{}", server.addr)]),
        Duration::from_secs(240),
    );
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "put 2.04 Changed",
            "back 102400 True",
            "put 2.04 Changed",
            "back 3000 True"
        ],
        "{text}"
    );
}
