//! End-to-end: sign-in from an existing backend and the user lifecycle (docs/protocol.md
//! section 10). JWTs signed with a shared secret (HS256), an RSA key from a PEM file
//! (RS256) and an EC key served as a JWKS by a loopback HTTP server in this test (ES256);
//! deactivating a user; token ids, listing and revoking one token.
//!
//! The keys in tests/fixtures/jwt are test keys made for this suite only.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{Backend, Client, ConnectError, Database, Server};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &str = "a shared secret of the backend";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn hs256(claims: Value) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()).expect("key"),
    )
    .expect("sign")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).expect("fixture key")
}

async fn status_of(server: &Server, token: &str) -> u16 {
    match Client::try_connect(&server.base, Some(token), None).await {
        Ok(_) => 101,
        Err(ConnectError::Status(status)) => status,
        Err(ConnectError::Other(err)) => panic!("connect: {err}"),
    }
}

/// A never-seen user connects with a backend's JWT: the user is made, named by `name`; the
/// same `sub` finds the same user again, by header too; bad JWTs get 401.
async fn a_backend_jwt_signs_in_a_new_user(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--jwt-secret", SECRET]).await;

    let jwt = hs256(json!({"sub":"student-4711","name":"Amy Pond","exp":now() + 600}));
    let amy = Client::try_connect(&server.base, Some(&jwt), None)
        .await
        .expect("a valid JWT connects");
    assert_eq!(amy.hello["user"]["name"], "Amy Pond", "{}", amy.hello);
    assert_eq!(amy.hello["user"]["kind"], "user");
    let id = amy.hello["user"]["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("u_"), "{id}");

    // Same sub, by header this time: the same user, not a new one. (A JWT with another
    // `name` renames them: tests/identity.rs.)
    let again = hs256(json!({"sub":"student-4711","name":"Amy Pond","exp":now() + 600}));
    let second = Client::try_connect(&server.base, None, Some(&again))
        .await
        .expect("by header");
    assert_eq!(second.hello["user"]["id"], id.as_str());
    assert_eq!(second.hello["user"]["name"], "Amy Pond");

    // A second backend user whose name is taken gets a numbered name.
    let other = hs256(json!({"sub":"student-9","name":"Amy Pond","exp":now() + 600}));
    let client = Client::try_connect(&server.base, Some(&other), None)
        .await
        .expect("connects");
    assert_eq!(client.hello["user"]["name"], "Amy Pond (2)");
    // Without `name`, the sub is the name.
    let anon = hs256(json!({"sub":"s-77","exp":now() + 600}));
    let client = Client::try_connect(&server.base, Some(&anon), None)
        .await
        .expect("connects");
    assert_eq!(client.hello["user"]["name"], "s-77");

    let (status, listed) = server.admin("GET", "/admin/users", None).await;
    assert_eq!(status, 200);
    let people = listed["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|user| user["kind"] == "user")
        .count();
    assert_eq!(people, 3, "one user per sub: {listed}");

    let wrong_key = encode(
        &Header::default(),
        &json!({"sub":"x","exp":now() + 600}),
        &EncodingKey::from_secret(b"not the backend's secret").expect("key"),
    )
    .expect("sign");
    for refused in [
        hs256(json!({"sub":"late","exp":now() - 3600})),
        hs256(json!({"sub":"forever"})),
        hs256(json!({"exp":now() + 600})),
        wrong_key,
        "eyJhbGciOiJIUzI1NiJ9.bm9wZQ.bm9wZQ".to_string(),
    ] {
        assert_eq!(status_of(&server, &refused).await, 401, "{refused}");
    }
    // Palaver's own tokens still work beside JWTs.
    let (_, token) = server.user("bob").await;
    assert_eq!(status_of(&server, &token).await, 101);
}
on_both_backends!(a_backend_jwt_signs_in_a_new_user);

/// RS256 with the public key in a PEM file; an HS256 token is refused by that server.
#[actix_rt::test]
async fn rs256_from_a_pem_file() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(
        &db,
        &["--jwt-public-key", &format!("{FIXTURES}/rsa-public.pem")],
    )
    .await;
    let key = EncodingKey::from_rsa_pem(&fixture("rsa-private.pem")).expect("rsa key");
    let jwt = encode(
        &Header::new(Algorithm::RS256),
        &json!({"sub":"t-1","name":"Tutor","exp":now() + 600}),
        &key,
    )
    .expect("sign");
    let client = Client::try_connect(&server.base, Some(&jwt), None)
        .await
        .expect("RS256 connects");
    assert_eq!(client.hello["user"]["name"], "Tutor");
    let forged = hs256(json!({"sub":"t-1","exp":now() + 600}));
    assert_eq!(status_of(&server, &forged).await, 401);
}

/// A JWKS served over loopback HTTP; answers every request with `body` and counts them.
fn jwks_server(body: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().expect("addr")
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            counted.fetch_add(1, Ordering::SeqCst);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, hits)
}

/// ES256 keys from a JWKS URL: fetched once and cached; a token naming an unknown key is
/// 401; an unreachable JWKS is 503, not 401.
#[actix_rt::test]
async fn es256_from_a_jwks_url_fetched_once() {
    let key = EncodingKey::from_ec_pem(&fixture("ec-private.pem")).expect("ec key");
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::ES256).expect("jwk");
    jwk.common.key_id = Some("k1".into());
    let (url, hits) = jwks_server(json!({ "keys": [jwk] }).to_string());

    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(&db, &["--jwt-jwks-url", &url]).await;
    let sign = |kid: &str, sub: &str| {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        encode(&header, &json!({"sub":sub,"exp":now() + 600}), &key).expect("sign")
    };
    for sub in ["p-1", "p-2", "p-1"] {
        let client = Client::try_connect(&server.base, Some(&sign("k1", sub)), None)
            .await
            .expect("ES256 via JWKS connects");
        assert_eq!(client.hello["user"]["name"], sub);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the JWKS is cached");
    assert_eq!(status_of(&server, &sign("k9", "p-3")).await, 401);

    // A JWKS nobody serves: the server cannot check the token, and says so with 503.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}/jwks", closed.local_addr().expect("addr"));
    drop(closed);
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(
        &db,
        &["--jwt-jwks-url", &dead, "--jwt-jwks-timeout-ms", "500"],
    )
    .await;
    assert_eq!(status_of(&server, &sign("k1", "p-1")).await, 503);
}

/// A key server that reads the request and then either never answers (`hang`) or sends
/// its headers and then its body a byte a second (slow-loris). Counts connections.
fn stalling_jwks_server(hang: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                if hang {
                    std::thread::sleep(std::time::Duration::from_secs(60));
                    return;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n",
                );
                for _ in 0..60 {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    if stream.write_all(b" ").is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, connections)
}

/// Issue 20 item 5: a key server that hangs or sends its body a byte a second. Every
/// sign-in gets 503 once the one deadline (`--jwt-jwks-timeout-ms`, headers and body) has
/// passed, never 401 "no key"; eight sign-ins at once make one fetch; sign-ins after it
/// (before a new fetch may start) are 503 too.
#[actix_rt::test]
async fn a_hung_or_slow_key_server_is_503_for_every_sign_in_within_the_deadline() {
    let key = EncodingKey::from_ec_pem(&fixture("ec-private.pem")).expect("ec key");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    let jwt = encode(&header, &json!({"sub":"p-1","exp":now() + 600}), &key).expect("sign");
    // Far above the deadline (1 s), far below what the stand-ins take (60 s and more).
    let bound = std::time::Duration::from_secs(20);
    for hang in [true, false] {
        let (url, connections) = stalling_jwks_server(hang);
        let db = Database::new(Backend::Sqlite).await;
        let server = Server::start_with(
            &db,
            &["--jwt-jwks-url", &url, "--jwt-jwks-timeout-ms", "1000"],
        )
        .await;
        let started = std::time::Instant::now();
        let statuses =
            futures_util::future::join_all((0..8).map(|_| status_of(&server, &jwt))).await;
        assert!(
            started.elapsed() < bound,
            "hang={hang}: {:?}",
            started.elapsed()
        );
        assert_eq!(statuses, vec![503; 8], "hang={hang}");
        assert_eq!(
            connections.load(Ordering::SeqCst),
            1,
            "hang={hang}: one fetch"
        );
        assert_eq!(status_of(&server, &jwt).await, 503, "hang={hang}: not 401");
        assert_eq!(connections.load(Ordering::SeqCst), 1, "hang={hang}");
    }
}

/// A JWKS over https:// from a server whose certificate a CA of the test's own signed:
/// trusted through `--extra-ca`, the keys are fetched and sign-in works; without the flag
/// the certificate is refused (the handshake fails, nothing is requested) and sign-in is
/// 503, as for any JWKS the server cannot read.
#[actix_rt::test]
async fn a_jwks_over_https_is_trusted_through_extra_ca_and_refused_without() {
    let key = EncodingKey::from_ec_pem(&fixture("ec-private.pem")).expect("ec key");
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::ES256).expect("jwk");
    jwk.common.key_id = Some("k1".into());
    let body = json!({ "keys": [jwk] }).to_string();
    let ca = common::tls::TestCa::new();
    let jwks = common::tls::HttpsStandIn::start(ca.server_config(), move |_| (200, body.clone()));
    let url = jwks.url("/.well-known/jwks.json");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    let jwt = encode(&header, &json!({"sub":"tls-1","exp":now() + 600}), &key).expect("sign");

    let db = Database::new(Backend::Sqlite).await;
    let trusting = Server::start_with(
        &db,
        &["--jwt-jwks-url", &url, "--extra-ca", &ca.ca_pem_arg()],
    )
    .await;
    assert_eq!(status_of(&trusting, &jwt).await, 101);
    {
        let requests = jwks.requests.lock().expect("lock");
        assert_eq!(requests.len(), 1, "{requests:?}");
        assert_eq!(requests[0].method, "GET");
        assert_eq!(requests[0].path, "/.well-known/jwks.json");
    }

    let db = Database::new(Backend::Sqlite).await;
    let untrusting = Server::start_with(&db, &["--jwt-jwks-url", &url]).await;
    assert_eq!(status_of(&untrusting, &jwt).await, 503);
    assert_eq!(
        jwks.requests.lock().expect("lock").len(),
        1,
        "nothing more read"
    );
    // The stand-in's thread counts the broken-off handshake when it sees it: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while *jwks.handshakes_failed.lock().expect("lock") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stand-in saw no refused handshake"
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `DELETE /admin/users/{id}`: the user's connections get `unauthorized` and 4001, their
/// tokens stop working, they leave the lists, their messages stay with their name.
async fn deactivating_a_user(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--jwt-secret", SECRET]).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let mut amy = server.connect(&amy_token).await;
    let mut bob = server.connect(&bob_token).await;
    let room = amy.ok(json!({"type":"open_direct","user":bob_id})).await["room"]["id"]
        .as_str()
        .expect("room")
        .to_string();
    bob.ok(json!({"type":"join","room":room})).await;
    bob.ok(json!({"type":"send","room":room,"body":"bye amy"}))
        .await;

    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{bob_id}"), None)
        .await;
    assert_eq!(status, 204);
    let last = bob.next_reply().await;
    assert_eq!(last["code"], "unauthorized", "{last}");
    assert_eq!(bob.closed().await, Some(4001));
    assert_eq!(status_of(&server, &bob_token).await, 401);

    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{bob_id}"), None)
        .await;
    assert_eq!(status, 404, "a second DELETE finds no active user");
    let (status, _) = server
        .admin("GET", &format!("/admin/users/{bob_id}"), None)
        .await;
    assert_eq!(status, 404);
    let (_, listed) = server.admin("GET", "/admin/users", None).await;
    assert!(
        !listed.to_string().contains("\"bob\""),
        "not listed: {listed}"
    );
    let (status, body) = server
        .admin("POST", &format!("/admin/users/{bob_id}/tokens"), None)
        .await;
    assert_eq!(status, 404, "{body}");
    // Amy can no longer reach bob, and the history keeps his name.
    assert_eq!(
        amy.error(json!({"type":"create_group","name":"g","members":[bob_id]}))
            .await,
        "not_found"
    );
    let joined = amy.ok(json!({"type":"join","room":room})).await;
    assert_eq!(joined["messages"][0]["sender"]["name"], "bob", "{joined}");
    assert_eq!(joined["messages"][0]["body"], "bye amy");
    // Bots are not deactivated here.
    let (status, _) = server.admin("DELETE", "/admin/users/mathbot", None).await;
    assert_eq!(status, 400);
    let _ = amy_id;

    // A deactivated backend user's JWT is refused too.
    let jwt = hs256(json!({"sub":"s-1","name":"sam","exp":now() + 600}));
    let sam = Client::try_connect(&server.base, Some(&jwt), None)
        .await
        .expect("connects");
    let sam_id = sam.hello["user"]["id"].as_str().expect("id").to_string();
    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{sam_id}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(status_of(&server, &jwt).await, 401);
}
on_both_backends!(deactivating_a_user);

/// Tokens have ids; they are listed without secrets and revoked one by one: only the
/// connections of the revoked token close.
async fn revoking_one_token(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (status, created) = server
        .admin("POST", "/admin/users", Some(json!({"name":"amy"})))
        .await;
    assert_eq!(status, 201);
    let amy = created["user"]["id"].as_str().expect("id").to_string();
    let phone_token = created["token"].as_str().expect("token").to_string();
    let phone_id = created["token_id"].as_str().expect("token_id").to_string();
    assert!(phone_id.starts_with("t_"), "{created}");
    let (status, issued) = server
        .admin("POST", &format!("/admin/users/{amy}/tokens"), None)
        .await;
    assert_eq!(status, 201);
    let laptop_token = issued["token"].as_str().expect("token").to_string();
    let laptop_id = issued["token_id"].as_str().expect("token_id").to_string();

    let (status, listed) = server
        .admin("GET", &format!("/admin/users/{amy}/tokens"), None)
        .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = listed["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|token| token["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [phone_id.as_str(), laptop_id.as_str()]);
    assert!(listed["tokens"][0]["created"]
        .as_str()
        .expect("created")
        .ends_with('Z'));
    assert!(
        !listed.to_string().contains("pv_"),
        "never the secret: {listed}"
    );

    let mut phone = server.connect(&phone_token).await;
    let mut laptop = server.connect(&laptop_token).await;
    let (status, _) = server
        .admin(
            "DELETE",
            &format!("/admin/users/{amy}/tokens/{phone_id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(phone.next_reply().await["code"], "unauthorized");
    assert_eq!(phone.closed().await, Some(4001));
    laptop.ok(json!({"type":"ping"})).await;
    assert_eq!(status_of(&server, &phone_token).await, 401);
    assert_eq!(status_of(&server, &laptop_token).await, 101);

    for missing in [phone_id.as_str(), "t_999", "nope"] {
        let (status, body) = server
            .admin(
                "DELETE",
                &format!("/admin/users/{amy}/tokens/{missing}"),
                None,
            )
            .await;
        assert_eq!(status, 404, "{missing}: {body}");
    }
    let (_, listed) = server
        .admin("GET", &format!("/admin/users/{amy}/tokens"), None)
        .await;
    assert_eq!(listed["tokens"].as_array().expect("tokens").len(), 1);
}
on_both_backends!(revoking_one_token);

/// `--allowed-origins`: a listed origin, the server's own page and a client without `Origin`
/// connect; another web page gets 403 with a message naming the flag, and nothing else is
/// checked first (an unknown origin with a good token is still refused).
#[actix_rt::test]
async fn allowed_origins_refuse_other_web_pages() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(&db, &["--allowed-origins", "https://chat.example.com"]).await;
    let (_, token) = server.user("amy").await;
    let own = server.base.clone();
    for origin in [
        "https://chat.example.com",
        "https://CHAT.example.com:443",
        own.as_str(),
    ] {
        let client = Client::try_connect_from(&server.base, &token, origin).await;
        assert!(client.is_ok(), "{origin} must be admitted");
    }
    assert!(Client::try_connect(&server.base, Some(&token), None)
        .await
        .is_ok());
    for origin in ["https://evil.example", "http://chat.example.com", "null"] {
        match Client::try_connect_from(&server.base, &token, origin).await {
            Err(ConnectError::Status(403)) => {}
            Err(other) => panic!("{origin}: {other:?}"),
            Ok(_) => panic!("{origin} must be refused"),
        }
    }
    let mut response = awc::Client::default()
        .get(format!("{}/ws?token={token}", server.base))
        .insert_header(("Origin", "https://evil.example"))
        .send()
        .await
        .expect("HTTP request");
    assert_eq!(response.status().as_u16(), 403);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("--allowed-origins"), "{message}");
}

/// A bad `--allowed-origins` is one line naming the entry, and exit code 2.
#[test]
fn a_bad_allowed_origins_list_exits_2() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(["--allowed-origins", "https://ok.example,ok.example"])
        .output()
        .expect("run palaver");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"ok.example\" is not an origin"),
        "{stderr}"
    );
}
