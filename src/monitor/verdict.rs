//! The verdict: OK only on positive evidence.
//!
//! "No finding" is not health. A window earns `ok` only when it *showed* each thing a working inbox
//! does: a stream session opened (2xx + `text/event-stream`) and stayed up a full heartbeat band,
//! heartbeats arrived, a peek answered, and messages reached the stream (or a probe round-tripped).
//! Findings are the negative evidence: an error-severity finding makes the verdict `critical`, a
//! warning `warning`, whatever else was shown. What the window could not show makes it `unknown`,
//! naming the missing evidence and how much longer to watch.
//!
//! The words are the same everywhere (TUI header, text, JSON, markdown, plugin line, metrics), and
//! the exit codes are those of the Monitoring Plugins convention, so `check` drops into Nagios,
//! Icinga, Sensu, Checkmk or Consul unchanged.

use serde::Serialize;
use std::time::Duration;

use super::{Finding, Monitor, Severity};

/// The one word for the state of what is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warning,
    Critical,
    /// Not enough evidence in the window, or the check could not run.
    Unknown,
}

impl Verdict {
    /// `ok`, `warning`, `critical`, `unknown` (JSON, metrics labels, the TUI).
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Critical => "critical",
            Verdict::Unknown => "unknown",
        }
    }

    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN` (the plugin line and text reports).
    pub fn upper(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Warning => "WARNING",
            Verdict::Critical => "CRITICAL",
            Verdict::Unknown => "UNKNOWN",
        }
    }

    /// The Monitoring Plugins exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warning => 1,
            Verdict::Critical => 2,
            Verdict::Unknown => 3,
        }
    }

    /// How bad, for "the worst of several" (a fleet): critical > warning > unknown > ok, as
    /// Nagios orders service states.
    pub fn badness(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Unknown => 1,
            Verdict::Warning => 2,
            Verdict::Critical => 3,
        }
    }

    /// The worse of two verdicts.
    pub fn worst(self, other: Verdict) -> Verdict {
        if other.badness() > self.badness() {
            other
        } else {
            self
        }
    }

    /// The numeric value exported as a metric (the exit code: 0 is healthy, the rest alerts).
    pub fn metric(self) -> u8 {
        self.exit_code()
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// One piece of positive evidence a healthy verdict needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// A stream session was accepted: 2xx and `text/event-stream`.
    StreamOpened,
    /// A session stayed open at least the longest expected heartbeat interval.
    StreamStayedUp,
    /// Heartbeats arrived on the stream.
    Heartbeats,
    /// A peek answered with an inbox.
    PeekAnswered,
    /// Messages reached the stream (or a probe round-tripped).
    Delivery,
}

impl Evidence {
    pub fn name(self) -> &'static str {
        match self {
            Evidence::StreamOpened => "stream-opened",
            Evidence::StreamStayedUp => "stream-stayed-up",
            Evidence::Heartbeats => "heartbeats",
            Evidence::PeekAnswered => "peek-answered",
            Evidence::Delivery => "delivery",
        }
    }
}

/// Whether the window showed one piece of evidence, and what it saw or still waits for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub evidence: Evidence,
    pub shown: bool,
    /// What was seen ("3 sessions opened"), or what is missing ("waiting for a first heartbeat").
    pub detail: String,
    /// When not shown: at least this much more watching could show it (in the watched system's
    /// seconds), where that can be told.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_secs")]
    pub watch_for: Option<Duration>,
}

/// The verdict with its reasons: the checks of positive evidence and the findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    /// One line a person reads first: the worst findings, or what is still missing.
    pub headline: String,
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
}

impl Judgement {
    /// The checks that were not shown.
    pub fn missing(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.shown)
    }

    /// Findings that count against the verdict (warning or worse).
    pub fn alarms(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
    }
}

/// Judges `m` with its own findings.
pub fn judge(m: &Monitor) -> Judgement {
    judge_with(m, m.findings())
}

/// Judges `m` with `findings` already made of it (so a caller that shows both diagnoses once).
pub fn judge_with(m: &Monitor, findings: Vec<Finding>) -> Judgement {
    let checks = checks(m);
    let worst = findings.iter().map(|f| f.severity).max();
    let verdict = match worst {
        Some(Severity::Error) => Verdict::Critical,
        Some(Severity::Warning) => Verdict::Warning,
        _ if checks.iter().all(|c| c.shown) => Verdict::Ok,
        _ => Verdict::Unknown,
    };
    let headline = headline(verdict, &checks, &findings);
    Judgement {
        verdict,
        headline,
        checks,
        findings,
    }
}

fn headline(verdict: Verdict, checks: &[Check], findings: &[Finding]) -> String {
    match verdict {
        Verdict::Ok if checks.len() == 1 => {
            "peek answering (the stream is not watched: --no-stream)".into()
        }
        Verdict::Ok => "stream up, heartbeats in band, peek answering, messages delivered".into(),
        Verdict::Unknown => {
            let missing: Vec<&str> = checks
                .iter()
                .filter(|c| !c.shown)
                .map(|c| c.detail.as_str())
                .collect();
            format!("unknown yet: {}", missing.join("; "))
        }
        Verdict::Warning | Verdict::Critical => {
            let kinds: Vec<&str> = findings
                .iter()
                .filter(|f| f.severity >= Severity::Warning)
                .map(|f| f.kind.name())
                .collect();
            kinds.join(", ")
        }
    }
}

fn checks(m: &Monitor) -> Vec<Check> {
    if !m.thresholds.expect_stream {
        // Peek alone (`--no-stream`): the stream is not ours to open, so only peek is judged.
        return vec![peek_answered(m)];
    }
    vec![
        stream_opened(m),
        stream_stayed_up(m),
        heartbeats(m),
        peek_answered(m),
        delivery(m),
    ]
}

fn shown(evidence: Evidence, detail: String) -> Check {
    Check {
        evidence,
        shown: true,
        detail,
        watch_for: None,
    }
}

fn missing(evidence: Evidence, detail: String, watch_for: Option<Duration>) -> Check {
    Check {
        evidence,
        shown: false,
        detail,
        watch_for,
    }
}

fn stream_opened(m: &Monitor) -> Check {
    match m.connection.opened_total {
        0 if m.connection.attempts() == 0 => missing(
            Evidence::StreamOpened,
            "no stream session attempted yet".into(),
            None,
        ),
        0 => missing(
            Evidence::StreamOpened,
            format!(
                "no stream session opened in {} attempts",
                m.connection.attempts()
            ),
            None,
        ),
        n => shown(
            Evidence::StreamOpened,
            format!("{n} stream session{} opened", plural(n)),
        ),
    }
}

/// The longest any remembered session has been open (the current one up to now).
fn longest_open(m: &Monitor) -> Option<Duration> {
    let remembered = m
        .connection
        .sessions
        .iter()
        .filter_map(|s| s.open_for(m.now))
        .max();
    remembered.max(m.connection.previous_open_for)
}

fn stream_stayed_up(m: &Monitor) -> Check {
    let band = m.thresholds.heartbeat_max;
    let show = |d| fmt_duration(m.thresholds.shown(d));
    match longest_open(m) {
        Some(open) if open >= band => shown(
            Evidence::StreamStayedUp,
            format!(
                "a session stayed open {} (a full band is {})",
                show(open),
                show(band)
            ),
        ),
        Some(open) => missing(
            Evidence::StreamStayedUp,
            format!(
                "the stream has stayed open at most {}, less than the {} band",
                show(open),
                show(band)
            ),
            Some(m.thresholds.shown(band.checked_sub(open).unwrap())),
        ),
        None => missing(
            Evidence::StreamStayedUp,
            format!(
                "no session has been open yet (a full band is {})",
                show(band)
            ),
            Some(m.thresholds.shown(band)),
        ),
    }
}

fn heartbeats(m: &Monitor) -> Check {
    let t = &m.thresholds;
    match m.heartbeats.total() {
        0 => {
            let open = m
                .connection
                .current()
                .and_then(|s| s.ended.is_none().then(|| s.open_for(m.now)).flatten());
            let watch_for = t.heartbeat_max.saturating_sub(open.unwrap_or_default());
            missing(
                Evidence::Heartbeats,
                format!(
                    "waiting for a first heartbeat, {}–{}",
                    fmt_duration(t.shown(t.heartbeat_min)),
                    fmt_duration(t.shown(t.heartbeat_max))
                ),
                Some(t.shown(watch_for)),
            )
        }
        n => shown(Evidence::Heartbeats, format!("{n} heartbeat{}", plural(n))),
    }
}

fn peek_answered(m: &Monitor) -> Check {
    match m.inbox.polls {
        0 if m.poll_failures.total() > 0 => missing(
            Evidence::PeekAnswered,
            format!("no peek answered ({} failed)", m.poll_failures.total()),
            None,
        ),
        0 => missing(
            Evidence::PeekAnswered,
            "waiting for the first peek".into(),
            None,
        ),
        n => shown(
            Evidence::PeekAnswered,
            format!("{n} peek{} answered", plural(n)),
        ),
    }
}

fn delivery(m: &Monitor) -> Check {
    let probes = m.probes.round_tripped() as u64;
    if probes > 0 && m.inbox.streamed_total == probes {
        return shown(
            Evidence::Delivery,
            format!(
                "{probes} probe{} round-tripped on the stream",
                plural(probes)
            ),
        );
    }
    match m.inbox.streamed_total {
        0 => missing(
            Evidence::Delivery,
            "no message reached the stream yet, so delivery is not shown (a quiet inbox: send a \
             probe with `s` or `check --probe 1`)"
                .into(),
            None,
        ),
        n => shown(
            Evidence::Delivery,
            format!("{n} message{} reached the stream", plural(n)),
        ),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `250 ms`, `1.5 s`, `30 s`, `2m05s`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", d.as_millis())
    } else if s >= 60.0 {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else if s >= 10.0 || s.fract() < 0.05 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

mod opt_secs {
    use serde::Serializer;
    use std::time::Duration;

    #[allow(clippy::ref_option)] // serde's `with` hands the field by reference
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Thresholds;
    use crate::observation::{CloseReason, Route};
    use crate::testkit::{Timeline, healthy_minute};

    #[test]
    fn a_healthy_minute_is_ok_with_every_check_shown() {
        let j = judge(&healthy_minute().m);
        assert_eq!(j.verdict, Verdict::Ok, "{j:#?}");
        assert!(j.checks.iter().all(|c| c.shown));
        assert_eq!(j.verdict.exit_code(), 0);
    }

    #[test]
    fn nothing_observed_is_unknown_not_ok() {
        let t = Timeline::new();
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Unknown);
        assert_eq!(j.verdict.exit_code(), 3);
        assert_eq!(j.missing().count(), 5);
    }

    #[test]
    fn a_silent_open_stream_is_unknown_waiting_for_a_first_heartbeat() {
        let mut t = Timeline::new();
        t.open(0, 1).poll(1_000, &[]).tick(10_000);
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Unknown, "{j:#?}");
        assert!(
            j.headline
                .contains("waiting for a first heartbeat, 15 s–30 s"),
            "{}",
            j.headline
        );
        let beat = j
            .checks
            .iter()
            .find(|c| c.evidence == Evidence::Heartbeats)
            .unwrap();
        assert_eq!(beat.watch_for, Some(Duration::from_secs(20)));
    }

    #[test]
    fn every_request_answered_400_is_critical_stream_rejected() {
        let mut t = Timeline::new();
        for s in 1..=7 {
            t.http(s * 1000, s, 400, "E_VALIDATION").close(
                s * 1000,
                s,
                CloseReason::Rejected {
                    detail: "400".into(),
                },
            );
            t.poll_failed(s * 1000 + 500, Some(400), None, "E_VALIDATION");
        }
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Critical, "{j:#?}");
        assert_eq!(j.headline, "stream-rejected, poll-failed");
        assert!(j.findings.iter().all(|f| f.severity == Severity::Error));
        let opened = &j.checks[0];
        assert!(
            !opened.shown && opened.detail.contains("7 attempts"),
            "{opened:?}"
        );
    }

    #[test]
    fn an_open_stream_silent_for_a_full_band_is_not_ok() {
        let mut t = Timeline::new();
        t.open(0, 1).poll(1_000, &[]).tick(30_000);
        assert_eq!(
            judge(&t.m).verdict,
            Verdict::Unknown,
            "a band is not yet over"
        );
        t.tick(30_001);
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Critical, "{j:#?}");
        assert_eq!(j.headline, "no-heartbeat");
        t.tick(61_000);
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Critical, "{j:#?}");
        assert_eq!(j.headline, "stream-stalled");
    }

    #[test]
    fn a_204_is_critical_server_said_stop() {
        let mut t = Timeline::new();
        t.poll(0, &[]).stop(10, 1).tick(120_000);
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Critical, "{j:#?}");
        assert_eq!(j.headline, "server-said-stop");
    }

    #[test]
    fn a_redirected_healthy_minute_is_a_warning() {
        let mut t = healthy_minute();
        t.redirect(
            0,
            Route::Stream,
            Some(1),
            307,
            "http://a/s",
            "http://a/v2/s",
            false,
        );
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Warning, "{j:#?}");
        assert_eq!(j.headline, "redirected");
    }

    #[test]
    fn a_short_window_cannot_show_the_stream_stayed_up() {
        let mut t = Timeline::new();
        t.open(0, 1).heartbeat(5_000, 1, 5_000);
        t.message(6_000, 1, "m-1", 5_990)
            .poll(7_000, &[("m-1", 5_990)]);
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Unknown, "{j:#?}");
        let up = j.missing().next().unwrap();
        assert_eq!(up.evidence, Evidence::StreamStayedUp);
        assert_eq!(up.watch_for, Some(Duration::from_secs(23)));
    }

    #[test]
    fn findings_decide_warning_and_critical_over_missing_evidence() {
        let mut t = Timeline::new();
        t.open(0, 1);
        for i in 0..25 {
            t.heartbeat(1_000 + i * 60, 1, 1_000 + i * 60);
        }
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Critical, "{j:#?}");
        assert!(j.headline.contains("heartbeat-flood"), "{}", j.headline);
        assert_eq!(j.verdict.exit_code(), 2);
    }

    #[test]
    fn a_scaled_simulator_speaks_in_its_own_seconds() {
        let mut t = Timeline::with(Thresholds::default().scaled(20.0), 20);
        t.open(0, 1).tick(10_000);
        let j = judge(&t.m);
        assert!(
            j.headline.contains("15 s–30 s"),
            "simulated seconds, not 0.75–1.5: {}",
            j.headline
        );
    }

    #[test]
    fn the_worst_of_a_fleet_follows_nagios_order() {
        use Verdict::*;
        assert_eq!(Ok.worst(Unknown), Unknown);
        assert_eq!(Unknown.worst(Warning), Warning);
        assert_eq!(Critical.worst(Warning), Critical);
        assert_eq!(Ok.worst(Ok), Ok);
    }

    #[test]
    fn peek_alone_judges_only_what_peek_can_show() {
        let mut t = Timeline::with(
            Thresholds {
                expect_stream: false,
                ..Thresholds::default()
            },
            1,
        );
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Unknown);
        assert_eq!(j.checks.len(), 1);
        t.poll(1_000, &[("m-1", 500)]).tick(60_000);
        let j = judge(&t.m);
        assert_eq!(j.verdict, Verdict::Ok, "{j:#?}");
        assert!(j.headline.contains("--no-stream"), "{}", j.headline);
    }
}
