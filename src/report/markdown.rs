//! The bug report a person pastes: the verdict, what the window showed, the findings with their
//! evidence, the environment, the command that reproduces it, expected against actual, the stats.

use std::fmt::Write as _;

use super::{FleetReport, Format, Report, evidence_text, seconds, watch_more};
use crate::monitor::Finding;
use crate::monitor::verdict::Check;
use crate::sanitize;

/// A table of the agents (worst first), then each agent's report, its headings one level down.
pub(super) fn render_fleet(f: &FleetReport) -> String {
    let verdict = f.verdict();
    let mut out = format!(
        "# inboxtop fleet {}: {}\n\n**Verdict: {}** (exit code {}), the worst of {} agents.\n\n\
         | Agent | Verdict | Headline |\n|---|---|---|\n",
        verdict.upper(),
        cell(&f.headline()),
        verdict.upper(),
        verdict.exit_code(),
        f.reports.len()
    );
    let mut order: Vec<&Report> = f.reports.iter().collect();
    order.sort_by_key(|r| std::cmp::Reverse(r.verdict().badness()));
    for r in &order {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            cell(&r.ctx.agent),
            r.verdict().upper(),
            cell(&r.judgement.headline)
        );
    }
    for r in &order {
        let _ = write!(out, "\n#{}", render(r).replace("\n#", "\n##"));
    }
    out
}

pub(super) fn render(r: &Report) -> String {
    let mut out = String::new();
    let j = r.judgement;
    let _ = writeln!(
        out,
        "# inboxtop {}: {}\n",
        j.verdict.upper(),
        cell(&j.headline)
    );
    let _ = writeln!(
        out,
        "**Verdict: {}** (exit code {}) after {} of {}.\n",
        j.verdict.upper(),
        j.verdict.exit_code(),
        seconds(r.observed()),
        cell(&r.ctx.origin.to_string())
    );
    checks(&mut out, &j.checks);
    findings(&mut out, &j.findings);
    environment(&mut out, r);
    let command = r.reproduce(Format::Markdown);
    let fence = fence_for(&command);
    let _ = writeln!(
        out,
        "## Steps to reproduce\n\n{fence}sh\n{command}\n{fence}\n"
    );
    expected_vs_actual(&mut out, r);
    let _ = writeln!(
        out,
        "## Stats\n\n```json\n{}\n```",
        serde_json::to_string_pretty(&r.stats()).unwrap_or_default()
    );
    out
}

fn checks(out: &mut String, checks: &[Check]) {
    let _ = writeln!(out, "## What the window showed\n");
    let _ = writeln!(out, "| | evidence | seen, or missing |\n|---|---|---|");
    for c in checks {
        let mark = if c.shown { "✓" } else { "✗" };
        let _ = writeln!(
            out,
            "| {mark} | {} | {}{} |",
            c.evidence.name(),
            cell(&c.detail),
            watch_more(c)
        );
    }
    out.push('\n');
}

fn findings(out: &mut String, findings: &[Finding]) {
    let _ = writeln!(out, "## Findings\n");
    if findings.is_empty() {
        let _ = writeln!(out, "None.\n");
    }
    for f in findings {
        let _ = writeln!(out, "### {} ({})\n", f.kind.name(), f.severity.label());
        let _ = writeln!(out, "{}\n", cell(&f.summary));
        let _ = writeln!(out, "| | |\n|---|---|");
        let times = [
            ("raised at", f.raised_at),
            ("first seen", f.first_seen),
            ("last seen", f.last_seen),
        ];
        for (label, t) in times {
            if let Some(t) = t {
                let _ = writeln!(out, "| {label} | {} |", t.to_rfc3339());
            }
        }
        for (k, v) in &f.evidence {
            let _ = writeln!(out, "| {} | {} |", cell(k), cell(&evidence_text(v)));
        }
        out.push('\n');
    }
}

fn environment(out: &mut String, r: &Report) {
    let ctx = r.ctx;
    let (from, to) = r.window();
    let from = from.map(|t| t.to_rfc3339()).unwrap_or_default();
    let settings = if ctx.chosen.is_empty() {
        "defaults".to_owned()
    } else {
        ctx.chosen
            .iter()
            .map(|s| format!("{} {}", s.flag, cell(&s.value)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "## Environment\n\n| | |\n|---|---|");
    let _ = writeln!(out, "| API | {} |", cell(&ctx.base_url));
    let _ = writeln!(out, "| agent | {} |", cell(&ctx.agent));
    let _ = writeln!(out, "| client | inboxtop {} |", ctx.client_version);
    let _ = writeln!(out, "| source | {} |", cell(&r.source()));
    let _ = writeln!(out, "| settings | {settings} |");
    let _ = writeln!(
        out,
        "| observed | {from} → {} ({}) |\n",
        to.to_rfc3339(),
        seconds(r.observed())
    );
}

fn expected_vs_actual(out: &mut String, r: &Report) {
    let t = &r.m.thresholds;
    let _ = writeln!(out, "## Expected vs actual\n");
    let _ = writeln!(
        out,
        "- **Expected:** one long-lived stream session, a heartbeat every {}–{}, every message in \
         the inbox also delivered on the stream within {}.",
        seconds(r.shown(t.heartbeat_min)),
        seconds(r.shown(t.heartbeat_max)),
        seconds(r.shown(t.delivery_grace))
    );
    let s = r.stats();
    let _ = writeln!(
        out,
        "- **Actual:** {} sessions ({} reconnects), {} heartbeats, {} messages streamed, {} polled, \
         {} only reachable by polling.\n",
        s.sessions,
        s.reconnects,
        s.heartbeats,
        s.messages_streamed,
        s.messages_polled,
        s.messages_only_polled
    );
}

/// Untrusted text made safe for markdown text and table cells.
fn cell(s: &str) -> String {
    sanitize::line(s).replace('|', "\\|").replace('`', "\\`")
}

/// A code fence longer than any run of backticks in `code`, so nothing in it can close the block.
fn fence_for(code: &str) -> String {
    let longest = code
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    "`".repeat(longest.max(2) + 1)
}
