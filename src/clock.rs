//! Wall-clock time as the store keeps it (milliseconds) and as the wire shows it (RFC 3339).

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2026-11-24T09:15:02.123Z`
pub fn rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_with_milliseconds_and_z() {
        assert_eq!(
            super::rfc3339_ms(1_795_511_702_123),
            "2026-11-24T09:15:02.123Z"
        );
    }
}
