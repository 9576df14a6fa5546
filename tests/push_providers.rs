//! End-to-end: notifications through FCM (HTTP v1) and APNs (token auth, HTTP/2), on SQLite,
//! PostgreSQL and a two-node cluster, each provider's endpoint pointed at a stand-in on
//! loopback (tests/common/push.rs) that checks the real request: FCM's OAuth2 assertion
//! (RS256, verified with the service account's public key) and its token endpoint, the
//! `messages:send` body; APNs over HTTP/2 and TLS, its headers and ES256 provider token
//! (verified with the key's public half), the `aps` body. A device the provider says is
//! gone is removed; bad provider flags stop the start with exit 2.

mod common;

use std::time::Duration;

use common::push::{PushService, Received, Reply, TOKEN_PATH};
use common::tls::TestCa;
use common::{room_id, Backend, Database, Server};
use serde_json::{json, Value};

const PROJECT: &str = "palaver-test";
const CLIENT_EMAIL: &str = "push@palaver-test.iam.gserviceaccount.com";
const KEY_ID: &str = "ABC123DEFG";
const TEAM_ID: &str = "TEAM123456";
const TOPIC: &str = "com.example.palaver";
const WINDOW: Duration = Duration::from_millis(1000);

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

/// A service account's key file whose `token_uri` is the stand-in.
fn credentials(dir: &tempfile::TempDir, service: &PushService) -> String {
    let path = dir.path().join("service-account.json");
    let file = json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "k1",
        "private_key": read("rsa-private.pem"),
        "client_email": CLIENT_EMAIL,
        "token_uri": format!("{}{TOKEN_PATH}", service.base),
    });
    std::fs::write(&path, file.to_string()).expect("write the credentials");
    path.display().to_string()
}

fn base_flags() -> Vec<String> {
    ["--push-coalesce-ms", "1000", "--push-timeout-ms", "2000"]
        .map(String::from)
        .to_vec()
}

async fn register(server: &Server, token: &str, device: Value) {
    let (status, body) = server
        .call("POST", "/devices", Some(device), Some(token))
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn wait_device_gone(server: &Server, token: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = server.call("GET", "/devices", None, Some(token)).await;
        assert_eq!(status, 200);
        if body["devices"] == json!([]) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the device stays: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The payload section 12 says, for amy's first message to bob.
fn expected_payload(room: &str, amy_id: &str, body: &str, seq: u64, unread: u64) -> Value {
    json!({
        "type": "message",
        "room": {"id": room, "kind": "direct", "name": "amy"},
        "message": {
            "id": format!("m_{}_{seq}", room.trim_start_matches("r_")),
            "seq": seq,
            "sender": {"id": amy_id, "name": "amy", "kind": "user"},
            "excerpt": body
        },
        "count": 1,
        "unread": unread
    })
}

fn sends(service: &PushService) -> Vec<Received> {
    service
        .received()
        .into_iter()
        .filter(|r| r.path != TOKEN_PATH)
        .collect()
}

async fn wait_sends(service: &PushService, count: usize) -> Vec<Received> {
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    loop {
        let sent = sends(service);
        if sent.len() >= count {
            return sent;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} sends, not {count}: {:?}",
            sent.len(),
            service.received()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The OAuth2 request of RFC 7523: a form with the JWT bearer grant and an RS256 assertion
/// from the service account, for FCM's scope, addressed to the token endpoint.
fn check_assertion(request: &Received, token_uri: &str) {
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("no {name} in {form:?}"))
    };
    assert_eq!(
        field("grant_type"),
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(read("rsa-public.pem").as_bytes())
        .expect("public key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[token_uri]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    let claims = jsonwebtoken::decode::<Value>(&field("assertion"), &key, &validation)
        .unwrap_or_else(|err| panic!("the assertion does not verify: {err}"))
        .claims;
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    let (iat, exp) = (
        claims["iat"].as_u64().expect("iat"),
        claims["exp"].as_u64().expect("exp"),
    );
    assert_eq!(exp - iat, 3600, "an assertion lasts an hour at most");
}

/// The token endpoint's requests, with their place among everything the stand-in got (the
/// stand-in's token is `ya29.test-PLACE`).
fn token_fetches(service: &PushService) -> Vec<(usize, Received)> {
    service
        .received()
        .into_iter()
        .enumerate()
        .filter(|(_, r)| r.path == TOKEN_PATH)
        .collect()
}

/// A send carries an access token the token endpoint gave.
fn check_bearer(service: &PushService, send: &Received) {
    let given: Vec<String> = token_fetches(service)
        .iter()
        .map(|(place, _)| format!("Bearer ya29.test-{place}"))
        .collect();
    let bearer = send.header("authorization").unwrap_or_default().to_string();
    assert!(given.contains(&bearer), "{bearer} is not one of {given:?}");
}

async fn fcm_delivers_with_an_oauth_token_and_drops_unregistered_devices(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let service = PushService::start();
    let mut flags = base_flags();
    flags.extend([
        "--fcm-credentials".to_string(),
        credentials(&dir, &service),
        "--fcm-endpoint".to_string(),
        service.base.clone(),
    ]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &flags).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    register(
        &server,
        &bob_token,
        json!({"kind":"fcm","token":"fcm:bob-phone"}),
    )
    .await;
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy.ok(json!({"type":"send","room":room,"body":"is x=3 right?"}))
        .await;

    let first = wait_sends(&service, 1).await;
    let token_uri = format!("{}{TOKEN_PATH}", service.base);
    let fetches = token_fetches(&service);
    assert_eq!(fetches.len(), 1, "one token fetch before the first send");
    check_assertion(&fetches[0].1, &token_uri);
    let send = &first[0];
    assert_eq!(send.path, format!("/v1/projects/{PROJECT}/messages:send"));
    check_bearer(&service, send);
    let body: Value = serde_json::from_slice(&send.body).expect("a JSON body");
    let message = &body["message"];
    assert_eq!(message["token"], "fcm:bob-phone");
    assert_eq!(
        message["notification"],
        json!({"title":"amy","body":"is x=3 right?"})
    );
    assert_eq!(message["data"]["type"], "message");
    assert_eq!(message["data"]["room"], room.as_str());
    let payload: Value = serde_json::from_str(
        message["data"]["payload"]
            .as_str()
            .expect("data values are strings"),
    )
    .expect("the payload is JSON");
    assert_eq!(
        payload,
        expected_payload(&room, &amy_id, "is x=3 right?", 1, 1)
    );
    assert_eq!(message["android"]["collapse_key"], room.as_str());
    assert_eq!(message["android"]["priority"], "high");
    let ttl = message["android"]["ttl"].as_str().expect("ttl");
    let seconds: u64 = ttl.trim_end_matches('s').parse().expect("ttl in seconds");
    assert!(
        ttl.ends_with('s') && seconds > 86_000 && seconds <= 86_400,
        "{ttl}"
    );

    // The next one, after the window, reuses the access token.
    tokio::time::sleep(WINDOW).await;
    amy.ok(json!({"type":"send","room":room,"body":"hello?"}))
        .await;
    let both = wait_sends(&service, 2).await;
    check_bearer(&service, &both[1]);
    // Each node fetches a token once and keeps it until it expires (one node, or two).
    let nodes = if matches!(backend, Backend::Cluster) {
        2
    } else {
        1
    };
    let fetched = token_fetches(&service).len();
    assert!(
        (1..=nodes).contains(&fetched),
        "{fetched} token fetches: the access token is kept until it expires"
    );

    // FCM answers 404 UNREGISTERED for an app that is gone: the device is removed.
    service.script(&[Reply::Json(
        404,
        r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#,
    )]);
    tokio::time::sleep(WINDOW).await;
    amy.ok(json!({"type":"send","room":room,"body":"still there?"}))
        .await;
    wait_sends(&service, 3).await;
    wait_device_gone(&server, &bob_token).await;
    tokio::time::sleep(WINDOW).await;
    amy.ok(json!({"type":"send","room":room,"body":"gone"}))
        .await;
    tokio::time::sleep(WINDOW * 2).await;
    assert_eq!(sends(&service).len(), 3, "nothing goes to a removed device");
}
on_every_deployment!(fcm_delivers_with_an_oauth_token_and_drops_unregistered_devices);

/// The APNs provider token: ES256 with the key's id in `kid`, the team as `iss`, and `iat`.
fn check_provider_token(request: &Received) {
    let authorization = request.header("authorization").expect("authorization");
    let token = authorization
        .strip_prefix("bearer ")
        .expect("a bearer token");
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some(KEY_ID));
    let key = jsonwebtoken::DecodingKey::from_ec_pem(read("ec-public.pem").as_bytes())
        .expect("public key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_required_spec_claims(&["iss"]);
    validation.set_issuer(&[TEAM_ID]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|err| panic!("the provider token does not verify: {err}"))
        .claims;
    let iat = claims["iat"].as_u64().expect("iat");
    let now = jsonwebtoken::get_current_timestamp();
    assert!(iat <= now && now - iat < 3600, "iat {iat}, now {now}");
    // Only the two claims Apple documents.
    assert_eq!(claims.as_object().map(|o| o.len()), Some(2), "{claims}");
}

async fn apns_delivers_over_http2_with_a_provider_token_and_drops_bad_tokens(backend: Backend) {
    let ca = TestCa::new();
    let service = PushService::start_tls(ca.server_config());
    let mut flags = base_flags();
    flags.extend(
        [
            "--extra-ca",
            &ca.ca_pem_arg(),
            "--apns-key",
            &fixture("ec-private.pem"),
            "--apns-key-id",
            KEY_ID,
            "--apns-team-id",
            TEAM_ID,
            "--apns-topic",
            TOPIC,
            "--apns-endpoint",
            &service.base,
        ]
        .map(String::from),
    );
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &flags).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let device_token = "a1".repeat(32);
    register(
        &server,
        &bob_token,
        json!({"kind":"apns","token":device_token}),
    )
    .await;
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy.ok(json!({"type":"send","room":room,"body":"is x=3 right?"}))
        .await;

    let first = wait_sends(&service, 1).await;
    let send = &first[0];
    assert_eq!(send.version, "HTTP/2.0", "APNs is HTTP/2 only");
    assert_eq!(send.path, format!("/3/device/{device_token}"));
    assert_eq!(send.header("apns-topic"), Some(TOPIC));
    assert_eq!(send.header("apns-push-type"), Some("alert"));
    assert_eq!(send.header("apns-priority"), Some("10"));
    assert_eq!(send.header("apns-collapse-id"), Some(room.as_str()));
    let expiration: u64 = send
        .header("apns-expiration")
        .expect("apns-expiration")
        .parse()
        .expect("a UNIX time");
    let now = jsonwebtoken::get_current_timestamp();
    assert!(
        expiration > now + 86_000 && expiration <= now + 86_400,
        "expires with the TTL: {expiration}, now {now}"
    );
    check_provider_token(send);
    let body: Value = serde_json::from_slice(&send.body).expect("a JSON body");
    assert_eq!(
        body["aps"],
        json!({
            "alert": {"title": "amy", "body": "is x=3 right?"},
            "badge": 1,
            "sound": "default",
            "thread-id": room
        })
    );
    assert_eq!(
        body["palaver"],
        expected_payload(&room, &amy_id, "is x=3 right?", 1, 1)
    );

    // APNs answers 400 BadDeviceToken for a token that will never work: removed.
    service.script(&[Reply::Json(400, r#"{"reason":"BadDeviceToken"}"#)]);
    tokio::time::sleep(WINDOW).await;
    amy.ok(json!({"type":"send","room":room,"body":"still there?"}))
        .await;
    let both = wait_sends(&service, 2).await;
    check_provider_token(&both[1]);
    if !matches!(backend, Backend::Cluster) {
        // One node: the provider token is reused, not made for every request (on two
        // nodes, each has its own).
        assert_eq!(
            both[1].header("authorization"),
            send.header("authorization")
        );
    }
    wait_device_gone(&server, &bob_token).await;
}
on_every_deployment!(apns_delivers_over_http2_with_a_provider_token_and_drops_bad_tokens);

/// A provider flag that cannot work stops the start with exit 2 and one line naming it.
#[test]
fn bad_provider_flags_stop_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    let not_json = dir.path().join("not-json.json");
    std::fs::write(&not_json, "{").expect("write");
    let not_rsa = dir.path().join("not-rsa.json");
    std::fs::write(
        &not_rsa,
        json!({"project_id":"p","client_email":"e","private_key":"nope","token_uri":"https://oauth2.googleapis.com/token"})
            .to_string(),
    )
    .expect("write");
    let db = format!("sqlite://{}/palaver.db", dir.path().display());
    let rsa = fixture("rsa-private.pem");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--fcm-credentials".into(), not_json.display().to_string()],
            "--fcm-credentials",
        ),
        (
            vec!["--fcm-credentials".into(), not_rsa.display().to_string()],
            "private_key",
        ),
        (
            vec!["--fcm-credentials".into(), "/nonexistent/sa.json".into()],
            "--fcm-credentials",
        ),
        (
            vec![
                "--apns-key".into(),
                rsa.clone(),
                "--apns-key-id".into(),
                KEY_ID.into(),
                "--apns-team-id".into(),
                TEAM_ID.into(),
                "--apns-topic".into(),
                TOPIC.into(),
            ],
            "--apns-key",
        ),
        (
            vec!["--apns-key".into(), fixture("ec-private.pem")],
            "--apns-key-id",
        ),
    ];
    for (flags, named) in cases {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_palaver"))
            .args(["--bind", "127.0.0.1:0", "--database-url", &db])
            .args(&flags)
            .output()
            .expect("run palaver");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(named), "{flags:?} names {named}: {stderr}");
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("listening"),
            "{flags:?} never listens"
        );
    }
}
