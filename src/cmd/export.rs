//! The report as a file (`e` in the TUI), and the one place a report's context is assembled.

use std::path::Path;

use crate::app::App;
use crate::monitor::Monitor;
use crate::record::{self, Header};
use crate::report::{self, Format, ReportContext};

/// What a report says about where its observations came from. Credentials in the URL never
/// reach a report.
pub(super) fn report_context(base_url: &str, agent: &str, source: &str) -> ReportContext {
    ReportContext {
        base_url: record::without_userinfo(base_url),
        agent: agent.into(),
        client_version: env!("CARGO_PKG_VERSION").into(),
        source: source.into(),
    }
}

/// The context of a report about a recording (`check --from`, `replay`).
pub(super) fn recording_context(path: &Path, header: &Header) -> ReportContext {
    let source = format!("recording {} ({})", path.display(), header.source);
    report_context(&header.base_url, &header.agent, &source)
}

/// `e`: writes the markdown report and its JSON twin to the current directory; the footer says
/// where.
pub(super) fn status(app: &App, context: &ReportContext) -> String {
    match export(&app.monitor, context, Path::new(".")) {
        Ok(path) => format!("report written to {path}"),
        Err(e) => format!("export failed: {e}"),
    }
}

/// Writes `inboxtop-report-<timestamp>.md` and `.json` into `dir`; returns the markdown path.
fn export(monitor: &Monitor, context: &ReportContext, dir: &Path) -> std::io::Result<String> {
    let stamp = monitor.now_wall.format("%Y%m%dT%H%M%SZ");
    let base = dir.join(format!("inboxtop-report-{stamp}"));
    let md = base.with_extension("md");
    std::fs::write(&md, report::render(monitor, context, Format::Markdown))?;
    std::fs::write(
        base.with_extension("json"),
        report::render(monitor, context, Format::Json),
    )?;
    Ok(md.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Thresholds;
    use crate::observation::{Kind, Mono, Observation};

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
        let context = report_context("http://user:hunter2@api.example.com", "demo", "live");
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
