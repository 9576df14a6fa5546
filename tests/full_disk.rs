//! End-to-end: the store's disk fills up. The database lives on a small tmpfs this test
//! mounts (SQLite: the database file; PostgreSQL: a tablespace holding the test database),
//! a filler file takes the rest of it, and then:
//!
//! - sends are answered `unavailable` (never `ok` for a message that was not stored);
//! - `/healthz` answers 503 while the store cannot commit;
//! - once the filler is gone, sends and `/healthz` recover without a restart;
//! - after a `kill -9`, every acked message is there, with no gap in `seq`.
//!
//! Mounting needs root (CI runs as root); elsewhere the test says so and passes.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{room_id, Database, Server};
use serde_json::{json, Value};

/// A tmpfs of `size_mib` mounted on a fresh directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_mib: u32, owner: Option<&str>) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = format!("size={size_mib}m,mode=0700");
        if let Some(owner) = owner {
            options.push_str(&format!(",uid={owner},gid={owner}"));
        }
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::piped())
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Tmpfs { dir }),
            failed => {
                let why = match failed {
                    Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_string(),
                    Err(err) => err.to_string(),
                };
                if std::env::var_os("CI").is_some() {
                    panic!("the full-disk test mounts a tmpfs, which needs root (CI runs as root): {why}");
                }
                eprintln!("SKIPPED: cannot mount a tmpfs ({why}); run as root to test a full disk");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the tmpfs is full; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("create filler");
        let chunk = vec![0x5a_u8; 64 * 1024];
        // Bounded by the size of the tmpfs: at most a few thousand chunks.
        for _ in 0..100_000 {
            if file
                .write_all(&chunk)
                .and_then(|()| file.sync_data())
                .is_err()
            {
                break;
            }
        }
        // Whatever a partial chunk left: fill the last bytes too.
        for _ in 0..65_536 {
            if file.write_all(&[0x5a]).is_err() {
                break;
            }
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// A PostgreSQL tablespace in a directory; dropped (after the databases in it) when dropped.
struct Tablespace {
    name: String,
}

impl Tablespace {
    fn create(dir: &Path) -> Tablespace {
        let name = format!("palaver_test_ts_{}", rand::random::<u32>());
        psql(&format!(
            "CREATE TABLESPACE {name} LOCATION '{}'",
            dir.display()
        ));
        Tablespace { name }
    }
}

impl Drop for Tablespace {
    fn drop(&mut self) {
        psql(&format!("DROP TABLESPACE IF EXISTS {}", self.name));
    }
}

fn psql(sql: &str) {
    let status = Command::new("psql")
        .args([
            "-q",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &common::postgres_admin_url(),
            "-c",
            sql,
        ])
        .status()
        .expect("run psql");
    assert!(status.success(), "psql: {sql}");
}

async fn health(server: &Server) -> (u16, Value) {
    server.call("GET", "/healthz", None, None).await
}

/// Fills the disk under a running server and checks what clients and operators see.
async fn fill_the_disk_and_recover(tmpfs: &Tmpfs, mut server: Server) {
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let room = room_id(&amy.ok(json!({"type":"create_group","name":"disk"})).await);
    amy.ok(json!({"type":"join","room":room})).await;
    let body = "x".repeat(4000);
    let mut acked: Vec<i64> = Vec::new();
    for _ in 0..20 {
        let data = amy.ok(json!({"type":"send","room":room,"body":body})).await;
        acked.push(data["message"]["seq"].as_i64().expect("seq"));
    }
    assert_eq!(health(&server).await.0, 200);

    let filler = tmpfs.fill();
    // Bounded: a few MiB of 4 KB messages at most, and a minute.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut refused = None;
    for _ in 0..5_000 {
        let reply = amy
            .request(json!({"type":"send","room":room,"body":body}))
            .await;
        match reply["type"].as_str() {
            Some("ok") => acked.push(reply["data"]["message"]["seq"].as_i64().expect("seq")),
            _ => {
                refused = Some(reply);
                break;
            }
        }
        assert!(Instant::now() < deadline, "the disk never filled up");
    }
    let refused = refused.expect("a send on a full disk is refused");
    assert_eq!(refused["code"], "unavailable", "{refused}");
    let (status, answer) = health(&server).await;
    assert_eq!(status, 503, "health on a full disk: {answer}");
    assert_eq!(answer["status"], "unavailable", "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .is_some_and(|reason| !reason.is_empty()),
        "{answer}"
    );

    std::fs::remove_file(&filler).expect("remove filler");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = amy
            .request(json!({"type":"send","room":room,"body":"space again"}))
            .await;
        if reply["type"] == "ok" {
            acked.push(reply["data"]["message"]["seq"].as_i64().expect("seq"));
            break;
        }
        assert_eq!(reply["code"], "unavailable", "{reply}");
        assert!(Instant::now() < deadline, "sends never recovered: {reply}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, answer) = health(&server).await;
    assert_eq!(
        status, 200,
        "health after the disk has room again: {answer}"
    );

    server.crash_and_restart();
    let stored: Vec<i64> = server
        .all_messages(&room)
        .await
        .iter()
        .map(|message| message["seq"].as_i64().expect("seq"))
        .collect();
    for seq in &acked {
        assert!(
            stored.contains(seq),
            "acked seq {seq} lost: stored {stored:?}"
        );
    }
    let expected: Vec<i64> = (1..=stored.len() as i64).collect();
    assert_eq!(stored, expected, "seq has a gap or a repeat");
}

#[actix_rt::test]
async fn sqlite_on_a_full_disk() {
    let Some(tmpfs) = Tmpfs::mount(24, None) else {
        return;
    };
    let db = Database::sqlite_in(tmpfs.path());
    let server = Server::start(&db).await;
    fill_the_disk_and_recover(&tmpfs, server).await;
}

#[actix_rt::test]
async fn postgres_on_a_full_tablespace() {
    if !common::postgres_available().await {
        return;
    }
    let owner = Command::new("id")
        .args(["-u", "postgres"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string());
    let Some(owner) = owner else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: no postgres system user to own the test's tablespace"
        );
        eprintln!("SKIPPED: no postgres system user (PostgreSQL is not local)");
        return;
    };
    let Some(tmpfs) = Tmpfs::mount(48, Some(&owner)) else {
        return;
    };
    let tablespace = Tablespace::create(tmpfs.path());
    let db = Database::postgres_in(&tablespace.name).await;
    let server = Server::start(&db).await;
    fill_the_disk_and_recover(&tmpfs, server).await;
    drop(db);
    drop(tablespace);
}
