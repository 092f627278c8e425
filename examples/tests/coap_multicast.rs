//! Multicast (RFC 7252 §8): our coap-client sends a NON request to
//! 224.0.1.187 and collects the answers of two coap-servers that joined the
//! group; a request that would get an error is answered by nobody.
//!
//! Loopback multicast needs a route, so the test runs in a private network
//! namespace (`unshare -rn`) where it may change the loopback's settings
//! without touching the host. Without `unshare` it skips (under CI=true it
//! fails); where user namespaces are not permitted it says so and skips.
#![allow(missing_docs)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{run, stdout};

#[test]
fn client_collects_answers_of_two_servers_in_the_group() {
    let Some(unshare) = testkit::peers::find_binary(&["unshare"]) else {
        testkit::peers::missing::<()>("unshare (util-linux) for a private network namespace");
        return;
    };
    let (server, client) = (
        env!("CARGO_BIN_EXE_coap-server"),
        env!("CARGO_BIN_EXE_coap-client"),
    );
    let script = format!(
        "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || exit 77
         timeout 20 {server} -A 127.0.0.1 -p 0 -g 224.0.1.187 --group-port 5683 --leisure-ms 300 >/dev/null 2>&1 </dev/null & A=$!
         timeout 20 {server} -A 127.0.0.1 -p 0 -g 224.0.1.187 --group-port 5683 --leisure-ms 300 >/dev/null 2>&1 </dev/null & B=$!
         sleep 0.7
         timeout 10 {client} -B 2 'coap://224.0.1.187:5683/.well-known/core?href=/time'; echo rc=$?
         timeout 10 {client} -B 2 'coap://224.0.1.187:5683/does-not-exist'; echo rc=$?
         kill $A $B; wait"
    );
    let out = run(
        Command::new(unshare).args(["-rn", "sh", "-c", &script]),
        Duration::from_secs(40),
    );
    let text = stdout(&out);
    if out.status.code() == Some(77) || String::from_utf8_lossy(&out.stderr).contains("unshare:") {
        // Not a peer that CI can install: a sandbox without user namespaces
        // cannot run this test at all.
        eprintln!("skipping: no permission for a private network namespace (unshare -rn)");
        return;
    }
    let answers: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("2.05 </time>"))
        .collect();
    assert_eq!(answers.len(), 2, "two servers answer: {text}");
    let sources: std::collections::HashSet<&str> = answers
        .iter()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(sources.len(), 2, "from two addresses: {text}");
    let rcs: Vec<&str> = text.lines().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(
        rcs,
        ["rc=0", "rc=2"],
        "no server answers a multicast request with an error: {text}"
    );
}
