//! A data-driven [`Hooks`] implementation: users with passwords and
//! per-user access control lists of topic patterns, in the manner of a
//! Mosquitto password file and ACL file.
//!
//! - [`AccessControl::authenticate`](Hooks::authenticate): a client that
//!   gives a user name must give that user's password (compared in constant
//!   time); an unknown user or a wrong password is refused with
//!   [`ReasonCode::BAD_USER_NAME_OR_PASSWORD`] (3.1.1 return code 4). A
//!   client without a user name is anonymous (whether anonymous clients may
//!   connect at all is [`Config::allow_anonymous`](crate::Config::allow_anonymous)).
//! - Each user (and the anonymous clients) has an [`Acl`]: topic patterns
//!   for PUBLISH and for SUBSCRIBE. A pattern is an MQTT topic filter in
//!   which `%c` stands for the client identifier and `%u` for the user name
//!   (a pattern whose substitution would contain `/`, `+` or `#` matches
//!   nothing). A PUBLISH is allowed when a publish pattern matches its
//!   topic; a SUBSCRIBE filter is allowed when a subscribe pattern matches
//!   every topic the filter can match (`a/#` allows `a/+/b`, `a/+` does not
//!   allow `a/#`). A shared subscription `$share/group/filter` is checked by
//!   its `filter`. As in topic matching, a pattern starting with a wildcard
//!   does not match topics starting with `$`.
//!
//! # Example
//! ```
//! use mqtt_broker_core::{AccessControl, Acl, Hooks, User};
//! use mqtt_codec::{QoS, ReasonCode};
//!
//! let mut access = AccessControl::new(
//!     vec![User::new("alice", "secret").with_acl(Acl::new(["sensors/%c/#"], ["sensors/#"]))],
//!     Acl::new(Vec::<String>::new(), ["public/#"]),
//! )
//! .unwrap();
//! assert_eq!(access.authenticate("c1", Some("alice"), Some(b"wrong")), ReasonCode::BAD_USER_NAME_OR_PASSWORD);
//! assert_eq!(access.authenticate("c1", Some("alice"), Some(b"secret")), ReasonCode::SUCCESS);
//! assert!(access.authorize_publish("c1", "sensors/c1/temp", QoS::AtMostOnce, false));
//! assert!(!access.authorize_publish("c1", "sensors/c2/temp", QoS::AtMostOnce, false));
//! assert!(access.authorize_subscribe("c1", "sensors/+/temp"));
//! assert!(!access.authorize_subscribe("c1", "#"));
//!
//! assert_eq!(access.authenticate("c2", None, None), ReasonCode::SUCCESS); // anonymous
//! assert!(access.authorize_subscribe("c2", "public/news"));
//! assert!(!access.authorize_publish("c2", "public/news", QoS::AtMostOnce, false));
//! ```

use std::collections::HashMap;
use std::fmt;

use mqtt_codec::{topic, QoS, ReasonCode};

use crate::hooks::Hooks;

/// Client identifiers remembered by default by an [`AccessControl`] (see
/// [`AccessControl::with_client_limit`]).
pub const DEFAULT_CLIENT_LIMIT: usize = 100_000;

/// Topic patterns allowed for PUBLISH and for SUBSCRIBE.
///
/// `None` for both lists allows everything; otherwise a missing list allows
/// nothing of its kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    /// Patterns for the topics of PUBLISH (and wills).
    pub publish: Option<Vec<String>>,
    /// Patterns covering the filters of SUBSCRIBE.
    pub subscribe: Option<Vec<String>>,
}

impl Acl {
    /// Only these publish and subscribe patterns.
    pub fn new<P, S>(publish: P, subscribe: S) -> Self
    where
        P: IntoIterator,
        P::Item: Into<String>,
        S: IntoIterator,
        S::Item: Into<String>,
    {
        Self {
            publish: Some(publish.into_iter().map(Into::into).collect()),
            subscribe: Some(subscribe.into_iter().map(Into::into).collect()),
        }
    }

    /// Everything allowed.
    pub fn allow_all() -> Self {
        Self::default()
    }
}

/// A user: a name, a password and an [`Acl`] (everything by default).
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The user name of CONNECT.
    pub name: String,
    /// The password of CONNECT (bytes, compared in constant time).
    pub password: Vec<u8>,
    /// What this user may publish and subscribe to.
    pub acl: Acl,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"<hidden>")
            .field("acl", &self.acl)
            .finish()
    }
}

impl User {
    /// A user allowed everything.
    pub fn new(name: impl Into<String>, password: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            password: password.into(),
            acl: Acl::allow_all(),
        }
    }

    /// This user with `acl`.
    #[must_use]
    pub fn with_acl(mut self, acl: Acl) -> Self {
        self.acl = acl;
        self
    }
}

/// A pattern that is not a valid topic filter, or a user listed twice.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessError {
    /// This pattern is not a valid MQTT topic filter.
    InvalidPattern(String),
    /// This user name is listed more than once.
    DuplicateUser(String),
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPattern(p) => write!(f, "invalid ACL pattern {p:?}"),
            Self::DuplicateUser(u) => write!(f, "user {u:?} listed twice"),
        }
    }
}

impl std::error::Error for AccessError {}

/// Who a connected client is: a user's index, or anonymous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    User(usize),
    Anonymous,
}

/// [`Hooks`] that authenticate [`User`]s and authorise PUBLISH and
/// SUBSCRIBE by their [`Acl`]s. See the [module docs](self).
///
/// The hooks learn a client's user at CONNECT and are later asked about
/// the client identifier alone, so the user of each client identifier is
/// remembered, for at most [`DEFAULT_CLIENT_LIMIT`] (or
/// [`with_client_limit`](Self::with_client_limit)) identifiers; beyond it
/// an arbitrary one is forgotten, and a client whose identifier was
/// forgotten is refused every PUBLISH and SUBSCRIBE until it reconnects.
#[derive(Debug, Clone)]
pub struct AccessControl {
    users: Vec<User>,
    by_name: HashMap<String, usize>,
    anonymous: Acl,
    clients: HashMap<Box<str>, Who>,
    client_limit: usize,
}

impl AccessControl {
    /// Hooks for `users`, and `anonymous` for clients without a user name.
    ///
    /// # Errors
    /// A pattern that is not a valid topic filter (with `%c` and `%u`
    /// standing for one level's text), or a user name listed twice.
    pub fn new(users: Vec<User>, anonymous: Acl) -> Result<Self, AccessError> {
        let mut by_name = HashMap::with_capacity(users.len());
        for (i, u) in users.iter().enumerate() {
            check_acl(&u.acl)?;
            if by_name.insert(u.name.clone(), i).is_some() {
                return Err(AccessError::DuplicateUser(u.name.clone()));
            }
        }
        check_acl(&anonymous)?;
        Ok(Self {
            users,
            by_name,
            anonymous,
            clients: HashMap::new(),
            client_limit: DEFAULT_CLIENT_LIMIT,
        })
    }

    /// Remember the user of at most `limit` (at least 1) client identifiers.
    #[must_use]
    pub fn with_client_limit(mut self, limit: usize) -> Self {
        self.client_limit = limit.max(1);
        self
    }

    fn remember(&mut self, client_id: &str, who: Who) {
        if self.clients.len() >= self.client_limit && !self.clients.contains_key(client_id) {
            let evict = self.clients.keys().next().cloned();
            if let Some(k) = evict {
                self.clients.remove(&k);
            }
        }
        self.clients.insert(client_id.into(), who);
    }

    /// The ACL and user name of `client_id`, if known.
    fn lookup(&self, client_id: &str) -> Option<(&Acl, Option<&str>)> {
        match self.clients.get(client_id)? {
            Who::User(i) => {
                let u = self.users.get(*i)?;
                Some((&u.acl, Some(u.name.as_str())))
            }
            Who::Anonymous => Some((&self.anonymous, None)),
        }
    }
}

impl Hooks for AccessControl {
    fn authenticate(
        &mut self,
        client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> ReasonCode {
        let Some(name) = username else {
            self.remember(client_id, Who::Anonymous);
            return ReasonCode::SUCCESS;
        };
        let given = password.unwrap_or_default();
        match self.by_name.get(name).copied() {
            Some(i) => {
                let ok = constant_time_eq(&self.users[i].password, given) && password.is_some();
                if ok {
                    self.remember(client_id, Who::User(i));
                    ReasonCode::SUCCESS
                } else {
                    ReasonCode::BAD_USER_NAME_OR_PASSWORD
                }
            }
            None => {
                // The same work as for a known user, so that timing does not
                // tell which names exist.
                let _ = constant_time_eq(b"m2m-no-such-user", given);
                ReasonCode::BAD_USER_NAME_OR_PASSWORD
            }
        }
    }

    fn authorize_publish(&mut self, client_id: &str, topic: &str, _: QoS, _: bool) -> bool {
        let Some((acl, user)) = self.lookup(client_id) else {
            return false;
        };
        if acl.publish.is_none() && acl.subscribe.is_none() {
            return true;
        }
        acl.publish
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|p| substitute(p, client_id, user).is_some_and(|p| covers(&p, topic)))
    }

    fn authorize_subscribe(&mut self, client_id: &str, filter: &str) -> bool {
        let Some((acl, user)) = self.lookup(client_id) else {
            return false;
        };
        if acl.publish.is_none() && acl.subscribe.is_none() {
            return true;
        }
        let filter = match topic::SharedSubscription::parse(filter) {
            Ok(Some(s)) => s.filter,
            _ => filter,
        };
        acl.subscribe
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|p| substitute(p, client_id, user).is_some_and(|p| covers(&p, filter)))
    }
}

fn check_acl(acl: &Acl) -> Result<(), AccessError> {
    let lists = [acl.publish.as_deref(), acl.subscribe.as_deref()];
    for p in lists.into_iter().flatten().flatten() {
        let probe = p.replace("%c", "c").replace("%u", "u");
        if topic::validate_topic_filter(&probe).is_err() {
            return Err(AccessError::InvalidPattern(p.clone()));
        }
    }
    Ok(())
}

/// `pattern` with `%c` and `%u` replaced; `None` when a value is missing or
/// would add levels or wildcards.
fn substitute(pattern: &str, client_id: &str, user: Option<&str>) -> Option<String> {
    if !pattern.contains('%') {
        return Some(pattern.to_owned());
    }
    let safe = |v: &str| !v.is_empty() && !v.contains(['/', '+', '#']);
    // One pass, so that a `%u` inside a client identifier stays as it is.
    let mut out = String::with_capacity(pattern.len() + client_id.len());
    let mut rest = pattern;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(r) = tail.strip_prefix("%c") {
            if !safe(client_id) {
                return None;
            }
            out.push_str(client_id);
            rest = r;
        } else if let Some(r) = tail.strip_prefix("%u") {
            out.push_str(user.filter(|u| safe(u))?);
            rest = r;
        } else {
            out.push('%');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Whether every topic matched by `filter` (a topic name being a filter
/// without wildcards) is matched by `pattern`.
pub(crate) fn covers(pattern: &str, filter: &str) -> bool {
    let mut p = pattern.split('/');
    let mut f = filter.split('/');
    let mut first = true;
    loop {
        let (pl, fl) = (p.next(), f.next());
        // MQTT 5.0 §4.7.2: a leading wildcard does not match a `$` topic.
        if first && matches!(pl, Some("+" | "#")) && fl.is_some_and(|l| l.starts_with('$')) {
            return false;
        }
        first = false;
        match (pl, fl) {
            // `#` matches the rest, the parent level included.
            (Some("#"), _) => return true,
            (None, None) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            // The filter's `#` matches deeper topics than anything but `#`.
            (Some(_), Some("#")) => return false,
            (Some("+"), Some(_)) => {}
            (Some(_), Some("+")) => return false,
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// `a == b` in time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= std::hint::black_box(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_topics_and_filters() {
        // Topic names.
        assert!(covers("a/b", "a/b"));
        assert!(!covers("a/b", "a/c"));
        assert!(covers("a/+", "a/b"));
        assert!(!covers("a/+", "a/b/c"));
        assert!(!covers("a/+", "a"));
        assert!(covers("a/#", "a"));
        assert!(covers("a/#", "a/b/c"));
        assert!(covers("#", "x/y"));
        assert!(covers("a//b", "a//b"));
        assert!(covers("+/+", "/x"));
        // Filters.
        assert!(covers("a/#", "a/+/b"));
        assert!(covers("a/#", "a/#"));
        assert!(covers("#", "#"));
        assert!(covers("#", "+/x/#"));
        assert!(covers("a/+", "a/+"));
        assert!(!covers("a/+", "a/#"));
        assert!(!covers("a/b", "a/+"));
        assert!(!covers("a/+/#", "a/#"));
        assert!(covers("a/+/#", "a/+"));
        assert!(covers("+/b", "+/b"));
        assert!(!covers("+/b", "#"));
        // `$` topics need a pattern naming them.
        assert!(!covers("#", "$SYS/broker/uptime"));
        assert!(!covers("+/broker/#", "$SYS/broker/uptime"));
        assert!(!covers("#", "$SYS/#"));
        assert!(covers("$SYS/#", "$SYS/broker/+"));
        assert!(covers("#", "+/broker"));
    }

    fn access() -> AccessControl {
        AccessControl::new(
            vec![
                User::new("alice", "s3cret").with_acl(Acl::new(
                    ["clients/%c/#", "users/%u/out"],
                    ["clients/%c/#", "shared/#", "users/%u/+"],
                )),
                User::new("root", "toor"),
                User::new("reader", "r").with_acl(Acl {
                    publish: None,
                    subscribe: Some(vec!["#".into()]),
                }),
            ],
            Acl::new(Vec::<String>::new(), ["public/#"]),
        )
        .unwrap()
    }

    #[test]
    fn credentials() {
        let mut a = access();
        let bad = ReasonCode::BAD_USER_NAME_OR_PASSWORD;
        assert_eq!(
            a.authenticate("c", Some("alice"), Some(b"s3cret")),
            ReasonCode::SUCCESS
        );
        assert_eq!(a.authenticate("c", Some("alice"), Some(b"s3cre")), bad);
        assert_eq!(a.authenticate("c", Some("alice"), Some(b"s3cret!")), bad);
        assert_eq!(a.authenticate("c", Some("alice"), Some(b"")), bad);
        assert_eq!(a.authenticate("c", Some("alice"), None), bad);
        assert_eq!(a.authenticate("c", Some("bob"), Some(b"s3cret")), bad);
        assert_eq!(a.authenticate("c", Some("root"), Some(b"s3cret")), bad);
        assert_eq!(a.authenticate("c", None, None), ReasonCode::SUCCESS);
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"", b"\xff"));
        assert!(!constant_time_eq(b"a\0", b"a"));
    }

    #[test]
    fn acls_with_substitution() {
        let mut a = access();
        let q = QoS::AtMostOnce;
        assert_eq!(
            a.authenticate("dev1", Some("alice"), Some(b"s3cret")),
            ReasonCode::SUCCESS
        );
        assert!(a.authorize_publish("dev1", "clients/dev1/x", q, false));
        assert!(!a.authorize_publish("dev1", "clients/dev2/x", q, false));
        assert!(a.authorize_publish("dev1", "users/alice/out", q, false));
        assert!(!a.authorize_publish("dev1", "users/bob/out", q, false));
        assert!(!a.authorize_publish("dev1", "shared/x", q, false));
        assert!(a.authorize_subscribe("dev1", "clients/dev1/+/y"));
        assert!(a.authorize_subscribe("dev1", "shared/#"));
        assert!(a.authorize_subscribe("dev1", "$share/g/shared/+"));
        assert!(a.authorize_subscribe("dev1", "users/alice/+"));
        assert!(!a.authorize_subscribe("dev1", "users/alice/#"));
        assert!(!a.authorize_subscribe("dev1", "clients/#"));
        assert!(!a.authorize_subscribe("dev1", "#"));

        // Wildcards in a client id or user name never widen a pattern.
        assert_eq!(
            a.authenticate("+", Some("alice"), Some(b"s3cret")),
            ReasonCode::SUCCESS
        );
        assert!(!a.authorize_publish("+", "clients/+/x", q, false));
        assert!(!a.authorize_subscribe("+", "clients/+/x"));
        // A `%u` in a client id is not substituted again.
        assert_eq!(
            substitute("c/%c/%u/%x", "%u", Some("alice")).as_deref(),
            Some("c/%u/alice/%x")
        );
        assert_eq!(substitute("c/%u", "id", None), None);
        assert_eq!(substitute("c/%c", "", Some("u")), None);

        // A user without lists may do everything.
        assert_eq!(
            a.authenticate("r", Some("root"), Some(b"toor")),
            ReasonCode::SUCCESS
        );
        assert!(a.authorize_publish("r", "any/thing", q, true));
        assert!(a.authorize_subscribe("r", "#"));
        // One list only: the other allows nothing.
        assert_eq!(
            a.authenticate("rd", Some("reader"), Some(b"r")),
            ReasonCode::SUCCESS
        );
        assert!(a.authorize_subscribe("rd", "a/#"));
        assert!(!a.authorize_publish("rd", "a", q, false));

        // Anonymous.
        assert_eq!(a.authenticate("anon", None, None), ReasonCode::SUCCESS);
        assert!(a.authorize_subscribe("anon", "public/+"));
        assert!(!a.authorize_subscribe("anon", "clients/anon/x"));
        assert!(!a.authorize_publish("anon", "public/x", q, false));
        // A client never authenticated (or forgotten) may do nothing.
        assert!(!a.authorize_publish("nobody", "public/x", q, false));
        assert!(!a.authorize_subscribe("nobody", "public/x"));
        // A failed login does not change what the id may do.
        assert_eq!(
            a.authenticate("anon", Some("root"), Some(b"nope")),
            ReasonCode::BAD_USER_NAME_OR_PASSWORD
        );
        assert!(!a.authorize_subscribe("anon", "#"));
    }

    #[test]
    fn bad_configuration_and_client_limit() {
        assert_eq!(
            AccessControl::new(
                vec![User::new("a", "x"), User::new("a", "y")],
                Acl::default()
            )
            .unwrap_err(),
            AccessError::DuplicateUser("a".into())
        );
        assert_eq!(
            AccessControl::new(vec![], Acl::new(["a/#/b"], Vec::<String>::new())).unwrap_err(),
            AccessError::InvalidPattern("a/#/b".into())
        );
        let mut a = AccessControl::new(vec![], Acl::default())
            .unwrap()
            .with_client_limit(2);
        for id in ["a", "b", "c", "d"] {
            assert_eq!(a.authenticate(id, None, None), ReasonCode::SUCCESS);
        }
        assert_eq!(a.clients.len(), 2);
        assert!(a.authorize_publish("d", "x", QoS::AtMostOnce, false));
    }

    fn filter_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let level = prop::sample::select(vec!["a", "b", "$s", "+", ""]);
        (prop::collection::vec(level, 1..=3), any::<bool>()).prop_map(|(mut v, hash)| {
            if hash {
                v.push("#");
            }
            v.join("/")
        })
    }

    /// Every topic of up to 4 levels over `a`, `b`, `$s`, `c` (a literal no
    /// filter names) and the empty level.
    fn all_topics() -> Vec<String> {
        let alphabet = ["a", "b", "$s", "c", ""];
        let mut out: Vec<String> = alphabet.iter().map(|s| (*s).to_owned()).collect();
        let mut last = out.clone();
        for _ in 1..4 {
            last = last
                .iter()
                .flat_map(|t| alphabet.iter().map(move |l| format!("{t}/{l}")))
                .collect();
            out.extend(last.iter().cloned());
        }
        out
    }

    proptest::proptest! {
        /// `covers` agrees with topic matching for names, and for filters
        /// it holds exactly when no topic matched by the filter escapes the
        /// pattern.
        #[test]
        fn covers_is_set_inclusion(p in filter_strategy(), f in filter_strategy()) {
            let topics = all_topics();
            for t in &topics {
                proptest::prop_assert_eq!(covers(&p, t), topic::matches(&p, t), "{} {}", p, t);
            }
            let escape = topics
                .iter()
                .find(|t| topic::matches(&f, t) && !topic::matches(&p, t));
            proptest::prop_assert_eq!(covers(&p, &f), escape.is_none(), "{} {} {:?}", p, f, escape);
        }
    }

    /// Through the engine: 3.1.1 CONNACK return code 4, SUBACK 0x80, and a
    /// will outside the user's patterns is not published.
    #[test]
    fn in_the_broker() {
        use crate::{Broker, Config};
        use bytes::Bytes;
        use mqtt_codec::{
            Connect, LastWill, Packet, Props, ProtocolVersion, Subscribe, Subscription, Utf8String,
        };
        #[allow(clippy::disallowed_methods)] // a test's clock
        let now = std::time::Instant::now();
        let mut b = Broker::with_hooks(Config::default(), 1, Box::new(access()));
        let connect = |id: &'static str, user: &'static str, pass: &'static [u8]| {
            let mut c = Connect::new(ProtocolVersion::V3_1_1);
            c.client_id = Utf8String::from_static(id);
            c.clean_start = true;
            c.username = Some(Utf8String::from_static(user));
            c.password = Some(Bytes::from_static(pass));
            c
        };
        let bad = b.open(now);
        b.handle_packet(
            now,
            bad,
            Packet::Connect(Box::new(connect("x", "alice", b"no"))),
        );
        let t = b.poll_transmit().unwrap();
        assert_eq!((t.conn, &t.payload[..]), (bad, &[0x20, 2, 0, 4][..]));

        let (root, alice) = (b.open(now), b.open(now));
        b.handle_packet(
            now,
            root,
            Packet::Connect(Box::new(connect("r", "root", b"toor"))),
        );
        let mut c = connect("dev", "alice", b"s3cret");
        c.will = Some(LastWill {
            topic: Utf8String::from_static("clients/other/will"),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Props::default(),
        });
        b.handle_packet(now, alice, Packet::Connect(Box::new(c)));
        let sub = |f: &'static str| {
            let s = Subscription::new(Utf8String::from_static(f), QoS::AtMostOnce);
            Packet::Subscribe(Subscribe::new(1, vec![s]))
        };
        b.handle_packet(now, root, sub("#"));
        b.handle_packet(now, alice, sub("clients/#"));
        let mut out = Vec::new();
        while let Some(t) = b.poll_transmit() {
            out.push((t.conn, t.payload.to_vec()));
        }
        assert!(out.contains(&(root, vec![0x90, 3, 0, 1, 0])), "{out:?}");
        assert!(out.contains(&(alice, vec![0x90, 3, 0, 1, 0x80])), "{out:?}");
        b.connection_lost(now, alice);
        assert!(
            std::iter::from_fn(|| b.poll_transmit()).all(|t| t.conn != root),
            "the will was published"
        );
    }
}
