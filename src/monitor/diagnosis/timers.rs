//! Stacked heartbeat timers: heartbeat payload timestamps that fall into k > 1 interleaved series
//! of one period.
//!
//! `SignalDock` starts a heartbeat task per connection; it fires into whichever stream is current
//! and outlives its own connection. After k connections (a client that reconnects, or two clients
//! on one agent id) k timers of one period feed one stream: the payload timestamps form k regular
//! series, their phases apart. One timer is one series however its heartbeats are received (a
//! buffered burst keeps its payload times regular), and a timer with a loose schedule forms no
//! series at all: neither is stacked.
//!
//! Evenly spaced heartbeats are one timer. Otherwise the period is the spacing of payload times
//! that recurs most; each tick continues the series it is on time for at that period (a few
//! missed ticks allowed: those sent while our stream was down), or starts one; the timers are the
//! series ticking at once.

use chrono::{DateTime, Utc};
use serde_json::json;
use std::ops::RangeInclusive;

use super::{Finding, FindingKind, Severity, Thresholds, ev, median, secs_of};
use crate::monitor::Monitor;

/// The newest heartbeats examined (bounds the work of a diagnosis).
const WINDOW: usize = 256;
/// Spacings are measured from each heartbeat to this many after it: the most timers told apart.
const SUCCESSORS: usize = 24;
/// A timer ticks on time within this many of the watched system's seconds, whatever its period:
/// a server's timer keeps milliseconds. Tight and fixed, because it is what tells timers from
/// chance: jittery heartbeats do not line up within it however many periods apart they are.
const SLACK: f64 = 0.025;
/// ... and within this many real seconds: a scheduler's granularity, which a simulator
/// compressed many times over cannot beat.
const SCHEDULER_SLACK: f64 = 0.002;
/// A heartbeat timer's period is at least half the shortest expected interval (faster is a
/// burst) and at most this many times the longest (slower is too few ticks to be told apart
/// from chance).
const LONGEST_PERIOD_BANDS: f64 = 4.0;
/// Ticks that make a series.
const SERIES_TICKS: usize = 3;
/// Ticks a series may miss in a row and go on (sent while our stream was down).
const MAX_MISSED: f64 = 3.0;
/// The part of the examined heartbeats the series must account for: heartbeats at irregular
/// times are not a stack of regular timers.
const COVERAGE: f64 = 0.8;
/// Heartbeats whose spacings (all but the odd tenth at either end) are within this fraction of
/// their median spacing are one timer, however jittery: at a multiple of its period it would
/// look like several.
const EVEN_SPREAD: f64 = 0.1;
/// Timers whose ticks are named as examples.
const EXAMPLE_TIMERS: usize = 8;

/// A heartbeat's payload time (seconds after the earliest examined, and as written), and when it
/// was received.
#[derive(Clone, Copy)]
struct Tick {
    at: f64,
    sent: DateTime<Utc>,
    received: DateTime<Utc>,
}

/// The ticks of one timer, as indices into the ticks, in time order.
struct Series {
    ticks: Vec<usize>,
    last_at: f64,
}

/// The newest heartbeats with a payload time, in payload time order.
fn ticks(m: &Monitor) -> Vec<Tick> {
    let sent: Vec<_> = m
        .heartbeats
        .recent
        .iter()
        .rev()
        .filter_map(|b| Some((b.sent?, b.wall)))
        .take(WINDOW)
        .collect();
    let Some(origin) = sent.iter().map(|(s, _)| *s).min() else {
        return Vec::new();
    };
    let mut ticks: Vec<Tick> = sent
        .into_iter()
        .map(|(sent, received)| Tick {
            at: (sent - origin).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6,
            sent,
            received,
        })
        .collect();
    ticks.sort_by(|a, b| a.at.total_cmp(&b.at));
    ticks
}

/// Whether the ticks come at one spacing, give or take [`EVEN_SPREAD`].
fn evenly_spaced(ticks: &[Tick]) -> bool {
    let mut gaps: Vec<f64> = ticks.windows(2).map(|w| w[1].at - w[0].at).collect();
    gaps.sort_by(f64::total_cmp);
    let quantile = |q: f64| gaps[((gaps.len() - 1) as f64 * q).round() as usize];
    quantile(0.9) - quantile(0.1) <= EVEN_SPREAD * quantile(0.5)
}

/// How far off (in real seconds) a tick may be and still be on time.
fn slack(t: &Thresholds) -> f64 {
    (SLACK / t.watched_per_real()).max(SCHEDULER_SLACK)
}

/// How many of the sorted `spacings` lie within `slack` of each.
fn support(spacings: &[f64], slack: f64) -> Vec<usize> {
    let (mut lo, mut hi) = (0, 0);
    spacings
        .iter()
        .map(|&d| {
            while spacings[lo] < d - slack {
                lo += 1;
            }
            while hi < spacings.len() && spacings[hi] <= d + slack {
                hi += 1;
            }
            hi - lo
        })
        .collect()
}

/// The period of the timers: the spacing within `range` that recurs most. A multiple of the
/// period recurs nearly as often, so the shortest spacing almost as common as the commonest.
fn common_period(ticks: &[Tick], range: RangeInclusive<f64>, slack: f64) -> Option<f64> {
    let mut spacings: Vec<f64> = ticks
        .iter()
        .enumerate()
        .flat_map(|(i, a)| {
            ticks[i + 1..]
                .iter()
                .take(SUCCESSORS)
                .map(|b| b.at - a.at)
                .take_while(|d| d <= range.end())
        })
        .filter(|d| range.contains(d) && *d > 0.0)
        .collect();
    spacings.sort_by(f64::total_cmp);
    let support = support(&spacings, slack);
    let best = *support.iter().max()?;
    let shortest_common = spacings[support.iter().position(|&s| s * 10 >= best * 9)?];
    let near: Vec<f64> = spacings
        .iter()
        .copied()
        .filter(|d| (d - shortest_common).abs() <= slack)
        .collect();
    Some(median(near))
}

/// How far `gap` is from one to `MAX_MISSED + 1` whole periods.
fn off_beat(gap: f64, period: f64) -> f64 {
    let periods = (gap / period).round();
    if (1.0..=MAX_MISSED + 1.0).contains(&periods) {
        (gap - periods * period).abs()
    } else {
        f64::INFINITY
    }
}

/// Each tick continues the series it is on time for (the closest), or starts one. A series that
/// has missed more ticks than it may is over, and no longer looked at.
fn chain(ticks: &[Tick], period: f64, slack: f64) -> Vec<Series> {
    let mut over: Vec<Series> = Vec::new();
    let mut open: Vec<Series> = Vec::new();
    let overdue = (MAX_MISSED + 1.0) * period + slack;
    for (i, tick) in ticks.iter().enumerate() {
        let (still, done): (Vec<_>, Vec<_>) = open
            .into_iter()
            .partition(|s| tick.at - s.last_at <= overdue);
        over.extend(done);
        open = still;
        let on_time = open
            .iter_mut()
            .map(|s| (off_beat(tick.at - s.last_at, period), s))
            .filter(|(off, _)| *off <= slack)
            .min_by(|a, b| a.0.total_cmp(&b.0));
        match on_time {
            Some((_, s)) => {
                s.ticks.push(i);
                s.last_at = tick.at;
            }
            None => open.push(Series {
                ticks: vec![i],
                last_at: tick.at,
            }),
        }
    }
    over.extend(open);
    over
}

/// How many spans (from, until) are open after each of their starts and ends, in time order (an
/// end before a start at the same time).
fn depths(spans: &[(f64, f64)]) -> Vec<(f64, usize)> {
    let mut edges: Vec<(f64, i32)> = spans
        .iter()
        .flat_map(|&(from, to)| [(from, 1), (to, -1)])
        .collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut open = 0;
    edges
        .into_iter()
        .map(|(at, edge)| {
            open += edge;
            (at, usize::try_from(open).unwrap_or(0))
        })
        .collect()
}

/// Heartbeats from k > 1 timers of one period, ticking side by side.
pub(super) fn stacked(m: &Monitor) -> Option<Finding> {
    let ticks = ticks(m);
    if ticks.len() < 2 * SERIES_TICKS || evenly_spaced(&ticks) {
        return None;
    }
    let t = &m.thresholds;
    let band =
        t.heartbeat_min.as_secs_f64() / 2.0..=t.heartbeat_max.as_secs_f64() * LONGEST_PERIOD_BANDS;
    let slack = slack(t);
    let period = common_period(&ticks, band, slack)?;
    let series = chain(&ticks, period, slack);
    let regular: Vec<&Series> = series
        .iter()
        .filter(|s| s.ticks.len() >= SERIES_TICKS)
        .collect();
    let in_series: usize = regular.iter().map(|s| s.ticks.len()).sum();
    if (in_series as f64) < COVERAGE * ticks.len() as f64 {
        return None;
    }
    // A timer counts from its third tick until its next one is due after its last.
    let lives: Vec<(f64, f64)> = regular
        .iter()
        .map(|s| (ticks[s.ticks[SERIES_TICKS - 1]].at, s.last_at + period))
        .collect();
    let depths = depths(&lives);
    let (deepest_at, k) = depths
        .iter()
        .copied()
        .max_by(|a, b| a.1.cmp(&b.1).then(a.0.total_cmp(&b.0)))?;
    if k < 2 {
        return None;
    }
    // Raised at the tick that made a second timer count beside another.
    let raised_at = depths
        .iter()
        .find(|(_, depth)| *depth >= 2)
        .and_then(|(at, _)| ticks.iter().find(|tick| tick.at.to_bits() == at.to_bits()))
        .map(|tick| tick.received);
    // The newest tick of each timer counted at the deepest moment.
    let mut examples: Vec<DateTime<Utc>> = regular
        .iter()
        .zip(&lives)
        .filter(|(_, (from, to))| *from <= deepest_at && deepest_at < *to)
        .filter_map(|(s, _)| Some(ticks[*s.ticks.last()?].sent))
        .take(EXAMPLE_TIMERS)
        .collect();
    examples.sort();
    let first = ticks[regular.iter().map(|s| s.ticks[0]).min()?];
    Some(Finding {
        kind: FindingKind::StackedHeartbeats,
        severity: Severity::Error,
        first_seen: Some(first.received),
        last_seen: m.heartbeats.last().map(|b| b.wall),
        raised_at,
        summary: format!(
            "heartbeats come from {k} timers ticking side by side, each every {:.1} s: {k} heartbeat tasks feed this one stream",
            t.shown_secs(period)
        ),
        evidence: ev(&[
            ("timers", json!(k)),
            ("period_s", secs_of(t, period)),
            (
                "example_ticks",
                json!(
                    examples
                        .iter()
                        .map(DateTime::to_rfc3339)
                        .collect::<Vec<_>>()
                ),
            ),
            ("heartbeats_examined", json!(ticks.len())),
            ("heartbeats_in_series", json!(in_series)),
            (
                "hint",
                json!(
                    "the server starts a heartbeat task per connection that outlives it (it should end with its connection), or another client connects with the same agent id (see session-takeover)"
                ),
            ),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::CloseReason;
    use crate::testkit::{Timeline, evidence};

    /// One open session; timers of `period_ms` at the given phases tick until `until_ms`,
    /// each heartbeat received 30 ms after its payload time.
    fn timers_at(period_ms: u64, phases_ms: &[u64], until_ms: u64) -> Timeline {
        let mut sent = Vec::new();
        for phase in phases_ms {
            let mut at = *phase;
            while at <= until_ms {
                sent.push(at);
                at += period_ms;
            }
        }
        sent.sort_unstable();
        let mut t = Timeline::new();
        t.open(0, 1);
        for s in sent {
            t.heartbeat(s + 30, 1, s);
        }
        t
    }

    /// A pseudo-random sequence in `0..n`, the same every run.
    fn lcg(seed: &mut u64, n: u64) -> u64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*seed >> 33) % n
    }

    #[test]
    fn two_timers_of_one_period_are_stacked() {
        let t = timers_at(15_000, &[1000, 5000], 120_000);
        let f = t.find(FindingKind::StackedHeartbeats).expect("two timers");
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(evidence(&f, "timers"), 2);
        assert_eq!(evidence(&f, "period_s"), 15.0);
        assert_eq!(
            evidence(&f, "example_ticks"),
            &json!([t.rfc3339(106_000), t.rfc3339(110_000)])
        );
        // The second timer's third tick (at 35 s) established it beside the first.
        assert_eq!(f.raised_at, Some(t.wall(35_030)));
        assert_eq!(f.first_seen, Some(t.wall(1030)));
    }

    #[test]
    fn three_timers_are_three() {
        let t = timers_at(30_000, &[0, 7000, 19_000], 300_000);
        let f = t.find(FindingKind::StackedHeartbeats).unwrap();
        assert_eq!(evidence(&f, "timers"), 3);
        assert_eq!(evidence(&f, "period_s"), 30.0);
    }

    #[test]
    fn each_timer_needs_three_ticks() {
        // The second timer has ticked twice (5 s, 20 s) by 34.999 s, and a third time at 35 s.
        let two_ticks = timers_at(15_000, &[1000, 5000], 34_999);
        assert!(!two_ticks.has(FindingKind::StackedHeartbeats));
        let three_ticks = timers_at(15_000, &[1000, 5000], 35_000);
        assert!(three_ticks.has(FindingKind::StackedHeartbeats));
    }

    #[test]
    fn the_timers_must_account_for_four_fifths_of_the_heartbeats() {
        // Two timers tick ten times in all; heartbeats at odd times come between them.
        let with_odd = |odd: &[u64]| {
            let mut t = timers_at(15_000, &[1000, 5000], 62_000);
            for (i, at) in odd.iter().enumerate() {
                t.heartbeat(70_000 + i as u64, 1, *at);
            }
            t
        };
        assert!(
            with_odd(&[2300, 27_100]).has(FindingKind::StackedHeartbeats),
            "10 of 12"
        );
        assert!(
            !with_odd(&[2300, 27_100, 53_700]).has(FindingKind::StackedHeartbeats),
            "10 of 13"
        );
    }

    #[test]
    fn a_tick_off_by_more_than_the_slack_is_not_on_time() {
        // The second timer's middle tick is late by 24 ms (within the 25 ms slack) or 26 ms.
        let late_by = |ms: u64| {
            let mut t = Timeline::new();
            t.open(0, 1);
            for sent in [1000, 5000, 16_000, 20_000 + ms, 31_000, 35_000] {
                t.heartbeat(sent + 30, 1, sent);
            }
            t
        };
        assert!(late_by(24).has(FindingKind::StackedHeartbeats));
        assert!(!late_by(26).has(FindingKind::StackedHeartbeats));
    }

    #[test]
    fn ticks_missed_while_the_stream_was_down_do_not_split_a_timer() {
        let mut t = Timeline::new();
        t.open(0, 1);
        let mut session = 1;
        for k in 0..12u64 {
            for phase in [1000, 6000] {
                let sent = phase + k * 15_000;
                // Down from 50 s to 80 s: two ticks of each timer never arrive.
                if (50_000..80_000).contains(&sent) {
                    continue;
                }
                if sent > 80_000 && session == 1 {
                    t.close(
                        50_000,
                        1,
                        CloseReason::Reset {
                            detail: "cut".into(),
                        },
                    );
                    t.open(80_000, 2);
                    session = 2;
                }
                t.heartbeat(sent + 30, session, sent);
            }
        }
        let f = t.find(FindingKind::StackedHeartbeats).unwrap();
        assert_eq!(evidence(&f, "timers"), 2);
        assert_eq!(evidence(&f, "heartbeats_in_series"), 20);
    }

    #[test]
    fn a_single_timer_with_jitter_is_not_stacked() {
        for jitter_ms in [50, 300, 1000, 2000, 4000, 7000] {
            for mut seed in 0..10 {
                let mut t = Timeline::new();
                t.open(0, 1);
                for k in 1..=120u64 {
                    let sent = k * 15_000 + lcg(&mut seed, jitter_ms);
                    t.heartbeat(sent + 20 + lcg(&mut seed, 200), 1, sent);
                }
                assert!(
                    !t.has(FindingKind::StackedHeartbeats),
                    "jitter {jitter_ms} ms, seed {seed}: {:?}",
                    t.find(FindingKind::StackedHeartbeats)
                );
            }
        }
    }

    #[test]
    fn a_timer_anywhere_in_the_band_is_not_stacked() {
        for mut seed in 1..=50 {
            let mut t = Timeline::new();
            t.open(0, 1);
            let mut sent = 0;
            for _ in 0..120 {
                sent += 15_000 + lcg(&mut seed, 15_000);
                t.heartbeat(sent + 40, 1, sent);
            }
            assert!(
                !t.has(FindingKind::StackedHeartbeats),
                "seed {seed}: {:?}",
                t.find(FindingKind::StackedHeartbeats)
            );
        }
    }

    #[test]
    fn a_buffered_burst_of_one_timer_is_not_stacked() {
        // Sent every 15 s for 6 minutes, received together.
        let mut t = Timeline::new();
        t.open(0, 1);
        for k in 0..25 {
            t.heartbeat(400_000 + k * 60, 1, 10_000 + k * 15_000);
        }
        assert!(t.has(FindingKind::ProxyBuffering));
        assert!(!t.has(FindingKind::StackedHeartbeats));
    }

    #[test]
    fn a_fresh_timer_per_session_is_one_timer_at_a_time() {
        // Each session starts its own timer (at its open) and it ends with the session.
        let mut t = Timeline::new();
        let mut opened = 0;
        for session in 1..=5 {
            t.open(opened, session);
            for k in 1..=4 {
                let sent = opened + k * 15_000;
                t.heartbeat(sent + 30, session, sent);
            }
            t.close(
                opened + 65_000,
                session,
                CloseReason::Reset {
                    detail: "cut".into(),
                },
            );
            opened += 65_000 + 1700 * session;
        }
        assert!(!t.has(FindingKind::StackedHeartbeats), "{:?}", t.alarms());
    }

    #[test]
    fn a_burst_faster_than_half_the_band_is_a_flood_not_timers() {
        let mut t = Timeline::new();
        t.open(0, 1);
        for k in 0..25 {
            t.heartbeat(1000 + k * 60, 1, 1000 + k * 60);
        }
        assert!(t.has(FindingKind::HeartbeatFlood));
        assert!(!t.has(FindingKind::StackedHeartbeats));
    }
}
