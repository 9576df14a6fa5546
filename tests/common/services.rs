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
    pub port: u16,
    _dir: tempfile::TempDir,
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
    /// shipped `deploy/nginx.conf`, its upstream list and listen port filled in.
    pub fn start(upstreams: &[String]) -> Nginx {
        let dir = tempfile::tempdir().expect("nginx dir");
        let port = free_port();
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
                .expect("deploy/nginx.conf");
        let servers: String = upstreams
            .iter()
            .map(|addr| format!("        server {addr} max_fails=1 fail_timeout=2s;\n"))
            .collect();
        let config = template
            .replace("    # {{servers}}\n", &servers)
            .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"))
            .replace("{{prefix}}", &dir.path().display().to_string());
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
            _dir: dir,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
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
