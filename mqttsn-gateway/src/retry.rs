//! Retransmission of the gateway's own messages to a client that must
//! acknowledge them (MQTT-SN v1.2 §6.13): REGISTER, PUBLISH at QoS 1 and 2,
//! PUBREL. Each waits `Tretry`, is sent again (PUBLISH with DUP set) up to
//! `Nretry` times, after which the client counts as lost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mqttsn_codec::Message;

/// One unacknowledged message.
#[derive(Debug)]
struct Pending {
    msg: Message,
    tries: u8,
    due: Instant,
}

/// The messages of the gateway that wait for the client's acknowledgement,
/// by MsgId.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pending: BTreeMap<u16, Pending>,
}

/// The client did not answer after `Nretry` retransmissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exhausted;

impl Outbox {
    /// Waits for an acknowledgement of `msg` (sent just now) under `msg_id`.
    pub(crate) fn track(&mut self, now: Instant, every: Duration, msg_id: u16, msg: Message) {
        let due = now + every;
        self.pending.insert(msg_id, Pending { msg, tries: 0, due });
    }

    /// The acknowledgement for `msg_id` arrived.
    pub(crate) fn ack(&mut self, msg_id: u16) {
        self.pending.remove(&msg_id);
    }

    /// How many messages wait.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// The earliest retransmission.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.due).min()
    }

    /// The messages to send again now (DUP set on PUBLISH), or
    /// [`Exhausted`] when one was tried `max` times already.
    pub(crate) fn due(
        &mut self,
        now: Instant,
        every: Duration,
        max: u8,
    ) -> Result<Vec<Message>, Exhausted> {
        let mut again = Vec::new();
        for p in self.pending.values_mut().filter(|p| p.due <= now) {
            if p.tries >= max {
                return Err(Exhausted);
            }
            p.tries += 1;
            p.due = now + every;
            if let Message::Publish(publish) = &mut p.msg {
                publish.dup = true;
            }
            again.push(p.msg.clone());
        }
        Ok(again)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqttsn_codec::PubRel;

    #[test]
    fn unacknowledged_messages_are_resent_then_exhausted() {
        #[allow(clippy::disallowed_methods)] // virtual time starts anywhere
        let t0 = Instant::now();
        let every = Duration::from_secs(10);
        let mut o = Outbox::default();
        o.track(t0, every, 1, PubRel { msg_id: 1 }.into());
        o.track(t0, every, 2, PubRel { msg_id: 2 }.into());
        o.ack(2);
        assert_eq!(o.next_timeout(), Some(t0 + every));
        assert!(o.due(t0, every, 2).unwrap().is_empty());
        assert_eq!(o.due(t0 + every, every, 2).unwrap().len(), 1);
        assert_eq!(o.due(t0 + every * 2, every, 2).unwrap().len(), 1);
        assert_eq!(o.due(t0 + every * 3, every, 2), Err(Exhausted));
        o.ack(1);
        assert_eq!((o.len(), o.next_timeout()), (0, None));
    }
}
