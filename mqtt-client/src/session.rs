//! MQTT session state kept by either end of a connection (MQTT 5.0 §4.1):
//! packet identifiers, the outgoing inflight window with its QoS 1 and QoS 2
//! acknowledgement states, the incoming QoS 2 identifiers awaiting PUBREL,
//! and redelivery after a reconnect (§4.4).
//!
//! It knows nothing about clients or servers, sockets or time, so the client
//! machine of this crate and `mqtt-broker-core` (one [`Session`] per client)
//! share it. The owner decides when to send; the session says what.
//!
//! ```
//! use bytes::Bytes;
//! use mqtt_client::session::{Ack, Session};
//! use mqtt_codec::{Publish, QoS, ReasonCode, Utf8String};
//!
//! let mut s = Session::new(10);
//! let msg = Publish::new(Utf8String::from_static("a/b"), Bytes::from_static(b"x"))
//!     .with_qos(QoS::ExactlyOnce, 0);
//! let id = s.enqueue(msg).unwrap();
//! let sent = s.next_to_send().unwrap(); // now in flight, awaiting PUBREC
//! assert_eq!(sent.packet_id, id);
//! assert_eq!(s.on_pubrec(id, ReasonCode::SUCCESS), Ack::SendPubRel);
//! assert_eq!(s.on_pubcomp(id), Ack::Done(QoS::ExactlyOnce));
//! assert!(s.is_idle());
//! ```

use std::collections::{btree_map, BTreeMap, BTreeSet, VecDeque};

use mqtt_codec::{Publish, QoS, ReasonCode};

/// Where an outgoing QoS 1 or 2 message stands (MQTT 5.0 §4.3.2, §4.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutState {
    /// QoS 1 PUBLISH sent, PUBACK not yet received.
    AwaitPubAck(Publish),
    /// QoS 2 PUBLISH sent, PUBREC not yet received.
    AwaitPubRec(Publish),
    /// PUBREL sent, PUBCOMP not yet received (the message itself is released).
    AwaitPubComp,
}

/// What to do after an acknowledgement arrived for one of our messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ack {
    /// The flow of this identifier is over; the message had this QoS.
    Done(QoS),
    /// A QoS 2 message was received by the peer: send PUBREL with this id.
    SendPubRel,
    /// The peer refused the message (reason code ≥ 0x80 in PUBACK or PUBREC);
    /// the flow is over (MQTT 5.0 §4.3.3: no PUBREL after a failed PUBREC).
    Refused(ReasonCode),
    /// No message of ours waits for this acknowledgement with this id.
    Unknown,
}

/// One packet to send again after a reconnect that kept the session, in the
/// original order (MQTT 5.0 §4.4, §4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resend {
    /// A PUBLISH not yet acknowledged, with DUP set.
    Publish(Publish),
    /// A PUBREL whose PUBCOMP did not come.
    PubRel(u16),
}

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// QoS 0 messages carry no identifier and are not queued by the session.
    #[error("QoS 0 messages are not kept in the session")]
    QoS0,
    /// Every one of the 65535 packet identifiers is in use.
    #[error("all 65535 packet identifiers are in use")]
    NoPacketId,
    /// The message carries an identifier that is already in use.
    #[error("packet identifier {packet_id} is already in use")]
    IdInUse {
        /// The identifier.
        packet_id: u16,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    order: u64,
    state: OutState,
}

/// What an identifier of ours is used for: one map for every use, so that
/// a session holds a single B-tree (memory per client in a broker) and a
/// delivery touches it three times (queue, send, acknowledge).
#[derive(Debug, Clone)]
enum Slot {
    /// Taken by something else than a PUBLISH (SUBSCRIBE, UNSUBSCRIBE).
    Reserved,
    /// A message waiting for room in the window.
    Queued,
    /// A flow in flight.
    Flight(Entry),
}

/// Session state of one end (see the module docs).
#[derive(Debug, Clone)]
pub struct Session {
    next_id: u16,
    window: u16,
    /// Number of [`Slot::Flight`] entries in `ids`.
    inflight_count: u32,
    order: u64,
    /// Every identifier of ours in use.
    ids: BTreeMap<u16, Slot>,
    /// The queue and the incoming QoS 2 identifiers, allocated the first
    /// time either is used: an idle session (most clients of a broker)
    /// pays one pointer for them.
    more: Option<Box<More>>,
}

/// The parts of a [`Session`] that idle sessions do without.
#[derive(Debug, Clone, Default)]
struct More {
    queued: VecDeque<Publish>,
    incoming_qos2: BTreeSet<u16>,
}

impl Session {
    /// An empty session whose inflight window holds `window` messages (the
    /// peer's Receive Maximum, MQTT 5.0 §3.1.2.11.3 / §3.2.2.3.3; 0 counts as 1).
    #[must_use]
    pub fn new(window: u16) -> Self {
        Self {
            next_id: 1,
            window: window.max(1),
            inflight_count: 0,
            order: 0,
            ids: BTreeMap::new(),
            more: None,
        }
    }

    /// Changes the inflight window (a new CONNACK may lower or raise it).
    /// Messages already in flight stay in flight.
    pub fn set_window(&mut self, window: u16) {
        self.window = window.max(1);
    }

    /// The inflight window.
    #[must_use]
    pub fn window(&self) -> u16 {
        self.window
    }

    /// Number of QoS 1/2 flows in flight (PUBLISH or PUBREL sent, not acknowledged).
    #[must_use]
    pub fn inflight_len(&self) -> usize {
        self.inflight_count as usize
    }

    /// Number of messages waiting for room in the window.
    #[must_use]
    pub fn queued_len(&self) -> usize {
        self.more.as_ref().map_or(0, |m| m.queued.len())
    }

    /// Whether nothing is in flight, queued or awaiting PUBREL.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.inflight_count == 0
            && self
                .more
                .as_ref()
                .is_none_or(|m| m.queued.is_empty() && m.incoming_qos2.is_empty())
    }

    /// Whether `id` is used by any flow of ours.
    #[must_use]
    pub fn id_in_use(&self, id: u16) -> bool {
        self.ids.contains_key(&id)
    }

    /// Takes a free packet identifier for a SUBSCRIBE or UNSUBSCRIBE
    /// (MQTT 5.0 §2.2.1); give it back with [`Session::release_id`].
    pub fn reserve_id(&mut self) -> Option<u16> {
        let id = self.free_id()?;
        self.ids.insert(id, Slot::Reserved);
        Some(id)
    }

    /// Returns an identifier taken with [`Session::reserve_id`]. Returns
    /// whether it was reserved.
    pub fn release_id(&mut self, id: u16) -> bool {
        match self.ids.entry(id) {
            btree_map::Entry::Occupied(e) if matches!(e.get(), Slot::Reserved) => {
                e.remove();
                true
            }
            _ => false,
        }
    }

    fn free_id(&mut self) -> Option<u16> {
        if self.ids.len() >= usize::from(u16::MAX) {
            return None;
        }
        // Bounded: at most `ids.len() + 1` candidates are tried.
        loop {
            let id = self.next_id;
            self.next_id = if id == u16::MAX { 1 } else { id + 1 };
            if !self.id_in_use(id) {
                return Some(id);
            }
        }
    }

    /// Queues a QoS 1 or 2 message. A `packet_id` of 0 gets a fresh
    /// identifier; another value is kept (a server forwarding under its own
    /// numbering may choose). Returns the identifier.
    ///
    /// # Errors
    /// [`QueueError`] for QoS 0, when no identifier is free, or when the
    /// given identifier is in use.
    pub fn enqueue(&mut self, mut publish: Publish) -> Result<u16, QueueError> {
        if publish.qos == QoS::AtMostOnce {
            return Err(QueueError::QoS0);
        }
        if publish.packet_id == 0 {
            publish.packet_id = self.free_id().ok_or(QueueError::NoPacketId)?;
        } else if self.id_in_use(publish.packet_id) {
            return Err(QueueError::IdInUse {
                packet_id: publish.packet_id,
            });
        }
        let id = publish.packet_id;
        self.ids.insert(id, Slot::Queued);
        self.more
            .get_or_insert_with(Box::default)
            .queued
            .push_back(publish);
        Ok(id)
    }

    /// [`Session::enqueue`] followed by [`Session::next_to_send`], in one
    /// step: returns the identifier of `publish` and the message to send
    /// now, if any. When nothing is queued and the window has room, that is
    /// `publish` itself, moved in flight without passing through the queue
    /// (one identifier lookup: the fast path of a broker delivering).
    ///
    /// # Errors
    /// As [`Session::enqueue`]; nothing changes then.
    pub fn enqueue_and_send(
        &mut self,
        mut publish: Publish,
    ) -> Result<(u16, Option<Publish>), QueueError> {
        let queue_empty = self.more.as_ref().is_none_or(|m| m.queued.is_empty());
        if !queue_empty
            || self.inflight_len() >= usize::from(self.window)
            || publish.qos == QoS::AtMostOnce
        {
            let id = self.enqueue(publish)?;
            return Ok((id, self.next_to_send()));
        }
        if publish.packet_id == 0 && self.ids.len() >= usize::from(u16::MAX) {
            return Err(QueueError::NoPacketId);
        }
        // Bounded: at most `ids.len() + 1` candidates are tried.
        let slot = loop {
            let id = if publish.packet_id == 0 {
                let id = self.next_id;
                self.next_id = if id == u16::MAX { 1 } else { id + 1 };
                id
            } else {
                publish.packet_id
            };
            match self.ids.entry(id) {
                btree_map::Entry::Vacant(v) => {
                    publish.packet_id = id;
                    break v;
                }
                btree_map::Entry::Occupied(_) if publish.packet_id != 0 => {
                    return Err(QueueError::IdInUse { packet_id: id });
                }
                btree_map::Entry::Occupied(_) => {}
            }
        };
        let state = match publish.qos {
            QoS::ExactlyOnce => OutState::AwaitPubRec(publish.clone()),
            _ => OutState::AwaitPubAck(publish.clone()),
        };
        self.order += 1;
        self.inflight_count += 1;
        slot.insert(Slot::Flight(Entry {
            order: self.order,
            state,
        }));
        Ok((publish.packet_id, Some(publish)))
    }

    /// The next queued message if the window has room: it moves in flight
    /// and must be sent now.
    pub fn next_to_send(&mut self) -> Option<Publish> {
        if self.inflight_len() >= usize::from(self.window) {
            return None;
        }
        let publish = self.more.as_mut()?.queued.pop_front()?;
        let state = match publish.qos {
            QoS::ExactlyOnce => OutState::AwaitPubRec(publish.clone()),
            _ => OutState::AwaitPubAck(publish.clone()),
        };
        self.order += 1;
        self.inflight_count += 1;
        self.ids.insert(
            publish.packet_id,
            Slot::Flight(Entry {
                order: self.order,
                state,
            }),
        );
        Some(publish)
    }

    /// PUBACK arrived (MQTT 5.0 §4.3.2).
    pub fn on_puback(&mut self, id: u16, reason: ReasonCode) -> Ack {
        let btree_map::Entry::Occupied(e) = self.ids.entry(id) else {
            return Ack::Unknown;
        };
        match e.get() {
            Slot::Flight(Entry {
                state: OutState::AwaitPubAck(_),
                ..
            }) => {
                e.remove();
                self.inflight_count -= 1;
                if reason.is_error() {
                    Ack::Refused(reason)
                } else {
                    Ack::Done(QoS::AtLeastOnce)
                }
            }
            _ => Ack::Unknown,
        }
    }

    /// PUBREC arrived (MQTT 5.0 §4.3.3). A PUBREC for a message already
    /// released asks for PUBREL again.
    pub fn on_pubrec(&mut self, id: u16, reason: ReasonCode) -> Ack {
        let btree_map::Entry::Occupied(mut e) = self.ids.entry(id) else {
            return Ack::Unknown;
        };
        let Slot::Flight(entry) = e.get_mut() else {
            return Ack::Unknown;
        };
        match entry.state {
            OutState::AwaitPubRec(_) if reason.is_error() => {
                e.remove();
                self.inflight_count -= 1;
                Ack::Refused(reason)
            }
            OutState::AwaitPubRec(_) | OutState::AwaitPubComp => {
                entry.state = OutState::AwaitPubComp;
                Ack::SendPubRel
            }
            OutState::AwaitPubAck(_) => Ack::Unknown,
        }
    }

    /// PUBCOMP arrived (MQTT 5.0 §4.3.3).
    pub fn on_pubcomp(&mut self, id: u16) -> Ack {
        let btree_map::Entry::Occupied(e) = self.ids.entry(id) else {
            return Ack::Unknown;
        };
        match e.get() {
            Slot::Flight(Entry {
                state: OutState::AwaitPubComp,
                ..
            }) => {
                e.remove();
                self.inflight_count -= 1;
                Ack::Done(QoS::ExactlyOnce)
            }
            _ => Ack::Unknown,
        }
    }

    /// A QoS 2 PUBLISH with `id` arrived. Returns `true` the first time, when
    /// the message must go to the application; `false` for a duplicate
    /// before PUBREL (MQTT 5.0 §4.3.3, method B: exactly once). Answer PUBREC
    /// either way.
    pub fn on_incoming_qos2(&mut self, id: u16) -> bool {
        self.more
            .get_or_insert_with(Box::default)
            .incoming_qos2
            .insert(id)
    }

    /// PUBREL arrived: the identifier may be reused by the peer. Returns
    /// whether it was known. Answer PUBCOMP either way.
    pub fn on_pubrel(&mut self, id: u16) -> bool {
        self.more
            .as_mut()
            .is_some_and(|m| m.incoming_qos2.remove(&id))
    }

    /// The flows in flight with their identifiers, in the order they were sent.
    fn flights(&self) -> Vec<(u16, &Entry)> {
        let mut entries: Vec<(u16, &Entry)> = self
            .ids
            .iter()
            .filter_map(|(&id, slot)| match slot {
                Slot::Flight(e) => Some((id, e)),
                _ => None,
            })
            .collect();
        entries.sort_by_key(|(_, e)| e.order);
        entries
    }

    /// What to send again, in the original order, after a reconnect in which
    /// the peer kept the session (MQTT 5.0 §4.4): PUBLISH with DUP for
    /// messages not acknowledged, PUBREL for released ones.
    #[must_use]
    pub fn resend(&self) -> Vec<Resend> {
        self.flights()
            .into_iter()
            .map(|(id, e)| match &e.state {
                OutState::AwaitPubAck(p) | OutState::AwaitPubRec(p) => {
                    let mut p = p.clone();
                    p.dup = true;
                    Resend::Publish(p)
                }
                OutState::AwaitPubComp => Resend::PubRel(id),
            })
            .collect()
    }

    /// The peer lost the session (clean start, or Session Present 0): every
    /// flow ends. Unacknowledged messages go back to the front of the queue,
    /// in order, to be sent as new messages (DUP clear); released QoS 2 flows
    /// are dropped (the peer had the message). Incoming QoS 2 state is
    /// cleared; reserved identifiers stay with their owner. Returns the
    /// number of released QoS 2 flows dropped.
    pub fn restart(&mut self) -> usize {
        let mut entries: Vec<(u16, Entry)> = Vec::with_capacity(self.inflight_len());
        self.ids.retain(|&id, slot| match slot {
            Slot::Flight(e) => {
                entries.push((
                    id,
                    Entry {
                        order: e.order,
                        state: core::mem::replace(&mut e.state, OutState::AwaitPubComp),
                    },
                ));
                false
            }
            _ => true,
        });
        self.inflight_count = 0;
        entries.sort_by_key(|(_, e)| core::cmp::Reverse(e.order));
        let mut dropped = 0;
        for (id, e) in entries {
            match e.state {
                OutState::AwaitPubAck(mut p) | OutState::AwaitPubRec(mut p) => {
                    p.dup = false;
                    self.ids.insert(id, Slot::Queued);
                    self.more
                        .get_or_insert_with(Box::default)
                        .queued
                        .push_front(p);
                }
                OutState::AwaitPubComp => dropped += 1,
            }
        }
        if let Some(m) = self.more.as_mut() {
            m.incoming_qos2.clear();
        }
        dropped
    }

    /// Forgets everything (a clean start that also discards unsent messages).
    pub fn clear(&mut self) {
        let window = self.window;
        *self = Self::new(window);
    }

    /// The flows in flight, in the order they were sent (for persistence
    /// and inspection).
    pub fn inflight(&self) -> impl Iterator<Item = (u16, &OutState)> {
        self.flights().into_iter().map(|(id, e)| (id, &e.state))
    }

    /// The messages waiting for the window, in order.
    pub fn queued(&self) -> impl Iterator<Item = &Publish> {
        self.more.iter().flat_map(|m| m.queued.iter())
    }

    /// Identifiers of incoming QoS 2 messages awaiting PUBREL. A server counts
    /// them against its Receive Maximum (MQTT 5.0 §4.9).
    pub fn incoming_qos2(&self) -> impl Iterator<Item = u16> + '_ {
        self.more
            .iter()
            .flat_map(|m| m.incoming_qos2.iter().copied())
    }

    /// The state of the flow with identifier `id`, if one is in flight.
    #[must_use]
    pub fn state(&self, id: u16) -> Option<&OutState> {
        match self.ids.get(&id) {
            Some(Slot::Flight(e)) => Some(&e.state),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use mqtt_codec::Utf8String;

    fn msg(qos: QoS) -> Publish {
        Publish::new(Utf8String::from_static("t"), Bytes::from_static(b"p")).with_qos(qos, 0)
    }

    #[test]
    fn window_limits_inflight_and_ack_opens_it() {
        let mut s = Session::new(2);
        let ids: Vec<u16> = (0..3)
            .map(|_| s.enqueue(msg(QoS::AtLeastOnce)).unwrap())
            .collect();
        assert_eq!(ids, [1, 2, 3]);
        assert!(s.next_to_send().is_some());
        assert!(s.next_to_send().is_some());
        assert!(s.next_to_send().is_none());
        assert_eq!(
            s.on_puback(1, ReasonCode::SUCCESS),
            Ack::Done(QoS::AtLeastOnce)
        );
        assert_eq!(s.next_to_send().unwrap().packet_id, 3);
    }

    #[test]
    fn wrong_ack_type_or_id_is_unknown() {
        let mut s = Session::new(5);
        let id = s.enqueue(msg(QoS::ExactlyOnce)).unwrap();
        s.next_to_send();
        assert_eq!(s.on_puback(id, ReasonCode::SUCCESS), Ack::Unknown);
        assert_eq!(s.on_pubcomp(id), Ack::Unknown);
        assert_eq!(s.on_pubrec(99, ReasonCode::SUCCESS), Ack::Unknown);
        assert_eq!(s.on_pubrec(id, ReasonCode::SUCCESS), Ack::SendPubRel);
        assert_eq!(s.on_pubrec(id, ReasonCode::SUCCESS), Ack::SendPubRel);
        assert_eq!(s.on_pubcomp(id), Ack::Done(QoS::ExactlyOnce));
        assert_eq!(s.on_pubcomp(id), Ack::Unknown);
    }

    #[test]
    fn failed_pubrec_ends_the_flow() {
        let mut s = Session::new(5);
        let id = s.enqueue(msg(QoS::ExactlyOnce)).unwrap();
        s.next_to_send();
        assert_eq!(
            s.on_pubrec(id, ReasonCode::QUOTA_EXCEEDED),
            Ack::Refused(ReasonCode::QUOTA_EXCEEDED)
        );
        assert!(s.is_idle());
    }

    #[test]
    fn resend_keeps_order_sets_dup_and_repeats_pubrel() {
        let mut s = Session::new(10);
        for q in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::ExactlyOnce] {
            s.enqueue(msg(q)).unwrap();
            s.next_to_send();
        }
        s.on_pubrec(2, ReasonCode::SUCCESS);
        let r = s.resend();
        assert_eq!(r.len(), 3);
        assert!(matches!(&r[0], Resend::Publish(p) if p.dup && p.packet_id == 1));
        assert_eq!(r[1], Resend::PubRel(2));
        assert!(matches!(&r[2], Resend::Publish(p) if p.dup && p.packet_id == 3));
    }

    #[test]
    fn restart_requeues_unacked_in_order_and_drops_released() {
        let mut s = Session::new(10);
        for q in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtLeastOnce] {
            s.enqueue(msg(q)).unwrap();
            s.next_to_send();
        }
        s.enqueue(msg(QoS::AtLeastOnce)).unwrap();
        s.on_pubrec(2, ReasonCode::SUCCESS);
        assert!(s.on_incoming_qos2(7));
        assert_eq!(s.restart(), 1);
        let order: Vec<u16> = std::iter::from_fn(|| s.next_to_send())
            .map(|p| p.packet_id)
            .collect();
        assert_eq!(order, [1, 3, 4]);
        assert!(!s.on_pubrel(7));
    }

    #[test]
    fn accessors_show_flows_in_send_order() {
        let mut s = Session::new(2);
        for q in [QoS::ExactlyOnce, QoS::AtLeastOnce, QoS::AtLeastOnce] {
            s.enqueue(msg(q)).unwrap();
        }
        s.next_to_send();
        s.next_to_send();
        s.on_pubrec(1, ReasonCode::SUCCESS);
        s.on_incoming_qos2(9);
        let flows: Vec<(u16, bool)> = s
            .inflight()
            .map(|(id, st)| (id, matches!(st, OutState::AwaitPubComp)))
            .collect();
        assert_eq!(flows, [(1, true), (2, false)]);
        assert_eq!(s.queued().map(|p| p.packet_id).collect::<Vec<_>>(), [3]);
        assert_eq!(s.incoming_qos2().collect::<Vec<_>>(), [9]);
        assert_eq!(
            s.state(2),
            Some(&OutState::AwaitPubAck(
                msg(QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, 2)
            ))
        );
    }

    #[test]
    fn incoming_qos2_is_delivered_once_until_pubrel() {
        let mut s = Session::new(1);
        assert!(s.on_incoming_qos2(5));
        assert!(!s.on_incoming_qos2(5));
        assert!(s.on_pubrel(5));
        assert!(!s.on_pubrel(5));
        assert!(s.on_incoming_qos2(5));
    }

    #[test]
    fn ids_skip_those_in_use_and_wrap() {
        let mut s = Session::new(u16::MAX);
        s.next_id = u16::MAX;
        let a = s.enqueue(msg(QoS::AtLeastOnce)).unwrap();
        let b = s.reserve_id().unwrap();
        assert_eq!((a, b), (u16::MAX, 1));
        assert_eq!(
            s.enqueue(msg(QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, 1)),
            Err(QueueError::IdInUse { packet_id: 1 })
        );
        assert!(s.release_id(1));
        assert_eq!(s.enqueue(msg(QoS::AtMostOnce)), Err(QueueError::QoS0));
    }

    #[test]
    fn identifiers_run_out_at_65535() {
        let mut s = Session::new(1);
        for _ in 0..u16::MAX {
            s.reserve_id().unwrap();
        }
        assert_eq!(s.reserve_id(), None);
        assert_eq!(
            s.enqueue(msg(QoS::AtLeastOnce)),
            Err(QueueError::NoPacketId)
        );
    }

    #[test]
    fn enqueue_and_send_is_enqueue_then_next_to_send() {
        let mut a = Session::new(2);
        let mut b = Session::new(2);
        for q in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtLeastOnce] {
            let (id, sent) = a.enqueue_and_send(msg(q)).unwrap();
            let id_b = b.enqueue(msg(q)).unwrap();
            assert_eq!(id, id_b);
            assert_eq!(sent, b.next_to_send());
        }
        // The window is full: the third waits in the queue of both.
        assert_eq!(a.queued_len(), 1);
        assert_eq!(a.resend(), b.resend());
        assert_eq!(
            a.enqueue_and_send(msg(QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, 1)),
            Err(QueueError::IdInUse { packet_id: 1 })
        );
        assert_eq!(
            a.enqueue_and_send(msg(QoS::AtMostOnce)),
            Err(QueueError::QoS0)
        );
        assert_eq!(
            a.on_puback(1, ReasonCode::SUCCESS),
            Ack::Done(QoS::AtLeastOnce)
        );
        assert_eq!(a.next_to_send().map(|p| p.packet_id), Some(3));
        let (id, sent) = a
            .enqueue_and_send(msg(QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, 9))
            .unwrap();
        assert_eq!((id, sent), (9, None));
        assert_eq!(a.inflight_len(), 2);
    }

    proptest::proptest! {
        /// Against a model: ids in flight never exceed the window, are unique
        /// and non-zero, and every enqueued message completes exactly once.
        #[test]
        fn random_acks_keep_invariants(window in 1u16..8, ops in proptest::collection::vec((0u8..6, 0u16..12), 0..200)) {
            let mut s = Session::new(window);
            let mut done = 0usize;
            let mut enq = 0usize;
            for (op, id) in ops {
                match op {
                    0 => { if s.enqueue(msg(if id % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce })).is_ok() { enq += 1; } }
                    5 => { if s.enqueue_and_send(msg(if id % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce })).is_ok() { enq += 1; } }
                    1 => { while s.next_to_send().is_some() {} }
                    2 => { if let Ack::Done(_) | Ack::Refused(_) = s.on_puback(id, ReasonCode::SUCCESS) { done += 1; } }
                    3 => { if let Ack::Refused(_) = s.on_pubrec(id, ReasonCode::SUCCESS) { done += 1; } }
                    _ => { if let Ack::Done(_) = s.on_pubcomp(id) { done += 1; } }
                }
                proptest::prop_assert!(s.inflight_len() <= usize::from(window));
                proptest::prop_assert!(!s.ids.contains_key(&0));
                proptest::prop_assert_eq!(enq, done + s.inflight_len() + s.queued_len());
            }
        }
    }
}
