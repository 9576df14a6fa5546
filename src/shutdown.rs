//! Shutdown in order: on SIGTERM or Ctrl-C the server tells the hub (which closes every
//! connection with 1001 and restarts no child from then on), stops accepting, lets the
//! commits in flight finish, and exits 0.

use actix::Addr;
use actix_web::dev::ServerHandle;

use crate::actors::hub::{self, Hub};
use crate::db::Store;
use crate::protocol::CloseCode;

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
        log::info!("shutting down: closing connections, finishing commits");
        let closing = self.hub.send(hub::Shutdown {
            code: CloseCode::GoingAway,
            reason: "server shutting down",
        });
        match closing.await {
            Ok(closed) => log::info!("closed {closed} connections"),
            Err(err) => log::error!("the hub did not close the connections: {err}"),
        }
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
