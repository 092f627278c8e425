//! The resources `coap-server` serves: the brief's CoAPthon `BasicResource`
//! at `/basic`, libcoap's `/time` and `/`, and the ETSI CoAP plugtest set
//! (TD_COAP_CORE_*, TD_COAP_LINK_*).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coap_codec::{Code, ContentFormat, OptionNumber};
use coap_endpoint::server::{
    handler, response, Attributes, Child, Outcome, Request, Resource, Router,
};
use coap_endpoint::tokio::ServerHandle;

/// Knobs for the served resources.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many resources POST/PUT may create in total.
    pub max_dynamic: usize,
    /// How long `/separate` takes to answer (longer than the endpoint's
    /// separate-response delay, so an empty ACK goes first).
    pub separate_after: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_dynamic: 100,
            separate_after: Duration::from_millis(1500),
        }
    }
}

/// Adds every resource to `router`. `handle` answers `/separate` later.
pub fn install(router: &mut Router, handle: ServerHandle, opts: &Options) {
    let created = Arc::new(AtomicUsize::new(0));
    router.add(
        "/",
        handler(|req| match req.method() {
            Code::GET => Outcome::content(
                ContentFormat::TEXT_PLAIN,
                "This is a test server made with m2m-rs coap-endpoint",
            ),
            _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
        }),
        Attributes::new()
            .title("General Info")
            .ct(ContentFormat::TEXT_PLAIN),
    );
    router.add(
        "/basic",
        Basic::new("Basic Resource", created.clone(), opts.max_dynamic).notifying(handle.clone()),
        Attributes::new()
            .title("Basic Resource")
            .allow_children()
            .observable(),
    );
    router.add(
        "/time",
        handler(time),
        Attributes::new()
            .title("Internal Clock")
            .rt("ticks")
            .interface("clock")
            .ct(ContentFormat::TEXT_PLAIN)
            .observable(),
    );
    plugtest(router, handle, opts);
}

/// The brief's CoAPthon `BasicResource`: GET returns the payload, PUT
/// replaces it (and notifies the observers, when made
/// [`notifying`](Basic::notifying)), POST creates a child whose
/// Location-Query is the request's query, DELETE removes it.
#[derive(Debug)]
pub struct Basic {
    payload: Bytes,
    created: Arc<AtomicUsize>,
    max: usize,
    notifier: Option<ServerHandle>,
}

impl Basic {
    /// A resource holding `payload`; `created` counts resources made by POST
    /// across the tree, up to `max`.
    pub fn new(payload: &'static str, created: Arc<AtomicUsize>, max: usize) -> Self {
        Self {
            payload: Bytes::from_static(payload.as_bytes()),
            created,
            max,
            notifier: None,
        }
    }

    /// Notifies the resource's observers through `handle` when a PUT
    /// changes it (RFC 7641 §4.2); children made by POST do the same.
    #[must_use]
    pub fn notifying(mut self, handle: ServerHandle) -> Self {
        self.notifier = Some(handle);
        self
    }

    fn representation(&self) -> coap_codec::MessageBuilder {
        response(Code::CONTENT)
            .content_format(ContentFormat::TEXT_PLAIN)
            .payload(self.payload.clone())
    }
}

impl Resource for Basic {
    fn get(&mut self, _: &Request<'_>) -> Outcome {
        Outcome::Reply(self.representation())
    }

    fn put(&mut self, req: &Request<'_>) -> Outcome {
        let changed = self.payload != req.payload();
        self.payload = req.payload_bytes();
        if let Some(h) = self.notifier.as_ref().filter(|_| changed) {
            h.notify(&req.path(), self.representation(), false);
        }
        Outcome::status(Code::CHANGED)
    }

    fn post(&mut self, req: &Request<'_>) -> Outcome {
        if self.created.fetch_add(1, Ordering::Relaxed) >= self.max {
            self.created.fetch_sub(1, Ordering::Relaxed);
            return Outcome::Reply(
                response(Code::SERVICE_UNAVAILABLE).payload("too many resources"),
            );
        }
        let mut resp = response(Code::CREATED);
        for q in req.query() {
            resp.add_option(OptionNumber::LOCATION_QUERY, q.as_bytes());
        }
        let child = Self {
            payload: req.payload_bytes(),
            created: self.created.clone(),
            max: self.max,
            notifier: self.notifier.clone(),
        };
        let attrs = Attributes::new()
            .title("Basic Resource")
            .allow_children()
            .observable();
        Outcome::Create(Box::new(Child::new(child, attrs).with_response(resp)))
    }

    fn delete(&mut self, _: &Request<'_>) -> Outcome {
        Outcome::delete()
    }
}

/// libcoap's `/time`: `?ticks` gives seconds since the epoch, otherwise
/// "Mon DD hh:mm:ss" in UTC.
// An application resource, not a state machine: it reads the wall clock.
#[allow(clippy::disallowed_methods)]
fn time(req: &Request<'_>) -> Outcome {
    if req.method() != Code::GET {
        return Outcome::status(Code::METHOD_NOT_ALLOWED);
    }
    time_now(req.query().any(|q| q == "ticks"))
}

/// The current `/time` representation (`ticks`: seconds since the epoch).
#[allow(clippy::disallowed_methods)]
pub fn time_now(ticks: bool) -> Outcome {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let body = if ticks {
        secs.to_string()
    } else {
        format_utc(secs)
    };
    Outcome::Reply(
        response(Code::CONTENT)
            .content_format(ContentFormat::TEXT_PLAIN)
            .max_age(1)
            .payload(body),
    )
}

/// "Dec 02 04:38:07" for a UNIX time.
pub fn format_utc(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    format!(
        "{} {:02} {:02}:{:02}:{:02}",
        MONTHS[(month - 1) as usize],
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn text(s: &'static str) -> impl Fn(&Request<'_>) -> Outcome + Send + 'static {
    move |req| match req.method() {
        Code::GET => Outcome::content(ContentFormat::TEXT_PLAIN, s),
        _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
    }
}

/// The ETSI CoAP plugtest resources.
fn plugtest(router: &mut Router, handle: ServerHandle, opts: &Options) {
    router.add(
        "/test",
        Test(Bytes::from_static(b"Test resource")),
        Attributes::new().rt("test").ct(ContentFormat::TEXT_PLAIN),
    );
    router.add(
        "/seg1/seg2/seg3",
        handler(text("Long path resource")),
        Attributes::new().title("Long path resource"),
    );
    router.add(
        "/query",
        handler(|req| match req.method() {
            Code::GET => {
                let q: Vec<&str> = req.query().collect();
                Outcome::content(ContentFormat::TEXT_PLAIN, format!("query: {}", q.join("&")))
            }
            _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
        }),
        Attributes::new().title("Resource accepting query parameters"),
    );
    let after = opts.separate_after;
    router.add(
        "/separate",
        handler(move |req| {
            if req.method() != Code::GET {
                return Outcome::status(Code::METHOD_NOT_ALLOWED);
            }
            let (id, h) = (req.id, handle.clone());
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                h.respond(
                    id,
                    response(Code::CONTENT)
                        .content_format(ContentFormat::TEXT_PLAIN)
                        .payload("Separate response"),
                );
            });
            Outcome::Later
        }),
        Attributes::new().title("Resource which cannot be served immediately"),
    );
    router.add(
        "/location-query",
        handler(|req| match req.method() {
            Code::POST => {
                let mut r = response(Code::CREATED);
                r.add_option(OptionNumber::LOCATION_QUERY, b"first=1");
                r.add_option(OptionNumber::LOCATION_QUERY, b"second=2");
                Outcome::Reply(r)
            }
            _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
        }),
        Attributes::new().title(
            "Perform POST transaction with responses containing several Location-Query options",
        ),
    );
    router.add(
        "/multi-format",
        handler(|req| match (req.method(), req.accept()) {
            (Code::GET, Some(ContentFormat::XML)) => {
                Outcome::content(ContentFormat::XML, "<msg>multi-format</msg>")
            }
            (Code::GET, _) => Outcome::content(ContentFormat::TEXT_PLAIN, "multi-format"),
            _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
        }),
        Attributes::new()
            .title("Resource that exists in different content formats")
            .ct(ContentFormat::TEXT_PLAIN)
            .ct(ContentFormat::XML),
    );
    router.add(
        "/validate",
        Validate {
            payload: Bytes::from_static(b"Validate resource"),
            etag: 1,
        },
        Attributes::new().title("Resource which varies"),
    );
    router.add(
        "/create1",
        Create1(None),
        Attributes::new().title("Resource which can be created with PUT and If-None-Match"),
    );
    router.add(
        "/link1",
        handler(text("link1")),
        Attributes::new().rt("Type1").rt("Type2").interface("If1"),
    );
    router.add(
        "/link2",
        handler(text("link2")),
        Attributes::new().rt("Type2").rt("Type3").interface("If2"),
    );
    router.add(
        "/link3",
        handler(text("link3")),
        Attributes::new().rt("Type1").rt("Type3").interface("foo"),
    );
    router.add(
        "/path",
        handler(|req| match req.method() {
            Code::GET => Outcome::content(
                ContentFormat::LINK_FORMAT,
                "</path/sub1>,</path/sub2>,</path/sub3>",
            ),
            _ => Outcome::status(Code::METHOD_NOT_ALLOWED),
        }),
        Attributes::new()
            .title("Hierarchical link description entry")
            .ct(ContentFormat::LINK_FORMAT),
    );
    for (p, body) in [
        ("/path/sub1", "sub1"),
        ("/path/sub2", "sub2"),
        ("/path/sub3", "sub3"),
    ] {
        router.add(
            p,
            handler(text(body)),
            Attributes::new().title("Hierarchical link description sub-resource"),
        );
    }
}

/// `/test`: GET, POST (2.01 with a Location-Path), PUT (2.04), DELETE (2.02).
struct Test(Bytes);

impl Resource for Test {
    fn get(&mut self, _: &Request<'_>) -> Outcome {
        Outcome::content(ContentFormat::TEXT_PLAIN, self.0.clone())
    }
    fn post(&mut self, _: &Request<'_>) -> Outcome {
        let mut r = response(Code::CREATED);
        for seg in ["location1", "location2", "location3"] {
            r.add_option(OptionNumber::LOCATION_PATH, seg.as_bytes());
        }
        Outcome::Reply(r)
    }
    fn put(&mut self, req: &Request<'_>) -> Outcome {
        self.0 = req.payload_bytes();
        Outcome::status(Code::CHANGED)
    }
    fn delete(&mut self, _: &Request<'_>) -> Outcome {
        Outcome::status(Code::DELETED)
    }
}

/// `/validate`: ETag validation (TD_COAP_CORE_21) and If-Match (TD_COAP_CORE_22).
struct Validate {
    payload: Bytes,
    etag: u32,
}

impl Validate {
    fn tag(&self) -> [u8; 4] {
        self.etag.to_be_bytes()
    }
}

impl Resource for Validate {
    fn get(&mut self, req: &Request<'_>) -> Outcome {
        let tag = self.tag();
        if req.options().etags().any(|t| t == tag) {
            return Outcome::Reply(response(Code::VALID).etag(&tag));
        }
        Outcome::Reply(
            response(Code::CONTENT)
                .content_format(ContentFormat::TEXT_PLAIN)
                .etag(&tag)
                .payload(self.payload.clone()),
        )
    }
    fn put(&mut self, req: &Request<'_>) -> Outcome {
        let tag = self.tag();
        let mut if_match = req.options().if_match().peekable();
        if if_match.peek().is_some() && !if_match.any(|t| t == tag || t.is_empty()) {
            return Outcome::status(Code::PRECONDITION_FAILED);
        }
        self.payload = req.payload_bytes();
        self.etag = self.etag.wrapping_add(1);
        Outcome::Reply(response(Code::CHANGED).etag(&self.tag()))
    }
}

/// `/create1`: PUT with If-None-Match creates it once (TD_COAP_CORE_23).
struct Create1(Option<Bytes>);

impl Resource for Create1 {
    fn get(&mut self, _: &Request<'_>) -> Outcome {
        match &self.0 {
            Some(p) => Outcome::content(ContentFormat::TEXT_PLAIN, p.clone()),
            None => Outcome::status(Code::NOT_FOUND),
        }
    }
    fn put(&mut self, req: &Request<'_>) -> Outcome {
        if req.options().if_none_match() && self.0.is_some() {
            return Outcome::status(Code::PRECONDITION_FAILED);
        }
        let code = if self.0.is_some() {
            Code::CHANGED
        } else {
            Code::CREATED
        };
        self.0 = Some(req.payload_bytes());
        Outcome::status(code)
    }
    fn delete(&mut self, _: &Request<'_>) -> Outcome {
        self.0 = None;
        Outcome::status(Code::DELETED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_format_matches_libcoap_style() {
        assert_eq!(format_utc(0), "Jan 01 00:00:00");
        // 2026-12-02 04:38:07 UTC.
        assert_eq!(format_utc(1_796_186_287), "Dec 02 04:38:07");
        // 2024-02-29 12:00:00 UTC (leap day).
        assert_eq!(format_utc(1_709_208_000), "Feb 29 12:00:00");
    }
}
