//! Starts the server: binds the listeners first (a taken port changes nothing), opens the
//! store (before actix starts: migrations block), starts the hub, serves HTTP, and shuts
//! down in order on SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::{web, App, HttpServer};

use crate::actors::hub::{Hub, InstallBot};
use crate::actors::presence::Presence;
use crate::bots::{loader, Definition};
use crate::cli::args::{BindAddr, ServerArgs};
use crate::clock::SystemClock;
use crate::cluster::{Bus, BusOptions};
use crate::db::conversation::SearchIndexer;
use crate::db::retention::{Retention, RetentionSettings};
use crate::db::{DatabaseUrl, Store, StoreConfig};
use crate::files::detect::ImageBounds;
use crate::files::sweep::Sweeper;
use crate::http::devices::PushOffer;
use crate::http::files::Uploads;
use crate::http::jwt::JwtVerifier;
use crate::http::{self, AppState};
use crate::limits::connections::{ConnectionCaps, ConnectionLimits};
use crate::limits::open_files;
use crate::outbound::{Outbound, OutboundError};
use crate::push;
use crate::push::sender::Providers;
use crate::push::vapid::Vapid;
use crate::push::webpush::WebPush;
use crate::settings::{FileSettings, RateLimit, Settings};
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
    #[error("{0}")]
    Outbound(#[from] OutboundError),
    #[error("--redis-url (multi-node mode) needs a postgres:// --database-url: SQLite serves one node only")]
    RedisNeedsPostgres,
    #[error("{0}")]
    Bus(#[from] crate::cluster::BusError),
    #[error("cannot listen on {addr}: {err}")]
    Listen { addr: String, err: std::io::Error },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Vapid(#[from] crate::push::vapid::VapidError),
    #[error("cannot start the notification sender's thread: {0}")]
    PushThread(std::io::Error),
}

impl StartError {
    /// The process's exit code: 2 for a bad flag value (as for the flags clap refuses), 1
    /// for a failure to start.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::DatabaseUrl(_)
            | StartError::Setting(_)
            | StartError::RedisNeedsPostgres
            | StartError::Outbound(_) => 2,
            _ => 1,
        }
    }
}

/// The flags' values once checked, before anything is bound, opened or logged.
struct Checked {
    settings: Settings,
    url: DatabaseUrl,
    node: String,
    jwt: Option<JwtVerifier>,
    /// FCM and APNs, when their flags name them.
    providers: Providers,
    retention: Option<RetentionSettings>,
}

fn check(args: &ServerArgs) -> Result<Checked, StartError> {
    let settings = settings(args)?;
    let url = DatabaseUrl::parse(&args.database_url).map_err(StartError::DatabaseUrl)?;
    let node = node_id(args)?;
    let redis = args.redis_url.as_deref().is_some_and(|url| !url.is_empty());
    if redis && !matches!(url, DatabaseUrl::Postgres(_)) {
        return Err(StartError::RedisNeedsPostgres);
    }
    // Built once: every outbound call (JWKS, webhooks) trusts the same roots.
    let outbound = Outbound::new(args.extra_ca.as_deref())?;
    let jwt = JwtVerifier::from_settings(&args.jwt.settings(outbound.clone()))
        .map_err(StartError::Setting)?;
    let (fcm, apns) = args.push.providers().map_err(StartError::Setting)?;
    let retention = RetentionSettings::new(args.retention_days, args.retention_sweep_secs)
        .map_err(StartError::Setting)?;
    Ok(Checked {
        settings: Settings {
            outbound,
            ..settings
        },
        url,
        node,
        jwt,
        providers: Providers {
            webpush: None,
            fcm,
            apns,
        },
        retention,
    })
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
        authz_sweep: Duration::from_millis(args.authz_sweep_ms),
        files: FileSettings {
            max_bytes: usize::try_from(args.max_file_bytes)
                .map_err(|_| StartError::Setting("--max-file-bytes is too large".into()))?,
            image: ImageBounds {
                max_pixels: args.max_image_pixels,
                ..ImageBounds::default()
            },
            uploads_per_minute: args.uploads_per_minute,
            upload_burst: args.upload_burst,
            uploads_at_once: args.uploads_at_once as usize,
            upload_idle: Duration::from_secs(args.upload_idle_secs),
            upload_deadline: Duration::from_secs(args.upload_secs),
            sweep_every: Duration::from_secs(args.file_sweep_secs),
            max_unattached_files: args.max_unattached_uploads,
            max_unattached_bytes: args.max_unattached_upload_bytes,
            max_bytes_per_day: args.max_upload_bytes_per_day,
            ..FileSettings::default()
        },
        groups_per_hour: args.groups_per_hour,
        directory: args.directory,
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

/// This node's name: `--node-id`, or a generated one.
fn node_id(args: &ServerArgs) -> Result<String, StartError> {
    match &args.node_id {
        Some(id) => {
            let fits = !id.is_empty()
                && id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if fits {
                Ok(id.clone())
            } else {
                Err(StartError::Setting(
                    "--node-id takes 1 to 64 letters, digits, '-' or '_'".into(),
                ))
            }
        }
        None => Ok(format!("node-{:08x}", rand::random::<u32>())),
    }
}

/// Multi-node mode's bus, when `--redis-url` is given (with PostgreSQL: [`check`]).
fn bus(args: &ServerArgs, node: &str) -> Result<Option<Bus>, StartError> {
    let Some(redis_url) = args.redis_url.as_deref().filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    let options = BusOptions {
        ping_every: Duration::from_millis(args.redis_ping_ms),
    };
    Ok(Some(Bus::start_with(redis_url, node, options)?))
}

/// The connection caps: the flags, with the node's total from the open-files limit unless
/// `--max-connections` names one.
fn connection_caps(args: &ServerArgs, open_files: u64) -> ConnectionCaps {
    let fits = open_files::websocket_cap(open_files);
    let total = match args.max_connections {
        Some(total) => {
            let total = total as usize;
            if total > fits {
                log::warn!(
                    "--max-connections {total} is above what {open_files} open files leave for \
                     WebSockets ({fits}): raise the limit (ulimit -n, LimitNOFILE=) or lower it"
                );
            }
            total
        }
        None => fits,
    };
    ConnectionCaps {
        per_user: args.max_connections_per_user as usize,
        per_address: args.max_connections_per_address as usize,
        total,
    }
}

/// Runs the server until it is told to stop.
pub fn run(args: ServerArgs) -> Result<(), StartError> {
    let open_files = open_files::raise();
    let Checked {
        settings,
        url,
        node,
        jwt,
        providers,
        retention,
    } = check(&args)?;
    let settings = Arc::new(settings);
    let listeners = listen(&args.bind)?;
    settings.outbound.log_roots();
    crate::metrics::METRICS
        .node
        .with_label_values(&[&node])
        .set(1);
    let bus = bus(&args, &node)?;
    let store = Store::open(
        &url,
        StoreConfig {
            sqlite_sync: args.sqlite_synchronous,
            max_groups_per_user: args.max_groups_per_user,
            ..StoreConfig::default()
        },
    )?;
    log::info!(
        "node {node}: store {} ({}), {}",
        store.backend_name(),
        args.database_url_for_log(),
        if bus.is_some() {
            "multi-node mode (Redis)"
        } else {
            "single node"
        }
    );
    let bots = loader::initial(args.bots.as_deref()).map_err(StartError::Bot)?;
    let admin_token = admin_token(&args);
    let cores = || std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = args.workers.map_or_else(cores, usize::from);
    let room_threads = args.room_threads.map_or_else(cores, usize::from);
    log::info!("HTTP workers: {workers}, room threads: {room_threads}");
    let caps = connection_caps(&args, open_files);
    // Past this many TCP connections a worker stops accepting until one closes, so that the
    // process never runs out of descriptors (the caps above refuse WebSockets sooner).
    let accept_per_worker = (open_files::accept_cap(open_files) / workers).max(1);
    log::info!(
        "open files: {open_files}; WebSockets: at most {} (per user {}, per address {}); \
         connections accepted: at most {accept_per_worker} per worker",
        caps.total,
        caps.per_user,
        caps.per_address
    );
    actix_web::rt::System::new().block_on(async move {
        let system_user = store
            .user_by_handle("system")
            .await?
            .ok_or(StartError::NoSystemUser)?;
        store.load_content_rules().await?;
        if bus.is_some() {
            // A change of the content rules through another node arrives within a sweep.
            actix_web::rt::spawn(store.clone().follow_content_rules(settings.authz_sweep));
        }
        let push = args.push.settings();
        let vapid = Vapid::load(&store, args.push.vapid_key.as_deref()).await?;
        let providers = Providers {
            webpush: Some(WebPush::new(
                vapid.signer.clone(),
                push.vapid_subject.clone(),
            )),
            ..providers
        };
        let (fcm, apns) = (providers.fcm.is_some(), providers.apns.is_some());
        // On its own thread, at a lower priority; outbound HTTP of the providers through
        // the shared TLS setup (--extra-ca).
        push::thread::start(
            store.clone(),
            push.clone(),
            providers,
            settings.outbound.clone(),
        )
        .map_err(StartError::PushThread)?;
        let presence = Presence::default();
        let mut hub = Hub::new(
            store.clone(),
            presence.clone(),
            settings.clone(),
            room_threads,
        );
        if let Some(bus) = bus.clone() {
            hub = hub.with_bus(bus);
        }
        let hub = hub.start();
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
        if let Some(retention) = retention {
            actix_web::rt::spawn(Retention::new(store.clone(), retention).run());
        }
        if store.is_sqlite() {
            actix_web::rt::spawn(SearchIndexer::new(store.clone()).run());
        }
        let state = web::Data::new(AppState {
            uploads: Uploads::new(&settings.files),
            store: store.clone(),
            hub: hub.clone(),
            presence,
            bus,
            settings,
            admin_token,
            metrics_token: args.metrics_token.clone(),
            system_user,
            jwt,
            allowed_origins: args.allowed_origins.clone(),
            connections: ConnectionLimits::new(caps),
            trusted_proxies: args.trusted_proxies.clone().unwrap_or_default(),
            push: PushOffer {
                vapid_public_key: vapid.public_key.clone(),
                insecure_endpoints: push.insecure_endpoints,
                fcm,
                apns,
            },
        });
        let mut server =
            HttpServer::new(move || App::new().app_data(state.clone()).configure(http::routes))
                .workers(workers)
                .max_connections(accept_per_worker)
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
                    share: false,
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
