//! What a provider answered a delivery, read the same way for every provider: taken; the
//! device is gone (404, 410: it is removed); try again later (429, 5xx, no answer), after
//! `Retry-After` when given; or refused for good (any other status: the delivery is given up).

use std::time::Duration;

use awc::http::StatusCode;

use super::retry::parse_retry_after;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Taken,
    Gone {
        status: u16,
    },
    Retry {
        after: Option<Duration>,
        why: String,
    },
    Refused {
        why: String,
    },
}

impl Answer {
    /// The answer a provider's HTTP status means; `retry_after` is its `Retry-After`, `body`
    /// the start of what it said (for the log).
    pub fn from_status(status: StatusCode, retry_after: Option<&str>, body: &[u8]) -> Answer {
        let said = || {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            if text.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {}", text.trim())
            }
        };
        match status.as_u16() {
            200..=299 => Answer::Taken,
            404 | 410 => Answer::Gone {
                status: status.as_u16(),
            },
            429 | 500..=599 => Answer::Retry {
                after: retry_after
                    .and_then(|value| parse_retry_after(value, std::time::SystemTime::now())),
                why: said(),
            },
            _ => Answer::Refused { why: said() },
        }
    }

    /// No answer came (connection refused, time-out): tried again.
    pub fn unreachable(why: impl std::fmt::Display) -> Answer {
        Answer::Retry {
            after: None,
            why: format!("no answer: {why}"),
        }
    }
}

/// Reads a provider's answer to a request sent with awc.
pub async fn read_answer<S>(response: &mut awc::ClientResponse<S>) -> Answer
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let retry_after = response
        .headers()
        .get(awc::http::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let body = response.body().limit(4096).await.unwrap_or_default();
    Answer::from_status(response.status(), retry_after.as_deref(), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_mean_what_section_12_says() {
        let answer = |code: u16, after: Option<&str>| {
            Answer::from_status(StatusCode::from_u16(code).expect("status"), after, b"")
        };
        assert_eq!(answer(201, None), Answer::Taken);
        assert_eq!(answer(410, None), Answer::Gone { status: 410 });
        assert_eq!(answer(404, None), Answer::Gone { status: 404 });
        assert_eq!(
            answer(429, Some("7")),
            Answer::Retry {
                after: Some(Duration::from_secs(7)),
                why: "HTTP 429 Too Many Requests".into()
            }
        );
        assert!(matches!(
            answer(503, None),
            Answer::Retry { after: None, .. }
        ));
        assert!(matches!(answer(400, None), Answer::Refused { .. }));
        assert!(matches!(answer(413, None), Answer::Refused { .. }));
    }
}
