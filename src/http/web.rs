//! The web chat client: the static files of `web/`, embedded in the binary at build time
//! (so the server serves them from any working directory), at `GET /` (index.html) and
//! `GET /<file>` (and `HEAD`), each with its content type; and the moderators' page at
//! `GET /admin/` (admin.html). The page's connection is the TypeScript client library, built
//! into `web/client/` (`npm run web` in clients/typescript).

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
    // The connection: the TypeScript client library as built (clients/typescript, `npm run web`).
    asset!("/client/index.js", "client/index.js", JS),
    asset!("/client/client.js", "client/client.js", JS),
    asset!("/client/backoff.js", "client/backoff.js", JS),
    asset!("/client/emitter.js", "client/emitter.js", JS),
    asset!("/client/errors.js", "client/errors.js", JS),
    asset!("/client/frames.js", "client/frames.js", JS),
    asset!("/client/http.js", "client/http.js", JS),
    asset!("/client/outbox.js", "client/outbox.js", JS),
    asset!("/client/revisions.js", "client/revisions.js", JS),
    asset!("/client/room.js", "client/room.js", JS),
    asset!("/client/sequencer.js", "client/sequencer.js", JS),
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

#[cfg(test)]
mod tests {
    use super::ASSETS;
    use std::path::Path;

    /// Every file of `web/` (the library's modules in `web/client/` included) is served, and
    /// each asset is the file it names.
    #[test]
    fn every_file_of_web_is_served() -> std::io::Result<()> {
        let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut files = Vec::new();
        for dir in [web.clone(), web.join("client")] {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.is_file() {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 20, "web/ has its files: {files:?}");
        for path in files {
            let text = std::fs::read_to_string(&path)?;
            assert!(
                ASSETS.iter().any(|asset| asset.body == text),
                "{} is not served: add it to ASSETS",
                path.display()
            );
        }
        Ok(())
    }
}
