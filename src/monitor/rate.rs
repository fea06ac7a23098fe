//! Heartbeat rate: per-second buckets for the sparkline, and the recent heartbeats themselves
//! (receive times and payload timestamps) for the detectors.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::time::Duration;

use super::ring::Ring;
use crate::observation::Mono;

/// Seconds of history the sparkline can show.
pub const RATE_HISTORY_SECS: usize = 300;
/// Heartbeats remembered individually.
pub const HEARTBEAT_HISTORY: usize = 2048;

/// One received heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Heartbeat {
    pub t: Mono,
    pub wall: DateTime<Utc>,
    pub session: u64,
    /// The `timestamp` the server wrote into the payload, if readable.
    pub sent: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeartbeatRate {
    /// Count per whole second of monotonic time; the back is second `newest_second`.
    buckets: VecDeque<u32>,
    newest_second: u64,
    pub recent: Ring<Heartbeat>,
}

impl Default for HeartbeatRate {
    fn default() -> Self {
        HeartbeatRate::with_capacity(HEARTBEAT_HISTORY)
    }
}

impl HeartbeatRate {
    /// Remembering the newest `capacity` heartbeats individually (the counts stay exact).
    pub fn with_capacity(capacity: usize) -> Self {
        HeartbeatRate {
            buckets: VecDeque::from(vec![0; RATE_HISTORY_SECS]),
            newest_second: 0,
            recent: Ring::new(capacity),
        }
    }

    /// Moves the window so that second `t` is the newest bucket (new seconds start at zero).
    pub fn advance_to(&mut self, t: Mono) {
        let second = t.whole_seconds();
        if second <= self.newest_second {
            return;
        }
        let gap = (second - self.newest_second).min(RATE_HISTORY_SECS as u64);
        for _ in 0..gap {
            self.buckets.pop_front();
            self.buckets.push_back(0);
        }
        self.newest_second = second;
    }

    pub fn record(&mut self, beat: Heartbeat) {
        self.advance_to(beat.t);
        let age = self.newest_second.saturating_sub(beat.t.whole_seconds()) as usize;
        if age < RATE_HISTORY_SECS {
            let i = RATE_HISTORY_SECS - 1 - age;
            self.buckets[i] = self.buckets[i].saturating_add(1);
        }
        self.recent.push(beat);
    }

    /// Heartbeats ever received.
    pub fn total(&self) -> u64 {
        self.recent.total()
    }

    /// The newest `n` per-second counts, oldest first (at most the history length).
    pub fn last_seconds(&self, n: usize) -> impl Iterator<Item = u64> + '_ {
        let n = n.min(RATE_HISTORY_SECS);
        self.buckets
            .iter()
            .skip(RATE_HISTORY_SECS - n)
            .map(|&c| u64::from(c))
    }

    /// Heartbeats per second over the last `window` of time (ending at the newest bucket).
    pub fn per_second(&self, window: Duration) -> f64 {
        let secs = (window.as_secs() as usize).clamp(1, RATE_HISTORY_SECS);
        let sum: u64 = self.last_seconds(secs).sum();
        sum as f64 / secs as f64
    }

    pub fn last(&self) -> Option<&Heartbeat> {
        self.recent.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(ms: u64) -> Heartbeat {
        Heartbeat {
            t: Mono::from_millis(ms),
            wall: DateTime::UNIX_EPOCH,
            session: 1,
            sent: None,
        }
    }

    #[test]
    fn buckets_count_per_second_and_slide() {
        let mut r = HeartbeatRate::default();
        for ms in [100, 200, 900, 1500, 4000] {
            r.record(beat(ms));
        }
        let last5: Vec<u64> = r.last_seconds(5).collect();
        assert_eq!(last5, vec![3, 1, 0, 0, 1]);
        assert_eq!(r.total(), 5);
        r.advance_to(Mono::from_millis(4000 + RATE_HISTORY_SECS as u64 * 1000));
        assert_eq!(r.last_seconds(RATE_HISTORY_SECS).sum::<u64>(), 0);
        assert_eq!(r.total(), 5);
    }

    #[test]
    fn rate_over_a_window() {
        let mut r = HeartbeatRate::default();
        for i in 0..20 {
            r.record(beat(10_000 + i * 50)); // 20 beats within one second
        }
        assert!((r.per_second(Duration::from_secs(10)) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_late_beat_older_than_the_window_only_counts() {
        let mut r = HeartbeatRate::default();
        r.record(beat(1_000_000));
        r.record(beat(1_000));
        assert_eq!(r.last_seconds(RATE_HISTORY_SECS).sum::<u64>(), 1);
        assert_eq!(r.total(), 2);
    }
}
