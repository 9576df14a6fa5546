//! Per-connection frame rate limit: a token bucket (50 frames a second, bursts of 200 by
//! default) and the clock for "stays over the limit for 10 seconds". The limit itself is a
//! setting ([`RateLimit`], in `src/settings.rs`).

use std::time::{Duration, Instant};

use crate::settings::RateLimit;

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Rejected; try again after this many milliseconds.
    Limited {
        retry_after_ms: u64,
    },
    /// Over the limit for too long: close the connection.
    Abusive,
}

pub struct RateLimiter {
    limit: RateLimit,
    tokens: f64,
    refilled_at: Instant,
    /// First refusal of the current stretch over the limit.
    over_since: Option<Instant>,
    last_refused: Option<Instant>,
}

/// A stretch over the limit ends after this long without a refusal.
const CALM: Duration = Duration::from_secs(1);

impl RateLimiter {
    pub fn new(limit: RateLimit, now: Instant) -> RateLimiter {
        RateLimiter {
            limit,
            tokens: limit.burst,
            refilled_at: now,
            over_since: None,
            last_refused: None,
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        self.refilled_at = now;
        if self
            .last_refused
            .is_some_and(|refused| now.saturating_duration_since(refused) >= CALM)
        {
            self.over_since = None;
            self.last_refused = None;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allowed;
        }
        self.last_refused = Some(now);
        let since = *self.over_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.limit.abuse_after {
            return Verdict::Abusive;
        }
        let missing = 1.0 - self.tokens;
        let retry_after_ms = (missing / self.limit.per_second * 1000.0).ceil() as u64;
        Verdict::Limited {
            retry_after_ms: retry_after_ms.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_limits_then_refills() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(RateLimit::default(), start);
        for _ in 0..200 {
            assert_eq!(limiter.check(start), Verdict::Allowed);
        }
        assert_eq!(
            limiter.check(start),
            Verdict::Limited { retry_after_ms: 20 }
        );
        assert_eq!(
            limiter.check(start + Duration::from_millis(20)),
            Verdict::Allowed
        );
    }

    #[test]
    fn twice_the_rate_for_ten_seconds_is_abuse() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(RateLimit::default(), start);
        let mut verdicts = Vec::new();
        // 100 frames a second after the burst is spent.
        for step in 0..2000u64 {
            verdicts.push(limiter.check(start + Duration::from_millis(step * 10)));
            if verdicts.last() == Some(&Verdict::Abusive) {
                break;
            }
        }
        assert_eq!(verdicts.last(), Some(&Verdict::Abusive));
        assert!(
            verdicts.len() > 1000,
            "closed too early: {}",
            verdicts.len()
        );
    }

    #[test]
    fn a_pause_ends_the_stretch_over_the_limit() {
        let start = Instant::now();
        let limit = RateLimit {
            per_second: 1.0,
            burst: 1.0,
            ..RateLimit::default()
        };
        let mut limiter = RateLimiter::new(limit, start);
        assert_eq!(limiter.check(start), Verdict::Allowed);
        assert!(matches!(limiter.check(start), Verdict::Limited { .. }));
        let later = start + Duration::from_secs(9);
        assert_eq!(limiter.check(later), Verdict::Allowed);
        assert!(matches!(limiter.check(later), Verdict::Limited { .. }));
        assert!(matches!(
            limiter.check(later + Duration::from_millis(500)),
            Verdict::Limited { .. }
        ));
    }
}
