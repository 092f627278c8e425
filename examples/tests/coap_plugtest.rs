//! ETSI CoAP plugtest test descriptions (TD_COAP_CORE_*, TD_COAP_LINK_*)
//! run against the `coap-server` resources, in process over loopback.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use coap_codec::{Code, ContentFormat, Message, MessageBuilder, MessageType, OptionNumber, Token};
use coap_endpoint::tokio::{Client, Server};
use m2m_examples::coap_resources::{self, Options};

async fn server() -> (SocketAddr, coap_endpoint::tokio::ServerHandle) {
    let mut s = Server::bind("127.0.0.1:0").await.unwrap();
    let opts = Options {
        separate_after: Duration::from_millis(1200),
        ..Options::default()
    };
    let handle = s.handle();
    let late = s.handle();
    coap_resources::install(s.router(), late, &opts);
    let addr = s.local_addr();
    tokio::spawn(s.run());
    (addr, handle)
}

fn con(code: Code, path: &str) -> MessageBuilder {
    MessageBuilder::new(MessageType::Confirmable, code).path(path)
}

fn non(code: Code, path: &str) -> MessageBuilder {
    MessageBuilder::new(MessageType::NonConfirmable, code).path(path)
}

async fn send(c: &Client, to: SocketAddr, m: MessageBuilder) -> Message<Bytes> {
    tokio::time::timeout(Duration::from_secs(10), c.send(to, m))
        .await
        .expect("in time")
        .expect("a response")
}

fn strings<'a>(
    it: impl Iterator<Item = Result<&'a str, coap_codec::OptionValueError>>,
) -> Vec<&'a str> {
    it.map(Result::unwrap).collect()
}

#[tokio::test]
async fn td_coap_core_01_to_08_methods_con_and_non() {
    let (s, h) = server().await;
    let c = Client::bind("127.0.0.1:0").await.unwrap();
    // 01: CON GET, piggybacked.
    let r = send(&c, s, con(Code::GET, "/test")).await;
    assert_eq!(
        (r.message_type(), r.code()),
        (MessageType::Acknowledgement, Code::CONTENT)
    );
    assert_eq!(
        r.options().content_format(),
        Some(ContentFormat::TEXT_PLAIN)
    );
    // 02: CON DELETE.
    assert_eq!(
        send(&c, s, con(Code::DELETE, "/test")).await.code(),
        Code::DELETED
    );
    // 03: CON PUT with a content format.
    let put = con(Code::PUT, "/test")
        .content_format(ContentFormat::TEXT_PLAIN)
        .payload("plugtest");
    assert_eq!(send(&c, s, put).await.code(), Code::CHANGED);
    // 04: CON POST.
    let r = send(
        &c,
        s,
        con(Code::POST, "/test")
            .content_format(ContentFormat::TEXT_PLAIN)
            .payload("p"),
    )
    .await;
    assert_eq!(r.code(), Code::CREATED);
    // 05-08: the same as NON, answered with NON.
    for (code, want) in [
        (Code::GET, Code::CONTENT),
        (Code::DELETE, Code::DELETED),
        (Code::PUT, Code::CHANGED),
        (Code::POST, Code::CREATED),
    ] {
        let r = send(&c, s, non(code, "/test").payload("n")).await;
        assert_eq!(
            (r.message_type(), r.code()),
            (MessageType::NonConfirmable, want),
            "{code}"
        );
    }
    h.shutdown();
}

#[tokio::test]
async fn td_coap_core_09_and_17_separate_responses() {
    let (s, h) = server().await;
    let c = Client::bind("127.0.0.1:0").await.unwrap();
    let r = send(&c, s, con(Code::GET, "/separate")).await;
    assert_eq!(
        (r.message_type(), r.code()),
        (MessageType::Confirmable, Code::CONTENT)
    );
    assert_eq!(r.payload(), b"Separate response");
    let r = send(&c, s, non(Code::GET, "/separate")).await;
    assert_eq!(r.message_type(), MessageType::NonConfirmable);
    h.shutdown();
}

#[tokio::test]
async fn td_coap_core_10_to_13_tokens_paths_queries() {
    let (s, h) = server().await;
    let c = Client::bind("127.0.0.1:0").await.unwrap();
    let mut m = con(Code::GET, "/test");
    m.token = Token::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), c.send_with_token(s, m))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.token_bytes(), [1, 2, 3, 4, 5, 6, 7, 8]);
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        c.send_with_token(s, con(Code::GET, "/test")),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(r.token_bytes().is_empty(), "TD_COAP_CORE_11: empty token");
    assert_eq!(
        send(&c, s, con(Code::GET, "/seg1/seg2/seg3")).await.code(),
        Code::CONTENT
    );
    let r = send(
        &c,
        s,
        con(Code::GET, "/query").query("first=1").query("second=2"),
    )
    .await;
    assert_eq!(r.payload(), b"query: first=1&second=2");
    h.shutdown();
}

#[tokio::test]
async fn td_coap_core_18_to_20_locations_and_formats() {
    let (s, h) = server().await;
    let c = Client::bind("127.0.0.1:0").await.unwrap();
    let r = send(&c, s, con(Code::POST, "/test").payload("x")).await;
    assert_eq!(
        strings(r.options().location_path()),
        ["location1", "location2", "location3"]
    );
    let r = send(&c, s, con(Code::POST, "/location-query").payload("x")).await;
    assert_eq!(r.code(), Code::CREATED);
    assert_eq!(
        strings(r.options().location_query()),
        ["first=1", "second=2"]
    );
    let r = send(
        &c,
        s,
        con(Code::GET, "/multi-format").accept(ContentFormat::TEXT_PLAIN),
    )
    .await;
    assert_eq!(
        r.options().content_format(),
        Some(ContentFormat::TEXT_PLAIN)
    );
    let r = send(
        &c,
        s,
        con(Code::GET, "/multi-format").accept(ContentFormat::XML),
    )
    .await;
    assert_eq!(r.options().content_format(), Some(ContentFormat::XML));
    let r = send(
        &c,
        s,
        con(Code::GET, "/multi-format").accept(ContentFormat::CBOR),
    )
    .await;
    assert_eq!(r.code(), Code::NOT_ACCEPTABLE);
    h.shutdown();
}

#[tokio::test]
async fn td_coap_core_21_to_23_etags_and_conditions() {
    let (s, h) = server().await;
    let c = Client::bind("127.0.0.1:0").await.unwrap();
    let first = send(&c, s, con(Code::GET, "/validate")).await;
    let etag = first.options().etag().unwrap().to_vec();
    let again = send(&c, s, con(Code::GET, "/validate").etag(&etag)).await;
    assert_eq!(
        (again.code(), again.options().etag()),
        (Code::VALID, Some(&etag[..]))
    );
    let put = send(
        &c,
        s,
        con(Code::PUT, "/validate")
            .option(OptionNumber::IF_MATCH, &etag)
            .payload("v2"),
    )
    .await;
    assert_eq!(put.code(), Code::CHANGED);
    let new_tag = put.options().etag().unwrap().to_vec();
    assert_ne!(new_tag, etag);
    let stale = send(
        &c,
        s,
        con(Code::PUT, "/validate")
            .option(OptionNumber::IF_MATCH, &etag)
            .payload("v3"),
    )
    .await;
    assert_eq!(stale.code(), Code::PRECONDITION_FAILED);
    let fresh = send(&c, s, con(Code::GET, "/validate").etag(&etag)).await;
    assert_eq!((fresh.code(), fresh.payload()), (Code::CONTENT, &b"v2"[..]));
    let create = || {
        con(Code::PUT, "/create1")
            .option(OptionNumber::IF_NONE_MATCH, b"")
            .payload("c")
    };
    assert_eq!(send(&c, s, create()).await.code(), Code::CREATED);
    assert_eq!(
        send(&c, s, create()).await.code(),
        Code::PRECONDITION_FAILED
    );
    h.shutdown();
}

#[tokio::test]
async fn td_coap_link_01_to_09_discovery_and_filters() {
    let (s, h) = server().await;
    let c = Client::bind("127.0.0.1:0").await.unwrap();
    let wk = |q: Option<&'static str>| {
        let mut m = con(Code::GET, "/.well-known/core");
        if let Some(q) = q {
            m = m.query(q);
        }
        m
    };
    let all = send(&c, s, wk(None)).await;
    assert_eq!(
        all.options().content_format(),
        Some(ContentFormat::LINK_FORMAT)
    );
    let targets = |m: &Message<Bytes>| -> Vec<String> {
        coap_codec::link_format::parse(std::str::from_utf8(m.payload()).unwrap())
            .map(|l| l.unwrap().target().to_owned())
            .collect()
    };
    let everything = targets(&all);
    for t in [
        "/test",
        "/separate",
        "/link1",
        "/path/sub3",
        "/basic",
        "/time",
    ] {
        assert!(everything.iter().any(|x| x == t), "{t} in {everything:?}");
    }
    let cases: [(&str, &[&str]); 6] = [
        ("rt=Type1", &["/link1", "/link3"]),
        ("rt=Type2", &["/link1", "/link2"]),
        ("if=If*", &["/link1", "/link2"]),
        ("href=/link*", &["/link1", "/link2", "/link3"]),
        ("ct=40", &["/path"]),
        ("rt=ticks", &["/time"]),
    ];
    for (q, want) in cases {
        assert_eq!(targets(&send(&c, s, wk(Some(q))).await), want, "{q}");
    }
    let rt_any = targets(&send(&c, s, wk(Some("rt=*"))).await);
    assert!(
        rt_any.contains(&"/link2".to_owned()) && !rt_any.contains(&"/separate".to_owned()),
        "{rt_any:?}"
    );
    let path = send(&c, s, con(Code::GET, "/path")).await;
    assert_eq!(
        path.options().content_format(),
        Some(ContentFormat::LINK_FORMAT)
    );
    assert_eq!(targets(&path), ["/path/sub1", "/path/sub2", "/path/sub3"]);
    h.shutdown();
}

#[tokio::test]
async fn basic_put_notifies_its_observers() {
    let (s, _h) = server().await;
    let observer = Client::bind("127.0.0.1:0").await.unwrap();
    let writer = Client::bind("127.0.0.1:0").await.unwrap();
    let mut obs = tokio::time::timeout(
        Duration::from_secs(10),
        observer.observe(s, con(Code::GET, "/basic")),
    )
    .await
    .expect("in time")
    .expect("registered");
    let first = next(&mut obs).await;
    assert_eq!(first.payload(), b"Basic Resource");
    assert!(first.options().observe().is_some());
    for text in ["changed once", "changed twice"] {
        let r = send(&writer, s, con(Code::PUT, "/basic").payload(text)).await;
        assert_eq!(r.code(), Code::CHANGED);
        let n = next(&mut obs).await;
        assert_eq!((n.code(), n.payload()), (Code::CONTENT, text.as_bytes()));
        assert_eq!(
            n.options().content_format(),
            Some(ContentFormat::TEXT_PLAIN)
        );
    }
    // A child made by POST notifies its own observers.
    let r = send(&writer, s, con(Code::POST, "/basic").payload("child")).await;
    assert_eq!(r.code(), Code::CREATED);
    let loc: Vec<&str> = strings(r.options().location_path());
    let path = format!("/{}", loc.join("/"));
    let mut child = observer.observe(s, con(Code::GET, &path)).await.unwrap();
    assert_eq!(next(&mut child).await.payload(), b"child");
    send(&writer, s, con(Code::PUT, &path).payload("child 2")).await;
    assert_eq!(next(&mut child).await.payload(), b"child 2");
}

async fn next(obs: &mut coap_endpoint::tokio::Observation) -> Message<Bytes> {
    tokio::time::timeout(Duration::from_secs(10), obs.next())
        .await
        .expect("a notification in time")
        .expect("the observation goes on")
}
