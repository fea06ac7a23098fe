//! The content family: answers that are not an event stream, events that cannot be read, and
//! lines too large to buffer.

use serde_json::json;
use std::time::Duration;

use super::{Finding, FindingKind, Severity, ev};
use crate::monitor::Monitor;
use crate::sanitize;

/// 2xx answers that are not an event stream: an HTML page, or a compressed stream.
pub(super) fn bad_content_type(m: &Monitor) -> Option<Finding> {
    let bad: Vec<_> = m
        .connection
        .sessions
        .iter()
        .filter(|s| s.status.is_some_and(|st| (200..300).contains(&st)))
        .filter(|s| s.opened.is_none() || s.content_encoding.is_some())
        .collect();
    let (first, last) = (bad.first()?, bad.last()?);
    let ct = last
        .content_type
        .as_deref()
        .map(sanitize::line)
        .unwrap_or("(none)".into())
        .into_owned();
    let enc = last
        .content_encoding
        .as_deref()
        .map(sanitize::line)
        .map(|c| c.into_owned());
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
