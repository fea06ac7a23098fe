//! The session family: another client taking the stream over, a reconnect loop of short
//! sessions, and sessions an intermediary cuts at one fixed age.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

use super::{Finding, FindingKind, Severity, Thresholds, ev, median, min_max, secs_of, shown_s};
use crate::monitor::Monitor;
use crate::monitor::connection::{Session, SessionEnd};
use crate::observation::CloseReason;
use crate::sanitize;

/// Sessions ending at one age make an idle timeout from this many on.
const IDLE_TIMEOUT_SESSIONS: usize = 2;
/// Just two sessions make one only when their ages agree this many times closer than the idle
/// spread: a proxy cuts at its configured age give or take a round trip, and a pair of chance
/// ages (a flaky server's resets, 20-40 s) rarely lands that close; from three on, the spread.
const PAIR_TIGHTNESS: f64 = 5.0;
/// The newest long sessions judged for an idle timeout.
const IDLE_TIMEOUT_WINDOW: usize = 10;

/// Sessions that opened and ended, not closed by inboxtop itself, with their open ages; oldest
/// first.
pub(super) fn ended_ages(m: &Monitor) -> Vec<(&Session, Duration)> {
    m.connection
        .ended_sessions()
        .filter(|s| !matches!(s.end, Some(SessionEnd::Closed(CloseReason::Cancelled))))
        .filter_map(|s| Some((s, s.open_for(m.now)?)))
        .collect()
}

/// How many of `sessions` ended for each reason.
fn reason_counts(sessions: &[(&Session, Duration)]) -> Value {
    let mut counts = BTreeMap::<String, u64>::new();
    for (s, _) in sessions {
        let label = s
            .end
            .as_ref()
            .map(super::super::connection::SessionEnd::label)
            .unwrap_or_default();
        *counts
            .entry(sanitize::line(&label).into_owned())
            .or_default() += 1;
    }
    json!(counts)
}

/// The youngest, median and oldest age of `sessions`, in real seconds.
fn age_stats(sessions: &[(&Session, Duration)]) -> (f64, f64, f64) {
    let ages: Vec<f64> = sessions.iter().map(|(_, a)| a.as_secs_f64()).collect();
    let (min, max) = min_max(&ages);
    (min, median(ages), max)
}

/// The ages of `sessions` as evidence, in the watched system's seconds.
fn age_evidence(t: &Thresholds, sessions: &[(&Session, Duration)]) -> [(&'static str, Value); 3] {
    let (min, med, max) = age_stats(sessions);
    [
        ("age_min_s", secs_of(t, min)),
        ("age_median_s", secs_of(t, med)),
        ("age_max_s", secs_of(t, max)),
    ]
}

/// Sessions that open and die young, again and again: a reconnect loop.
pub(super) fn short_sessions(m: &Monitor) -> Option<Finding> {
    let short: Vec<_> = ended_ages(m)
        .into_iter()
        .filter(|(_, age)| *age < m.thresholds.short_session)
        .collect();
    if short.len() < m.thresholds.short_sessions {
        return None;
    }
    let t = &m.thresholds;
    let (_, med, _) = age_stats(&short);
    // A loop from the `short_sessions`-th short session on.
    let raised = short[t.short_sessions.clamp(1, short.len()) - 1].0;
    let [age_min, age_median, age_max] = age_evidence(t, &short);
    Some(Finding {
        kind: FindingKind::ShortSessions,
        severity: Severity::Error,
        first_seen: Some(short[0].0.attempted_wall),
        last_seen: short[short.len() - 1].0.ended_wall,
        raised_at: raised.ended_wall,
        summary: format!(
            "reconnect loop: {} sessions lived under {:.1} s (median {:.2} s), {} reconnects",
            short.len(),
            shown_s(t, t.short_session),
            t.shown_secs(med),
            m.connection.reconnects()
        ),
        evidence: ev(&[
            ("short_sessions", json!(short.len())),
            age_min,
            age_median,
            age_max,
            ("close_reasons", reason_counts(&short)),
            ("reconnects", json!(m.connection.reconnects())),
            ("sessions_total", json!(m.connection.attempts())),
        ]),
    })
}

/// Sessions the server ended cleanly at irregular ages make a takeover from this many on.
const TAKEOVER_SESSIONS: usize = 3;

/// Sessions the server ended cleanly (EOF) within a heartbeat band of opening, without having
/// flooded them first (a server that sends a burst and closes is a flood, whatever ends it).
fn taken_over(m: &Monitor) -> Vec<(&Session, Duration)> {
    let t = &m.thresholds;
    ended_ages(m)
        .into_iter()
        .filter(|(s, age)| {
            matches!(s.end, Some(SessionEnd::Closed(CloseReason::Eof)))
                && *age <= t.heartbeat_max
                && (s.heartbeats as usize) < t.flood_beats
        })
        .collect()
}

/// Enough sessions, their ages further apart than `spread` (a fraction of the median): not the
/// constant age of a timeout.
fn at_irregular_ages(sessions: &[(&Session, Duration)], spread: f64) -> bool {
    let (min, med, max) = age_stats(sessions);
    sessions.len() >= TAKEOVER_SESSIONS && max - min > med * spread
}

/// The server ends the stream cleanly soon after it opens, again and again, at irregular ages:
/// another client connecting with the same agent id, as `SignalDock` keeps one stream per agent id
/// and a new connection ends the one before. That client may be inboxtop itself (watching with
/// the agent's own id takes the agent's stream over), or the agent, taking it back.
pub(super) fn takeover(m: &Monitor) -> Option<Finding> {
    let taken = taken_over(m);
    let spread = m.thresholds.idle_spread;
    if !at_irregular_ages(&taken, spread) {
        return None;
    }
    let t = &m.thresholds;
    let (min, _, max) = age_stats(&taken);
    let [age_min, age_median, age_max] = age_evidence(t, &taken);
    // Concluded when enough of them first showed irregular ages.
    let raised = (TAKEOVER_SESSIONS..=taken.len())
        .find(|&n| at_irregular_ages(&taken[..n], spread))
        .and_then(|n| taken[n - 1].0.ended_wall);
    Some(Finding {
        kind: FindingKind::SessionTakeover,
        severity: Severity::Error,
        first_seen: Some(taken[0].0.attempted_wall),
        last_seen: taken[taken.len() - 1].0.ended_wall,
        raised_at: raised,
        summary: format!(
            "the server ended {} streams cleanly {:.1}–{:.1} s after they opened, at irregular ages: another client is taking this agent's stream over — inboxtop itself, if it watches with the agent's own id",
            taken.len(),
            t.shown_secs(min),
            t.shown_secs(max)
        ),
        evidence: ev(&[
            ("sessions_ended_cleanly", json!(taken.len())),
            age_min,
            age_median,
            age_max,
            ("reconnects", json!(m.connection.reconnects())),
            (
                "hint",
                json!(
                    "SignalDock keeps one stream per agent id: a new connection ends the previous one, and each leaves its heartbeat task behind (see stacked-heartbeats). If the agent runs, watch it with --no-stream (peek only) or another agent id; otherwise find the other client using this agent id"
                ),
            ),
        ]),
    })
}

/// Enough sessions, their ages within `spread` (a fraction of the median) of each other; a
/// [`PAIR_TIGHTNESS`] times closer when they are only two.
fn at_one_age(sessions: &[(&Session, Duration)], spread: f64) -> bool {
    let (min, med, max) = age_stats(sessions);
    let allowed = if sessions.len() == IDLE_TIMEOUT_SESSIONS {
        spread / PAIR_TIGHTNESS
    } else {
        spread
    };
    sessions.len() >= IDLE_TIMEOUT_SESSIONS && max - min <= med * allowed
}

/// Several sessions ending at the same, not short, age: an intermediary's idle/age timeout.
/// Sessions our own read timeout ended are left out: their constant age is ours.
pub(super) fn proxy_idle_timeout(m: &Monitor) -> Option<Finding> {
    let long: Vec<_> = ended_ages(m)
        .into_iter()
        .filter(|(_, age)| *age >= m.thresholds.short_session)
        .filter(|(s, _)| !matches!(s.end, Some(SessionEnd::Closed(CloseReason::Timeout { .. }))))
        .collect();
    let recent = &long[long.len().saturating_sub(IDLE_TIMEOUT_WINDOW)..];
    let spread = m.thresholds.idle_spread;
    if !at_one_age(recent, spread) {
        return None;
    }
    let t = &m.thresholds;
    let (min, med, max) = age_stats(recent);
    let [age_min, age_median, age_max] = age_evidence(t, recent);
    // Concluded when the oldest of them first made enough sessions at one age.
    let raised = (IDLE_TIMEOUT_SESSIONS..=recent.len())
        .find(|&n| at_one_age(&recent[..n], spread))
        .and_then(|n| recent[n - 1].0.ended_wall);
    let hint = "an intermediary cuts connections at a fixed age (Cloudflare's idle timeout is 100 s): send heartbeats more often than that";
    Some(Finding {
        kind: FindingKind::ProxyIdleTimeout,
        severity: Severity::Warning,
        first_seen: Some(recent[0].0.attempted_wall),
        last_seen: recent[recent.len() - 1].0.ended_wall,
        raised_at: raised,
        summary: format!(
            "{} sessions ended at the same age ≈{:.1} s (spread {:.2} s)",
            recent.len(),
            t.shown_secs(med),
            t.shown_secs(max - min)
        ),
        evidence: ev(&[
            ("sessions", json!(recent.len())),
            age_median,
            age_min,
            age_max,
            ("close_reasons", reason_counts(recent)),
            ("hint", json!(hint)),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Timeline, evidence};

    /// Sessions open for `ages_ms`, each with one heartbeat, ended by `reason`, 500 ms apart.
    fn sessions(ages_ms: &[u64], reason: &CloseReason) -> Timeline {
        let mut t = Timeline::new();
        let mut now = 0;
        for (i, age) in ages_ms.iter().enumerate() {
            let id = i as u64 + 1;
            t.open(now, id);
            t.heartbeat(now + 1, id, now + 1);
            now += age;
            t.close(now, id, reason.clone());
            now += 500;
        }
        t
    }

    fn reset() -> CloseReason {
        CloseReason::Reset {
            detail: "cut".into(),
        }
    }

    #[test]
    fn a_reconnect_loop_needs_three_short_sessions() {
        assert!(!sessions(&[1000, 1000], &CloseReason::Eof).has(FindingKind::ShortSessions));
        assert!(sessions(&[1000, 1000, 1000], &CloseReason::Eof).has(FindingKind::ShortSessions));
        assert!(
            !sessions(&[11_000, 11_000, 11_000], &CloseReason::Eof).has(FindingKind::ShortSessions)
        );
    }

    #[test]
    fn a_reconnect_loop_is_raised_when_the_third_short_session_ends() {
        // Sessions end at 1 s, 2.5 s, 4 s and 5.5 s.
        let t = sessions(&[1000, 1000, 1000, 1000], &CloseReason::Eof);
        let f = t.find(FindingKind::ShortSessions).unwrap();
        assert_eq!(evidence(&f, "short_sessions"), 4);
        assert_eq!(f.first_seen, Some(t.wall(0)));
        assert_eq!(f.raised_at, Some(t.wall(4000)));
        assert_eq!(f.last_seen, Some(t.wall(5500)));
    }

    #[test]
    fn a_takeover_is_three_clean_ends_at_irregular_young_ages() {
        let ages = [1200, 3400, 2100];
        assert!(!sessions(&ages[..2], &CloseReason::Eof).has(FindingKind::SessionTakeover));
        let t = sessions(&ages, &CloseReason::Eof);
        let f = t
            .find(FindingKind::SessionTakeover)
            .expect("three irregular clean ends");
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(evidence(&f, "sessions_ended_cleanly"), 3);
        assert_eq!(evidence(&f, "age_min_s"), 1.2);
        assert_eq!(evidence(&f, "age_max_s"), 3.4);
        assert!(f.summary.contains("inboxtop itself"), "{}", f.summary);
        // Sessions end at 1.2 s, 5.1 s and 7.7 s.
        assert_eq!(f.raised_at, Some(t.wall(7700)));
        assert_eq!(f.first_seen, Some(t.wall(0)));
        // The reconnect loop it makes is shown too, the takeover first.
        let kinds: Vec<_> = t.findings().into_iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            vec![FindingKind::SessionTakeover, FindingKind::ShortSessions]
        );
    }

    #[test]
    fn a_takeover_needs_ages_further_apart_than_the_idle_spread() {
        // 5 % of the 20 s median is 1 s.
        assert!(
            !sessions(&[19_500, 20_000, 20_500], &CloseReason::Eof)
                .has(FindingKind::SessionTakeover)
        );
        assert!(
            sessions(&[19_500, 20_000, 20_501], &CloseReason::Eof)
                .has(FindingKind::SessionTakeover)
        );
    }

    #[test]
    fn a_takeover_ends_sessions_cleanly_within_a_band() {
        assert!(!sessions(&[1200, 3400, 2100], &reset()).has(FindingKind::SessionTakeover));
        let older = sessions(&[12_000, 30_001, 21_000], &CloseReason::Eof);
        assert!(
            !older.has(FindingKind::SessionTakeover),
            "one outlived the band"
        );
        let within = sessions(&[12_000, 30_000, 21_000], &CloseReason::Eof);
        assert!(within.has(FindingKind::SessionTakeover));
    }

    #[test]
    fn sessions_a_flood_filled_before_closing_are_no_takeover() {
        let mut t = Timeline::new();
        let mut now = 0;
        for (i, age) in [1200, 3400, 2100].into_iter().enumerate() {
            let id = i as u64 + 1;
            t.open(now, id);
            for k in 0..5 {
                t.heartbeat(now + 100 + k * 200, id, now + 100 + k * 200);
            }
            now += age;
            t.close(now, id, CloseReason::Eof);
            now += 500;
        }
        assert!(t.has(FindingKind::HeartbeatFlood));
        assert!(!t.has(FindingKind::SessionTakeover));
    }

    #[test]
    fn idle_timeout_is_sessions_ending_at_one_age() {
        assert!(
            sessions(&[100_000, 100_500, 101_000], &reset()).has(FindingKind::ProxyIdleTimeout)
        );
        assert!(
            !sessions(&[100_000, 110_000, 120_000], &reset()).has(FindingKind::ProxyIdleTimeout)
        );
        assert!(sessions(&[100_000, 100_000], &reset()).has(FindingKind::ProxyIdleTimeout));
        assert!(!sessions(&[100_000], &reset()).has(FindingKind::ProxyIdleTimeout));
        // Our own read timeout ends sessions at a constant age too; that is not a proxy.
        let ours = CloseReason::Timeout { idle_ms: 90_000 };
        assert!(!sessions(&[100_000, 100_000, 100_000], &ours).has(FindingKind::ProxyIdleTimeout));
    }

    #[test]
    fn two_sessions_are_an_idle_timeout_only_within_a_fifth_of_the_spread() {
        // 5 % / 5 = 1 % of the 101 s median is 1.01 s.
        assert!(sessions(&[100_000, 101_000], &reset()).has(FindingKind::ProxyIdleTimeout));
        assert!(!sessions(&[100_000, 101_100], &reset()).has(FindingKind::ProxyIdleTimeout));
        // A third at the same age makes the looser pair one age after all.
        assert!(
            sessions(&[100_000, 101_100, 100_500], &reset()).has(FindingKind::ProxyIdleTimeout)
        );
    }

    #[test]
    fn an_idle_timeout_is_raised_when_the_second_session_at_that_age_ends() {
        // Sessions end at 100 s, 200.8 s, 302.3 s and 403 s.
        let t = sessions(&[100_000, 100_300, 101_000, 100_200], &reset());
        let f = t.find(FindingKind::ProxyIdleTimeout).unwrap();
        assert_eq!(evidence(&f, "sessions"), 4);
        assert_eq!(f.raised_at, Some(t.wall(200_800)));
        assert_eq!(f.last_seen, Some(t.wall(403_000)));
    }

    #[test]
    fn a_pair_too_far_apart_waits_for_the_third_session() {
        // 100 s and 101.5 s (1.5 % apart), then 100.5 s: one age from the third end, at 303 s.
        let t = sessions(&[100_000, 101_500, 100_500], &reset());
        let f = t.find(FindingKind::ProxyIdleTimeout).unwrap();
        assert_eq!(f.raised_at, Some(t.wall(303_000)));
    }

    #[test]
    fn an_idle_timeout_judges_the_newest_ten_long_sessions() {
        // Two odd ages, then ten at one age: the odd ones are out of the window.
        let mut ages = vec![150_000, 50_000];
        ages.extend([100_000; 10]);
        let t = sessions(&ages, &reset());
        let f = t.find(FindingKind::ProxyIdleTimeout).unwrap();
        assert_eq!(evidence(&f, "sessions"), 10);
        // Sessions 3 and 4 are the first two of the window: raised when session 4 ended.
        let fourth_end = 150_000 + 50_000 + 2 * 100_000 + 3 * 500;
        assert_eq!(f.raised_at, Some(t.wall(fourth_end)));
    }
}
