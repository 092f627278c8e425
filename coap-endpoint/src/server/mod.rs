//! A resource-tree server on top of the [`Endpoint`]: handlers per method,
//! resources that create children, and `/.well-known/core` (RFC 6690).
//!
//! The [`Router`] is sans-IO like the endpoint: [`Router::serve`] takes the
//! requests out of an endpoint, calls the handlers and responds. The tokio
//! [`Server`](crate::tokio::Server) does exactly that in its loop.
//!
//! ```
//! use coap_codec::{Code, ContentFormat};
//! use coap_endpoint::server::{handler, response, Attributes, Outcome, Router};
//!
//! let mut router = Router::new();
//! router.add(
//!     "/sensors/temp",
//!     handler(|req| match req.method() {
//!         Code::GET => Outcome::content(ContentFormat::TEXT_PLAIN, "21.5"),
//!         _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
//!     }),
//!     Attributes::new().rt("temperature-c").ct(ContentFormat::TEXT_PLAIN).observable(),
//! );
//! assert!(router.contains("/sensors/temp"));
//! assert_eq!(router.well_known_core(&[]), r#"</sensors/temp>;rt="temperature-c";ct=0;obs"#);
//! ```

mod resource;
mod well_known;

use std::collections::BTreeMap;
use std::time::Instant;

use coap_codec::link_format::Filter;
use coap_codec::{Code, ContentFormat, MessageBuilder, OptionNumber};

pub use resource::{handler, response, Attributes, Child, Handler, Outcome, Request, Resource};

use crate::{Endpoint, Event};

struct Entry {
    resource: Box<dyn Resource>,
    attrs: Attributes,
}

#[derive(Default)]
struct Node {
    children: BTreeMap<String, Self>,
    entry: Option<Entry>,
}

impl Node {
    fn find(&self, path: &[&str]) -> Option<&Self> {
        path.iter().try_fold(self, |n, s| n.children.get(*s))
    }

    fn find_mut(&mut self, path: &[&str]) -> Option<&mut Self> {
        path.iter().try_fold(self, |n, s| n.children.get_mut(*s))
    }

    fn is_empty(&self) -> bool {
        self.entry.is_none() && self.children.is_empty()
    }
}

/// The resource tree. Paths are `/`-separated Uri-Path segments.
///
/// Resources with [`Attributes::non_atomic`] need the endpoint to know
/// their paths before their first block arrives: [`Router::serve`] and the
/// tokio server tell it, and a loop of your own that calls
/// [`Router::handle`] calls [`Router::attach`] first.
#[derive(Default)]
pub struct Router {
    root: Node,
    /// The endpoint has been told the current non-atomic paths.
    synced: bool,
}

impl core::fmt::Debug for Router {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut paths = Vec::new();
        self.walk(&self.root, &mut Vec::new(), &mut |p, _| {
            paths.push(p.join("/"))
        });
        f.debug_struct("Router").field("paths", &paths).finish()
    }
}

fn segments(path: &str) -> Vec<&str> {
    let p = path.strip_prefix('/').unwrap_or(path);
    if p.is_empty() {
        Vec::new()
    } else {
        p.split('/').collect()
    }
}

impl Router {
    /// An empty tree; `/.well-known/core` is always served.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the resource at `path` (`/a/b`).
    pub fn add(
        &mut self,
        path: &str,
        resource: impl Resource,
        attributes: Attributes,
    ) -> &mut Self {
        self.insert(&segments(path), Box::new(resource), attributes);
        self
    }

    fn insert(&mut self, path: &[&str], resource: Box<dyn Resource>, attrs: Attributes) {
        let mut node = &mut self.root;
        for s in path {
            node = node.children.entry((*s).to_owned()).or_default();
        }
        self.synced &=
            !attrs.non_atomic && !node.entry.as_ref().is_some_and(|e| e.attrs.non_atomic);
        node.entry = Some(Entry { resource, attrs });
    }

    /// Tells `endpoint` which paths take Block1 bodies non-atomically
    /// (those whose attributes say [`Attributes::non_atomic`]; see
    /// [`Endpoint::set_non_atomic`]). [`serve`](Self::serve) does this
    /// whenever the tree changed; call it before the first datagram.
    pub fn attach(&mut self, endpoint: &mut Endpoint) {
        let mut paths = Vec::new();
        self.walk(&self.root, &mut Vec::new(), &mut |p, attrs| {
            if attrs.non_atomic {
                paths.push(format!("/{}", p.join("/")));
            }
        });
        endpoint.set_non_atomic_paths(paths);
        self.synced = true;
    }

    /// [`attach`](Self::attach) when the tree changed since.
    pub(crate) fn sync(&mut self, endpoint: &mut Endpoint) {
        if !self.synced {
            self.attach(endpoint);
        }
    }

    /// Removes the resource at `path` and everything below it. Returns
    /// whether there was one.
    pub fn remove(&mut self, path: &str) -> bool {
        self.remove_segments(&segments(path))
    }

    fn remove_segments(&mut self, path: &[&str]) -> bool {
        let Some((last, parent)) = path.split_last() else {
            return false;
        };
        let Some(p) = self.root.find_mut(parent) else {
            return false;
        };
        let removed = p.children.remove(*last).is_some_and(|n| n.entry.is_some());
        // Something below may have been non-atomic.
        self.synced = false;
        // Prune empty interior nodes.
        for depth in (0..parent.len()).rev() {
            let Some(n) = self.root.find_mut(&parent[..depth]) else {
                break;
            };
            if n.children.get(parent[depth]).is_some_and(Node::is_empty) {
                n.children.remove(parent[depth]);
            } else {
                break;
            }
        }
        removed
    }

    /// Whether a resource lives at `path`.
    pub fn contains(&self, path: &str) -> bool {
        self.root
            .find(&segments(path))
            .is_some_and(|n| n.entry.is_some())
    }

    /// The link-format document of the visible resources that match every
    /// filter (RFC 6690 §4.1), such as `rt=temp*` or `href=/sensors*`.
    pub fn well_known_core(&self, filters: &[&str]) -> String {
        let filters: Vec<Filter<'_>> = filters.iter().filter_map(|q| Filter::parse(q)).collect();
        let mut doc = String::new();
        self.walk(&self.root, &mut Vec::new(), &mut |path, attrs| {
            if !attrs.hidden {
                well_known::append_link(&mut doc, path, attrs, &filters);
            }
        });
        doc
    }

    fn walk<'a>(
        &'a self,
        node: &'a Node,
        path: &mut Vec<&'a str>,
        f: &mut dyn FnMut(&[&str], &Attributes),
    ) {
        if let Some(e) = &node.entry {
            f(path, &e.attrs);
        }
        for (name, child) in &node.children {
            path.push(name);
            self.walk(child, path, f);
            path.pop();
        }
    }

    /// Serves every request waiting in `endpoint`: calls the handlers and
    /// responds. Returns the other events (responses to requests of ours).
    pub fn serve(&mut self, now: Instant, endpoint: &mut Endpoint) -> Vec<Event> {
        self.sync(endpoint);
        let mut other = Vec::new();
        while let Some(ev) = endpoint.poll_event() {
            match ev {
                Event::Request {
                    id,
                    from,
                    request,
                    multicast,
                } => {
                    let req = Request {
                        id,
                        from,
                        message: &request,
                        multicast,
                        now,
                    };
                    if let Some(resp) = self.handle(&req) {
                        let observable = self.observable_key(&request);
                        answer(endpoint, now, id, observable.as_deref(), resp);
                    }
                }
                ev => other.push(ev),
            }
        }
        self.sync(endpoint);
        other
    }

    /// Whether a resource at `path` is marked observable.
    pub fn is_observable(&self, path: &str) -> bool {
        self.root
            .find(&segments(path))
            .and_then(|n| n.entry.as_ref())
            .is_some_and(|e| e.attrs.observable)
    }

    /// For a registration (GET or FETCH with Observe 0, RFC 7641 §3.1) of
    /// an observable resource: its path, the key notifications use.
    pub fn observable_key(&self, request: &coap_codec::Message<bytes::Bytes>) -> Option<String> {
        let method = request.code();
        if request.options().observe() != Some(0) || !(method == Code::GET || method == Code::FETCH)
        {
            return None;
        }
        let path = request.options().path().ok()?;
        self.is_observable(&path).then_some(path)
    }

    /// Routes one request: the response to send now, or `None` when the
    /// handler answers later ([`Outcome::Later`]).
    pub fn handle(&mut self, req: &Request<'_>) -> Option<MessageBuilder> {
        let path: Result<Vec<&str>, _> = req.message.options().uri_path().collect();
        let Ok(path) = path else {
            return Some(response(Code::BAD_REQUEST).payload("Uri-Path is not UTF-8"));
        };
        let method = req.method();
        if path == [".well-known", "core"] {
            if method != Code::GET {
                return Some(response(Code::METHOD_NOT_ALLOWED));
            }
            let queries: Vec<&str> = req.query().collect();
            return Some(
                response(Code::CONTENT)
                    .content_format(ContentFormat::LINK_FORMAT)
                    .payload(self.well_known_core(&queries)),
            );
        }
        if let Some(Node { entry: Some(e), .. }) = self.root.find_mut(&path) {
            if let Some(refusal) = check_formats(&e.attrs, req) {
                return Some(refusal);
            }
            let outcome = call(e.resource.as_mut(), method, req);
            return self.apply(outcome, &path, &path);
        }
        // Not found: a POST or PUT may create it through the nearest
        // ancestor that allows children.
        if method == Code::POST || method == Code::PUT {
            for depth in (0..path.len()).rev() {
                let Some(Node { entry: Some(e), .. }) = self.root.find_mut(&path[..depth]) else {
                    continue;
                };
                if !e.attrs.allow_children {
                    break;
                }
                let outcome = call(e.resource.as_mut(), method, req);
                return self.apply(outcome, &path[..depth], &path);
            }
        }
        Some(response(Code::NOT_FOUND))
    }

    fn apply(
        &mut self,
        outcome: Outcome,
        base: &[&str],
        requested: &[&str],
    ) -> Option<MessageBuilder> {
        match outcome {
            Outcome::Reply(m) => Some(m),
            Outcome::Later => None,
            Outcome::Delete(m) => {
                self.remove_segments(base);
                Some(m)
            }
            Outcome::Create(child) => {
                let Child {
                    name,
                    resource,
                    attributes,
                    mut response,
                } = *child;
                let mut target: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
                match name {
                    Some(n) => target.extend(segments(&n).into_iter().map(str::to_owned)),
                    None if requested.len() > base.len() => {
                        target = requested.iter().map(|s| (*s).to_owned()).collect();
                    }
                    None => target.push(self.free_child_name(base)),
                }
                let t: Vec<&str> = target.iter().map(String::as_str).collect();
                if self.root.find(&t).is_some_and(|n| n.entry.is_some()) && t != requested {
                    return Some(self::response(Code::CONFLICT));
                }
                self.insert(&t, resource, attributes);
                if response
                    .options()
                    .all(|(n, _)| n != OptionNumber::LOCATION_PATH)
                {
                    for seg in &t {
                        response.add_option(OptionNumber::LOCATION_PATH, seg.as_bytes());
                    }
                }
                Some(response)
            }
        }
    }

    fn free_child_name(&self, base: &[&str]) -> String {
        let node = self.root.find(base);
        (1u64..)
            .map(|n| n.to_string())
            .find(|n| node.is_none_or(|p| !p.children.contains_key(n)))
            .unwrap_or_default()
    }
}

/// Sends a handler's response; one the endpoint refuses (not a response
/// code, or options too large for `max_message_size`; a large payload is
/// sent block-wise instead) becomes 5.00 so the client is not left waiting.
pub(crate) fn respond_or_fail(
    endpoint: &mut Endpoint,
    now: Instant,
    id: crate::IncomingId,
    resp: MessageBuilder,
) {
    match endpoint.respond(now, id, resp) {
        Ok(()) => {}
        Err(crate::RespondError::UnknownRequest) => {
            tracing::debug!(?id, "response to a request no longer pending");
        }
        Err(e) => {
            tracing::warn!(error = %e, "handler response refused; answering 5.00");
            let fallback = response(Code::INTERNAL_SERVER_ERROR).payload(e.to_string());
            if let Err(e) = endpoint.respond(now, id, fallback) {
                tracing::warn!(error = %e, "5.00 not sent");
            }
        }
    }
}

/// Sends a handler's response: a registration of an observable resource
/// (`observe` is its key) adds the client as an observer.
pub(crate) fn answer(
    endpoint: &mut Endpoint,
    now: Instant,
    id: crate::IncomingId,
    observe: Option<&str>,
    resp: MessageBuilder,
) {
    let Some(key) = observe else {
        respond_or_fail(endpoint, now, id, resp);
        return;
    };
    if let Err(e) = endpoint.accept_observer(now, id, key, resp) {
        tracing::debug!(error = %e, "observe registration not answered");
        respond_or_fail(endpoint, now, id, response(Code::INTERNAL_SERVER_ERROR));
    }
}

fn call(r: &mut dyn Resource, method: Code, req: &Request<'_>) -> Outcome {
    match method {
        Code::GET => r.get(req),
        Code::POST => r.post(req),
        Code::PUT => r.put(req),
        Code::DELETE => r.delete(req),
        Code::FETCH => r.fetch(req),
        Code::PATCH => r.patch(req),
        Code::IPATCH => r.ipatch(req),
        _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
    }
}

/// RFC 7252 §5.10.4 and §5.9.2: 4.06 when the Accept names a format the
/// resource does not serve, 4.15 when the payload's format is not one it
/// accepts.
fn check_formats(attrs: &Attributes, req: &Request<'_>) -> Option<MessageBuilder> {
    let method = req.method();
    if let Some(accept) = req.accept() {
        let reads = method == Code::GET || method == Code::FETCH;
        if reads && !attrs.content_formats.is_empty() && !attrs.content_formats.contains(&accept.0)
        {
            return Some(response(Code::NOT_ACCEPTABLE));
        }
    }
    if !attrs.accepts.is_empty() && !req.payload().is_empty() {
        let ok = req
            .content_format()
            .is_some_and(|cf| attrs.accepts.contains(&cf.0));
        if !ok {
            return Some(response(Code::UNSUPPORTED_CONTENT_FORMAT));
        }
    }
    None
}

#[cfg(test)]
mod tests;
