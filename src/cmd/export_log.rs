//! `E`: the event log ring as files — NDJSON (one entry a line) and CSV, side by side in the
//! current directory. Every text field came from the network and is sanitized first; times are
//! RFC 3339 in UTC whatever clock the TUI shows, so the files sort and join with other logs.

use chrono::SecondsFormat;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::monitor::Monitor;
use crate::monitor::log::{EntryKind, LogEntry};
use crate::sanitize;

/// The CSV's first line.
const CSV_HEADER: &str = "time,session,kind,type,id,data,bytes";

/// Writes both files to the current directory; returns what the footer should say.
pub(super) fn status(monitor: &Monitor) -> String {
    match export(monitor, Path::new(".")) {
        Ok((ndjson, entries)) => format!("{entries} entries → {ndjson} and .csv"),
        Err(e) => format!("event log export failed: {e}"),
    }
}

/// Writes `inboxtop-events-<timestamp>.ndjson` and `.csv` into `dir`; returns the NDJSON path and
/// how many entries each holds.
fn export(monitor: &Monitor, dir: &Path) -> io::Result<(String, usize)> {
    let stamp = monitor.now_wall.format("%Y%m%dT%H%M%SZ");
    let base = dir.join(format!("inboxtop-events-{stamp}"));
    let ndjson = base.with_extension("ndjson");
    let entries = &monitor.log.entries;
    write_file(&ndjson, |w| write_ndjson(entries.iter(), w))?;
    write_file(&base.with_extension("csv"), |w| {
        write_csv(entries.iter(), w)
    })?;
    Ok((ndjson.display().to_string(), entries.len()))
}

fn write_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    write(&mut w)?;
    w.flush()
}

/// One log entry as exported, its text sanitized.
#[derive(Debug, Serialize)]
struct Record {
    time: String,
    session: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    event_type: String,
    id: Option<String>,
    data: String,
    /// The data's true length: the log keeps at most 4096 characters of it.
    bytes: usize,
}

impl Record {
    fn of(e: &LogEntry) -> Record {
        Record {
            time: e.wall.to_rfc3339_opts(SecondsFormat::Millis, true),
            session: e.session,
            kind: match e.kind {
                EntryKind::Event => "event",
                EntryKind::Comment => "comment",
                EntryKind::Lifecycle => "lifecycle",
            },
            event_type: sanitize::line(&e.name).into_owned(),
            id: e.id.as_deref().map(|id| sanitize::line(id).into_owned()),
            data: sanitize::line(&e.data).into_owned(),
            bytes: e.data_len,
        }
    }
}

/// One JSON object a line.
fn write_ndjson<'a>(
    entries: impl Iterator<Item = &'a LogEntry>,
    w: &mut impl Write,
) -> io::Result<()> {
    for e in entries {
        serde_json::to_writer(&mut *w, &Record::of(e))?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// RFC 4180 CSV with a header line.
fn write_csv<'a>(
    entries: impl Iterator<Item = &'a LogEntry>,
    w: &mut impl Write,
) -> io::Result<()> {
    write!(w, "{CSV_HEADER}\r\n")?;
    for e in entries.map(Record::of) {
        let fields = [
            e.time,
            e.session.to_string(),
            e.kind.to_owned(),
            csv_text(&e.event_type),
            csv_text(e.id.as_deref().unwrap_or_default()),
            csv_text(&e.data),
            e.bytes.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        write!(w, "{}\r\n", line.join(","))?;
    }
    Ok(())
}

/// Untrusted text for a spreadsheet: a leading `=`, `+`, `-` or `@` would start a formula, so it
/// gets a `'` before it (the usual defence against CSV injection).
fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// A field quoted when it holds a comma, a quote or a line break, its quotes doubled.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Mono;

    fn entry(kind: EntryKind, name: &str, id: Option<&str>, data: &str) -> LogEntry {
        LogEntry {
            t: Mono::ZERO,
            wall: "2026-11-25T03:00:15.25Z".parse().unwrap(),
            session: 3,
            kind,
            name: name.into(),
            id: id.map(Into::into),
            data: data.into(),
            data_len: 1234,
        }
    }

    fn written(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_commas_quotes_and_line_breaks() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\r"), "\"cr\r\"");
        assert_eq!(csv_text("=cmd()"), "'=cmd()");
        assert_eq!(csv_text("@x"), "'@x");
        assert_eq!(csv_text("{\"a\":1}"), "{\"a\":1}");
    }

    #[test]
    fn the_csv_has_a_header_and_one_sanitized_line_per_entry() {
        let entries = [
            entry(
                EntryKind::Event,
                "message",
                Some("m,1"),
                "{\"content\":\"a, \\\"b\\\"\"}",
            ),
            entry(
                EntryKind::Lifecycle,
                "closed",
                None,
                "reset: \u{1b}[2Jboom\nnext",
            ),
            entry(EntryKind::Comment, ":", None, "=HYPERLINK(\"x\")"),
        ];
        let csv = written(|w| write_csv(entries.iter(), w));
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], "time,session,kind,type,id,data,bytes");
        assert_eq!(
            lines[1],
            r#"2026-11-25T03:00:15.250Z,3,event,message,"m,1","{""content"":""a, \""b\""""}",1234"#
        );
        assert_eq!(
            lines[2],
            r"2026-11-25T03:00:15.250Z,3,lifecycle,closed,,reset: \e[2Jboom\nnext,1234"
        );
        assert_eq!(
            lines[3],
            r#"2026-11-25T03:00:15.250Z,3,comment,:,,"'=HYPERLINK(""x"")",1234"#
        );
        assert_eq!(lines.len(), 5, "a final line break, nothing after it");
        assert!(!csv.contains('\u{1b}'));
    }

    #[test]
    fn ndjson_is_one_sanitized_object_a_line() {
        let entries = [
            entry(
                EntryKind::Event,
                "heart\u{1b}beat",
                None,
                "{\"timestamp\":\"t\"}",
            ),
            entry(
                EntryKind::Event,
                "message",
                Some("\u{202e}id"),
                "line\nbreak",
            ),
        ];
        let text = written(|w| write_ndjson(entries.iter(), w));
        assert!(!text.contains('\u{1b}') && !text.contains('\u{202e}'));
        let objects: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(objects.len(), 2);
        assert_eq!(
            objects[0],
            serde_json::json!({
                "time": "2026-11-25T03:00:15.250Z",
                "session": 3,
                "kind": "event",
                "type": "heart\\ebeat",
                "id": null,
                "data": "{\"timestamp\":\"t\"}",
                "bytes": 1234,
            })
        );
        assert_eq!(objects[1]["id"], "\\u{202e}id");
        assert_eq!(objects[1]["data"], "line\\nbreak");
    }

    #[test]
    fn export_writes_both_files_named_by_the_time_of_the_log() {
        let dir = std::env::temp_dir().join(format!("inboxtop-export-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut t = crate::testkit::Timeline::new();
        t.open(0, 1).heartbeat(15_000, 1, 15_000);
        let (path, entries) = export(&t.m, &dir).unwrap();
        assert!(
            path.ends_with("inboxtop-events-20261125T030015Z.ndjson"),
            "{path}"
        );
        assert_eq!(entries, 3, "connect, response, heartbeat");
        let ndjson = std::fs::read_to_string(&path).unwrap();
        assert_eq!(ndjson.lines().count(), 3);
        let csv =
            std::fs::read_to_string(dir.join("inboxtop-events-20261125T030015Z.csv")).unwrap();
        assert_eq!(csv.lines().count(), 4);
        assert!(csv.lines().last().unwrap().contains(",heartbeat,"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
