//! Services a multi-node test starts for itself, so it can kill and restart them: a
//! redis-server and an unprivileged nginx, each on a random loopback port. Killed when
//! dropped. In CI a missing binary fails the test; elsewhere it is reported and skipped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `program` can be run; panics in CI when it cannot.
pub fn available(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
        || std::path::Path::new(&format!("/usr/sbin/{program}")).exists();
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{program} is required in CI and is not installed");
        }
        eprintln!("SKIPPED: {program} not installed");
    }
    found
}

fn free_port() -> u16 {
    // Below the ephemeral range, like the servers' ports: a restart finds it free again.
    loop {
        let port = 10_000 + rand::random::<u16>() % 20_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not open port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A redis-server of the test's own (no persistence).
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        let mut redis = Redis {
            child: None,
            port: free_port(),
        };
        redis.spawn();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            // Redis 7 refuses DEBUG (and so DEBUG SLEEP, a stall) unless this says otherwise.
            .args(["--enable-debug-command", "local"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        wait_for_port(self.port, "redis-server");
    }

    /// `kill -9` of this test's redis-server.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stalls this test's redis-server for `seconds` (`DEBUG SLEEP`: it answers no one
    /// meanwhile, its connections stay open) from a thread of its own; returns once the
    /// stall has begun. Join the handle for its end and `DEBUG SLEEP`'s answer.
    pub fn stall(&self, seconds: u32) -> std::thread::JoinHandle<redis::RedisResult<()>> {
        let url = self.url();
        let (started, began) = std::sync::mpsc::channel();
        let stall = std::thread::spawn(move || {
            let mut conn = redis::Client::open(url)
                .and_then(|client| client.get_connection())
                .expect("a connection to stall redis with");
            started.send(()).expect("the test waits");
            redis::cmd("DEBUG")
                .arg("SLEEP")
                .arg(seconds)
                .query(&mut conn)
        });
        began.recv().expect("the stall's thread starts");
        // The command is on its way; give Redis a moment to take it.
        std::thread::sleep(Duration::from_millis(200));
        stall
    }

    /// A new redis-server on the same port (empty: Redis keeps nothing here).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpListener::bind(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "port {} stays taken", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
        self.spawn();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Debian's nginx, unprivileged, from a generated config in a temporary folder.
pub struct Nginx {
    child: Child,
    /// The TLS server's port (plain HTTP with [`Nginx::start`]).
    pub port: u16,
    /// The plain server's port, that redirects to https.
    pub redirect_port: u16,
    dir: tempfile::TempDir,
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from("nginx"))
}

impl Nginx {
    /// Load-balances WebSockets and HTTP over `upstreams` (host:port each) with the
    /// shipped `deploy/nginx.conf`, served as plain HTTP on a random loopback port.
    pub fn start(upstreams: &[String]) -> Nginx {
        Nginx::run(upstreams, None)
    }

    /// The same, with TLS as shipped: the certificate `ca` made (`https://`, `wss://`).
    pub fn start_tls(upstreams: &[String], ca: &super::tls::TestCa) -> Nginx {
        Nginx::run(upstreams, Some(ca))
    }

    fn run(upstreams: &[String], tls: Option<&super::tls::TestCa>) -> Nginx {
        let dir = tempfile::tempdir().expect("nginx dir");
        let port = free_port();
        let redirect_port = free_port();
        // nginx loads the certificate files named even where TLS is off.
        let made;
        let ca = match tls {
            Some(ca) => ca,
            None => {
                made = super::tls::TestCa::new();
                &made
            }
        };
        let config = render_nginx_conf(
            dir.path(),
            port,
            redirect_port,
            upstreams,
            ca,
            tls.is_some(),
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).expect("write nginx.conf");
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start nginx");
        wait_for_port(port, "nginx");
        Nginx {
            child,
            port,
            redirect_port,
            dir,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What nginx logged (warnings and worse).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

/// deploy/nginx.conf with its host-specific lines replaced for a test; each replaced line
/// must be there, so a change to the shipped file that the test no longer covers fails.
fn render_nginx_conf(
    prefix: &std::path::Path,
    port: u16,
    redirect_port: u16,
    upstreams: &[String],
    ca: &super::tls::TestCa,
    tls: bool,
) -> String {
    let prefix = prefix.display().to_string();
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
            .expect("deploy/nginx.conf");
    let servers: String = upstreams
        .iter()
        .map(|addr| format!("        server {addr} max_fails=1 fail_timeout=2s;\n"))
        .collect();
    let temp_paths: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|kind| format!("    {kind}_temp_path {prefix}/{kind};\n"))
        .collect();
    let ssl = if tls { " ssl" } else { "" };
    let replacements = [
        // Run as the test's user; workers need no other.
        ("user www-data;\n", String::new()),
        ("pid /run/nginx.pid;", format!("pid {prefix}/nginx.pid;")),
        ("/var/log/nginx/", format!("{prefix}/")),
        ("http {\n", format!("http {{\n{temp_paths}")),
        (
            "        server 127.0.0.1:8080 max_fails=1 fail_timeout=2s;\n",
            servers,
        ),
        ("        listen [::]:80;\n", String::new()),
        ("        listen [::]:443 ssl reuseport;\n", String::new()),
        ("listen 80;", format!("listen 127.0.0.1:{redirect_port};")),
        (
            "listen 443 ssl reuseport;",
            format!("listen 127.0.0.1:{port}{ssl} reuseport;"),
        ),
        (
            "/etc/letsencrypt/live/chat.example.com/fullchain.pem",
            ca.chain_pem.display().to_string(),
        ),
        (
            "/etc/letsencrypt/live/chat.example.com/privkey.pem",
            ca.key_pem.display().to_string(),
        ),
    ];
    let mut config = template;
    for (from, to) in replacements {
        assert!(config.contains(from), "deploy/nginx.conf has no {from:?}");
        config = config.replace(from, &to);
    }
    config
}

impl Drop for Nginx {
    /// SIGTERM, not SIGKILL: nginx's master then stops its workers (a killed master would
    /// leave them running).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A PostgreSQL server of the test's own (Debian's binaries, a fresh data directory in a
/// temporary folder, trust auth, a random loopback port), so that a test can stop and start
/// it without touching the machine's. Run as `postgres` when the test runs as root (initdb
/// refuses root). Stopped (immediately) and removed when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
    as_postgres: bool,
}

/// Debian's PostgreSQL programs (`initdb`, `pg_ctl`), newest version first.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

impl Postgres {
    /// None (after saying why) when Debian's PostgreSQL programs are missing outside CI.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = postgres_bin() else {
            if std::env::var_os("CI").is_some() {
                panic!("PostgreSQL's initdb is required in CI and is not installed");
            }
            eprintln!("SKIPPED: no /usr/lib/postgresql/*/bin/initdb");
            return None;
        };
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
        let dir = tempfile::tempdir().expect("a folder for PostgreSQL");
        if as_postgres {
            let owned = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(owned.success(), "chown the data folder to postgres");
        }
        let postgres = Postgres {
            dir,
            port: free_port(),
            as_postgres,
        };
        let data = postgres.data();
        let initdb = postgres
            .command(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "-D"])
            .arg(&data)
            .output()
            .expect("run initdb");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        postgres.pg_ctl("start");
        Some(postgres)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &std::path::Path) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// `pg_ctl start|stop` (stop: fast shutdown, as an operator's restart does), waiting
    /// until it is done.
    fn pg_ctl(&self, action: &str) {
        let bin = postgres_bin().expect("pg_ctl");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {}",
            self.port,
            self.dir.path().display()
        );
        let mut command = self.command(&bin.join("pg_ctl"));
        command.arg("-D").arg(self.data()).args(["-w", "-t", "30"]);
        match action {
            "start" => {
                command
                    .args(["-o", &options, "-l"])
                    .arg(self.dir.path().join("log"));
            }
            _ => {
                command.args(["-m", "fast"]);
            }
        }
        let status = command
            .arg(action)
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl");
        assert!(status.success(), "pg_ctl {action} failed");
        if action == "start" {
            wait_for_port(self.port, "postgres");
        }
    }

    /// Stops the server (fast shutdown: connections are cut, nothing is lost).
    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    pub fn start_again(&self) {
        self.pg_ctl("start");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(bin) = postgres_bin() {
            let _ = self
                .command(&bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
