//! The terminal report: the verdict and its headline first, then what the window showed (✓) and
//! what it could not (✗, with how much longer to watch), then the findings with their evidence.

use std::fmt::Write as _;

use super::{FleetReport, Report, evidence_text, seconds, watch_more};
use crate::monitor::Finding;
use crate::sanitize;

/// Evidence lines longer than this are cut (the JSON report has them whole).
const EVIDENCE_WIDTH: usize = 100;

pub(super) fn render(r: &Report) -> String {
    let mut out = String::new();
    let verdict = r.verdict();
    let _ = writeln!(
        out,
        "INBOXTOP {} - {}",
        verdict.upper(),
        r.judgement.headline
    );
    let ctx = r.ctx;
    let _ = writeln!(
        out,
        "agent {} @ {} — {}; {} observed; inboxtop {}",
        sanitize::line(&ctx.agent),
        sanitize::line(&ctx.base_url),
        r.source(),
        seconds(r.observed()),
        ctx.client_version,
    );
    checks(&mut out, r);
    findings(&mut out, &r.judgement.findings);
    let s = r.stats();
    let _ = writeln!(
        out,
        "\nsessions {} (reconnects {}), heartbeats {}, events {}, messages streamed {} / polled {} / only polled {}",
        s.sessions,
        s.reconnects,
        s.heartbeats,
        s.events,
        s.messages_streamed,
        s.messages_polled,
        s.messages_only_polled
    );
    out
}

/// The fleet's verdict and the agents in trouble, then each agent's report under its id.
pub(super) fn render_fleet(f: &FleetReport) -> String {
    let mut out = format!("INBOXTOP {} - {}\n", f.verdict().upper(), f.headline());
    for r in &f.reports {
        let _ = write!(
            out,
            "\n── agent {} ──\n{}",
            sanitize::line(&r.ctx.agent),
            render(r)
        );
    }
    out
}

fn checks(out: &mut String, r: &Report) {
    let _ = writeln!(out, "\nwhat the window showed:");
    for check in &r.judgement.checks {
        let mark = if check.shown { '✓' } else { '✗' };
        let _ = writeln!(
            out,
            "  {mark} {:<17} {}{}",
            check.evidence.name(),
            check.detail,
            watch_more(check)
        );
    }
}

fn findings(out: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        let _ = writeln!(out, "\nno findings");
        return;
    }
    let _ = writeln!(out, "\nfindings:");
    for f in findings {
        let _ = writeln!(
            out,
            "  {:<7} {}: {}",
            f.severity.label().to_uppercase(),
            f.kind.name(),
            sanitize::line(&f.summary)
        );
        if let Some(raised) = f.raised_at {
            let _ = writeln!(out, "          raised_at: {}", raised.to_rfc3339());
        }
        for (k, v) in &f.evidence {
            let line = format!("          {}: {}", sanitize::line(k), evidence_text(v));
            let _ = writeln!(out, "{}", cut(&line, EVIDENCE_WIDTH));
        }
    }
}

/// `line` cut to `width` characters, with an ellipsis when cut.
fn cut(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_owned();
    }
    line.chars().take(width - 1).chain(['…']).collect()
}
