//! The inbox: every message seen by polling or on the stream, keyed by id, with its marks — seen on
//! the stream (and how much earlier or later than polling), or only reachable by polling.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use crate::observation::Mono;
use crate::wire::WireMessage;

/// Messages kept; the oldest first-seen is forgotten first.
pub const INBOX_CAPACITY: usize = 2000;

/// When and where a message was seen.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sighting {
    pub t: Mono,
    pub wall: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InboxEntry {
    pub key: String,
    pub message: WireMessage,
    pub polled: Option<Sighting>,
    pub streamed: Option<Sighting>,
    /// Session that carried it on the stream.
    pub streamed_session: Option<u64>,
    /// Times the stream carried it again after the first.
    pub stream_duplicates: u32,
    /// It was in the inbox before inboxtop could have streamed it (first poll, or created before
    /// the first stream opened), so not being streamed is not a fault.
    pub preexisting: bool,
}

impl InboxEntry {
    /// Stream arrival minus poll arrival: negative when the stream was first (as it should be).
    pub fn stream_lead(&self) -> Option<i64> {
        let (p, s) = (self.polled?, self.streamed?);
        Some(s.t.0 as i64 / 1000 - p.t.0 as i64 / 1000)
    }

    /// Stream receive time minus the message's `createdAt` (includes any clock skew).
    pub fn delivery_latency(&self) -> Option<chrono::Duration> {
        Some(self.streamed?.wall - self.message.created_at?)
    }

    /// Reachable by polling but not (yet) seen on the stream, and expected to have been.
    pub fn only_polled(&self) -> bool {
        self.polled.is_some() && self.streamed.is_none() && !self.preexisting
    }

    /// How long it has been known only to polling.
    pub fn waiting(&self, now: Mono) -> Option<Duration> {
        self.only_polled()
            .then(|| now.since(self.polled.map_or(now, |p| p.t)))
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Inbox {
    /// By first-seen order (a sequence number), so the oldest is evicted first.
    entries: BTreeMap<u64, InboxEntry>,
    by_key: HashMap<String, u64>,
    next_seq: u64,
    capacity: usize,
    /// Distinct messages first seen by polling / on the stream, ever (exact while an id is not
    /// forgotten and seen again).
    pub polled_total: u64,
    pub streamed_total: u64,
    /// Stream `message` events ever, duplicates included.
    pub stream_events: u64,
    pub stream_duplicates: u64,
    /// When the stream first carried a message again.
    pub first_duplicate: Option<Sighting>,
    pub evicted: u64,
    pub polls: u64,
}

impl Default for Inbox {
    fn default() -> Self {
        Inbox::with_capacity(INBOX_CAPACITY)
    }
}

/// A key for messages with no id: a hash of what identifies them.
fn key_of(m: &WireMessage) -> String {
    if let Some(id) = &m.id {
        return id.clone();
    }
    let mut h = DefaultHasher::new();
    (&m.from, &m.created_at, &m.content).hash(&mut h);
    format!("~{:016x}", h.finish())
}

impl Inbox {
    pub fn with_capacity(capacity: usize) -> Self {
        Inbox {
            entries: BTreeMap::new(),
            by_key: HashMap::new(),
            next_seq: 0,
            capacity: capacity.max(1),
            polled_total: 0,
            streamed_total: 0,
            stream_events: 0,
            stream_duplicates: 0,
            first_duplicate: None,
            evicted: 0,
            polls: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries ever created (held or evicted): the view uses it to hold still while paused.
    pub fn created_total(&self) -> u64 {
        self.next_seq
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Newest first-seen first.
    pub fn newest_first(&self) -> impl Iterator<Item = &InboxEntry> {
        self.entries.values().rev()
    }

    pub fn get(&self, key: &str) -> Option<&InboxEntry> {
        self.by_key.get(key).and_then(|s| self.entries.get(s))
    }

    fn entry(&mut self, message: &WireMessage) -> (&mut InboxEntry, bool) {
        let key = key_of(message);
        let Some(&seq) = self.by_key.get(&key) else {
            if self.entries.len() == self.capacity
                && let Some((_, old)) = self.entries.pop_first()
            {
                self.by_key.remove(&old.key);
                self.evicted += 1;
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            self.by_key.insert(key.clone(), seq);
            self.entries.insert(
                seq,
                InboxEntry {
                    key,
                    message: message.clone(),
                    polled: None,
                    streamed: None,
                    streamed_session: None,
                    stream_duplicates: 0,
                    preexisting: false,
                },
            );
            return (self.entries.get_mut(&seq).expect("just inserted"), true);
        };
        (self.entries.get_mut(&seq).expect("indexed"), false)
    }

    /// A message arrived on the stream.
    pub fn on_stream(&mut self, message: &WireMessage, seen: Sighting, session: u64) {
        self.stream_events += 1;
        let (entry, _) = self.entry(message);
        if entry.streamed.is_some() {
            entry.stream_duplicates += 1;
            self.stream_duplicates += 1;
            self.first_duplicate.get_or_insert(seen);
            return;
        }
        entry.streamed = Some(seen);
        entry.streamed_session = Some(session);
        self.streamed_total += 1;
    }

    /// A peek listed these messages. `stream_opened_wall` is when the first stream session opened
    /// (None if none has): messages created before it could not have been streamed to us.
    pub fn on_poll(
        &mut self,
        messages: &[WireMessage],
        seen: Sighting,
        stream_opened_wall: Option<DateTime<Utc>>,
    ) {
        let first_poll = self.polls == 0;
        self.polls += 1;
        for m in messages {
            let (entry, _) = self.entry(m);
            if entry.polled.is_some() {
                continue;
            }
            entry.polled = Some(seen);
            let created_before_stream = match (m.created_at, stream_opened_wall) {
                (Some(created), Some(opened)) => created < opened,
                (_, None) => true,
                (None, Some(_)) => false,
            };
            entry.preexisting = entry.streamed.is_none() && (first_poll || created_before_stream);
            self.polled_total += 1;
        }
    }

    /// Messages only reachable by polling right now (within what is held).
    pub fn only_polled(&self) -> impl Iterator<Item = &InboxEntry> {
        self.entries.values().filter(|e| e.only_polled())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, created: &str) -> WireMessage {
        WireMessage {
            id: Some(id.into()),
            content: format!("content {id}"),
            created_at: Some(created.parse().unwrap()),
            ..WireMessage::default()
        }
    }

    fn at(ms: u64) -> Sighting {
        Sighting {
            t: Mono::from_millis(ms),
            wall: DateTime::UNIX_EPOCH + chrono::Duration::milliseconds(ms as i64),
        }
    }

    #[test]
    fn stream_then_poll_is_a_streamed_message_with_a_lead() {
        let mut inbox = Inbox::default();
        let opened = Some("2026-11-25T02:00:00Z".parse().unwrap());
        inbox.on_poll(&[], at(0), opened);
        let m = msg("m1", "2026-11-25T03:00:00Z");
        inbox.on_stream(&m, at(1000), 1);
        inbox.on_poll(std::slice::from_ref(&m), at(3000), opened);
        let e = inbox.get("m1").unwrap();
        assert_eq!(e.stream_lead(), Some(-2000));
        assert!(!e.only_polled());
        assert_eq!((inbox.polled_total, inbox.streamed_total), (1, 1));
    }

    #[test]
    fn new_messages_only_polled_are_marked_and_aged_but_old_ones_are_not() {
        let mut inbox = Inbox::default();
        let opened = Some("2026-11-25T03:00:00Z".parse().unwrap());
        inbox.on_poll(&[msg("old", "2026-11-25T02:59:00Z")], at(0), opened);
        inbox.on_poll(
            &[
                msg("old", "2026-11-25T02:59:00Z"),
                msg("new", "2026-11-25T03:00:05Z"),
            ],
            at(5000),
            opened,
        );
        assert!(inbox.get("old").unwrap().preexisting);
        let new = inbox.get("new").unwrap();
        assert!(new.only_polled());
        assert_eq!(
            new.waiting(Mono::from_millis(12_000)),
            Some(Duration::from_secs(7))
        );
        assert_eq!(inbox.only_polled().count(), 1);
    }

    #[test]
    fn duplicates_on_the_stream_are_counted() {
        let mut inbox = Inbox::default();
        let m = msg("m1", "2026-11-25T03:00:00Z");
        inbox.on_stream(&m, at(0), 1);
        inbox.on_stream(&m, at(10), 2);
        assert_eq!(
            (
                inbox.stream_events,
                inbox.streamed_total,
                inbox.stream_duplicates
            ),
            (2, 1, 1)
        );
        assert_eq!(inbox.get("m1").unwrap().streamed_session, Some(1));
    }

    #[test]
    fn bounded_by_evicting_the_oldest() {
        let mut inbox = Inbox::with_capacity(3);
        for i in 0..10 {
            inbox.on_stream(&msg(&format!("m{i}"), "2026-11-25T03:00:00Z"), at(i), 1);
        }
        assert_eq!(inbox.len(), 3);
        assert_eq!(inbox.evicted, 7);
        assert_eq!(inbox.streamed_total, 10);
        let keys: Vec<_> = inbox.newest_first().map(|e| e.key.clone()).collect();
        assert_eq!(keys, vec!["m9", "m8", "m7"]);
        assert!(inbox.get("m0").is_none());
    }

    #[test]
    fn messages_without_id_get_a_stable_key() {
        let mut inbox = Inbox::default();
        let mut m = msg("x", "2026-11-25T03:00:00Z");
        m.id = None;
        inbox.on_stream(&m, at(0), 1);
        inbox.on_stream(&m, at(1), 1);
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox.stream_duplicates, 1);
    }
}
