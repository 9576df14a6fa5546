//! End-to-end: `palaver backup` of a live SQLite store while a client keeps sending, then
//! `palaver restore` into a fresh folder and a server started on it: every message acked
//! before the backup began, and every file, is there, and the copy is a consistent prefix
//! of the room (seq 1..=k, no gap). Bad input to either command changes nothing.

mod common;

use std::cell::RefCell;
use std::path::Path;
use std::process::{Command, Output};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{room_id, Backend, Client, Database, Server};
use serde_json::{json, Value};

/// The load is bounded by count and by time.
const MAX_LOAD_MESSAGES: usize = 5_000;
const MAX_LOAD_TIME: Duration = Duration::from_secs(60);

fn palaver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run palaver")
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn upload(server: &Server, token: &str, name: &str, bytes: Vec<u8>) -> Value {
    let mut response = awc::Client::default()
        .post(format!("{}/files?name={name}", server.base))
        .bearer_auth(token)
        .send_body(bytes)
        .await
        .expect("upload");
    assert_eq!(response.status().as_u16(), 201);
    response.json().await.expect("a File")
}

async fn download(server: &Server, token: &str, id: &str) -> Vec<u8> {
    let mut response = awc::Client::default()
        .get(format!("{}/files/{id}?token={token}", server.base))
        .send()
        .await
        .expect("download");
    assert_eq!(response.status().as_u16(), 200, "file {id}");
    response
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .expect("body")
        .to_vec()
}

/// Every message of `room`, oldest first, paging `history` backwards.
async fn all_messages(client: &mut Client, room: &str) -> Vec<Value> {
    let mut messages: Vec<Value> = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let mut command = json!({"type":"history","room":room,"limit":200});
        if let Some(seq) = before {
            command["before_seq"] = json!(seq);
        }
        let page = client.ok(command).await;
        let batch = page["messages"].as_array().expect("messages").clone();
        before = batch.first().and_then(|message| message["seq"].as_i64());
        let more = page["has_more"].as_bool().unwrap_or(false);
        messages.splice(0..0, batch);
        if !more || before.is_none() {
            return messages;
        }
    }
}

#[actix_rt::test]
async fn a_backup_under_load_restores_every_acked_message_and_file() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(&db, &["--rate", "100000", "--burst", "100000"]).await;
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let room = room_id(&amy.ok(json!({"type":"create_group","name":"kept"})).await);
    amy.ok(json!({"type":"join","room":room})).await;

    // Files of a few sizes, each carried by a message.
    let mut files = Vec::new();
    for (name, size) in [
        ("big.bin", 3 * 1024 * 1024),
        ("mid.bin", 300_000),
        ("small.txt", 20),
    ] {
        let bytes: Vec<u8> = (0..size).map(|_| rand::random::<u8>()).collect();
        let file = upload(&server, &token, name, bytes.clone()).await;
        let id = file["file"]["id"].as_str().expect("file id").to_string();
        amy.ok(json!({"type":"send","room":room,"body":format!("file {name}"),"files":[id]}))
            .await;
        files.push((id, bytes));
    }

    // The load: another connection sends as fast as acks come, recording each ack.
    let acked: Rc<RefCell<Vec<(i64, String)>>> = Rc::default();
    let stop = Rc::new(RefCell::new(false));
    let mut sender = server.connect(&token).await;
    let (load_acked, load_stop, load_room) = (acked.clone(), stop.clone(), room.clone());
    let load = actix_rt::spawn(async move {
        let started = Instant::now();
        for n in 0..MAX_LOAD_MESSAGES {
            if *load_stop.borrow() || started.elapsed() > MAX_LOAD_TIME {
                break;
            }
            let body = format!("load {n}");
            let ok = sender
                .ok(json!({"type":"send","room":load_room,"body":body}))
                .await;
            let seq = ok["message"]["seq"].as_i64().expect("seq");
            load_acked.borrow_mut().push((seq, body));
        }
    });
    while acked.borrow().len() < 200 {
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }

    let dir = tempfile::tempdir().expect("dir");
    let backup = dir.path().join("palaver-backup.db");
    let acked_before = acked.borrow().clone();
    let (backup_arg, db_url) = (backup.display().to_string(), db.url.clone());
    let output = actix_rt::task::spawn_blocking(move || {
        palaver(&["backup", &backup_arg, "--database-url", &db_url])
    })
    .await
    .expect("the backup ran");
    let acked_during = acked.borrow().len() - acked_before.len();
    *stop.borrow_mut() = true;
    load.await.expect("the load ended");
    assert!(output.status.success(), "{}", said(&output));
    eprintln!(
        "{} ({} acks before the backup, {acked_during} while it ran)",
        said(&output).trim(),
        acked_before.len()
    );

    // Restore into a fresh folder and start a server on it.
    let fresh = tempfile::tempdir().expect("fresh dir");
    let restored = Database::sqlite_in(fresh.path());
    let output = palaver(&[
        "restore",
        &backup.display().to_string(),
        "--database-url",
        &restored.url,
    ]);
    assert!(output.status.success(), "{}", said(&output));
    let again = Server::start(&restored).await;
    let mut amy = again.connect(&token).await;
    let messages = all_messages(&mut amy, &room).await;
    for (index, message) in messages.iter().enumerate() {
        assert_eq!(message["seq"], json!(index as i64 + 1), "a gapless prefix");
    }
    let by_seq = |seq: i64| &messages[usize::try_from(seq - 1).expect("seq")];
    for (seq, body) in &acked_before {
        assert!(
            (*seq as usize) <= messages.len(),
            "message {seq} was acked before the backup and is missing"
        );
        assert_eq!(by_seq(*seq)["body"], body.as_str());
    }
    for (index, (id, bytes)) in files.iter().enumerate() {
        assert_eq!(by_seq(index as i64 + 1)["files"][0]["id"], id.as_str());
        assert!(&download(&again, &token, id).await == bytes, "file {id}");
    }
}

/// Each refusal is one line and exit 1, and leaves every file as it was.
#[test]
fn bad_backups_and_restores_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let store = format!("sqlite://{}", path("live.db"));
    let made = palaver(&["users", "add", "amy", "--database-url", &store]);
    assert!(made.status.success(), "{}", said(&made));
    std::fs::write(path("taken.db"), "mine").expect("write");
    std::fs::write(path("garbage.db"), "not a database").expect("write");
    std::fs::write(path("restored.db"), "an existing store").expect("write");
    let cases: [(Vec<String>, &str); 7] = [
        (
            vec![
                "backup".into(),
                path("taken.db"),
                "--database-url".into(),
                store.clone(),
            ],
            "never overwrites",
        ),
        (
            vec![
                "backup".into(),
                path("b.db"),
                "--database-url".into(),
                format!("sqlite://{}", path("absent.db")),
            ],
            "no SQLite store",
        ),
        (
            vec![
                "backup".into(),
                path("b.db"),
                "--database-url".into(),
                "postgres://postgres@127.0.0.1:5432/test".into(),
            ],
            "pg_dump",
        ),
        (
            vec![
                "backup".into(),
                path("nofolder/b.db"),
                "--database-url".into(),
                store.clone(),
            ],
            "does not exist",
        ),
        (
            vec![
                "restore".into(),
                path("garbage.db"),
                "--database-url".into(),
                format!("sqlite://{}", path("new.db")),
            ],
            "not a usable Palaver store",
        ),
        (
            vec![
                "restore".into(),
                path("live.db"),
                "--database-url".into(),
                format!("sqlite://{}", path("restored.db")),
            ],
            "never overwrites",
        ),
        (
            vec![
                "restore".into(),
                path("missing.db"),
                "--database-url".into(),
                format!("sqlite://{}", path("new.db")),
            ],
            "no backup",
        ),
    ];
    let listing = || {
        let mut names: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|entry| {
                let entry = entry.expect("entry");
                let bytes = std::fs::read(entry.path()).unwrap_or_default();
                (entry.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect();
        names.sort();
        names
    };
    let before = listing();
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = palaver(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", said(&output));
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(listing() == before, "{args:?} changed the folder");
    }
    assert!(!Path::new(&path("new.db")).exists());
}
