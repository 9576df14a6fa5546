//! End-to-end: what one user, a buggy client or a race can take from everyone else (issue
//! 20): the same room for a pair however many calls race for it, and no store text in an
//! answer; sign-in that never fails because of a name, and names that cannot pose as the
//! system or a bot; JWT claims; an owner who left; `typing` folded; template URLs.

mod common;

use common::{Backend, Database, Server};
use futures_util::future::join_all;
use serde_json::{json, Value};

/// 80 `open_direct` for one pair at once, from 40 connections of each side (spread over both
/// nodes of a cluster): every answer is `ok` with the same room, one room exists, and the
/// members get it once.
async fn racing_open_direct_calls_get_one_room(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--max-connections-per-user", "64"]).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let mut clients = Vec::new();
    for n in 0..80 {
        let token = if n % 2 == 0 { &amy_token } else { &bob_token };
        clients.push(server.connect(token).await);
    }
    // Every frame goes out before any answer is read.
    for (n, client) in clients.iter_mut().enumerate() {
        let other = if n % 2 == 0 { &bob_id } else { &amy_id };
        client
            .send(json!({"type":"open_direct","id":n,"user":other}))
            .await;
    }
    let answers: Vec<Value> = join_all(clients.iter_mut().map(|client| client.next_reply())).await;
    let mut rooms = std::collections::BTreeSet::new();
    for answer in &answers {
        assert_eq!(answer["type"], "ok", "{answer}");
        rooms.insert(
            answer["data"]["room"]["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    assert_eq!(rooms.len(), 1, "one room for the pair: {rooms:?}");
    let (status, listed) = server.admin("GET", "/admin/rooms?kind=direct", None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed["rooms"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(listed["rooms"][0]["members_count"], 2, "{listed}");
}
on_every_deployment!(racing_open_direct_calls_get_one_room);

// ---- Connection caps (issue 20, item 4) ----

type Socket = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// A WebSocket of `token` (optionally as a proxy would forward it): the socket, or the HTTP
/// status and JSON body of the refusal.
async fn open_ws(base: &str, token: &str, forwarded: Option<&str>) -> Result<Socket, (u16, Value)> {
    let url = format!("{}/ws?token={token}", base.replace("http://", "ws://"));
    let mut request = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .max_http_version(awc::http::Version::HTTP_11)
        .finish()
        .ws(&url);
    if let Some(address) = forwarded {
        request = request.set_header("X-Forwarded-For", address);
    }
    match request.connect().await {
        Ok((_, socket)) => Ok(socket),
        Err(awc::error::WsClientError::InvalidResponseStatus(_)) => {
            Err(refusal(base, token, forwarded).await)
        }
        Err(err) => panic!("connect: {err}"),
    }
}

/// What a plain `GET /ws` gets: a refused one is answered before the handshake is looked at.
async fn refusal(base: &str, token: &str, forwarded: Option<&str>) -> (u16, Value) {
    let mut request = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .finish()
        .get(format!("{base}/ws?token={token}"));
    if let Some(address) = forwarded {
        request = request.insert_header(("X-Forwarded-For", address));
    }
    let mut response = request.send().await.expect("GET /ws");
    let body = response.body().await.expect("body");
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (response.status().as_u16(), value)
}

/// Asserts a 503 `unavailable` whose message says `cause`.
fn assert_refused(answer: Result<Socket, (u16, Value)>, cause: &str) {
    match answer {
        Ok(_) => panic!("connected past the cap ({cause})"),
        Err((status, body)) => {
            assert_eq!(status, 503, "{body}");
            assert_eq!(body["error"]["code"], "unavailable", "{body}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(cause), "{message:?} should say {cause:?}");
        }
    }
}

async fn healthz(server: &Server) -> u16 {
    server.call("GET", "/healthz", None, None).await.0
}

/// Until `connect` succeeds (the server notices a closed socket a moment later), at most 10 s.
async fn connects_again(base: &str, token: &str, forwarded: Option<&str>) -> Socket {
    for _ in 0..100 {
        if let Ok(socket) = open_ws(base, token, forwarded).await {
            return socket;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no place came free after a connection closed")
}

/// One user past `--max-connections-per-user`, and one address past
/// `--max-connections-per-address`, get 503 naming the cap; other users, `/healthz` and a
/// connection after one closed still work.
#[actix_rt::test]
async fn connections_are_capped_per_user_and_per_address() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(
        &db,
        &[
            "--max-connections-per-user",
            "3",
            "--max-connections-per-address",
            "5",
        ],
    )
    .await;
    let (_, amy) = server.user("amy").await;
    let (_, bob) = server.user("bob").await;
    let (_, carl) = server.user("carl").await;
    let (_, dan) = server.user("dan").await;
    let mut amys = Vec::new();
    for _ in 0..3 {
        amys.push(
            open_ws(&server.base, &amy, None)
                .await
                .expect("within the cap"),
        );
    }
    assert_refused(
        open_ws(&server.base, &amy, None).await,
        "this user has 3 connections",
    );
    let _bob = open_ws(&server.base, &bob, None)
        .await
        .expect("another user");
    assert_eq!(healthz(&server).await, 200);
    amys.pop();
    amys.push(connects_again(&server.base, &amy, None).await);
    let _carl = open_ws(&server.base, &carl, None)
        .await
        .expect("the 5th from 127.0.0.1");
    assert_refused(
        open_ws(&server.base, &dan, None).await,
        "5 connections are open from this address",
    );
    // The header is no one's word without --trusted-proxies.
    assert_refused(
        open_ws(&server.base, &dan, Some("203.0.113.7")).await,
        "from this address",
    );
    let (_, metrics) = server.admin("GET", "/metrics", None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("palaver_connections_refused_total{cap=\"user\"}")
            && metrics.contains("palaver_connections_refused_total{cap=\"address\"}"),
        "{metrics}"
    );
}

/// Behind a proxy `--trusted-proxies` names, the client is the address it forwards: two
/// clients of one proxy are two addresses, and one client's second connection is refused.
#[actix_rt::test]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(
        &db,
        &[
            "--max-connections-per-address",
            "1",
            "--trusted-proxies",
            "127.0.0.1",
        ],
    )
    .await;
    let (_, amy) = server.user("amy").await;
    let (_, bob) = server.user("bob").await;
    let _first = open_ws(&server.base, &amy, Some("203.0.113.1"))
        .await
        .expect("client 1");
    let _second = open_ws(&server.base, &bob, Some("203.0.113.2"))
        .await
        .expect("client 2");
    assert_refused(
        open_ws(&server.base, &bob, Some("203.0.113.1")).await,
        "1 connections are open from this address",
    );
    // What a client writes before the proxy's own entry is not its address.
    assert_refused(
        open_ws(&server.base, &bob, Some("198.51.100.9, 203.0.113.2")).await,
        "from this address",
    );
}

/// With only 256 open files (prlimit on the server's process), the node takes 128
/// WebSockets and refuses the next with 503 naming the node's cap, well before the limit:
/// `/healthz` still answers, and once connections close, new ones are taken again.
#[actix_rt::test]
async fn a_node_refuses_websockets_well_before_its_open_files_limit() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_under(
        &["prlimit", "--nofile=256:256", "--"],
        &db,
        &[
            "--workers",
            "2",
            "--max-connections-per-user",
            "1000",
            "--max-connections-per-address",
            "1000",
        ],
    );
    let (_, amy) = server.user("amy").await;
    let mut sockets = Vec::new();
    let refused = loop {
        match open_ws(&server.base, &amy, None).await {
            Ok(socket) => sockets.push(socket),
            Err(refused) => break refused,
        }
        assert!(sockets.len() <= 200, "no refusal before 200 connections");
    };
    assert_eq!(
        sockets.len(),
        128,
        "256 open files less the 128 kept for the rest"
    );
    assert_refused(Err(refused), "as many connections as it may (128)");
    assert_eq!(healthz(&server).await, 200, "HTTP still answers at the cap");
    sockets.truncate(100);
    let _again = connects_again(&server.base, &amy, None).await;
    assert_eq!(healthz(&server).await, 200);
}

// ---- typing (issue 20, item 10) ----

/// 20 `typing` in a row are each answered `ok`, and reach the other member once; after
/// the window (3 s) the next one is passed on again.
#[actix_rt::test]
async fn typing_is_passed_on_once_per_user_every_three_seconds() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let mut amy = server.connect(&amy_token).await;
    let mut bob = server.connect(&bob_token).await;
    let room = common::room_id(
        &amy.ok(json!({"type":"create_group","name":"study","members":[bob_id]}))
            .await,
    );
    amy.ok(json!({"type":"join","room":room})).await;
    bob.ok(json!({"type":"join","room":room})).await;
    bob.drain_events().await;
    for _ in 0..20 {
        amy.ok(json!({"type":"typing","room":room})).await;
    }
    let typing = |events: &[Value]| events.iter().filter(|e| e["type"] == "typing").count();
    assert_eq!(typing(&bob.drain_events().await), 1);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    amy.ok(json!({"type":"typing","room":room})).await;
    amy.ok(json!({"type":"typing","room":room})).await;
    assert_eq!(typing(&bob.drain_events().await), 1);
}

// ---- Uploads (issue 20, item 3) ----

/// A `POST /files` that declares `length` bytes, sends `sent` of them and stalls.
fn start_upload(base: &str, token: &str, length: usize, sent: &[u8]) -> std::net::TcpStream {
    use std::io::Write;
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    write!(
        stream,
        "POST /files?name=stall.bin HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Length: {length}\r\n\r\n"
    )
    .expect("headers");
    stream.write_all(sent).expect("first bytes");
    stream
}

/// The status and JSON body of the answer on `stream`.
fn answer(stream: &mut std::net::TcpStream) -> (u16, Value) {
    use std::io::Read;
    let mut got = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|code| code.parse().ok())
                    .expect("status");
                return (status, serde_json::from_str(body).unwrap_or(Value::Null));
            }
        }
        let read = stream.read(&mut buffer).expect("an answer in time");
        assert!(read > 0, "closed without an answer: {text:?}");
        got.extend_from_slice(&buffer[..read]);
    }
}

fn assert_error(answer: (u16, Value), status: u16, code: &str, says: &str) {
    let (got, body) = answer;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message:?} should say {says:?}");
}

/// One user's 16 stalled uploads (1,000,000 bytes declared, one sent) do not stop anyone
/// else's: 4 hold that user's slots, the other 12 get 429 at once, another user's upload is
/// stored meanwhile, and the 4 get 408 once nothing came for the idle deadline (3 s here).
/// An upload that trickles on past the whole-body deadline gets 408 too.
#[actix_rt::test]
async fn stalled_uploads_stop_no_one_else() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(
        &db,
        &[
            "--upload-idle-secs",
            "3",
            "--upload-secs",
            "5",
            "--uploads-per-minute",
            "1000",
            "--upload-burst",
            "100",
        ],
    )
    .await;
    let (_, mallory) = server.user("mallory").await;
    let (_, bob) = server.user("bob").await;
    let stalled: Vec<std::net::TcpStream> = (0..16)
        .map(|_| start_upload(&server.base, &mallory, 1_000_000, b"x"))
        .collect();
    let (status, file) = upload(&server, &bob, b"bob's notes\n").await;
    assert_eq!(
        status, 201,
        "another user's upload is stored meanwhile: {file}"
    );
    let mut answers: Vec<(u16, Value)> = stalled
        .into_iter()
        .map(|mut stream| answer(&mut stream))
        .collect();
    answers.sort_by_key(|(status, _)| *status);
    let (timed_out, refused) = answers.split_at(4);
    for refusal in refused {
        assert_error(
            refusal.clone(),
            429,
            "rate_limited",
            "you have 4 uploads in progress",
        );
    }
    for stalled in timed_out {
        assert_error(stalled.clone(), 408, "timeout", "sent nothing for 3 s");
    }
    let (status, file) = upload(&server, &mallory, b"now it fits\n").await;
    assert_eq!(status, 201, "the slots came free: {file}");

    // A byte every half second is never idle for 3 s, but is not all in within 5 s.
    let mut trickle = start_upload(&server.base, &mallory, 1000, b"x");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(8);
    trickle.set_nonblocking(true).expect("nonblocking");
    loop {
        let mut byte = [0u8; 1];
        if std::io::Read::read(&mut trickle, &mut byte).is_ok() {
            trickle.set_nonblocking(false).expect("blocking");
            let (status, body) = answer(&mut trickle);
            assert_eq!(byte[0], b'H');
            assert_error((status, body), 408, "timeout", "not all in within 5 s");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer to a trickle"
        );
        let _ = std::io::Write::write_all(&mut trickle, b"x");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let (_, metrics) = server.admin("GET", "/metrics", None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    for cause in ["user_slots", "idle", "deadline"] {
        assert!(
            metrics.contains(&format!(
                "palaver_uploads_refused_total{{cause=\"{cause}\"}}"
            )),
            "{cause}: {metrics}"
        );
    }
}

/// `POST /files` of `bytes`: the status and the JSON answer.
async fn upload(server: &Server, token: &str, bytes: &[u8]) -> (u16, Value) {
    let mut response = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .finish()
        .post(format!("{}/files?name=notes.txt", server.base))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_body(bytes.to_vec())
        .await
        .expect("upload");
    let body = response.body().await.expect("body");
    (
        response.status().as_u16(),
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

// ---- Names and JWT claims (issue 20, items 6 and 10) ----

const SECRET: &str = "a shared secret of the backend";

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn hs256(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).expect("key"),
    )
    .expect("sign")
}

/// The `user` of `hello` for a JWT with these claims, or the HTTP status of the refusal.
async fn signed_in(server: &Server, claims: Value) -> Result<Value, u16> {
    match common::Client::try_connect(&server.base, Some(&hs256(claims)), None).await {
        Ok(client) => Ok(client.hello["user"].clone()),
        Err(common::ConnectError::Status(status)) => Err(status),
        Err(common::ConnectError::Other(err)) => panic!("connect: {err}"),
    }
}

/// 25 backend users named "Alex" all sign in: `Alex`, `Alex (2)` … `Alex (9)`, then
/// `Alex (u_N)` with their own id. A long `sub` without `name` is cut to 64; names that read
/// as the system's or a bot's become `user`; hidden characters are dropped; `nbf` is
/// enforced.
async fn a_sign_in_never_fails_for_a_name(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--jwt-secret", SECRET]).await;
    let mut names = std::collections::BTreeSet::new();
    for n in 1..=25 {
        let user = signed_in(
            &server,
            json!({"sub":format!("alex-{n}"),"name":"Alex","exp":now() + 600}),
        )
        .await
        .unwrap_or_else(|status| panic!("Alex number {n} got {status}"));
        let name = user["name"].as_str().expect("name").to_string();
        let expected = match n {
            1 => "Alex".to_string(),
            2..=9 => format!("Alex ({n})"),
            _ => format!("Alex ({})", user["id"].as_str().expect("id")),
        };
        assert_eq!(name, expected);
        assert!(names.insert(name), "names stay unique");
    }
    let again = signed_in(
        &server,
        json!({"sub":"alex-25","name":"Alex","exp":now() + 600}),
    )
    .await
    .expect("the same sub again");
    assert!(again["name"]
        .as_str()
        .is_some_and(|name| name.ends_with(&format!("({})", again["id"].as_str().unwrap_or("?")))));

    let long_sub = "s".repeat(100);
    let user = signed_in(&server, json!({"sub":long_sub,"exp":now() + 600}))
        .await
        .expect("a 100-character sub without a name signs in");
    assert_eq!(user["name"], "s".repeat(64));

    for imitation in [
        "System",
        "\u{0455}ystem",
        "SYS\u{200B}TEM",
        "MathBot",
        "mathbot",
    ] {
        let user = signed_in(
            &server,
            json!({"sub":format!("i-{imitation}"),"name":imitation,"exp":now() + 600}),
        )
        .await
        .unwrap_or_else(|status| panic!("{imitation:?} got {status}"));
        let name = user["name"].as_str().unwrap_or_default();
        assert!(name.starts_with("user"), "{imitation:?} became {name:?}");
    }
    let user = signed_in(
        &server,
        json!({"sub":"zw","name":"Zo\u{200B}\u{202E}ë","exp":now() + 600}),
    )
    .await
    .expect("hidden characters are dropped");
    assert_eq!(user["name"], "Zoë");

    assert_eq!(
        signed_in(
            &server,
            json!({"sub":"early","exp":now() + 600,"nbf":now() + 300})
        )
        .await
        .err(),
        Some(401),
        "a JWT not valid before 5 minutes from now"
    );
    assert!(signed_in(
        &server,
        json!({"sub":"early","exp":now() + 600,"nbf":now() - 5})
    )
    .await
    .is_ok());
}
on_both_backends!(a_sign_in_never_fails_for_a_name);

/// The admin API keeps names unique (409) and refuses names that read as the system's or a
/// bot's (409) and names with hidden characters or an id's form (400).
async fn admin_names_are_unique_and_cannot_pose(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let create = |name: &'static str| {
        let server = &server;
        async move {
            server
                .admin("POST", "/admin/users", Some(json!({ "name": name })))
                .await
        }
    };
    assert_eq!(create("amy").await.0, 201);
    let (status, body) = create("amy").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    for imitation in ["System", "\u{0455}ystem", "Mathbot", "ＭＡＴＨＢＯＴ"] {
        let (status, body) = create(imitation).await;
        assert_eq!(status, 409, "{imitation:?}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("reads as"), "{message}");
    }
    for hidden in ["a\u{200B}b", "\u{202E}nimda", "u_5", "amy (u_5)"] {
        let (status, body) = create(hidden).await;
        assert_eq!(status, 400, "{hidden:?}: {body}");
    }
    let (status, body) = create("Ａｍｙ  Pond").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["user"]["name"], "Amy Pond",
        "stored as NFKC with one space"
    );
}
on_both_backends!(admin_names_are_unique_and_cannot_pose);

/// A JWKS holding an `oct` key (a shared secret) is never used: an HS256 token signed with
/// that secret is refused.
#[actix_rt::test]
async fn an_oct_key_in_a_jwks_signs_no_one_in() {
    use std::io::{Read, Write};
    let secret = b"a secret anyone reading the JWKS knows";
    let key = jsonwebtoken::EncodingKey::from_secret(secret).expect("key");
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::HS256)
        .expect("an oct JWK");
    jwk.common.key_id = Some("k1".into());
    let body = json!({ "keys": [jwk] }).to_string();
    assert!(body.contains("\"oct\""), "{body}");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(&db, &["--jwt-jwks-url", &url]).await;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k1".into());
    let forged = jsonwebtoken::encode(&header, &json!({"sub":"root","exp":now() + 600}), &key)
        .expect("sign");
    match common::Client::try_connect(&server.base, Some(&forged), None).await {
        Err(common::ConnectError::Status(status)) => assert_eq!(status, 401),
        Ok(_) => panic!("an HS256 token signed with a JWKS oct key signed in"),
        Err(common::ConnectError::Other(err)) => panic!("connect: {err}"),
    }
}

/// An owner who left their public group (`forget`) cannot kick from it any more; back in it,
/// they can.
async fn an_owner_who_left_cannot_kick(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let mut amy = server.connect(&amy_token).await;
    let mut bob = server.connect(&bob_token).await;
    let room = common::room_id(
        &amy.ok(json!({"type":"create_group","name":"open","public":true,"members":[bob_id]}))
            .await,
    );
    amy.ok(json!({"type":"leave","room":room,"forget":true}))
        .await;
    assert_eq!(
        amy.error(json!({"type":"kick","room":room,"user":bob_id}))
            .await,
        "forbidden"
    );
    let joined = bob.ok(json!({"type":"join","room":room})).await;
    assert_eq!(
        joined["room"]["members_count"], 1,
        "bob is still in: {joined}"
    );
    amy.ok(json!({"type":"join","room":room})).await;
    amy.ok(json!({"type":"kick","room":room,"user":bob_id}))
        .await;
}
on_both_backends!(an_owner_who_left_cannot_kick);

/// A PNG of a few bytes declaring 7000 × 7000 pixels of 16-bit RGBA (49 million pixels,
/// under the pixel limit, but 392 MB decoded) is refused from its header with 413.
#[actix_rt::test]
async fn an_image_too_big_to_decode_is_refused_from_its_header() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (_, amy) = server.user("amy").await;
    let (status, body) = upload(&server, &amy, &png_declaring(7000, 7000, 16, 6)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "too_large");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("7000 × 7000 pixels of 392000000 bytes"),
        "{message}"
    );
}

/// The signature, an IHDR of these dimensions, bit depth and colour type, one empty IDAT
/// and IEND: a PNG whose header promises what its body does not hold.
fn png_declaring(width: u32, height: u32, depth: u8, colour: u8) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[depth, colour, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Templates with `javascript:` or `data:` image URLs are refused by the admin API (400
/// naming the field) and by `PUT /admin/bots` (a scripted bot's definition), and store
/// nothing; http(s) URLs and paths on the server are taken.
#[actix_rt::test]
async fn template_urls_are_http_or_this_servers() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (amy, _) = server.user("amy").await;
    let (status, body) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"kind":"group","name":"news","members":[amy]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let room = body["room"]["id"].as_str().expect("room").to_string();
    let post = |template: Value| {
        let (server, room) = (&server, room.clone());
        async move {
            server
                .admin(
                    "POST",
                    &format!("/admin/rooms/{room}/messages"),
                    Some(json!({"body":"look","template":template})),
                )
                .await
        }
    };
    for bad in [
        "javascript:alert(document.cookie)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "//evil.example/x.png",
    ] {
        let (status, body) = post(json!({"kind":"image","url":bad,"alt":"x"})).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("template.url: "),
            "{body}"
        );
        let (status, body) =
            post(json!({"kind":"card","title":"t","text":"x","image_url":bad})).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert!(
        server.stored_messages(&room).await.is_empty(),
        "nothing stored"
    );
    for fine in ["https://example.com/a.png", "/triangle.svg"] {
        let (status, body) = post(json!({"kind":"image","url":fine,"alt":"x"})).await;
        assert_eq!(status, 201, "{fine}: {body}");
    }
    let bot = json!({
        "id":"sneaky","name":"Sneaky","sort":"scripted","fallback":"?",
        "script":{"start":"hi","states":{"hi":{"say":[{"kind":"image","url":"javascript:alert(1)","alt":"x","body":"hi"}]}}}
    });
    let (status, body) = server.admin("PUT", "/admin/bots/sneaky", Some(bot)).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("states.hi.say[0].url"), "{message}");
    let (_, listed) = server.admin("GET", "/admin/bots", None).await;
    assert!(!listed.to_string().contains("sneaky"), "{listed}");
}
