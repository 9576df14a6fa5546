//! Shutdown as a type of its own: on SIGTERM or Ctrl-C the server stops accepting, closes
//! every connection with 1001, lets the commits in flight finish, and exits 0. Actors that
//! are dropped while it runs know they were not crashing.

use std::sync::atomic::{AtomicBool, Ordering};

use actix::Addr;
use actix_web::dev::ServerHandle;

use crate::actors::hub::{CloseAll, Hub};
use crate::actors::outbox::close;
use crate::db::Store;

static IN_PROGRESS: AtomicBool = AtomicBool::new(false);

/// True once shutdown has begun: an actor dropped now is not restarted.
pub fn in_progress() -> bool {
    IN_PROGRESS.load(Ordering::Acquire)
}

pub struct Shutdown {
    pub hub: Addr<Hub>,
    pub server: ServerHandle,
    pub store: Store,
}

impl Shutdown {
    /// Waits for the signal, then shuts down in order.
    pub async fn on_signal(self) {
        signal().await;
        self.run().await;
    }

    pub async fn run(self) {
        IN_PROGRESS.store(true, Ordering::Release);
        log::info!("shutting down: closing connections, finishing commits");
        let closed = self
            .hub
            .send(CloseAll {
                code: close::GOING_AWAY,
                reason: "server shutting down",
            })
            .await
            .unwrap_or(0);
        log::info!("closed {closed} connections");
        self.server.stop(true).await;
        match self.store.flush().await {
            Ok(()) => log::info!("every commit in flight is done"),
            Err(err) => log::warn!("commits in flight may be lost: {err}"),
        }
    }
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
