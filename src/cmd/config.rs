//! `config`: the effective settings, one per line, each with where it came from; the key masked.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::config::Settings;
use crate::sanitize;

pub(super) fn run(settings: &Settings) -> ExitCode {
    super::print_out(render(settings));
    ExitCode::SUCCESS
}

/// `NAME  VALUE  SOURCE` in aligned columns. Values and paths come from files and the
/// environment, so they are sanitized before they reach the terminal.
fn render(settings: &Settings) -> String {
    let rows: Vec<(&str, String, String)> = settings
        .rows()
        .into_iter()
        .map(|row| {
            let value = sanitize::line(&row.value).into_owned();
            let source = sanitize::line(&row.source.to_string()).into_owned();
            (row.name, value, source)
        })
        .collect();
    let name_width = rows.iter().map(|(name, ..)| name.len()).max().unwrap_or(0);
    let value_width = rows
        .iter()
        .map(|(_, value, _)| value.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .fold(String::new(), |mut text, (name, value, source)| {
            let _ = writeln!(text, "{name:<name_width$}  {value:<value_width$}  {source}");
            text
        })
}
