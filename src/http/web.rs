//! The web chat client: the static files of `web/`, embedded in the binary at build time
//! (so the server serves them from any working directory), at `GET /` (index.html) and
//! `GET /<file>` (and `HEAD`), each with its content type; and the moderators' page at
//! `GET /admin/` (admin.html).

use actix_web::http::header;
use actix_web::{guard, web, HttpResponse};

/// One embedded file: the path it is served at, its content type, its text.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// An embedded file of `web/`.
macro_rules! asset {
    ($path:literal, $file:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_str!(concat!("../../web/", $file)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("/", "index.html", HTML),
    asset!("/index.html", "index.html", HTML),
    asset!("/style.css", "style.css", CSS),
    asset!("/app.js", "app.js", JS),
    asset!("/connection.js", "connection.js", JS),
    asset!("/timeline.js", "timeline.js", JS),
    asset!("/templates.js", "templates.js", JS),
    asset!("/views.js", "views.js", JS),
    asset!("/dom.js", "dom.js", JS),
    asset!("/files.js", "files.js", JS),
    asset!("/people.js", "people.js", JS),
    asset!("/conversation.js", "conversation.js", JS),
    asset!("/mentions.js", "mentions.js", JS),
    asset!("/push.js", "push.js", JS),
    asset!("/safety.js", "safety.js", JS),
    // The moderators' page; its data comes from the admin API, with the admin token.
    asset!("/admin/", "admin.html", HTML),
    asset!("/moderation.js", "moderation.js", JS),
    // The service worker: at the root, so that its scope is the whole client.
    asset!("/sw.js", "sw.js", JS),
    // The demo bot's picture (bots/mathbot.json): template URLs are http(s) or this server's.
    asset!("/triangle.svg", "triangle.svg", SVG),
];

/// The page may load its own files, talk to its own server (WebSocket included) and show
/// images from anywhere (bot templates carry image URLs); nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; \
     img-src * data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    for asset in ASSETS {
        let get_or_head = guard::Any(guard::Get()).or(guard::Head());
        cfg.route(
            asset.path,
            web::route().guard(get_or_head).to(move || serve(asset)),
        );
    }
}

async fn serve(asset: &'static Asset) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        // A new binary may bring new files: always revalidate.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .body(asset.body)
}
