//! `coap-server`: a CoAP server with libcoap-style flags serving the
//! brief's `/basic` resource, libcoap's `/time` and the ETSI plugtest set.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use coap_endpoint::tokio::Server;
use coap_endpoint::Config;
use m2m_examples::coap_resources::{self, Options};

/// A CoAP server (RFC 7252) serving /basic (the CoAPthon BasicResource),
/// /time (as libcoap's coap-server) and the ETSI CoAP plugtest resources
/// (/test, /seg1/seg2/seg3, /query, /separate, /location-query,
/// /multi-format, /validate, /create1, /link1-3, /path/sub1-3, and for
/// Observe and block-wise transfer /obs, /obs-non, /obs-large, /obs-reset,
/// /large, /large-update, /large-create, /large-post, /large-stream).
/// Stops gracefully on Ctrl-C.
///
/// Block1 uploads are reassembled before the resource sees them (atomic,
/// RFC 7959 §2.5), except at /large-stream, which takes a PUT body block by
/// block (non-atomic): each block is stored at its offset as it arrives and
/// answered 2.31 Continue, the last one 2.04 Changed; a GET meanwhile sees
/// the part received so far. Copies of blocks are not stored twice, a block
/// out of order gets 4.08, a body over 1 MiB 4.13 with Size1, and block 0
/// of a second upload (another client or Request-Tag) while one is in
/// progress 5.03 with Max-Age. /basic notifies its observers when a PUT
/// changes it.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Local address to listen on (IPv4 or IPv6 literal).
    #[arg(short = 'A', long = "address", default_value = "::")]
    address: IpAddr,
    /// UDP port to listen on (0 picks a free one; the bound address is
    /// printed on stdout).
    #[arg(short = 'p', long = "port", default_value_t = 5683)]
    port: u16,
    /// Verbosity, as libcoap: 0-3 errors only, 4 warnings, 5-6 info,
    /// 7 debug, 8 trace (RUST_LOG overrides).
    #[arg(short = 'v', long = "verbose", default_value_t = 4)]
    verbosity: u8,
    /// Also answer requests sent to this multicast group (e.g. 224.0.1.187
    /// or ff02::fd, "All CoAP Nodes"), after a random leisure; error
    /// responses to multicast requests are never sent. Needs -A to be a
    /// specific address when the group port equals -p.
    #[arg(short = 'g', long = "group")]
    group: Option<IpAddr>,
    /// UDP port of the multicast group (default: the -p port). Several
    /// servers on one host can share it.
    #[arg(long = "group-port")]
    group_port: Option<u16>,
    /// Maximum number of resources clients may create with POST.
    #[arg(short = 'd', long = "max-dynamic", default_value_t = 100)]
    max_dynamic: usize,
    /// Milliseconds the application may take before the server sends an
    /// empty ACK and answers with a separate response.
    #[arg(long = "separate-delay-ms", default_value_t = 1000)]
    separate_delay_ms: u64,
    /// Milliseconds /separate takes to answer.
    #[arg(long = "separate-after-ms", default_value_t = 1500)]
    separate_after_ms: u64,
    /// DEFAULT_LEISURE in milliseconds: the longest a multicast response waits.
    #[arg(long = "leisure-ms", default_value_t = 5000)]
    leisure_ms: u64,
    /// Maximum requests being handled at once; beyond, CON requests get 5.03.
    #[arg(long = "max-incoming", default_value_t = 4096)]
    max_incoming: usize,
    /// Serve from a dedicated thread with a blocking socket (one receive
    /// and one send per request; 5 ms timer resolution; not with -g).
    #[arg(long = "blocking", conflicts_with = "group")]
    blocking: bool,
    /// Entries of the duplicate-detection cache (oldest evicted first).
    #[arg(long = "dedup-entries", default_value_t = 65_536)]
    dedup_entries: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    m2m_examples::init_logging(args.verbosity);
    let mut config = Config::default();
    config.separate_response_delay = Duration::from_millis(args.separate_delay_ms);
    config.default_leisure = Duration::from_millis(args.leisure_ms);
    config.max_incoming = args.max_incoming;
    config.max_dedup_entries = args.dedup_entries;
    let mut server = Server::bind_with(SocketAddr::new(args.address, args.port), config).await?;
    if let Some(group) = args.group {
        let port = args.group_port.unwrap_or(server.local_addr().port());
        match group {
            IpAddr::V4(g) => {
                server
                    .join_multicast_v4(g, port, Ipv4Addr::UNSPECIFIED)
                    .await?
            }
            IpAddr::V6(g) => server.join_multicast_v6(g, port, 0).await?,
        }
    }
    let opts = Options {
        max_dynamic: args.max_dynamic,
        separate_after: Duration::from_millis(args.separate_after_ms),
    };
    let handle = server.handle();
    coap_resources::install(server.router(), handle.clone(), &opts);
    m2m_examples::coap_observe_block::install(server.router(), handle);
    println!("coap-server listening on {}", server.local_addr());
    tracing::info!(addr = %server.local_addr(), "listening");
    if args.blocking {
        let stop = server.handle();
        let task = tokio::task::spawn_blocking(move || server.run_blocking());
        tokio::pin!(task);
        tokio::select! {
            r = &mut task => return r.map_err(std::io::Error::other)?,
            _ = tokio::signal::ctrl_c() => stop.shutdown(),
        }
        return task.await.map_err(std::io::Error::other)?;
    }
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
