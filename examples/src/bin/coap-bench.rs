//! `coap-bench`: a CoAP load generator. Keeps W confirmable GETs
//! outstanding against one or more servers, spread over many client source
//! ports, and reports requests/s and latency percentiles.

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;

/// Load-tests CoAP servers with confirmable GET requests over UDP.
///
/// W requests are kept outstanding at all times; each new request goes out
/// from the next of P client sockets in turn, so no source port exceeds
/// RFC 7252 §4.4's message-ID budget (about 265 CON/s per port) when P is
/// large enough. Targets run one after another in the same invocation and
/// a table compares them. Requests unanswered after --timeout-ms count as
/// lost (the tool does not retransmit).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Servers to load: `host:port` (IPv4, or `[IPv6]:port`) or `name=host:port`.
    targets: Vec<String>,
    /// Also start libcoap's coap-server-notls on a free loopback port and
    /// load it (stopped at the end).
    #[arg(long)]
    spawn_libcoap: bool,
    /// Also start our coap-server (the binary next to this one) on a free
    /// loopback port and load it (stopped at the end).
    #[arg(long)]
    spawn_ours: bool,
    /// Also start our coap-server with --blocking (dedicated thread,
    /// blocking socket) and load it.
    #[arg(long)]
    spawn_ours_blocking: bool,
    /// Outstanding requests (the window W).
    #[arg(short = 'c', long = "concurrency", default_value_t = 16)]
    concurrency: usize,
    /// Client source ports used in rotation.
    #[arg(short = 'P', long = "ports", default_value_t = 512)]
    ports: usize,
    /// Seconds of measurement per target.
    #[arg(short = 'd', long = "duration", default_value_t = 5.0)]
    duration: f64,
    /// Seconds of warm-up per target, not measured.
    #[arg(short = 'w', long = "warmup", default_value_t = 1.0)]
    warmup: f64,
    /// Uri-Path to GET ("/" for libcoap's and our index resource).
    #[arg(long = "path", default_value = "/")]
    path: String,
    /// A request unanswered this long counts as lost.
    #[arg(long = "timeout-ms", default_value_t = 2000)]
    timeout_ms: u64,
    /// Rounds: run all targets this many times, alternating, and report each.
    #[arg(short = 'r', long = "rounds", default_value_t = 1)]
    rounds: usize,
}

#[derive(Debug, Default)]
struct Outcome {
    completed: u64,
    lost: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

fn request(path: &str, mid: u16, token: u32) -> Vec<u8> {
    let [m0, m1] = mid.to_be_bytes();
    let mut v = vec![0x44, 0x01, m0, m1];
    v.extend_from_slice(&token.to_be_bytes());
    let mut last = 0u16;
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let delta = 11 - last;
        last = 11;
        let len = seg.len();
        let (dn, dext) = if delta < 13 {
            (delta as u8, None)
        } else {
            (13, Some((delta - 13) as u8))
        };
        let (ln, lext) = if len < 13 {
            (len as u8, None)
        } else {
            (13, Some((len - 13) as u8))
        };
        v.push((dn << 4) | ln);
        v.extend(dext);
        v.extend(lext);
        v.extend_from_slice(seg.as_bytes());
    }
    v
}

/// One of the W request loops: its share of the source ports, used in
/// turn, one request outstanding at a time.
#[allow(clippy::disallowed_methods)]
async fn worker(
    sockets: Vec<tokio::net::UdpSocket>,
    first_token: u32,
    path: String,
    end: Instant,
    timeout: Duration,
) -> std::io::Result<Outcome> {
    let mut out = Outcome::default();
    let mut mids: Vec<u16> = (0..sockets.len())
        .map(|i| (i as u16).wrapping_mul(7919))
        .collect();
    let mut token = first_token;
    let mut buf = [0u8; 2048];
    let mut port = 0;
    while Instant::now() < end {
        port = (port + 1) % sockets.len();
        mids[port] = mids[port].wrapping_add(1);
        token = token.wrapping_add(1);
        let (mid, sock) = (mids[port], &sockets[port]);
        let sent = Instant::now();
        sock.send(&request(&path, mid, token)).await?;
        let answer = tokio::time::timeout(timeout, async {
            loop {
                let n = sock.recv(&mut buf).await?;
                if n >= 8 && buf[2..4] == mid.to_be_bytes() && buf[4..8] == token.to_be_bytes() {
                    return Ok::<bool, std::io::Error>(buf[1] >> 5 == 2);
                }
            }
        })
        .await;
        match answer {
            Ok(Ok(ok)) => {
                out.completed += 1;
                if !ok {
                    out.errors += 1;
                }
                out.latencies_us
                    .push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => out.lost += 1,
        }
    }
    Ok(out)
}

#[allow(clippy::disallowed_methods)]
fn load(target: SocketAddr, args: &Args, measure: Duration) -> std::io::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let bind: SocketAddr = if target.is_ipv6() {
            (std::net::Ipv6Addr::LOCALHOST, 0).into()
        } else {
            (std::net::Ipv4Addr::LOCALHOST, 0).into()
        };
        let w = args.concurrency.max(1);
        let ports = args.ports.max(w);
        let mut shares: Vec<Vec<tokio::net::UdpSocket>> = (0..w).map(|_| Vec::new()).collect();
        for i in 0..ports {
            let s = tokio::net::UdpSocket::bind(bind).await?;
            s.connect(target).await?;
            shares[i % w].push(s);
        }
        let start = Instant::now();
        let end = start + measure;
        let timeout = Duration::from_millis(args.timeout_ms);
        let tasks: Vec<_> = shares
            .into_iter()
            .enumerate()
            .map(|(i, socks)| {
                tokio::spawn(worker(
                    socks,
                    (i as u32) << 24,
                    args.path.clone(),
                    end,
                    timeout,
                ))
            })
            .collect();
        let mut total = Outcome::default();
        for t in tasks {
            let o = t.await.map_err(std::io::Error::other)??;
            total.completed += o.completed;
            total.lost += o.lost;
            total.errors += o.errors;
            total.latencies_us.extend(o.latencies_us);
        }
        total.elapsed = start.elapsed();
        Ok(total)
    })
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A server this tool started, killed on drop.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn_libcoap() -> Result<(Spawned, SocketAddr), String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let child = Command::new("coap-server-notls")
        .args(["-A", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("coap-server-notls: {e} (Debian package libcoap3-bin)"))?;
    std::thread::sleep(Duration::from_millis(300));
    Ok((Spawned(child), ([127, 0, 0, 1], port).into()))
}

fn spawn_ours(extra: &[&str]) -> Result<(Spawned, SocketAddr), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe.with_file_name("coap-server");
    let mut child = Command::new(&bin)
        .args(["-A", "127.0.0.1", "-p", "0", "-v", "3"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("unexpected first line from coap-server: {line:?}"))?;
    Ok((Spawned(child), addr))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut targets: Vec<(String, SocketAddr)> = Vec::new();
    let mut spawned = Vec::new();
    if args.spawn_ours {
        match spawn_ours(&[]) {
            Ok((c, a)) => {
                spawned.push(c);
                targets.push(("m2m-rs coap-server".into(), a));
            }
            Err(e) => {
                eprintln!("coap-bench: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    if args.spawn_ours_blocking {
        match spawn_ours(&["--blocking"]) {
            Ok((c, a)) => {
                spawned.push(c);
                targets.push(("m2m-rs coap-server --blocking".into(), a));
            }
            Err(e) => {
                eprintln!("coap-bench: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    if args.spawn_libcoap {
        match spawn_libcoap() {
            Ok((c, a)) => {
                spawned.push(c);
                targets.push(("libcoap coap-server".into(), a));
            }
            Err(e) => {
                eprintln!("coap-bench: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    for t in &args.targets {
        let (name, addr) = t.split_once('=').unwrap_or((t, t));
        let addr = addr.trim_start_matches("coap://").trim_end_matches('/');
        match addr.parse::<SocketAddr>() {
            Ok(a) => targets.push((name.to_owned(), a)),
            Err(e) => {
                eprintln!("coap-bench: {addr}: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    if targets.is_empty() {
        eprintln!("coap-bench: no target (give host:port, --spawn-ours or --spawn-libcoap)");
        return std::process::ExitCode::from(2);
    }
    println!(
        "W={} outstanding CON GET {}, {} source ports, {:.1} s per target after {:.1} s warm-up",
        args.concurrency, args.path, args.ports, args.duration, args.warmup
    );
    println!("| round | target | requests/s | p50 µs | p99 µs | lost | error responses |");
    println!("|---|---|---|---|---|---|---|");
    for round in 1..=args.rounds.max(1) {
        for (name, addr) in &targets {
            if let Err(e) = load(*addr, &args, Duration::from_secs_f64(args.warmup)) {
                eprintln!("coap-bench: {name} ({addr}): {e}");
                return std::process::ExitCode::from(2);
            }
            let mut o = match load(*addr, &args, Duration::from_secs_f64(args.duration)) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("coap-bench: {name} ({addr}): {e}");
                    return std::process::ExitCode::from(2);
                }
            };
            o.latencies_us.sort_unstable();
            let rps = o.completed as f64 / o.elapsed.as_secs_f64();
            println!(
                "| {round} | {name} | {rps:.0} | {} | {} | {} | {} |",
                percentile(&o.latencies_us, 0.50),
                percentile(&o.latencies_us, 0.99),
                o.lost,
                o.errors
            );
        }
    }
    drop(spawned);
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_encodes_uri_path_options() {
        let r = request("/a/bb", 0x1234, 7);
        assert_eq!(
            r,
            [0x44, 0x01, 0x12, 0x34, 0, 0, 0, 7, 0xb1, b'a', 0x02, b'b', b'b']
        );
        let m = coap_codec::Message::decode(&r[..]).unwrap();
        assert_eq!(m.options().path().unwrap(), "/a/bb");
        assert_eq!(request("/", 1, 1).len(), 8);
    }
}
