//! Calls a webhook bot: POSTs `{"bot","room","user","message"}` and reads back
//! `{"replies":[template…]}`, within the bot's time-out and a bound on the answer's size.

use serde_json::Value;

use super::definition::{utterance, Utterance, Webhook};

/// Largest answer body read from a webhook.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Most replies one answer may carry.
const MAX_REPLIES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("could not be reached: {0}")]
    Unreachable(String),
    #[error("answered something that is not {{\"replies\":[template…]}}: {0}")]
    BadAnswer(String),
    #[error("too many calls in flight ({0})")]
    Busy(usize),
}

/// One webhook call, with its own time-out around the whole exchange.
pub async fn call(
    client: &awc::Client,
    hook: &Webhook,
    payload: &Value,
) -> Result<Vec<Utterance>, WebhookError> {
    let exchange = async {
        let mut response = client
            .post(&hook.url)
            .timeout(hook.timeout)
            .send_json(payload)
            .await
            .map_err(|err| match err {
                awc::error::SendRequestError::Timeout => WebhookError::Timeout(hook.timeout),
                other => WebhookError::Unreachable(other.to_string()),
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(WebhookError::Status(status.as_u16()));
        }
        let body = response
            .body()
            .limit(MAX_ANSWER_BYTES)
            .await
            .map_err(|err| WebhookError::BadAnswer(err.to_string()))?;
        parse_answer(&body)
    };
    match actix_rt::time::timeout(hook.timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(WebhookError::Timeout(hook.timeout)),
    }
}

pub fn parse_answer(body: &[u8]) -> Result<Vec<Utterance>, WebhookError> {
    // Strict, as for clients: what a webhook says is stored the same way on both backends.
    let value: Value = crate::protocol::json::parse_slice(body)
        .map_err(|err| WebhookError::BadAnswer(err.to_string()))?;
    let Some(replies) = value.get("replies").and_then(Value::as_array) else {
        return Err(WebhookError::BadAnswer("no `replies` list".into()));
    };
    if replies.len() > MAX_REPLIES {
        return Err(WebhookError::BadAnswer(format!(
            "{} replies; at most {MAX_REPLIES}",
            replies.len()
        )));
    }
    replies
        .iter()
        .enumerate()
        .map(|(index, reply)| {
            utterance(reply, &format!("replies[{index}]")).map_err(WebhookError::BadAnswer)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_with_nul_or_a_key_twice_is_a_bad_answer() {
        for body in [
            r#"{"replies":[{"kind":"text","text":"a\u0000"}]}"#,
            r#"{"replies":[],"replies":[{"kind":"text","text":"x"}]}"#,
        ] {
            assert!(
                matches!(
                    parse_answer(body.as_bytes()),
                    Err(WebhookError::BadAnswer(_))
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn a_javascript_or_data_url_is_a_bad_answer() {
        for url in [
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
        ] {
            let body = format!(r#"{{"replies":[{{"kind":"image","url":"{url}","alt":"a"}}]}}"#);
            assert!(
                matches!(
                    parse_answer(body.as_bytes()),
                    Err(WebhookError::BadAnswer(_))
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn reads_replies_and_rejects_garbage() {
        let replies = parse_answer(br#"{"replies":[{"kind":"text","text":"hi"},{"kind":"image","url":"https://example.invalid/u.png","alt":"a","body":"see"}]}"#)
            .expect("valid");
        assert_eq!(replies[0].body, "hi");
        assert_eq!(replies[1].body, "see");
        assert!(matches!(
            parse_answer(b"<html>"),
            Err(WebhookError::BadAnswer(_))
        ));
        assert!(matches!(
            parse_answer(br#"{"answer":1}"#),
            Err(WebhookError::BadAnswer(_))
        ));
        assert!(matches!(
            parse_answer(br#"{"replies":[{"kind":"nope"}]}"#),
            Err(WebhookError::BadAnswer(_))
        ));
        assert!(parse_answer(br#"{"replies":[]}"#)
            .expect("empty is fine")
            .is_empty());
    }
}
