//! End-to-end: a person's data exported (docs/operations.md, "A user's data"):
//! `GET /admin/users/{id}/export` and `palaver users export USER FILE` give one JSON document
//! with their profile, their tokens' metadata (never a secret), their memberships, every
//! message they sent (more than one page of them) and every file they uploaded with its
//! bytes (one larger than a stored chunk), and nothing of anyone else's. Both backends.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{room_id, Backend, Database, Server};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Uploads `bytes` as `name` with `token`; returns the file id.
async fn upload(server: &Server, token: &str, name: &str, bytes: Vec<u8>) -> String {
    let mut response = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .finish()
        .post(format!("{}/files?name={name}", server.base))
        .bearer_auth(token)
        .insert_header(("Content-Type", "application/octet-stream"))
        .send_body(bytes)
        .await
        .expect("upload");
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.expect("JSON");
    body["file"]["id"].as_str().expect("file id").to_string()
}

/// Bytes that are not a multiple of three long and cross stored chunks (256 KiB).
fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// `GET /admin/users/{id}/export` as text, with its status and Content-Disposition.
async fn export(server: &Server, id: &str) -> (u16, String, String) {
    let mut response = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .finish()
        .get(format!("{}/admin/users/{id}/export", server.base))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .expect("export");
    let disposition = response
        .headers()
        .get("content-disposition")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.body().limit(64 * 1024 * 1024).await.expect("body");
    (
        response.status().as_u16(),
        String::from_utf8(body.to_vec()).expect("UTF-8"),
        disposition,
    )
}

fn cli(db: &Database, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(args)
        .args(["--database-url", &db.url])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run palaver");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

async fn everything_about_a_person_and_nothing_of_anyone_else(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--rate", "5000", "--burst", "5000"]).await;
    let (amy_id, amy) = server.user("amy").await;
    let (bob_id, bob) = server.user("bob").await;
    let (status, second) = server
        .admin("POST", &format!("/admin/users/{amy_id}/tokens"), None)
        .await;
    assert_eq!(status, 201, "{second}");
    let mut a = server.connect(&amy).await;
    let mut b = server.connect(&bob).await;
    let group = room_id(
        &a.ok(json!({"type":"create_group","name":"algebra","members":[bob_id]}))
            .await,
    );
    let direct = room_id(&a.ok(json!({"type":"open_direct","user":bob_id})).await);
    b.ok(json!({"type":"join","room":group})).await;

    // Amy: a file larger than one stored chunk, a small one, one no message carries.
    let big = bytes(1, 600_001);
    let small = bytes(2, 1000);
    let loose = bytes(3, 77);
    let big_id = upload(&server, &amy, "big.bin", big.clone()).await;
    let small_id = upload(&server, &amy, "small.bin", small.clone()).await;
    let loose_id = upload(&server, &amy, "loose.bin", loose.clone()).await;
    let bobs_file = upload(&server, &bob, "bob.bin", bytes(4, 500)).await;
    let amy_files: BTreeMap<&str, &Vec<u8>> = [
        (big_id.as_str(), &big),
        (small_id.as_str(), &small),
        (loose_id.as_str(), &loose),
    ]
    .into();

    // More of Amy's messages than one page (200), in two rooms, and Bob's between them.
    let mut sent = BTreeMap::new();
    for n in 0..230 {
        let room = if n % 3 == 0 { &direct } else { &group };
        let mut command = json!({"type":"send","room":room,"body":format!("amy {n}")});
        if n == 7 {
            command["files"] = json!([big_id, small_id]);
        }
        let reply = a.ok(command).await;
        let message = &reply["message"];
        sent.insert(
            message["id"].as_str().expect("id").to_string(),
            message["body"].as_str().expect("body").to_string(),
        );
        if n % 20 == 0 {
            let mut command = json!({"type":"send","room":group,"body":format!("bob {n}")});
            if n == 0 {
                command["files"] = json!([bobs_file]);
            }
            b.ok(command).await;
        }
    }

    let (status, text, disposition) = export(&server, &amy_id).await;
    assert_eq!(status, 200, "{text}");
    assert!(disposition.contains("attachment"), "{disposition}");
    assert!(!text.contains(&amy), "a token's secret is never exported");
    let doc: Value = serde_json::from_str(&text).expect("the export is one JSON document");
    assert_eq!(doc["format"], "palaver-user-export/1");
    assert_eq!(doc["user"]["id"], amy_id.as_str());
    assert_eq!(doc["user"]["name"], "amy");
    assert_eq!(doc["user"]["deactivated"], Value::Null);
    let (_, tokens) = server
        .admin("GET", &format!("/admin/users/{amy_id}/tokens"), None)
        .await;
    assert_eq!(doc["tokens"], tokens["tokens"], "the tokens' ids and times");
    let rooms: BTreeSet<&str> = doc["memberships"]
        .as_array()
        .expect("memberships")
        .iter()
        .map(|membership| {
            assert!(membership["joined"].is_string(), "{membership}");
            membership["room"]["id"].as_str().expect("room id")
        })
        .collect();
    assert_eq!(rooms, [group.as_str(), direct.as_str()].into());

    let messages = doc["messages"].as_array().expect("messages");
    let exported: BTreeMap<String, String> = messages
        .iter()
        .map(|message| {
            assert_eq!(
                message["sender"]["id"],
                amy_id.as_str(),
                "only hers: {message}"
            );
            (
                message["id"].as_str().expect("id").to_string(),
                message["body"].as_str().expect("body").to_string(),
            )
        })
        .collect();
    assert_eq!(exported.len(), messages.len(), "no message twice");
    assert_eq!(exported, sent, "every message she sent, as sent");
    let carrying = messages
        .iter()
        .find(|message| message["body"] == "amy 7")
        .expect("the message with files");
    assert_eq!(carrying["files"][0]["id"], big_id.as_str());
    assert_eq!(carrying["files"][1]["id"], small_id.as_str());

    let files = doc["files"].as_array().expect("files");
    assert_eq!(
        files.len(),
        amy_files.len(),
        "{:?}",
        files.iter().map(|f| &f["file"]["id"]).collect::<Vec<_>>()
    );
    for entry in files {
        let id = entry["file"]["id"].as_str().expect("id");
        assert_ne!(id, bobs_file, "not Bob's file");
        let expected = amy_files
            .get(id)
            .unwrap_or_else(|| panic!("{id} is not hers"));
        let data = STANDARD
            .decode(entry["data_base64"].as_str().expect("data"))
            .expect("base64");
        assert_eq!(&data, *expected, "{id}: the bytes");
        assert_eq!(entry["sha256"], hex::encode(Sha256::digest(&data)));
        assert_eq!(entry["file"]["size"], expected.len());
    }

    // The command line writes the same document (but for when it was made).
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("amy.json");
    let file = path.to_str().expect("path");
    let (ok, stdout, stderr) = cli(&db, &["users", "export", &amy_id, file]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("230 messages, 3 files"), "{stdout}");
    let mut written: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("written")).expect("JSON");
    let mut served = doc.clone();
    written["exported"] = Value::Null;
    served["exported"] = Value::Null;
    assert_eq!(written, served);
    assert!(!dir.path().join("amy.json.partial").exists());

    // Refusals: an existing file, a bad or unknown id; nothing is written.
    for (args, words) in [
        (vec!["users", "export", &amy_id, file], "exists"),
        (
            vec!["users", "export", "amy", "/tmp/never-written.json"],
            "not a user id",
        ),
        (
            vec!["users", "export", "u_999", "/tmp/never-written.json"],
            "no such user",
        ),
    ] {
        let (ok, stdout, stderr) = cli(&db, &args);
        assert!(!ok, "{args:?}: {stdout}");
        assert!(stderr.contains(words), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    assert!(!std::path::Path::new("/tmp/never-written.json").exists());

    // Bob's export holds his own only.
    let (status, text, _) = export(&server, &bob_id).await;
    assert_eq!(status, 200);
    let bobs: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(bobs["messages"].as_array().map(Vec::len), Some(12));
    assert_eq!(bobs["files"].as_array().map(Vec::len), Some(1));
    assert_eq!(bobs["files"][0]["file"]["id"], bobs_file.as_str());

    // A deactivated user is still exported; no one, a bot's handle and no token are not.
    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{bob_id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, text, _) = export(&server, &bob_id).await;
    assert_eq!(status, 200, "{text}");
    let bobs: Value = serde_json::from_str(&text).expect("JSON");
    assert!(bobs["user"]["deactivated"].is_string(), "{}", bobs["user"]);
    assert_eq!(bobs["tokens"], json!([]));
    for id in ["u_999", "system", "u_007", "mathbot"] {
        let (status, answer) = server
            .admin("GET", &format!("/admin/users/{id}/export"), None)
            .await;
        assert_eq!(status, 404, "{id}: {answer}");
    }
    let (status, _) = server
        .call("GET", &format!("/admin/users/{amy_id}/export"), None, None)
        .await;
    assert_eq!(status, 401);
}
on_both_backends!(everything_about_a_person_and_nothing_of_anyone_else);
