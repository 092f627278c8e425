//! The topic id table of one client (MQTT-SN v1.2 §6.5, §6.10).

use std::collections::HashMap;

use bytes::Bytes;

/// Normal topic ids registered with one client, both ways.
#[derive(Debug, Default)]
pub(crate) struct TopicTable {
    by_id: HashMap<u16, Bytes>,
    by_name: HashMap<Bytes, u16>,
    next: u16,
}

impl TopicTable {
    /// The name registered under `id`.
    pub(crate) fn name(&self, id: u16) -> Option<&Bytes> {
        self.by_id.get(&id)
    }

    /// The id registered for `name`.
    pub(crate) fn id(&self, name: &[u8]) -> Option<u16> {
        self.by_name.get(name).copied()
    }

    /// The id of `name`, registering it if need be; `None` when `max` ids
    /// are taken or none is left. Ids that `reserved` says are predefined
    /// are skipped, so a normal id never equals a predefined one.
    pub(crate) fn register(
        &mut self,
        name: Bytes,
        max: usize,
        reserved: impl Fn(u16) -> bool,
    ) -> Option<u16> {
        if let Some(id) = self.id(&name) {
            return Some(id);
        }
        if self.by_id.len() >= max {
            return None;
        }
        for _ in 0..=u16::MAX {
            self.next = self.next.wrapping_add(1);
            let id = self.next;
            if id != 0 && id != u16::MAX && !reserved(id) && !self.by_id.contains_key(&id) {
                self.by_id.insert(id, name.clone());
                self.by_name.insert(name, id);
                return Some(id);
            }
        }
        None
    }

    /// Forgets every registration (a clean session).
    pub(crate) fn clear(&mut self) {
        self.by_id.clear();
        self.by_name.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_is_idempotent_and_skips_reserved_ids() {
        let mut t = TopicTable::default();
        let a = t.register(Bytes::from_static(b"a/b"), 10, |id| id == 1);
        assert_eq!(a, Some(2));
        assert_eq!(
            t.register(Bytes::from_static(b"a/b"), 10, |_| false),
            Some(2)
        );
        assert_eq!(t.name(2).map(|b| &b[..]), Some(&b"a/b"[..]));
        assert_eq!(t.id(b"a/b"), Some(2));
    }

    #[test]
    fn register_stops_at_the_limit() {
        let mut t = TopicTable::default();
        assert!(t.register(Bytes::from_static(b"x"), 1, |_| false).is_some());
        assert_eq!(t.register(Bytes::from_static(b"y"), 1, |_| false), None);
        t.clear();
        assert!(t.register(Bytes::from_static(b"y"), 1, |_| false).is_some());
    }
}
