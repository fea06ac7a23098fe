//! Heartbeat intervals: the gaps between consecutive heartbeats of one session, which are what a
//! person compares with the expected band (a rate per second hides them: every healthy heartbeat
//! is a full bar). Pure functions of the bounded ring of recent heartbeats.

use std::time::Duration;

use super::rate::Heartbeat;
use super::ring::Ring;

/// Intervals looked at, at most: the recent ones, not the whole history.
pub const RECENT_INTERVALS: usize = 64;

/// The recent intervals of the newest heartbeat's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    /// The session the heartbeats came in on.
    pub session: u64,
    /// How many intervals the figures are over (at most [`RECENT_INTERVALS`]).
    pub count: usize,
    /// Between the newest heartbeat and the one before it.
    pub last: Duration,
    pub p50: Duration,
    pub p95: Duration,
}

/// Where an interval falls against the expected band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandFit {
    Below,
    Within,
    Above,
}

impl BandFit {
    /// Where `d` falls in `lo..=hi`.
    pub fn of(d: Duration, (lo, hi): (Duration, Duration)) -> BandFit {
        if d < lo {
            BandFit::Below
        } else if d > hi {
            BandFit::Above
        } else {
            BandFit::Within
        }
    }
}

/// The intervals between the newest heartbeats of the newest heartbeat's session (receive times;
/// a gap across a reconnect is no heartbeat interval). None until that session has two.
pub fn recent_intervals(recent: &Ring<Heartbeat>) -> Option<Intervals> {
    let newest = recent.last()?;
    let times: Vec<_> = recent
        .iter()
        .rev()
        .take_while(|b| b.session == newest.session)
        .take(RECENT_INTERVALS + 1)
        .map(|b| b.t)
        .collect();
    // Newest first: each interval is from the older beat to the newer one.
    let mut gaps: Vec<Duration> = times.windows(2).map(|w| w[0].since(w[1])).collect();
    let last = *gaps.first()?;
    gaps.sort_unstable();
    Some(Intervals {
        session: newest.session,
        count: gaps.len(),
        last,
        p50: percentile(&gaps, 50),
        p95: percentile(&gaps, 95),
    })
}

/// The nearest-rank `p`th percentile of `sorted` (not empty).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Timeline;

    fn intervals(t: &Timeline) -> Option<Intervals> {
        recent_intervals(&t.m.heartbeats.recent)
    }

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_steady_heartbeat_has_its_period_as_every_figure() {
        let mut t = Timeline::new();
        t.open(0, 1);
        for i in 1..=5 {
            t.heartbeat(i * 15_000, 1, i * 15_000);
        }
        let got = intervals(&t).unwrap();
        assert_eq!(
            got,
            Intervals {
                session: 1,
                count: 4,
                last: ms(15_000),
                p50: ms(15_000),
                p95: ms(15_000),
            }
        );
        let band = (ms(15_000), ms(30_000));
        assert_eq!(BandFit::of(got.p50, band), BandFit::Within);
    }

    #[test]
    fn percentiles_are_nearest_rank_and_last_is_the_newest_gap() {
        let mut t = Timeline::new();
        t.open(0, 1);
        // Beats every second from 1 s to 18 s (17 gaps), then after 10 s, then after 2 s.
        let mut at = 0;
        for gap in std::iter::repeat_n(1000, 18).chain([10_000, 2000]) {
            at += gap;
            t.heartbeat(at, 1, at);
        }
        // A late observation (stamped before the previous beat) is a zero gap, not a panic.
        t.heartbeat(0, 1, 0);
        let got = intervals(&t).unwrap();
        assert_eq!(got.count, 20);
        assert_eq!(got.last, Duration::ZERO);
        assert_eq!(got.p50, ms(1000));
        // Sorted [0, 1 s ×17, 2 s, 10 s]: rank 10 is 1 s, rank ceil(20 × 0.95) = 19 is 2 s.
        assert_eq!(got.p95, ms(2000));
    }

    #[test]
    fn only_the_newest_session_counts_and_one_beat_is_no_interval() {
        let mut t = Timeline::new();
        t.open(0, 1);
        for i in 0..10 {
            t.heartbeat(i * 60, 1, i * 60);
        }
        t.open(5000, 2).heartbeat(5100, 2, 5100);
        assert_eq!(
            intervals(&t),
            None,
            "the gap across the reconnect is no interval"
        );
        t.heartbeat(20_100, 2, 20_100);
        let got = intervals(&t).unwrap();
        assert_eq!((got.session, got.count, got.last), (2, 1, ms(15_000)));
        assert_eq!(intervals(&Timeline::new()), None);
    }

    #[test]
    fn a_flood_is_below_the_band_and_a_long_run_looks_at_recent_gaps_only() {
        let mut t = Timeline::new();
        t.open(0, 1);
        for i in 0..1000 {
            t.heartbeat(i * 60_000, 1, i * 60_000); // slow first …
        }
        let flood_start = 1000 * 60_000;
        for i in 0..=RECENT_INTERVALS as u64 {
            t.heartbeat(flood_start + i * 60, 1, flood_start + i * 60); // … then a flood
        }
        let got = intervals(&t).unwrap();
        assert_eq!(got.count, RECENT_INTERVALS);
        assert_eq!((got.p50, got.p95), (ms(60), ms(60)));
        let band = (ms(15_000), ms(30_000));
        assert_eq!(BandFit::of(got.p95, band), BandFit::Below);
        assert_eq!(BandFit::of(ms(31_000), band), BandFit::Above);
        assert_eq!(BandFit::of(ms(30_000), band), BandFit::Within);
    }
}
