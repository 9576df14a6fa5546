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
        vec!["--room-threads", "0"],
        vec!["--room-threads", "-1"],
        vec!["--room-threads", "many"],
        vec!["--room-threads", "1025"],
        vec!["--rate", "0"],
        vec!["--rate", "-1"],
        vec!["--burst", "0.5"],
        vec!["--heartbeat-secs", "0"],
        vec!["--outbound-queue", "0"],
        vec!["--metrics-token", "short"],
        vec!["--retention-days", "0"],
        vec!["--retention-days", "-3"],
        vec!["--retention-days", "many"],
        vec!["--retention-days", "36501"],
        vec!["--retention-sweep-secs", "0"],
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
        // Values checked once parsed: they logged a line first and exited with 1.
        vec!["--jwt-secret", "abc"],
        vec!["--jwt-jwks-url", "ftp://keys.example/jwks.json"],
        vec!["--extra-ca", "/nonexistent/ca.pem"],
        vec!["--jwt-public-key", "/nonexistent/key.pem"],
        vec!["--node-id", "not an id"],
        vec!["--redis-url", "redis://127.0.0.1:1"],
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

/// `--extra-ca` naming a missing file or one without a certificate: a bad flag value, so
/// one line and exit 2, and the database is not created.
#[test]
fn a_bad_extra_ca_file_is_one_line_and_opens_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("p.db");
    let db = format!("sqlite://{}", path.display());
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    for file in [dir.path().join("missing.pem"), empty] {
        let file = file.display().to_string();
        let output = palaver(&[
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            &db,
            "--extra-ca",
            &file,
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("--extra-ca") && stderr.contains(&file),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!path.exists(), "a bad --extra-ca opened the database");
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

/// Starts the server on a free loopback port with its log (at `level`) on a pipe; answers
/// the process and the address it listens on.
fn start_logging(dir: &tempfile::TempDir, level: &str) -> (std::process::Child, String) {
    start_logging_with(dir, level, &[])
}

fn start_logging_with(
    dir: &tempfile::TempDir,
    level: &str,
    extra: &[&str],
) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            &format!("sqlite://{}", dir.path().join("p.db").display()),
            "--admin-token",
            "t",
        ])
        .args(extra)
        .env("RUST_LOG", level)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let address = line
        .trim()
        .strip_prefix("palaver listening on http://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    (child, address)
}

/// Everything a server started by [`start_logging`] logged, once it has stopped.
fn read_log(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("log");
    log
}

/// Kills a server started by [`start_logging`] and returns everything it logged.
fn kill_and_read_log(mut child: std::process::Child) -> String {
    let _ = child.kill();
    let log = read_log(&mut child);
    let _ = child.wait();
    log
}

/// `--workers` sets the HTTP workers only; the rooms' threads are `--room-threads`.
#[test]
fn workers_and_room_threads_are_set_apart() {
    let dir = tempfile::tempdir().expect("dir");
    let (child, _) = start_logging_with(&dir, "info", &["--workers", "1", "--room-threads", "3"]);
    let log = kill_and_read_log(child);
    assert!(log.contains("HTTP workers: 1, room threads: 3"), "{log}");
}

/// A client's mistake is never an ERROR line: requests the HTTP layer cannot parse (a header
/// name with a space, a bad request line) are logged at DEBUG, and the server goes on.
#[test]
fn a_request_that_cannot_be_parsed_logs_no_error() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("dir");
    let (child, address) = start_logging(&dir, "debug");
    for request in [
        "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let mut socket = std::net::TcpStream::connect(&address).expect("connect");
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("time-out");
        socket.write_all(request.as_bytes()).expect("write");
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{request:?} -> {answer:?}"
        );
    }
    let mut socket = std::net::TcpStream::connect(&address).expect("connect");
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the server goes on: {answer:?}"
    );
    let log = kill_and_read_log(child);
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" ERROR "))
        .collect();
    assert!(
        errors.is_empty(),
        "a client's mistake logged ERROR: {errors:#?}"
    );
    assert!(
        log.lines()
            .any(|line| line.contains(" DEBUG ") && line.contains("request parse error")),
        "the mistake is still logged, at DEBUG"
    );
}

/// SIGTERM stops the server with exit code 0 and no ERROR line: its bots are retired, not
/// reported as crashed.
#[test]
fn sigterm_exits_0_without_an_error_line() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, address) = start_logging(&dir, "info");
    // Running (signals handled) once it answers /healthz.
    for _ in 0..100 {
        use std::io::Write;
        let mut answer = String::new();
        if let Ok(mut socket) = std::net::TcpStream::connect(&address) {
            let _ =
                socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let _ = socket.read_to_string(&mut answer);
        }
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    let log = read_log(&mut child);
    assert!(exit.success(), "exit {exit}: {log}");
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" ERROR "))
        .collect();
    assert!(errors.is_empty(), "SIGTERM logged ERROR: {errors:#?}");
}
