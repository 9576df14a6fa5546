//! The README's tour, run as written: its own commands and frames, read from README.md (so
//! they cannot drift from it), in the order shown, on a fresh SQLite database in a fresh
//! folder, and every answer the README shows checked against what came.
//!
//! How the README is read (the markers are HTML comments, invisible on the page):
//! - the first command of the README (`cargo run --release`) starts the server once, as a
//!   newcomer does first; it is stopped before the tour (the second, `cargo test
//!   --workspace`, is what runs this test);
//! - in the section "A five-minute tour", an indented block of `$ ` lines is a shell block:
//!   each command runs (`cargo run --release --` is this build's binary), and the lines under
//!   it are its output. A command without arguments starts the server (in the background,
//!   on a free loopback port: `PALAVER_BIND`; a running one is stopped first, as with
//!   Ctrl-C); `chat --token …  # NAME` opens NAME's terminal client (with the token `users
//!   add NAME` printed) and the lines under it are frames it prints;
//! - a block after `<!-- tour: NAME types -->` is typed into NAME's client, a block after
//!   `<!-- tour: NAME sees -->` lists frames NAME's client prints, in that order, among others.
//!
//! A shown frame matches a printed one when every field shown is there with the value shown
//! (the README leaves fields out); in a shown string, `…` stands for any text. A `message`
//! event shown may also come inside the `join` reply just before it (when the message was
//! stored before the join). Output lines of other commands match whole, `…` included.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

const WAIT: Duration = Duration::from_secs(15);
const SECTION: &str = "## A five-minute tour";

#[derive(Debug)]
enum Block {
    Shell(Vec<(String, Vec<String>)>),
    Types(String, Vec<String>),
    Sees(String, Vec<String>),
}

/// The first command of the README (before any section).
fn first_command(readme: &str) -> String {
    readme
        .lines()
        .find_map(|line| line.strip_prefix("    $ "))
        .expect("the README starts with a command")
        .to_string()
}

/// The tour's blocks, in order.
fn tour_blocks(readme: &str) -> Vec<Block> {
    let start = readme.find(SECTION).expect("the README has the tour");
    let rest = &readme[start + SECTION.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut blocks = Vec::new();
    let mut marker: Option<(String, String)> = None;
    let mut lines = section.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(inner) = line
            .trim()
            .strip_prefix("<!-- tour:")
            .and_then(|rest| rest.strip_suffix("-->"))
        {
            let mut words = inner.split_whitespace();
            let name = words.next().expect("a name").to_string();
            let verb = words.next().expect("types or sees").to_string();
            marker = Some((name, verb));
            continue;
        }
        if !line.starts_with("    ") {
            continue;
        }
        let mut body = vec![line[4..].to_string()];
        while let Some(next) = lines.peek().filter(|next| next.starts_with("    ")) {
            body.push(next[4..].to_string());
            lines.next();
        }
        match marker.take() {
            Some((name, verb)) if verb == "types" => blocks.push(Block::Types(name, body)),
            Some((name, verb)) if verb == "sees" => blocks.push(Block::Sees(name, body)),
            Some(other) => panic!("unknown tour marker {other:?}"),
            None => {
                let mut commands: Vec<(String, Vec<String>)> = Vec::new();
                for line in body {
                    match line.strip_prefix("$ ") {
                        Some(command) => commands.push((command.to_string(), Vec::new())),
                        None => commands
                            .last_mut()
                            .unwrap_or_else(|| panic!("output before any command: {line}"))
                            .1
                            .push(line),
                    }
                }
                blocks.push(Block::Shell(commands));
            }
        }
    }
    blocks
}

/// A command line as the README writes it: `VAR=value … cargo run --release [-- args] [# note]`.
struct Parsed {
    env: Vec<(String, String)>,
    args: Vec<String>,
    note: Option<String>,
}

fn parse_command(line: &str) -> Parsed {
    let (command, note) = match line.split_once(" #") {
        Some((command, note)) => (command, Some(note.trim().to_string())),
        None => (line, None),
    };
    let mut words = command.split_whitespace().peekable();
    let mut env = Vec::new();
    while let Some((name, value)) = words.peek().and_then(|word| word.split_once('=')) {
        env.push((name.to_string(), value.to_string()));
        words.next();
    }
    let head: Vec<&str> = words.by_ref().take(3).collect();
    assert_eq!(head, ["cargo", "run", "--release"], "{line}");
    let args: Vec<String> = match words.next() {
        None => Vec::new(),
        Some("--") => words.map(str::to_string).collect(),
        Some(other) => panic!("{line}: unexpected {other}"),
    };
    Parsed { env, args, note }
}

/// `…` in `shown` stands for any text.
fn text_matches(shown: &str, actual: &str) -> bool {
    let parts: Vec<&str> = shown.split('…').collect();
    if parts.len() == 1 {
        return shown == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Every field shown is in `actual` with the value shown; arrays match element by element.
fn value_matches(shown: &Value, actual: &Value) -> bool {
    match (shown, actual) {
        (Value::Object(shown), Value::Object(actual)) => shown.iter().all(|(key, value)| {
            actual
                .get(key)
                .is_some_and(|found| value_matches(value, found))
        }),
        (Value::Array(shown), Value::Array(actual)) => {
            shown.len() == actual.len()
                && shown
                    .iter()
                    .zip(actual)
                    .all(|(shown, actual)| value_matches(shown, actual))
        }
        (Value::String(shown), Value::String(actual)) => text_matches(shown, actual),
        (shown, actual) => shown == actual,
    }
}

/// [`value_matches`], or a shown `message` event that came inside a `join` reply.
fn frame_matches(shown: &Value, actual: &Value) -> bool {
    if value_matches(shown, actual) {
        return true;
    }
    shown["type"] == "message"
        && actual["type"] == "ok"
        && actual["data"]["messages"]
            .as_array()
            .is_some_and(|messages| {
                messages
                    .iter()
                    .any(|message| value_matches(&shown["message"], message))
            })
}

/// A `palaver chat` of the tour: its stdin, and the frames it printed so far.
struct Terminal {
    child: Child,
    stdin: Option<ChildStdin>,
    printed: mpsc::Receiver<String>,
    frames: Vec<Value>,
    /// Where the next shown frame is looked for.
    position: usize,
}

impl Terminal {
    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the terminal is open");
        writeln!(stdin, "{line}").expect("type into the client");
        stdin.flush().expect("flush");
    }

    /// Waits until a printed frame (from the position of the last match) matches `shown`.
    fn sees(&mut self, name: &str, shown: &str) {
        let shown: Value = serde_json::from_str(shown).unwrap_or_else(|err| {
            panic!("README: {name} sees a line that is not JSON ({err}): {shown}")
        });
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(offset) = self.frames[self.position..]
                .iter()
                .position(|frame| frame_matches(&shown, frame))
            {
                self.position += offset;
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.printed.recv_timeout(left) {
                Ok(line) => self
                    .frames
                    .push(serde_json::from_str(&line).unwrap_or_else(|err| {
                        panic!("{name}'s client printed non-JSON ({err}): {line}")
                    })),
                Err(_) => panic!(
                    "{name} never saw {shown}\nprinted since the last match:\n{}",
                    self.frames[self.position..]
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    /// End of input: the client answers every line, prints what lingers, closes, exits 0.
    fn finish(mut self, name: &str) {
        drop(self.stdin.take());
        let status = wait_exit(&mut self.child, name);
        assert!(status.success(), "{name}'s client exited with {status}");
    }
}

fn wait_exit(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the server answers `GET /healthz` with 200 (it has started everything, its
/// Ctrl-C handler too), as a person would wait for it before going on.
fn wait_healthy(base: &str) {
    let address = base.trim_start_matches("http://").to_string();
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = std::net::TcpStream::connect(&address).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(2)))?;
            write!(
                stream,
                "GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
            )?;
            let mut text = String::new();
            std::io::Read::read_to_string(&mut stream, &mut text)?;
            Ok(text)
        });
        if answer.is_ok_and(|text| text.starts_with("HTTP/1.1 200")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server at {base} never became healthy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lines a process prints, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A tour in progress: its folder, the server, the terminals, the users made.
struct Tour<'a> {
    dir: &'a Path,
    /// `DATABASE_URL` for every command, as the README says to export for PostgreSQL;
    /// none: the default SQLite file in `dir`.
    database_url: Option<String>,
    server: Option<(Child, String)>,
    terminals: Vec<(String, Terminal)>,
    /// name -> (id, token), as `users add` printed them.
    users: Vec<(String, String, String)>,
}

impl Tour<'_> {
    fn command(&self, parsed: &Parsed) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_palaver"));
        command
            .args(&parsed.args)
            .envs(parsed.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .current_dir(self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = &self.database_url {
            command.env("DATABASE_URL", url);
        }
        command
    }

    fn run(&mut self, line: &str, output: &[String]) {
        let parsed = parse_command(line);
        match parsed.args.first().map(String::as_str) {
            None => self.start_server(&parsed, output),
            Some("chat") => self.open_terminal(line, &parsed, output),
            Some(_) => self.run_to_end(line, &parsed, output),
        }
    }

    fn start_server(&mut self, parsed: &Parsed, output: &[String]) {
        assert!(output.is_empty(), "the server prints its logs on stderr");
        self.stop_server();
        let mut child = self
            .command(parsed)
            .env("PALAVER_BIND", "127.0.0.1:0")
            .spawn()
            .expect("start the server");
        let lines = lines_of(&mut child);
        let first = lines.recv_timeout(WAIT).expect("the server's first line");
        let base = first
            .strip_prefix("palaver listening on ")
            .unwrap_or_else(|| panic!("the server said {first:?}"))
            .to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        wait_healthy(&base);
        self.server = Some((child, base));
    }

    /// Ctrl-C: SIGTERM, exit 0; the terminals see the close and end.
    fn stop_server(&mut self) {
        let Some((mut child, _)) = self.server.take() else {
            return;
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let status = wait_exit(&mut child, "the server");
        assert!(status.success(), "the server stopped with {status}");
        for (name, terminal) in self.terminals.drain(..) {
            terminal.finish(&name);
        }
    }

    fn open_terminal(&mut self, line: &str, parsed: &Parsed, output: &[String]) {
        let name = parsed
            .note
            .clone()
            .unwrap_or_else(|| panic!("{line}: say whose terminal it is (# NAME)"));
        let name = name
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let token = self
            .users
            .iter()
            .find(|(user, _, _)| *user == name)
            .map(|(_, _, token)| token.clone())
            .unwrap_or_else(|| panic!("{line}: no user {name} was added before"));
        let shown_token = parsed
            .args
            .iter()
            .skip_while(|arg| *arg != "--token")
            .nth(1)
            .unwrap_or_else(|| panic!("{line}: no --token"));
        assert!(
            text_matches(shown_token, &token),
            "{line}: {shown_token} is not {name}'s token"
        );
        let args: Vec<String> = parsed
            .args
            .iter()
            .map(|arg| {
                if arg == shown_token {
                    token.clone()
                } else {
                    arg.clone()
                }
            })
            .collect();
        let (_, base) = self.server.as_ref().expect("a server runs");
        let mut child = self
            .command(&Parsed {
                env: parsed.env.clone(),
                args,
                note: None,
            })
            .env(
                "PALAVER_URL",
                format!("{}/ws", base.replace("http://", "ws://")),
            )
            .stdin(Stdio::piped())
            .spawn()
            .expect("start palaver chat");
        let printed = lines_of(&mut child);
        let stdin = child.stdin.take();
        let mut terminal = Terminal {
            child,
            stdin,
            printed,
            frames: Vec::new(),
            position: 0,
        };
        for shown in output {
            terminal.sees(&name, shown);
        }
        self.terminals.retain(|(other, _)| *other != name);
        self.terminals.push((name, terminal));
    }

    fn run_to_end(&mut self, line: &str, parsed: &Parsed, output: &[String]) {
        let result = self
            .command(parsed)
            .output()
            .unwrap_or_else(|err| panic!("{line}: {err}"));
        assert!(result.status.success(), "{line}: {}", result.status);
        let printed: Vec<String> = String::from_utf8_lossy(&result.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(printed.len(), output.len(), "{line} printed {printed:#?}");
        for (shown, printed) in output.iter().zip(&printed) {
            assert!(
                text_matches(shown, printed),
                "{line}: shown {shown:?}, printed {printed:?}"
            );
        }
        if let ["users", "add", name] =
            parsed.args.iter().map(String::as_str).collect::<Vec<_>>()[..]
        {
            let field = |key: &str| {
                printed
                    .iter()
                    .find_map(|line| line.strip_prefix(key).map(|rest| rest.trim().to_string()))
                    .unwrap_or_else(|| panic!("{line}: no {key}"))
            };
            self.users
                .push((name.to_string(), field("id "), field("token ")));
        }
    }

    fn terminal(&mut self, name: &str) -> &mut Terminal {
        self.terminals
            .iter_mut()
            .find(|(other, _)| other == name)
            .map(|(_, terminal)| terminal)
            .unwrap_or_else(|| panic!("README: {name} has no terminal open here"))
    }
}

/// A tour that failed half-way leaves no process behind.
impl Drop for Tour<'_> {
    fn drop(&mut self) {
        if let Some((mut child, _)) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for (_, terminal) in &mut self.terminals {
            let _ = terminal.child.kill();
            let _ = terminal.child.wait();
        }
    }
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

#[test]
fn the_readme_tour_works_as_written() {
    run_tour(&readme(), None);
}

/// The same tour with `DATABASE_URL` exported for a fresh PostgreSQL database, as the
/// README says: the same commands give the same answers, ids included.
#[test]
fn the_readme_tour_works_as_written_on_postgresql() {
    let readme = readme();
    let start = readme.find(SECTION).expect("the README has the tour");
    assert!(
        readme[start..].contains("`export DATABASE_URL=postgres://"),
        "the tour says how to follow it on PostgreSQL"
    );
    let system = actix_rt::System::new();
    if !system.block_on(common::postgres_available()) {
        return;
    }
    let database = system.block_on(common::Database::new(common::Backend::Postgres));
    run_tour(&readme, Some(database.url.clone()));
}

fn run_tour(readme: &str, database_url: Option<String>) {
    let dir = tempfile::tempdir().expect("a fresh folder");
    let mut tour = Tour {
        dir: dir.path(),
        database_url,
        server: None,
        terminals: Vec::new(),
        users: Vec::new(),
    };
    // First, as a newcomer does: the server, once (it stores the demo bot), then Ctrl-C.
    let first = first_command(readme);
    assert_eq!(first, "cargo run --release", "the README's first command");
    tour.run(&first, &[]);
    tour.stop_server();

    let blocks = tour_blocks(readme);
    assert!(blocks.len() > 5, "the tour has its blocks: {blocks:?}");
    for block in blocks {
        match block {
            Block::Shell(commands) => {
                for (line, output) in commands {
                    tour.run(&line, &output);
                }
            }
            Block::Types(name, lines) => {
                for line in lines {
                    tour.terminal(&name).type_line(&line);
                }
            }
            Block::Sees(name, lines) => {
                for line in lines {
                    tour.terminal(&name).sees(&name, &line);
                }
            }
        }
    }
    tour.stop_server();
}

#[test]
fn shown_text_with_an_ellipsis_stands_for_any_text() {
    assert!(text_matches("pv_…", "pv_3f9c"));
    assert!(text_matches("token     pv_…", "token     pv_3f9c"));
    assert!(!text_matches("token  pv_…", "token     pv_3f9c"));
    assert!(text_matches("s_…", "s_1a2b"));
    assert!(text_matches("a…c…e", "abcde"));
    assert!(!text_matches("a…c…e", "abde"));
    assert!(!text_matches("u_3", "u_33"));
    let shown: Value = serde_json::json!({"type":"message","message":{"id":"m_3_1"}});
    let join = serde_json::json!({"type":"ok","id":2,"data":{"messages":[{"id":"m_3_1","seq":1}]}});
    assert!(frame_matches(&shown, &join));
    assert!(!frame_matches(
        &shown,
        &serde_json::json!({"type":"ok","id":2,"data":{}})
    ));
}
