//! End-to-end: users by the id the team's backend gives them (docs/auth.md, "Users made
//! ahead of their first sign-in"): `PUT /admin/users/external/{sub}` makes the user a JWT
//! with that `sub` signs in as, so that the backend can put them in a group first;
//! `GET /admin/users?external_id=` finds them; the JWT's `name` renames them when it
//! changes, by the same rules as a new user's name. Both backends.

mod common;

use common::{Backend, Client, Database, Server};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &str = "a shared secret of the backend";

fn jwt(claims: Value) -> String {
    let mut claims = claims;
    claims["exp"] = json!(jsonwebtoken::get_current_timestamp() + 600);
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()).expect("key"),
    )
    .expect("sign")
}

async fn sign_in(server: &Server, claims: Value) -> Client {
    Client::try_connect(&server.base, Some(&jwt(claims)), None)
        .await
        .unwrap_or_else(|_| panic!("the JWT signs in"))
}

/// `GET /admin/users?external_id=SUB`: (status, body).
async fn by_external_id(server: &Server, sub: &str) -> (u16, Value) {
    let query = form_urlencoded(sub);
    server
        .admin("GET", &format!("/admin/users?external_id={query}"), None)
        .await
}

/// `PUT /admin/users/external/{sub}` with `body`.
async fn put(server: &Server, sub: &str, body: Value) -> (u16, Value) {
    let path = format!("/admin/users/external/{}", percent(sub));
    server.admin("PUT", &path, Some(body)).await
}

/// `text` percent-encoded for a path segment (everything but letters and digits).
fn percent(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn form_urlencoded(text: &str) -> String {
    percent(text)
}

/// How many people the admin list holds.
async fn people(server: &Server) -> usize {
    let (status, listed) = server.admin("GET", "/admin/users?limit=200", None).await;
    assert_eq!(status, 200, "{listed}");
    listed["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|user| user["kind"] == "user")
        .count()
}

/// The backend makes a student ahead of their first sign-in, puts them in a group, and the
/// student's first JWT finds that user and that group. The same PUT again is 200 with the
/// same user; a new name renames them; the lookup finds them by `sub` (any characters a
/// `sub` may hold, percent-encoded).
async fn a_user_made_ahead_is_the_one_the_first_sign_in_finds(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--jwt-secret", SECRET]).await;
    let (tutor, tutor_token) = server.user("tutor").await;

    let (status, made) = put(&server, "student-4711", json!({"name":"Amy Pond"})).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["external_id"], "student-4711");
    assert_eq!(made["user"]["name"], "Amy Pond");
    assert_eq!(made["user"]["kind"], "user");
    let amy = made["user"]["id"].as_str().expect("id").to_string();

    let (status, again) = put(&server, "student-4711", json!({"name":"Amy Pond"})).await;
    assert_eq!(status, 200, "the same call again: {again}");
    assert_eq!(again["user"]["id"], amy.as_str());
    assert_eq!(again["user"]["name"], "Amy Pond");

    let (status, found) = by_external_id(&server, "student-4711").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["users"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["users"][0]["id"], amy.as_str());
    assert_eq!(found["next"], Value::Null);

    let (status, room) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"kind":"group","name":"algebra","members":[amy, tutor],"owner":tutor})),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    let room_id = room["room"]["id"].as_str().expect("room").to_string();

    // The first sign-in: the same user, already in the group.
    let mut student = sign_in(&server, json!({"sub":"student-4711","name":"Amy Pond"})).await;
    assert_eq!(
        student.hello["user"]["id"],
        amy.as_str(),
        "{}",
        student.hello
    );
    let rooms = student.ok(json!({"type":"rooms"})).await;
    assert!(
        rooms["rooms"]
            .as_array()
            .expect("rooms")
            .iter()
            .any(|room| room["id"] == room_id.as_str()),
        "{rooms}"
    );
    let mut teacher = server.connect(&tutor_token).await;
    teacher.ok(json!({"type":"join","room":room_id})).await;
    student
        .ok(json!({"type":"send","room":room_id,"body":"hello"}))
        .await;
    let message = teacher.event("message").await;
    assert_eq!(message["message"]["sender"]["name"], "Amy Pond");

    // The backend renames her: PUT with a new name, then a JWT with another.
    let (status, renamed) = put(&server, "student-4711", json!({"name":"Amy Williams"})).await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["user"]["name"], "Amy Williams");
    assert_eq!(renamed["user"]["id"], amy.as_str());
    let later = sign_in(&server, json!({"sub":"student-4711","name":"Amy W."})).await;
    assert_eq!(later.hello["user"]["id"], amy.as_str());
    assert_eq!(
        later.hello["user"]["name"], "Amy W.",
        "the JWT's name renames"
    );
    // A JWT without `name`, and a PUT without one, leave the name as it is.
    let unnamed = sign_in(&server, json!({"sub":"student-4711"})).await;
    assert_eq!(unnamed.hello["user"]["name"], "Amy W.");
    let (status, kept) = put(&server, "student-4711", json!({})).await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["user"]["name"], "Amy W.");
    let (_, found) = by_external_id(&server, "student-4711").await;
    assert_eq!(found["users"][0]["name"], "Amy W.");
    // History shows the sender by their name now.
    let (_, history) = server
        .admin("GET", &format!("/admin/rooms/{room_id}/messages"), None)
        .await;
    assert_eq!(
        history["messages"][0]["sender"]["name"], "Amy W.",
        "{history}"
    );

    // Any `sub` a JWT may carry, percent-encoded in the path and the query.
    for sub in ["auth0|5f1c", "https://idp.example/u/7", "Zoë 42", "a+b=c&d"] {
        let (status, made) = put(&server, sub, json!({"name": format!("x {sub}")})).await;
        assert_eq!(status, 201, "{sub}: {made}");
        assert_eq!(made["external_id"], sub);
        let (status, found) = by_external_id(&server, sub).await;
        assert_eq!(status, 200, "{sub}: {found}");
        assert_eq!(found["users"][0]["id"], made["user"]["id"], "{sub}");
        let client = sign_in(&server, json!({"sub": sub})).await;
        assert_eq!(client.hello["user"]["id"], made["user"]["id"], "{sub}");
    }
    // Without `name`, a new user is named after the sub, as at a JWT's first sign-in.
    let (status, made) = put(&server, "s-77", json!({})).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["user"]["name"], "s-77");
}
on_both_backends!(a_user_made_ahead_is_the_one_the_first_sign_in_finds);

/// Names follow the JWT sign-in rules: a taken name is numbered (and a user whose name is
/// that name numbered is not renamed by asking for it again); a name that reads as the
/// system's or a bot's makes a new user `user` and leaves a known user's name alone;
/// hidden characters are dropped; names stay unique.
async fn names_follow_the_sign_in_rules(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--jwt-secret", SECRET]).await;
    server.user("Alex").await;
    let (status, second) = put(&server, "alex-2", json!({"name":"Alex"})).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["user"]["name"], "Alex (2)");
    let (status, again) = put(&server, "alex-2", json!({"name":"Alex"})).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["user"]["name"], "Alex (2)",
        "not renamed for a taken name"
    );
    let client = sign_in(&server, json!({"sub":"alex-2","name":"Alex"})).await;
    assert_eq!(client.hello["user"]["name"], "Alex (2)");

    // A rename to a name someone holds is numbered too.
    let (_, third) = put(&server, "sam", json!({"name":"Sam"})).await;
    assert_eq!(third["user"]["name"], "Sam");
    let client = sign_in(&server, json!({"sub":"sam","name":"Alex"})).await;
    assert_eq!(client.hello["user"]["name"], "Alex (3)");
    // A rename to one that reads as the system's leaves the name.
    let client = sign_in(&server, json!({"sub":"sam","name":"SYS\u{200B}TEM"})).await;
    assert_eq!(client.hello["user"]["name"], "Alex (3)");
    // A new user with such a name is `user`.
    let (status, posing) = put(&server, "p-1", json!({"name":"System"})).await;
    assert_eq!(status, 201);
    assert_eq!(posing["user"]["name"], "user");
    // Hidden characters are dropped, for a rename as for a new user.
    let client = sign_in(&server, json!({"sub":"sam","name":"Zo\u{200B}\u{202E}ë"})).await;
    assert_eq!(client.hello["user"]["name"], "Zoë");
    // The name "Alex (3)" is free again, and renames may swap names safely.
    let (status, _) = put(&server, "alex-2", json!({"name":"Alex (3)"})).await;
    assert_eq!(status, 200);

    let (_, listed) = server.admin("GET", "/admin/users?limit=200", None).await;
    let names: Vec<&str> = listed["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|user| user["name"].as_str())
        .collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "names stay unique: {names:?}");
}
on_both_backends!(names_follow_the_sign_in_rules);

/// Bad input is refused with a clear answer and changes nothing; a deactivated user is
/// neither found (404) nor made again (409), and stays deactivated.
async fn bad_input_and_deactivated_users_change_nothing(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--jwt-secret", SECRET]).await;
    let (status, made) = put(&server, "kim", json!({"name":"Kim"})).await;
    assert_eq!(status, 201, "{made}");
    let before = people(&server).await;

    let long = "s".repeat(256);
    for (sub, body) in [
        ("bad\u{1}sub", json!({"name":"x"})),
        (long.as_str(), json!({"name":"x"})),
        ("fine", json!({"name":12345})),
        ("fine", json!({"name":["x"]})),
    ] {
        let (status, answer) = put(&server, sub, body.clone()).await;
        assert_eq!(status, 400, "{sub:?} {body}: {answer}");
        assert_eq!(answer["error"]["code"], "bad_request");
    }
    let (status, answer) = server
        .admin_raw(
            "PUT",
            "/admin/users/external/fine",
            "{\"name\":\"a\",\"name\":\"b\"}",
        )
        .await;
    assert_eq!(status, 400, "a key twice: {answer}");
    let (status, answer) = server
        .call(
            "PUT",
            "/admin/users/external/fine",
            Some(json!({"name":"x"})),
            None,
        )
        .await;
    assert_eq!(status, 401, "without the admin token: {answer}");
    assert_eq!(people(&server).await, before, "nothing was made");

    for query in [
        "external_id=",
        "external_id=a%01b",
        "external_id=kim&limit=5",
        "external_id=kim&after=u_1",
    ] {
        let (status, answer) = server
            .admin("GET", &format!("/admin/users?{query}"), None)
            .await;
        assert_eq!(status, 400, "{query}: {answer}");
    }
    let (status, answer) = by_external_id(&server, "nobody").await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "not_found");

    let id = made["user"]["id"].as_str().expect("id");
    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, answer) = by_external_id(&server, "kim").await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = put(&server, "kim", json!({"name":"Kim"})).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "conflict");
    let refused = Client::try_connect(
        &server.base,
        Some(&jwt(json!({"sub":"kim","name":"Kim again"}))),
        None,
    )
    .await;
    assert!(refused.is_err(), "a deactivated user stays deactivated");
    assert_eq!(people(&server).await, before - 1);
}
on_both_backends!(bad_input_and_deactivated_users_change_nothing);
