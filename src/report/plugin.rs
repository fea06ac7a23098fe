//! The Monitoring Plugins form (Nagios, Icinga, Sensu, Checkmk): one line, the service state and
//! the headline, then performance data after a `|`:
//!
//! `INBOXTOP CRITICAL - heartbeat-flood, short-sessions | observed=60s;;;0 sessions=37;;;0 …`
//!
//! Each datum is `'label'=value[UOM];[warn];[crit];[min];[max]` (the guidelines' grammar): labels
//! quoted when they need it, seconds with `s`, counters without a unit. inboxtop's verdict is not
//! a threshold on one figure, so warn and crit stay empty; every figure is at least 0.

use std::time::Duration;

use super::{FleetReport, Report};
use crate::sanitize;

pub(super) fn render(r: &Report) -> String {
    format!(
        "INBOXTOP {} - {} | {}\n",
        r.verdict().upper(),
        text(&r.judgement.headline),
        data(r, "").join(" ")
    )
}

/// The worst verdict, the agents in trouble, and every agent's data with its id before each
/// label (`'heartbeat-flood-02_sessions'=8;;;0`).
pub(super) fn render_fleet(f: &FleetReport) -> String {
    let data: Vec<String> = f
        .reports
        .iter()
        .flat_map(|r| data(r, &format!("{}_", sanitize::line(&r.ctx.agent))))
        .collect();
    format!(
        "INBOXTOP {} - {} | {}\n",
        f.verdict().upper(),
        text(&f.headline()),
        data.join(" ")
    )
}

/// One agent's performance data, each label after `prefix`.
fn data(r: &Report, prefix: &str) -> Vec<String> {
    let s = r.stats();
    let counts = [
        ("sessions", s.sessions),
        ("reconnects", s.reconnects),
        ("heartbeats", s.heartbeats),
        ("streamed", s.messages_streamed),
        ("polled", s.messages_polled),
        ("only_polled", s.messages_only_polled),
        ("http_errors", s.http_errors),
        ("network_errors", s.network_errors),
    ];
    std::iter::once(seconds(&format!("{prefix}observed"), r.observed()))
        .chain(
            counts
                .into_iter()
                .map(|(label, value)| count(&format!("{prefix}{label}"), value)),
        )
        .collect()
}

/// The text part: one line, and no `|`, which would start the performance data.
fn text(s: &str) -> String {
    sanitize::line(s).replace('|', "/")
}

fn count(label: &str, value: u64) -> String {
    format!("{}={value};;;0", quoted(label))
}

fn seconds(label: &str, value: Duration) -> String {
    let s = (value.as_secs_f64() * 1000.0).round() / 1000.0;
    format!("{}={s}s;;;0", quoted(label))
}

/// A label as the guidelines want it: single quotes around anything but letters, digits and `_`,
/// a quote inside doubled.
fn quoted(label: &str) -> String {
    if !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        label.to_owned()
    } else {
        format!("'{}'", label.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_quoted_when_they_need_it() {
        assert_eq!(quoted("only_polled"), "only_polled");
        assert_eq!(quoted("time to first byte"), "'time to first byte'");
        assert_eq!(quoted("it's"), "'it''s'");
        assert_eq!(quoted("a=b"), "'a=b'");
    }

    #[test]
    fn seconds_carry_their_unit_and_counters_none() {
        assert_eq!(
            seconds("observed", Duration::from_millis(60_250)),
            "observed=60.25s;;;0"
        );
        assert_eq!(count("sessions", 37), "sessions=37;;;0");
    }

    #[test]
    fn the_text_part_never_holds_a_pipe_or_a_newline() {
        assert_eq!(text("a|b\nc"), "a/b\\nc");
    }
}
