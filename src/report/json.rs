//! The machine report: the verdict word (`ok|warning|critical|unknown`) and exit code, the checks
//! of positive evidence, the findings with when each was raised, the exact counters, and where
//! the observations came from.

use serde_json::{Map, Value, json};

use super::{FleetReport, Format, Report, sanitized};
use crate::monitor::Finding;

pub(super) fn render(r: &Report) -> String {
    serde_json::to_string_pretty(&value(r)).unwrap_or_default() + "\n"
}

fn value(r: &Report) -> Value {
    let j = r.judgement;
    let (from, to) = r.window();
    json!({
        "verdict": j.verdict.word(),
        "exit_code": j.verdict.exit_code(),
        "headline": j.headline,
        "checks": j.checks,
        "findings": j.findings.iter().map(finding).collect::<Vec<_>>(),
        "stats": r.stats(),
        "target": {"base_url": sanitized(&json!(r.ctx.base_url)), "agent": sanitized(&json!(r.ctx.agent))},
        "source": r.ctx.origin.to_string(),
        "time_scale": r.time_scale(),
        "client_version": r.ctx.client_version,
        "observed_from": from.map(|t| t.to_rfc3339()),
        "observed_to": to.to_rfc3339(),
        "duration_s": r.observed().as_secs_f64(),
        "reproduce": r.reproduce(Format::Json),
    })
}

/// The fleet: the overall verdict, and `agents`, each one the single-agent report with its `id`.
pub(super) fn render_fleet(f: &FleetReport) -> String {
    let verdict = f.verdict();
    let agents: Vec<Value> = f
        .reports
        .iter()
        .map(|r| {
            let mut agent = value(r);
            if let Value::Object(fields) = &mut agent {
                fields.insert("id".into(), sanitized(&json!(r.ctx.agent)));
            }
            agent
        })
        .collect();
    let report = json!({
        "verdict": verdict.word(),
        "exit_code": verdict.exit_code(),
        "headline": f.headline(),
        "agents": agents,
        "client_version": env!("CARGO_PKG_VERSION"),
    });
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

fn finding(f: &Finding) -> Value {
    let evidence: Map<String, Value> = f.evidence.iter().cloned().collect();
    json!({
        "kind": f.kind.name(),
        "severity": f.severity.label(),
        "summary": sanitized(&json!(f.summary)),
        "evidence": sanitized(&Value::Object(evidence)),
        "first_seen": f.first_seen.map(|t| t.to_rfc3339()),
        "last_seen": f.last_seen.map(|t| t.to_rfc3339()),
        "raised_at": f.raised_at.map(|t| t.to_rfc3339()),
    })
}
