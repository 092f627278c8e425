//! `m2m-broker` started with a TOML configuration on a free loopback port,
//! killed on drop, and a raw MQTT connection over std TCP for byte-level
//! tests. Shared by the broker robustness and interop tests.
// Tests wait for real processes with real timeouts.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)]

use std::io::{BufRead as _, BufReader, ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_codec::{Packet, ProtocolVersion, StreamDecoder, MAX_PACKET_SIZE};
use testkit::peers::{find_binary, free_tcp_port, missing, TempDir};

/// The m2m-broker to test: `M2M_BROKER_BIN` if set (a copy taken right
/// after the build, since worktrees sharing a target directory overwrite
/// `target/debug/m2m-broker`), else the one cargo built for this test.
fn binary() -> std::ffi::OsString {
    std::env::var_os("M2M_BROKER_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_m2m-broker").into())
}

/// m2m-broker on 127.0.0.1 with a free port, killed on drop.
pub struct Broker {
    pub child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Broker {
    /// Starts m2m-broker with `config` (TOML lines) on a free port. Another
    /// process may take the port between the probe and the bind, so a
    /// broker that exits is retried (at most 5 times).
    pub fn start(config: &str) -> Self {
        let dir = TempDir::new("m2m-broker");
        let conf = dir.path().join("m2m-broker.toml");
        std::fs::write(&conf, config).expect("write the config");
        for _ in 0..5 {
            let port = free_tcp_port();
            let mut child = Command::new(binary())
                .arg("-c")
                .arg(&conf)
                .args(["-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn m2m-broker");
            let deadline = Instant::now() + Duration::from_secs(10);
            // Bounded by the deadline.
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && matches!(child.try_wait(), Ok(None))
                {
                    return Self {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                if !matches!(child.try_wait(), Ok(None)) || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("m2m-broker did not start listening in 5 attempts");
    }

    /// The broker's resident memory in KiB (Linux `/proc`), if readable.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Whether the process still runs (it must never crash on bad input).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a read found.
#[derive(Debug)]
pub enum Read {
    Packet(Packet),
    /// The broker closed the connection (EOF or reset).
    Closed,
    /// Nothing within the timeout.
    Nothing,
}

/// One TCP connection speaking raw MQTT.
pub struct Raw {
    pub s: TcpStream,
    pub version: ProtocolVersion,
    dec: StreamDecoder,
    buf: BytesMut,
}

impl Raw {
    pub fn open(port: u16, version: ProtocolVersion) -> Self {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the broker");
        s.set_nodelay(true).expect("nodelay");
        Self {
            s,
            version,
            dec: StreamDecoder::new(version, MAX_PACKET_SIZE),
            buf: BytesMut::new(),
        }
    }

    /// Writes `p` encoded for this connection's version. Errors (the broker
    /// closed) are returned, not raised.
    pub fn send(&mut self, p: &Packet) -> std::io::Result<()> {
        let mut b = BytesMut::new();
        p.encode(self.version, &mut b).expect("encode");
        self.s.write_all(&b)
    }

    pub fn send_bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.s.write_all(b)
    }

    /// The next packet, EOF, or nothing within `timeout`.
    pub fn read(&mut self, timeout: Duration) -> Read {
        let deadline = Instant::now() + timeout;
        // Bounded by the deadline.
        loop {
            if let Some(p) = self
                .dec
                .decode(&mut self.buf)
                .expect("broker sends valid packets")
            {
                return Read::Packet(p);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Read::Nothing;
            }
            self.s.set_read_timeout(Some(left)).expect("timeout");
            let mut chunk = [0u8; 4096];
            match self.s.read(&mut chunk) {
                Ok(0) => return Read::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Read::Nothing
                }
                Err(_) => return Read::Closed,
            }
        }
    }

    /// The next packet within 10 s; panics on EOF or silence.
    pub fn packet(&mut self) -> Packet {
        match self.read(Duration::from_secs(10)) {
            Read::Packet(p) => p,
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    /// Everything the broker sends until it closes the connection (at most
    /// `timeout`); panics if it stays open.
    pub fn until_closed(&mut self, timeout: Duration) -> Vec<Packet> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        // Bounded by the deadline.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read(left) {
                Read::Packet(p) => out.push(p),
                Read::Closed => return out,
                Read::Nothing => panic!("the broker kept the connection open; it sent {out:?}"),
            }
        }
    }
}

/// A mosquitto client (`mosquitto_pub`, `mosquitto_sub`) on the PATH, or
/// `None` with a note (a failure under `CI=true`).
pub fn mosquitto_client(name: &str) -> Option<PathBuf> {
    find_binary(&[name])
        .or_else(|| missing("mosquitto_pub/mosquitto_sub (Debian package mosquitto-clients)"))
}

/// mosquitto_sub in debug mode; lines of its stdout arrive on a channel.
pub struct MosqSub {
    pub child: Child,
    lines: mpsc::Receiver<String>,
}

impl MosqSub {
    pub fn start(bin: &std::path::Path, port: u16, args: &[&str]) -> Self {
        let mut all = vec!["-W", "15"];
        all.extend_from_slice(args);
        let (child, lines) = spawn_lines(bin, port, &all);
        let s = Self { child, lines };
        s.wait_for("SUBACK");
        s
    }

    /// The next line printed that is not debug output (at most 10 s).
    pub fn next_line(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with("Client ") => {}
                Ok(l) => return l,
                Err(_) => panic!("mosquitto_sub printed nothing more"),
            }
        }
    }

    /// Waits (at most 10 s) for a line containing `text`.
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(text) => return l,
                Ok(_) => {}
                Err(_) => panic!("mosquitto_sub never printed {text:?}"),
            }
        }
    }
}

impl Drop for MosqSub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts mosquitto_sub (`-d`, debug output) against 127.0.0.1:`port` with
/// `args`; each line of its stdout arrives on the channel.
pub fn spawn_lines(
    bin: &std::path::Path,
    port: u16,
    args: &[&str],
) -> (Child, mpsc::Receiver<String>) {
    // stdbuf: mosquitto_sub's stdout is block-buffered into a pipe.
    let mut child = Command::new("stdbuf")
        .arg("-oL")
        .arg(bin)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-d"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mosquitto_sub");
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, lines)
}
