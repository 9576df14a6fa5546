//! A cluster for a multi-node test: a fresh PostgreSQL database, a redis-server of the
//! test's own, `n` Palaver nodes on random ports in multi-node mode, and nginx in front
//! with the shipped `deploy/nginx.conf`. Everything is killed when dropped.

use serde_json::Value;

use super::services::{self, Nginx, Redis};
use super::{Backend, Client, Database, Server, ADMIN};

pub struct Cluster {
    pub nodes: Vec<Server>,
    pub nginx: Nginx,
    pub redis: Redis,
    pub db: Database,
}

impl Cluster {
    /// None (after saying why) when PostgreSQL, redis-server or nginx is missing outside CI.
    pub async fn start(count: usize, extra: &[&str]) -> Option<Cluster> {
        if !super::postgres_available().await
            || !services::available("redis-server")
            || !services::available("nginx")
        {
            return None;
        }
        let db = Database::new(Backend::Postgres).await;
        let redis = Redis::start();
        let url = redis.url();
        let mut nodes = Vec::new();
        for n in 0..count {
            let node_id = format!("n{}", n + 1);
            let mut args = vec!["--redis-url", &url, "--node-id", &node_id];
            args.extend_from_slice(extra);
            nodes.push(Server::start_with(&db, &args).await);
        }
        let upstreams: Vec<String> = nodes
            .iter()
            .map(|node| node.base.trim_start_matches("http://").to_string())
            .collect();
        let nginx = Nginx::start(&upstreams);
        Some(Cluster {
            nodes,
            nginx,
            redis,
            db,
        })
    }

    /// A WebSocket through nginx (to whichever node it picks).
    pub async fn connect(&self, token: &str) -> Client {
        Client::connect(&self.ws_url(token)).await
    }

    /// An admin call through nginx (to whichever node it picks: round-robin).
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        super::call(&self.nginx.base(), method, path, body, Some(ADMIN)).await
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!("ws://127.0.0.1:{}/ws?token={token}", self.nginx.port)
    }
}
