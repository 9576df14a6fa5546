//! Firebase Cloud Messaging, HTTP v1: a service account's credentials file
//! (`--fcm-credentials`) signs an OAuth2 assertion (RS256 JWT, RFC 7523) that its `token_uri`
//! exchanges for an access token, kept until a minute before it expires and fetched by one
//! request at a time; each delivery is a `POST {endpoint}/v1/projects/{project}/messages:send`
//! carrying the payload as `data` and an alert as `notification` (`crate::notify::alert`),
//! with the room's collapse key and what is left of the TTL. `--fcm-endpoint` and the file's
//! `token_uri` point the same code at a stand-in in tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::provider::{read_answer, Answer};
use crate::db::push_queue::Delivery;
use crate::notify::alert::Shown;

/// Google's endpoint; `--fcm-endpoint` replaces it (tests).
pub const DEFAULT_ENDPOINT: &str = "https://fcm.googleapis.com";
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// An access token is fetched again this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Largest OAuth answer read.
const MAX_TOKEN_ANSWER: usize = 64 * 1024;

/// The fields of a service account's JSON key file that are used.
#[derive(Clone, Deserialize)]
struct Credentials {
    project_id: String,
    client_email: String,
    private_key: String,
    token_uri: String,
}

/// Why `--fcm-credentials` is refused at start (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FcmError {
    #[error("--fcm-credentials {path}: {reason}")]
    Credentials { path: String, reason: String },
}

/// The FCM provider of a node.
#[derive(Clone)]
pub struct Fcm {
    project: String,
    client_email: String,
    token_uri: String,
    key: Arc<EncodingKey>,
    endpoint: String,
    /// The access token and when to fetch another; the lock makes one fetch at a time.
    token: Arc<tokio::sync::Mutex<Option<(String, Instant)>>>,
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct Granted {
    access_token: String,
    expires_in: u64,
}

impl Fcm {
    /// Reads and checks the credentials file (its key must parse).
    pub fn load(path: &std::path::Path, endpoint: &str) -> Result<Fcm, FcmError> {
        let failed = |reason: String| FcmError::Credentials {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|err| failed(err.to_string()))?;
        let credentials: Credentials = serde_json::from_str(&text)
            .map_err(|err| failed(format!("not a service account key file: {err}")))?;
        let key = EncodingKey::from_rsa_pem(credentials.private_key.as_bytes())
            .map_err(|err| failed(format!("private_key is not an RSA key: {err}")))?;
        url::Url::parse(&credentials.token_uri)
            .map_err(|err| failed(format!("token_uri is not a URL: {err}")))?;
        Ok(Fcm {
            project: credentials.project_id,
            client_email: credentials.client_email,
            token_uri: credentials.token_uri,
            key: Arc::new(key),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token: Arc::default(),
        })
    }

    /// Sends one delivery; `ttl` is what is left of its TTL.
    pub async fn send(&self, client: &awc::Client, delivery: &Delivery, ttl: Duration) -> Answer {
        let message = match message(delivery, ttl) {
            Ok(message) => message,
            Err(why) => return Answer::Refused { why },
        };
        let token = match self.access_token(client).await {
            Ok(token) => token,
            Err(answer) => return answer,
        };
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.endpoint, self.project
        );
        let answer = match client
            .post(url)
            .bearer_auth(&token)
            .send_json(&message)
            .await
        {
            Ok(mut response) => read_answer(&mut response).await,
            Err(err) => return Answer::unreachable(err),
        };
        match answer {
            // The token was refused (revoked, or the clock moved): fetch another next time.
            Answer::Refused { why } if why.starts_with("HTTP 401") => {
                *self.token.lock().await = None;
                Answer::Retry { after: None, why }
            }
            answer => answer,
        }
    }

    /// The access token, fetched when there is none or it is about to expire. A failed
    /// fetch is an answer to retry (the token endpoint is away) or to give up on (it refused
    /// the credentials: every delivery would fail the same way until an operator acts).
    async fn access_token(&self, client: &awc::Client) -> Result<String, Answer> {
        let mut held = self.token.lock().await;
        if let Some((token, until)) = held.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Assertion {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|err| Answer::Refused {
                why: format!("cannot sign the OAuth2 assertion: {err}"),
            })?;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ];
        let mut response = client
            .post(&self.token_uri)
            .send_form(&form)
            .await
            .map_err(|err| Answer::unreachable(format!("the OAuth2 token endpoint: {err}")))?;
        if !response.status().is_success() {
            return Err(match read_answer(&mut response).await {
                Answer::Retry { after, why } => Answer::Retry {
                    after,
                    why: format!("the OAuth2 token endpoint: {why}"),
                },
                Answer::Refused { why } => Answer::Refused {
                    why: format!("the OAuth2 token endpoint refused the credentials: {why}"),
                },
                Answer::Gone { status } => Answer::Refused {
                    why: format!("the OAuth2 token endpoint answered HTTP {status}"),
                },
                Answer::Taken => Answer::Retry {
                    after: None,
                    why: "the OAuth2 token endpoint answered no token".into(),
                },
            });
        }
        let body = response
            .body()
            .limit(MAX_TOKEN_ANSWER)
            .await
            .map_err(|err| Answer::unreachable(format!("the OAuth2 token answer: {err}")))?;
        let granted: Granted = serde_json::from_slice(&body).map_err(|err| Answer::Retry {
            after: None,
            why: format!("the OAuth2 token answer is not a token: {err}"),
        })?;
        let lasts = Duration::from_secs(granted.expires_in).saturating_sub(REFRESH_MARGIN);
        *held = Some((granted.access_token.clone(), Instant::now() + lasts));
        Ok(granted.access_token)
    }
}

/// The HTTP v1 message of one delivery: the payload as `data.payload` (FCM's data values
/// are strings), the alert as `notification`, Android's collapse key, TTL and priority.
fn message(delivery: &Delivery, ttl: Duration) -> Result<serde_json::Value, String> {
    let shown = Shown::parse(&delivery.payload).map_err(|err| err.to_string())?;
    let alert = shown.alert();
    Ok(json!({
        "message": {
            "token": delivery.device.target(),
            "notification": {"title": alert.title, "body": alert.body},
            "data": {"type": "message", "room": alert.thread, "payload": delivery.payload},
            "android": {
                "collapse_key": delivery.collapse_key(),
                "priority": "high",
                "ttl": format!("{}s", ttl.as_secs()),
                "notification": {"tag": delivery.collapse_key(), "notification_count": alert.badge}
            }
        }
    }))
}
