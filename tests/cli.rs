//! End-to-end: the admin command line (`palaver users`, `palaver rooms`, `palaver migrate`)
//! run as the real binary on a temporary SQLite file, then the server started on the same
//! file accepts the tokens and shows the rooms it made; `palaver chat` against a server.

mod common;

use std::process::{Command, Output};

use common::{Backend, Database, Server};
use serde_json::json;

/// Runs `palaver ARGS --database-url URL`; returns (success, stdout, stderr).
fn palaver(db: &Database, args: &[&str]) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(args)
        .args(["--database-url", &db.url])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run palaver");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn ok(db: &Database, args: &[&str]) -> String {
    let (success, stdout, stderr) = palaver(db, args);
    assert!(success, "palaver {args:?} failed: {stderr}");
    assert!(
        !stderr.contains("panicked"),
        "palaver {args:?} panicked: {stderr}"
    );
    stdout
}

/// Fails as it should: non-zero, one clear line on stderr, nothing on stdout.
fn refused(db: &Database, args: &[&str], words: &str) {
    let (success, stdout, stderr) = palaver(db, args);
    assert!(
        !success,
        "palaver {args:?} should fail; it printed {stdout}"
    );
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let line = stderr.trim();
    assert_eq!(line.lines().count(), 1, "one line: {stderr}");
    assert!(
        line.starts_with("palaver: ") && line.contains(words),
        "{args:?}: {line:?} should say {words:?}"
    );
}

/// The value of `key` in an answer of `key value` lines.
fn field(stdout: &str, key: &str) -> String {
    stdout
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(char::is_whitespace)?;
            (name == key).then(|| value.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {key} in {stdout:?}"))
}

#[actix_rt::test]
async fn users_and_rooms_made_on_the_command_line_work_in_the_server() {
    let db = Database::new(Backend::Sqlite).await;
    let migrated = ok(&db, &["migrate"]);
    assert!(
        migrated.contains("_init") && migrated.contains("applied now"),
        "{migrated}"
    );
    let again = ok(&db, &["migrate"]);
    assert!(!again.contains("applied now"), "{again}");
    assert!(again.contains("already applied"), "{again}");

    let amy = ok(&db, &["users", "add", "amy"]);
    let (amy_id, amy_token) = (field(&amy, "id"), field(&amy, "token"));
    let bob = ok(&db, &["users", "add", "  bob  "]);
    let (bob_id, bob_token) = (field(&bob, "id"), field(&bob, "token"));
    assert!(
        amy_id.starts_with("u_") && amy_token.starts_with("pv_"),
        "{amy}"
    );
    assert_eq!(
        field(&bob, "name"),
        "bob",
        "names are trimmed as the admin API does"
    );

    let listed = ok(&db, &["users", "list"]);
    let rows: Vec<Vec<&str>> = listed
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["ID", "NAME", "KIND"]);
    assert!(
        rows.contains(&vec![amy_id.as_str(), "amy", "user"]),
        "{listed}"
    );
    assert!(
        rows.contains(&vec![bob_id.as_str(), "bob", "user"]),
        "{listed}"
    );
    assert!(
        !listed.contains("system"),
        "the system user is not listed: {listed}"
    );

    let members = format!("{amy_id},{bob_id}");
    let made = ok(
        &db,
        &[
            "rooms",
            "add",
            "algebra study",
            "--members",
            &members,
            "--owner",
            &amy_id,
        ],
    );
    let room = field(&made, "id");
    assert!(room.starts_with("r_"), "{made}");

    // Bad input: a clear line, a non-zero exit, nothing changed.
    refused(&db, &["users", "add", "amy"], "taken");
    refused(&db, &["users", "add", "   "], "name");
    refused(
        &db,
        &["rooms", "add", "x", "--members", &format!("{amy_id},u_999")],
        "no such user",
    );
    refused(
        &db,
        &[
            "rooms",
            "add",
            "x",
            "--members",
            &amy_id,
            "--owner",
            "u_999",
        ],
        "no such user",
    );
    refused(
        &db,
        &["rooms", "add", "x", "--members", "mathbot"],
        "no such user",
    );
    refused(&db, &["rooms", "add", "  ", "--members", &amy_id], "name");
    let (success, _, stderr) = palaver(&db, &["rooms", "add", "x"]);
    assert!(!success && stderr.contains("--members"), "{stderr}");
    assert_eq!(
        ok(&db, &["users", "list"]),
        listed,
        "refused commands change nothing"
    );

    let server = Server::start(&db).await;
    let (status, rooms) = server.admin("GET", "/admin/rooms", None).await;
    assert_eq!(status, 200, "{rooms}");
    assert_eq!(rooms["rooms"].as_array().map(Vec::len), Some(1), "{rooms}");

    let mut amy_ws = server.connect(&amy_token).await;
    assert_eq!(amy_ws.hello["user"]["id"], amy_id.as_str());
    assert_eq!(amy_ws.hello["user"]["name"], "amy");
    let listed = amy_ws.ok(json!({"type":"rooms"})).await;
    let mine = &listed["rooms"][0];
    assert_eq!(mine["id"], room.as_str(), "{listed}");
    assert_eq!(mine["name"], "algebra study");
    assert_eq!(mine["kind"], "group");
    assert_eq!(mine["owner"], amy_id.as_str());
    assert_eq!(mine["public"], false);
    assert_eq!(mine["members_count"], 2);
    let mut bob_ws = server.connect(&bob_token).await;
    let listed = bob_ws.ok(json!({"type":"rooms"})).await;
    assert_eq!(listed["rooms"][0]["id"], room.as_str(), "{listed}");
    amy_ws.ok(json!({"type":"join","room":room})).await;
    bob_ws.ok(json!({"type":"join","room":room})).await;
    amy_ws
        .ok(json!({"type":"send","room":room,"body":"hi"}))
        .await;
    assert_eq!(bob_ws.event("message").await["message"]["body"], "hi");

    // While the server runs on the same file.
    let carol = ok(&db, &["users", "add", "carol"]);
    let carol_id = field(&carol, "id");
    let mut carol_ws = server.connect(&field(&carol, "token")).await;
    assert_eq!(carol_ws.hello["user"]["id"], carol_id.as_str());
    let public = ok(
        &db,
        &["rooms", "add", "lobby", "--members", &carol_id, "--public"],
    );
    let lobby = field(&public, "id");
    let listed = carol_ws.ok(json!({"type":"rooms"})).await;
    assert_eq!(listed["rooms"][0]["id"], lobby.as_str(), "{listed}");
    assert_eq!(listed["rooms"][0]["public"], true);
    assert_eq!(listed["rooms"][0]["owner"], json!(null));
    // Anyone may join a public group made on the command line.
    amy_ws.ok(json!({"type":"join","room":lobby})).await;
}

#[test]
fn a_bad_database_url_is_one_clear_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(["users", "list", "--database-url", "mysql://nowhere"])
        .output()
        .expect("run palaver");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.trim().starts_with("palaver: bad --database-url"),
        "{stderr}"
    );
}

/// `palaver chat`: stdin's lines go out as frames, every frame that comes back is one line on
/// stdout, and at the end of stdin it waits for the last reply before closing.
#[actix_rt::test]
async fn palaver_chat_sends_stdin_lines_and_prints_frames() {
    use std::io::Write;
    use std::process::Stdio;

    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (_, amy) = server.user("amy").await;
    let (bob_id, _) = server.user("bob").await;
    let url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(["chat", "--url", &url, "--token", &amy])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start palaver chat");
    let lines = format!(
        "{}\n\n{}\nnot json\n",
        json!({"type":"open_direct","id":1,"user":bob_id}),
        json!({"type":"send","id":2,"room":"r_1","body":"hi bob"})
    );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("palaver chat ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let frames: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON frame a line"))
        .collect();
    assert_eq!(frames[0]["type"], "hello", "{frames:?}");
    assert_eq!(frames[0]["user"]["name"], "amy");
    let replies: Vec<&serde_json::Value> = frames
        .iter()
        .filter(|frame| frame["type"] == "ok" || frame["type"] == "error")
        .collect();
    assert_eq!(replies.len(), 3, "one reply per non-empty line: {frames:?}");
    assert_eq!(replies[0]["data"]["room"]["id"], "r_1");
    assert_eq!(replies[1]["data"]["message"]["body"], "hi bob");
    assert_eq!(replies[2]["code"], "bad_request");
    assert_eq!(replies[2]["id"], serde_json::Value::Null);
    // The stored message is there for bob too.
    let stored = server.stored_messages("r_1").await;
    assert_eq!(stored.len(), 1);

    // A bad token is one clear line and a failure, not a hang.
    let refused = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(["chat", "--url", &url, "--token", "pv_nope"])
        .stdin(Stdio::null())
        .output()
        .expect("run palaver chat");
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("HTTP 401"), "{stderr}");
}

/// `palaver users tokens|revoke|deactivate` on the database: token ids listed, one revoked,
/// then the user deactivated; the server refuses what they turned off.
#[actix_rt::test]
async fn token_and_deactivation_commands() {
    let db = Database::new(Backend::Sqlite).await;
    let added = ok(&db, &["users", "add", "amy"]);
    let amy = field(&added, "id");
    let first = field(&added, "token");
    let first_id = field(&added, "token_id");
    assert!(first_id.starts_with("t_"), "{added}");
    let server = Server::start(&db).await;
    let (status, issued) = server
        .admin("POST", &format!("/admin/users/{amy}/tokens"), None)
        .await;
    assert_eq!(status, 201);
    let second = issued["token"].as_str().expect("token").to_string();
    let second_id = issued["token_id"].as_str().expect("token_id").to_string();

    let listed = ok(&db, &["users", "tokens", &amy]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(
        lines[1].starts_with(&first_id) && lines[2].starts_with(&second_id),
        "{listed}"
    );
    assert!(!listed.contains("pv_"), "{listed}");

    assert_eq!(
        ok(&db, &["users", "revoke", &amy, &first_id]).trim(),
        format!("revoked {first_id}")
    );
    refused(&db, &["users", "revoke", &amy, &first_id], "has no token");
    refused(&db, &["users", "revoke", &amy, "x"], "not a token id");
    let url = server.base.clone();
    let refused_with = |token: &str| {
        let token = token.to_string();
        let url = url.clone();
        async move {
            match common::Client::try_connect(&url, Some(&token), None).await {
                Ok(_) => 101,
                Err(common::ConnectError::Status(status)) => status,
                Err(common::ConnectError::Other(err)) => panic!("{err}"),
            }
        }
    };
    assert_eq!(refused_with(&first).await, 401);
    assert_eq!(refused_with(&second).await, 101);

    let done = ok(&db, &["users", "deactivate", &amy]);
    assert_eq!(done.trim(), format!("deactivated {amy} (amy)"));
    assert_eq!(refused_with(&second).await, 401);
    refused(&db, &["users", "deactivate", &amy], "no such user");
    refused(&db, &["users", "tokens", "u_999"], "no such user");
}

/// Nodes started together on a fresh PostgreSQL migrate it once between them: each takes
/// the migration lock in turn, and every one of them starts (here: four `palaver migrate` at
/// once, which open the store exactly as a starting node does).
#[actix_rt::test]
async fn nodes_migrating_one_postgres_at_once_all_succeed() {
    if !common::postgres_available().await {
        return;
    }
    let db = Database::new(Backend::Postgres).await;
    let children: Vec<std::process::Child> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_palaver"))
                .args(["migrate", "--database-url", &db.url])
                .env_remove("DATABASE_URL")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run palaver migrate")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("wait for palaver migrate");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "palaver migrate failed: {stderr}");
        assert!(stdout.contains("the database is up to date"), "{stdout}");
        assert!(!stdout.contains("NOT applied"), "{stdout}");
    }
    let server = Server::start(&db).await;
    let (status, _) = server.admin("GET", "/admin/rooms", None).await;
    assert_eq!(status, 200);
}
