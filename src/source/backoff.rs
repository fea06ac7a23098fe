//! Reconnect delays: exponential backoff with full jitter, as a small pure struct.
//!
//! The delay before reconnect number `n` (counting failures since the last reset) is drawn
//! uniformly from `0..=min(cap, base × 2ⁿ)` ("full jitter"), where `base` is the server's `retry:`
//! when it sent one, else the configured initial delay. On top of that:
//!
//! - a `Retry-After` (or an error envelope's `retry_after_ms`) is a floor: never sooner than it;
//! - an authentication failure (401/403) goes straight to the cap: retrying a bad key fast helps
//!   nobody;
//! - a session that stayed open at least `stable_after` resets the count (the caller says so).
//!
//! No clock and no sleeping here: the caller passes what it observed and gets a duration back,
//! so the sequence is unit-tested with a seeded rng.

use std::time::Duration;

/// A server's `retry:` below this is raised to it, so `retry: 0` cannot make a hot loop.
pub const MIN_SERVER_RETRY: Duration = Duration::from_millis(100);

/// The longest `Retry-After` honoured (a server asking for a day gets an hour; `r` reconnects
/// at once anyway).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What the last session tells the backoff.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryHint {
    /// The session stayed open long enough to count as stable: start over.
    pub stable: bool,
    /// The server's `retry:` reconnection time.
    pub server_retry: Option<Duration>,
    /// `Retry-After` (or the envelope's `retry_after_ms`): not sooner than this.
    pub retry_after: Option<Duration>,
    /// 401/403: go straight to the cap.
    pub auth_failure: bool,
}

/// The delay chosen, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub delay: Duration,
    /// The upper bound the jitter was drawn under (before a `Retry-After` floor).
    pub ceiling: Duration,
    /// Which reconnect this is since the last reset (1-based).
    pub attempt: u32,
    /// The delay was raised to honour `Retry-After`.
    pub retry_after_applied: bool,
}

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    cap: Duration,
    failures: u32,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(initial: Duration, cap: Duration, rng: fastrand::Rng) -> Backoff {
        Backoff {
            initial,
            cap,
            failures: 0,
            rng,
        }
    }

    /// Failures since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The jitter bound for the next delay with this `base`: `min(cap, base × 2^failures)`.
    pub fn ceiling(&self, base: Duration) -> Duration {
        let factor = 1u32.checked_shl(self.failures).unwrap_or(u32::MAX);
        base.saturating_mul(factor).min(self.cap)
    }

    /// The delay before the next attempt, given what the last session said. Counts a failure.
    pub fn next(&mut self, hint: RetryHint) -> Delay {
        if hint.stable {
            self.reset();
        }
        let (ceiling, mut delay) = if hint.auth_failure {
            (self.cap, self.cap)
        } else {
            let base = hint
                .server_retry
                .map_or(self.initial, |r| r.max(MIN_SERVER_RETRY));
            let ceiling = self.ceiling(base);
            (ceiling, self.jitter(ceiling))
        };
        self.failures = self.failures.saturating_add(1);
        let mut retry_after_applied = false;
        if let Some(floor) = hint.retry_after.map(|r| r.min(MAX_RETRY_AFTER))
            && floor > delay
        {
            delay = floor;
            retry_after_applied = true;
        }
        Delay {
            delay,
            ceiling,
            attempt: self.failures,
            retry_after_applied,
        }
    }

    /// Uniform in `0..=ceiling`, at microsecond resolution.
    fn jitter(&mut self, ceiling: Duration) -> Duration {
        let max = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.rng.u64(0..=max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn backoff(seed: u64) -> Backoff {
        Backoff::new(
            MS(500),
            Duration::from_secs(30),
            fastrand::Rng::with_seed(seed),
        )
    }

    #[test]
    fn ceilings_double_from_initial_up_to_the_cap() {
        let mut b = backoff(1);
        let ceilings: Vec<u64> = (0..9)
            .map(|_| b.next(RetryHint::default()).ceiling.as_millis() as u64)
            .collect();
        assert_eq!(
            ceilings,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        // And stays there, even after very many failures (no overflow).
        for _ in 0..100 {
            b.next(RetryHint::default());
        }
        assert_eq!(
            b.next(RetryHint::default()).ceiling,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_ceiling_and_varies() {
        let mut b = backoff(7);
        let mut delays = Vec::new();
        for _ in 0..200 {
            let d = b.next(RetryHint::default());
            assert!(d.delay <= d.ceiling, "{d:?}");
            delays.push(d.delay);
        }
        // Past the cap, delays are spread over 0..=30 s, not all equal to it.
        let late = &delays[20..];
        assert!(late.iter().any(|d| *d < Duration::from_secs(10)));
        assert!(late.iter().any(|d| *d > Duration::from_secs(20)));
    }

    #[test]
    fn same_seed_same_sequence() {
        let seq = |seed| {
            let mut b = backoff(seed);
            (0..10)
                .map(|_| b.next(RetryHint::default()).delay)
                .collect::<Vec<_>>()
        };
        assert_eq!(seq(42), seq(42));
        assert_ne!(seq(42), seq(43));
    }

    #[test]
    fn a_stable_session_resets_the_sequence() {
        let mut b = backoff(3);
        for _ in 0..5 {
            b.next(RetryHint::default());
        }
        assert_eq!(b.failures(), 5);
        let d = b.next(RetryHint {
            stable: true,
            ..RetryHint::default()
        });
        assert_eq!(d.ceiling, MS(500));
        assert_eq!(d.attempt, 1);
    }

    #[test]
    fn server_retry_is_the_base_with_a_floor() {
        let mut b = backoff(5);
        let hint = RetryHint {
            server_retry: Some(MS(2000)),
            ..RetryHint::default()
        };
        assert_eq!(b.next(hint).ceiling, MS(2000));
        assert_eq!(b.next(hint).ceiling, MS(4000));
        let mut b = backoff(5);
        let zero = RetryHint {
            server_retry: Some(Duration::ZERO),
            ..RetryHint::default()
        };
        assert_eq!(b.next(zero).ceiling, MIN_SERVER_RETRY);
    }

    #[test]
    fn retry_after_is_a_floor_never_a_ceiling() {
        let mut b = backoff(9);
        let hint = RetryHint {
            retry_after: Some(Duration::from_secs(1)),
            ..RetryHint::default()
        };
        for _ in 0..50 {
            let d = b.next(hint);
            assert!(d.delay >= Duration::from_secs(1), "{d:?}");
        }
        // Longer than the jitter: applied exactly.
        let mut b = backoff(9);
        let d = b.next(RetryHint {
            retry_after: Some(Duration::from_secs(7)),
            ..RetryHint::default()
        });
        assert_eq!(d.delay, Duration::from_secs(7));
        assert!(d.retry_after_applied);
        // Absurd values are bounded.
        let d = b.next(RetryHint {
            retry_after: Some(Duration::from_secs(86_400)),
            ..RetryHint::default()
        });
        assert_eq!(d.delay, MAX_RETRY_AFTER);
    }

    #[test]
    fn auth_failure_goes_straight_to_the_cap_without_jitter() {
        let mut b = backoff(11);
        let auth = RetryHint {
            auth_failure: true,
            ..RetryHint::default()
        };
        for _ in 0..3 {
            let d = b.next(auth);
            assert_eq!(d.delay, Duration::from_secs(30));
        }
    }

    #[test]
    fn a_cap_below_initial_is_respected() {
        let mut b = Backoff::new(MS(500), MS(100), fastrand::Rng::with_seed(1));
        let d = b.next(RetryHint::default());
        assert!(d.delay <= MS(100) && d.ceiling == MS(100));
    }
}
