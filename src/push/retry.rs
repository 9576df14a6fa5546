//! When a delivery a provider did not take is tried again (docs/notifications.md): after its
//! `Retry-After` when the provider gave one, otherwise after a back-off that doubles from one
//! second up to ten minutes; never past the delivery's TTL, when it is given up.

use std::time::Duration;

/// The first back-off.
pub const FIRST: Duration = Duration::from_secs(1);
/// The longest back-off.
pub const LONGEST: Duration = Duration::from_secs(600);

/// What to do with a delivery that was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Try again at this time (milliseconds since the epoch).
    At(i64),
    /// Its TTL would pass first: give it up.
    GiveUp,
}

/// The next attempt after `attempts` failed ones (this one included), at `now_ms`, for a
/// delivery that expires at `expires_ms`.
pub fn next(attempts: i32, retry_after: Option<Duration>, now_ms: i64, expires_ms: i64) -> Next {
    let wait = retry_after.unwrap_or_else(|| backoff(attempts));
    let at = now_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
    if at > expires_ms {
        Next::GiveUp
    } else {
        Next::At(at)
    }
}

/// One second after the first failure, doubling, at most [`LONGEST`].
pub fn backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    FIRST.saturating_mul(1 << doublings).min(LONGEST)
}

/// A `Retry-After` header: seconds, or an HTTP date (RFC 9110 section 10.2.3). A date in
/// the past is "now"; anything else unreadable is ignored (the back-off applies).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn the_back_off_doubles_up_to_ten_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(30), LONGEST);
        assert_eq!(backoff(0), FIRST);
    }

    #[test]
    fn retry_after_is_honoured_until_the_ttl() {
        assert_eq!(next(1, None, 1000, 10_000), Next::At(2000));
        assert_eq!(
            next(1, Some(Duration::from_secs(5)), 1000, 10_000),
            Next::At(6000)
        );
        assert_eq!(
            next(1, Some(Duration::from_secs(10)), 1000, 10_000),
            Next::GiveUp
        );
        assert_eq!(next(12, None, 1000, 100_000), Next::GiveUp);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(
                "Sun, 06 Nov 1994 08:50:37 GMT",
                now - Duration::from_secs(60)
            ),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
