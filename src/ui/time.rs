//! Which clock the TUI's times are shown on: local time for a person at the terminal, UTC with
//! `--utc` (and in tests, so snapshots are the same on every machine).

use chrono::{DateTime, Local, SecondsFormat, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// The default of `ViewState`, so a view built without settings is deterministic; the TUI
    /// switches to local time unless `--utc` is given.
    #[default]
    Utc,
    Local,
}

impl Zone {
    /// `Local` unless `utc`.
    pub fn from_utc_setting(utc: bool) -> Zone {
        if utc { Zone::Utc } else { Zone::Local }
    }

    /// `t` written with a `chrono` format string, on this clock.
    pub fn format(self, t: DateTime<Utc>, fmt: &str) -> String {
        match self {
            Zone::Utc => t.format(fmt).to_string(),
            Zone::Local => t.with_timezone(&Local).format(fmt).to_string(),
        }
    }

    /// `03:00:15` (rows of a list).
    pub fn clock(self, t: DateTime<Utc>) -> String {
        self.format(t, "%H:%M:%S")
    }

    /// `03:00:15.250` (the event log).
    pub fn clock_ms(self, t: DateTime<Utc>) -> String {
        self.format(t, "%H:%M:%S%.3f")
    }

    /// `2026-11-25T03:00:15.250Z`, or with the local offset (a detail popup).
    pub fn stamp(self, t: DateTime<Utc>) -> String {
        match self {
            Zone::Utc => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            Zone::Local => t
                .with_timezone(&Local)
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_is_written_with_z_and_local_with_the_local_offset() {
        let t: DateTime<Utc> = "2026-11-25T03:00:15.25Z".parse().unwrap();
        assert_eq!(Zone::Utc.stamp(t), "2026-11-25T03:00:15.250Z");
        assert_eq!(Zone::Utc.clock_ms(t), "03:00:15.250");
        assert_eq!(Zone::Utc.clock(t), "03:00:15");
        let local = t.with_timezone(&Local);
        assert_eq!(
            Zone::Local.stamp(t),
            local.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        assert_eq!(Zone::Local.clock(t), local.format("%H:%M:%S").to_string());
        assert_eq!(Zone::from_utc_setting(true), Zone::Utc);
        assert_eq!(Zone::from_utc_setting(false), Zone::Local);
    }
}
