//! Browser tests of the web client: the real server (SQLite), users made through the admin
//! API, and a Node script (tests/browser/*.mjs) that drives Debian's Chromium with
//! playwright-core. A script may ask for the server to be killed and restarted by printing
//! `@@palaver crash_and_restart`; it is answered `restarted` on its stdin.
//!
//! The harness is libtest-mimic's (`harness = false` in Cargo.toml), so that a test that
//! cannot run is never counted as passed: in CI (`CI` set) a missing Chromium, Node or
//! `tests/browser/node_modules` fails the test; elsewhere the test is reported as ignored,
//! with `SKIPPED` and what is missing (`test result: ok. 1 passed; 0 failed; 6 ignored`).
//! `SCREENSHOTS=1` saves the screens under docs/screenshots/.

mod common;

use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{room_id, Backend, Database, Server, ADMIN};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde_json::json;

type Scenario = fn() -> Pin<Box<dyn Future<Output = ()>>>;

/// Every browser test, by name.
const TESTS: [(&str, Scenario); 9] = [
    ("two_people_chat_and_resume_after_a_crash", || {
        Box::pin(two_people_chat_and_resume_after_a_crash())
    }),
    ("a_person_goes_through_the_demo_bot_by_clicking", || {
        Box::pin(a_person_goes_through_the_demo_bot_by_clicking())
    }),
    ("two_people_exchange_a_picture_and_a_pdf", || {
        Box::pin(two_people_exchange_a_picture_and_a_pdf())
    }),
    (
        "people_find_each_other_by_name_invite_kick_and_leave",
        || Box::pin(people_find_each_other_by_name_invite_kick_and_leave()),
    ),
    (
        "two_people_reply_edit_react_mention_delete_and_search",
        || Box::pin(two_people_reply_edit_react_mention_delete_and_search()),
    ),
    (
        "notifications_reach_a_closed_client_and_open_the_room",
        || Box::pin(notifications_reach_a_closed_client_and_open_the_room()),
    ),
    (
        "a_user_blocks_someone_reports_a_message_and_unblocks",
        || Box::pin(a_user_blocks_someone_reports_a_message_and_unblocks()),
    ),
    (
        "a_moderator_resolves_a_report_edits_rules_and_reads_the_audit_log",
        || Box::pin(a_moderator_resolves_a_report_edits_rules_and_reads_the_audit_log()),
    ),
    (
        "the_owner_makes_a_moderator_who_mutes_deletes_and_bans",
        || Box::pin(the_owner_makes_a_moderator_who_mutes_deletes_and_bans()),
    ),
];

/// Scripts run at once unless `--test-threads` says otherwise: each drives up to four
/// Chromium pages, and all of them at once on a two-core machine, beside the rest of the
/// suite, made pages slow enough for waits to time out.
const SCRIPTS_AT_ONCE: usize = 2;

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads.get_or_insert(SCRIPTS_AT_ONCE);
    let mut trials: Vec<Trial> = TESTS
        .iter()
        .map(|&(name, scenario)| Trial::ignorable_test(name, move || run(scenario)))
        .collect();
    trials.push(Trial::test(
        "a_test_without_its_tools_is_ignored_or_fails_in_ci_never_passed",
        a_test_without_its_tools_is_ignored_or_fails_in_ci_never_passed,
    ));
    libtest_mimic::run(&args, trials).exit();
}

/// Runs one scenario on an actix system of its own, or reports why it cannot run: ignored
/// (SKIPPED) on a developer's machine, a failure in CI.
fn run(scenario: Scenario) -> Result<Completion, Failed> {
    if let Some(what) = missing_prerequisite() {
        if std::env::var_os("CI").is_some() {
            return Err(format!("the browser tests are required in CI: {what}").into());
        }
        return Ok(Completion::ignored_with(format!("SKIPPED: {what}")));
    }
    actix_rt::System::new().block_on(scenario());
    Ok(Completion::Completed)
}

/// Runs this test binary again, for one browser test, with a Chromium that does not exist:
/// outside CI the test is counted as ignored and says SKIPPED, in CI it fails; never passed.
fn a_test_without_its_tools_is_ignored_or_fails_in_ci_never_passed() -> Result<(), Failed> {
    let me = std::env::current_exe().map_err(|err| format!("this test binary: {err}"))?;
    let run = |ci: bool| {
        let mut command = Command::new(&me);
        command
            .args(["--exact", TESTS[0].0, "--test-threads", "1"])
            .env("CHROMIUM", "/nonexistent/chromium")
            .env_remove("CI");
        if ci {
            command.env("CI", "true");
        }
        let output = command
            .output()
            .map_err(|err| format!("run {me:?}: {err}"))?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        Ok::<_, Failed>((output.status.success(), text))
    };
    let (success, text) = run(false)?;
    if !success || !text.contains("0 passed; 0 failed; 1 ignored") || !text.contains("SKIPPED") {
        return Err(format!("outside CI, want 1 ignored with SKIPPED, got:\n{text}").into());
    }
    let (success, text) = run(true)?;
    if success || !text.contains("0 passed; 1 failed") || !text.contains("required in CI") {
        return Err(format!("in CI, want 1 failed, got:\n{text}").into());
    }
    Ok(())
}

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
async fn two_people_chat_and_resume_after_a_crash() {
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
async fn a_person_goes_through_the_demo_bot_by_clicking() {
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
async fn two_people_exchange_a_picture_and_a_pdf() {
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
async fn people_find_each_other_by_name_invite_kick_and_leave() {
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

/// amy turns on notifications, closes the client, and bob's message reaches her through
/// Web Push: the script's own push service on loopback checks and decrypts the server's
/// request, the service worker shows it, its click path opens the room; the room's level and
/// turning notifications off are checked too (tests/browser/notifications.mjs).
async fn notifications_reach_a_closed_client_and_open_the_room() {
    let db = Database::new(Backend::Sqlite).await;
    let mut server = Server::start_with(
        &db,
        &["--push-insecure-endpoints", "--push-coalesce-ms", "200"],
    )
    .await;
    let (_, amy_token) = server.user("amy").await;
    let (_, bob_token) = server.user("bob").await;
    run_script(
        &mut server,
        "notifications.mjs",
        &[("AMY_TOKEN", &amy_token), ("BOB_TOKEN", &bob_token)],
    );
}

/// amy and bob in a group reply, edit, react, mention, delete and search in the web client;
/// amy, offline for a while, catches up with `changes` (tests/browser/conversation.mjs).
async fn two_people_reply_edit_react_mention_delete_and_search() {
    let db = Database::new(Backend::Sqlite).await;
    let mut server = Server::start(&db).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    run_script(
        &mut server,
        "conversation.mjs",
        &[
            ("AMY_ID", &amy_id),
            ("AMY_TOKEN", &amy_token),
            ("BOB_ID", &bob_id),
            ("BOB_TOKEN", &bob_token),
        ],
    );
}

/// amy blocks bob from the Members panel (his messages hidden on her page, whole on cat's),
/// reports one of them with a reason and a note, and unblocks him (tests/browser/safety.mjs).
async fn a_user_blocks_someone_reports_a_message_and_unblocks() {
    let db = Database::new(Backend::Sqlite).await;
    let mut server = Server::start(&db).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let (cat_id, cat_token) = server.user("cat").await;
    run_script(
        &mut server,
        "safety.mjs",
        &[
            ("AMY_ID", &amy_id),
            ("AMY_TOKEN", &amy_token),
            ("BOB_ID", &bob_id),
            ("BOB_TOKEN", &bob_token),
            ("CAT_ID", &cat_id),
            ("CAT_TOKEN", &cat_token),
        ],
    );
}

/// The moderators' page: amy has reported bob's message in their group; a moderator opens
/// /admin/ with the admin token, sees the report and its context, deletes the message, edits
/// the content rules and reads the audit log (tests/browser/moderation.mjs).
async fn a_moderator_resolves_a_report_edits_rules_and_reads_the_audit_log() {
    let db = Database::new(Backend::Sqlite).await;
    let mut server = Server::start(&db).await;
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let mut amy = server.connect(&amy_token).await;
    let mut bob = server.connect(&bob_token).await;
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"class","members":[bob_id]}))
            .await,
    );
    amy.ok(json!({"type":"send","room":room,"body":"what did you get for question 4"}))
        .await;
    let reported = bob
        .ok(json!({"type":"send","room":room,"body":"text me at 010-1234-5678"}))
        .await["message"]["id"]
        .clone();
    bob.ok(json!({"type":"send","room":room,"body":"or add me elsewhere"}))
        .await;
    amy.ok(json!({"type":"report","room":room,"message":reported,"reason":"abuse","note":"he wants my number"}))
        .await;
    run_script(&mut server, "moderation.mjs", &[("ROOM", &room)]);
}

/// Group moderation in the member panel: amy (the owner) makes bob a moderator; bob mutes
/// cat (who sees why and until when above the composer), deletes her message, lifts the
/// mute and bans her (tests/browser/roles.mjs).
async fn the_owner_makes_a_moderator_who_mutes_deletes_and_bans() {
    let db = Database::new(Backend::Sqlite).await;
    let mut server = Server::start(&db).await;
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let (cat_id, cat_token) = server.user("cat").await;
    let mut amy = server.connect(&amy_token).await;
    amy.ok(json!({"type":"create_group","name":"class","members":[bob_id, cat_id]}))
        .await;
    run_script(
        &mut server,
        "roles.mjs",
        &[
            ("AMY_TOKEN", &amy_token),
            ("BOB_ID", &bob_id),
            ("BOB_TOKEN", &bob_token),
            ("CAT_ID", &cat_id),
            ("CAT_TOKEN", &cat_token),
        ],
    );
}
