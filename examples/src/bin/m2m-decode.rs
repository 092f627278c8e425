//! `m2m-decode`: decode CoAP messages (UDP, TCP or WebSocket framing) and
//! MQTT-SN datagrams and print every field, the way a protocol analyser
//! would.
//!
//! ```text
//! $ m2m-decode 4101adbe0172b773656e736f72730474656d70
//! $ echo 62453001724bc128ff3c2f3e3b63743d30 | m2m-decode
//! $ m2m-decode --protocol coap-tcp --file capture.bin
//! $ m2m-decode --protocol mqttsn 0f0a000000017061726b2f612f3132
//! ```

use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;

use bytes::{Bytes, BytesMut};
use clap::{Parser, ValueEnum};
use coap_codec::{link_format, tcp, ContentFormat, Message};

/// Decode M2M protocol messages from hex or a binary file and print them.
///
/// Each hex argument (or, with none, each line of standard input) is one
/// message; spaces and colons inside the hex are ignored. Exits with status
/// 1 if any message fails to decode, after printing why and where.
#[derive(Parser, Debug)]
#[command(name = "m2m-decode", version, about, long_about = None)]
struct Cli {
    /// Wire format of the input.
    #[arg(short, long, value_enum, default_value_t = Protocol::Coap)]
    protocol: Protocol,

    /// Read raw bytes from this file instead of hex (`-` for standard
    /// input). For `coap` the file is one datagram; for `coap-tcp` a stream
    /// of frames.
    #[arg(short, long, value_name = "FILE")]
    file: Option<String>,

    /// Messages as hex strings.
    #[arg(value_name = "HEX")]
    hex: Vec<String>,
}

/// Supported wire formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Protocol {
    /// CoAP over UDP (RFC 7252): one datagram per message.
    Coap,
    /// CoAP over TCP/TLS (RFC 8323 §3.2): a stream of length-prefixed frames.
    CoapTcp,
    /// CoAP over WebSockets (RFC 8323 §4.2): one WebSocket message each.
    CoapWs,
    /// MQTT-SN v1.2: one datagram, plain or in a forwarder encapsulation.
    Mqttsn,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let inputs = match read_inputs(&cli) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("m2m-decode: {e}");
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    let mut out = io::stdout().lock();
    for (i, data) in inputs.into_iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out);
        }
        if let Err(e) = decode(cli.protocol, data, &mut out) {
            let _ = out.flush();
            eprintln!("m2m-decode: message {}: {e}", i + 1);
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn read_inputs(cli: &Cli) -> Result<Vec<Bytes>, String> {
    if let Some(f) = &cli.file {
        let mut v = Vec::new();
        if f == "-" {
            io::stdin().read_to_end(&mut v).map_err(|e| e.to_string())?;
        } else {
            v = std::fs::read(f).map_err(|e| format!("{f}: {e}"))?;
        }
        return Ok(vec![Bytes::from(v)]);
    }
    let lines: Vec<String> = if cli.hex.is_empty() {
        io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?
    } else {
        cli.hex.clone()
    };
    lines
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let clean: String = l
                .chars()
                .filter(|c| !c.is_whitespace() && *c != ':')
                .collect();
            hex::decode(&clean)
                .map(Bytes::from)
                .map_err(|e| format!("not hex ({e}): {l}"))
        })
        .collect()
}

fn decode(p: Protocol, data: Bytes, out: &mut impl Write) -> Result<(), String> {
    match p {
        Protocol::Coap => {
            let m = Message::decode(data).map_err(|e| e.to_string())?;
            write!(out, "{m}").map_err(|e| e.to_string())?;
            link_summary(m.options().content_format(), m.payload(), out)
        }
        Protocol::CoapTcp => {
            let mut buf = BytesMut::from(&data[..]);
            let mut dec = tcp::Decoder::with_max_message_size(16 << 20);
            let mut n = 0;
            while !buf.is_empty() {
                match dec.decode(&mut buf).map_err(|e| e.to_string())? {
                    Some(f) => {
                        n += 1;
                        stream_message(&f, out)?;
                    }
                    None => {
                        return Err(format!(
                            "frame {} truncated: {} more bytes needed",
                            n + 1,
                            dec.needed(&buf)
                        ))
                    }
                }
            }
            Ok(())
        }
        Protocol::CoapWs => {
            let f = tcp::StreamMessage::decode_ws(data).map_err(|e| e.to_string())?;
            stream_message(&f, out)
        }
        Protocol::Mqttsn => {
            let f = mqttsn_codec::Frame::decode(data).map_err(|e| e.to_string())?;
            writeln!(out, "{f:#?}").map_err(|e| e.to_string())
        }
    }
}

fn stream_message(f: &tcp::StreamMessage, out: &mut impl Write) -> Result<(), String> {
    let w = |out: &mut dyn Write, s: String| out.write_all(s.as_bytes()).map_err(|e| e.to_string());
    let name = f.code().name().map(|n| format!(" {n}")).unwrap_or_default();
    w(
        out,
        format!("Code: {}{name}\nToken: {}\n", f.code(), f.token()),
    )?;
    if let Some(m) = f.max_message_size() {
        w(out, format!("Max-Message-Size: {m}\n"))?;
    }
    if f.block_wise_transfer() {
        w(out, "Block-Wise-Transfer\n".into())?;
    }
    if !f.code().is_signaling() {
        for o in f.options() {
            w(out, format!("{}: {:02x?}\n", o.number, o.value))?;
        }
    }
    if !f.payload().is_empty() {
        w(out, format!("Payload ({} bytes)\n", f.payload().len()))?;
    }
    Ok(())
}

/// For a link-format payload, one line per link after the payload.
fn link_summary(
    cf: Option<ContentFormat>,
    payload: &[u8],
    out: &mut impl Write,
) -> Result<(), String> {
    if cf != Some(ContentFormat::LINK_FORMAT) {
        return Ok(());
    }
    let Ok(doc) = std::str::from_utf8(payload) else {
        return Ok(());
    };
    writeln!(out, "Links:").map_err(|e| e.to_string())?;
    for l in link_format::parse(doc) {
        match l {
            Ok(l) => {
                let attrs: Vec<String> = l
                    .params()
                    .filter_map(Result::ok)
                    .map(|p| match p.value() {
                        Some(v) => format!("{}={v}", p.name),
                        None => p.name.to_string(),
                    })
                    .collect();
                writeln!(out, "  {} {}", l.target(), attrs.join(" ")).map_err(|e| e.to_string())?;
            }
            Err(e) => return Err(format!("link-format payload: {e}")),
        }
    }
    Ok(())
}
