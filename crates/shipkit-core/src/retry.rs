//! Retry with exponential backoff and jitter.
//!
//! The operation decides what is worth another try: it returns [`Attempt::Retry`] (optionally with the
//! server's `Retry-After`) or [`Attempt::Fail`].
//!
//! A SIGINT/SIGTERM ([`crate::cancel`]) ends the retries: no new attempt starts after it, and a wait is cut
//! short; the last error is returned, so the caller reports what failed and then the cancellation.

use std::time::Duration;

/// How often and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Total attempts, the first included (3 = one try and two retries).
    pub attempts: u32,
    /// Wait before the second attempt; doubles each time.
    pub initial: Duration,
    /// No single wait is longer than this (a `Retry-After` is capped here too).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 4,
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// No retries: for tests and `--no-retry`.
    pub const NONE: Backoff = Backoff {
        attempts: 1,
        initial: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// The wait before attempt `n + 1` after attempt `n` (1-based) failed, without jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The wait with ±25% jitter, or the server's `Retry-After` (capped at `max`) when given.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max);
        }
        let base = self.base_delay(attempt);
        let jitter = i128::from(cheap_random() % 51) - 25; // -25..=25 percent
        let ms = i128::try_from(base.as_millis())
            .unwrap_or(i128::MAX)
            .min(i128::from(u64::MAX));
        let jittered = u64::try_from((ms + ms * jitter / 100).max(0)).unwrap_or(u64::MAX);
        Duration::from_millis(jittered).min(self.max.saturating_add(self.max / 4))
    }
}

/// What one failed attempt means.
#[derive(Debug)]
pub enum Attempt<E> {
    /// Worth another try, after the server's `Retry-After` if it gave one.
    Retry(E, Option<Duration>),
    /// Final: do not try again.
    Fail(E),
}

/// Run `op` until it succeeds, fails finally, or attempts run out. `on_retry(attempt, &err, wait)` is
/// called before each wait (to print "retrying in 2s: 503 Service Unavailable").
pub fn retry<T, E>(
    backoff: Backoff,
    mut on_retry: impl FnMut(u32, &E, Duration),
    mut op: impl FnMut(u32) -> Result<T, Attempt<E>>,
) -> Result<T, E> {
    let mut attempt = 1;
    loop {
        match op(attempt) {
            Ok(v) => return Ok(v),
            Err(Attempt::Fail(e)) => return Err(e),
            Err(Attempt::Retry(e, retry_after)) => {
                if attempt >= backoff.attempts || crate::cancel::requested().is_some() {
                    return Err(e);
                }
                let wait = backoff.delay(attempt, retry_after);
                on_retry(attempt, &e, wait);
                if crate::cancel::sleep(wait, "").is_err() {
                    return Err(e);
                }
                attempt += 1;
            }
        }
    }
}

/// A few random bits without a dependency: jitter needs no cryptography.
pub fn cheap_random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps() {
        let b = Backoff {
            attempts: 5,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        assert_eq!(b.base_delay(1), Duration::from_millis(100));
        assert_eq!(b.base_delay(2), Duration::from_millis(200));
        assert_eq!(b.base_delay(3), Duration::from_millis(300));
        assert_eq!(b.delay(1, Some(Duration::from_secs(9))), Duration::from_millis(300));
        let d = b.delay(2, None);
        assert!(
            d >= Duration::from_millis(150) && d <= Duration::from_millis(250),
            "{d:?}"
        );
    }

    #[test]
    fn huge_backoffs_never_overflow() {
        let b = Backoff {
            attempts: u32::MAX,
            initial: Duration::MAX,
            max: Duration::MAX,
        };
        for attempt in [1, 2, 64, u32::MAX] {
            let _ = b.base_delay(attempt);
            let _ = b.delay(attempt, None);
        }
        assert_eq!(b.delay(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
    }

    #[test]
    fn retries_until_success_or_final() {
        let b = Backoff {
            attempts: 3,
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
        };
        let mut seen = vec![];
        let r: Result<u32, &str> = retry(
            b,
            |a, _, _| seen.push(a),
            |a| if a < 3 { Err(Attempt::Retry("503", None)) } else { Ok(a) },
        );
        assert_eq!(r, Ok(3));
        assert_eq!(seen, vec![1, 2]);
        let r: Result<u32, &str> = retry(b, |_, _, _| {}, |_| Err(Attempt::Retry("503", None)));
        assert_eq!(r, Err("503"));
        let mut calls = 0;
        let r: Result<u32, &str> = retry(
            b,
            |_, _, _| {},
            |_| {
                calls += 1;
                Err(Attempt::Fail("404"))
            },
        );
        assert_eq!((r, calls), (Err("404"), 1));
    }
}
