//! Golden `check --format json` reports, through the binary: the recording in `assets/` whole,
//! and every simulator scenario with what varies from run to run redacted. A change to the
//! report's layout (a key, a finding's kind, severity or wording, the shape of its evidence)
//! fails here. Accept a deliberate one with `INSTA_UPDATE=always` and review the `.snap` diff.

use std::process::Output;
use std::sync::LazyLock;

use inboxtop::sim::Scenario;
use insta::internals::Content;
use insta::{Settings, assert_json_snapshot};
use regex::Regex;
use serde_json::Value;

mod common;
use common::inboxtop;

/// The report on stdout, once its exit code is checked against the one it states.
fn report_of(out: &Output) -> Value {
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        out.status.code().map(i64::from),
        report["exit_code"].as_i64(),
        "the exit code is the report's"
    );
    report
}

/// The recording holds its own times, so its report is the same on every run and machine:
/// nothing is redacted. It is read by a relative path, so the path in `source` and `reproduce`
/// is the same everywhere too.
#[test]
fn the_recorded_outage_report_is_golden() {
    let out = inboxtop()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "--from", "assets/heartbeat-flood.ndjson"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_json_snapshot!("recording-heartbeat-flood", report_of(&out));
}

/// A scenario played for as long as `tests/cli.rs` plays it, at 50× unless its timing needs
/// less, and what of its report is left to chance.
struct Play {
    scenario: &'static str,
    scale: &'static str,
    duration: &'static str,
    /// Finding kinds that some runs raise and others do not: left out of the golden, with the
    /// verdict and exit code they may raise.
    chance_kinds: &'static [&'static str],
    /// Values the simulator draws at random, redacted whole.
    random: &'static [&'static str],
}

const fn play(scenario: &'static str, duration: &'static str) -> Play {
    Play {
        scenario,
        scale: "50",
        duration,
        chance_kinds: &[],
        random: &[],
    }
}

const PLAYS: &[Play] = &[
    play("healthy", "900s"),
    // At 50× its bursts space heartbeats about a millisecond apart (1.5 s / 25), the timer's
    // granularity: a loaded machine stretches a session then, now and then past the 30 s band.
    // At 10× the sessions last about the 1.5 s they are meant to.
    Play {
        scale: "10",
        ..play("heartbeat-flood", "150s")
    },
    play("silent-drop", "400s"),
    // The proxy cuts every connection at 100 s: a message in flight at the cut is counted
    // delivered and not replayed, a real delivery gap that only some runs see. At 50× the
    // cuts' 5 % spread is 100 ms, which a loaded machine exceeds; at 20× it is 250 ms.
    Play {
        scale: "20",
        chance_kinds: &["delivery-gap"],
        ..play("idle-timeout", "500s")
    },
    play("proxy-buffering", "400s"),
    play("stall", "400s"),
    play("auth-failure", "200s"),
    // Random resets lose a message in flight now and then (as idle-timeout's cut does). Drawn
    // at random too: which request fails with which status, so whether the last failure said
    // when to retry, and each session's age (20-40 s), so how many opened (the first check says
    // one in the singular) and whether one outlived the 30 s band (the second).
    Play {
        chance_kinds: &["delivery-gap"],
        random: &[
            ".checks[0:2]",
            ".findings[].evidence.by_status",
            ".findings[].evidence.retry_after_ms",
        ],
        ..play("flaky", "500s")
    },
    play("takeover", "400s"),
    play("double-framed", "400s"),
    play("moved", "400s"),
    play("gone", "400s"),
    play("rejected", "400s"),
];

/// The values that depend on timing, the port or random ids; each keeps its shape (see
/// [`redacted`]). Everything else is golden: the keys, the verdict, the checks' evidence and
/// `shown`, the findings' kinds, severities and wording, the evidence's keys.
const VOLATILE: &[&str] = &[
    ".observed_from",
    ".observed_to",
    ".duration_s",
    ".stats",
    ".target.base_url",
    ".checks[].detail",
    ".checks[].watch_for",
    ".findings[].summary",
    ".findings[].evidence",
    ".findings[].first_seen",
    ".findings[].last_seen",
    ".findings[].raised_at",
];

/// `value` with its shape kept and its values replaced: a number by `[int]` or `[float]`, a
/// boolean by `[bool]`, a string by [`text`] of it; null, map keys and array lengths stay.
fn redacted(value: Content) -> Content {
    match value {
        Content::String(s) => Content::from(text(&s)),
        Content::Bool(_) => Content::from("[bool]"),
        Content::F32(_) | Content::F64(_) => Content::from("[float]"),
        Content::Seq(items) => Content::Seq(items.into_iter().map(redacted).collect()),
        Content::Map(fields) => {
            Content::Map(fields.into_iter().map(|(k, v)| (k, redacted(v))).collect())
        }
        n if n.as_i64().is_some() || n.as_u64().is_some() => Content::from("[int]"),
        other => other,
    }
}

/// `s` with its times, the simulator's address (its port is a free one), quoted frames, ids and
/// then numbers replaced: the others hold digits the last rule would change.
fn text(s: &str) -> String {
    static RULES: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
        [
            (r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)", "[time]"),
            (r"127\.0\.0\.1:\d+", "[sim]"),
            // SSE framing quoted from an event's data: whichever event came last, a heartbeat
            // or a message the simulator words at random, cut at a fixed length (the excerpt
            // ends at its closing `")` or at the end of the string).
            (
                r#"(id: [^\\]*\\n)?event: [a-z-]+\\ndata: .*?("\)|$)"#,
                "[frame]$2",
            ),
            (r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "[id]"),
            // `4.8 s` and `12 s` alike: the format follows the magnitude.
            (r"\d+(\.\d+)?", "#"),
        ]
        .into_iter()
        .map(|(pattern, with)| (Regex::new(pattern).unwrap(), with))
        .collect()
    });
    RULES.iter().fold(s.to_owned(), |s, (rule, with)| {
        rule.replace_all(&s, *with).into_owned()
    })
}

/// The report in an order that does not depend on timing, and without the kinds left to chance:
/// findings by kind, and a headline of kinds sorted too (the report lists them as they were
/// raised; a headline that names no kinds is a sentence, left as it is).
fn normalised(mut report: Value, chance_kinds: &[&str]) -> Value {
    let kind = |f: &Value| f["kind"].as_str().unwrap_or_default().to_owned();
    let findings = report["findings"].as_array_mut().expect("findings");
    findings.retain(|f| !chance_kinds.contains(&kind(f).as_str()));
    findings.sort_by_key(kind);
    let kinds: Vec<String> = findings.iter().map(kind).collect();
    let headline = report["headline"].as_str().expect("a headline");
    let mut parts: Vec<&str> = headline
        .split(", ")
        .filter(|part| !chance_kinds.contains(part))
        .collect();
    if parts.iter().all(|part| kinds.iter().any(|k| k == part)) {
        parts.sort_unstable();
    }
    report["headline"] = parts.join(", ").into();
    report
}

/// The golden of one played scenario.
fn assert_golden(play: &Play, report: Value) {
    let mut settings = Settings::clone_current();
    for selector in VOLATILE {
        settings.add_dynamic_redaction(selector, |value, _| redacted(value));
    }
    for selector in play.random {
        settings.add_redaction(selector, "[random]");
    }
    if !play.chance_kinds.is_empty() {
        settings.add_redaction(".verdict", "[chance]");
        settings.add_redaction(".exit_code", "[chance]");
    }
    let report = normalised(report, play.chance_kinds);
    settings.bind(|| assert_json_snapshot!(format!("scenario-{}", play.scenario), report));
}

/// Every scenario at once (they mostly wait on simulated time), each compared in its own thread
/// so that one run shows every scenario whose golden changed.
#[test]
fn every_scenario_report_is_golden() {
    let scenarios: Vec<&str> = Scenario::all().iter().map(Scenario::name).collect();
    let played: Vec<&str> = PLAYS.iter().map(|play| play.scenario).collect();
    assert_eq!(played, scenarios, "a golden for every scenario");
    let failed: Vec<&str> = std::thread::scope(|scope| {
        let runs: Vec<_> = PLAYS
            .iter()
            .map(|play| {
                let check = scope.spawn(move || {
                    let out = inboxtop()
                        .args([
                            "check",
                            "--scenario",
                            play.scenario,
                            "--time-scale",
                            play.scale,
                        ])
                        .args(["--duration", play.duration, "--format", "json"])
                        .output()
                        .unwrap();
                    assert_golden(play, report_of(&out));
                });
                (play.scenario, check)
            })
            .collect();
        runs.into_iter()
            .filter_map(|(scenario, check)| check.join().is_err().then_some(scenario))
            .collect()
    });
    assert!(failed.is_empty(), "goldens that differ: {failed:?}");
}
