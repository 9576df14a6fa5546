//! The client libraries' own suites (clients/typescript with Node's test runner,
//! clients/python with pytest), run against this build's server binary: each suite starts
//! the binary itself on random ports, on SQLite and on PostgreSQL (`PALAVER_TEST_PG`).
//!
//! The harness is libtest-mimic's (`harness = false`), as for tests/browser.rs: a suite whose
//! tools are missing (Node, `clients/typescript/node_modules`, Python with `websockets` and
//! `pytest`) fails in CI (`CI` set) and is reported as ignored, with `SKIPPED` and what is
//! missing, elsewhere; never passed. `PALAVER_CLIENTS_NODE` and `PALAVER_CLIENTS_PYTHON` name
//! other interpreters than `node` and `python3`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// A suite still running after this is killed and fails (each takes well under a minute).
const SUITE_TIMEOUT: Duration = Duration::from_secs(240);

struct Suite {
    name: &'static str,
    missing: fn() -> Option<String>,
    run: fn() -> Result<(), Failed>,
}

const SUITES: [Suite; 2] = [
    Suite {
        name: "typescript_client_against_the_real_server",
        missing: typescript_missing,
        run: run_typescript,
    },
    Suite {
        name: "python_client_against_the_real_server",
        missing: python_missing,
        run: run_python,
    },
];

fn main() {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = SUITES
        .iter()
        .map(|suite| {
            let (missing, run) = (suite.missing, suite.run);
            Trial::ignorable_test(suite.name, move || required(missing, run))
        })
        .collect();
    trials.push(Trial::test(
        "a_suite_without_its_tools_is_ignored_or_fails_in_ci_never_passed",
        a_suite_without_its_tools_is_ignored_or_fails_in_ci_never_passed,
    ));
    libtest_mimic::run(&args, trials).exit();
}

/// Runs a suite, or says why it cannot run: ignored (SKIPPED) on a developer's machine, a
/// failure in CI.
fn required(
    missing: fn() -> Option<String>,
    run: fn() -> Result<(), Failed>,
) -> Result<Completion, Failed> {
    if let Some(what) = missing() {
        if std::env::var_os("CI").is_some() {
            return Err(format!("the client library tests are required in CI: {what}").into());
        }
        return Ok(Completion::ignored_with(format!("SKIPPED: {what}")));
    }
    run()?;
    Ok(Completion::Completed)
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

fn node_interpreter() -> String {
    std::env::var("PALAVER_CLIENTS_NODE").unwrap_or_else(|_| "node".into())
}

fn python_interpreter() -> String {
    std::env::var("PALAVER_CLIENTS_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn typescript_missing() -> Option<String> {
    if Command::new(node_interpreter())
        .arg("--version")
        .output()
        .is_err()
    {
        return Some(format!(
            "{} is missing (Node 20 or later)",
            node_interpreter()
        ));
    }
    let modules = clients_dir().join("typescript/node_modules");
    for package in ["typescript", "ws"] {
        if !modules.join(package).exists() {
            return Some(format!(
                "clients/typescript/node_modules/{package} is missing (run npm ci in clients/typescript)"
            ));
        }
    }
    None
}

fn python_missing() -> Option<String> {
    let probe = Command::new(python_interpreter())
        .args(["-c", "import websockets, pytest"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match probe {
        Err(err) => Some(format!("{} is missing: {err}", python_interpreter())),
        Ok(status) if !status.success() => Some(format!(
            "{} cannot import websockets and pytest (pip install -e 'clients/python[test]')",
            python_interpreter()
        )),
        Ok(_) => None,
    }
}

/// Compiles the TypeScript (tsc from its devDependencies), then `node --test test/`.
fn run_typescript() -> Result<(), Failed> {
    let dir = clients_dir().join("typescript");
    let mut tsc = Command::new(node_interpreter());
    tsc.args(["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"])
        .current_dir(&dir);
    run_suite("tsc", tsc)?;
    let mut tests = Command::new(node_interpreter());
    tests.args(["--test", "test/"]).current_dir(&dir);
    run_suite("node --test", tests)
}

/// `python3 -m pytest clients/python/tests`, the package taken from its source folder.
fn run_python() -> Result<(), Failed> {
    let dir = clients_dir().join("python");
    let mut tests = Command::new(python_interpreter());
    tests
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .env("PYTHONPATH", dir.join("src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&dir);
    run_suite("pytest", tests)
}

/// Runs one command with this build's server binary in `PALAVER_BIN`, killed after
/// [`SUITE_TIMEOUT`]; its output is shown when it fails (and its last line when it passes).
fn run_suite(what: &str, mut command: Command) -> Result<(), Failed> {
    let started = Instant::now();
    let mut child = command
        .env("PALAVER_BIN", env!("CARGO_BIN_EXE_palaver"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("start {what}: {err}"))?;
    let (done, wait) = mpsc::channel::<()>();
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(SUITE_TIMEOUT) {
            eprintln!("{pid} still running after {SUITE_TIMEOUT:?}: killing it");
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut output = String::new();
    child
        .stdout
        .take()
        .ok_or("no stdout")?
        .read_to_string(&mut output)
        .map_err(|err| format!("read {what}'s output: {err}"))?;
    let status = child
        .wait()
        .map_err(|err| format!("wait for {what}: {err}"))?;
    drop(done);
    let _ = watchdog.join();
    let errors = errors.join().unwrap_or_default();
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(
            format!("{what} failed ({status}) after {seconds:.1} s:\n{output}\n{errors}").into(),
        );
    }
    let summary = output
        .lines()
        .filter(|line| line.starts_with("# pass") || line.contains(" passed"))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = if summary.is_empty() { "ok" } else { &summary };
    eprintln!("{what}: {summary} in {seconds:.1} s");
    Ok(())
}

/// Runs this test binary again, for each suite, with an interpreter that does not exist:
/// outside CI the suite is counted as ignored and says SKIPPED, in CI it fails; never passed.
fn a_suite_without_its_tools_is_ignored_or_fails_in_ci_never_passed() -> Result<(), Failed> {
    let me = std::env::current_exe().map_err(|err| format!("this test binary: {err}"))?;
    for suite in &SUITES {
        let run = |ci: bool| {
            let mut command = Command::new(&me);
            command
                .args(["--exact", suite.name, "--test-threads", "1"])
                .env("PALAVER_CLIENTS_NODE", "/nonexistent/node")
                .env("PALAVER_CLIENTS_PYTHON", "/nonexistent/python3")
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
        if !success || !text.contains("0 passed; 0 failed; 1 ignored") || !text.contains("SKIPPED")
        {
            return Err(format!(
                "{}: outside CI, want 1 ignored with SKIPPED, got:\n{text}",
                suite.name
            )
            .into());
        }
        let (success, text) = run(true)?;
        if success || !text.contains("0 passed; 1 failed") || !text.contains("required in CI") {
            return Err(format!("{}: in CI, want 1 failed, got:\n{text}", suite.name).into());
        }
    }
    Ok(())
}
