//! Reports of a monitor's judgement, one file per format: `text` for a terminal, `json` for
//! machines, `markdown` for a bug report a person pastes, `plugin` for Nagios, Icinga and kin.
//!
//! Every format says the same verdict in the same words (the model's [`Verdict`] and headline),
//! and every duration a person reads is in the watched system's seconds: simulated seconds for a
//! scaled demo. Strings from a server or a recording are sanitized; the key is never here.

mod json;
mod markdown;
mod plugin;
mod text;

use chrono::{DateTime, Utc};
use clap::builder::PossibleValue;
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::monitor::verdict::Check;
use crate::monitor::{Judgement, Monitor, Stats, Verdict};
use crate::record::without_userinfo;
use crate::sanitize;
use crate::sim::Scenario;

/// The report formats, as `check --format` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
    Plugin,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Plugin => "plugin",
        }
    }
}

impl clap::ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[Format::Text, Format::Json, Format::Markdown, Format::Plugin]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            Format::Text => "the verdict, what the window showed, the findings",
            Format::Json => "the same, for machines",
            Format::Markdown => "a bug report, ready to paste",
            Format::Plugin => "one Nagios/Icinga line with performance data",
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

/// What was watched.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A server.
    Live,
    /// The embedded simulator playing a scenario (its time scale is in the thresholds).
    Demo { scenario: Scenario },
    /// A recording, and what it recorded ("live", "demo: stall").
    Recording { path: PathBuf, recorded: String },
}

impl fmt::Display for Origin {
    /// `live`, `demo: stall`, `recording FILE (live)`: the TUI's mode and a recording's source.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Live => f.write_str("live"),
            Origin::Demo { scenario } => write!(f, "demo: {scenario}"),
            Origin::Recording { path, recorded } => write!(
                f,
                "recording {} ({})",
                path.display(),
                sanitize::line(recorded)
            ),
        }
    }
}

/// A setting someone chose (by flag, environment or config file), as the flag that chooses it
/// again: `--stream-path /v2/stream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub flag: &'static str,
    pub value: String,
}

/// Where a report's observations came from, and how to watch the same thing again.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportContext {
    pub origin: Origin,
    /// Without credentials, whatever the input held.
    pub base_url: String,
    pub agent: String,
    pub client_version: &'static str,
    /// Settings that were not left at their defaults, for the reproduce command.
    pub chosen: Vec<Setting>,
    /// How long `check --duration` was asked to watch, in the watched system's seconds. The
    /// model's window ends at its last observation, a tick short of that; without it (a report
    /// from the TUI) the reproduce command watches as long as the window was.
    pub duration: Option<Duration>,
}

impl ReportContext {
    /// The one way a context is made: credentials in the URL never reach a report.
    pub fn new(origin: Origin, base_url: &str, agent: &str, chosen: Vec<Setting>) -> Self {
        ReportContext {
            origin,
            base_url: without_userinfo(base_url),
            agent: agent.into(),
            client_version: env!("CARGO_PKG_VERSION"),
            chosen,
            duration: None,
        }
    }

    /// The same context about agent `id` (one agent of a fleet).
    pub fn for_agent(self, id: &str) -> Self {
        ReportContext {
            agent: id.into(),
            ..self
        }
    }

    /// The same context for a window that was asked to last `duration`.
    pub fn asked_for(self, duration: Duration) -> Self {
        ReportContext {
            duration: Some(duration),
            ..self
        }
    }
}

/// The report of `m` as `judgement` judged it, in `format`.
pub fn render(m: &Monitor, judgement: &Judgement, ctx: &ReportContext, format: Format) -> String {
    let report = Report { m, judgement, ctx };
    match format {
        Format::Text => text::render(&report),
        Format::Json => json::render(&report),
        Format::Markdown => markdown::render(&report),
        Format::Plugin => plugin::render(&report),
    }
}

/// One agent of a fleet report: its model, its judgement, and where it was watched (its id is
/// the context's agent).
pub struct Member<'a> {
    pub monitor: &'a Monitor,
    pub judgement: &'a Judgement,
    pub ctx: &'a ReportContext,
}

/// The report of a fleet in `format`: the worst verdict, the agents in trouble, then every agent
/// as the single-agent report says it. One agent is reported exactly as [`render`] does.
pub fn render_fleet(members: &[Member], format: Format) -> String {
    let reports: Vec<Report> = members
        .iter()
        .map(|m| Report {
            m: m.monitor,
            judgement: m.judgement,
            ctx: m.ctx,
        })
        .collect();
    if let [one] = reports.as_slice() {
        return render(one.m, one.judgement, one.ctx, format);
    }
    let fleet = FleetReport { reports };
    match format {
        Format::Text => text::render_fleet(&fleet),
        Format::Json => json::render_fleet(&fleet),
        Format::Markdown => markdown::render_fleet(&fleet),
        Format::Plugin => plugin::render_fleet(&fleet),
    }
}

/// What every format reads of a fleet.
struct FleetReport<'a> {
    reports: Vec<Report<'a>>,
}

impl FleetReport<'_> {
    /// The worst verdict of any agent (unknown for none).
    fn verdict(&self) -> Verdict {
        self.reports
            .iter()
            .map(Report::verdict)
            .reduce(Verdict::worst)
            .unwrap_or(Verdict::Unknown)
    }

    /// The agents that are not ok, worst first (then in configuration order).
    fn in_trouble(&self) -> Vec<&Report<'_>> {
        let mut trouble: Vec<&Report> = self
            .reports
            .iter()
            .filter(|r| r.verdict() != Verdict::Ok)
            .collect();
        trouble.sort_by_key(|r| std::cmp::Reverse(r.verdict().badness()));
        trouble
    }

    /// `3 agents: heartbeat-flood-02 critical (heartbeat-flood), …` or `3 agents, all ok`.
    fn headline(&self) -> String {
        let n = self.reports.len();
        let trouble = self.in_trouble();
        if trouble.is_empty() {
            return format!("{n} agents, all ok");
        }
        let named: Vec<String> = trouble
            .iter()
            .map(|r| {
                format!(
                    "{} {} ({})",
                    sanitize::line(&r.ctx.agent),
                    r.verdict().word(),
                    sanitize::line(&r.judgement.headline)
                )
            })
            .collect();
        format!("{n} agents: {}", named.join("; "))
    }
}

/// What every format reads.
struct Report<'a> {
    m: &'a Monitor,
    judgement: &'a Judgement,
    ctx: &'a ReportContext,
}

impl Report<'_> {
    fn verdict(&self) -> Verdict {
        self.judgement.verdict
    }

    /// A duration of real time as the watched system counts it.
    fn shown(&self, real: Duration) -> Duration {
        self.m.thresholds.shown(real)
    }

    /// How long the window was, in the watched system's seconds.
    fn observed(&self) -> Duration {
        self.shown(self.m.elapsed())
    }

    /// The exact counters, the elapsed time in the watched system's seconds.
    fn stats(&self) -> Stats {
        Stats {
            elapsed_s: self.observed().as_secs_f64(),
            ..self.m.stats()
        }
    }

    /// The wall-clock times of the first and the newest observation.
    fn window(&self) -> (Option<DateTime<Utc>>, DateTime<Utc>) {
        (self.m.started_wall, self.m.now_wall)
    }

    /// Simulated seconds per real second, when that is not 1.
    fn time_scale(&self) -> Option<f64> {
        let scale = self.m.thresholds.time_scale;
        (scale.is_finite() && scale > 0.0 && (scale - 1.0).abs() > f64::EPSILON).then_some(scale)
    }

    /// `demo: stall, 20× real time (simulated seconds)`: the source and how its time is counted.
    fn source(&self) -> String {
        match self.time_scale() {
            Some(scale) => format!(
                "{}, {scale}× real time (durations in simulated seconds)",
                self.ctx.origin
            ),
            None => self.ctx.origin.to_string(),
        }
    }

    /// The command that watches the same thing again for as long, runnable as written (the key
    /// is the one thing left to fill in) and reporting in `format`.
    fn reproduce(&self, format: Format) -> String {
        let ctx = self.ctx;
        let mut words: Vec<String> = Vec::new();
        let mut flag = |name: &str, value: &str| {
            words.push(name.to_owned());
            words.push(shell_word(&sanitize::line(value)));
        };
        let key = match &ctx.origin {
            Origin::Live => {
                flag("--base-url", &ctx.base_url);
                flag("--agent", &ctx.agent);
                "INBOXTOP_API_KEY=… "
            }
            Origin::Demo { scenario } => {
                flag("--scenario", scenario.name());
                flag("--time-scale", &self.m.thresholds.time_scale.to_string());
                ""
            }
            Origin::Recording { path, .. } => {
                flag("--from", &path.display().to_string());
                ""
            }
        };
        if !matches!(ctx.origin, Origin::Recording { .. }) {
            for setting in &ctx.chosen {
                flag(setting.flag, &setting.value);
            }
            let window = ctx.duration.unwrap_or_else(|| self.observed());
            let seconds = window.as_secs_f64().round().max(1.0);
            flag("--duration", &format!("{seconds}s"));
        }
        flag("--format", format.name());
        format!("{key}inboxtop check {}", words.join(" "))
    }
}

/// `s` as one word of a POSIX shell command: as it is when it is plain, in single quotes otherwise.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// ` (watch at least 20 s more)` after a check that more watching could still show.
fn watch_more(check: &Check) -> String {
    match check.watch_for {
        Some(more) if !more.is_zero() => format!(" (watch at least {} more)", seconds(more)),
        _ => String::new(),
    }
}

/// `0.8 s`, `12 s`, `2m05s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else if s >= 10.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// A JSON value with every string (keys too) sanitized.
fn sanitized(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(sanitize::line(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(sanitized).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (sanitize::line(k).into_owned(), sanitized(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An evidence value as one line of text: strings without their quotes.
fn evidence_text(v: &Value) -> String {
    match v {
        Value::String(s) => sanitize::line(s).into_owned(),
        other => sanitize::line(&sanitized(other).to_string()).into_owned(),
    }
}

#[cfg(test)]
mod tests;
