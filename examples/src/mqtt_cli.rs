//! What `mqtt-pub` and `mqtt-sub` share: the connection flags of
//! mosquitto_pub/mosquitto_sub, `-L` URLs and `-D` properties.

use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use mqtt_client::{Backoff, Config};
use mqtt_codec::{LastWill, Properties, ProtocolVersion, QoS, Utf8String};

/// Connection flags, named as in mosquitto_pub and mosquitto_sub.
#[derive(Args, Debug, Clone)]
pub struct ConnArgs {
    /// Broker host name or IP address (IPv4 or IPv6).
    #[arg(short = 'h', long = "host", default_value = "localhost")]
    pub host: String,
    /// Broker port.
    #[arg(short = 'p', long = "port", default_value_t = 1883)]
    pub port: u16,
    /// Client identifier (default: drawn at random).
    #[arg(short = 'i', long = "id")]
    pub id: Option<String>,
    /// Client identifier prefix; the process id is appended.
    #[arg(short = 'I', long = "id-prefix", conflicts_with = "id")]
    pub id_prefix: Option<String>,
    /// User name.
    #[arg(short = 'u', long = "username")]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'P', long = "pw")]
    pub password: Option<String>,
    /// Keep-alive interval in seconds (0 turns it off).
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    pub keepalive: u16,
    /// MQTT protocol version: 5 (or mqttv5), 311 (or mqttv311), 31 (or mqttv31).
    #[arg(short = 'V', long = "protocol-version", default_value = "311", value_parser = parse_version)]
    pub version: ProtocolVersion,
    /// Disable clean session / clean start: the broker keeps the session
    /// (subscriptions and queued messages) after disconnecting. Needs -i.
    #[arg(short = 'c', long = "disable-clean-session")]
    pub persistent: bool,
    /// MQTT 5 Session Expiry Interval in seconds (-1: never expires).
    /// Defaults to -1 with -c, else 0.
    #[arg(short = 'x', long = "session-expiry", allow_negative_numbers = true)]
    pub session_expiry: Option<i64>,
    /// `mqtt://[username[:password]@]host[:port]/topic`, instead of -h -p -u -P -t.
    #[arg(short = 'L', long = "url")]
    pub url: Option<String>,
    /// Print debug messages (connection events, acknowledgements) to stderr.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// Do not print error messages.
    #[arg(long = "quiet")]
    pub quiet: bool,
    /// Topic of the will message, published by the broker if this client
    /// disappears without DISCONNECT.
    #[arg(long = "will-topic")]
    pub will_topic: Option<String>,
    /// Payload of the will message (default empty).
    #[arg(long = "will-payload", requires = "will_topic")]
    pub will_payload: Option<String>,
    /// QoS of the will message.
    #[arg(long = "will-qos", default_value_t = 0, value_parser = parse_qos_u8)]
    pub will_qos: u8,
    /// Retain the will message.
    #[arg(long = "will-retain")]
    pub will_retain: bool,
    /// MQTT 5 property: `-D COMMAND IDENTIFIER VALUE [VALUE]`, e.g.
    /// `-D publish content-type text/plain`, `-D connect user-property k v`,
    /// `-D subscribe subscription-identifier 3`. Commands: connect, publish,
    /// subscribe, will. Identifiers use the names of the MQTT 5 table
    /// (payload-format-indicator, message-expiry-interval, content-type,
    /// response-topic, correlation-data, subscription-identifier,
    /// session-expiry-interval, authentication-method, authentication-data,
    /// request-problem-information, request-response-information,
    /// will-delay-interval, receive-maximum, topic-alias-maximum,
    /// maximum-packet-size, user-property).
    #[arg(short = 'D', long = "property", num_args = 3..=4, action = clap::ArgAction::Append,
          value_names = ["COMMAND", "IDENTIFIER", "VALUE"])]
    pub properties: Vec<String>,
}

impl ConnArgs {
    /// The `-D` occurrences as `[command, identifier, value...]` groups
    /// (clap hands them over flattened; only user-property takes two values).
    #[must_use]
    pub fn property_groups(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut rest = self.properties.as_slice();
        while rest.len() >= 3 {
            let n = if rest[1] == "user-property" && rest.len() >= 4 {
                4
            } else {
                3
            };
            out.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        out
    }
}

/// Parses `-V`.
///
/// # Errors
/// An unknown version.
pub fn parse_version(s: &str) -> Result<ProtocolVersion, String> {
    match s {
        "5" | "mqttv5" => Ok(ProtocolVersion::V5),
        "311" | "mqttv311" => Ok(ProtocolVersion::V3_1_1),
        "31" | "mqttv31" => Ok(ProtocolVersion::V3_1),
        _ => Err(format!("unknown protocol version {s:?}: use 5, 311 or 31")),
    }
}

/// Parses a QoS number as `u8` (0, 1 or 2).
///
/// # Errors
/// A value other than 0, 1 or 2.
pub fn parse_qos_u8(s: &str) -> Result<u8, String> {
    match s {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(format!("QoS must be 0, 1 or 2, not {s:?}")),
    }
}

/// The QoS for a number checked by [`parse_qos_u8`].
#[must_use]
pub fn qos(n: u8) -> QoS {
    QoS::from_u8(n).unwrap_or(QoS::AtMostOnce)
}

/// What `-L` carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Url {
    /// Host.
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
    /// User name, if given.
    pub username: Option<String>,
    /// Password, if given.
    pub password: Option<String>,
    /// Topic (the path without its leading slash), if any.
    pub topic: Option<String>,
}

/// Parses `mqtt://[username[:password]@]host[:port]/topic`.
///
/// # Errors
/// Another scheme (`mqtts` needs TLS, not available yet) or a bad port.
pub fn parse_url(url: &str) -> Result<Url, String> {
    let rest = url.strip_prefix("mqtt://").ok_or_else(|| {
        format!("unsupported URL {url:?}: use mqtt://[user[:pass]@]host[:port]/topic")
    })?;
    let (authority, topic) = match rest.split_once('/') {
        Some((a, t)) => (a, (!t.is_empty()).then(|| t.to_owned())),
        None => (rest, None),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((n, p)) => (Some(n.to_owned()), Some(p.to_owned())),
            None => (Some(u.to_owned()), None),
        },
        None => (None, None),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("unclosed [ in URL host")?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (hostport.to_owned(), None),
        }
    };
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| format!("bad port {p:?} in URL"))
        })
        .transpose()?;
    Ok(Url {
        host,
        port,
        username,
        password,
        topic,
    })
}

/// Sets one property named as mosquitto's `-D` names it.
///
/// # Errors
/// An unknown name, a missing value, or a value that does not parse.
pub fn set_property(p: &mut Properties, name: &str, values: &[String]) -> Result<(), String> {
    let v = values.first().ok_or("property needs a value")?;
    let num = |v: &str| {
        v.parse::<u32>()
            .map_err(|_| format!("{name}: {v:?} is not a number"))
    };
    let num16 = |v: &str| {
        v.parse::<u16>()
            .map_err(|_| format!("{name}: {v:?} is not a 16-bit number"))
    };
    let flag = |v: &str| match v {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!("{name}: use 0 or 1")),
    };
    let text = |v: &str| Utf8String::try_from(v).map_err(|e| format!("{name}: {e}"));
    match name {
        "payload-format-indicator" => p.payload_format_indicator = Some(flag(v)?),
        "message-expiry-interval" => p.message_expiry_interval = Some(num(v)?),
        "content-type" => p.content_type = Some(text(v)?),
        "response-topic" => p.response_topic = Some(text(v)?),
        "correlation-data" => p.correlation_data = Some(Bytes::from(v.clone().into_bytes())),
        "subscription-identifier" => p.subscription_identifiers.push(num(v)?),
        "session-expiry-interval" => p.session_expiry_interval = Some(num(v)?),
        "authentication-method" => p.authentication_method = Some(text(v)?),
        "authentication-data" => p.authentication_data = Some(Bytes::from(v.clone().into_bytes())),
        "request-problem-information" => p.request_problem_information = Some(flag(v)?),
        "request-response-information" => p.request_response_information = Some(flag(v)?),
        "will-delay-interval" => p.will_delay_interval = Some(num(v)?),
        "receive-maximum" => p.receive_maximum = Some(num16(v)?),
        "topic-alias-maximum" => p.topic_alias_maximum = Some(num16(v)?),
        "maximum-packet-size" => p.maximum_packet_size = Some(num(v)?),
        "user-property" => {
            let value = values
                .get(1)
                .ok_or("user-property needs a name and a value")?;
            p.user_properties.push((text(v)?, text(value)?));
        }
        _ => return Err(format!("unknown or unsupported property {name:?}")),
    }
    Ok(())
}

/// The `-D` properties given for `command` (e.g. "publish").
///
/// # Errors
/// As [`set_property`]; also properties given for MQTT 3.1.1.
pub fn properties_for(args: &ConnArgs, command: &str) -> Result<Properties, String> {
    let mut p = Properties::default();
    for d in args.property_groups().iter().filter(|d| d[0] == command) {
        if !args.version.is_v5() {
            return Err("-D properties need -V 5".into());
        }
        set_property(&mut p, &d[1], &d[2..])?;
    }
    Ok(p)
}

/// Host, port and the URL's topic, after applying `-L`.
///
/// # Errors
/// A bad URL.
pub fn endpoint(args: &ConnArgs) -> Result<(String, u16, Option<String>), String> {
    match &args.url {
        Some(u) => {
            let url = parse_url(u)?;
            Ok((url.host, url.port.unwrap_or(1883), url.topic))
        }
        None => Ok((args.host.clone(), args.port, None)),
    }
}

/// The client configuration the flags describe. `reconnect` says whether
/// the client reconnects after losing the connection.
///
/// # Errors
/// Inconsistent flags, in words for the user.
pub fn config(args: &ConnArgs, reconnect: bool) -> Result<Config, String> {
    for d in &args.property_groups() {
        if !["connect", "publish", "subscribe", "will"].contains(&d[0].as_str()) {
            return Err(format!(
                "-D {}: commands are connect, publish, subscribe, will",
                d[0]
            ));
        }
    }
    let url = args
        .url
        .as_deref()
        .map(parse_url)
        .transpose()?
        .unwrap_or_default();
    let mut cfg = Config::default();
    cfg.version = args.version;
    cfg.keep_alive = args.keepalive;
    cfg.client_id = match (&args.id, &args.id_prefix) {
        (Some(id), _) => id.clone(),
        (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
        (None, None) => String::new(),
    };
    if args.persistent && cfg.client_id.is_empty() {
        return Err("-c needs a client id (-i or -I)".into());
    }
    cfg.clean_start = !args.persistent;
    cfg.username = url.username.or_else(|| args.username.clone());
    cfg.password = url
        .password
        .or_else(|| args.password.clone())
        .map(|p| Bytes::from(p.into_bytes()));
    let expiry = args
        .session_expiry
        .unwrap_or(if args.persistent { -1 } else { 0 });
    if args.version.is_v5() {
        cfg.session_expiry_interval = Some(if expiry < 0 {
            u32::MAX
        } else {
            u32::try_from(expiry).unwrap_or(u32::MAX)
        });
        cfg.connect_properties = properties_for(args, "connect")?.into();
        if let Some(s) = cfg.connect_properties.session_expiry_interval {
            cfg.session_expiry_interval = Some(s);
        }
        if let Some(r) = cfg.connect_properties.receive_maximum {
            cfg.receive_maximum = Some(r);
        }
        if let Some(m) = cfg.connect_properties.maximum_packet_size {
            cfg.max_packet_size = m;
        }
        if let Some(t) = cfg.connect_properties.topic_alias_maximum {
            cfg.topic_alias_maximum = t;
        }
    } else {
        properties_for(args, "connect")?;
    }
    if let Some(topic) = &args.will_topic {
        cfg.will = Some(LastWill {
            topic: Utf8String::try_from(topic.as_str())
                .map_err(|e| format!("--will-topic: {e}"))?,
            payload: Bytes::from(args.will_payload.clone().unwrap_or_default().into_bytes()),
            qos: qos(args.will_qos),
            retain: args.will_retain,
            properties: properties_for(args, "will")?.into(),
        });
    }
    cfg.reconnect =
        reconnect.then(|| Backoff::new(Duration::from_secs(1), Duration::from_secs(30)));
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_with_everything_and_ipv6() {
        let u = parse_url("mqtt://al:se@[::1]:1884/a/b").unwrap();
        assert_eq!(
            u,
            Url {
                host: "::1".into(),
                port: Some(1884),
                username: Some("al".into()),
                password: Some("se".into()),
                topic: Some("a/b".into()),
            }
        );
        let u = parse_url("mqtt://broker").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.topic), ("broker", None, None));
        assert!(parse_url("mqtts://x/y").is_err());
        assert!(parse_url("mqtt://x:port/y").is_err());
    }

    #[test]
    fn properties_by_mosquitto_names() {
        let mut p = Properties::default();
        set_property(&mut p, "user-property", &["k".into(), "v".into()]).unwrap();
        set_property(&mut p, "message-expiry-interval", &["30".into()]).unwrap();
        assert_eq!(p.user_properties[0].0, "k");
        assert_eq!(p.message_expiry_interval, Some(30));
        assert!(set_property(&mut p, "bogus", &["1".into()]).is_err());
        assert!(set_property(&mut p, "user-property", &["k".into()]).is_err());
    }
}
