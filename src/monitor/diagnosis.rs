//! Diagnosis: detectors read the model and name what is wrong, with evidence.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

use super::Monitor;
use super::connection::{ConnState, Session, SessionEnd};
use super::log::EntryKind;
use crate::observation::{CloseReason, Mono};
use crate::sanitize;
use serde_json::{Value, json};

/// Tunable limits of the detectors. Defaults fit SignalDock (heartbeat every 15–30 s).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// The heartbeat interval the server is expected to keep: shortest and longest.
    pub heartbeat_min: Duration,
    pub heartbeat_max: Duration,
    /// How long a message may be in the inbox without reaching the stream before it is a gap.
    pub delivery_grace: Duration,
    /// Heartbeats within one `heartbeat_min` window that make a flood.
    pub flood_beats: usize,
    /// Sessions that end this young are short; this many of them make a reconnect loop.
    pub short_session: Duration,
    pub short_sessions: usize,
    /// Sessions ending at ages within this fraction of each other look like an idle timeout.
    pub idle_spread: f64,
    /// Simulated seconds per real second of what is watched (1 for a real server). The limits
    /// above are in real time; reports multiply by this to speak in the simulator's seconds.
    pub time_scale: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            heartbeat_min: Duration::from_secs(15),
            heartbeat_max: Duration::from_secs(30),
            delivery_grace: Duration::from_secs(10),
            flood_beats: 5,
            short_session: Duration::from_secs(10),
            short_sessions: 3,
            idle_spread: 0.05,
            time_scale: 1.0,
        }
    }
}

impl Thresholds {
    /// A duration of real (monotonic) time as the watched system counts it: simulated seconds
    /// for a scaled simulator, itself otherwise. Every duration a person reads goes through here.
    pub fn shown(&self, real: Duration) -> Duration {
        if self.time_scale.is_finite() && self.time_scale > 0.0 {
            real.mul_f64(self.time_scale)
        } else {
            real
        }
    }

    /// The same thresholds for a simulator that plays `time_scale` simulated seconds per second.
    pub fn scaled(&self, time_scale: f64) -> Thresholds {
        let f = if time_scale.is_finite() && time_scale > 0.0 {
            time_scale
        } else {
            1.0
        };
        let s = |d: Duration| d.div_f64(f);
        Thresholds {
            heartbeat_min: s(self.heartbeat_min),
            heartbeat_max: s(self.heartbeat_max),
            delivery_grace: s(self.delivery_grace),
            short_session: s(self.short_session),
            time_scale: self.time_scale * f,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// What a finding is about. The kebab-case names are an interface (JSON, reports, scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    HeartbeatFlood,
    HeartbeatStale,
    ShortSessions,
    ProxyIdleTimeout,
    DeliveryGap,
    StreamStalled,
    ProxyBuffering,
    AuthFailed,
    NotFound,
    RateLimited,
    ServerErrors,
    BadContentType,
    DuplicateDelivery,
    MalformedEvent,
    OversizedEvent,
    NetworkErrors,
    DeliveryLatency,
}

/// One conclusion, with the facts that support it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// One line.
    pub summary: String,
    /// Labelled facts, in the order a reader needs them.
    pub evidence: Vec<(String, serde_json::Value)>,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl FindingKind {
    /// The stable kebab-case name (the same as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::HeartbeatFlood => "heartbeat-flood",
            FindingKind::HeartbeatStale => "heartbeat-stale",
            FindingKind::ShortSessions => "short-sessions",
            FindingKind::ProxyIdleTimeout => "proxy-idle-timeout",
            FindingKind::DeliveryGap => "delivery-gap",
            FindingKind::StreamStalled => "stream-stalled",
            FindingKind::ProxyBuffering => "proxy-buffering",
            FindingKind::AuthFailed => "auth-failed",
            FindingKind::NotFound => "not-found",
            FindingKind::RateLimited => "rate-limited",
            FindingKind::ServerErrors => "server-errors",
            FindingKind::BadContentType => "bad-content-type",
            FindingKind::DuplicateDelivery => "duplicate-delivery",
            FindingKind::MalformedEvent => "malformed-event",
            FindingKind::OversizedEvent => "oversized-event",
            FindingKind::NetworkErrors => "network-errors",
            FindingKind::DeliveryLatency => "delivery-latency",
        }
    }
}

type Evidence = Vec<(String, Value)>;

fn ev(pairs: &[(&str, Value)]) -> Evidence {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn secs(d: Duration) -> Value {
    json!((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Every finding the detectors make of `m`, most severe first.
pub fn diagnose(m: &Monitor) -> Vec<Finding> {
    let mut out = Vec::new();
    let stalled = stream_stalled(m);
    let flood = heartbeat_flood(m);
    out.extend(flood.clone());
    if flood.is_none() {
        out.extend(proxy_buffering(m));
    }
    out.extend(stalled.clone());
    if stalled.is_none() {
        out.extend(heartbeat_stale(m));
    }
    out.extend(short_sessions(m));
    out.extend(proxy_idle_timeout(m));
    out.extend(delivery_gap(m));
    out.extend(http_errors(m));
    out.extend(network_errors(m));
    out.extend(bad_content_type(m));
    out.extend(counted(m));
    out.extend(delivery_latency(m));
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
    });
    out
}

/// The densest run of heartbeats: at least `flood_beats` received within `heartbeat_min`.
fn densest_burst(m: &Monitor) -> Option<(usize, usize)> {
    let beats: Vec<_> = m.heartbeats.recent.iter().collect();
    let window = m.thresholds.heartbeat_min;
    let mut best: Option<(usize, usize)> = None;
    let mut lo = 0;
    for hi in 0..beats.len() {
        while beats[hi].t.since(beats[lo].t) > window {
            lo += 1;
        }
        if hi + 1 - lo >= m.thresholds.flood_beats && best.is_none_or(|(a, b)| hi - lo > b - a) {
            best = Some((lo, hi));
        }
    }
    best
}

/// Many heartbeats far faster than expected, and the server really sent them that fast
/// (payload timestamps as tight as the receive times).
fn heartbeat_flood(m: &Monitor) -> Option<Finding> {
    let (lo, hi) = densest_burst(m)?;
    let beats: Vec<_> = m
        .heartbeats
        .recent
        .iter()
        .skip(lo)
        .take(hi - lo + 1)
        .collect();
    let recv_gaps: Vec<f64> = beats
        .windows(2)
        .map(|w| w[1].t.since(w[0].t).as_secs_f64())
        .collect();
    let sent_gaps: Vec<f64> = beats
        .windows(2)
        .filter_map(|w| Some((w[1].sent? - w[0].sent?).num_milliseconds() as f64 / 1000.0))
        .collect();
    let min_interval = m.thresholds.heartbeat_min.as_secs_f64();
    // Payload spacing near the receive spacing: the server sent them this fast.
    if !sent_gaps.is_empty() && median(sent_gaps.clone()) > min_interval / 2.0 {
        return None;
    }
    let span = beats[beats.len() - 1].t.since(beats[0].t);
    let bursts = m
        .connection
        .sessions
        .iter()
        .filter(|s| s.heartbeats as usize >= m.thresholds.flood_beats)
        .count();
    Some(Finding {
        kind: FindingKind::HeartbeatFlood,
        severity: Severity::Error,
        first_seen: Some(beats[0].wall),
        last_seen: m.heartbeats.last().map(|b| b.wall),
        summary: format!(
            "{} heartbeats in {:.1} s where at most 1 per {:.1} s is expected",
            beats.len(),
            span.as_secs_f64(),
            min_interval
        ),
        evidence: ev(&[
            ("heartbeats_in_burst", json!(beats.len())),
            ("burst_window_s", secs(span)),
            (
                "min_spacing_s",
                json!(recv_gaps.iter().copied().fold(f64::INFINITY, f64::min)),
            ),
            ("median_spacing_s", json!(median(recv_gaps))),
            ("median_payload_spacing_s", json!(median(sent_gaps))),
            (
                "expected_interval_s",
                json!([min_interval, m.thresholds.heartbeat_max.as_secs_f64()]),
            ),
            ("sessions_with_a_burst", json!(bursts)),
            ("heartbeats_total", json!(m.heartbeats.total())),
            (
                "first_heartbeat_of_burst",
                json!(beats[0].wall.to_rfc3339()),
            ),
        ]),
    })
}

/// Receive times bunched while payload timestamps are spread: something between server and
/// client holds events and flushes them together.
fn proxy_buffering(m: &Monitor) -> Option<Finding> {
    let beats: Vec<_> = m
        .heartbeats
        .recent
        .iter()
        .filter(|b| b.sent.is_some())
        .collect();
    let min_interval = m.thresholds.heartbeat_min;
    let mut bunched = 0;
    let mut first = None;
    for w in beats.windows(2) {
        let recv = w[1].t.since(w[0].t);
        let sent = (w[1].sent? - w[0].sent?).to_std().unwrap_or_default();
        if sent >= min_interval / 2 && recv * 10 < sent {
            bunched += 1;
            first.get_or_insert(w[0].wall);
        }
    }
    let delays: Vec<f64> = beats
        .iter()
        .map(|b| (b.wall - b.sent.unwrap_or(b.wall)).num_milliseconds() as f64 / 1000.0)
        .collect();
    let spread = delays.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - delays.iter().copied().fold(f64::INFINITY, f64::min);
    if bunched < 2 || spread < min_interval.as_secs_f64() / 2.0 {
        return None;
    }
    Some(Finding {
        kind: FindingKind::ProxyBuffering,
        severity: Severity::Warning,
        first_seen: first,
        last_seen: m.heartbeats.last().map(|b| b.wall),
        summary: format!(
            "events arrive in bursts: {bunched} heartbeats sent ≥{:.1} s apart arrived together (held up to {spread:.1} s)",
            min_interval.as_secs_f64() / 2.0
        ),
        evidence: ev(&[
            ("bunched_heartbeat_pairs", json!(bunched)),
            ("hold_spread_s", json!(spread)),
            (
                "max_delay_s",
                json!(delays.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            ),
            (
                "hint",
                json!(
                    "an intermediary (proxy, CDN, load balancer) buffers the response: disable buffering for text/event-stream (e.g. X-Accel-Buffering: no)"
                ),
            ),
        ]),
    })
}

/// The last byte (event or comment) of session `id`, if the log still holds one.
fn last_activity(m: &Monitor, id: u64) -> Option<Mono> {
    m.log
        .entries
        .iter()
        .rev()
        .take_while(|e| e.session >= id)
        .find(|e| e.session == id && e.kind != EntryKind::Lifecycle)
        .map(|e| e.t)
}

/// Open, and not a single byte for more than twice the longest expected heartbeat interval — now,
/// or in the last session, which our read timeout had to end.
fn stream_stalled(m: &Monitor) -> Option<Finding> {
    let limit = m.thresholds.heartbeat_max * 2;
    let current = match m.connection.state {
        ConnState::Open { session, since } => {
            let last = last_activity(m, session).unwrap_or(since).max(since);
            Some((session, m.now.since(last), m.now.since(since)))
        }
        _ => None,
    };
    // A fresh session after a read timeout has not been silent long yet: the last one tells.
    let timed_out = || {
        let s = m.connection.ended_sessions().last()?;
        let Some(SessionEnd::Closed(CloseReason::Timeout { idle_ms })) = s.end else {
            return None;
        };
        Some((
            s.id,
            Duration::from_millis(idle_ms),
            s.open_for(m.now).unwrap_or_default(),
        ))
    };
    let (session, silent, open_for) = current
        .filter(|(_, silent, _)| *silent > limit)
        .or_else(timed_out)?;
    if silent <= limit {
        return None;
    }
    let timeouts = m
        .connection
        .ended_sessions()
        .filter(|s| matches!(s.end, Some(SessionEnd::Closed(CloseReason::Timeout { .. }))))
        .count();
    Some(Finding {
        kind: FindingKind::StreamStalled,
        severity: Severity::Error,
        first_seen: Some(
            m.now_wall - chrono::Duration::from_std(silent - limit).unwrap_or_default(),
        ),
        last_seen: Some(m.now_wall),
        summary: format!(
            "stream open but silent for {:.1} s: no heartbeat, no keep-alive, no close",
            silent.as_secs_f64()
        ),
        evidence: ev(&[
            ("session", json!(session)),
            ("silent_for_s", secs(silent)),
            ("open_for_s", secs(open_for)),
            ("limit_s", secs(limit)),
            ("sessions_ended_by_read_timeout", json!(timeouts)),
            (
                "hint",
                json!(
                    "the connection is half-open or stuck upstream: inboxtop's read timeout recovers it; a client without one would wait forever"
                ),
            ),
        ]),
    })
}

/// No heartbeat for more than twice the longest expected interval while a stream was open: the
/// current session has been quiet that long, or the last sessions each lived that long without one.
/// (While the stream is down, missing heartbeats say nothing about the server's heartbeat.)
fn heartbeat_stale(m: &Monitor) -> Option<Finding> {
    let limit = m.heartbeats_max_gap();
    let current_quiet = match m.connection.state {
        ConnState::Open { session, since } => {
            let last_beat = m
                .heartbeats
                .last()
                .filter(|b| b.session == session)
                .map_or(since, |b| b.t);
            Some(m.now.since(last_beat.max(since)))
        }
        _ => None,
    };
    let silent_sessions: Vec<_> = ended_ages(m)
        .into_iter()
        .rev()
        .take(3)
        .filter(|(s, age)| s.heartbeats == 0 && *age > limit)
        .collect();
    let quiet = current_quiet.filter(|q| *q > limit);
    if quiet.is_none() && silent_sessions.len() < 2 {
        return None;
    }
    let quiet = quiet.unwrap_or_else(|| {
        silent_sessions
            .iter()
            .map(|(_, a)| *a)
            .max()
            .unwrap_or_default()
    });
    Some(Finding {
        kind: FindingKind::HeartbeatStale,
        severity: Severity::Warning,
        first_seen: Some(
            m.now_wall
                - chrono::Duration::from_std(quiet.saturating_sub(limit)).unwrap_or_default(),
        ),
        last_seen: Some(m.now_wall),
        summary: format!(
            "no heartbeat for {:.1} s while the stream was open (expected one every {:.1}-{:.1} s)",
            quiet.as_secs_f64(),
            m.thresholds.heartbeat_min.as_secs_f64(),
            m.thresholds.heartbeat_max.as_secs_f64()
        ),
        evidence: ev(&[
            ("quiet_for_s", secs(quiet)),
            ("sessions_without_a_heartbeat", json!(silent_sessions.len())),
            ("heartbeats_total", json!(m.heartbeats.total())),
            (
                "last_heartbeat",
                json!(m.heartbeats.last().map(|b| b.wall.to_rfc3339())),
            ),
            ("sessions_opened", json!(m.connection.opened_total)),
        ]),
    })
}

impl Monitor {
    /// The longest silence between heartbeats that is still normal.
    pub fn heartbeats_max_gap(&self) -> Duration {
        self.thresholds.heartbeat_max * 2
    }
}

/// Sessions that opened and ended, not closed by inboxtop itself, with their open ages.
fn ended_ages(m: &Monitor) -> Vec<(&Session, Duration)> {
    m.connection
        .ended_sessions()
        .filter(|s| !matches!(s.end, Some(SessionEnd::Closed(CloseReason::Cancelled))))
        .filter_map(|s| Some((s, s.open_for(m.now)?)))
        .collect()
}

fn reason_counts(sessions: &[(&Session, Duration)]) -> Value {
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for (s, _) in sessions {
        let label = s.end.as_ref().map(|e| e.label()).unwrap_or_default();
        *counts
            .entry(sanitize::line(&label).into_owned())
            .or_default() += 1;
    }
    json!(counts)
}

fn age_stats(ages: &[f64]) -> (f64, f64, f64) {
    let min = ages.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ages.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, median(ages.to_vec()), max)
}

/// Sessions that open and die young, again and again: a reconnect loop.
fn short_sessions(m: &Monitor) -> Option<Finding> {
    let short: Vec<_> = ended_ages(m)
        .into_iter()
        .filter(|(_, age)| *age < m.thresholds.short_session)
        .collect();
    if short.len() < m.thresholds.short_sessions {
        return None;
    }
    let ages: Vec<f64> = short.iter().map(|(_, a)| a.as_secs_f64()).collect();
    let (min, med, max) = age_stats(&ages);
    Some(Finding {
        kind: FindingKind::ShortSessions,
        severity: Severity::Error,
        first_seen: Some(short[0].0.attempted_wall),
        last_seen: short[short.len() - 1].0.ended_wall,
        summary: format!(
            "reconnect loop: {} sessions lived under {:.1} s (median {med:.2} s), {} reconnects",
            short.len(),
            m.thresholds.short_session.as_secs_f64(),
            m.connection.reconnects()
        ),
        evidence: ev(&[
            ("short_sessions", json!(short.len())),
            ("age_min_s", json!(min)),
            ("age_median_s", json!(med)),
            ("age_max_s", json!(max)),
            ("close_reasons", reason_counts(&short)),
            ("reconnects", json!(m.connection.reconnects())),
            ("sessions_total", json!(m.connection.attempts())),
        ]),
    })
}

/// Several sessions ending at the same, not short, age: an intermediary's idle/age timeout.
/// Sessions our own read timeout ended are left out: their constant age is ours.
fn proxy_idle_timeout(m: &Monitor) -> Option<Finding> {
    let long: Vec<_> = ended_ages(m)
        .into_iter()
        .filter(|(_, age)| *age >= m.thresholds.short_session)
        .filter(|(s, _)| !matches!(s.end, Some(SessionEnd::Closed(CloseReason::Timeout { .. }))))
        .collect();
    let recent = &long[long.len().saturating_sub(10)..];
    if recent.len() < 3 {
        return None;
    }
    let ages: Vec<f64> = recent.iter().map(|(_, a)| a.as_secs_f64()).collect();
    let (min, med, max) = age_stats(&ages);
    if max - min > med * m.thresholds.idle_spread {
        return None;
    }
    let hint = "an intermediary cuts connections at a fixed age (Cloudflare's idle timeout is 100 s): send heartbeats more often than that";
    Some(Finding {
        kind: FindingKind::ProxyIdleTimeout,
        severity: Severity::Warning,
        first_seen: Some(recent[0].0.attempted_wall),
        last_seen: recent[recent.len() - 1].0.ended_wall,
        summary: format!(
            "{} sessions ended at the same age ≈{med:.1} s (spread {:.2} s)",
            recent.len(),
            max - min
        ),
        evidence: ev(&[
            ("sessions", json!(recent.len())),
            ("age_median_s", json!(med)),
            ("age_min_s", json!(min)),
            ("age_max_s", json!(max)),
            ("close_reasons", reason_counts(recent)),
            ("hint", json!(hint)),
        ]),
    })
}

/// Whether the stream could have delivered a message polled at `polled` by now: a session was open
/// for the grace period after it, or a session opened after it (and would have replayed it with
/// Last-Event-ID) more than the grace period ago. While the stream is down, waiting is expected.
fn stream_had_a_chance(m: &Monitor, polled: Mono) -> bool {
    let grace = m.thresholds.delivery_grace;
    m.connection.sessions.iter().rev().any(|s| {
        let Some(opened) = s.opened else { return false };
        if opened <= polled {
            s.ended.is_none_or(|end| end.since(polled) >= grace)
        } else {
            m.now.since(opened) > grace
        }
    })
}

/// Messages the inbox shows that the stream has not delivered, past the grace period.
fn delivery_gap(m: &Monitor) -> Option<Finding> {
    // The stream may deliver late (a buffering proxy): a message is lost, not late, once it has
    // waited longer than the latest delivery seen so far, plus the grace.
    let latest_delivery = m
        .inbox
        .newest_first()
        .filter_map(|e| e.stream_lead())
        .filter(|lead| *lead > 0)
        .max()
        .map_or(Duration::ZERO, |ms| Duration::from_millis(ms as u64));
    let grace = m.thresholds.delivery_grace + latest_delivery;
    let late: Vec<_> = m
        .inbox
        .only_polled()
        .filter(|e| e.waiting(m.now).is_some_and(|w| w > grace))
        .filter(|e| e.polled.is_some_and(|p| stream_had_a_chance(m, p.t)))
        .collect();
    if late.is_empty() {
        return None;
    }
    let oldest = late
        .iter()
        .filter_map(|e| e.waiting(m.now))
        .max()
        .unwrap_or_default();
    let ids: Vec<String> = late
        .iter()
        .take(5)
        .map(|e| sanitize::line(&e.key).into_owned())
        .collect();
    let first = late.iter().filter_map(|e| e.polled.map(|p| p.wall)).min();
    Some(Finding {
        kind: FindingKind::DeliveryGap,
        severity: Severity::Error,
        first_seen: first,
        last_seen: Some(m.now_wall),
        summary: format!(
            "{} messages reachable by polling never arrived on the stream (oldest waiting {:.0} s)",
            late.len(),
            oldest.as_secs_f64()
        ),
        evidence: ev(&[
            ("messages_only_polled", json!(late.len())),
            ("oldest_wait_s", secs(oldest)),
            ("grace_s", secs(m.thresholds.delivery_grace)),
            ("latest_stream_delivery_s", secs(latest_delivery)),
            ("example_ids", json!(ids)),
            ("messages_streamed_total", json!(m.inbox.streamed_total)),
            (
                "stream_open_now",
                json!(matches!(m.connection.state, ConnState::Open { .. })),
            ),
        ]),
    })
}

/// A class of HTTP status: its finding, severity, which statuses belong, and what it means.
type HttpClass = (FindingKind, Severity, fn(u16) -> bool, &'static str);

fn http_errors(m: &Monitor) -> Vec<Finding> {
    let classes: [HttpClass; 4] = [
        (
            FindingKind::AuthFailed,
            Severity::Error,
            |s| s == 401 || s == 403,
            "authentication refused: check the API key and the agent id",
        ),
        (
            FindingKind::NotFound,
            Severity::Error,
            |s| s == 404,
            "endpoint not found: check the base URL and paths",
        ),
        (
            FindingKind::RateLimited,
            Severity::Warning,
            |s| s == 429,
            "rate limited",
        ),
        (
            FindingKind::ServerErrors,
            Severity::Warning,
            |s| s >= 500,
            "server errors",
        ),
    ];
    let mut out = Vec::new();
    for (kind, severity, matches, what) in classes {
        let hits: Vec<_> = m.http_errors.iter().filter(|e| matches(e.status)).collect();
        let (Some(first), Some(last)) = (hits.first(), hits.last()) else {
            continue;
        };
        let mut statuses = std::collections::BTreeMap::<String, u64>::new();
        let mut codes = std::collections::BTreeMap::<String, u64>::new();
        for h in &hits {
            *statuses
                .entry(format!("{} {}", h.channel.label(), h.status))
                .or_default() += 1;
            if let Some(code) = h.error.as_ref().and_then(|e| e.code.clone()) {
                *codes.entry(sanitize::line(&code).into_owned()).or_default() += 1;
            }
        }
        let message = last
            .error
            .as_ref()
            .map(|e| sanitize::line(&e.summary()).into_owned())
            .unwrap_or_default();
        let retry_after: Vec<u64> = hits.iter().filter_map(|h| h.retry_after_ms).collect();
        out.push(Finding {
            kind,
            severity,
            first_seen: Some(first.wall),
            last_seen: Some(last.wall),
            summary: format!("{what}: {} responses ({})", hits.len(), message),
            evidence: ev(&[
                ("responses", json!(hits.len())),
                ("by_status", json!(statuses)),
                ("error_codes", json!(codes)),
                ("last_error", json!(message)),
                ("retry_after_ms", json!(retry_after.last())),
            ]),
        });
    }
    out
}

fn network_errors(m: &Monitor) -> Option<Finding> {
    let errors: Vec<_> = m.net_errors.iter().collect();
    let (first, last) = (errors.first()?, errors.last()?);
    let mut classes = std::collections::BTreeMap::<&str, u64>::new();
    for e in &errors {
        *classes.entry(e.class.label()).or_default() += 1;
    }
    Some(Finding {
        kind: FindingKind::NetworkErrors,
        severity: if errors.len() >= 3 {
            Severity::Error
        } else {
            Severity::Warning
        },
        first_seen: Some(first.wall),
        last_seen: Some(last.wall),
        summary: format!(
            "{} requests got no answer: {}",
            m.net_errors.total(),
            sanitize::line(&last.error)
        ),
        evidence: ev(&[
            ("failures", json!(m.net_errors.total())),
            ("by_class", json!(classes)),
            ("last_error", json!(sanitize::line(&last.error))),
        ]),
    })
}

/// 2xx answers that are not an event stream: an HTML page, or a compressed stream.
fn bad_content_type(m: &Monitor) -> Option<Finding> {
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
    Some(Finding {
        kind: FindingKind::BadContentType,
        severity: Severity::Error,
        first_seen: Some(first.attempted_wall),
        last_seen: Some(last.attempted_wall),
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

/// Findings that are a count of bad things: duplicates, malformed and oversized events.
fn counted(m: &Monitor) -> Vec<Finding> {
    let mut out = Vec::new();
    if m.inbox.stream_duplicates > 0 {
        let ids: Vec<String> = m
            .inbox
            .newest_first()
            .filter(|e| e.stream_duplicates > 0)
            .take(5)
            .map(|e| sanitize::line(&e.key).into_owned())
            .collect();
        out.push(Finding {
            kind: FindingKind::DuplicateDelivery,
            severity: Severity::Warning,
            first_seen: None,
            last_seen: Some(m.now_wall),
            summary: format!("{} messages delivered more than once on the stream (a Last-Event-ID replay after a reconnect is the usual cause)", m.inbox.stream_duplicates),
            evidence: ev(&[("duplicates", json!(m.inbox.stream_duplicates)), ("example_ids", json!(ids))]),
        });
    }
    if let (Some(first), Some(last)) = (m.malformed.iter().next(), m.malformed.last()) {
        out.push(Finding {
            kind: FindingKind::MalformedEvent,
            severity: Severity::Warning,
            first_seen: Some(first.wall),
            last_seen: Some(last.wall),
            summary: format!(
                "{} events could not be read: {}",
                m.malformed.total(),
                sanitize::line(&last.reason)
            ),
            evidence: ev(&[
                ("events", json!(m.malformed.total())),
                ("last_reason", json!(sanitize::line(&last.reason))),
                ("event_type", json!(sanitize::line(&last.event))),
            ]),
        });
    }
    if let (Some(first), Some(last)) = (m.oversized.iter().next(), m.oversized.last()) {
        out.push(Finding {
            kind: FindingKind::OversizedEvent,
            severity: Severity::Warning,
            first_seen: Some(first.wall),
            last_seen: Some(last.wall),
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
        });
    }
    out
}

/// Info: how fast the stream delivers, when it does.
fn delivery_latency(m: &Monitor) -> Option<Finding> {
    let lat: Vec<f64> = m
        .inbox
        .newest_first()
        .filter_map(|e| e.delivery_latency())
        .map(|d| d.num_milliseconds() as f64)
        .collect();
    let leads: Vec<f64> = m
        .inbox
        .newest_first()
        .filter_map(|e| e.stream_lead())
        .map(|l| l as f64)
        .collect();
    if lat.len() < 3 {
        return None;
    }
    let max = lat.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let med = median(lat.clone());
    Some(Finding {
        kind: FindingKind::DeliveryLatency,
        severity: Severity::Info,
        first_seen: None,
        last_seen: Some(m.now_wall),
        summary: format!(
            "stream delivery latency median {med:.0} ms, max {max:.0} ms over {} messages",
            lat.len()
        ),
        evidence: ev(&[
            ("messages", json!(lat.len())),
            ("median_ms", json!(med)),
            ("max_ms", json!(max)),
            (
                "median_stream_lead_over_poll_ms",
                json!(if leads.is_empty() {
                    Value::Null
                } else {
                    json!(-median(leads))
                }),
            ),
        ]),
    })
}

#[cfg(test)]
mod tests {
    //! Detector edges on synthetic timelines: just below and just above each threshold.
    use super::*;
    use crate::observation::{Kind, Observation};
    use crate::wire::{ApiError, WireMessage};
    use chrono::{DateTime, Utc};

    struct Timeline {
        m: Monitor,
    }

    fn wall(ms: u64) -> DateTime<Utc> {
        "2026-11-25T03:00:00Z".parse::<DateTime<Utc>>().unwrap()
            + chrono::Duration::milliseconds(ms as i64)
    }

    impl Timeline {
        fn new() -> Self {
            Timeline {
                m: Monitor::new(Thresholds::default()),
            }
        }
        fn with(t: Thresholds) -> Self {
            Timeline { m: Monitor::new(t) }
        }
        fn at(&mut self, ms: u64, kind: Kind) -> &mut Self {
            self.m
                .apply(&Observation::new(Mono::from_millis(ms), wall(ms), kind));
            self
        }
        fn open(&mut self, ms: u64, session: u64) -> &mut Self {
            self.at(
                ms,
                Kind::ConnectAttempt {
                    session,
                    last_event_id: None,
                },
            );
            self.response(ms, session, 200, "text/event-stream", None)
        }
        fn response(
            &mut self,
            ms: u64,
            session: u64,
            status: u16,
            ct: &str,
            enc: Option<&str>,
        ) -> &mut Self {
            self.at(
                ms,
                Kind::StreamResponse {
                    session,
                    status,
                    content_type: Some(ct.into()),
                    content_encoding: enc.map(Into::into),
                    ttfb_ms: 1,
                    retry_after_ms: None,
                    headers: vec![],
                    error: (status >= 400).then(|| ApiError {
                        code: Some(format!("E_{status}")),
                        ..ApiError::default()
                    }),
                },
            )
        }
        fn event(
            &mut self,
            ms: u64,
            session: u64,
            event: &str,
            id: Option<&str>,
            data: String,
        ) -> &mut Self {
            self.at(
                ms,
                Kind::SseEvent {
                    session,
                    event: event.into(),
                    id: id.map(Into::into),
                    data,
                    retry_ms: None,
                },
            )
        }
        fn beat(&mut self, ms: u64, session: u64, sent_ms: u64) -> &mut Self {
            self.event(
                ms,
                session,
                "heartbeat",
                None,
                format!("{{\"timestamp\":\"{}\"}}", wall(sent_ms).to_rfc3339()),
            )
        }
        fn message(&mut self, ms: u64, session: u64, id: &str) -> &mut Self {
            let data = format!(
                "{{\"messageId\":\"{id}\",\"content\":\"hi\",\"createdAt\":\"{}\"}}",
                wall(ms).to_rfc3339()
            );
            self.event(ms, session, "message", Some(id), data)
        }
        fn poll(&mut self, ms: u64, ids: &[(&str, u64)]) -> &mut Self {
            let messages = ids
                .iter()
                .map(|(id, created)| WireMessage {
                    id: Some((*id).into()),
                    content: "hi".into(),
                    created_at: Some(wall(*created)),
                    ..WireMessage::default()
                })
                .collect();
            self.at(
                ms,
                Kind::PollOk {
                    elapsed_ms: 1,
                    messages,
                    unreadable: 0,
                },
            )
        }
        fn close(&mut self, ms: u64, session: u64, reason: CloseReason) -> &mut Self {
            self.at(ms, Kind::StreamClosed { session, reason })
        }
        fn tick(&mut self, ms: u64) -> &mut Self {
            self.at(ms, Kind::Tick)
        }
        fn kinds(&self) -> Vec<FindingKind> {
            diagnose(&self.m)
                .into_iter()
                .filter(|f| f.severity >= Severity::Warning)
                .map(|f| f.kind)
                .collect()
        }
        fn has(&self, kind: FindingKind) -> bool {
            diagnose(&self.m).iter().any(|f| f.kind == kind)
        }
    }

    /// `n` heartbeats 1 s apart, with payload timestamps spaced `sent_gap_ms`.
    fn beats(n: u64, sent_gap_ms: u64) -> Timeline {
        let mut t = Timeline::new();
        t.open(0, 1);
        for i in 0..n {
            t.beat(1000 + i * 1000, 1, 1000 + i * sent_gap_ms);
        }
        t
    }

    #[test]
    fn flood_needs_five_fast_heartbeats_the_server_really_sent() {
        assert!(!beats(4, 1000).has(FindingKind::HeartbeatFlood));
        let five = beats(5, 1000);
        assert!(five.has(FindingKind::HeartbeatFlood));
        assert!(!five.has(FindingKind::ProxyBuffering));
        // Same receive times, payload timestamps 15 s apart: a buffer, not a flood.
        let held = beats(5, 15_000);
        assert!(!held.has(FindingKind::HeartbeatFlood));
        assert!(held.has(FindingKind::ProxyBuffering));
        let f = diagnose(&five.m)
            .into_iter()
            .find(|f| f.kind == FindingKind::HeartbeatFlood)
            .unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert!(
            f.evidence
                .iter()
                .any(|(k, v)| k == "heartbeats_in_burst" && v == 5)
        );
    }

    #[test]
    fn stalled_when_silent_stale_when_only_keepalives() {
        let mut silent = Timeline::new();
        silent.open(0, 1).tick(59_000);
        assert!(
            silent.kinds().is_empty(),
            "59 s of silence is within 2 × 30 s"
        );
        silent.tick(61_000);
        assert_eq!(silent.kinds(), vec![FindingKind::StreamStalled]);

        let mut keepalive = Timeline::new();
        keepalive.open(0, 1);
        for s in (15..=60).step_by(15) {
            keepalive.at(
                s * 1000,
                Kind::SseComment {
                    session: 1,
                    text: "keep-alive".into(),
                },
            );
        }
        keepalive.tick(61_000);
        assert_eq!(keepalive.kinds(), vec![FindingKind::HeartbeatStale]);
    }

    fn sessions(ages_ms: &[u64], reason: CloseReason) -> Timeline {
        let mut t = Timeline::new();
        let mut now = 0;
        for (i, age) in ages_ms.iter().enumerate() {
            let id = i as u64 + 1;
            t.open(now, id);
            t.beat(now + 1, id, now + 1);
            now += age;
            t.close(now, id, reason.clone());
            now += 500;
        }
        t
    }

    #[test]
    fn a_reconnect_loop_needs_three_short_sessions() {
        assert!(!sessions(&[1000, 1000], CloseReason::Eof).has(FindingKind::ShortSessions));
        assert!(sessions(&[1000, 1000, 1000], CloseReason::Eof).has(FindingKind::ShortSessions));
        assert!(
            !sessions(&[11_000, 11_000, 11_000], CloseReason::Eof).has(FindingKind::ShortSessions)
        );
    }

    #[test]
    fn idle_timeout_is_sessions_ending_at_one_age() {
        let reset = CloseReason::Reset {
            detail: "cut".into(),
        };
        assert!(
            sessions(&[100_000, 100_500, 101_000], reset.clone())
                .has(FindingKind::ProxyIdleTimeout)
        );
        assert!(
            !sessions(&[100_000, 110_000, 120_000], reset.clone())
                .has(FindingKind::ProxyIdleTimeout)
        );
        assert!(!sessions(&[100_000, 100_000], reset).has(FindingKind::ProxyIdleTimeout));
        // Our own read timeout ends sessions at a constant age too; that is not a proxy.
        let ours = CloseReason::Timeout { idle_ms: 90_000 };
        assert!(!sessions(&[100_000, 100_000, 100_000], ours).has(FindingKind::ProxyIdleTimeout));
    }

    #[test]
    fn delivery_gap_after_the_grace_and_only_when_the_stream_had_a_chance() {
        let mut t = Timeline::new();
        t.poll(0, &[("old", 0)])
            .open(100, 1)
            .beat(200, 1, 200)
            .poll(1000, &[("old", 0), ("new", 900)]);
        t.tick(10_900);
        assert!(
            !t.has(FindingKind::DeliveryGap),
            "9.9 s is within the grace"
        );
        t.tick(11_100);
        assert!(t.has(FindingKind::DeliveryGap), "10.1 s is past it");
        assert!(
            !t.m.inbox.get("old").unwrap().only_polled(),
            "the first poll's messages are preexisting"
        );
        t.message(11_200, 1, "new");
        assert!(
            !t.has(FindingKind::DeliveryGap),
            "streamed late is no longer a gap"
        );

        let mut down = Timeline::new();
        down.poll(0, &[])
            .open(100, 1)
            .close(200, 1, CloseReason::Eof)
            .poll(1000, &[("m", 900)])
            .tick(30_000);
        assert!(
            !down.has(FindingKind::DeliveryGap),
            "the stream was down: it had no chance"
        );
    }

    #[test]
    fn http_classes_content_types_and_counted_faults() {
        for (status, kind) in [
            (401, FindingKind::AuthFailed),
            (403, FindingKind::AuthFailed),
            (404, FindingKind::NotFound),
            (429, FindingKind::RateLimited),
            (503, FindingKind::ServerErrors),
        ] {
            let mut t = Timeline::new();
            t.at(
                0,
                Kind::ConnectAttempt {
                    session: 1,
                    last_event_id: None,
                },
            );
            t.response(1, 1, status, "application/json", None);
            assert_eq!(t.kinds(), vec![kind], "status {status}");
            let f = diagnose(&t.m).into_iter().next().unwrap();
            assert!(
                f.evidence
                    .iter()
                    .any(|(_, v)| v.to_string().contains(&format!("E_{status}"))),
                "{f:?}"
            );
        }
        let mut html = Timeline::new();
        html.at(
            0,
            Kind::ConnectAttempt {
                session: 1,
                last_event_id: None,
            },
        );
        html.response(1, 1, 200, "text/html", None);
        assert_eq!(html.kinds(), vec![FindingKind::BadContentType]);
        let mut gzip = Timeline::new();
        gzip.at(
            0,
            Kind::ConnectAttempt {
                session: 1,
                last_event_id: None,
            },
        );
        gzip.response(1, 1, 200, "text/event-stream", Some("gzip"));
        assert!(gzip.has(FindingKind::BadContentType));

        let mut t = Timeline::new();
        t.open(0, 1).message(10, 1, "a").message(20, 1, "a");
        t.event(30, 1, "message", None, "not json".into());
        t.at(
            40,
            Kind::OversizedEvent {
                session: 1,
                bytes: 5_000_000,
                limit: 1_048_576,
            },
        );
        let kinds = t.kinds();
        for kind in [
            FindingKind::DuplicateDelivery,
            FindingKind::MalformedEvent,
            FindingKind::OversizedEvent,
        ] {
            assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
        }
    }

    #[test]
    fn thirty_healthy_minutes_raise_no_warning() {
        let mut t = Timeline::new();
        t.poll(0, &[]).open(10, 1);
        let mut polled: Vec<(String, u64)> = Vec::new();
        for s in 1..=1800u64 {
            let ms = s * 1000;
            if s % 15 == 0 {
                t.beat(ms, 1, ms);
            }
            if s % 4 == 0 {
                let id = format!("m{s}");
                t.message(ms, 1, &id);
                polled.push((id, ms));
            }
            if s % 5 == 0 {
                let ids: Vec<(&str, u64)> = polled
                    .iter()
                    .rev()
                    .take(50)
                    .map(|(i, c)| (i.as_str(), *c))
                    .collect();
                t.poll(ms + 20, &ids);
            }
            t.tick(ms + 500);
        }
        assert!(t.kinds().is_empty(), "false alarm: {:?}", diagnose(&t.m));
        assert!(t.has(FindingKind::DeliveryLatency));
    }

    #[test]
    fn scaled_thresholds_judge_a_compressed_timeline_the_same() {
        let outage = |scale: u64, thresholds: Thresholds| {
            let mut t = Timeline::with(thresholds);
            t.poll(0, &[]);
            let mut now = 10;
            for session in 1..=4 {
                t.open(now, session);
                if session == 1 {
                    // A message lands while the loop goes on; the stream never carries it.
                    t.poll(now + 1, &[("lost", now)]);
                }
                for i in 0..25 {
                    let at = now + i * 60 / scale;
                    t.beat(at, session, at);
                }
                now += 1500 / scale;
                t.close(now, session, CloseReason::Eof);
                now += 2000 / scale;
            }
            t.tick(now + 20_000 / scale);
            let mut k = t.kinds();
            k.sort_by_key(|k| k.name());
            k
        };
        let real = outage(1, Thresholds::default());
        assert_eq!(
            real,
            vec![
                FindingKind::DeliveryGap,
                FindingKind::HeartbeatFlood,
                FindingKind::ShortSessions
            ]
        );
        assert_eq!(outage(10, Thresholds::default().scaled(10.0)), real);
    }
}
