//! The content family: answers that are not an event stream, events framed twice, events that
//! cannot be read, and lines too large to buffer.

use serde_json::json;
use std::time::Duration;

use super::{Finding, FindingKind, Severity, ev};
use crate::monitor::Monitor;
use crate::sanitize;

/// 2xx answers that are not an event stream: an HTML page, or a compressed stream. (A 204 is the
/// server saying stop, not a wrong content type.)
pub(super) fn bad_content_type(m: &Monitor) -> Option<Finding> {
    let bad: Vec<_> = m
        .connection
        .sessions
        .iter()
        .filter(|s| {
            s.status
                .is_some_and(|st| (200..300).contains(&st) && st != 204)
        })
        .filter(|s| s.opened.is_none() || s.content_encoding.is_some())
        .collect();
    let (first, last) = (bad.first()?, bad.last()?);
    let ct = last
        .content_type
        .as_deref()
        .map_or("(none)".into(), sanitize::line)
        .into_owned();
    let enc = last
        .content_encoding
        .as_deref()
        .map(sanitize::line)
        .map(std::borrow::Cow::into_owned);
    // The first such answer arrived its time-to-first-byte after the attempt.
    let answered = first
        .attempted
        .plus(Duration::from_millis(first.ttfb_ms.unwrap_or(0)));
    Some(Finding {
        kind: FindingKind::BadContentType,
        severity: Severity::Error,
        first_seen: Some(first.attempted_wall),
        last_seen: Some(last.attempted_wall),
        raised_at: Some(m.wall_at(answered)),
        summary: match &enc {
            Some(e) => format!(
                "the stream is compressed (content-encoding: {e}): SSE must not be buffered by compression"
            ),
            None => format!(
                "the stream answered {ct}, not text/event-stream (an error page or a proxy?)"
            ),
        },
        evidence: ev(&[
            ("responses", json!(bad.len())),
            ("content_type", json!(ct)),
            ("content_encoding", json!(enc)),
        ]),
    })
}

/// Events whose data is itself SSE framing (`event:`, `data:`, `id:` lines): the server frames
/// already-framed events a second time, so the heartbeats and messages inside reach no client.
pub(super) fn nested_frame(m: &Monitor) -> Option<Finding> {
    let (first, last) = (m.nested_frames.iter().next()?, m.nested_frames.last()?);
    let example = sanitize::line(&last.example);
    Some(Finding {
        kind: FindingKind::NestedFrame,
        severity: Severity::Warning,
        first_seen: Some(first.wall),
        last_seen: Some(last.wall),
        raised_at: Some(first.wall),
        summary: format!(
            "{} events carry SSE framing inside their data (e.g. \"{example}\"): events are framed twice",
            m.nested_frames.total()
        ),
        evidence: ev(&[
            ("events", json!(m.nested_frames.total())),
            ("example_data", json!(example)),
            ("event_type", json!(sanitize::line(&last.event))),
            ("session", json!(last.session)),
            (
                "hint",
                json!(
                    "the server (or a proxy) wraps events that are already SSE frames in another `data:` frame: the heartbeats and messages inside reach no client as such; write each event once"
                ),
            ),
        ]),
    })
}

/// Events whose data could not be read as what their type promises.
pub(super) fn malformed(m: &Monitor) -> Option<Finding> {
    let (first, last) = (m.malformed.iter().next()?, m.malformed.last()?);
    let reason = sanitize::line(&last.reason);
    Some(Finding {
        kind: FindingKind::MalformedEvent,
        severity: Severity::Warning,
        first_seen: Some(first.wall),
        last_seen: Some(last.wall),
        raised_at: Some(first.wall),
        summary: format!("{} events could not be read: {reason}", m.malformed.total()),
        evidence: ev(&[
            ("events", json!(m.malformed.total())),
            ("last_reason", json!(reason)),
            ("event_type", json!(sanitize::line(&last.event))),
        ]),
    })
}

/// Lines skipped for being over the size limit.
pub(super) fn oversized(m: &Monitor) -> Option<Finding> {
    let (first, last) = (m.oversized.iter().next()?, m.oversized.last()?);
    Some(Finding {
        kind: FindingKind::OversizedEvent,
        severity: Severity::Warning,
        first_seen: Some(first.wall),
        last_seen: Some(last.wall),
        raised_at: Some(first.wall),
        summary: format!(
            "{} lines over the {}-byte limit were skipped (largest seen {} bytes)",
            m.oversized.total(),
            last.limit,
            m.oversized.iter().map(|o| o.bytes).max().unwrap_or(0)
        ),
        evidence: ev(&[
            ("skipped", json!(m.oversized.total())),
            ("limit_bytes", json!(last.limit)),
            ("last_bytes", json!(last.bytes)),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Kind;
    use crate::testkit::{Timeline, evidence};

    #[test]
    fn bad_content_is_raised_when_the_first_answer_arrived() {
        // The kit's answers come 3 ms after the attempt.
        let mut t = Timeline::new();
        t.attempt(1000, 1)
            .respond(1003, 1, 200, "text/html", None, None)
            .attempt(5000, 2)
            .respond(5003, 2, 200, "text/html", None, None);
        let f = t.find(FindingKind::BadContentType).unwrap();
        assert_eq!(evidence(&f, "responses"), 2);
        assert_eq!(f.first_seen, Some(t.wall(1000)));
        assert_eq!(f.raised_at, Some(t.wall(1003)));
    }

    #[test]
    fn events_framed_twice_are_nested_frames_not_malformed() {
        let mut t = Timeline::new();
        t.open(0, 1);
        // SSE-looking text inside JSON is not framing; framing starts a line.
        t.event(
            10,
            1,
            "message",
            None,
            r#"{"content":"data: id: event:"}"#.into(),
        );
        assert!(!t.has(FindingKind::NestedFrame));
        let inner = "event: heartbeat\ndata: {\"timestamp\":\"2026-11-25T03:00:00Z\"}";
        t.event(20, 1, "message", None, inner.into());
        t.event(
            30,
            1,
            "message",
            None,
            "id: 7\nevent: message\ndata: {}".into(),
        );
        let f = t.find(FindingKind::NestedFrame).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(evidence(&f, "events"), 2);
        assert_eq!(
            evidence(&f, "example_data"),
            "id: 7\\nevent: message\\ndata: {}"
        );
        assert_eq!(f.raised_at, Some(t.wall(20)));
        assert!(malformed(&t.m).is_some(), "unreadable as messages, too");
        assert_eq!(t.alarms(), vec![FindingKind::NestedFrame]);
    }

    #[test]
    fn malformed_and_oversized_are_raised_by_the_first_one() {
        let mut t = Timeline::new();
        t.open(0, 1)
            .event(30, 1, "message", None, "not json".into())
            .event(50, 1, "message", None, "{}".into());
        for ms in [70, 90] {
            t.at(
                ms,
                Kind::OversizedEvent {
                    session: 1,
                    bytes: 5_000_000,
                    limit: 1_048_576,
                },
            );
        }
        let malformed = t.find(FindingKind::MalformedEvent).unwrap();
        assert_eq!(evidence(&malformed, "events"), 2);
        assert_eq!(malformed.raised_at, Some(t.wall(30)));
        assert_eq!(malformed.last_seen, Some(t.wall(50)));
        let oversized = t.find(FindingKind::OversizedEvent).unwrap();
        assert_eq!(evidence(&oversized, "skipped"), 2);
        assert_eq!(oversized.raised_at, Some(t.wall(70)));
    }
}
