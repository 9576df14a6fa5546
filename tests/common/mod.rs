//! Test harness: starts the real `palaver` binary on a random loopback port against a
//! fresh SQLite file or a fresh PostgreSQL database, and talks to it over real HTTP and
//! WebSockets.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::web::Bytes;
use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

pub mod cluster;
pub mod push;
pub mod services;
pub mod tls;
pub mod world;

pub const ADMIN: &str = "test-admin-token";
const WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// Two PostgreSQL-backed nodes sharing a redis-server of the test's own: the server's
    /// connections alternate between them, so the members of a room sit on different nodes;
    /// the admin API goes to the first.
    Cluster,
}

/// Runs `scenario` on SQLite, on PostgreSQL and on a two-node cluster, each as its own test
/// (the cluster needs PostgreSQL and redis-server, and fails loudly without them in CI).
#[macro_export]
macro_rules! on_every_deployment {
    ($scenario:ident) => {
        mod $scenario {
            #[actix_rt::test]
            async fn sqlite() {
                super::$scenario(super::common::Backend::Sqlite).await;
            }
            #[actix_rt::test]
            async fn postgres() {
                if super::common::postgres_available().await {
                    super::$scenario(super::common::Backend::Postgres).await;
                }
            }
            #[actix_rt::test]
            async fn cluster() {
                if super::common::postgres_available().await
                    && super::common::services::available("redis-server")
                {
                    super::$scenario(super::common::Backend::Cluster).await;
                }
            }
        }
    };
}

/// Runs `scenario` once per backend as its own test. PostgreSQL tests fail loudly in CI when
/// the database is missing, and say so on stderr (and pass) on a developer's machine without it.
#[macro_export]
macro_rules! on_both_backends {
    ($scenario:ident) => {
        mod $scenario {
            #[actix_rt::test]
            async fn sqlite() {
                super::$scenario(super::common::Backend::Sqlite).await;
            }
            #[actix_rt::test]
            async fn postgres() {
                if super::common::postgres_available().await {
                    super::$scenario(super::common::Backend::Postgres).await;
                }
            }
        }
    };
}

pub fn postgres_admin_url() -> String {
    std::env::var("PALAVER_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub async fn postgres_available() -> bool {
    use diesel_async::AsyncConnection;
    match diesel_async::AsyncPgConnection::establish(&postgres_admin_url()).await {
        Ok(_) => true,
        Err(err) if std::env::var_os("CI").is_some() => {
            panic!(
                "PostgreSQL is required in CI and is not reachable at {}: {err}",
                postgres_admin_url()
            )
        }
        Err(err) => {
            eprintln!("SKIPPED: PostgreSQL not reachable ({err}); set PALAVER_TEST_PG or start it");
            false
        }
    }
}

/// A fresh, empty database for one test: a temporary SQLite file, or a PostgreSQL database
/// that is dropped again when the test ends (servers are dropped first: they are declared
/// after their database).
pub struct Database {
    pub url: String,
    /// Servers on it are two nodes of a cluster ([`Backend::Cluster`]).
    cluster: bool,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL database's name, to drop it.
    pg_name: Option<String>,
}

impl Database {
    pub async fn new(backend: Backend) -> Database {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("palaver.db");
                Database {
                    url: format!("sqlite://{}", path.display()),
                    _dir: Some(dir),
                    pg_name: None,
                    cluster: false,
                }
            }
            Backend::Cluster => {
                let mut db = Box::pin(Database::new(Backend::Postgres)).await;
                db.cluster = true;
                db
            }
            Backend::Postgres => Database::create_postgres("").await,
        }
    }
}

impl Database {
    /// A SQLite database in `dir` (which the caller owns and removes).
    pub fn sqlite_in(dir: &std::path::Path) -> Database {
        Database {
            url: format!("sqlite://{}", dir.join("palaver.db").display()),
            _dir: None,
            pg_name: None,
            cluster: false,
        }
    }

    /// A database the test made itself (on a PostgreSQL server of its own, say): used as
    /// it is and dropped with that server. `cluster`: servers on it are two nodes.
    pub fn external(url: String, cluster: bool) -> Database {
        Database {
            url,
            _dir: None,
            pg_name: None,
            cluster,
        }
    }

    /// A fresh PostgreSQL database whose tables live in `tablespace` (dropped when done,
    /// before the caller drops the tablespace).
    pub async fn postgres_in(tablespace: &str) -> Database {
        Database::create_postgres(&format!(" TABLESPACE {tablespace}")).await
    }

    /// A fresh PostgreSQL database, made with `CREATE DATABASE name{options}`.
    async fn create_postgres(options: &str) -> Database {
        use diesel_async::{AsyncConnection, RunQueryDsl};
        let admin = postgres_admin_url();
        let mut conn = diesel_async::AsyncPgConnection::establish(&admin)
            .await
            .expect("PostgreSQL reachable");
        let name = format!(
            "palaver_test_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        diesel::sql_query(format!("CREATE DATABASE {name}{options}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(&admin);
        Database {
            url: format!("{base}/{name}"),
            _dir: None,
            pg_name: Some(name),
            cluster: false,
        }
    }
}

impl Database {
    /// Runs one SQL statement on the database itself, beside any server or store on it (for
    /// a state the API cannot make: times moved back, rows that point at nothing).
    pub async fn exec(&self, sql: &str) {
        if let Some(path) = self.url.strip_prefix("sqlite://") {
            use diesel::{Connection, RunQueryDsl};
            let mut conn = diesel::SqliteConnection::establish(path).expect("open SQLite");
            diesel::sql_query("PRAGMA busy_timeout=5000")
                .execute(&mut conn)
                .expect("pragma");
            diesel::sql_query(sql).execute(&mut conn).expect(sql);
        } else {
            use diesel_async::{AsyncConnection, RunQueryDsl};
            let mut conn = diesel_async::AsyncPgConnection::establish(&self.url)
                .await
                .expect("connect");
            diesel::sql_query(sql).execute(&mut conn).await.expect(sql);
        }
    }
}

impl Drop for Database {
    /// Drops the test's PostgreSQL database (`WITH (FORCE)`: a server killed by the test may
    /// leave a connection behind for a moment). Through `psql`, since `Drop` cannot await;
    /// a failure is reported, not hidden, and fails nothing: the test has run by now.
    fn drop(&mut self) {
        let Some(name) = &self.pg_name else { return };
        let dropped = Command::new("psql")
            .args(["-q", "-X", "-d", &postgres_admin_url(), "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .stdout(Stdio::null())
            .status();
        match dropped {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!("could not drop test database {name}: psql {status}"),
            Err(err) => eprintln!("could not drop test database {name}: psql: {err}"),
        }
    }
}

/// The server process. Killed when dropped. On a [`Backend::Cluster`] database it is the
/// first of two nodes; the other node and the cluster's redis-server live here too.
pub struct Server {
    child: Child,
    pub base: String,
    pub db_url: String,
    extra: Vec<String>,
    /// The cluster's other node.
    others: Vec<Server>,
    redis: Option<services::Redis>,
    /// Which node the next `connect` goes to.
    next_node: std::sync::atomic::AtomicUsize,
}

impl Server {
    pub async fn start(db: &Database) -> Server {
        Server::start_with(db, &[]).await
    }

    /// Starts on a random port below the kernel's ephemeral range (32768 and up), so that
    /// a server restarted on its old port never finds it taken by another test's server.
    pub async fn start_with(db: &Database, extra: &[&str]) -> Server {
        if db.cluster {
            let redis = services::Redis::start();
            let url = redis.url();
            let node = |id: &'static str| {
                let mut args = extra.to_vec();
                args.extend_from_slice(&["--redis-url", &url, "--node-id", id]);
                args.iter()
                    .map(|arg| arg.to_string())
                    .collect::<Vec<String>>()
            };
            let mut first = Server::start_on(db, node("n1"));
            let second = Server::start_on(db, node("n2"));
            first.others.push(second);
            first.redis = Some(redis);
            return first;
        }
        Server::start_on(db, extra.iter().map(|arg| arg.to_string()).collect())
    }

    fn start_on(db: &Database, extra: Vec<String>) -> Server {
        let mut last = String::new();
        for _ in 0..50 {
            let port = 10_000 + rand::random::<u16>() % 20_000;
            match Server::spawn(&db.url, extra.clone(), &format!("127.0.0.1:{port}")) {
                Ok(server) => return server,
                Err(err) => last = err,
            }
        }
        panic!("could not start the server: {last}")
    }

    fn spawn(db_url: &str, extra: Vec<String>, bind: &str) -> Result<Server, String> {
        Server::spawn_under(&[], db_url, extra, bind)
    }

    /// A single server started by `wrapper` (a command that execs the server, such as
    /// `prlimit --nofile=256:256 --`), so that it runs with what the wrapper set.
    pub fn start_under(wrapper: &[&str], db: &Database, extra: &[&str]) -> Server {
        let extra: Vec<String> = extra.iter().map(|arg| arg.to_string()).collect();
        let mut last = String::new();
        for _ in 0..50 {
            let port = 10_000 + rand::random::<u16>() % 20_000;
            let bind = format!("127.0.0.1:{port}");
            match Server::spawn_under(wrapper, &db.url, extra.clone(), &bind) {
                Ok(server) => return server,
                Err(err) => last = err,
            }
        }
        panic!("could not start the server: {last}")
    }

    fn spawn_under(
        wrapper: &[&str],
        db_url: &str,
        extra: Vec<String>,
        bind: &str,
    ) -> Result<Server, String> {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(env!("CARGO_BIN_EXE_palaver"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_palaver")),
        };
        let mut child = command
            .args([
                "--bind",
                bind,
                "--database-url",
                db_url,
                "--admin-token",
                ADMIN,
            ])
            .args(&extra)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| format!("start palaver: {err}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Some(base) = line.trim().strip_prefix("palaver listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the server did not start on {bind}: {line:?}"));
        };
        Ok(Server {
            base: base.to_string(),
            child,
            db_url: db_url.to_string(),
            extra,
            others: Vec::new(),
            redis: None,
            next_node: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// This server and, in a cluster, the other node.
    pub fn nodes(&self) -> Vec<&Server> {
        std::iter::once(self).chain(&self.others).collect()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`, then a new server on the same database and the same port (every node of a
    /// cluster).
    pub fn crash_and_restart(&mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
        for other in &mut self.others {
            other.child.kill().expect("kill -9");
            let _ = other.child.wait();
        }
        self.respawn();
    }

    /// SIGTERM and wait for the exit status (of every node of a cluster; the first one's).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        for other in &mut self.others {
            let status = other.terminate();
            assert!(
                status.success(),
                "the cluster's other node exits with {status}"
            );
        }
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("wait")
    }

    pub fn respawn(&mut self) {
        for other in &mut self.others {
            other.respawn();
        }
        let bind = self.base.trim_start_matches("http://").to_string();
        let mut last = String::new();
        // The port may take a moment to be free again.
        for _ in 0..50 {
            match Server::spawn(&self.db_url, self.extra.clone(), &bind) {
                Ok(mut server) => {
                    server.others = std::mem::take(&mut self.others);
                    server.redis = self.redis.take();
                    drop(std::mem::replace(self, server));
                    return;
                }
                Err(err) => last = err,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("could not restart the server: {last}")
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!("{}/ws?token={token}", self.base.replace("http://", "ws://"))
    }

    fn http(&self) -> awc::Client {
        awc::Client::builder().timeout(WAIT).finish()
    }

    /// A files API call (section 9) with raw bytes as the body; returns the status and the
    /// JSON answer (null when it is not JSON).
    pub async fn file_call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        bytes: &[u8],
    ) -> (u16, Value) {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut response = awc::Client::builder()
            .timeout(Duration::from_secs(20))
            .finish()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .send_body(bytes.to_vec())
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body = response.body().limit(1 << 24).await.expect("body");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Uploads `bytes` as `name`; answers the file id.
    pub async fn upload(&self, token: &str, name: &str, bytes: &[u8]) -> String {
        let (status, body) = self
            .file_call("POST", &format!("/files?name={name}"), token, bytes)
            .await;
        assert_eq!(status, 201, "{body}");
        body["file"]["id"].as_str().expect("file id").to_string()
    }

    /// An admin API call; returns the status and the JSON body (null when empty).
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, body, Some(ADMIN)).await
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        call(&self.base, method, path, body, token).await
    }

    /// An admin call with a body written by hand (JSON a `Value` cannot hold, such as a
    /// key twice); returns the status and the JSON answer.
    pub async fn admin_raw(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut response = self
            .http()
            .request(method, format!("{}{path}", self.base))
            .insert_header(("Authorization", format!("Bearer {ADMIN}")))
            .insert_header(("Content-Type", "application/json"))
            .send_body(body.to_string())
            .await
            .expect("HTTP request");
        let status = response.status().as_u16();
        let bytes = response.body().await.expect("body");
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    /// Creates a user; returns (id, token).
    pub async fn user(&self, name: &str) -> (String, String) {
        let (status, body) = self
            .admin("POST", "/admin/users", Some(json!({ "name": name })))
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["user"]["id"].as_str().expect("id").to_string(),
            body["token"].as_str().expect("token").to_string(),
        )
    }

    /// A WebSocket to the server (in a cluster, to each node in turn).
    pub async fn connect(&self, token: &str) -> Client {
        let turn = self
            .next_node
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nodes = 1 + self.others.len();
        match turn % nodes {
            0 => Client::connect(&self.ws_url(token)).await,
            n => Client::connect(&self.others[n - 1].ws_url(token)).await,
        }
    }
}

/// An HTTP call to `base` (a server, or nginx in front of several); returns the status and
/// the JSON answer (`null` for none, the text as a string if it is not JSON).
pub async fn call(
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let client = awc::Client::builder().timeout(WAIT).finish();
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut response = match body {
        Some(body) => request.send_json(&body).await,
        None => request.send().await,
    }
    .expect("HTTP request");
    let status = response.status().as_u16();
    let bytes = response.body().limit(16 * 1024 * 1024).await.expect("body");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, value)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Socket = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

/// A WebSocket client that keeps events aside while it waits for a reply.
pub struct Client {
    socket: Socket,
    pub hello: Value,
    events: VecDeque<Value>,
    next_id: u64,
}

/// What the server did when the client waited for a frame.
#[derive(Debug)]
pub enum Received {
    Frame(Value),
    Closed(Option<u16>),
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (_, socket) = awc::Client::builder()
            .timeout(WAIT)
            .max_http_version(awc::http::Version::HTTP_11)
            .finish()
            .ws(url)
            .max_frame_size(64 * 1024 * 1024)
            .connect()
            .await
            .unwrap_or_else(|err| panic!("connect {url}: {err}"));
        let client = Client::greeted(socket).await;
        assert_eq!(client.hello["type"], "hello", "{}", client.hello);
        client
    }

    /// A client on an open socket, once the server's first frame has come.
    async fn greeted(socket: Socket) -> Client {
        let mut client = Client {
            socket,
            hello: Value::Null,
            events: VecDeque::new(),
            next_id: 1,
        };
        client.hello = client.frame().await;
        client
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(ws::Message::Text(text.into()))
            .await
            .expect("send");
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.socket
            .send(ws::Message::Binary(Bytes::copy_from_slice(bytes)))
            .await
            .expect("send");
    }

    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    /// The next frame or close, whatever it is.
    pub async fn receive(&mut self) -> Received {
        loop {
            let item = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("no frame from the server in time");
            match item {
                Some(Ok(ws::Frame::Text(bytes))) => {
                    return Received::Frame(
                        serde_json::from_slice(&bytes).expect("server sent JSON"),
                    )
                }
                Some(Ok(ws::Frame::Ping(payload))) => {
                    let _ = self.socket.send(ws::Message::Pong(payload)).await;
                }
                Some(Ok(ws::Frame::Close(reason))) => {
                    return Received::Closed(reason.map(|reason| u16::from(reason.code)))
                }
                Some(Ok(_)) => {}
                // A reset (the server was killed) ends the connection like a close without a code.
                Some(Err(awc::error::WsProtocolError::Io(_))) => return Received::Closed(None),
                Some(Err(err)) => panic!("WebSocket error: {err}"),
                None => return Received::Closed(None),
            }
        }
    }

    async fn frame(&mut self) -> Value {
        match self.receive().await {
            Received::Frame(value) => value,
            Received::Closed(code) => {
                panic!("connection closed ({code:?}) while a frame was expected")
            }
        }
    }

    /// Sends a command with a fresh id and returns its reply; events that come first are kept.
    pub async fn request(&mut self, mut command: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        command["id"] = json!(id);
        self.send(command).await;
        self.reply_to(json!(id)).await
    }

    /// Waits for the reply with this id.
    pub async fn reply_to(&mut self, id: Value) -> Value {
        loop {
            let frame = self.frame().await;
            if matches!(frame["type"].as_str(), Some("ok" | "error")) {
                assert_eq!(frame["id"], id, "replies must come in order: {frame}");
                return frame;
            }
            self.events.push_back(frame);
        }
    }

    /// `data` of a successful reply.
    pub async fn ok(&mut self, command: Value) -> Value {
        let reply = self.request(command.clone()).await;
        assert_eq!(reply["type"], "ok", "{command} -> {reply}");
        reply["data"].clone()
    }

    /// The error code of a failed reply.
    pub async fn error(&mut self, command: Value) -> String {
        let reply = self.request(command.clone()).await;
        assert_eq!(reply["type"], "error", "{command} -> {reply}");
        assert!(
            reply["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{reply}"
        );
        reply["code"].as_str().expect("code").to_string()
    }

    /// The next event of this type; other events before it are dropped.
    pub async fn event(&mut self, kind: &str) -> Value {
        while let Some(event) = self.events.pop_front() {
            if event["type"] == kind {
                return event;
            }
        }
        loop {
            let frame = self.frame().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The next event, whatever its type (kept events first).
    pub async fn next_event(&mut self) -> Value {
        match self.events.pop_front() {
            Some(event) => event,
            None => self.frame().await,
        }
    }

    /// Asserts that no event other than those ignored is waiting: a `ping` round trip
    /// proves the server has written everything queued before it.
    pub async fn assert_no_event(&mut self, ignoring: &[&str]) {
        self.ok(json!({"type": "ping"})).await;
        self.events
            .retain(|event| !ignoring.contains(&event["type"].as_str().unwrap_or("")));
        assert!(
            self.events.is_empty(),
            "unexpected events: {:?}",
            self.events
        );
    }

    /// Waits for the server to close the connection; returns its close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.receive().await {
                Received::Closed(code) => return code,
                Received::Frame(frame) => self.events.push_back(frame),
            }
        }
    }

    /// Sends `{name} says {n}` with the `client_msg_id` `{name}-{n}` for each `n` of `ids`,
    /// one at a time, until the connection drops or `stop` is set; returns (client_msg_id,
    /// seq) of every acked send, and the client_msg_id of the send left unanswered, if any.
    /// An `error` answer fails the test.
    pub async fn send_until_gone(
        &mut self,
        room: &str,
        name: &str,
        ids: std::ops::Range<usize>,
        stop: &std::sync::atomic::AtomicBool,
    ) -> (Vec<(String, i64)>, Option<String>) {
        let mut acked = Vec::new();
        for n in ids {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let client_msg_id = format!("{name}-{n}");
            self.send(json!({"type":"send","id":n,"room":room,"body":format!("{name} says {n}"),"client_msg_id":client_msg_id}))
                .await;
            loop {
                match self.receive().await {
                    Received::Frame(frame) if frame["type"] == "ok" => {
                        let seq = frame["data"]["message"]["seq"].as_i64().expect("seq");
                        acked.push((client_msg_id, seq));
                        break;
                    }
                    Received::Frame(frame) if frame["type"] == "error" => {
                        panic!("send failed: {frame}")
                    }
                    Received::Frame(_) => {}
                    Received::Closed(_) => return (acked, Some(client_msg_id)),
                }
            }
        }
        (acked, None)
    }

    pub async fn close(mut self) {
        let _ = self.socket.send(ws::Message::Close(None)).await;
    }
}

/// A room id from a `{"room":Room}` reply.
pub fn room_id(data: &Value) -> String {
    data["room"]["id"].as_str().expect("room id").to_string()
}

// ---- Helpers added for the protocol-error, privacy, group and admin suites. ----

/// Why a WebSocket upgrade was refused.
#[derive(Debug)]
pub enum ConnectError {
    /// The server answered the upgrade request with this HTTP status.
    Status(u16),
    Other(String),
}

impl Client {
    /// Connects with `?token=` when `query_token` is given and with
    /// `Authorization: Bearer` when `bearer` is given; the HTTP status when refused.
    pub async fn try_connect(
        base: &str,
        query_token: Option<&str>,
        bearer: Option<&str>,
    ) -> Result<Client, ConnectError> {
        let ws_base = base.replace("http://", "ws://");
        let url = match query_token {
            Some(token) => format!("{ws_base}/ws?token={token}"),
            None => format!("{ws_base}/ws"),
        };
        let mut request = awc::Client::builder()
            .timeout(WAIT)
            .max_http_version(awc::http::Version::HTTP_11)
            .finish()
            .ws(&url)
            .max_frame_size(64 * 1024 * 1024);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        Client::open(request).await
    }

    /// Connects as a web page of `origin` would (with that `Origin` header).
    pub async fn try_connect_from(
        base: &str,
        token: &str,
        origin: &str,
    ) -> Result<Client, ConnectError> {
        let url = format!("{}/ws?token={token}", base.replace("http://", "ws://"));
        let request = awc::Client::builder()
            .timeout(WAIT)
            .max_http_version(awc::http::Version::HTTP_11)
            .finish()
            .ws(&url)
            .origin(origin);
        Client::open(request).await
    }

    /// Connects to a full WebSocket URL (`wss://…` too) with the given HTTP client.
    pub async fn try_connect_with(client: &awc::Client, url: &str) -> Result<Client, ConnectError> {
        Client::open(client.ws(url).max_frame_size(64 * 1024 * 1024)).await
    }

    async fn open(request: awc::ws::WebsocketsRequest) -> Result<Client, ConnectError> {
        match request.connect().await {
            Ok((_, socket)) => Ok(Client::greeted(socket).await),
            Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
                Err(ConnectError::Status(status.as_u16()))
            }
            Err(err) => Err(ConnectError::Other(err.to_string())),
        }
    }

    /// Sends a text frame, ignoring a failure (the server may already be closing).
    pub async fn try_send_text(&mut self, text: &str) -> bool {
        self.socket
            .send(ws::Message::Text(text.into()))
            .await
            .is_ok()
    }

    /// The next `ok` or `error`, whatever its id; events that come first are kept.
    pub async fn next_reply(&mut self) -> Value {
        loop {
            let frame = self.frame().await;
            if matches!(frame["type"].as_str(), Some("ok" | "error")) {
                return frame;
            }
            self.events.push_back(frame);
        }
    }

    /// Sends raw text and returns the reply to it, whatever its id.
    pub async fn raw(&mut self, text: &str) -> Value {
        self.send_text(text).await;
        self.next_reply().await
    }

    /// The full `error` reply to a command (the command gets a fresh id).
    pub async fn error_reply(&mut self, command: Value) -> Value {
        let reply = self.request(command.clone()).await;
        assert_eq!(reply["type"], "error", "{command} -> {reply}");
        reply
    }

    /// Events received so far and not yet taken, in order (drains them).
    pub fn take_events(&mut self) -> Vec<Value> {
        self.events.drain(..).collect()
    }

    /// Waits for the `ping` round trip, then returns every event that came before it.
    pub async fn drain_events(&mut self) -> Vec<Value> {
        self.ok(json!({"type": "ping"})).await;
        self.take_events()
    }
}

impl Server {
    /// Every message of a room through the admin API, oldest first, page by page.
    pub async fn all_messages(&self, room: &str) -> Vec<Value> {
        let mut messages: Vec<Value> = Vec::new();
        let mut before: Option<i64> = None;
        loop {
            let path = match before {
                Some(seq) => format!("/admin/rooms/{room}/messages?limit=200&before_seq={seq}"),
                None => format!("/admin/rooms/{room}/messages?limit=200"),
            };
            let (status, page) = self.admin("GET", &path, None).await;
            assert_eq!(status, 200, "{page}");
            let mut chunk = page["messages"].as_array().cloned().unwrap_or_default();
            before = chunk.first().and_then(|message| message["seq"].as_i64());
            chunk.extend(messages);
            messages = chunk;
            if page["has_more"] != true {
                return messages;
            }
        }
    }

    pub async fn stored_messages(&self, room: &str) -> Vec<Value> {
        let (status, body) = self
            .admin(
                "GET",
                &format!("/admin/rooms/{room}/messages?limit=200"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["messages"].as_array().cloned().unwrap_or_default()
    }

    /// What the store holds, as the admin API shows it: every room (with its members and
    /// messages) and every user. Comparing two snapshots shows whether anything changed.
    pub async fn snapshot(&self) -> Value {
        let mut rooms = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                // No `limit` here: the default page, following `next`.
                Some(after) => format!("/admin/rooms?after={after}"),
                None => "/admin/rooms".to_string(),
            };
            let (status, body) = self.admin("GET", &path, None).await;
            assert_eq!(status, 200, "{body}");
            for room in body["rooms"].as_array().cloned().unwrap_or_default() {
                let id = room["id"].as_str().expect("room id").to_string();
                let (status, shown) = self.admin("GET", &format!("/admin/rooms/{id}"), None).await;
                assert_eq!(status, 200, "{shown}");
                let members: Vec<Value> = shown["members"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|member| member["id"].clone())
                    .collect();
                rooms.push(json!({
                    "room": room,
                    "members": members,
                    "messages": self.stored_messages(&id).await,
                }));
            }
            match body["next"].as_str() {
                Some(next) => after = Some(next.to_string()),
                None => break,
            }
        }
        let (status, users) = self.admin("GET", "/admin/users?limit=200", None).await;
        assert_eq!(status, 200, "{users}");
        let mut seen_by = Vec::new();
        for user in users["users"].as_array().cloned().unwrap_or_default() {
            let id = user["id"].as_str().expect("user id").to_string();
            let (status, shown) = self.admin("GET", &format!("/admin/users/{id}"), None).await;
            assert_eq!(status, 200, "{shown}");
            // The rooms as this user sees them: read positions and unread counts included.
            seen_by.push(json!([id, user["name"], user["kind"], shown["rooms"]]));
        }
        json!({ "rooms": rooms, "users": seen_by })
    }
}
