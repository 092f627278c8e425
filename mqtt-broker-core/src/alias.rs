//! Topic aliases from the broker to a 5.0 client (MQTT 5.0 §3.3.2.3.4):
//! the first PUBLISH on a topic carries the topic and a new alias, later ones
//! an empty topic and the alias. The mapping lives as long as the network
//! connection, and holds at most the client's Topic Alias Maximum (capped by
//! [`Config::outgoing_topic_alias_maximum`](crate::Config::outgoing_topic_alias_maximum))
//! topics.

use std::collections::{BTreeMap, HashMap};

use mqtt_codec::Utf8String;

/// How the broker picks topics for the aliases it sends to 5.0 clients that
/// accept them ([`Config::outgoing_topic_aliases`](crate::Config::outgoing_topic_aliases)).
///
/// Off by default: some clients announce a Topic Alias Maximum without
/// handling aliases (libmosquitto 2.0, behind `mosquitto_sub -D connect
/// topic-alias-maximum`, drops the connection on the first PUBLISH with an
/// empty topic; paho-mqtt for Python passes them through unresolved).
///
/// ```
/// use mqtt_broker_core::{AliasPolicy, Config};
/// let mut c = Config::default();
/// assert_eq!(c.outgoing_topic_aliases, AliasPolicy::Off);
/// c.outgoing_topic_aliases = AliasPolicy::Lru;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AliasPolicy {
    /// No aliases: every PUBLISH carries its topic (as Mosquitto does).
    #[default]
    Off,
    /// The first topics get the aliases and keep them for the whole
    /// connection; later topics are sent in full. No alias is ever
    /// reassigned, so each costs one table entry and one announcement.
    KeepFirst,
    /// When every alias is taken, the least recently used one is given to
    /// the new topic (sent with the topic, as a new mapping, §3.3.2.3.4).
    Lru,
}

/// Topics shorter than this are always sent in full: an alias costs three
/// bytes (identifier and value), an empty topic name two.
const MIN_TOPIC_LEN: usize = 4;

/// What to put in one PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The client knows this alias for the topic: empty topic + alias.
    Known(u16),
    /// Topic + this alias, which becomes (or replaces) its mapping.
    New(u16),
}

/// One connection's outgoing aliases.
#[derive(Debug)]
pub(crate) struct OutAliases {
    max: u16,
    policy: AliasPolicy,
    /// Topic → (alias, last use).
    by_topic: HashMap<Utf8String, (u16, u64)>,
    /// Alias − 1 → topic.
    topics: Vec<Utf8String>,
    /// Last use → alias, oldest first (only with [`AliasPolicy::Lru`]).
    lru: BTreeMap<u64, u16>,
    clock: u64,
}

impl OutAliases {
    /// A table of at most `max` aliases, or `None` when there is nothing to assign.
    pub(crate) fn new(policy: AliasPolicy, max: u16) -> Option<Box<Self>> {
        (policy != AliasPolicy::Off && max > 0).then(|| {
            Box::new(Self {
                max,
                policy,
                by_topic: HashMap::new(),
                topics: Vec::new(),
                lru: BTreeMap::new(),
                clock: 0,
            })
        })
    }

    /// What to send for `topic`, without changing anything yet.
    pub(crate) fn plan(&self, topic: &Utf8String) -> Option<Plan> {
        if let Some(&(alias, _)) = self.by_topic.get(topic) {
            return Some(Plan::Known(alias));
        }
        if topic.len() < MIN_TOPIC_LEN {
            return None;
        }
        if self.topics.len() < usize::from(self.max) {
            let next = u16::try_from(self.topics.len() + 1).ok()?;
            return Some(Plan::New(next));
        }
        match self.policy {
            AliasPolicy::Lru => self.lru.values().next().map(|&a| Plan::New(a)),
            _ => None,
        }
    }

    /// Records that `plan` was sent for `topic`.
    pub(crate) fn commit(&mut self, plan: Plan, topic: &Utf8String) {
        self.clock += 1;
        let now = self.clock;
        let lru = self.policy == AliasPolicy::Lru;
        match plan {
            Plan::Known(alias) => {
                if let Some(e) = self.by_topic.get_mut(topic) {
                    if lru {
                        self.lru.remove(&e.1);
                        self.lru.insert(now, alias);
                    }
                    e.1 = now;
                }
            }
            Plan::New(alias) => {
                // A copy: the decoded topic may share its buffer with a large payload.
                let Ok(owned) = Utf8String::try_from(topic.as_str()) else {
                    return;
                };
                let idx = usize::from(alias) - 1;
                if let Some(old) = self.topics.get_mut(idx) {
                    let old = std::mem::replace(old, owned.clone());
                    if let Some((_, used)) = self.by_topic.remove(&old) {
                        self.lru.remove(&used);
                    }
                } else {
                    self.topics.push(owned.clone());
                }
                self.by_topic.insert(owned, (alias, now));
                if lru {
                    self.lru.insert(now, alias);
                }
            }
        }
    }

    /// Number of aliases assigned.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.topics.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &'static str) -> Utf8String {
        Utf8String::from_static(s)
    }

    fn send(a: &mut OutAliases, topic: &'static str) -> Option<Plan> {
        let p = a.plan(&t(topic));
        if let Some(p) = p {
            a.commit(p, &t(topic));
        }
        p
    }

    #[test]
    fn lru_reassigns_the_least_recently_used_alias() {
        let mut a = OutAliases::new(AliasPolicy::Lru, 2).unwrap();
        assert_eq!(send(&mut a, "aaaa"), Some(Plan::New(1)));
        assert_eq!(send(&mut a, "bbbb"), Some(Plan::New(2)));
        assert_eq!(send(&mut a, "aaaa"), Some(Plan::Known(1)));
        // "bbbb" is the least recently used: its alias goes to "cccc".
        assert_eq!(send(&mut a, "cccc"), Some(Plan::New(2)));
        assert_eq!(send(&mut a, "bbbb"), Some(Plan::New(1)));
        assert_eq!(send(&mut a, "cccc"), Some(Plan::Known(2)));
        assert_eq!(a.len(), 2);
        assert_eq!(a.by_topic.len(), 2);
        assert_eq!(a.lru.len(), 2);
    }

    #[test]
    fn keep_first_never_reassigns_and_short_topics_are_not_aliased() {
        let mut a = OutAliases::new(AliasPolicy::KeepFirst, 1).unwrap();
        assert_eq!(send(&mut a, "t"), None);
        assert_eq!(send(&mut a, "first"), Some(Plan::New(1)));
        assert_eq!(send(&mut a, "second"), None);
        assert_eq!(send(&mut a, "first"), Some(Plan::Known(1)));
        assert!(a.lru.is_empty());
    }

    #[test]
    fn off_or_zero_maximum_gives_no_table() {
        assert!(OutAliases::new(AliasPolicy::Off, 10).is_none());
        assert!(OutAliases::new(AliasPolicy::Lru, 0).is_none());
    }
}
