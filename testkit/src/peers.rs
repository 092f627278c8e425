//! Real peers for interop tests: locate, start on loopback, stop on drop.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// True when running under CI (`CI=true`), where a missing peer is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports that `peer` is missing: panics under CI, otherwise prints why the
/// test is skipped. Returns `None` so callers can write
/// `let Some(x) = find() else { return missing("x") };`.
///
/// # Panics
/// Under `CI=true`, always.
pub fn missing<T>(peer: &str) -> Option<T> {
    assert!(
        !in_ci(),
        "CI=true and the interop peer `{peer}` is missing: .ci/run must install it"
    );
    eprintln!("skipping: interop peer `{peer}` is not installed (CI=true makes this a failure)");
    None
}

/// The first of `names` found on `PATH` or in `/usr/sbin` / `/usr/bin`.
pub fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin"].map(PathBuf::from));
    names
        .iter()
        .find_map(|name| dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p)))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A `python3` that can import every module in `modules`, or `None`.
pub fn python_with(modules: &[&str]) -> Option<PathBuf> {
    let python = find_binary(&["python3"])?;
    let script = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let ok = Command::new(&python)
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(python)
}

/// A free TCP port on 127.0.0.1 (bound and released; race-free enough for tests
/// that bind it again at once).
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral TCP port on 127.0.0.1")
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral UDP port on 127.0.0.1")
}

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    addr: SocketAddr,
    _dir: Option<TempDir>,
}

impl Peer {
    /// Starts `cmd` as a peer reachable at `addr`.
    ///
    /// # Panics
    /// If the process cannot be spawned.
    pub fn spawn(mut cmd: Command, addr: SocketAddr) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        Self {
            child,
            addr,
            _dir: None,
        }
    }

    /// The address the peer serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Debian `mosquitto` broker on an ephemeral port of 127.0.0.1.
#[derive(Debug)]
pub struct Mosquitto(Peer);

impl Mosquitto {
    /// Starts mosquitto with anonymous access on a fresh port and waits until
    /// it accepts connections. `None` (after [`missing`]) when not installed.
    ///
    /// # Panics
    /// If mosquitto is installed but does not come up within 10 seconds.
    pub fn start() -> Option<Self> {
        Self::start_with("")
    }

    /// As [`Mosquitto::start`], with extra lines appended to its config file.
    ///
    /// # Panics
    /// If mosquitto is installed but does not come up within 10 seconds.
    pub fn start_with(extra_config: &str) -> Option<Self> {
        let Some(bin) = find_binary(&["mosquitto"]) else {
            return missing("mosquitto (Debian package mosquitto)");
        };
        let dir = TempDir::new("mosquitto");
        let port = free_tcp_port();
        let conf = dir.path().join("mosquitto.conf");
        let mut f = std::fs::File::create(&conf).expect("write mosquitto.conf");
        writeln!(
            f,
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra_config}"
        )
        .expect("write mosquitto.conf");
        drop(f);
        let mut cmd = Command::new(bin);
        cmd.arg("-c").arg(&conf);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut peer = Peer::spawn(cmd, addr);
        peer._dir = Some(dir);
        wait_for_tcp(addr, &mut peer);
        Some(Self(peer))
    }

    /// The broker's address.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }
}

fn wait_for_tcp(addr: SocketAddr, peer: &mut Peer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        assert!(peer.is_running(), "peer exited before listening on {addr}");
        sleep(Duration::from_millis(50));
    }
    panic!("peer did not listen on {addr} within 10 s");
}

/// libcoap's `coap-client` (Debian `libcoap3-bin` installs it as
/// `coap-client-notls`, `-gnutls` or `-openssl`).
pub fn coap_client() -> Option<PathBuf> {
    find_binary(&[
        "coap-client-notls",
        "coap-client-gnutls",
        "coap-client-openssl",
        "coap-client",
    ])
    .or_else(|| missing("libcoap coap-client (Debian package libcoap3-bin)"))
}

/// libcoap's `coap-server` on an ephemeral UDP port of 127.0.0.1 with the
/// given extra arguments. `None` (after [`missing`]) when not installed.
pub fn coap_server(extra_args: &[&str]) -> Option<Peer> {
    let Some(bin) = find_binary(&[
        "coap-server-notls",
        "coap-server-gnutls",
        "coap-server-openssl",
        "coap-server",
    ]) else {
        return missing("libcoap coap-server (Debian package libcoap3-bin)");
    };
    let port = free_udp_port();
    let mut cmd = Command::new(bin);
    cmd.args(["-A", "127.0.0.1", "-p", &port.to_string()])
        .args(extra_args);
    let peer = Peer::spawn(cmd, ([127, 0, 0, 1], port).into());
    // A UDP server has no accept to wait for; give it a moment to bind.
    sleep(Duration::from_millis(300));
    Some(peer)
}

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory under the system temp dir.
    ///
    /// # Panics
    /// If the directory cannot be created.
    pub fn new(prefix: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("m2m-{prefix}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
