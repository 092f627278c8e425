//! `mqtt-load`: a load generator that measures any MQTT broker the same
//! way: fan-in and fan-out throughput at QoS 0 and 1 with the loss counted,
//! end-to-end latency at a fixed offered rate, connection rate, and the
//! broker's memory per idle connection.
//!
//! ```text
//! $ mqtt-load -p 1883 fan-in --publishers 4 --qos 1 --count 200000
//! $ mqtt-load -p 1883 fan-out --subscribers 4 --qos 0 --count 50000
//! $ mqtt-load -p 1883 latency --rate 5000 --secs 5 --qos 1
//! $ mqtt-load -p 1883 conn-rate --count 5000 --concurrency 32
//! $ mqtt-load -p 1883 idle --count 3000 --pid $(pidof mosquitto)
//! ```
//!
//! It speaks MQTT 3.1.1 with frames it builds itself (no client library in
//! the hot path), so that it costs little CPU next to the broker under test.
//! Every case ends with one `RESULT key=value ...` line for scripts
//! (`scripts/broker-compare.sh` builds its table from them).
//!
//! Throughput is what the subscribers receive per second, from the moment
//! the publishers start to the last message received. A QoS 0 publisher
//! writes as fast as the broker reads; a QoS 1 publisher keeps at most
//! `--inflight` messages unacknowledged. The loss is what was published
//! (written, and for QoS 1 acknowledged) but never received.
//!
//! The latency payload starts with the send time in nanoseconds since the
//! start of the run; publisher and subscriber share the process clock.
#![allow(clippy::disallowed_methods)] // a load generator reads the clock
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use clap::{Args, Parser, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Measure an MQTT broker: throughput, loss, latency, connection rate and
/// memory per idle connection.
#[derive(Parser, Debug)]
#[command(name = "mqtt-load")]
struct Cli {
    /// Broker host.
    #[arg(long = "host", default_value = "127.0.0.1", global = true)]
    host: String,
    /// Broker port.
    #[arg(short = 'p', long = "port", default_value_t = 1883, global = true)]
    port: u16,
    /// Worker threads of the load generator.
    #[arg(long = "threads", default_value_t = 1, global = true)]
    threads: usize,
    /// The case to run.
    #[command(subcommand)]
    case: Case,
}

#[derive(Subcommand, Debug)]
enum Case {
    /// Several publishers, one subscriber on `#` below their topics.
    FanIn {
        /// Publishing connections, each on its own topic.
        #[arg(long = "publishers", default_value_t = 4)]
        publishers: usize,
        #[command(flatten)]
        flow: Flow,
    },
    /// One publisher, several subscribers on its topic.
    FanOut {
        /// Subscribing connections.
        #[arg(long = "subscribers", default_value_t = 4)]
        subscribers: usize,
        #[command(flatten)]
        flow: Flow,
    },
    /// One publisher at a fixed rate, one subscriber: p50/p99 end-to-end latency.
    Latency {
        /// Messages per second offered.
        #[arg(long = "rate", default_value_t = 5000)]
        rate: u64,
        /// Seconds to run.
        #[arg(long = "secs", default_value_t = 5)]
        secs: u64,
        /// Quality of service (0 or 1).
        #[arg(short = 'q', long = "qos", default_value_t = 0)]
        qos: u8,
        /// Payload size in bytes (at least 8: the send time).
        #[arg(short = 's', long = "size", default_value_t = 64)]
        size: usize,
    },
    /// Connections opened, CONNECT answered by CONNACK, and closed, per second.
    ConnRate {
        /// Connections in total.
        #[arg(long = "count", default_value_t = 5000)]
        count: usize,
        /// Connections being set up at once.
        #[arg(long = "concurrency", default_value_t = 32)]
        concurrency: usize,
    },
    /// Open idle connections and report the broker's RSS growth per connection
    /// (from /proc/PID/status).
    Idle {
        /// Idle connections to open (raise `ulimit -n` for the broker and this tool).
        #[arg(long = "count", default_value_t = 3000)]
        count: usize,
        /// Process id of the broker.
        #[arg(long = "pid")]
        pid: u32,
        /// Milliseconds to wait before reading the RSS again.
        #[arg(long = "settle-ms", default_value_t = 1000)]
        settle_ms: u64,
    },
}

#[derive(Args, Debug, Clone, Copy)]
struct Flow {
    /// Quality of service (0 or 1).
    #[arg(short = 'q', long = "qos", default_value_t = 0)]
    qos: u8,
    /// Messages published in total (fan-in: split between the publishers).
    #[arg(short = 'n', long = "count", default_value_t = 100_000)]
    count: u64,
    /// Payload size in bytes.
    #[arg(short = 's', long = "size", default_value_t = 64)]
    size: usize,
    /// Most unacknowledged QoS 1 messages per publisher.
    #[arg(long = "inflight", default_value_t = 100)]
    inflight: usize,
    /// Seconds without a message, after the publishers finished, before the
    /// rest counts as lost.
    #[arg(long = "quiet-secs", default_value_t = 3)]
    quiet_secs: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mqtt-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mqtt-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> io::Result<()> {
    let addr = format!("{}:{}", cli.host, cli.port);
    let tag = format!("ld{}", std::process::id());
    match cli.case {
        Case::FanIn { publishers, flow } => fan(&addr, &tag, publishers.max(1), 1, flow).await,
        Case::FanOut { subscribers, flow } => fan(&addr, &tag, 1, subscribers.max(1), flow).await,
        Case::Latency {
            rate,
            secs,
            qos,
            size,
        } => latency(&addr, &tag, rate.max(1), secs, qos.min(1), size.max(8)).await,
        Case::ConnRate { count, concurrency } => conn_rate(&addr, &tag, count, concurrency).await,
        Case::Idle {
            count,
            pid,
            settle_ms,
        } => idle(&addr, &tag, count, pid, settle_ms).await,
    }
}

// ---------------------------------------------------------------- frames

fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        buf.push(b);
        if n == 0 {
            return;
        }
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u16).to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// CONNECT, MQTT 3.1.1, clean session.
fn connect_frame(client_id: &str, keep_alive: u16) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02];
    body.extend_from_slice(&keep_alive.to_be_bytes());
    put_str(&mut body, client_id);
    let mut f = vec![0x10];
    put_len(&mut f, body.len());
    f.extend_from_slice(&body);
    f
}

fn subscribe_frame(filter: &str, qos: u8) -> Vec<u8> {
    let mut body = vec![0, 1];
    put_str(&mut body, filter);
    body.push(qos);
    let mut f = vec![0x82];
    put_len(&mut f, body.len());
    f.extend_from_slice(&body);
    f
}

fn put_publish(buf: &mut Vec<u8>, topic: &str, qos: u8, pid: u16, payload: &[u8]) {
    buf.push(0x30 | (qos << 1));
    let len = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + payload.len();
    put_len(buf, len);
    put_str(buf, topic);
    if qos > 0 {
        buf.extend_from_slice(&pid.to_be_bytes());
    }
    buf.extend_from_slice(payload);
}

const DISCONNECT: [u8; 2] = [0xe0, 0];

/// Whole frames from a socket: (first byte, body).
struct Frames {
    r: OwnedReadHalf,
    buf: BytesMut,
}

impl Frames {
    fn new(r: OwnedReadHalf) -> Self {
        Self {
            r,
            buf: BytesMut::with_capacity(64 * 1024),
        }
    }

    /// A frame already buffered.
    fn buffered(&mut self) -> Option<(u8, BytesMut)> {
        let mut len = 0usize;
        let mut i = 1;
        loop {
            let b = *self.buf.get(i)?;
            len |= usize::from(b & 0x7f) << (7 * (i - 1));
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            if i > 4 {
                return None;
            }
        }
        if self.buf.len() < i + len {
            return None;
        }
        let first = self.buf[0];
        self.buf.advance(i);
        Some((first, self.buf.split_to(len)))
    }

    /// Reads more bytes; `false` at EOF.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(64 * 1024);
        }
        Ok(self.r.read_buf(&mut self.buf).await? > 0)
    }

    async fn next(&mut self) -> io::Result<(u8, BytesMut)> {
        loop {
            if let Some(f) = self.buffered() {
                return Ok(f);
            }
            if !self.fill().await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

/// Connects and completes CONNECT/CONNACK.
async fn open(
    addr: &str,
    client_id: &str,
    keep_alive: u16,
) -> io::Result<(Frames, OwnedWriteHalf)> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let (r, mut w) = s.into_split();
    w.write_all(&connect_frame(client_id, keep_alive)).await?;
    let mut frames = Frames::new(r);
    let (first, body) = frames.next().await?;
    if first != 0x20 || body.get(1) != Some(&0) {
        return Err(io::Error::other(format!(
            "CONNECT refused: {first:#04x} {body:02x?}"
        )));
    }
    Ok((frames, w))
}

async fn subscribe(
    addr: &str,
    client_id: &str,
    filter: &str,
    qos: u8,
) -> io::Result<(Frames, OwnedWriteHalf)> {
    let (mut frames, mut w) = open(addr, client_id, 60).await?;
    w.write_all(&subscribe_frame(filter, qos)).await?;
    loop {
        let (first, body) = frames.next().await?;
        if first == 0x90 {
            if body.get(2).is_some_and(|&c| c >= 0x80) {
                return Err(io::Error::other("SUBSCRIBE refused"));
            }
            return Ok((frames, w));
        }
    }
}

// ---------------------------------------------------------------- throughput

/// What one subscriber saw.
struct Received {
    count: u64,
    last: Option<Instant>,
    /// End-to-end latencies in nanoseconds (latency case only).
    latencies: Vec<u64>,
}

/// Receives until `expected` messages arrived, or the publishers are done
/// and nothing came for `quiet`. QoS 1 messages are acknowledged.
async fn receive(
    mut frames: Frames,
    mut w: OwnedWriteHalf,
    expected: u64,
    quiet: Duration,
    done: Arc<AtomicBool>,
    base: Option<Instant>,
) -> io::Result<Received> {
    let mut got = Received {
        count: 0,
        last: None,
        latencies: Vec::new(),
    };
    let mut acks = Vec::with_capacity(4096);
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while got.count < expected && Instant::now() < deadline {
        while let Some((first, body)) = frames.buffered() {
            if first >> 4 != 3 {
                continue;
            }
            let qos = (first >> 1) & 3;
            let tlen = usize::from(u16::from_be_bytes([body[0], body[1]]));
            let mut at = 2 + tlen;
            if qos > 0 {
                acks.extend_from_slice(&[0x40, 2, body[at], body[at + 1]]);
                at += 2;
            }
            got.count += 1;
            if let (Some(base), Some(ts)) = (base, body.get(at..at + 8)) {
                let sent = u64::from_be_bytes(ts.try_into().unwrap_or_default());
                let now = base.elapsed().as_nanos() as u64;
                got.latencies.push(now.saturating_sub(sent));
            }
        }
        if !acks.is_empty() {
            w.write_all(&acks).await?;
            acks.clear();
        }
        if got.count > seen {
            seen = got.count;
            got.last = Some(Instant::now());
        }
        if got.count >= expected {
            break;
        }
        match tokio::time::timeout(quiet, frames.fill()).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => break,
            Ok(Err(e)) => {
                eprintln!("mqtt-load: subscriber: {e}");
                break;
            }
            Err(_) if done.load(Ordering::Acquire) => break,
            Err(_) => {}
        }
    }
    let _ = w.write_all(&DISCONNECT).await;
    Ok(got)
}

/// Publishes `count` messages on `topic`; returns how many were written
/// (QoS 0) or acknowledged (QoS 1).
async fn publish(
    addr: String,
    client_id: String,
    topic: String,
    flow: Flow,
    count: u64,
    pace: Option<u64>,
    base: Instant,
) -> io::Result<u64> {
    let (mut frames, mut w) = open(&addr, &client_id, 60).await?;
    let qos = flow.qos;
    let mut payload = vec![b'x'; flow.size.max(8)];
    let window = Arc::new(Semaphore::new(flow.inflight.max(1)));
    let acked = Arc::new(AtomicU64::new(0));
    let acker = (qos > 0).then(|| {
        let window = window.clone();
        let acked = acked.clone();
        tokio::spawn(async move {
            while acked.load(Ordering::Relaxed) < count {
                match frames.next().await {
                    Ok((0x40, _)) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                        window.add_permits(1);
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        })
    });
    let mut batch = Vec::with_capacity(64 * 1024);
    let mut sent = 0u64;
    let start = Instant::now();
    while sent < count {
        let mut room = count - sent;
        if let Some(rate) = pace {
            let due = (start.elapsed().as_nanos() as u64).saturating_mul(rate) / 1_000_000_000;
            if due <= sent {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            room = room.min(due - sent);
        }
        let mut n = 0u64;
        while n < room && batch.len() < 32 * 1024 {
            if qos > 0 {
                let permit = if n == 0 {
                    window.acquire().await
                } else {
                    match window.try_acquire() {
                        Ok(p) => Ok(p),
                        Err(_) => break,
                    }
                };
                permit.map_err(io::Error::other)?.forget();
            }
            let ts = base.elapsed().as_nanos() as u64;
            payload[..8].copy_from_slice(&ts.to_be_bytes());
            let pid = ((sent + n) % 65_535) as u16 + 1;
            put_publish(&mut batch, &topic, qos, pid, &payload);
            n += 1;
        }
        w.write_all(&batch).await?;
        batch.clear();
        sent += n;
    }
    if let Some(a) = acker {
        let _ = tokio::time::timeout(Duration::from_secs(60), a).await;
        sent = acked.load(Ordering::Relaxed);
    }
    let _ = w.write_all(&DISCONNECT).await;
    Ok(sent)
}

async fn fan(addr: &str, tag: &str, pubs: usize, subs: usize, flow: Flow) -> io::Result<()> {
    let case = if subs == 1 { "fan-in" } else { "fan-out" };
    let root = format!("{tag}/{case}");
    let filter = if subs == 1 {
        format!("{root}/#")
    } else {
        format!("{root}/0")
    };
    let per_pub = flow.count / pubs as u64;
    let published_total = per_pub * pubs as u64;
    let done = Arc::new(AtomicBool::new(false));
    let quiet = Duration::from_secs(flow.quiet_secs.max(1));
    let mut receivers = Vec::new();
    for i in 0..subs {
        let (frames, w) = subscribe(addr, &format!("{tag}-s{i}"), &filter, flow.qos).await?;
        receivers.push(tokio::spawn(receive(
            frames,
            w,
            published_total,
            quiet,
            done.clone(),
            None,
        )));
    }
    let base = Instant::now();
    let mut publishers = Vec::new();
    for i in 0..pubs {
        publishers.push(tokio::spawn(publish(
            addr.to_owned(),
            format!("{tag}-p{i}"),
            format!("{root}/{i}"),
            flow,
            per_pub,
            None,
            base,
        )));
    }
    let mut published = 0;
    for p in publishers {
        published += p.await.map_err(io::Error::other)??;
    }
    let pub_secs = base.elapsed().as_secs_f64();
    done.store(true, Ordering::Release);
    let mut received = 0;
    let mut last = base;
    for r in receivers {
        let got = r.await.map_err(io::Error::other)??;
        received += got.count;
        last = last.max(got.last.unwrap_or(base));
    }
    let expected = published * subs as u64;
    let lost = expected.saturating_sub(received);
    let secs = (last - base).as_secs_f64().max(1e-9);
    let rate = received as f64 / secs;
    println!(
        "{case} QoS {}: {pubs} publisher(s) → {subs} subscriber(s), {} B payloads: \
         published {published} in {pub_secs:.2} s, received {received} of {expected} \
         (lost {lost}, {:.2} %) in {secs:.2} s: {rate:.0} msg/s",
        flow.qos,
        flow.size,
        lost as f64 * 100.0 / expected.max(1) as f64
    );
    println!(
        "RESULT case={case} qos={} publishers={pubs} subscribers={subs} published={published} \
         expected={expected} received={received} lost={lost} secs={secs:.3} rate={rate:.0}",
        flow.qos
    );
    Ok(())
}

// ---------------------------------------------------------------- latency

async fn latency(
    addr: &str,
    tag: &str,
    rate: u64,
    secs: u64,
    qos: u8,
    size: usize,
) -> io::Result<()> {
    let topic = format!("{tag}/latency");
    let count = rate * secs;
    let done = Arc::new(AtomicBool::new(false));
    let (frames, w) = subscribe(addr, &format!("{tag}-ls"), &topic, qos).await?;
    let base = Instant::now();
    let rx = tokio::spawn(receive(
        frames,
        w,
        count,
        Duration::from_secs(3),
        done.clone(),
        Some(base),
    ));
    let flow = Flow {
        qos,
        count,
        size,
        inflight: 1000,
        quiet_secs: 3,
    };
    let published = publish(
        addr.to_owned(),
        format!("{tag}-lp"),
        topic,
        flow,
        count,
        Some(rate),
        base,
    )
    .await?;
    done.store(true, Ordering::Release);
    let got = rx.await.map_err(io::Error::other)??;
    let mut l = got.latencies;
    // The first tenth warms up connections and caches.
    let skip = l.len() / 10;
    l.drain(..skip);
    l.sort_unstable();
    let pct = |p: f64| -> f64 {
        if l.is_empty() {
            return f64::NAN;
        }
        let i = ((l.len() as f64 - 1.0) * p).round() as usize;
        l[i] as f64 / 1000.0
    };
    let (p50, p99, max) = (pct(0.5), pct(0.99), pct(1.0));
    let lost = published.saturating_sub(got.count);
    println!(
        "latency QoS {qos} at {rate} msg/s for {secs} s: received {} of {published} (lost {lost}); \
         p50 {p50:.0} µs, p99 {p99:.0} µs, max {max:.0} µs",
        got.count
    );
    println!(
        "RESULT case=latency qos={qos} rate={rate} published={published} received={} lost={lost} \
         p50_us={p50:.0} p99_us={p99:.0} max_us={max:.0}",
        got.count
    );
    Ok(())
}

// ---------------------------------------------------------------- connections

async fn conn_rate(addr: &str, tag: &str, count: usize, concurrency: usize) -> io::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (next, failed, addr, tag) = (
            next.clone(),
            failed.clone(),
            addr.to_owned(),
            tag.to_owned(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count as u64 {
                    return;
                }
                match open(&addr, &format!("{tag}-c{i}"), 60).await {
                    Ok((_frames, mut w)) => {
                        let _ = w.write_all(&DISCONNECT).await;
                    }
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("mqtt-load: connect: {e}");
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.map_err(io::Error::other)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::Relaxed);
    let ok = count as u64 - failed;
    let rate = ok as f64 / secs;
    println!(
        "conn-rate: {ok} CONNECT/CONNACK of {count} ({failed} failed), {concurrency} at once, \
         in {secs:.2} s: {rate:.0} connections/s"
    );
    println!(
        "RESULT case=conn-rate count={count} ok={ok} failed={failed} secs={secs:.3} rate={rate:.0}"
    );
    Ok(())
}

fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS"))
}

async fn idle(addr: &str, tag: &str, count: usize, pid: u32, settle_ms: u64) -> io::Result<()> {
    let before = rss_kib(pid)?;
    let mut conns = Vec::with_capacity(count);
    let mut pending = tokio::task::JoinSet::new();
    let mut i = 0;
    // At most 64 handshakes at once, as clients arriving in a burst.
    while conns.len() < count {
        while i < count && pending.len() < 64 {
            let (addr, id) = (addr.to_owned(), format!("{tag}-idle{i}"));
            pending.spawn(async move { open(&addr, &id, 60).await });
            i += 1;
        }
        match pending.join_next().await {
            Some(r) => conns.push(r.map_err(io::Error::other)??),
            None => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(settle_ms)).await;
    let after = rss_kib(pid)?;
    let per = (after.saturating_sub(before) * 1024) as f64 / count as f64;
    println!(
        "idle: {count} connections (MQTT 3.1.1, keep-alive 60 s): broker RSS {before} KiB → \
         {after} KiB, {per:.0} bytes per connection"
    );
    println!(
        "RESULT case=idle count={count} rss_before_kib={before} rss_after_kib={after} bytes_per_conn={per:.0}"
    );
    for (_, mut w) in conns {
        let _ = w.write_all(&DISCONNECT).await;
    }
    Ok(())
}
