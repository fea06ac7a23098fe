//! The reconnection family (the WHATWG rules the stream source follows): the server said stop,
//! redirects that were followed, and reconnects that could not resume.

use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Finding, FindingKind, Severity, ev};
use crate::monitor::{Monitor, Redirect};
use crate::observation::Route;
use crate::sanitize;

/// Cross-origin URLs named as examples.
const EXAMPLE_URLS: usize = 3;

/// A 204 to the stream request: the source stopped reconnecting, as the spec says.
pub(super) fn server_said_stop(m: &Monitor) -> Option<Finding> {
    let (first, last) = (m.stops.iter().next()?, m.stops.last()?);
    let reason = sanitize::line(&last.reason);
    Some(Finding {
        kind: FindingKind::ServerSaidStop,
        severity: Severity::Error,
        first_seen: Some(first.wall),
        last_seen: Some(last.wall),
        raised_at: Some(first.wall),
        summary: format!(
            "the server answered the stream with 204 No Content ({} times): it said stop reconnecting, and inboxtop stopped",
            m.stops.total()
        ),
        evidence: ev(&[
            ("stops", json!(m.stops.total())),
            ("session", json!(last.session)),
            ("reason", json!(reason)),
            (
                "hint",
                json!(
                    "a 204 ends an event stream for good (WHATWG): the server offers no stream for this agent now; press r to try again by hand"
                ),
            ),
        ]),
    })
}

/// The hops of the newest redirected call of `route`, oldest first: each hop leaves from where
/// the one before led (and, on the stream, within one session).
fn newest_call(m: &Monitor, route: Route) -> Vec<&Redirect> {
    let mut hops = m.redirects.iter().rev().filter(|h| h.route == route);
    let Some(newest) = hops.next() else {
        return Vec::new();
    };
    let mut call = vec![newest];
    for hop in hops {
        let next = call[call.len() - 1];
        if hop.to != next.from || hop.session != next.session {
            break;
        }
        call.push(hop);
    }
    call.reverse();
    call
}

/// Redirects were followed: the base URL (or a path) is out of date. Names the final URL of the
/// stream's newest call (or of another call when the stream was not redirected), its statuses and
/// hops, and the hops that left the origin, where the key was not sent.
pub(super) fn redirected(m: &Monitor) -> Option<Finding> {
    let (first, last) = (m.redirects.iter().next()?, m.redirects.last()?);
    let route = [Route::Stream, Route::Peek, Route::Probe]
        .into_iter()
        .find(|r| m.redirects.iter().any(|h| h.route == *r))
        .unwrap_or(last.route);
    let call = newest_call(m, route);
    let final_url = sanitize::line(&call[call.len() - 1].to).into_owned();
    let statuses: Vec<u16> = call.iter().map(|h| h.status).collect();
    let mut final_urls = BTreeMap::<&str, String>::new();
    for r in [Route::Stream, Route::Peek, Route::Probe] {
        if let Some(hop) = newest_call(m, r).last() {
            final_urls.insert(r.label(), sanitize::line(&hop.to).into_owned());
        }
    }
    let mut cross_origin: Vec<String> = Vec::new();
    for hop in m.redirects.iter().rev().filter(|h| h.cross_origin) {
        let url = sanitize::line(&hop.to).into_owned();
        if cross_origin.len() < EXAMPLE_URLS && !cross_origin.contains(&url) {
            cross_origin.push(url);
        }
    }
    let statuses_text: Vec<String> = statuses.iter().map(u16::to_string).collect();
    let mut summary = format!(
        "the {} request is redirected ({}, {} hop{}) to {final_url}: update the base URL",
        route.label(),
        statuses_text.join(" → "),
        call.len(),
        if call.len() == 1 { "" } else { "s" }
    );
    if let Some(url) = cross_origin.first() {
        let _ = write!(
            summary,
            "; a hop left the origin ({url}), and the key was not sent there"
        );
    }
    Some(Finding {
        kind: FindingKind::Redirected,
        severity: Severity::Warning,
        first_seen: Some(first.wall),
        last_seen: Some(last.wall),
        raised_at: Some(first.wall),
        summary,
        evidence: ev(&[
            ("final_url", json!(final_url)),
            ("statuses", json!(statuses)),
            ("hops", json!(call.len())),
            ("final_url_by_route", json!(final_urls)),
            ("redirects_followed", json!(m.redirects.total())),
            ("cross_origin_hops", json!(cross_origin)),
            (
                "hint",
                json!(
                    "point the base URL (or the paths) at the final URL: every request pays the extra round trips, and a hop to another origin goes without the API key and the agent header"
                ),
            ),
        ]),
    })
}

/// An event id that cannot be sent back as `Last-Event-ID`: reconnects cannot resume.
pub(super) fn lost_resume_id(m: &Monitor) -> Option<Finding> {
    let (first, last) = (m.unsent_ids.iter().next()?, m.unsent_ids.last()?);
    let id = sanitize::line(&last.id);
    Some(Finding {
        kind: FindingKind::LostResumeId,
        severity: Severity::Warning,
        first_seen: Some(first.wall),
        last_seen: Some(last.wall),
        raised_at: Some(first.wall),
        summary: format!(
            "{} reconnects could not resume: the last event id \"{id}\" cannot go in a Last-Event-ID header, so messages missed meanwhile are not replayed",
            m.unsent_ids.total()
        ),
        evidence: ev(&[
            ("reconnects_without_resume", json!(m.unsent_ids.total())),
            ("example_id", json!(id)),
            ("session", json!(last.session)),
            (
                "hint",
                json!(
                    "the server's event ids carry a character an HTTP header cannot (a control character): give events plain ids, such as a UUID or a counter"
                ),
            ),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::connection::ConnState;
    use crate::observation::Kind;
    use crate::testkit::{Timeline, evidence};

    #[test]
    fn a_204_is_the_server_saying_stop() {
        let mut t = Timeline::new();
        t.open(0, 1).heartbeat(15_000, 1, 15_000);
        assert!(!t.has(FindingKind::ServerSaidStop));
        t.close(20_000, 1, crate::observation::CloseReason::Eof)
            .stop(21_000, 2);
        assert_eq!(
            t.alarms(),
            vec![FindingKind::ServerSaidStop],
            "not a bad content type"
        );
        let f = t.find(FindingKind::ServerSaidStop).unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.raised_at, Some(t.wall(21_000)));
        assert_eq!(evidence(&f, "stops"), 1);
        assert!(evidence(&f, "hint").as_str().unwrap().contains("press r"));
        let ConnState::Closed { why, .. } = &t.m.connection.state else {
            panic!("{:?}", t.m.connection.state);
        };
        assert!(why.contains("said stop"), "the header says why: {why}");
    }

    #[test]
    fn a_redirect_names_the_final_url_its_status_and_hops() {
        let mut t = Timeline::new();
        t.attempt(0, 1)
            .redirect(
                5,
                Route::Stream,
                Some(1),
                301,
                "http://a/messages/stream",
                "http://a/v2/stream",
                false,
            )
            .redirect(
                9,
                Route::Stream,
                Some(1),
                307,
                "http://a/v2/stream",
                "http://a/v3/stream",
                false,
            )
            .respond(12, 1, 200, "text/event-stream", None, None);
        t.redirect(
            20,
            Route::Peek,
            None,
            308,
            "http://a/messages/peek",
            "http://a/v3/peek",
            false,
        );
        assert_eq!(t.alarms(), vec![FindingKind::Redirected]);
        let f = t.find(FindingKind::Redirected).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(evidence(&f, "final_url"), "http://a/v3/stream");
        assert_eq!(evidence(&f, "statuses"), &json!([301, 307]));
        assert_eq!(evidence(&f, "hops"), 2);
        assert_eq!(
            evidence(&f, "final_url_by_route"),
            &json!({"stream": "http://a/v3/stream", "peek": "http://a/v3/peek"})
        );
        assert_eq!(evidence(&f, "cross_origin_hops"), &json!([]));
        assert!(f.summary.contains("update the base URL"), "{}", f.summary);
        assert_eq!(f.raised_at, Some(t.wall(5)));
    }

    #[test]
    fn a_cross_origin_hop_is_named() {
        let mut t = Timeline::new();
        t.redirect(
            0,
            Route::Peek,
            None,
            302,
            "http://a/peek",
            "http://evil.example/peek",
            true,
        )
        .poll_failed(1, Some(401), None, "E_AUTH");
        let f = t.find(FindingKind::Redirected).unwrap();
        assert_eq!(
            evidence(&f, "cross_origin_hops"),
            &json!(["http://evil.example/peek"])
        );
        assert!(
            f.summary.contains("the key was not sent there"),
            "{}",
            f.summary
        );
        assert!(f.summary.starts_with("the peek request"), "{}", f.summary);
    }

    #[test]
    fn only_the_newest_call_counts_its_hops() {
        let mut t = Timeline::new();
        for session in 1..=3 {
            t.attempt(session * 1000, session).redirect(
                session * 1000 + 1,
                Route::Stream,
                Some(session),
                307,
                "http://a/s",
                "http://b/s",
                true,
            );
        }
        let f = t.find(FindingKind::Redirected).unwrap();
        assert_eq!(evidence(&f, "hops"), 1);
        assert_eq!(evidence(&f, "redirects_followed"), 3);
        assert_eq!(evidence(&f, "cross_origin_hops"), &json!(["http://b/s"]));
    }

    #[test]
    fn an_id_that_cannot_be_sent_back_is_a_lost_resume_id() {
        let mut t = Timeline::new();
        t.open(0, 1)
            .event(10, 1, "message", Some("a\u{7}b"), "{}".into());
        assert!(!t.has(FindingKind::LostResumeId));
        t.close(20, 1, crate::observation::CloseReason::Eof)
            .attempt(30, 2)
            .at(
                30,
                Kind::LastEventIdUnsent {
                    session: 2,
                    id: "a\u{7}b".into(),
                },
            );
        let f = t.find(FindingKind::LostResumeId).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(evidence(&f, "example_id"), "a\\x07b");
        assert_eq!(evidence(&f, "reconnects_without_resume"), 1);
        assert_eq!(f.raised_at, Some(t.wall(30)));
    }
}
