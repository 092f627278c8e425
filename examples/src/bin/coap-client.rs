//! `coap-client`: a CoAP client with libcoap-style flags.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use coap_codec::{Block, Code, ContentFormat, Message, MessageType, OptionNumber, Token};
use coap_endpoint::tokio::Client;

/// Sends one CoAP request (RFC 7252) and prints the response payload on
/// stdout. Exits 0 on a 2.xx response, 1 on an error response, 2 on a
/// timeout, reset or usage error. A multicast URI (e.g.
/// coap://224.0.1.187/.well-known/core) collects every answer for -B seconds.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The URI, e.g. coap://127.0.0.1:5683/basic?x=1 (IPv6 literals such as `coap://[::1]/` work).
    uri: String,
    /// Method: get, post, put, delete, fetch, patch or ipatch.
    #[arg(short = 'm', long = "method", default_value = "get")]
    method: String,
    /// Payload text.
    #[arg(short = 'e', long = "payload", conflicts_with = "file")]
    payload: Option<String>,
    /// Read the payload from this file ("-" for stdin).
    #[arg(short = 'f', long = "file")]
    file: Option<String>,
    /// Content-Format of the payload: a number or a name (text, json, cbor, xml, link...).
    #[arg(short = 't', long = "content-format")]
    content_format: Option<String>,
    /// Accept: the Content-Format wanted in the response (number or name).
    #[arg(short = 'A', long = "accept")]
    accept: Option<String>,
    /// Send a non-confirmable (NON) request instead of CON.
    #[arg(short = 'N', long = "non")]
    non: bool,
    /// Token to use (up to 8 bytes; "0x..." for hex). Default: a random one.
    #[arg(short = 'T', long = "token")]
    token: Option<String>,
    /// Add option NUM with VALUE ("num,text", "num,0xHEX"); repeatable.
    #[arg(short = 'O', long = "option")]
    options: Vec<String>,
    /// Seconds to wait for the response (or to collect multicast answers).
    #[arg(short = 'B', long = "wait", default_value_t = 90)]
    wait: u64,
    /// Write the response payload to this file instead of stdout.
    #[arg(short = 'o', long = "output")]
    output: Option<String>,
    /// Local address to send from.
    #[arg(short = 'a', long = "local", default_value = "0.0.0.0:0")]
    local: String,
    /// Observe the resource for this many seconds (RFC 7641), printing each
    /// notification on its own line; then deregister (Observe 1).
    #[arg(short = 's', long = "subscribe")]
    subscribe: Option<u64>,
    /// Block size for block-wise transfers, `[num,]size` as libcoap:
    /// size 16-1024 (a power of two), num the first Block2 block to ask for
    /// (RFC 7959). Large payloads are sent in Block1 blocks of this size.
    #[arg(short = 'b', long = "block", value_parser = block_arg)]
    block: Option<(u32, u8)>,
    /// Verbosity, as libcoap: 0-3 errors, 4 warnings, 5-6 info, 7 debug, 8 trace.
    #[arg(short = 'v', long = "verbose", default_value_t = 4)]
    verbosity: u8,
}

fn content_format(s: &str) -> Result<ContentFormat, String> {
    s.parse::<u16>()
        .map(ContentFormat)
        .ok()
        .or_else(|| ContentFormat::from_name(s))
        .or_else(|| ContentFormat::from_media_type(s))
        .ok_or_else(|| format!("unknown content format {s:?}"))
}

/// `[num,]size` → (num, szx).
fn block_arg(s: &str) -> Result<(u32, u8), String> {
    let (num, size) = match s.split_once(',') {
        Some((n, z)) => (n.trim().parse::<u32>().map_err(|e| e.to_string())?, z),
        None => (0, s),
    };
    let size: usize = size
        .trim()
        .parse()
        .map_err(|e| format!("block size: {e}"))?;
    if !(16..=1024).contains(&size) || !size.is_power_of_two() {
        return Err(format!(
            "block size {size} is not a power of two in 16..=1024"
        ));
    }
    if num > Block::MAX_NUM {
        return Err(format!("block number {num} exceeds 20 bits"));
    }
    Ok((num, Block::size_to_szx(size)))
}

fn bytes_arg(s: &str) -> Result<Vec<u8>, String> {
    match s.strip_prefix("0x") {
        Some(hex) if hex.len() % 2 == 0 && hex.is_ascii() => (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| e.to_string()))
            .collect(),
        Some(_) => Err(format!("odd number of hex digits in {s:?}")),
        None => Ok(s.as_bytes().to_vec()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    m2m_examples::init_logging(args.verbosity);
    match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("coap-client: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let method = Code::from_method_name(&args.method.to_ascii_uppercase())
        .or_else(|| Code::from_method_name(&args.method))
        .ok_or_else(|| format!("unknown method {:?}", args.method))?;
    let (peer, mut msg) = Client::prepare(method, &args.uri)
        .await
        .map_err(|e| format!("{e}: {}", args.uri))?;
    if args.non {
        msg.message_type = MessageType::NonConfirmable;
    }
    let payload = match (&args.payload, &args.file) {
        (Some(p), _) => Bytes::from(p.clone().into_bytes()),
        (None, Some(f)) if f == "-" => {
            let mut v = Vec::new();
            std::io::stdin()
                .read_to_end(&mut v)
                .map_err(|e| format!("stdin: {e}"))?;
            v.into()
        }
        (None, Some(f)) => std::fs::read(f).map_err(|e| format!("{f}: {e}"))?.into(),
        (None, None) => Bytes::new(),
    };
    if let Some(cf) = &args.content_format {
        msg = msg.content_format(content_format(cf)?);
    }
    if let Some(a) = &args.accept {
        msg = msg.accept(content_format(a)?);
    }
    for o in &args.options {
        let (num, value) = o
            .split_once(',')
            .ok_or_else(|| format!("-O wants num,value: {o:?}"))?;
        let num: u16 = num
            .trim()
            .parse()
            .map_err(|_| format!("bad option number in {o:?}"))?;
        msg.add_option(OptionNumber(num), &bytes_arg(value)?);
    }
    let mut msg = msg.payload(payload);
    let mut config = coap_endpoint::Config::default();
    config.response_timeout = Duration::from_secs(args.wait);
    if let Some((num, szx)) = args.block {
        config.block_szx = szx;
        if method == Code::GET || method == Code::FETCH {
            // RFC 7959 §2.4 early negotiation: ask for this block size.
            if let Some(b) = Block::new(num, false, szx) {
                msg = msg.block2(b);
            }
        }
    }
    let local = if peer.is_ipv6() && args.local == "0.0.0.0:0" {
        "[::]:0".to_owned()
    } else {
        args.local.clone()
    };
    let client = Client::bind_with(local.as_str(), config)
        .await
        .map_err(|e| format!("bind {local}: {e}"))?;
    let wait = Duration::from_secs(args.wait);
    if peer.ip().is_multicast() {
        let answers = client
            .multicast(peer, msg, wait)
            .await
            .map_err(|e| e.to_string())?;
        for (from, m) in &answers {
            println!(
                "{from}: {} {}",
                m.code(),
                String::from_utf8_lossy(m.payload())
            );
        }
        return Ok(if answers.is_empty() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        });
    }
    if let Some(secs) = args.subscribe {
        return observe(&client, peer, msg, Duration::from_secs(secs), wait).await;
    }
    let fut = async {
        match &args.token {
            Some(t) => {
                let mut m = msg;
                let bytes = bytes_arg(t)?;
                m.token = Token::new(&bytes).ok_or("a token is at most 8 bytes")?;
                client
                    .send_with_token(peer, m)
                    .await
                    .map_err(|e| e.to_string())
            }
            None => client.send(peer, msg).await.map_err(|e| e.to_string()),
        }
    };
    let response = tokio::time::timeout(wait, fut)
        .await
        .map_err(|_| "no response in time".to_owned())??;
    output(&args, peer, &response)
}

/// `-s`: prints every notification for `duration`, then deregisters.
async fn observe(
    client: &Client,
    peer: SocketAddr,
    msg: coap_codec::MessageBuilder,
    duration: Duration,
    wait: Duration,
) -> Result<ExitCode, String> {
    let mut obs = client.observe(peer, msg).await.map_err(|e| e.to_string())?;
    let first = tokio::time::timeout(wait, obs.next())
        .await
        .map_err(|_| "no response in time".to_owned())?
        .ok_or("observation failed")?;
    print_notification(&first);
    if first.code().is_error() {
        eprintln!("{}", first.code());
        return Ok(ExitCode::from(1));
    }
    let end = tokio::time::Instant::now() + duration;
    loop {
        match tokio::time::timeout_at(end, obs.next()).await {
            Ok(Some(n)) => print_notification(&n),
            Ok(None) => return Ok(ExitCode::SUCCESS),
            Err(_) => break,
        }
    }
    obs.cancel();
    // The deregistration's response ends the stream; do not wait long.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while obs.next().await.is_some() {}
    })
    .await;
    Ok(ExitCode::SUCCESS)
}

fn print_notification(m: &Message<Bytes>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(m.payload());
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

fn output(args: &Args, peer: SocketAddr, r: &Message<Bytes>) -> Result<ExitCode, String> {
    tracing::info!(%peer, code = %r.code(), "response");
    match &args.output {
        Some(path) => std::fs::write(path, r.payload()).map_err(|e| format!("{path}: {e}"))?,
        None if !r.payload().is_empty() => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(r.payload());
            let _ = out.write_all(b"\n");
        }
        None => {}
    }
    if r.code().is_error() {
        eprintln!("{}", r.code());
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
