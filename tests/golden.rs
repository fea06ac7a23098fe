//! Golden `check --format json` reports, through the binary: the recording in `assets/` whole.
//! A change to the report's layout (a key, a finding's kind, severity or wording, the shape of
//! its evidence) fails here. Accept a deliberate one with `INSTA_UPDATE=always` and review the
//! `.snap` diff.

use std::process::{Command, Output};

use insta::assert_json_snapshot;
use serde_json::Value;

fn inboxtop() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inboxtop"));
    // Never read the developer's own config file or key.
    cmd.env("XDG_CONFIG_HOME", "/nonexistent-inboxtop-test")
        .env_remove("INBOXTOP_API_KEY")
        .env_remove("INBOXTOP_BASE_URL")
        .env_remove("INBOXTOP_AGENT")
        .env_remove("INBOXTOP_CONFIG");
    cmd
}

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
