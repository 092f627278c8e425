//! Resources, their link attributes, and what a handler answers.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use coap_codec::{Block, Code, ContentFormat, Message, MessageBuilder, MessageType, Options};

use crate::event::IncomingId;

/// A request as a resource handler sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Pass this to `Endpoint::respond` (or the tokio `ServerHandle`) when
    /// the handler answered [`Outcome::Later`].
    pub id: IncomingId,
    /// The client.
    pub from: SocketAddr,
    /// The decoded request.
    pub message: &'a Message<Bytes>,
    /// Whether the request arrived on a multicast address.
    pub multicast: bool,
    /// When the request was handled (the time the endpoint was given).
    pub now: Instant,
}

impl Request<'_> {
    /// The method (GET, POST, ...).
    pub fn method(&self) -> Code {
        self.message.code()
    }

    /// The request's options.
    pub fn options(&self) -> Options<'_> {
        self.message.options()
    }

    /// The payload, a slice of the datagram.
    pub fn payload(&self) -> &[u8] {
        self.message.payload()
    }

    /// The payload as `Bytes` sharing the datagram.
    pub fn payload_bytes(&self) -> Bytes {
        self.message.payload_bytes()
    }

    /// The Uri-Query arguments that are valid UTF-8.
    pub fn query(&self) -> impl Iterator<Item = &str> + '_ {
        self.message.options().uri_query().filter_map(Result::ok)
    }

    /// The request path, `/a/b` (segments as sent, `/` for none).
    pub fn path(&self) -> String {
        self.message.options().path().unwrap_or_default()
    }

    /// Content-Format of the payload, if given.
    pub fn content_format(&self) -> Option<ContentFormat> {
        self.message.options().content_format()
    }

    /// The Accept option, if given.
    pub fn accept(&self) -> Option<ContentFormat> {
        self.message.options().accept()
    }

    /// For a resource with non-atomic Block1 handling
    /// ([`Attributes::non_atomic`]): which block of the body the payload
    /// is. `offset()` is where it starts in the whole body, `more()` is
    /// false for the last block, `num() == 0` starts (or restarts) the
    /// body. `None` when the payload is the whole body: a request without
    /// Block1, or (atomic handling) a body the endpoint reassembled.
    ///
    /// Each block arrives once and in order; answer a success (any 2.xx,
    /// e.g. [`Outcome::status`]`(Code::CONTINUE)`) to go on, which the
    /// endpoint sends as 2.31 Continue, or an error to stop the transfer.
    /// The answer to the last block is the response to the whole request.
    pub fn block1(&self) -> Option<Block> {
        self.message.options().block1()
    }
}

/// A response with `code`, to fill in and return. The endpoint sets its
/// type, message ID and token.
pub fn response(code: Code) -> MessageBuilder {
    MessageBuilder::new(MessageType::Acknowledgement, code)
}

/// A resource to create, from [`Outcome::Create`].
#[non_exhaustive]
pub struct Child {
    /// The child's path below the handling resource (may contain `/`);
    /// `None`: the request's own path when that does not exist yet, else
    /// the first free number (`1`, `2`, ...).
    pub name: Option<String>,
    /// The new resource.
    pub resource: Box<dyn Resource>,
    /// Its link attributes.
    pub attributes: Attributes,
    /// The response.
    pub response: MessageBuilder,
}

impl Child {
    /// A child with the default name and a 2.01 Created response.
    pub fn new(resource: impl Resource, attributes: Attributes) -> Self {
        Self {
            name: None,
            resource: Box::new(resource),
            attributes,
            response: response(Code::CREATED),
        }
    }

    /// Sets the child's name below the handling resource.
    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Replaces the response (keep a 2.01 code; Location-Path is added).
    #[must_use]
    pub fn with_response(mut self, response: MessageBuilder) -> Self {
        self.response = response;
        self
    }
}

impl core::fmt::Debug for Child {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Child")
            .field("name", &self.name)
            .field("attributes", &self.attributes)
            .field("response", &self.response)
            .finish_non_exhaustive()
    }
}

/// What a handler answers.
#[non_exhaustive]
pub enum Outcome {
    /// Send this response now.
    Reply(MessageBuilder),
    /// The application answers later with the request's id (a separate
    /// response when it takes longer than `Config::separate_response_delay`).
    Later,
    /// Create a child resource and answer (2.01 Created by default, with
    /// Location-Path set by the router).
    Create(Box<Child>),
    /// Remove this resource (and its children) and answer (2.02 Deleted).
    Delete(MessageBuilder),
}

impl core::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Reply(m) => f.debug_tuple("Reply").field(m).finish(),
            Self::Later => f.write_str("Later"),
            Self::Create(c) => f.debug_tuple("Create").field(c).finish(),
            Self::Delete(m) => f.debug_tuple("Delete").field(m).finish(),
        }
    }
}

impl Outcome {
    /// A response with only a code.
    pub fn status(code: Code) -> Self {
        Self::Reply(response(code))
    }

    /// 2.05 Content with a payload in format `cf`.
    pub fn content(cf: ContentFormat, payload: impl Into<Bytes>) -> Self {
        Self::Reply(response(Code::CONTENT).content_format(cf).payload(payload))
    }

    /// Creates `resource` as a child (see [`Outcome::Create`]) and answers
    /// 2.01 Created.
    pub fn create(resource: impl Resource, attributes: Attributes) -> Self {
        Self::Create(Box::new(Child::new(resource, attributes)))
    }

    /// Deletes this resource and answers 2.02 Deleted.
    pub fn delete() -> Self {
        Self::Delete(response(Code::DELETED))
    }
}

impl From<MessageBuilder> for Outcome {
    fn from(m: MessageBuilder) -> Self {
        Self::Reply(m)
    }
}

/// A resource: one handler per method. Methods not overridden answer 4.05
/// Method Not Allowed (RFC 7252 §5.9.2.6).
///
/// ```
/// use coap_codec::{Code, ContentFormat};
/// use coap_endpoint::server::{Outcome, Request, Resource, response};
///
/// struct Counter(u64);
/// impl Resource for Counter {
///     fn get(&mut self, _req: &Request<'_>) -> Outcome {
///         Outcome::content(ContentFormat::TEXT_PLAIN, self.0.to_string())
///     }
///     fn post(&mut self, _req: &Request<'_>) -> Outcome {
///         self.0 += 1;
///         Outcome::Reply(response(Code::CHANGED))
///     }
/// }
/// ```
pub trait Resource: Send + 'static {
    /// GET (RFC 7252 §5.8.1).
    fn get(&mut self, req: &Request<'_>) -> Outcome {
        not_allowed(req)
    }
    /// POST (RFC 7252 §5.8.2).
    fn post(&mut self, req: &Request<'_>) -> Outcome {
        not_allowed(req)
    }
    /// PUT (RFC 7252 §5.8.3).
    fn put(&mut self, req: &Request<'_>) -> Outcome {
        not_allowed(req)
    }
    /// DELETE (RFC 7252 §5.8.4).
    fn delete(&mut self, req: &Request<'_>) -> Outcome {
        not_allowed(req)
    }
    /// FETCH (RFC 8132 §2).
    fn fetch(&mut self, req: &Request<'_>) -> Outcome {
        not_allowed(req)
    }
    /// PATCH (RFC 8132 §3).
    fn patch(&mut self, req: &Request<'_>) -> Outcome {
        not_allowed(req)
    }
    /// iPATCH (RFC 8132 §3).
    fn ipatch(&mut self, req: &Request<'_>) -> Outcome {
        not_allowed(req)
    }
}

fn not_allowed(_req: &Request<'_>) -> Outcome {
    Outcome::status(Code::METHOD_NOT_ALLOWED)
}

/// A resource made of one closure that handles every method (match on
/// [`Request::method`]). Made by [`handler`].
pub struct Handler<F>(F);

impl<F> core::fmt::Debug for Handler<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Handler")
    }
}

/// A resource from a closure that handles every method.
pub fn handler<F>(f: F) -> Handler<F>
where
    F: FnMut(&Request<'_>) -> Outcome + Send + 'static,
{
    Handler(f)
}

impl<F> Resource for Handler<F>
where
    F: FnMut(&Request<'_>) -> Outcome + Send + 'static,
{
    fn get(&mut self, req: &Request<'_>) -> Outcome {
        (self.0)(req)
    }
    fn post(&mut self, req: &Request<'_>) -> Outcome {
        (self.0)(req)
    }
    fn put(&mut self, req: &Request<'_>) -> Outcome {
        (self.0)(req)
    }
    fn delete(&mut self, req: &Request<'_>) -> Outcome {
        (self.0)(req)
    }
    fn fetch(&mut self, req: &Request<'_>) -> Outcome {
        (self.0)(req)
    }
    fn patch(&mut self, req: &Request<'_>) -> Outcome {
        (self.0)(req)
    }
    fn ipatch(&mut self, req: &Request<'_>) -> Outcome {
        (self.0)(req)
    }
}

/// How a resource appears in `/.well-known/core` (RFC 6690 §3) and what
/// the router checks for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attributes {
    /// Left out of `/.well-known/core`.
    pub hidden: bool,
    /// Advertised with `obs` (RFC 7641 §6).
    pub observable: bool,
    /// POST or PUT to a path below it that does not exist reaches this
    /// resource's handler, which may create the child.
    pub allow_children: bool,
    /// `rt`: resource types.
    pub resource_types: Vec<String>,
    /// `if`: interface descriptions.
    pub interfaces: Vec<String>,
    /// `ct`: the formats the resource serves. A GET whose Accept names
    /// another format gets 4.06 Not Acceptable.
    pub content_formats: Vec<u16>,
    /// Request payload formats accepted; another gets 4.15 Unsupported
    /// Content-Format. Empty: any.
    pub accepts: Vec<u16>,
    /// Block1 requests are handled non-atomically (RFC 7959 §2.5): the
    /// handler sees every block as it arrives ([`Request::block1`]) instead
    /// of one request with the reassembled body.
    pub non_atomic: bool,
    /// `title`.
    pub title: Option<String>,
    /// `sz`: size estimate.
    pub size: Option<u64>,
    /// Other parameters (`name`, optional quoted value).
    pub extra: Vec<(String, Option<String>)>,
}

impl Attributes {
    /// Visible, no parameters.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a resource type (`rt`).
    #[must_use]
    pub fn rt(mut self, rt: &str) -> Self {
        self.resource_types.push(rt.into());
        self
    }
    /// Adds an interface description (`if`).
    #[must_use]
    pub fn interface(mut self, i: &str) -> Self {
        self.interfaces.push(i.into());
        self
    }
    /// Adds a served content format (`ct`).
    #[must_use]
    pub fn ct(mut self, cf: ContentFormat) -> Self {
        self.content_formats.push(cf.0);
        self
    }
    /// Adds an accepted request payload format.
    #[must_use]
    pub fn accepts(mut self, cf: ContentFormat) -> Self {
        self.accepts.push(cf.0);
        self
    }
    /// Sets the title.
    #[must_use]
    pub fn title(mut self, t: &str) -> Self {
        self.title = Some(t.into());
        self
    }
    /// Sets the size estimate (`sz`).
    #[must_use]
    pub fn size(mut self, sz: u64) -> Self {
        self.size = Some(sz);
        self
    }
    /// Hides the resource from `/.well-known/core`.
    #[must_use]
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }
    /// Advertises `obs`.
    #[must_use]
    pub fn observable(mut self) -> Self {
        self.observable = true;
        self
    }
    /// Lets POST/PUT create children below it.
    #[must_use]
    pub fn allow_children(mut self) -> Self {
        self.allow_children = true;
        self
    }
    /// Hands Block1 bodies to the handler block by block (see
    /// [`Request::block1`] and [`Endpoint::set_non_atomic`](crate::Endpoint::set_non_atomic)).
    ///
    /// ```
    /// use std::time::Instant;
    /// use coap_codec::{Block, Code, MessageBuilder, MessageType};
    /// use coap_endpoint::server::{handler, Attributes, Outcome, Router};
    /// use coap_endpoint::{Config, Endpoint, Event};
    ///
    /// // A log that appends each block as it arrives (no reassembly buffer),
    /// // and the offsets of the blocks it saw.
    /// let log = std::sync::Arc::new(std::sync::Mutex::new((Vec::<u8>::new(), Vec::new())));
    /// let l = log.clone();
    /// let mut router = Router::new();
    /// router.add(
    ///     "/log",
    ///     handler(move |req| {
    ///         let (log, offsets) = &mut *l.lock().unwrap();
    ///         let (offset, last) = req.block1().map_or((0, true), |b| (b.offset(), !b.more()));
    ///         log.truncate(offset); // writing at the offset makes a restart harmless
    ///         log.extend_from_slice(req.payload());
    ///         offsets.push(offset);
    ///         Outcome::status(if last { Code::CHANGED } else { Code::CONTINUE })
    ///     }),
    ///     Attributes::new().non_atomic(),
    /// );
    /// let now = Instant::now();
    /// let (srv, cli) = ("127.0.0.1:5683".parse().unwrap(), "127.0.0.1:40000".parse().unwrap());
    /// let mut server = Endpoint::new(Config::default(), 1);
    /// router.attach(&mut server); // before the first datagram
    /// let mut config = Config::default();
    /// config.block_szx = 0; // 16-byte blocks
    /// let mut client = Endpoint::new(config, 2);
    /// let body = b"one block, then another, then the last".to_vec();
    /// client.request(now, srv, MessageBuilder::new(MessageType::Confirmable, Code::PUT)
    ///     .path("/log").payload(body.clone())).unwrap();
    /// let mut done = None;
    /// for _ in 0..10 {
    ///     while let Some(t) = client.poll_transmit() { server.handle_datagram(now, cli, t.payload); }
    ///     router.serve(now, &mut server);
    ///     while let Some(t) = server.poll_transmit() { client.handle_datagram(now, srv, t.payload); }
    ///     if let Some(Event::Response { response, .. }) = client.poll_event() { done = Some(response.code()); break; }
    /// }
    /// assert_eq!(done, Some(Code::CHANGED));
    /// assert_eq!(log.lock().unwrap().0, body);
    /// assert_eq!(log.lock().unwrap().1, [0, 16, 32]); // three blocks, each once
    /// ```
    #[must_use]
    pub fn non_atomic(mut self) -> Self {
        self.non_atomic = true;
        self
    }
    /// Adds another link parameter.
    #[must_use]
    pub fn param(mut self, name: &str, value: Option<&str>) -> Self {
        self.extra.push((name.into(), value.map(Into::into)));
        self
    }
}
