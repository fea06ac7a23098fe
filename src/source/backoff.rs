//! Reconnect delays: exponential backoff with jitter, as a small pure struct, following the WHATWG
//! reconnection rules.
//!
//! The delay before reconnect number `n` (counting failures since the last reset, from 0) is drawn
//! uniformly from `floor..=max(floor, min(cap, base × 2ⁿ))`:
//!
//! - without a server `retry:`, `floor` is zero and `base` the configured initial delay ("full
//!   jitter");
//! - with a server `retry: R`, `floor` and `base` are `R`: R is the reconnection time the server
//!   asked for, so it is never cut, and the jitter only adds to it. An `R` above our cap is
//!   honoured, up to [`MAX_SERVER_RETRY`] (the reason then says it was clipped); an `R` below
//!   [`MIN_SERVER_RETRY`] is raised to it.
//!
//! On top of that:
//!
//! - a `Retry-After` (or an error envelope's `retry_after_ms`) is a floor too: never sooner than
//!   it (up to [`MAX_RETRY_AFTER`]);
//! - an authentication failure (401/403) waits the cap (or `R`, when longer) without jitter:
//!   retrying a bad key fast helps nobody;
//! - a session that stayed open at least `stable_after` resets the count (the caller says so).
//!
//! No clock and no sleeping here: the caller passes what it observed and gets a duration back,
//! so the sequence is unit-tested with a seeded rng.

use std::time::Duration;

/// A server's `retry:` below this is raised to it, so `retry: 0` cannot make a hot loop.
pub const MIN_SERVER_RETRY: Duration = Duration::from_millis(100);

/// The longest server `retry:` honoured: a server asking for a day gets ten minutes (and `r`
/// reconnects at once anyway).
pub const MAX_SERVER_RETRY: Duration = Duration::from_secs(10 * 60);

/// The longest `Retry-After` honoured (a server asking for a day gets an hour; `r` reconnects
/// at once anyway).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What the last session tells the backoff.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryHint {
    /// The session stayed open long enough to count as stable: start over.
    pub stable: bool,
    /// The server's `retry:` reconnection time: the least delay.
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
    /// The server's `retry:` as applied (the least delay), when it sent one.
    pub server_retry: Option<Duration>,
    /// The server's `retry:` was above [`MAX_SERVER_RETRY`] and cut to it.
    pub server_retry_clipped: bool,
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

    /// The exponential bound for the next delay with this `base`: `min(cap, base × 2^failures)`.
    pub fn ceiling(&self, base: Duration) -> Duration {
        let factor = 1u32.checked_shl(self.failures).unwrap_or(u32::MAX);
        base.saturating_mul(factor).min(self.cap)
    }

    /// The delay before the next attempt, given what the last session said. Counts a failure.
    pub fn next(&mut self, hint: RetryHint) -> Delay {
        if hint.stable {
            self.reset();
        }
        let server_retry = hint
            .server_retry
            .map(|r| r.clamp(MIN_SERVER_RETRY, MAX_SERVER_RETRY));
        let floor = server_retry.unwrap_or(Duration::ZERO);
        let (ceiling, mut delay) = if hint.auth_failure {
            let wait = self.cap.max(floor);
            (wait, wait)
        } else {
            let ceiling = self
                .ceiling(server_retry.unwrap_or(self.initial))
                .max(floor);
            (
                ceiling,
                floor + self.jitter(ceiling.checked_sub(floor).unwrap()),
            )
        };
        self.failures = self.failures.saturating_add(1);
        let mut retry_after_applied = false;
        if let Some(least) = hint.retry_after.map(|r| r.min(MAX_RETRY_AFTER))
            && least > delay
        {
            delay = least;
            retry_after_applied = true;
        }
        Delay {
            delay,
            ceiling,
            server_retry,
            server_retry_clipped: hint.server_retry.is_some_and(|r| r > MAX_SERVER_RETRY),
            attempt: self.failures,
            retry_after_applied,
        }
    }

    /// Uniform in `0..=span`, at microsecond resolution.
    fn jitter(&mut self, span: Duration) -> Duration {
        let max = u64::try_from(span.as_micros()).unwrap_or(u64::MAX);
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

    fn server_retry(r: Duration) -> RetryHint {
        RetryHint {
            server_retry: Some(r),
            ..RetryHint::default()
        }
    }

    #[test]
    fn server_retry_is_a_floor_and_jitter_only_adds() {
        let mut b = backoff(13);
        let hint = server_retry(MS(400));
        // The first reconnect waits exactly the server's time: the jitter has no room yet.
        let first = b.next(hint);
        assert_eq!((first.delay, first.ceiling), (MS(400), MS(400)));
        assert_eq!(first.server_retry, Some(MS(400)));
        let mut above_floor = 0;
        for _ in 0..200 {
            let d = b.next(hint);
            assert!(d.delay >= MS(400) && d.delay <= d.ceiling, "{d:?}");
            if d.delay > MS(2000) {
                above_floor += 1;
            }
        }
        // The jitter spreads the delays above the floor, up to the cap.
        assert!(above_floor > 100, "{above_floor}");
    }

    #[test]
    fn server_retry_above_the_cap_is_honoured_up_to_the_hard_maximum() {
        let mut b = backoff(17);
        for _ in 0..5 {
            let d = b.next(server_retry(Duration::from_secs(45)));
            assert_eq!(d.delay, Duration::from_secs(45), "{d:?}");
            assert!(!d.server_retry_clipped);
        }
        let d = b.next(server_retry(MAX_SERVER_RETRY));
        assert_eq!(d.delay, MAX_SERVER_RETRY);
        assert!(!d.server_retry_clipped);
        let d = b.next(server_retry(Duration::from_secs(86_400)));
        assert_eq!(d.delay, MAX_SERVER_RETRY);
        assert_eq!(d.server_retry, Some(MAX_SERVER_RETRY));
        assert!(d.server_retry_clipped);
    }

    #[test]
    fn a_stable_session_resets_to_exactly_the_server_retry() {
        let mut b = backoff(19);
        let hint = server_retry(MS(400));
        for _ in 0..6 {
            b.next(hint);
        }
        assert!(b.next(hint).ceiling > MS(400));
        let d = b.next(RetryHint {
            stable: true,
            ..hint
        });
        assert_eq!((d.delay, d.attempt), (MS(400), 1));
    }

    #[test]
    fn retry_after_and_auth_failures_respect_the_server_retry_floor() {
        let mut b = backoff(23);
        let d = b.next(RetryHint {
            server_retry: Some(MS(400)),
            retry_after: Some(Duration::from_secs(2)),
            ..RetryHint::default()
        });
        assert_eq!(d.delay, Duration::from_secs(2));
        assert!(d.retry_after_applied);
        let d = b.next(RetryHint {
            server_retry: Some(Duration::from_secs(45)),
            auth_failure: true,
            ..RetryHint::default()
        });
        assert_eq!(d.delay, Duration::from_secs(45), "the floor beats the cap");
        let d = b.next(RetryHint {
            server_retry: Some(MS(400)),
            auth_failure: true,
            ..RetryHint::default()
        });
        assert_eq!(
            d.delay,
            Duration::from_secs(30),
            "and the cap beats a small floor"
        );
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
