//! Shared subscriptions `$share/<group>/<filter>` (MQTT 5.0 §4.8.2): each
//! message goes to one member of each matching group, in turn, preferring
//! members that are connected; a member that leaves no longer gets any.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::trie::SubEntry;

#[derive(Debug, Default)]
struct Group {
    members: Vec<(Arc<str>, SubEntry)>,
    next: usize,
}

/// Every shared subscription, keyed by (filter, share name).
#[derive(Debug, Default)]
pub(crate) struct SharedSubs {
    groups: BTreeMap<(Box<str>, Box<str>), Group>,
}

impl SharedSubs {
    /// Adds or replaces `client` in `group` on `filter`; returns whether it replaced.
    pub(crate) fn insert(
        &mut self,
        filter: &str,
        group: &str,
        client: &Arc<str>,
        e: SubEntry,
    ) -> bool {
        let g = self
            .groups
            .entry((filter.into(), group.into()))
            .or_default();
        if let Some(m) = g.members.iter_mut().find(|(c, _)| c == client) {
            m.1 = e;
            return true;
        }
        g.members.push((client.clone(), e));
        false
    }

    /// Removes `client` from `group` on `filter`; returns whether it was there.
    pub(crate) fn remove(&mut self, filter: &str, group: &str, client: &str) -> bool {
        let key = (Box::<str>::from(filter), Box::<str>::from(group));
        let Some(g) = self.groups.get_mut(&key) else {
            return false;
        };
        let before = g.members.len();
        g.members.retain(|(c, _)| &**c != client);
        let removed = g.members.len() != before;
        if g.members.is_empty() {
            self.groups.remove(&key);
        }
        removed
    }

    /// Number of (client, shared filter) subscriptions.
    pub(crate) fn len(&self) -> usize {
        self.groups.values().map(|g| g.members.len()).sum()
    }

    /// For each group whose filter matches `topic`, the member chosen for
    /// this message: the next one in turn for which `online` holds, or the
    /// next one in turn if none is online.
    pub(crate) fn pick(
        &mut self,
        topic: &str,
        online: impl Fn(&str) -> bool,
    ) -> Vec<(Arc<str>, SubEntry)> {
        let mut out = Vec::new();
        for ((filter, _), g) in &mut self.groups {
            if !mqtt_codec::topic::matches(filter, topic) || g.members.is_empty() {
                continue;
            }
            let n = g.members.len();
            let start = g.next % n;
            let chosen = (0..n)
                .map(|i| (start + i) % n)
                .find(|&i| online(&g.members[i].0))
                .unwrap_or(start);
            g.next = chosen + 1;
            out.push(g.members[chosen].clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::SubscriptionOptions;

    fn e() -> SubEntry {
        SubEntry {
            options: SubscriptionOptions::default(),
            id: None,
        }
    }

    #[test]
    fn members_take_turns_and_offline_ones_are_skipped() {
        let mut s = SharedSubs::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        s.insert("t/+", "g", &a, e());
        s.insert("t/+", "g", &b, e());
        let turns: Vec<String> = (0..4)
            .map(|_| s.pick("t/x", |_| true)[0].0.to_string())
            .collect();
        assert_eq!(turns, ["a", "b", "a", "b"]);
        assert_eq!(&*s.pick("t/x", |c| c == "b")[0].0, "b");
        assert!(s.pick("u", |_| true).is_empty());
    }

    #[test]
    fn a_member_leaving_leaves_the_others() {
        let mut s = SharedSubs::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        s.insert("t", "g", &a, e());
        s.insert("t", "g", &b, e());
        assert!(s.remove("t", "g", "a"));
        assert!(!s.remove("t", "g", "a"));
        assert_eq!(s.len(), 1);
        for _ in 0..3 {
            assert_eq!(&*s.pick("t", |_| true)[0].0, "b");
        }
        assert!(s.remove("t", "g", "b"));
        assert!(s.groups.is_empty());
    }
}
