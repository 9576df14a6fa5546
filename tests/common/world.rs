//! A test's people: a fresh server on a fresh database, and users made through the admin API
//! in the order named ([`AMY`], [`BOB`] and [`CAROL`] are the first three). In a cluster,
//! consecutive connections go to alternate nodes.

use super::{Backend, Client, Database, Server};

pub const AMY: usize = 0;
pub const BOB: usize = 1;
pub const CAROL: usize = 2;

pub struct World {
    pub server: Server,
    /// Each user's wire id (`u_N`), in the order made.
    pub ids: Vec<String>,
    /// Each user's token, in the order made.
    pub tokens: Vec<String>,
    _db: Database,
}

impl World {
    pub async fn new(backend: Backend, names: &[&str]) -> World {
        let db = Database::new(backend).await;
        let server = Server::start(&db).await;
        let mut ids = Vec::new();
        let mut tokens = Vec::new();
        for name in names {
            let (id, token) = server.user(name).await;
            ids.push(id);
            tokens.push(token);
        }
        World {
            server,
            ids,
            tokens,
            _db: db,
        }
    }

    /// amy, bob and carol.
    pub async fn three(backend: Backend) -> World {
        World::new(backend, &["amy", "bob", "carol"]).await
    }

    pub async fn connect(&self, user: usize) -> Client {
        self.server.connect(&self.tokens[user]).await
    }
}
