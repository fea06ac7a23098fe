//! Every format on synthetic timelines: the same verdict words, the checks, the findings, the
//! reproduce command, simulated seconds for a scaled demo, and untrusted text made safe.

use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::monitor::verdict::judge;
use crate::monitor::{Finding, FindingKind, Severity, Thresholds};
use crate::testkit::{Timeline, healthy_minute, heartbeat_flood as flood};

/// A stream that opened and has said nothing for 10 s; a peek answered.
fn silent_start() -> Timeline {
    let mut t = Timeline::new();
    t.open(0, 1).poll(1_000, &[]).tick(10_000);
    t
}

fn live() -> ReportContext {
    ReportContext::new(Origin::Live, "http://127.0.0.1:8765", "demo", vec![])
}

fn report(t: &Timeline, ctx: &ReportContext, format: Format) -> String {
    render(&t.m, &judge(&t.m), ctx, format)
}

fn json_report(t: &Timeline, ctx: &ReportContext) -> serde_json::Value {
    serde_json::from_str(&report(t, ctx, Format::Json)).unwrap()
}

#[test]
fn a_healthy_minute_is_ok_in_every_format() {
    let t = healthy_minute();
    let ctx = live();
    let text = report(&t, &ctx, Format::Text);
    assert!(
        text.starts_with(
            "INBOXTOP OK - stream up, heartbeats in band, peek answering, messages delivered\n"
        ),
        "{text}"
    );
    assert_eq!(text.matches("  ✓ ").count(), 5, "{text}");
    assert!(!text.contains('✗'), "{text}");
    let json = json_report(&t, &ctx);
    assert_eq!(json["verdict"], "ok");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["checks"].as_array().unwrap().len(), 5);
    assert!(
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["shown"] == true)
    );
    let md = report(&t, &ctx, Format::Markdown);
    assert!(md.starts_with("# inboxtop OK: stream up"), "{md}");
    assert!(md.contains("**Verdict: OK** (exit code 0)"), "{md}");
    let plugin = report(&t, &ctx, Format::Plugin);
    assert!(
        plugin.starts_with("INBOXTOP OK - stream up, heartbeats in band, peek answering, messages delivered | observed=60s;;;0 sessions=1;;;0"),
        "{plugin}"
    );
}

#[test]
fn a_flood_is_critical_with_its_kind_in_every_format() {
    let t = flood();
    let ctx = live();
    let plugin = report(&t, &ctx, Format::Plugin);
    assert_eq!(
        plugin,
        "INBOXTOP CRITICAL - heartbeat-flood | observed=2.44s;;;0 sessions=1;;;0 reconnects=0;;;0 \
         heartbeats=25;;;0 streamed=0;;;0 polled=0;;;0 only_polled=0;;;0 http_errors=0;;;0 \
         network_errors=0;;;0\n"
    );
    assert_eq!(plugin.lines().count(), 1);
    let text = report(&t, &ctx, Format::Text);
    assert!(
        text.starts_with("INBOXTOP CRITICAL - heartbeat-flood\n"),
        "{text}"
    );
    assert!(
        text.contains("ERROR   heartbeat-flood: 25 heartbeats"),
        "{text}"
    );
    assert!(text.contains("raised_at: 2026-"), "{text}");
    let json = json_report(&t, &ctx);
    assert_eq!(json["verdict"], "critical");
    assert_eq!(json["exit_code"], 2);
    assert_eq!(json["headline"], "heartbeat-flood");
    let flood = &json["findings"][0];
    assert_eq!(flood["kind"], "heartbeat-flood");
    assert!(flood["raised_at"].as_str().unwrap().starts_with("2026-"));
    let md = report(&t, &ctx, Format::Markdown);
    assert!(
        md.starts_with("# inboxtop CRITICAL: heartbeat-flood\n"),
        "{md}"
    );
    assert!(md.contains("### heartbeat-flood (error)"), "{md}");
    assert!(md.contains("| heartbeats_in_burst | 25 |"), "{md}");
}

#[test]
fn unknown_names_what_is_missing_and_how_long_to_watch() {
    let t = silent_start();
    let ctx = live();
    let plugin = report(&t, &ctx, Format::Plugin);
    assert!(
        plugin.starts_with(
            "INBOXTOP UNKNOWN - unknown yet: the stream has stayed open at most 10 s, less than \
             the 30 s band; waiting for a first heartbeat, 15 s–30 s; "
        ),
        "{plugin}"
    );
    let text = report(&t, &ctx, Format::Text);
    assert!(
        text.contains(
            "  ✗ heartbeats        waiting for a first heartbeat, 15 s–30 s (watch at least 20 s more)"
        ),
        "{text}"
    );
    assert!(text.contains("  ✓ stream-opened"), "{text}");
    let json = json_report(&t, &ctx);
    assert_eq!(json["verdict"], "unknown");
    assert_eq!(json["exit_code"], 3);
    let beats = &json["checks"][2];
    assert_eq!(beats["evidence"], "heartbeats");
    assert_eq!(beats["watch_for"], 20.0);
    let md = report(&t, &ctx, Format::Markdown);
    assert!(
        md.contains("| ✗ | heartbeats | waiting for a first heartbeat, 15 s–30 s (watch at least 20 s more) |"),
        "{md}"
    );
}

#[test]
fn a_check_past_its_band_asks_for_no_more_watching() {
    let mut t = Timeline::new();
    t.open(0, 1).tick(40_000);
    let text = report(&t, &live(), Format::Text);
    assert!(
        text.contains("  ✗ heartbeats        waiting for a first heartbeat, 15 s–30 s\n"),
        "{text}"
    );
}

/// The fenced command of a markdown report.
fn reproduce_of(md: &str) -> &str {
    let start = md.find("```sh\n").expect("a sh block") + "```sh\n".len();
    md[start..].lines().next().unwrap()
}

#[test]
fn the_reproduce_command_keeps_scheme_port_path_and_chosen_settings_never_credentials() {
    let ctx = ReportContext::new(
        Origin::Live,
        "http://user:hunter2@10.0.0.5:8080/api/v2",
        "agent 7",
        vec![
            Setting {
                flag: "--stream-path",
                value: "/sse".into(),
            },
            Setting {
                flag: "--expect-heartbeat",
                value: "1s..2s".into(),
            },
            Setting {
                flag: "--poll-interval",
                value: "1m 30s".into(),
            },
        ],
    );
    let md = report(&healthy_minute(), &ctx, Format::Markdown);
    assert_eq!(
        reproduce_of(&md),
        "INBOXTOP_API_KEY=… inboxtop check --base-url http://10.0.0.5:8080/api/v2 --agent 'agent 7' \
         --stream-path /sse --expect-heartbeat 1s..2s --poll-interval '1m 30s' --duration 60s \
         --format markdown"
    );
    assert!(!md.contains("hunter2"), "{md}");
    assert!(
        md.contains(
            "| settings | --stream-path /sse, --expect-heartbeat 1s..2s, --poll-interval 1m 30s |"
        ),
        "{md}"
    );
    let json = json_report(&healthy_minute(), &ctx);
    assert!(
        json["reproduce"]
            .as_str()
            .unwrap()
            .ends_with("--duration 60s --format json"),
        "{json}"
    );
}

#[test]
fn a_scaled_demo_reports_in_simulated_seconds_and_reproduces_as_a_demo() {
    // A stalled stream, watched at 20×: 60 simulated seconds are 3 real ones.
    let mut t = Timeline::with(Thresholds::default().scaled(20.0), 20);
    t.open(0, 1).poll(1_000, &[]).tick(60_000);
    let ctx = ReportContext::new(
        Origin::Demo {
            scenario: Scenario::Stall,
        },
        "http://127.0.0.1:40000",
        "demo",
        vec![],
    );
    let json = json_report(&t, &ctx);
    assert_eq!(json["duration_s"], 60.0);
    assert_eq!(json["stats"]["elapsed_s"], 60.0);
    assert_eq!(json["time_scale"], 20.0);
    assert_eq!(json["source"], "demo: stall");
    assert_eq!(
        json["reproduce"],
        "inboxtop check --scenario stall --time-scale 20 --duration 60s --format json"
    );
    let text = report(&t, &ctx, Format::Text);
    assert!(
        text.contains(
            "demo: stall, 20× real time (durations in simulated seconds); 1m00s observed"
        ),
        "{text}"
    );
    let md = report(&t, &ctx, Format::Markdown);
    assert!(
        md.contains("a heartbeat every 15 s–30 s") && md.contains("within 10 s"),
        "thresholds in simulated seconds: {md}"
    );
    assert!(md.contains("(1m00s) |"), "the observed window: {md}");
    let plugin = report(&t, &ctx, Format::Plugin);
    assert!(plugin.contains("| observed=60s;;;0 "), "{plugin}");
}

#[test]
fn a_check_reproduces_with_the_duration_it_was_asked_for() {
    // The window ends at the last observation, a tick short of the 90 s asked for.
    let mut t = Timeline::new();
    t.open(0, 1).tick(89_400);
    let ctx = live().asked_for(Duration::from_secs(90));
    let command = json_report(&t, &ctx)["reproduce"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        command.ends_with("--duration 90s --format json"),
        "{command}"
    );
    let command = json_report(&t, &live())["reproduce"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        command.ends_with("--duration 89s --format json"),
        "without it, the window rounded: {command}"
    );
}

#[test]
fn a_recording_reproduces_by_judging_the_file_again() {
    let ctx = ReportContext::new(
        Origin::Recording {
            path: PathBuf::from("outage.ndjson"),
            recorded: "live".into(),
        },
        "https://api.example.com",
        "a",
        vec![],
    );
    let json = json_report(&flood(), &ctx);
    assert_eq!(
        json["reproduce"],
        "inboxtop check --from outage.ndjson --format json"
    );
    assert_eq!(json["source"], "recording outage.ndjson (live)");
}

#[test]
fn untrusted_text_never_reaches_a_report_raw() {
    const ESC: &str = "\u{1b}]0;owned\u{7}";
    let t = flood();
    let mut judgement = judge(&t.m);
    judgement.findings.push(Finding {
        kind: FindingKind::AuthFailed,
        severity: Severity::Error,
        first_seen: None,
        last_seen: None,
        raised_at: None,
        summary: format!("server said {ESC}"),
        evidence: vec![
            (format!("key{ESC}"), json!(ESC)),
            ("nested".into(), json!({"deep": [ESC]})),
        ],
    });
    let ctx = ReportContext::new(
        Origin::Recording {
            path: PathBuf::from("r.ndjson"),
            recorded: format!("live{ESC}"),
        },
        "http://127.0.0.1:1",
        &format!("agent{ESC}"),
        vec![],
    );
    for format in [Format::Text, Format::Json, Format::Markdown, Format::Plugin] {
        let out = render(&t.m, &judgement, &ctx, format);
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "{format:?}: {out:?}"
        );
    }
    // JSON escapes control characters on its own; what a reader decodes must be safe too.
    let decoded = json_report(&t, &ctx).to_string();
    assert!(!decoded.contains("\\u001b"), "{decoded}");
}

#[test]
fn shell_words_are_quoted_only_when_they_must_be() {
    assert_eq!(shell_word("http://h:1/p"), "http://h:1/p");
    assert_eq!(shell_word("1s..2s"), "1s..2s");
    assert_eq!(shell_word("a b"), "'a b'");
    assert_eq!(shell_word("it's"), r"'it'\''s'");
    assert_eq!(shell_word("$(rm -rf ~)"), "'$(rm -rf ~)'");
    assert_eq!(shell_word(""), "''");
}

#[test]
fn durations_read_as_a_person_says_them() {
    assert_eq!(seconds(Duration::from_millis(850)), "0.8 s");
    assert_eq!(seconds(Duration::from_secs(30)), "30 s");
    assert_eq!(seconds(Duration::from_secs(125)), "2m05s");
}

#[test]
fn the_formats_are_the_check_flag_values() {
    use clap::ValueEnum;
    let names: Vec<_> = Format::value_variants()
        .iter()
        .map(|f| f.to_possible_value().unwrap().get_name().to_owned())
        .collect();
    assert_eq!(names, ["text", "json", "markdown", "plugin"]);
    assert_eq!(Format::from_str("plugin", false), Ok(Format::Plugin));
}
