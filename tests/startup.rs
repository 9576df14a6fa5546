//! End-to-end: starting the server with bad flags, a taken port, a host name to bind, and
//! an unreachable PostgreSQL. Each failure is one clear line; nothing is changed before the
//! listener is bound.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};

fn palaver(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PALAVER_BIND")
        .env_remove("PALAVER_ADMIN_TOKEN")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run palaver")
}

#[test]
fn every_bad_flag_value_is_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    for args in [
        vec!["--workers", "0"],
        vec!["--workers", "many"],
        vec!["--rate", "0"],
        vec!["--rate", "-1"],
        vec!["--burst", "0.5"],
        vec!["--heartbeat-secs", "0"],
        vec!["--outbound-queue", "0"],
        vec!["--bind", "8080"],
        vec!["--bind", "no-such-host.invalid:8080"],
        vec!["--frobnicate"],
        vec![
            "--jwt-secret",
            "0123456789abcdef",
            "--jwt-jwks-url",
            "http://127.0.0.1:1/",
        ],
        vec!["users", "add"],
    ] {
        let mut all = args.clone();
        all.extend(["--database-url", &db]);
        let output = palaver(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("palaver: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert!(
        !dir.path().join("p.db").exists(),
        "no flag error opened the database"
    );
}

#[test]
fn a_taken_port_fails_first_and_changes_nothing() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("p.db");
    let output = palaver(&[
        "--bind",
        &addr.to_string(),
        "--database-url",
        &format!("sqlite://{}", path.display()),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("in use"),
        "{stderr}"
    );
    assert!(!path.exists(), "the database was not created");
    assert!(
        !stderr.contains("admin token"),
        "no token was generated: {stderr}"
    );
    assert!(
        !stderr.contains("bots running"),
        "no bot was started: {stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn bind_takes_a_host_name() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args([
            "--bind",
            "localhost:0",
            "--database-url",
            &format!("sqlite://{}", dir.path().join("p.db").display()),
            "--admin-token",
            "t",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("palaver listening on http://"), "{line:?}");
}

#[test]
fn an_unreachable_postgresql_is_named_with_its_cause() {
    // A port nothing listens on: bound, then closed.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let url = format!("postgres://postgres@127.0.0.1:{port}/palaver");
    for args in [
        vec!["--bind", "127.0.0.1:0", "--database-url", &url],
        vec!["users", "list", "--database-url", &url],
    ] {
        let output = palaver(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("refused"),
            "names the address and the cause: {stderr}"
        );
    }
}
