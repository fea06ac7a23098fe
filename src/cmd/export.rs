//! The report as a file (`e` in the TUI), and what a report says about where its observations
//! came from: every [`ReportContext`] is made by [`ReportContext::new`] from one of the two
//! functions here (a watched server or simulator, `Watched::report_context`, uses the first).

use std::path::Path;

use crate::app::App;
use crate::cli::duration_text;
use crate::config::{Settings, Source, Sourced};
use crate::monitor::Monitor;
use crate::monitor::verdict::judge;
use crate::record::Header;
use crate::report::{self, Format, Origin, ReportContext, Setting};

/// The settings someone chose (by flag, environment or config file) that shape what is watched
/// and how it is judged, as the flags that choose them again. Defaults are left out, and so is
/// whatever a demo fitted to the simulator.
pub(super) fn chosen_settings(s: &Settings) -> Vec<Setting> {
    fn chosen<T>(
        flag: &'static str,
        setting: &Sourced<T>,
        text: impl Fn(&T) -> String,
    ) -> Option<Setting> {
        (setting.source != Source::Default).then(|| Setting {
            flag,
            value: text(&setting.value),
        })
    }
    [
        chosen("--agent-header", &s.agent_header, String::clone),
        chosen("--stream-path", &s.stream_path, String::clone),
        chosen("--peek-path", &s.peek_path, String::clone),
        chosen("--poll-interval", &s.poll_interval, |d| duration_text(*d)),
        chosen("--backoff-cap", &s.backoff_cap, |d| duration_text(*d)),
        chosen("--expect-heartbeat", &s.expect_heartbeat, |(lo, hi)| {
            format!("{}..{}", duration_text(*lo), duration_text(*hi))
        }),
        chosen("--delivery-grace", &s.delivery_grace, |d| duration_text(*d)),
        chosen("--max-event-bytes", &s.max_event_bytes, usize::to_string),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The context of a report about a recording (`check --from`, `replay`): judged with the
/// thresholds it was recorded with, so no setting of this run matters.
pub(super) fn recording_context(path: &Path, header: &Header) -> ReportContext {
    let origin = Origin::Recording {
        path: path.to_owned(),
        recorded: header.source.clone(),
    };
    ReportContext::new(origin, &header.base_url, &header.agent, vec![])
}

/// `e`: writes the markdown report and its JSON twin to the current directory; the footer says
/// where.
pub(super) fn status(app: &App, context: &ReportContext) -> String {
    match export(app.monitor(), context, Path::new(".")) {
        Ok(path) => format!("report written to {path}"),
        Err(e) => format!("export failed: {e}"),
    }
}

/// Writes `inboxtop-report-<timestamp>.md` and `.json` into `dir`; returns the markdown path.
fn export(monitor: &Monitor, context: &ReportContext, dir: &Path) -> std::io::Result<String> {
    let stamp = monitor.now_wall.format("%Y%m%dT%H%M%SZ");
    let base = dir.join(format!("inboxtop-report-{stamp}"));
    let md = base.with_extension("md");
    let judgement = judge(monitor);
    std::fs::write(
        &md,
        report::render(monitor, &judgement, context, Format::Markdown),
    )?;
    std::fs::write(
        base.with_extension("json"),
        report::render(monitor, &judgement, context, Format::Json),
    )?;
    Ok(md.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Thresholds;
    use crate::observation::{Kind, Mono, Observation};

    #[test]
    fn chosen_settings_come_back_as_the_flags_that_choose_them() {
        use crate::cli::{MonitorArgs, ServerArgs};
        use crate::config::{self, ConfigFile, Environment, FileConfig};
        use std::time::Duration;
        let flags = MonitorArgs {
            stream_path: Some("/sse".into()),
            expect_heartbeat: Some((Duration::from_secs(1), Duration::from_secs(2))),
            ..MonitorArgs::default()
        };
        let file: FileConfig = toml::from_str("poll_interval = \"90s\"").unwrap();
        let read = Sourced {
            value: ConfigFile::Read("config.toml".into()),
            source: Source::Default,
        };
        let settings = config::merge(
            &flags,
            &ServerArgs::default(),
            &Environment::default(),
            read,
            file,
        )
        .unwrap();
        let chosen = chosen_settings(&settings);
        let pairs: Vec<(&str, &str)> = chosen.iter().map(|s| (s.flag, s.value.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("--stream-path", "/sse"),
                ("--poll-interval", "1m 30s"),
                ("--expect-heartbeat", "1s..2s"),
            ]
        );
    }

    #[test]
    fn export_writes_the_markdown_report_and_its_json_twin() {
        let dir = std::env::temp_dir().join(format!("inboxtop-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut monitor = Monitor::new(Thresholds::default());
        let wall = "2026-11-25T03:04:05Z".parse().unwrap();
        monitor.apply(&Observation::new(
            Mono::ZERO,
            wall,
            Kind::ConnectAttempt {
                session: 1,
                last_event_id: None,
            },
        ));
        let context = ReportContext::new(
            Origin::Live,
            "http://user:hunter2@api.example.com",
            "demo",
            vec![],
        );
        let md = export(&monitor, &context, &dir).unwrap();
        assert!(md.ends_with("inboxtop-report-20261125T030405Z.md"), "{md}");
        let text = std::fs::read_to_string(&md).unwrap();
        assert!(text.contains("## Environment") && text.contains("api.example.com"));
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("inboxtop-report-20261125T030405Z.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(json["stats"]["sessions"], 1);
        assert!(!text.contains("hunter2") && !json.to_string().contains("hunter2"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
