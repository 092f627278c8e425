//! The subscription trie: one node per topic level, `+` and `#` stored as
//! ordinary children (MQTT 5.0 §4.7).

use crate::broker::Map;
use std::sync::Arc;

use mqtt_codec::SubscriptionOptions;

/// One client's subscription on a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubEntry {
    /// The options granted (QoS already capped by the broker).
    pub(crate) options: SubscriptionOptions,
    /// Subscription Identifier (MQTT 5.0 §3.8.2.1.2), if any.
    pub(crate) id: Option<u32>,
}

#[derive(Debug, Default)]
struct Node {
    children: Map<Box<str>, Self>,
    subs: Map<Arc<str>, SubEntry>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.subs.is_empty()
    }
}

/// Subscriptions of all clients, keyed by filter.
#[derive(Debug, Default)]
pub(crate) struct Trie {
    root: Node,
    count: usize,
}

impl Trie {
    /// Adds or replaces `client`'s subscription on `filter` (a valid filter).
    /// Returns whether it replaced an existing one.
    pub(crate) fn insert(&mut self, filter: &str, client: &Arc<str>, entry: SubEntry) -> bool {
        let mut node = &mut self.root;
        for level in filter.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        let replaced = node.subs.insert(client.clone(), entry).is_some();
        if !replaced {
            self.count += 1;
        }
        replaced
    }

    /// Removes `client`'s subscription on `filter`; returns whether it existed.
    pub(crate) fn remove(&mut self, filter: &str, client: &str) -> bool {
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = remove_at(&mut self.root, &levels, client);
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// Number of (client, filter) subscriptions.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Calls `f` for every subscription whose filter matches `topic`. Leading
    /// wildcards do not match topics starting with `$` (MQTT 5.0 §4.7.2).
    pub(crate) fn for_each_match(&self, topic: &str, mut f: impl FnMut(&Arc<str>, &SubEntry)) {
        let levels: Vec<&str> = topic.split('/').collect();
        let dollar = topic.starts_with('$');
        walk(&self.root, &levels, 0, dollar, &mut f);
    }
}

fn remove_at(node: &mut Node, levels: &[&str], client: &str) -> bool {
    let Some((first, rest)) = levels.split_first() else {
        return node.subs.remove(client).is_some();
    };
    let Some(child) = node.children.get_mut(*first) else {
        return false;
    };
    let removed = remove_at(child, rest, client);
    if child.is_empty() {
        node.children.remove(*first);
    }
    removed
}

fn walk(
    node: &Node,
    levels: &[&str],
    depth: usize,
    dollar: bool,
    f: &mut impl FnMut(&Arc<str>, &SubEntry),
) {
    let wild_ok = !(dollar && depth == 0);
    if wild_ok {
        // `#` matches the parent level too: "a/#" matches "a".
        if let Some(hash) = node.children.get("#") {
            hash.subs.iter().for_each(|(c, e)| f(c, e));
        }
    }
    let Some((first, rest)) = levels.split_first() else {
        node.subs.iter().for_each(|(c, e)| f(c, e));
        return;
    };
    if let Some(child) = node.children.get(*first) {
        walk(child, rest, depth + 1, dollar, f);
    }
    if wild_ok {
        if let Some(plus) = node.children.get("+") {
            walk(plus, rest, depth + 1, dollar, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::QoS;

    fn entry() -> SubEntry {
        SubEntry {
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                ..SubscriptionOptions::default()
            },
            id: None,
        }
    }

    fn matching(t: &Trie, topic: &str) -> Vec<String> {
        let mut v = Vec::new();
        t.for_each_match(topic, |c, _| v.push(c.to_string()));
        v.sort();
        v
    }

    #[test]
    fn wildcards_match_like_topic_matches() {
        let filters = ["a/b", "a/+", "a/#", "#", "+/b", "+", "a/+/c", "/+", "+/+"];
        let topics = ["a/b", "a", "a/b/c", "/b", "b", "a/x/c", "/", "$SYS/x", "$x"];
        let mut t = Trie::default();
        for f in filters {
            t.insert(f, &Arc::from(f), entry());
        }
        for topic in topics {
            let mut want: Vec<String> = filters
                .iter()
                .filter(|f| mqtt_codec::topic::matches(f, topic))
                .map(|f| (*f).to_string())
                .collect();
            want.sort();
            assert_eq!(matching(&t, topic), want, "topic {topic}");
        }
    }

    #[test]
    fn dollar_topics_skip_leading_wildcards_only() {
        let mut t = Trie::default();
        for f in ["#", "+/x", "$SYS/#", "$SYS/+"] {
            t.insert(f, &Arc::from(f), entry());
        }
        assert_eq!(matching(&t, "$SYS/x"), ["$SYS/#", "$SYS/+"]);
    }

    #[test]
    fn remove_prunes_and_counts() {
        let mut t = Trie::default();
        let c: Arc<str> = Arc::from("c");
        assert!(!t.insert("a/b/c", &c, entry()));
        assert!(t.insert("a/b/c", &c, entry()));
        assert_eq!(t.len(), 1);
        assert!(!t.remove("a/b", "c"));
        assert!(t.remove("a/b/c", "c"));
        assert!(!t.remove("a/b/c", "c"));
        assert_eq!(t.len(), 0);
        assert!(t.root.is_empty());
    }
}
