//! Time to a verdict: each simulator scenario played by `inboxtop check --format json`, and the
//! time from the observed start to the `raised_at` of the finding the scenario is about.
//!
//! The scenarios run in parallel (each is idle most of the time); all at real speed except the
//! ones whose evidence takes minutes, which run faster and are converted back to real seconds.

use std::process::Command;

use chrono::{DateTime, FixedOffset};

/// One scenario to time: the finding that names it, how long to watch, and the goal.
struct Case {
    scenario: &'static str,
    kind: &'static str,
    /// Simulated seconds to watch.
    duration_s: u64,
    time_scale: u64,
    goal: Option<(f64, &'static str)>,
}

const CASES: &[Case] = &[
    Case {
        scenario: "heartbeat-flood",
        kind: "heartbeat-flood",
        duration_s: 20,
        time_scale: 1,
        goal: Some((2.0, "within its first session (≤ 2 s)")),
    },
    Case {
        scenario: "auth-failure",
        kind: "auth-failed",
        duration_s: 10,
        time_scale: 1,
        goal: Some((1.0, "≤ 1 s")),
    },
    Case {
        scenario: "rejected",
        kind: "stream-rejected",
        duration_s: 10,
        time_scale: 1,
        goal: Some((1.0, "≤ 1 s")),
    },
    Case {
        scenario: "stall",
        kind: "stream-stalled",
        duration_s: 100,
        time_scale: 1,
        goal: Some((91.0, "read timeout (90 s) + 1 s")),
    },
    Case {
        scenario: "idle-timeout",
        kind: "proxy-idle-timeout",
        duration_s: 420,
        time_scale: 10,
        goal: Some((300.0, "within 3 sessions (3 × 100 s)")),
    },
    Case {
        scenario: "silent-drop",
        kind: "delivery-gap",
        duration_s: 60,
        time_scale: 1,
        goal: None,
    },
    Case {
        scenario: "proxy-buffering",
        kind: "proxy-buffering",
        duration_s: 100,
        time_scale: 1,
        goal: None,
    },
    Case {
        scenario: "flaky",
        kind: "server-errors",
        duration_s: 100,
        time_scale: 1,
        goal: None,
    },
    Case {
        scenario: "takeover",
        kind: "session-takeover",
        duration_s: 30,
        time_scale: 1,
        goal: None,
    },
    Case {
        scenario: "double-framed",
        kind: "nested-frame",
        duration_s: 30,
        time_scale: 1,
        goal: None,
    },
    Case {
        scenario: "moved",
        kind: "redirected",
        duration_s: 10,
        time_scale: 1,
        goal: None,
    },
    Case {
        scenario: "gone",
        kind: "server-said-stop",
        duration_s: 10,
        time_scale: 1,
        goal: None,
    },
];

/// What one `check` run said about its scenario's finding.
struct Timed {
    /// Seconds at real speed from the observed start to `raised_at` (real seconds × the time
    /// scale; None: never raised).
    raised_after: Option<f64>,
    verdict: String,
}

fn time_case(bin: &std::path::Path, case: &Case) -> Timed {
    let out = Command::new(bin)
        .env("XDG_CONFIG_HOME", "/nonexistent-inboxtop")
        .args([
            "check",
            "--scenario",
            case.scenario,
            "--time-scale",
            &case.time_scale.to_string(),
            "--duration",
            &format!("{}s", case.duration_s),
            "--format",
            "json",
        ])
        .output()
        .expect("run inboxtop check");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON report ({e}): {}",
            case.scenario,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let time = |v: &serde_json::Value| -> Option<DateTime<FixedOffset>> {
        DateTime::parse_from_rfc3339(v.as_str()?).ok()
    };
    let start = time(&report["observed_from"]).expect("observed_from");
    let raised = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["kind"] == case.kind)
        .and_then(|f| time(&f["raised_at"]));
    Timed {
        raised_after: raised.map(|r| (r - start).as_seconds_f64() * case.time_scale as f64),
        verdict: report["verdict"].as_str().unwrap_or("?").to_owned(),
    }
}

pub fn run(bin: &std::path::Path) {
    let longest = CASES
        .iter()
        .map(|c| c.duration_s / c.time_scale)
        .max()
        .unwrap_or(0);
    println!(
        "\n== verdict: `inboxtop check --scenario S --format json`, start → raised_at of the finding \
         ({} scenarios in parallel, ~{longest} s)",
        CASES.len()
    );
    let timed: Vec<Timed> = std::thread::scope(|s| {
        let handles: Vec<_> = CASES
            .iter()
            .map(|case| s.spawn(move || time_case(bin, case)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scenario thread"))
            .collect()
    });
    println!(
        "{:<16} {:<19} {:>6} {:>10} {:<9} {:<34} met",
        "scenario", "finding", "scale", "raised at", "verdict", "goal"
    );
    for (case, t) in CASES.iter().zip(timed) {
        let raised = t
            .raised_after
            .map_or("never".to_owned(), |s| format!("{s:.2} s"));
        let (goal, met) = match case.goal {
            Some((limit, text)) => (
                text,
                if t.raised_after.is_some_and(|s| s <= limit) {
                    "yes"
                } else {
                    "NO"
                },
            ),
            None => ("—", ""),
        };
        println!(
            "{:<16} {:<19} {:>5}× {:>10} {:<9} {:<34} {met}",
            case.scenario, case.kind, case.time_scale, raised, t.verdict, goal
        );
    }
}
