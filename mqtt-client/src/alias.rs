//! Outgoing topic aliases (MQTT 5.0 §3.3.2.3.4): the first message on a
//! topic carries the topic and a new alias, later ones only the alias. The
//! mapping lives as long as one network connection.

use std::collections::HashMap;

use mqtt_codec::{Publish, Utf8String};

#[derive(Debug, Default)]
pub(crate) struct OutgoingAliases {
    max: u16,
    map: HashMap<Utf8String, u16>,
}

impl OutgoingAliases {
    /// A new connection whose server accepts aliases up to `max` (0: none).
    pub(crate) fn reset(&mut self, max: u16) {
        self.max = max;
        self.map.clear();
    }

    /// Rewrites `p` to use an alias where one is known or can be assigned.
    /// Topics beyond the server's maximum go out in full.
    pub(crate) fn apply(&mut self, p: &mut Publish) {
        if self.max == 0 || p.topic.is_empty() {
            return;
        }
        if let Some(&a) = self.map.get(&p.topic) {
            p.properties.topic_alias = Some(a);
            p.topic = Utf8String::default();
        } else if self.map.len() < usize::from(self.max) {
            let a = u16::try_from(self.map.len() + 1).unwrap_or(u16::MAX);
            self.map.insert(p.topic.clone(), a);
            p.properties.topic_alias = Some(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(t: &'static str) -> Publish {
        Publish::new(Utf8String::from_static(t), Bytes::new())
    }

    #[test]
    fn first_use_sends_topic_and_alias_then_alias_only_up_to_max() {
        let mut a = OutgoingAliases::default();
        a.reset(1);
        let mut p = msg("x/y");
        a.apply(&mut p);
        assert_eq!(
            (p.topic.as_str(), p.properties.topic_alias),
            ("x/y", Some(1))
        );
        let mut p = msg("x/y");
        a.apply(&mut p);
        assert_eq!((p.topic.as_str(), p.properties.topic_alias), ("", Some(1)));
        let mut p = msg("other");
        a.apply(&mut p);
        assert_eq!(
            (p.topic.as_str(), p.properties.topic_alias),
            ("other", None)
        );
        a.reset(0);
        let mut p = msg("x/y");
        a.apply(&mut p);
        assert_eq!(p.properties.topic_alias, None);
    }
}
