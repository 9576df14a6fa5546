//! End-to-end: an existing deployment's data survives an upgrade. The fixtures in
//! tests/fixtures/upgrade were made by an earlier build (a SQLite store, and a plain SQL dump
//! of a PostgreSQL database, with what they hold in manifest.json); this build's server
//! starts on each, applies whatever migrations it has that the fixture lacks, and every
//! user, token, room, message, read position and file is still there and still works.
//! The checks go through the protocol and the HTTP API, never the schema, so they keep
//! passing as migrations are added. tests/fixtures/upgrade/README.md says how to make the
//! fixtures again (`regenerate_fixtures` below, run by hand).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{room_id, Backend, Database, Server};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upgrade"
    ))
}

/// What the fixture of `backend` (`sqlite` or `postgres`) holds.
fn manifest(backend: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).expect("manifest.json");
    let all: Value = serde_json::from_str(&text).expect("manifest.json is JSON");
    all[backend].clone()
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

/// The fixture's file: 4,000 bytes of a known pattern.
fn file_bytes() -> Vec<u8> {
    (0..4000u32).map(|n| (n % 251) as u8).collect()
}

async fn download(server: &Server, token: &str, id: &str) -> Vec<u8> {
    let mut response = awc::Client::default()
        .get(format!("{}/files/{id}?token={token}", server.base))
        .send()
        .await
        .expect("download");
    assert_eq!(response.status().as_u16(), 200, "file {id}");
    response.body().await.expect("body").to_vec()
}

/// Everything manifest.json lists is there, through this build's server, and the store
/// takes new messages after it.
async fn the_fixture_is_intact(server: &Server, db_url: &str, backend: &str) {
    let manifest = manifest(backend);
    let migrate = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(["migrate", "--database-url", db_url])
        .output()
        .expect("palaver migrate");
    let listing = String::from_utf8_lossy(&migrate.stdout);
    assert!(migrate.status.success(), "{listing}");
    assert!(!listing.contains("NOT applied"), "{listing}");
    assert!(listing.contains("the database is up to date"), "{listing}");

    let amy_token = text(&manifest["users"]["amy"]["token"]);
    let bob_token = text(&manifest["users"]["bob"]["token"]);
    let mut amy = server.connect(amy_token).await;
    assert_eq!(amy.hello["user"]["id"], manifest["users"]["amy"]["id"]);
    assert_eq!(amy.hello["user"]["name"], "amy");
    let mut bob = server.connect(bob_token).await;
    for room in ["group", "direct"] {
        let expected = &manifest["rooms"][room];
        let id = text(&expected["id"]);
        let history = amy
            .ok(json!({"type":"history","room":id,"limit":200}))
            .await;
        let bodies: Vec<&str> = history["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|message| text(&message["body"]))
            .collect();
        let want: Vec<&str> = expected["bodies"]
            .as_array()
            .expect("bodies")
            .iter()
            .map(text)
            .collect();
        assert_eq!(bodies, want, "room {room}");
        for (index, message) in history["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .enumerate()
        {
            assert_eq!(message["seq"], json!(index + 1), "room {room}");
        }
        // The store goes on from where it was.
        let sent = amy
            .ok(json!({"type":"send","room":id,"body":"after the upgrade"}))
            .await;
        assert_eq!(sent["message"]["seq"], json!(want.len() + 1), "room {room}");
    }
    let rooms = bob.ok(json!({"type":"rooms"})).await;
    let direct = rooms["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|room| room["id"] == manifest["rooms"]["direct"]["id"])
        .expect("bob is still in the direct chat")
        .clone();
    assert_eq!(
        direct["read_seq"],
        manifest["rooms"]["direct"]["bob_read_seq"]
    );

    let file = &manifest["file"];
    let bytes = download(server, bob_token, text(&file["id"])).await;
    assert_eq!(hex::encode(Sha256::digest(&bytes)), text(&file["sha256"]));
    assert_eq!(bytes, file_bytes());
    let group = amy
        .ok(json!({"type":"history","room":text(&manifest["rooms"]["group"]["id"]),"limit":200}))
        .await;
    let carried = &group["messages"]
        [usize::try_from(file["in_group_seq"].as_u64().expect("seq") - 1).expect("index")];
    assert_eq!(carried["files"][0]["id"], file["id"]);
    assert_eq!(carried["files"][0]["name"], file["name"]);
}

#[actix_rt::test]
async fn a_sqlite_store_from_an_earlier_build_migrates_and_keeps_its_data() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::copy(fixtures().join("palaver.db"), dir.path().join("palaver.db"))
        .expect("copy the fixture");
    let db = Database::sqlite_in(dir.path());
    let server = Server::start(&db).await;
    the_fixture_is_intact(&server, &db.url, "sqlite").await;
}

#[actix_rt::test]
async fn a_postgres_dump_from_an_earlier_build_migrates_and_keeps_its_data() {
    if !common::postgres_available().await {
        return;
    }
    let db = Database::new(Backend::Postgres).await;
    let loaded = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-f"])
        .arg(fixtures().join("postgres.sql"))
        .output()
        .expect("psql (Debian's postgresql-client)");
    assert!(
        loaded.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let server = Server::start(&db).await;
    the_fixture_is_intact(&server, &db.url, "postgres").await;
}

/// Makes tests/fixtures/upgrade again with this build (see its README.md): the same content
/// on SQLite (copied out with `palaver backup`) and on PostgreSQL (`pg_dump`), and
/// manifest.json, what they hold.
#[actix_rt::test]
#[ignore = "writes tests/fixtures/upgrade; run by hand when the fixtures are to be made again"]
async fn regenerate_fixtures() {
    let mut manifest = json!({});
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = Database::new(backend).await;
        let mut server = Server::start(&db).await;
        let (amy_id, amy_token) = server.user("amy").await;
        let (bob_id, bob_token) = server.user("bob").await;
        let mut amy = server.connect(&amy_token).await;
        let mut bob = server.connect(&bob_token).await;
        let group = room_id(
            &amy.ok(json!({"type":"create_group","name":"fixture group","members":[bob_id]}))
                .await,
        );
        let direct = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
        let mut uploaded = awc::Client::default()
            .post(format!("{}/files?name=notes.bin", server.base))
            .bearer_auth(&amy_token)
            .send_body(file_bytes())
            .await
            .expect("upload");
        assert_eq!(uploaded.status().as_u16(), 201);
        let file: Value = uploaded.json().await.expect("a File");
        let file_id = text(&file["file"]["id"]).to_string();
        let group_bodies = ["welcome", "here are my notes", "thanks", "ünïcödé ✓"];
        for (n, body) in group_bodies.iter().enumerate() {
            let mut command = json!({"type":"send","room":group,"body":body});
            if n == 1 {
                command["files"] = json!([file_id]);
            }
            let sender = if n == 2 { &mut bob } else { &mut amy };
            sender.ok(command).await;
        }
        let direct_bodies = ["hi bob", "hi amy", "see you"];
        for body in direct_bodies {
            amy.ok(json!({"type":"send","room":direct,"body":body}))
                .await;
        }
        bob.ok(json!({"type":"read","room":direct,"seq":2})).await;
        drop(amy);
        drop(bob);
        let status = server.terminate();
        assert!(status.success());
        let fixture = match backend {
            Backend::Sqlite => {
                let target = fixtures().join("palaver.db");
                let _ = std::fs::remove_file(&target);
                let made = Command::new(env!("CARGO_BIN_EXE_palaver"))
                    .args([
                        "backup",
                        &target.display().to_string(),
                        "--database-url",
                        &db.url,
                    ])
                    .output()
                    .expect("palaver backup");
                assert!(
                    made.status.success(),
                    "{}",
                    String::from_utf8_lossy(&made.stderr)
                );
                target
            }
            _ => {
                let target = fixtures().join("postgres.sql");
                let dumped = Command::new("pg_dump")
                    .args(["--no-owner", "--no-privileges", "--format=plain", &db.url])
                    .output()
                    .expect("pg_dump");
                assert!(
                    dumped.status.success(),
                    "{}",
                    String::from_utf8_lossy(&dumped.stderr)
                );
                // pg_dump 15.14 and later fence the script with \restrict KEY / \unrestrict KEY,
                // which older psql does not know; this dump is ours, so they go.
                let script: String = String::from_utf8(dumped.stdout)
                    .expect("pg_dump writes UTF-8")
                    .lines()
                    .filter(|line| {
                        !line.starts_with("\\restrict ") && !line.starts_with("\\unrestrict ")
                    })
                    .map(|line| format!("{line}\n"))
                    .collect();
                std::fs::write(&target, script).expect("write postgres.sql");
                target
            }
        };
        eprintln!("wrote {}", fixture.display());
        let this = json!({
            "users": {
                "amy": {"id": amy_id, "token": amy_token},
                "bob": {"id": bob_id, "token": bob_token},
            },
            "rooms": {
                "group": {"id": group, "bodies": group_bodies},
                "direct": {"id": direct, "bodies": direct_bodies, "bob_read_seq": 2},
            },
            "file": {
                "id": file_id,
                "name": "notes.bin",
                "sha256": hex::encode(Sha256::digest(file_bytes())),
                "in_group_seq": 2,
            },
        });
        let name = if backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        };
        manifest[name] = this;
    }
    let text = serde_json::to_string_pretty(&manifest).expect("JSON");
    std::fs::write(fixtures().join("manifest.json"), text + "\n").expect("write manifest.json");
}
