//! The HTTP family: answers by status class (auth, not found, rate limited, server errors) on
//! either channel, and requests that got no answer at all.

use serde_json::json;
use std::collections::BTreeMap;

use super::{Finding, FindingKind, Severity, ev};
use crate::monitor::Monitor;
use crate::sanitize;

/// A class of HTTP status: its finding, how bad it is, which statuses belong, and what it means.
struct HttpClass {
    kind: FindingKind,
    severity: Severity,
    statuses: fn(u16) -> bool,
    meaning: &'static str,
}

const AUTH_FAILED: HttpClass = HttpClass {
    kind: FindingKind::AuthFailed,
    severity: Severity::Error,
    statuses: |s| s == 401 || s == 403,
    meaning: "authentication refused: check the API key and the agent id",
};

const NOT_FOUND: HttpClass = HttpClass {
    kind: FindingKind::NotFound,
    severity: Severity::Error,
    statuses: |s| s == 404,
    meaning: "endpoint not found: check the base URL and paths",
};

const RATE_LIMITED: HttpClass = HttpClass {
    kind: FindingKind::RateLimited,
    severity: Severity::Warning,
    statuses: |s| s == 429,
    meaning: "rate limited",
};

const SERVER_ERRORS: HttpClass = HttpClass {
    kind: FindingKind::ServerErrors,
    severity: Severity::Warning,
    statuses: |s| s >= 500,
    meaning: "server errors",
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

/// The answers of `class`, from the stream and the poll alike, with their error codes.
fn class_finding(m: &Monitor, class: &HttpClass) -> Option<Finding> {
    let hits: Vec<_> = m
        .http_errors
        .iter()
        .filter(|e| (class.statuses)(e.status))
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
            ("retry_after_ms", json!(retry_after)),
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
