use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use coap_codec::{Code, ContentFormat, Message, MessageBuilder, MessageType, OptionNumber};

use super::*;
use crate::IncomingId;

struct Basic(Bytes);

impl Resource for Basic {
    fn get(&mut self, _: &Request<'_>) -> Outcome {
        Outcome::content(ContentFormat::TEXT_PLAIN, self.0.clone())
    }
    fn put(&mut self, req: &Request<'_>) -> Outcome {
        self.0 = req.payload_bytes();
        Outcome::status(Code::CHANGED)
    }
    fn post(&mut self, req: &Request<'_>) -> Outcome {
        let mut resp = response(Code::CREATED);
        for q in req.query() {
            resp.add_option(OptionNumber::LOCATION_QUERY, q.as_bytes());
        }
        Outcome::Create(Box::new(
            Child::new(
                Self(req.payload_bytes()),
                Attributes::new().allow_children(),
            )
            .with_response(resp),
        ))
    }
    fn delete(&mut self, _: &Request<'_>) -> Outcome {
        Outcome::delete()
    }
}

fn router() -> Router {
    let mut r = Router::new();
    r.add(
        "/basic",
        Basic(Bytes::from_static(b"Basic Resource")),
        Attributes::new().allow_children().observable(),
    )
    .add("/hidden", Basic(Bytes::new()), Attributes::new().hidden())
    .add(
        "/link1",
        handler(|_| Outcome::status(Code::CONTENT)),
        Attributes::new().rt("Type1").rt("Type2").interface("If1"),
    )
    .add(
        "/fmt",
        handler(|_| Outcome::content(ContentFormat::TEXT_PLAIN, "x")),
        Attributes::new()
            .ct(ContentFormat::TEXT_PLAIN)
            .accepts(ContentFormat::TEXT_PLAIN),
    );
    r
}

fn call(r: &mut Router, m: MessageBuilder) -> Option<Message<Bytes>> {
    let msg = Message::decode(m.with_message_id(1).to_bytes().unwrap()).unwrap();
    let req = Request {
        id: IncomingId(1),
        from: SocketAddr::from(([127, 0, 0, 1], 1)),
        message: &msg,
        multicast: false,
        now: Instant::now(),
    };
    r.handle(&req)
        .map(|b| Message::decode(b.to_bytes().unwrap()).unwrap())
}

fn req(code: Code, path: &str) -> MessageBuilder {
    MessageBuilder::new(MessageType::Confirmable, code).path(path)
}

#[test]
fn basic_resource_get_put_post_delete() {
    let mut r = router();
    let got = call(&mut r, req(Code::GET, "/basic")).unwrap();
    assert_eq!(
        (got.code(), got.payload()),
        (Code::CONTENT, &b"Basic Resource"[..])
    );
    assert_eq!(
        call(&mut r, req(Code::PUT, "/basic").payload("new"))
            .unwrap()
            .code(),
        Code::CHANGED
    );
    assert_eq!(
        call(&mut r, req(Code::GET, "/basic")).unwrap().payload(),
        b"new"
    );

    let created = call(
        &mut r,
        req(Code::POST, "/basic").query("a=1").payload("child"),
    )
    .unwrap();
    assert_eq!(created.code(), Code::CREATED);
    let loc: Vec<&str> = created
        .options()
        .location_path()
        .map(Result::unwrap)
        .collect();
    assert_eq!(loc, ["basic", "1"]);
    let q: Vec<&str> = created
        .options()
        .location_query()
        .map(Result::unwrap)
        .collect();
    assert_eq!(q, ["a=1"]);
    assert_eq!(
        call(&mut r, req(Code::GET, "/basic/1")).unwrap().payload(),
        b"child"
    );

    let named = call(&mut r, req(Code::POST, "/basic/kid").payload("k")).unwrap();
    assert_eq!(named.code(), Code::CREATED);
    assert!(r.contains("/basic/kid"));

    assert_eq!(
        call(&mut r, req(Code::DELETE, "/basic")).unwrap().code(),
        Code::DELETED
    );
    assert!(!r.contains("/basic") && !r.contains("/basic/1"));
    assert_eq!(
        call(&mut r, req(Code::GET, "/basic")).unwrap().code(),
        Code::NOT_FOUND
    );
}

#[test]
fn missing_resource_is_4_04_and_unhandled_method_is_4_05() {
    let mut r = router();
    assert_eq!(
        call(&mut r, req(Code::GET, "/nope")).unwrap().code(),
        Code::NOT_FOUND
    );
    assert_eq!(
        call(&mut r, req(Code::POST, "/nope/deeper"))
            .unwrap()
            .code(),
        Code::NOT_FOUND
    );
    let mut plain = Router::new();
    plain.add(
        "/ro",
        handler(|_| Outcome::status(Code::CONTENT)),
        Attributes::new(),
    );
    struct GetOnly;
    impl Resource for GetOnly {}
    plain.add("/g", GetOnly, Attributes::new());
    assert_eq!(
        call(&mut plain, req(Code::PATCH, "/g")).unwrap().code(),
        Code::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        call(&mut plain, req(Code::POST, "/.well-known/core"))
            .unwrap()
            .code(),
        Code::METHOD_NOT_ALLOWED
    );
}

#[test]
fn accept_and_content_format_are_checked() {
    let mut r = router();
    let bad = req(Code::GET, "/fmt").accept(ContentFormat::JSON);
    assert_eq!(call(&mut r, bad).unwrap().code(), Code::NOT_ACCEPTABLE);
    let ok = req(Code::GET, "/fmt").accept(ContentFormat::TEXT_PLAIN);
    assert_eq!(call(&mut r, ok).unwrap().code(), Code::CONTENT);
    let bad = req(Code::PUT, "/fmt")
        .content_format(ContentFormat::XML)
        .payload("<a/>");
    assert_eq!(
        call(&mut r, bad).unwrap().code(),
        Code::UNSUPPORTED_CONTENT_FORMAT
    );
}

#[test]
fn well_known_core_lists_visible_resources_and_filters() {
    let mut r = router();
    let doc = call(&mut r, req(Code::GET, "/.well-known/core")).unwrap();
    assert_eq!(
        doc.options().content_format(),
        Some(ContentFormat::LINK_FORMAT)
    );
    let text = core::str::from_utf8(doc.payload()).unwrap();
    assert!(text.contains("</basic>;obs"), "{text}");
    assert!(!text.contains("hidden"), "{text}");
    let filtered = call(
        &mut r,
        req(Code::GET, "/.well-known/core").query("rt=Type2"),
    )
    .unwrap();
    assert_eq!(filtered.payload(), br#"</link1>;rt="Type1 Type2";if="If1""#);
    let href = call(
        &mut r,
        req(Code::GET, "/.well-known/core").query("href=/f*"),
    )
    .unwrap();
    assert_eq!(href.payload(), br#"</fmt>;ct=0"#);
    let none = call(
        &mut r,
        req(Code::GET, "/.well-known/core").query("rt=nothing"),
    )
    .unwrap();
    assert!(none.payload().is_empty());
}

#[test]
fn later_outcome_defers_the_response() {
    let mut r = Router::new();
    r.add("/slow", handler(|_| Outcome::Later), Attributes::new());
    assert!(call(&mut r, req(Code::GET, "/slow")).is_none());
}

#[test]
fn serve_drives_endpoint_requests_to_handlers() {
    let t0 = Instant::now();
    let mut r = router();
    let mut ep = crate::Endpoint::new(crate::Config::default(), 1);
    let client: SocketAddr = ([127, 0, 0, 1], 9).into();
    let get = req(Code::GET, "/basic")
        .with_message_id(5)
        .with_token(b"k")
        .to_bytes()
        .unwrap();
    ep.handle_datagram(t0, client, get);
    assert!(r.serve(t0, &mut ep).is_empty());
    let t = ep.poll_transmit().unwrap();
    let m = Message::decode(t.payload).unwrap();
    assert_eq!(
        (m.message_type(), m.message_id(), m.token_bytes()),
        (MessageType::Acknowledgement, 5, &b"k"[..])
    );
    assert_eq!(m.payload(), b"Basic Resource");
}

#[test]
fn oversized_response_is_sent_block_wise() {
    let t0 = Instant::now();
    let mut r = Router::new();
    r.add(
        "/big",
        handler(|_| Outcome::content(ContentFormat::TEXT_PLAIN, vec![b'x'; 5000])),
        Attributes::new(),
    );
    let mut ep = crate::Endpoint::new(crate::Config::default(), 1);
    let get = req(Code::GET, "/big")
        .with_message_id(5)
        .to_bytes()
        .unwrap();
    ep.handle_datagram(t0, ([127, 0, 0, 1], 9).into(), get);
    r.serve(t0, &mut ep);
    let m = Message::decode(ep.poll_transmit().unwrap().payload).unwrap();
    assert_eq!(m.code(), Code::CONTENT);
    let b2 = m.options().block2().unwrap();
    assert_eq!((b2.num(), b2.more(), b2.size()), (0, true, 1024));
    assert_eq!(m.options().size2(), Some(5000));
    assert_eq!(m.payload().len(), 1024);
    assert!(m.options().etag().is_some());
    assert_eq!(ep.usage().incoming, 0);
}
