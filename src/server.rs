//! Starts the server: binds the listeners first (a taken port changes nothing), opens the
//! store (before actix starts: migrations block), starts the hub, serves HTTP, and shuts
//! down in order on SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::{web, App, HttpServer};

use crate::actors::hub::{Hub, InstallBot};
use crate::actors::presence::Presence;
use crate::actors::session::rate_limit::RateLimit;
use crate::bots::{loader, Definition};
use crate::clock::SystemClock;
use crate::config::{BindAddr, ServerArgs};
use crate::db::{DatabaseUrl, Store, StoreConfig};
use crate::files::detect::ImageBounds;
use crate::files::sweep::Sweeper;
use crate::http::files::Uploads;
use crate::http::jwt::JwtVerifier;
use crate::http::{self, AppState};
use crate::settings::{FileSettings, Settings};
use crate::shutdown::Shutdown;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("bad --database-url: {0}")]
    DatabaseUrl(String),
    #[error("cannot open the database: {0}")]
    Store(#[from] crate::db::StoreError),
    #[error("the database has no system user; was it migrated by another program?")]
    NoSystemUser,
    #[error("bad bot definition: {0}")]
    Bot(String),
    #[error("bad setting: {0}")]
    Setting(String),
    #[error("cannot listen on {addr}: {err}")]
    Listen { addr: String, err: std::io::Error },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Binds every address `--bind` names, before anything else happens: a taken port fails
/// the start with nothing opened, generated or logged.
fn listen(bind: &BindAddr) -> Result<Vec<std::net::TcpListener>, StartError> {
    bind.addrs
        .iter()
        .map(|addr| {
            let failed = |err| StartError::Listen {
                addr: format!("{} ({addr})", bind.text),
                err,
            };
            let listener = std::net::TcpListener::bind(addr).map_err(failed)?;
            listener.set_nonblocking(true).map_err(failed)?;
            Ok(listener)
        })
        .collect()
}

fn settings(args: &ServerArgs) -> Result<Settings, StartError> {
    Ok(Settings {
        heartbeat: Duration::from_secs(args.heartbeat_secs),
        rate_limit: RateLimit {
            per_second: args.rate,
            burst: args.burst,
            ..RateLimit::default()
        },
        outbound_queue: args.outbound_queue as usize,
        files: FileSettings {
            max_bytes: usize::try_from(args.max_file_bytes)
                .map_err(|_| StartError::Setting("--max-file-bytes is too large".into()))?,
            image: ImageBounds {
                max_pixels: args.max_image_pixels,
                ..ImageBounds::default()
            },
            uploads_per_minute: args.uploads_per_minute,
            upload_burst: args.upload_burst,
            sweep_every: Duration::from_secs(args.file_sweep_secs),
            ..FileSettings::default()
        },
        ..Settings::default()
    })
}

fn admin_token(args: &ServerArgs) -> String {
    match &args.admin_token {
        Some(token) if !token.is_empty() => token.clone(),
        _ => {
            let mut bytes = [0u8; 24];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            let token = format!("pva_{}", hex::encode(bytes));
            log::warn!("no --admin-token given; this run's admin token is {token}");
            token
        }
    }
}

/// Runs the server until it is told to stop.
pub fn run(args: ServerArgs) -> Result<(), StartError> {
    let listeners = listen(&args.bind)?;
    let settings = Arc::new(settings(&args)?);
    let url = DatabaseUrl::parse(&args.database_url).map_err(StartError::DatabaseUrl)?;
    let store = Store::open(&url, StoreConfig::default())?;
    log::info!(
        "store: {} ({})",
        store.backend_name(),
        args.database_url_for_log()
    );
    let bots = loader::initial(args.bots.as_deref()).map_err(StartError::Bot)?;
    let jwt = JwtVerifier::from_settings(&args.jwt.settings()).map_err(StartError::Setting)?;
    let admin_token = admin_token(&args);
    let workers = args.workers.map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        usize::from,
    );
    actix_web::rt::System::new().block_on(async move {
        let system_user = store
            .user_by_handle("system")
            .await?
            .ok_or(StartError::NoSystemUser)?;
        let presence = Presence::default();
        let hub = Hub::new(store.clone(), presence.clone(), settings.clone(), workers).start();
        let started = install_bots(&store, &hub, bots)
            .await
            .map_err(StartError::Bot)?;
        log::info!("{started} bots running");
        let sweeper = Sweeper::new(
            store.clone(),
            Arc::new(SystemClock),
            settings.files.keep_unreferenced,
        );
        actix_web::rt::spawn(sweeper.run(settings.files.sweep_every));
        let state = web::Data::new(AppState {
            uploads: Uploads::new(&settings.files),
            store: store.clone(),
            hub: hub.clone(),
            presence,
            settings,
            admin_token,
            system_user,
            jwt,
        });
        let mut server =
            HttpServer::new(move || App::new().app_data(state.clone()).configure(http::routes))
                .workers(workers)
                .disable_signals()
                .shutdown_timeout(10);
        for listener in listeners {
            server = server.listen(listener)?;
        }
        for addr in server.addrs() {
            // The first line on stdout, for scripts and tests that start the server on port 0.
            println!("palaver listening on http://{addr}");
            log::info!("listening on http://{addr}");
        }
        let server = server.run();
        let shutdown = Shutdown {
            hub,
            server: server.handle(),
            store: store.clone(),
        };
        actix_web::rt::spawn(shutdown.on_signal());
        server.await?;
        log::info!("stopped");
        Ok(())
    })
}

/// Stores `definitions`, then starts every stored bot (including those added earlier
/// through the admin API); answers how many run.
async fn install_bots(
    store: &Store,
    hub: &actix::Addr<Hub>,
    definitions: Vec<Definition>,
) -> Result<usize, String> {
    for definition in &definitions {
        let document =
            serde_json::to_string(&definition.document).map_err(|err| err.to_string())?;
        store
            .put_bot(definition.id(), &definition.document.name, document)
            .await
            .map_err(|err| format!("bot {}: {err}", definition.id()))?;
    }
    let stored = store.bots().await.map_err(|err| err.to_string())?;
    let mut started = 0;
    for (document, user) in stored {
        match loader::parse(&document) {
            Ok(definition) => {
                hub.do_send(InstallBot {
                    definition: Arc::new(definition),
                    user,
                });
                started += 1;
            }
            Err(err) => log::warn!(
                "stored bot {:?} is not valid and stays off: {err}",
                user.handle
            ),
        }
    }
    Ok(started)
}

impl ServerArgs {
    /// The database URL without a password, fit for a log line.
    fn database_url_for_log(&self) -> String {
        match self.database_url.split_once('@') {
            Some((credentials, rest))
                if credentials.contains(':') && credentials.contains("//") =>
            {
                let (scheme, user) = credentials.split_once("//").unwrap_or(("", credentials));
                let user = user.split(':').next().unwrap_or("");
                format!("{scheme}//{user}:***@{rest}")
            }
            _ => self.database_url.clone(),
        }
    }
}
