//! Helpers shared by the CoAP end-to-end tests.
// Tests wait for real processes with real timeouts.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Our coap-server on an ephemeral port of 127.0.0.1, killed on drop.
pub struct OurServer {
    pub child: Child,
    pub addr: SocketAddr,
}

impl OurServer {
    pub fn start(extra: &[&str]) -> Self {
        // COAP_TEST_SERVER_BIN: another coap-server build to test (with a
        // target dir shared between checkouts, the one cargo names here may
        // be another checkout's by the time the test runs).
        let bin = std::env::var_os("COAP_TEST_SERVER_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_coap-server").into());
        let mut child = Command::new(bin)
            .args(["-A", "127.0.0.1", "-p", "0", "--separate-after-ms", "1200"])
            .args(if std::env::var_os("COAP_TEST_SERVER_LOG").is_some() {
                &["-v", "8"][..]
            } else {
                &[][..]
            })
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(match std::env::var_os("COAP_TEST_SERVER_LOG") {
                // Debugging aid: the server's trace goes to this file.
                Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
                None => Stdio::null(),
            })
            .spawn()
            .expect("spawn coap-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Self { child, addr }
    }

    pub fn uri(&self, path: &str) -> String {
        format!("coap://{}{path}", self.addr)
    }
}

impl Drop for OurServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command with a hard timeout; returns its output.
pub fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}
