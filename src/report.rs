//! Reports of a monitor's state: a terminal verdict (text), a machine one (JSON), and a bug report a
//! person would file (markdown). Server-provided strings are sanitized; the key is never here.

use serde_json::{Map, Value, json};
use std::fmt::Write as _;
use std::str::FromStr;

use crate::monitor::{Finding, Monitor, Severity};
use crate::sanitize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "markdown" | "md" => Ok(Format::Markdown),
            other => Err(format!("unknown format {other:?}: text, json or markdown")),
        }
    }
}

/// Where the observations came from.
#[derive(Debug, Clone)]
pub struct ReportContext {
    pub base_url: String,
    pub agent: String,
    pub client_version: String,
    /// "live", "demo: healthy", "recording FILE".
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    Problems,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Problems => "problems",
        }
    }

    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Healthy => 0,
            Verdict::Problems => 1,
        }
    }
}

/// Healthy unless some finding is a warning or an error.
pub fn verdict(findings: &[Finding]) -> Verdict {
    if findings.iter().any(|f| f.severity >= Severity::Warning) {
        Verdict::Problems
    } else {
        Verdict::Healthy
    }
}

pub fn render(m: &Monitor, ctx: &ReportContext, format: Format) -> String {
    let findings = m.findings();
    match format {
        Format::Text => text(m, ctx, &findings),
        Format::Json => {
            serde_json::to_string_pretty(&json_value(m, ctx, &findings)).unwrap_or_default() + "\n"
        }
        Format::Markdown => markdown(m, ctx, &findings),
    }
}

/// The host (and port) of a URL, without userinfo, path or query.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    sanitize::line(host).into_owned()
}

fn evidence_value(v: &Value) -> String {
    match v {
        Value::String(s) => sanitize::line(s).into_owned(),
        other => sanitize::line(&other.to_string()).into_owned(),
    }
}

fn observed_window(m: &Monitor) -> (String, String) {
    let from = m.started_wall.map(|t| t.to_rfc3339()).unwrap_or_default();
    (from, m.now_wall.to_rfc3339())
}

pub fn json_value(m: &Monitor, ctx: &ReportContext, findings: &[Finding]) -> Value {
    let findings: Vec<Value> = findings
        .iter()
        .map(|f| {
            let evidence: Map<String, Value> = f.evidence.iter().cloned().collect();
            json!({
                "kind": f.kind.name(),
                "severity": f.severity.label(),
                "summary": f.summary,
                "evidence": evidence,
                "first_seen": f.first_seen.map(|t| t.to_rfc3339()),
                "last_seen": f.last_seen.map(|t| t.to_rfc3339()),
                "raised_at": f.raised_at.map(|t| t.to_rfc3339()),
            })
        })
        .collect();
    let (from, to) = observed_window(m);
    json!({
        "verdict": verdict_of(m).name(),
        "findings": findings,
        "stats": m.stats(),
        "target": {"base_url": crate::record::without_userinfo(&ctx.base_url), "agent": ctx.agent},
        "client_version": ctx.client_version,
        "source": ctx.source,
        "observed_from": from,
        "observed_to": to,
        "duration_s": m.elapsed().as_secs_f64(),
    })
}

fn verdict_of(m: &Monitor) -> Verdict {
    verdict(&m.findings())
}

fn text(m: &Monitor, ctx: &ReportContext, findings: &[Finding]) -> String {
    let mut out = String::new();
    let v = verdict(findings);
    let _ = writeln!(
        out,
        "inboxtop {}: {} — {} @ {} ({}), {:.1} s observed",
        ctx.client_version,
        v.name().to_uppercase(),
        sanitize::line(&ctx.agent),
        host_of(&ctx.base_url),
        ctx.source,
        m.elapsed().as_secs_f64()
    );
    for f in findings {
        let _ = writeln!(
            out,
            "\n{:<7} {}: {}",
            f.severity.label().to_uppercase(),
            f.kind.name(),
            sanitize::line(&f.summary)
        );
        for (k, v) in &f.evidence {
            let mut line = format!("        {k}: {}", evidence_value(v));
            if line.chars().count() > 100 {
                line = line.chars().take(99).collect::<String>() + "…";
            }
            let _ = writeln!(out, "{line}");
        }
    }
    if findings.is_empty() {
        let _ = writeln!(out, "\nno findings");
    }
    let s = m.stats();
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

/// Escapes a value for a markdown table cell.
fn cell(s: &str) -> String {
    sanitize::line(s).replace('|', "\\|").replace('`', "\\`")
}

fn markdown(m: &Monitor, ctx: &ReportContext, findings: &[Finding]) -> String {
    let mut out = String::new();
    let worst = findings.iter().find(|f| f.severity >= Severity::Warning);
    let title = match worst {
        Some(f) => format!("{}: {}", f.kind.name(), cell(&f.summary)),
        None => "inboxtop: no problems found".to_string(),
    };
    let (from, to) = observed_window(m);
    let host = host_of(&ctx.base_url);
    let _ = writeln!(out, "# {title}\n");
    let _ = writeln!(out, "## Summary\n");
    match worst {
        Some(_) => {
            let _ = writeln!(
                out,
                "inboxtop observed the agent's SSE stream and polled inbox and found {} problem(s):\n",
                findings
                    .iter()
                    .filter(|f| f.severity >= Severity::Warning)
                    .count()
            );
            for f in findings.iter().filter(|f| f.severity >= Severity::Warning) {
                let _ = writeln!(
                    out,
                    "- **{}** ({}): {}",
                    f.kind.name(),
                    f.severity.label(),
                    cell(&f.summary)
                );
            }
        }
        None => {
            let _ = writeln!(
                out,
                "The stream and the inbox agreed; no warning or error was found."
            );
        }
    }
    let severity = worst.map_or("none", |f| f.severity.label());
    let _ = writeln!(out, "\n**Severity:** {severity}\n");
    let _ = writeln!(out, "## Environment\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| API host | `{}` |", cell(&host));
    let _ = writeln!(out, "| agent | `{}` |", cell(&ctx.agent));
    let _ = writeln!(out, "| client | inboxtop {} |", ctx.client_version);
    let _ = writeln!(out, "| source | {} |", cell(&ctx.source));
    let _ = writeln!(
        out,
        "| observed | {from} → {to} ({:.1} s) |\n",
        m.elapsed().as_secs_f64()
    );
    let _ = writeln!(out, "## Steps to reproduce\n");
    let _ = writeln!(
        out,
        "```sh\nINBOXTOP_API_KEY=… inboxtop check --base-url https://{} --agent {} --duration {}s --format markdown\n```\n",
        host,
        cell(&ctx.agent),
        m.elapsed().as_secs().max(60)
    );
    let _ = writeln!(out, "## Expected vs actual\n");
    let _ = writeln!(
        out,
        "- **Expected:** one long-lived stream session, a heartbeat every {:.0}-{:.0} s, every message in the inbox also delivered on the stream within {:.0} s.",
        m.thresholds.heartbeat_min.as_secs_f64(),
        m.thresholds.heartbeat_max.as_secs_f64(),
        m.thresholds.delivery_grace.as_secs_f64()
    );
    let s = m.stats();
    let _ = writeln!(
        out,
        "- **Actual:** {} sessions ({} reconnects), {} heartbeats, {} messages streamed, {} polled, {} only reachable by polling.\n",
        s.sessions,
        s.reconnects,
        s.heartbeats,
        s.messages_streamed,
        s.messages_polled,
        s.messages_only_polled
    );
    let _ = writeln!(out, "## Evidence\n");
    for f in findings {
        let _ = writeln!(out, "### {} ({})\n", f.kind.name(), f.severity.label());
        let _ = writeln!(out, "{}\n", cell(&f.summary));
        let _ = writeln!(out, "| | |\n|---|---|");
        if let Some(t) = f.first_seen {
            let _ = writeln!(out, "| first seen | {} |", t.to_rfc3339());
        }
        if let Some(t) = f.last_seen {
            let _ = writeln!(out, "| last seen | {} |", t.to_rfc3339());
        }
        for (k, v) in &f.evidence {
            let _ = writeln!(out, "| {} | {} |", cell(k), cell(&evidence_value(v)));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "## Stats\n\n```json\n{}\n```",
        serde_json::to_string_pretty(&m.stats()).unwrap_or_default()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_drops_userinfo_path_and_query() {
        assert_eq!(
            host_of("https://user:SECRET@api.example.com:8443/v1?key=SECRET"),
            "api.example.com:8443"
        );
        assert_eq!(host_of("http://127.0.0.1:1"), "127.0.0.1:1");
    }

    #[test]
    fn formats_parse() {
        assert_eq!("md".parse::<Format>(), Ok(Format::Markdown));
        assert!("yaml".parse::<Format>().is_err());
    }
}
