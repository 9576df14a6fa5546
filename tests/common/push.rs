//! A Web Push service stand-in on loopback, written for the tests: it takes what a push
//! service takes (RFC 8030 `POST` to a subscription's endpoint), records every request, and
//! answers as the test scripts it (201 by default; 410, 503 with `Retry-After`, or no answer at
//! all while it holds). A subscriber holds the keys a browser would: the test decrypts each
//! payload (RFC 8291 `aes128gcm`) with the subscription's private key and checks the VAPID
//! JWT (RFC 8292) with the public key the request carries.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// How the stand-in answers the next request.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// 503 with `Retry-After: N` seconds.
    Busy(u64),
    /// This status with this JSON body (APNs and FCM say why in the body).
    Json(u16, &'static str),
    /// No answer, ever (the connection stays open until the sender goes away).
    Hold,
}

/// A request the stand-in received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What it was answered; `None`: held, never answered.
    pub answered: Option<u16>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<Reply>,
}

pub struct PushService {
    pub base: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl PushService {
    pub fn start() -> PushService {
        PushService::serve(None)
    }

    /// Over TLS with this setup (HTTP/2 when the client asks for it with ALPN, as APNs
    /// requires), at `https://127.0.0.1:PORT`.
    pub fn start_tls(config: Arc<rustls::ServerConfig>) -> PushService {
        PushService::serve(Some(config))
    }

    fn serve(tls: Option<Arc<rustls::ServerConfig>>) -> PushService {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the stand-in");
        let port = listener.local_addr().expect("address").port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .default_service(web::to(take))
        })
        .workers(1)
        .disable_signals();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = match tls {
            Some(config) => {
                let mut config = (*config).clone();
                config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                server.listen_rustls_0_23(listener, config)
            }
            None => server.listen(listener),
        }
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_rt::spawn(server);
        PushService {
            base: format!("{scheme}://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    /// The next requests are answered like this, in order; then 201 again.
    pub fn script(&self, replies: &[Reply]) {
        self.state
            .lock()
            .expect("state")
            .script
            .extend(replies.iter().cloned());
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("state").received.clone()
    }

    /// The requests answered 2xx: the notifications the "device" got.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| {
                r.answered
                    .is_some_and(|status| (200..300).contains(&status))
            })
            .collect()
    }

    /// Waits until `count` requests came (fails after `within`).
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the push service got {} requests, not {count}, within {within:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `count` requests were answered 2xx.
    pub async fn wait_delivered(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let delivered = self.delivered();
            if delivered.len() >= count {
                return delivered;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} notifications delivered, not {count}, within {within:?}: {:?}",
                delivered.len(),
                self.received()
                    .iter()
                    .map(|r| r.answered)
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// Where the stand-in plays an OAuth2 token endpoint (FCM's `token_uri`): every request to
/// it is answered with a new access token, whatever the script says.
pub const TOKEN_PATH: &str = "/oauth2/token";

async fn take(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let version = format!("{:?}", req.version());
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                value.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    if req.path() == TOKEN_PATH {
        let mut state = state.lock().expect("state");
        let n = state.received.len();
        state.received.push(Received {
            path: req.path().to_string(),
            version,
            headers,
            body: body.to_vec(),
            answered: Some(200),
        });
        return HttpResponse::Ok().json(json!({
            "access_token": format!("ya29.test-{n}"),
            "expires_in": 3599,
            "token_type": "Bearer"
        }));
    }
    let reply = state
        .lock()
        .expect("state")
        .script
        .pop_front()
        .unwrap_or(Reply::Status(201));
    let answered = match reply {
        Reply::Status(status) => Some(status),
        Reply::Busy(_) => Some(503),
        Reply::Json(status, _) => Some(status),
        Reply::Hold => None,
    };
    state.lock().expect("state").received.push(Received {
        path: req.path().to_string(),
        version,
        headers,
        body: body.to_vec(),
        answered,
    });
    match reply {
        Reply::Status(status) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
                .finish()
        }
        Reply::Json(status, body) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
                .content_type("application/json")
                .body(body)
        }
        Reply::Busy(seconds) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", seconds.to_string()))
            .finish(),
        Reply::Hold => {
            std::future::pending::<()>().await;
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// A browser's push subscription: an endpoint at the stand-in and the keys to decrypt with.
pub struct Subscriber {
    pub endpoint: String,
    keys: Box<dyn ece::LocalKeyPair>,
    auth: [u8; 16],
}

impl Subscriber {
    pub fn new(service: &PushService, name: &str) -> Subscriber {
        let (keys, auth) = ece::generate_keypair_and_auth_secret().expect("keys");
        Subscriber {
            endpoint: format!("{}/push/{name}", service.base),
            keys,
            auth,
        }
    }

    /// The `POST /devices` body a browser would send.
    pub fn registration(&self) -> Value {
        json!({
            "kind": "webpush",
            "endpoint": self.endpoint,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(self.keys.pub_as_raw().expect("public key")),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    /// Checks what RFC 8030, 8291 and 8292 ask of the request (for `subject`'s VAPID key
    /// `vapid_key`), and answers the decrypted payload.
    pub fn open(&self, request: &Received, vapid_key: &str, subject: &str) -> Value {
        assert_eq!(
            request.path,
            self.endpoint
                .split_once("127.0.0.1")
                .map(|(_, rest)| rest
                    .split_once('/')
                    .map(|(_, p)| format!("/{p}"))
                    .unwrap_or_default())
                .unwrap_or_default(),
            "sent to the subscription's endpoint"
        );
        assert_eq!(request.header("content-encoding"), Some("aes128gcm"));
        let ttl: u64 = request
            .header("ttl")
            .expect("TTL")
            .parse()
            .expect("TTL seconds");
        assert!(ttl > 0 && ttl <= 86_400, "TTL {ttl}");
        let topic = request.header("topic").expect("Topic");
        assert!(
            topic.len() <= 32 && topic.starts_with("r_"),
            "Topic {topic}"
        );
        let authorization = request
            .header("authorization")
            .expect("VAPID authorization");
        let (token, key) = vapid_parts(authorization);
        assert_eq!(key, vapid_key, "signed with the key GET /push/vapid shows");
        let raw = URL_SAFE_NO_PAD.decode(&key).expect("k is base64url");
        assert_eq!(
            (raw.len(), raw[0]),
            (65, 4),
            "k is an uncompressed P-256 point"
        );
        let decoding = jsonwebtoken::DecodingKey::from_ec_components(
            &URL_SAFE_NO_PAD.encode(&raw[1..33]),
            &URL_SAFE_NO_PAD.encode(&raw[33..65]),
        )
        .expect("EC key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        let origin = self
            .endpoint
            .split("/push/")
            .next()
            .expect("origin")
            .to_string();
        validation.set_audience(&[origin]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
            .unwrap_or_else(|err| panic!("the VAPID JWT does not verify: {err}"))
            .claims;
        assert_eq!(claims["sub"], subject);
        let exp = claims["exp"].as_u64().expect("exp");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        assert!(
            exp > now && exp <= now + 24 * 3600,
            "exp within 24 h (RFC 8292)"
        );
        let components = self.keys.raw_components().expect("components");
        let plain = ece::decrypt(&components, &self.auth, &request.body)
            .unwrap_or_else(|err| panic!("the payload does not decrypt: {err:?}"));
        serde_json::from_slice(&plain).expect("the payload is JSON")
    }
}

/// `vapid t=JWT, k=KEY` (RFC 8292 section 3).
fn vapid_parts(header: &str) -> (&str, String) {
    let rest = header
        .strip_prefix("vapid ")
        .unwrap_or_else(|| panic!("not a vapid authorization: {header}"));
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(value) = part.strip_prefix("t=") {
            token = Some(value);
        } else if let Some(value) = part.strip_prefix("k=") {
            key = Some(value.to_string());
        }
    }
    (token.expect("t="), key.expect("k="))
}
