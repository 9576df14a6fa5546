//! Apple Push Notification service, token-based: an ES256 provider token signed with the
//! `.p8` key (`--apns-key`, `--apns-key-id`, `--apns-team-id`), made again every 50 minutes
//! (Apple takes one up to an hour old and refuses new ones more often than every 20), and
//! one `POST {endpoint}/3/device/{token}` per delivery over HTTP/2 (awc negotiates it with
//! ALPN on the shared TLS client), with `apns-topic` (`--apns-topic`, the app's bundle id),
//! `apns-push-type: alert`, the expiry from what is left of the TTL and the room's collapse
//! id. The body is `aps` (alert, badge, thread) and the payload under `palaver`.
//! `--apns-endpoint` points the same code at a stand-in in tests (a2, the APNs crate, has
//! no way to change its endpoint, so its requests could never be checked here).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::json;

use super::provider::{read_answer, Answer};
use crate::db::push_queue::Delivery;
use crate::notify::alert::Shown;

/// Apple's production endpoint; `--apns-endpoint` replaces it (the sandbox,
/// `https://api.sandbox.push.apple.com`, or a stand-in in tests).
pub const DEFAULT_ENDPOINT: &str = "https://api.push.apple.com";
/// A provider token is made again after this long.
const TOKEN_LIFE: Duration = Duration::from_secs(50 * 60);

/// Why the APNs flags are refused at start (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ApnsError {
    #[error("--apns-key {path}: {reason}")]
    Key { path: String, reason: String },
}

/// The APNs flags, as read.
#[derive(Clone, Debug)]
pub struct ApnsConfig<'a> {
    pub key: &'a std::path::Path,
    pub key_id: &'a str,
    pub team_id: &'a str,
    pub topic: &'a str,
    pub endpoint: &'a str,
}

/// The APNs provider of a node.
#[derive(Clone)]
pub struct Apns {
    key: Arc<EncodingKey>,
    key_id: String,
    team_id: String,
    topic: String,
    endpoint: String,
    token: Arc<Mutex<Option<(String, Instant)>>>,
}

#[derive(Serialize)]
struct ProviderClaims<'a> {
    iss: &'a str,
    iat: u64,
}

impl Apns {
    /// Reads and checks the key (a PKCS#8 P-256 key, as Apple's `.p8` files are).
    pub fn load(config: &ApnsConfig<'_>) -> Result<Apns, ApnsError> {
        let failed = |reason: String| ApnsError::Key {
            path: config.key.display().to_string(),
            reason,
        };
        let pem = std::fs::read(config.key).map_err(|err| failed(err.to_string()))?;
        let key = EncodingKey::from_ec_pem(&pem)
            .map_err(|err| failed(format!("not a P-256 private key (.p8): {err}")))?;
        let apns = Apns {
            key: Arc::new(key),
            key_id: config.key_id.to_string(),
            team_id: config.team_id.to_string(),
            topic: config.topic.to_string(),
            endpoint: config.endpoint.trim_end_matches('/').to_string(),
            token: Arc::default(),
        };
        // A key that parses but cannot sign is refused now, not at the first delivery.
        apns.provider_token().map_err(failed)?;
        Ok(apns)
    }

    /// Sends one delivery; `ttl` is what is left of its TTL.
    pub async fn send(&self, client: &awc::Client, delivery: &Delivery, ttl: Duration) -> Answer {
        let body = match body(delivery) {
            Ok(body) => body,
            Err(why) => return Answer::Refused { why },
        };
        let token = match self.provider_token() {
            Ok(token) => token,
            Err(why) => return Answer::Refused { why },
        };
        let expires = jsonwebtoken::get_current_timestamp() + ttl.as_secs();
        let url = format!("{}/3/device/{}", self.endpoint, delivery.device.target());
        let sent = client
            .post(url)
            .insert_header(("authorization", format!("bearer {token}")))
            .insert_header(("apns-topic", self.topic.as_str()))
            .insert_header(("apns-push-type", "alert"))
            .insert_header(("apns-priority", "10"))
            .insert_header(("apns-expiration", expires.to_string()))
            .insert_header(("apns-collapse-id", delivery.collapse_key()))
            .send_json(&body)
            .await;
        let answer = match sent {
            Ok(mut response) => read_answer(&mut response).await,
            Err(err) => return Answer::unreachable(err),
        };
        match answer {
            // 400 BadDeviceToken and DeviceTokenNotForTopic: the token will never work.
            Answer::Refused { why }
                if why.contains("BadDeviceToken") || why.contains("DeviceTokenNotForTopic") =>
            {
                Answer::Gone { status: 400 }
            }
            // 403 ExpiredProviderToken: make a new one and try again.
            Answer::Refused { why } if why.contains("ExpiredProviderToken") => {
                if let Ok(mut held) = self.token.lock() {
                    *held = None;
                }
                Answer::Retry { after: None, why }
            }
            answer => answer,
        }
    }

    /// The provider token, made again when it is 50 minutes old.
    fn provider_token(&self) -> Result<String, String> {
        let mut held = self
            .token
            .lock()
            .map_err(|_| "the APNs token lock was poisoned".to_string())?;
        if let Some((token, made)) = held.as_ref() {
            if made.elapsed() < TOKEN_LIFE {
                return Ok(token.clone());
            }
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = ProviderClaims {
            iss: &self.team_id,
            iat: jsonwebtoken::get_current_timestamp(),
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|err| format!("cannot sign the APNs provider token: {err}"))?;
        *held = Some((token.clone(), Instant::now()));
        Ok(token)
    }
}

/// The JSON body: `aps` for the phone, the payload under `palaver` for the app.
fn body(delivery: &Delivery) -> Result<serde_json::Value, String> {
    let shown = Shown::parse(&delivery.payload).map_err(|err| err.to_string())?;
    let alert = shown.alert();
    let payload: serde_json::Value =
        serde_json::from_str(&delivery.payload).map_err(|err| err.to_string())?;
    Ok(json!({
        "aps": {
            "alert": {"title": alert.title, "body": alert.body},
            "badge": alert.badge,
            "sound": "default",
            "thread-id": alert.thread
        },
        "palaver": payload
    }))
}
