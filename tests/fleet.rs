//! Fleets end to end: `check` over several simulated agents judges each one and exits with the
//! worst verdict, in every report format; a fleet recording judges the same agents again.

use std::path::PathBuf;
use std::process::Output;

mod common;
use common::inboxtop;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inboxtop-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

const FLEET: [&str; 8] = [
    "--agents",
    "3",
    "--scenario",
    "healthy,heartbeat-flood,stall",
    "--time-scale",
    "20",
    "--duration",
    "60s",
];

fn check(extra: &[&str]) -> Output {
    inboxtop()
        .arg("check")
        .args(FLEET)
        .args(extra)
        .output()
        .unwrap()
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The simulated agents' ids: the scenario and the agent's number.
const IDS: [&str; 3] = ["healthy-1", "heartbeat-flood-2", "stall-3"];

/// The agent with `id` in a fleet report.
fn agent<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("no agent {id} in {report:#}"))
}

fn finding_kinds(agent: &serde_json::Value) -> Vec<&str> {
    agent["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect()
}

#[test]
fn check_judges_every_agent_and_exits_with_the_worst() {
    let record = tmp("fleet.ndjson");
    let out = check(&["--format", "json", "--record", record.to_str().unwrap()]);
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(2), "{report:#}");
    assert_eq!(report["verdict"], "critical");
    assert_eq!(report["exit_code"], 2);
    let ids: Vec<&str> = report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, IDS);
    let flood = agent(&report, "heartbeat-flood-2");
    assert_eq!(flood["verdict"], "critical");
    assert!(
        finding_kinds(flood).contains(&"heartbeat-flood"),
        "{flood:#}"
    );
    assert_eq!(agent(&report, "healthy-1")["verdict"], "ok");
    assert_ne!(agent(&report, "stall-3")["verdict"], "ok");
    for a in report["agents"].as_array().unwrap() {
        assert!(a["stats"]["sessions"].as_u64().is_some(), "{a:#}");
        assert!(a["checks"].is_array(), "{a:#}");
    }
    let headline = report["headline"].as_str().unwrap();
    assert!(
        headline.contains("heartbeat-flood-2") && !headline.contains("healthy-1"),
        "{headline}"
    );

    // The recording holds every agent and judges them the same way.
    let again = inboxtop()
        .args(["check", "--format", "json", "--from"])
        .arg(&record)
        .output()
        .unwrap();
    let replayed = json_of(&again);
    assert_eq!(again.status.code(), Some(2), "{replayed:#}");
    let verdicts = |r: &serde_json::Value| -> Vec<(String, String)> {
        r["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["id"].to_string(), a["verdict"].to_string()))
            .collect()
    };
    assert_eq!(verdicts(&replayed), verdicts(&report));
    std::fs::remove_file(&record).ok();
}

#[test]
fn the_plugin_line_names_the_agents_in_trouble_with_data_per_agent() {
    let out = check(&["--format", "plugin"]);
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
    let (status, data) = line.split_once(" | ").unwrap();
    assert!(
        status.starts_with("INBOXTOP CRITICAL - 3 agents: "),
        "{status}"
    );
    assert!(
        status.contains("heartbeat-flood-2 critical") && !status.contains("healthy-1"),
        "{status}"
    );
    for id in ["healthy-1", "heartbeat-flood-2", "stall-3"] {
        assert!(data.contains(&format!("'{id}_sessions'=")), "{data}");
        assert!(data.contains(&format!("'{id}_observed'=")), "{data}");
    }
}

#[test]
fn text_and_markdown_list_each_agent() {
    let text = check(&["--format", "text"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.starts_with("INBOXTOP CRITICAL - 3 agents"), "{text}");
    for id in ["healthy-1", "heartbeat-flood-2", "stall-3"] {
        assert!(text.contains(&format!("── agent {id} ──")), "{text}");
    }
    let markdown = check(&["--format", "markdown"]);
    let markdown = String::from_utf8_lossy(&markdown.stdout);
    assert!(
        markdown.starts_with("# inboxtop fleet CRITICAL"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| `heartbeat-flood-2` | CRITICAL |")
            && markdown.contains("| `healthy-1` | OK |"),
        "{markdown}"
    );
    assert!(markdown.contains("\n## inboxtop CRITICAL"), "{markdown}");
}
