//! Browser tests of the web client: the real server (SQLite), users made through the admin
//! API, and a Node script (tests/browser/*.mjs) that drives Debian's Chromium with
//! playwright-core. A script may ask for the server to be killed and restarted by printing
//! `@@palaver crash_and_restart`; it is answered `restarted` on its stdin.
//!
//! In CI (`CI` set) a missing Chromium, Node or `tests/browser/node_modules` fails the test;
//! elsewhere the test says SKIPPED and passes. `SCREENSHOTS=1` saves the screens under
//! docs/screenshots/.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Backend, Database, Server, ADMIN};

/// A script that runs longer than this is killed and fails.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
const CRASH_REQUEST: &str = "@@palaver crash_and_restart";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What is missing to run the browser tests, if anything.
fn missing_prerequisite() -> Option<String> {
    if !chromium().exists() {
        return Some(format!(
            "{} is missing (apt-get install -y chromium chromium-driver)",
            chromium().display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing".into());
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some("tests/browser/node_modules is missing (run npm ci in tests/browser)".into());
    }
    None
}

/// False (after saying SKIPPED) on a developer's machine without the browser tools; a
/// failure in CI.
fn browser_available() -> bool {
    match missing_prerequisite() {
        None => true,
        Some(what) if std::env::var_os("CI").is_some() => {
            panic!("the browser tests are required in CI: {what}")
        }
        Some(what) => {
            eprintln!("SKIPPED: browser tests: {what}");
            false
        }
    }
}

/// Runs `node tests/browser/<script>` against the server and asserts it succeeds.
fn run_script(server: &mut Server, script: &str, env: &[(&str, &str)]) {
    let started = Instant::now();
    let mut command = Command::new("node");
    command
        .arg(browser_dir().join(script))
        .current_dir(browser_dir())
        .env("PALAVER_URL", &server.base)
        .env("PALAVER_ADMIN_TOKEN", ADMIN)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if std::env::var_os("SCREENSHOTS").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        command.env("SCREENSHOTS", dir);
    }
    let mut child = command.spawn().expect("start node");
    let watchdog = kill_after(child.id(), SCRIPT_TIMEOUT);
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    for line in stdout.lines() {
        let line = line.expect("read the script's output");
        println!("[{script}] {line}");
        if line.trim() == CRASH_REQUEST {
            server.crash_and_restart();
            writeln!(stdin, "restarted").expect("answer the script");
        }
    }
    let status = child.wait().expect("wait for node");
    drop(watchdog);
    println!("{script} took {:.1} s", started.elapsed().as_secs_f64());
    assert!(status.success(), "{script} failed: {status}");
}

/// Kills the process after `timeout` unless the returned sender is dropped first.
fn kill_after(pid: u32, timeout: Duration) -> mpsc::Sender<()> {
    let (done, wait) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(timeout) {
            eprintln!("browser script still running after {timeout:?}: killing it");
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    done
}

/// Two people chat in a direct room and a group; the server crashes and one of them
/// resumes with every message exactly once (tests/browser/chat.mjs).
#[actix_rt::test]
async fn two_people_chat_and_resume_after_a_crash() {
    if !browser_available() {
        return;
    }
    let db = Database::new(Backend::Sqlite).await;
    // A short heartbeat: the browser's automatic pongs and the client's own pings are
    // exercised many times during the test.
    let mut server = Server::start_with(&db, &["--heartbeat-secs", "1"]).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    run_script(
        &mut server,
        "chat.mjs",
        &[
            ("AMY_ID", &amy_id),
            ("AMY_TOKEN", &amy_token),
            ("BOB_ID", &bob_id),
            ("BOB_TOKEN", &bob_token),
        ],
    );
}

/// amy goes through the demo bot `mathbot` (bots/mathbot.json) by clicking its buttons,
/// a carousel card and quick replies (tests/browser/bot.mjs).
#[actix_rt::test]
async fn a_person_goes_through_the_demo_bot_by_clicking() {
    if !browser_available() {
        return;
    }
    let db = Database::new(Backend::Sqlite).await;
    let bots = Path::new(env!("CARGO_MANIFEST_DIR")).join("bots");
    let bots = bots.to_str().expect("a UTF-8 path");
    let mut server = Server::start_with(&db, &["--bots", bots]).await;
    let (_, amy_token) = server.user("amy").await;
    run_script(&mut server, "bot.mjs", &[("AMY_TOKEN", &amy_token)]);
}

/// amy pastes a picture and attaches a PDF in a direct chat; bob (on a phone) sees the
/// thumbnail, opens it full size and downloads the PDF; eve, an outsider, gets 404 for the
/// picture's URL (tests/browser/files.mjs).
#[actix_rt::test]
async fn two_people_exchange_a_picture_and_a_pdf() {
    if !browser_available() {
        return;
    }
    let db = Database::new(Backend::Sqlite).await;
    let mut server = Server::start(&db).await;
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let (_, eve_token) = server.user("eve").await;
    run_script(
        &mut server,
        "files.mjs",
        &[
            ("AMY_TOKEN", &amy_token),
            ("BOB_ID", &bob_id),
            ("BOB_TOKEN", &bob_token),
            ("EVE_TOKEN", &eve_token),
        ],
    );
}

/// People find each other by name with suggestions from the directory: a direct chat, a
/// group with a member picked by name, an invite from the member list, a kick by the owner
/// (the only one who sees Kick) and a member leaving (tests/browser/people.mjs).
#[actix_rt::test]
async fn people_find_each_other_by_name_invite_kick_and_leave() {
    if !browser_available() {
        return;
    }
    let db = Database::new(Backend::Sqlite).await;
    let mut server = Server::start(&db).await;
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let (cat_id, cat_token) = server.user("cat").await;
    let (dan_id, dan_token) = server.user("dan").await;
    run_script(
        &mut server,
        "people.mjs",
        &[
            ("AMY_TOKEN", &amy_token),
            ("BOB_ID", &bob_id),
            ("BOB_TOKEN", &bob_token),
            ("CAT_ID", &cat_id),
            ("CAT_TOKEN", &cat_token),
            ("DAN_ID", &dan_id),
            ("DAN_TOKEN", &dan_token),
        ],
    );
}
