//! The HTTP family: answers by status class (auth, not found, rate limited, server errors) on
//! either channel, any other refusal of the stream, peeks that fail, and requests that got no
//! answer at all.

use serde_json::json;
use std::collections::BTreeMap;

use super::{Finding, FindingKind, Severity, ev};
use crate::monitor::{Channel, Monitor};
use crate::sanitize;

/// A class of HTTP status: its finding, how bad it is, which answers belong, what it means and
/// what to do.
struct HttpClass {
    kind: FindingKind,
    severity: Severity,
    statuses: fn(u16) -> bool,
    /// The one channel the class is about, or both.
    channel: Option<Channel>,
    meaning: &'static str,
    hint: &'static str,
}

const AUTH_FAILED: HttpClass = HttpClass {
    kind: FindingKind::AuthFailed,
    severity: Severity::Error,
    statuses: |s| s == 401 || s == 403,
    channel: None,
    meaning: "authentication refused: check the API key and the agent id",
    hint: "the key or the agent id is wrong, or the key may not read this agent's inbox (check the agent header's name too); inboxtop backs off instead of hammering",
};

const NOT_FOUND: HttpClass = HttpClass {
    kind: FindingKind::NotFound,
    severity: Severity::Error,
    statuses: |s| s == 404,
    channel: None,
    meaning: "endpoint not found: check the base URL and paths",
    hint: "the base URL or the stream and peek paths are wrong, or the API moved (a redirect would show as redirected)",
};

const RATE_LIMITED: HttpClass = HttpClass {
    kind: FindingKind::RateLimited,
    severity: Severity::Warning,
    statuses: |s| s == 429,
    channel: None,
    meaning: "rate limited",
    hint: "too many requests for this key: poll less often; inboxtop honours Retry-After",
};

const SERVER_ERRORS: HttpClass = HttpClass {
    kind: FindingKind::ServerErrors,
    severity: Severity::Warning,
    statuses: |s| s >= 500,
    channel: None,
    meaning: "server errors",
    hint: "the server or a gateway in front of it failed: transient if they pass, an outage if they last",
};

/// The classes that name a status more specifically than "rejected".
const SPECIFIC: [&HttpClass; 4] = [&AUTH_FAILED, &NOT_FOUND, &RATE_LIMITED, &SERVER_ERRORS];

/// Whether a class more specific than "rejected" names `status`.
fn classified(status: u16) -> bool {
    SPECIFIC.iter().any(|class| (class.statuses)(status))
}

const STREAM_REJECTED: HttpClass = HttpClass {
    kind: FindingKind::StreamRejected,
    severity: Severity::Error,
    statuses: |s| !classified(s),
    channel: Some(Channel::Stream),
    meaning: "the stream request was refused",
    hint: "the server understood the request and refused it as made (bad request, method not allowed, conflict, gone…): the error code and body say why; check the stream path, the agent header and the query",
};

pub(super) fn auth_failed(m: &Monitor) -> Option<Finding> {
    class_finding(m, &AUTH_FAILED)
}

pub(super) fn not_found(m: &Monitor) -> Option<Finding> {
    class_finding(m, &NOT_FOUND)
}

pub(super) fn rate_limited(m: &Monitor) -> Option<Finding> {
    class_finding(m, &RATE_LIMITED)
}

pub(super) fn server_errors(m: &Monitor) -> Option<Finding> {
    class_finding(m, &SERVER_ERRORS)
}

/// Any other non-2xx answer to the stream request (400, 405, 409, 410, 422, a 3xx not followed…).
pub(super) fn stream_rejected(m: &Monitor) -> Option<Finding> {
    class_finding(m, &STREAM_REJECTED)
}

/// The answers of `class`, on its channels, with their error codes and what the last one said.
fn class_finding(m: &Monitor, class: &HttpClass) -> Option<Finding> {
    let hits: Vec<_> = m
        .http_errors
        .iter()
        .filter(|e| class.channel.is_none_or(|c| c == e.channel) && (class.statuses)(e.status))
        .collect();
    let (first, last) = (hits.first()?, hits.last()?);
    let mut statuses = BTreeMap::<String, u64>::new();
    let mut codes = BTreeMap::<String, u64>::new();
    for h in &hits {
        *statuses
            .entry(format!("{} {}", h.channel.label(), h.status))
            .or_default() += 1;
        if let Some(code) = h.error.as_ref().and_then(|e| e.code.as_deref()) {
            *codes.entry(sanitize::line(code).into_owned()).or_default() += 1;
        }
    }
    let message = last
        .error
        .as_ref()
        .map(|e| sanitize::line(&e.summary()).into_owned())
        .unwrap_or_default();
    let body = last
        .error
        .as_ref()
        .and_then(|e| e.body_excerpt.as_deref())
        .map(|b| sanitize::line(b).into_owned());
    // The server's own words (`Retry-After`), not a measured time: shown as it was said.
    let retry_after = hits.iter().filter_map(|h| h.retry_after_ms).next_back();
    Some(Finding {
        kind: class.kind,
        severity: class.severity,
        first_seen: Some(first.wall),
        last_seen: Some(last.wall),
        raised_at: Some(first.wall),
        summary: format!("{}: {} responses ({message})", class.meaning, hits.len()),
        evidence: ev(&[
            ("responses", json!(hits.len())),
            ("by_status", json!(statuses)),
            ("error_codes", json!(codes)),
            ("last_error", json!(message)),
            ("body_excerpt", json!(body)),
            ("retry_after_ms", json!(retry_after)),
            ("hint", json!(class.hint)),
        ]),
    })
}

/// Peeks the server answered without an inbox that could be read, for a reason no status class
/// names: a status like 400, an error envelope in a 200, a body that is not JSON or not a message
/// list. An error while no peek has ever answered: polling is then blind.
pub(super) fn poll_failed(m: &Monitor) -> Option<Finding> {
    let failures: Vec<_> = m
        .poll_failures
        .iter()
        .filter(|f| f.answered() && !f.status.is_some_and(classified))
        .collect();
    let (first, last) = (failures.first()?, failures.last()?);
    let mut reasons = BTreeMap::<String, u64>::new();
    let mut codes = BTreeMap::<String, u64>::new();
    for f in &failures {
        let reason = match f.status {
            Some(status) => format!("HTTP {status}"),
            None => "unreadable answer".into(),
        };
        *reasons.entry(reason).or_default() += 1;
        if let Some(code) = f.api_error.as_ref().and_then(|e| e.code.as_deref()) {
            *codes.entry(sanitize::line(code).into_owned()).or_default() += 1;
        }
    }
    let last_error = sanitize::line(&last.error);
    let never_answered = m.inbox.polls == 0;
    Some(Finding {
        kind: FindingKind::PollFailed,
        severity: if never_answered {
            Severity::Error
        } else {
            Severity::Warning
        },
        first_seen: Some(first.wall),
        last_seen: Some(last.wall),
        raised_at: Some(first.wall),
        summary: format!(
            "{} peeks failed{}: {last_error}",
            failures.len(),
            if never_answered {
                " and none has answered"
            } else {
                ""
            }
        ),
        evidence: ev(&[
            ("failures", json!(failures.len())),
            ("by_reason", json!(reasons)),
            ("error_codes", json!(codes)),
            ("last_error", json!(last_error)),
            ("peeks_answered", json!(m.inbox.polls)),
            (
                "hint",
                json!(
                    "polling is the second way into the inbox, and how messages the stream missed are told: check the peek path and its query (limit, mentioned) against what the error says"
                ),
            ),
        ]),
    })
}

/// Requests that got no HTTP answer; three or more are an error.
pub(super) fn network_errors(m: &Monitor) -> Option<Finding> {
    let errors: Vec<_> = m.net_errors.iter().collect();
    let (first, last) = (errors.first()?, errors.last()?);
    let mut classes = BTreeMap::<&str, u64>::new();
    for e in &errors {
        *classes.entry(e.class.label()).or_default() += 1;
    }
    let last_error = sanitize::line(&last.error);
    Some(Finding {
        kind: FindingKind::NetworkErrors,
        severity: if errors.len() >= 3 {
            Severity::Error
        } else {
            Severity::Warning
        },
        first_seen: Some(first.wall),
        last_seen: Some(last.wall),
        raised_at: Some(first.wall),
        summary: format!(
            "{} requests got no answer: {last_error}",
            m.net_errors.total()
        ),
        evidence: ev(&[
            ("failures", json!(m.net_errors.total())),
            ("by_class", json!(classes)),
            ("last_error", json!(last_error)),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::NetErrorClass;
    use crate::testkit::{Timeline, evidence};
    use crate::wire::ApiError;

    #[test]
    fn http_classes_name_the_error_code() {
        for (status, kind) in [
            (401, FindingKind::AuthFailed),
            (403, FindingKind::AuthFailed),
            (404, FindingKind::NotFound),
            (429, FindingKind::RateLimited),
            (503, FindingKind::ServerErrors),
        ] {
            let mut t = Timeline::new();
            t.http(0, 1, status, &format!("E_{status}"));
            assert_eq!(t.alarms(), vec![kind], "status {status}");
            let f = t.findings().into_iter().next().unwrap();
            assert!(
                f.evidence
                    .iter()
                    .any(|(_, v)| v.to_string().contains(&format!("E_{status}"))),
                "{f:?}"
            );
        }
    }

    #[test]
    fn any_other_refusal_of_the_stream_is_stream_rejected() {
        for status in [400, 405, 409, 410, 422, 300] {
            let mut t = Timeline::new();
            t.http(1000, 1, status, "E_VALIDATION")
                .http(2000, 2, status, "E_VALIDATION");
            assert_eq!(
                t.alarms(),
                vec![FindingKind::StreamRejected],
                "status {status}"
            );
            let f = t.find(FindingKind::StreamRejected).unwrap();
            assert_eq!(f.severity, Severity::Error);
            assert_eq!(evidence(&f, "responses"), 2);
            assert_eq!(
                evidence(&f, "by_status"),
                &json!({ format!("stream {status}"): 2 })
            );
            assert_eq!(evidence(&f, "error_codes"), &json!({"E_VALIDATION": 2}));
            assert_eq!(f.raised_at, Some(t.wall(1000)));
        }
        // The specific classes keep their own findings.
        for status in [401, 403, 404, 429, 500, 503] {
            let mut t = Timeline::new();
            t.http(0, 1, status, "E");
            assert!(!t.has(FindingKind::StreamRejected), "status {status}");
        }
    }

    #[test]
    fn a_rejection_shows_a_sanitized_body_excerpt() {
        let mut t = Timeline::new();
        let error = ApiError {
            body_excerpt: Some("<h1>Bad \u{1b}[2J request</h1>".into()),
            ..ApiError::default()
        };
        t.attempt(0, 1)
            .respond(0, 1, 400, "text/html", None, Some(error));
        let f = t.find(FindingKind::StreamRejected).unwrap();
        assert_eq!(evidence(&f, "body_excerpt"), "<h1>Bad \\e[2J request</h1>");
        assert!(!f.summary.contains('\u{1b}'), "{}", f.summary);
    }

    #[test]
    fn a_peek_refused_or_unreadable_is_poll_failed_an_error_until_one_answers() {
        let mut t = Timeline::new();
        t.poll_failed(1000, Some(400), None, "E_VALIDATION");
        let f = t.find(FindingKind::PollFailed).unwrap();
        assert_eq!(f.severity, Severity::Error, "no peek has answered");
        assert!(
            !t.has(FindingKind::StreamRejected),
            "the stream's story is its own"
        );
        t.poll_failed(2000, None, Some(NetErrorClass::Body), "not JSON");
        assert!(
            !t.has(FindingKind::NetworkErrors),
            "it answered: not a network error"
        );
        t.poll(3000, &[]);
        let f = t.find(FindingKind::PollFailed).unwrap();
        assert_eq!(f.severity, Severity::Warning, "a peek answered since");
        assert_eq!(evidence(&f, "failures"), 2);
        assert_eq!(
            evidence(&f, "by_reason"),
            &json!({"HTTP 400": 1, "unreadable answer": 1})
        );
        assert_eq!(evidence(&f, "peeks_answered"), 1);
        assert_eq!(f.raised_at, Some(t.wall(1000)));
    }

    #[test]
    fn peek_failures_a_more_specific_finding_names_are_not_poll_failed() {
        let mut t = Timeline::new();
        t.poll_failed(0, Some(401), None, "E_AUTH")
            .poll_failed(100, Some(503), None, "E_BUSY")
            .poll_failed(200, None, Some(NetErrorClass::Refused), "refused");
        assert!(!t.has(FindingKind::PollFailed), "{:?}", t.alarms());
        assert_eq!(
            t.alarms(),
            vec![
                FindingKind::AuthFailed,
                FindingKind::NetworkErrors,
                FindingKind::ServerErrors
            ]
        );
    }

    #[test]
    fn http_and_network_findings_are_raised_by_their_first_failure() {
        let mut t = Timeline::new();
        t.http(1000, 1, 503, "E_BUSY")
            .http(5000, 2, 502, "E_GATEWAY");
        t.net_error(9000, 3, NetErrorClass::Refused)
            .net_error(12_000, 4, NetErrorClass::Dns);
        let server = t.find(FindingKind::ServerErrors).unwrap();
        assert_eq!(evidence(&server, "responses"), 2);
        assert_eq!(server.raised_at, Some(t.wall(1000)));
        assert_eq!(server.last_seen, Some(t.wall(5000)));
        let network = t.find(FindingKind::NetworkErrors).unwrap();
        assert_eq!(network.severity, Severity::Warning, "two are a warning");
        assert_eq!(network.raised_at, Some(t.wall(9000)));
        assert_eq!(network.last_seen, Some(t.wall(12_000)));
    }
}
