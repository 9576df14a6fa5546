//! Setup through the admin HTTP API, before the clock starts: users with their tokens,
//! rooms with their members, and each room's last `seq` at the end. Plain HTTP on
//! loopback, spread over a few threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// Threads issuing setup requests at once.
const SETUP_THREADS: usize = 4;

/// Attempts of a request answered 503 before giving up.
const RETRIES: u64 = 20;

/// Requests retried after a 503, over the whole run.
pub static RETRIED: AtomicU64 = AtomicU64::new(0);

enum Failure {
    /// HTTP 503: the store could not commit and nothing was stored.
    Unavailable(String),
    Other(anyhow::Error),
}

/// A user the benchmark connects as.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub token: String,
}

#[derive(Clone)]
pub struct Admin {
    base: String,
    bearer: String,
    agent: ureq::Agent,
}

impl Admin {
    pub fn new(server: &str, token: &str) -> Admin {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        Admin {
            base: format!("http://{server}"),
            bearer: format!("Bearer {token}"),
            agent,
        }
    }

    /// One request; a 503 (`unavailable`: nothing was stored) is retried a few times.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let mut attempt = 0;
        loop {
            match self.call_once(method, path, body.clone()) {
                Err(Failure::Unavailable(text)) if attempt < RETRIES => {
                    attempt += 1;
                    if RETRIED.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("{method} {path}: 503 {text}; retrying");
                    }
                    std::thread::sleep(Duration::from_millis(10 * attempt));
                }
                Err(Failure::Unavailable(text)) => bail!("{method} {path}: HTTP 503: {text}"),
                Err(Failure::Other(err)) => return Err(err),
                Ok(value) => return Ok(value),
            }
        }
    }

    fn call_once(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let request = self
            .agent
            .request(method, &url)
            .set("Authorization", &self.bearer);
        let response = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        match response {
            Ok(response) => response
                .into_json()
                .with_context(|| format!("{method} {path}: unreadable answer"))
                .map_err(Failure::Other),
            Err(ureq::Error::Status(503, response)) => Err(Failure::Unavailable(
                response.into_string().unwrap_or_default(),
            )),
            Err(ureq::Error::Status(status, response)) => {
                let text = response.into_string().unwrap_or_default();
                Err(Failure::Other(anyhow!(
                    "{method} {path}: HTTP {status}: {text}"
                )))
            }
            Err(err) => Err(Failure::Other(anyhow!("{method} {path}: {err}"))),
        }
    }

    /// The server's `/metrics` page (Prometheus text).
    pub fn metrics_text(&self) -> Result<String> {
        let url = format!("{}/metrics", self.base);
        let response = self
            .agent
            .get(&url)
            .set("Authorization", &self.bearer)
            .call()
            .map_err(|err| anyhow!("GET /metrics: {err}"))?;
        response
            .into_string()
            .context("GET /metrics: unreadable answer")
    }

    /// Waits until `/healthz` answers, at most `wait`.
    pub fn wait_healthy(&self, wait: Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            match self.call("GET", "/healthz", None) {
                Ok(_) => return Ok(()),
                Err(err) if std::time::Instant::now() >= deadline => {
                    return Err(err.context("the server did not become healthy"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn create_user(&self, name: &str) -> Result<User> {
        let answer = self.call("POST", "/admin/users", Some(json!({ "name": name })))?;
        let id = answer["user"]["id"].as_str();
        let token = answer["token"].as_str();
        match (id, token) {
            (Some(id), Some(token)) => Ok(User {
                id: id.to_string(),
                token: token.to_string(),
            }),
            _ => bail!("POST /admin/users: no user id or token in {answer}"),
        }
    }

    /// Creates `count` users named `{prefix}{i}`.
    pub fn create_users(&self, prefix: &str, count: usize) -> Result<Vec<User>> {
        let names: Vec<String> = (0..count).map(|i| format!("{prefix}{i}")).collect();
        parallel(&names, |name| self.create_user(name))
    }

    /// Creates one room per member list; `kind` is `group` or `direct`. Returns room numbers.
    pub fn create_rooms(&self, kind: &str, memberships: &[Vec<String>]) -> Result<Vec<u64>> {
        let numbered: Vec<(usize, &Vec<String>)> = memberships.iter().enumerate().collect();
        parallel(&numbered, |(index, members)| {
            let body =
                json!({ "kind": kind, "name": format!("bench {index}"), "members": members });
            let answer = self.call("POST", "/admin/rooms", Some(body))?;
            let id = answer["room"]["id"]
                .as_str()
                .ok_or_else(|| anyhow!("POST /admin/rooms: no room id in {answer}"))?;
            crate::wire::room_number(id)
        })
    }

    /// Adds users to a room (`r_N`), one request each.
    pub fn add_members(&self, room: u64, users: &[String]) -> Result<Vec<()>> {
        parallel(users, |user| {
            self.call(
                "POST",
                &format!("/admin/rooms/r_{room}/members"),
                Some(json!({ "user": user })),
            )
            .map(|_| ())
        })
    }

    /// Registers a Web Push device for each user, at `{endpoint}/{index}`, with the keys of
    /// [`crate::push_sink`] (the stand-in never decrypts; the server encrypts for real).
    pub fn register_devices(&self, users: &[User], endpoint: &str) -> Result<Vec<()>> {
        let numbered: Vec<(usize, &User)> = users.iter().enumerate().collect();
        parallel(&numbered, |(index, user)| {
            let url = format!("{}/devices", self.base);
            let body = json!({
                "kind": "webpush",
                "endpoint": format!("{endpoint}/{index}"),
                "keys": { "p256dh": crate::push_sink::P256DH, "auth": crate::push_sink::AUTH },
            });
            self.agent
                .post(&url)
                .set("Authorization", &format!("Bearer {}", user.token))
                .send_json(body)
                .map(|_| ())
                .map_err(|err| anyhow!("POST /devices for {}: {err}", user.id))
        })
    }

    /// How many connections the user `id` (`u_N`) holds on the server now.
    pub fn user_connections(&self, id: &str) -> Result<u64> {
        let answer = self.call("GET", &format!("/admin/users/{id}"), None)?;
        answer["connections"]
            .as_u64()
            .ok_or_else(|| anyhow!("GET /admin/users/{id}: no connections in {answer}"))
    }

    /// The last committed `seq` of each room.
    pub fn last_seqs(&self, rooms: &[u64]) -> Result<Vec<u64>> {
        parallel(rooms, |room| {
            let answer = self.call("GET", &format!("/admin/rooms/r_{room}"), None)?;
            answer["room"]["last_seq"]
                .as_u64()
                .ok_or_else(|| anyhow!("GET /admin/rooms/r_{room}: no last_seq in {answer}"))
        })
    }
}

/// Maps `items` through `f` on a few threads, keeping their order.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> Result<R> + Sync) -> Result<Vec<R>> {
    let chunk = items.len().div_ceil(SETUP_THREADS).max(1);
    let results: Vec<Result<Vec<R>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Result<Vec<R>>>()))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(anyhow!("a setup thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(items.len());
    for part in results {
        all.extend(part?);
    }
    Ok(all)
}
