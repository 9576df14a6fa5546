//! A push service on loopback for the notification scenarios: it takes every Web Push
//! request the server sends (answering 201, as a push service does), and keeps when each
//! arrived. The devices registered for it carry a real P-256 key (RFC 8291's example), so
//! the server's encryption runs exactly as in production; the stand-in never decrypts.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{Context, Result};

/// The subscription's public key (RFC 8291 appendix A), base64url.
pub const P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
/// The subscription's authentication secret (RFC 8291 appendix A), base64url.
pub const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

/// Arrivals kept, at most: a run that sends more is told so by `dropped`.
const MAX_KEPT: usize = 1_000_000;

#[derive(Default)]
struct Arrivals {
    times: Vec<Instant>,
    dropped: u64,
}

pub struct PushSink {
    /// `http://127.0.0.1:PORT/push`: devices register `{url}/{n}`.
    pub url: String,
    arrivals: Arc<Mutex<Arrivals>>,
    handle: actix_web::dev::ServerHandle,
}

impl PushSink {
    /// Serves on a free loopback port, on a thread of its own.
    pub fn start() -> Result<PushSink> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind the push sink")?;
        let port = listener
            .local_addr()
            .context("the push sink's address")?
            .port();
        let arrivals = Arc::new(Mutex::new(Arrivals::default()));
        let shared = arrivals.clone();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("push-sink".into())
            .spawn(move || {
                let system = actix_web::rt::System::new();
                let started = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(shared.clone()))
                        .default_service(web::to(take))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .map(|server| server.run());
                match started {
                    Ok(server) => {
                        let _ = sender.send(Ok(server.handle()));
                        let _ = system.block_on(server);
                    }
                    Err(err) => {
                        let _ = sender.send(Err(err));
                    }
                }
            })
            .context("start the push sink's thread")?;
        let handle = receiver
            .recv()
            .context("the push sink's thread ended")?
            .context("listen")?;
        Ok(PushSink {
            url: format!("http://127.0.0.1:{port}/push"),
            arrivals,
            handle,
        })
    }

    /// Requests received so far.
    pub fn count(&self) -> u64 {
        let arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        arrivals.times.len() as u64 + arrivals.dropped
    }

    /// When each request arrived, in order (at most the first million).
    pub fn times(&self) -> Vec<Instant> {
        let arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        arrivals.times.clone()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn take(arrivals: web::Data<Arc<Mutex<Arrivals>>>, _body: web::Bytes) -> HttpResponse {
    let now = Instant::now();
    let mut arrivals = arrivals.lock().unwrap_or_else(PoisonError::into_inner);
    if arrivals.times.len() < MAX_KEPT {
        arrivals.times.push(now);
    } else {
        arrivals.dropped += 1;
    }
    HttpResponse::Created().finish()
}
