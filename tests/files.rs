//! End-to-end, on both backends: uploads and downloads over real HTTP against the real
//! server (docs/protocol.md section 9, docs/files.md): the bytes round-trip, types come from the
//! content, the size, pixel and rate limits hold and keep nothing, only raster images are
//! inline, others' files are 404 like made-up ids, ranges work, restarts keep files,
//! uploads no message carries go after a day; messages carry files to members only (kicked
//! members lose access, deleting a room deletes what only it carried); and every node of a
//! cluster serves every file.

mod common;

use std::io::Cursor;
use std::time::Duration;

use actix_web::web::Bytes;
use awc::http::header::HeaderMap;
use common::{Backend, Database, Server};
use futures_util::stream;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// An HTTP answer with its headers.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }

    /// The `file` of a 201.
    fn file(&self) -> Value {
        assert_eq!(self.status, 201, "{}", String::from_utf8_lossy(&self.body));
        self.json()["file"].clone()
    }

    fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("an error body: {}", String::from_utf8_lossy(&self.body)))
            .to_string()
    }
}

fn http() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(20))
        .finish()
}

async fn answer(
    response: Result<
        awc::ClientResponse<
            impl futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin,
        >,
        awc::error::SendRequestError,
    >,
) -> Answer {
    let mut response = response.expect("HTTP request");
    let body = response.body().limit(64 * 1024 * 1024).await.expect("body");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body,
    }
}

/// `POST /files?name=NAME` with the token in the header.
async fn upload(server: &Server, token: &str, name: &str, bytes: &[u8]) -> Answer {
    upload_as(
        server,
        Some(token),
        &format!("name={}", urlencode(name)),
        "application/octet-stream",
        bytes,
    )
    .await
}

async fn upload_as(
    server: &Server,
    token: Option<&str>,
    query: &str,
    content_type: &str,
    bytes: &[u8],
) -> Answer {
    let mut request = http()
        .post(format!("{}/files?{query}", server.base))
        .insert_header(("Content-Type", content_type));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send_body(bytes.to_vec()).await).await
}

/// `GET path?token=TOKEN`, with extra headers.
async fn get(server: &Server, path: &str, token: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = http().get(format!("{}{path}?token={token}", server.base));
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    answer(request.send().await).await
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .expect("encode");
    bytes
}

/// A tiny GIF whose header claims a 65535 × 65535 screen: 4.3 billion pixels if decoded.
fn gif_bomb() -> Vec<u8> {
    let mut gif = Vec::new();
    image::DynamicImage::ImageRgba8(image::RgbaImage::new(2, 2))
        .write_to(&mut Cursor::new(&mut gif), image::ImageFormat::Gif)
        .expect("encode");
    gif[6..10].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    gif
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const SVG: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><script>alert(2)</script></svg>";

/// Every answer of /files, errors included, carries these.
fn assert_safe_headers(answer: &Answer) {
    assert_eq!(
        answer.header("x-content-type-options"),
        "nosniff",
        "status {}",
        answer.status
    );
    assert_eq!(
        answer.header("cache-control"),
        "private",
        "status {}",
        answer.status
    );
}

/// A metric's value in /metrics.
async fn metric(server: &Server, name: &str) -> f64 {
    let (status, text) = server.admin("GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let text = text.as_str().unwrap_or_default().to_string();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

async fn round_trip_and_types(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, amy) = server.user("amy").await;
    let uploads_before = metric(&server, "palaver_files_uploaded_total").await;
    let bytes_before = metric(&server, "palaver_file_bytes_stored_total").await;

    // A photo, declared as a PDF: the type comes from the bytes.
    let photo = png(1200, 900);
    let file = upload_as(
        &server,
        Some(&amy),
        "name=triangle.pdf",
        "application/pdf",
        &photo,
    )
    .await
    .file();
    let id = file["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("f_"), "{file}");
    assert_eq!(file["name"], "triangle.pdf");
    assert_eq!(file["mime"], "image/png");
    assert_eq!(file["size"], photo.len());
    assert_eq!(
        (file["width"].as_i64(), file["height"].as_i64()),
        (Some(1200), Some(900))
    );
    assert_eq!(file["thumbnail"], true);

    let got = get(&server, &format!("/files/{id}"), &amy, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(sha256(&got.body), sha256(&photo), "the same bytes");
    assert_eq!(got.header("content-type"), "image/png");
    assert!(
        got.header("content-disposition").starts_with("inline"),
        "{}",
        got.header("content-disposition")
    );
    assert_eq!(got.header("etag"), format!("\"{}\"", sha256(&photo)));
    assert_safe_headers(&got);

    let thumb = get(&server, &format!("/files/{id}/thumbnail"), &amy, &[]).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("content-type"), "image/jpeg");
    assert_safe_headers(&thumb);
    let small = image::load_from_memory(&thumb.body).expect("a thumbnail that decodes");
    assert_eq!((small.width(), small.height()), (320, 240));

    // The same answer with the token in the header instead of the query.
    let by_header = answer(
        http()
            .get(format!("{}/files/{id}", server.base))
            .bearer_auth(&amy)
            .send()
            .await,
    )
    .await;
    assert_eq!(sha256(&by_header.body), sha256(&photo));

    // A PDF is a download; HTML declared as an image is still HTML, and a download.
    let pdf = upload(&server, &amy, "Übung 3.pdf", PDF).await.file();
    assert_eq!(pdf["mime"], "application/pdf");
    assert_eq!(pdf["thumbnail"], false);
    assert!(pdf.get("width").is_none(), "{pdf}");
    let got = get(
        &server,
        &format!("/files/{}", pdf["id"].as_str().unwrap()),
        &amy,
        &[],
    )
    .await;
    assert_eq!(got.body.as_ref(), PDF);
    let disposition = got.header("content-disposition");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%C3%9Cbung%203.pdf"),
        "{disposition}"
    );
    let html = upload_as(
        &server,
        Some(&amy),
        "name=cat.png",
        "image/png",
        b"<html><script>alert(1)</script></html>",
    )
    .await
    .file();
    assert_eq!(html["mime"], "text/html");
    let got = get(
        &server,
        &format!("/files/{}", html["id"].as_str().unwrap()),
        &amy,
        &[],
    )
    .await;
    assert!(got.header("content-disposition").starts_with("attachment"));
    assert!(got.header("content-security-policy").contains("sandbox"));

    // SVG is not a raster image: an attachment, no thumbnail.
    let svg = upload_as(&server, Some(&amy), "name=logo.svg", "image/svg+xml", SVG)
        .await
        .file();
    assert_eq!(svg["mime"], "image/svg+xml");
    assert_eq!(svg["thumbnail"], false);
    let svg_id = svg["id"].as_str().unwrap();
    let got = get(&server, &format!("/files/{svg_id}"), &amy, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), "image/svg+xml");
    assert!(
        got.header("content-disposition").starts_with("attachment"),
        "{}",
        got.header("content-disposition")
    );
    assert_safe_headers(&got);
    let no_thumb = get(&server, &format!("/files/{svg_id}/thumbnail"), &amy, &[]).await;
    assert_eq!(
        (no_thumb.status, no_thumb.error_code().as_str()),
        (404, "not_found")
    );

    let stored = photo.len() + PDF.len() + 38 + SVG.len();
    assert_eq!(
        metric(&server, "palaver_files_uploaded_total").await - uploads_before,
        4.0
    );
    assert_eq!(
        metric(&server, "palaver_file_bytes_stored_total").await - bytes_before,
        stored as f64
    );
}
on_both_backends!(round_trip_and_types);

async fn ranges_and_revalidation(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, amy) = server.user("amy").await;
    // Over three store chunks (256 KiB each), so ranges cross chunk boundaries.
    let bytes: Vec<u8> = (0..700_000u32).map(|n| (n % 253) as u8).collect();
    let id = upload(&server, &amy, "data.bin", &bytes).await.file()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/files/{id}");

    let whole = get(&server, &path, &amy, &[]).await;
    assert_eq!(whole.header("accept-ranges"), "bytes");
    assert_eq!(whole.header("content-type"), "application/octet-stream");
    assert_eq!(sha256(&whole.body), sha256(&bytes));

    for (range, first, last) in [
        ("bytes=0-9", 0, 9),
        ("bytes=262140-262150", 262_140, 262_150),
        ("bytes=600000-", 600_000, 699_999),
        ("bytes=-5", 699_995, 699_999),
    ] {
        let part = get(&server, &path, &amy, &[("Range", range)]).await;
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(
            part.header("content-range"),
            format!("bytes {first}-{last}/700000"),
            "{range}"
        );
        assert_eq!(part.body.as_ref(), &bytes[first..=last], "{range}");
        assert_safe_headers(&part);
    }
    let outside = get(&server, &path, &amy, &[("Range", "bytes=700000-")]).await;
    assert_eq!(outside.status, 416);
    assert_eq!(outside.header("content-range"), "bytes */700000");
    assert_safe_headers(&outside);

    let etag = whole.header("etag").to_string();
    let again = get(&server, &path, &amy, &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
}
on_both_backends!(ranges_and_revalidation);

async fn limits_keep_nothing(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(
        &db,
        &[
            "--max-file-bytes",
            "100000",
            "--uploads-per-minute",
            "600",
            "--upload-burst",
            "100",
        ],
    )
    .await;
    let (_, amy) = server.user("amy").await;
    let before = metric(&server, "palaver_files_uploaded_total").await;

    let exact = upload(&server, &amy, "exact.bin", &vec![7u8; 100_000]).await;
    assert_eq!(exact.status, 201);
    let over = upload(&server, &amy, "over.bin", &vec![7u8; 100_001]).await;
    assert_eq!(
        (over.status, over.error_code().as_str()),
        (413, "too_large")
    );
    assert_safe_headers(&over);

    // Without a Content-Length (chunked), the limit is enforced while reading.
    let chunks = (0..50).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 64 * 1024])));
    let streamed = answer(
        http()
            .post(format!("{}/files?name=big.bin", server.base))
            .bearer_auth(&amy)
            .send_stream(stream::iter(chunks))
            .await,
    )
    .await;
    assert_eq!(
        (streamed.status, streamed.error_code().as_str()),
        (413, "too_large")
    );

    // A decompression bomb is refused, not decoded.
    let bomb = upload(&server, &amy, "bomb.gif", &gif_bomb()).await;
    assert_eq!(
        (bomb.status, bomb.error_code().as_str()),
        (413, "too_large"),
        "{}",
        bomb.json()
    );

    // Bad requests.
    let empty = upload(&server, &amy, "empty.txt", b"").await;
    assert_eq!(
        (empty.status, empty.error_code().as_str()),
        (400, "bad_request")
    );
    let unnamed = upload_as(&server, Some(&amy), "", "text/plain", b"hi").await;
    assert_eq!(
        (unnamed.status, unnamed.error_code().as_str()),
        (400, "bad_request")
    );
    let long = upload(&server, &amy, &"é".repeat(256), b"hi").await;
    assert_eq!(
        (long.status, long.error_code().as_str()),
        (400, "bad_request")
    );
    assert_eq!(
        upload(&server, &amy, &"é".repeat(255), b"hi").await.status,
        201
    );
    let anonymous = upload_as(&server, None, "name=a.txt", "text/plain", b"hi").await;
    assert_eq!(
        (anonymous.status, anonymous.error_code().as_str()),
        (401, "unauthorized")
    );
    assert_safe_headers(&anonymous);
    let wrong = upload_as(&server, Some("pv_nope"), "name=a.txt", "text/plain", b"hi").await;
    assert_eq!(wrong.status, 401);

    assert_eq!(
        metric(&server, "palaver_files_uploaded_total").await - before,
        2.0,
        "only the two good uploads were kept"
    );
}
on_both_backends!(limits_keep_nothing);

async fn uploads_are_rate_limited_per_user(backend: Backend) {
    let db = Database::new(backend).await;
    let server =
        Server::start_with(&db, &["--uploads-per-minute", "1", "--upload-burst", "2"]).await;
    let (_, amy) = server.user("amy").await;
    let (_, bob) = server.user("bob").await;
    assert_eq!(upload(&server, &amy, "1.txt", b"one").await.status, 201);
    assert_eq!(upload(&server, &amy, "2.txt", b"two").await.status, 201);
    let third = upload(&server, &amy, "3.txt", b"three").await;
    assert_eq!(
        (third.status, third.error_code().as_str()),
        (429, "rate_limited")
    );
    let retry: u64 = third
        .header("retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(third.json()["error"]["retry_after_ms"].as_u64().is_some());
    assert_eq!(
        upload(&server, &bob, "1.txt", b"bob's").await.status,
        201,
        "per user"
    );
}
on_both_backends!(uploads_are_rate_limited_per_user);

async fn others_get_the_same_404_as_for_a_made_up_id(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, amy) = server.user("amy").await;
    let (_, eve) = server.user("eve").await;
    let id = upload(&server, &amy, "secret.png", &png(40, 30))
        .await
        .file()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let made_up = format!("f_{}", "0".repeat(32));
    for path in [
        format!("/files/{id}"),
        format!("/files/{id}/thumbnail"),
        format!("/files/{made_up}"),
        format!("/files/{made_up}/thumbnail"),
        "/files/nonsense".to_string(),
    ] {
        let refused = get(&server, &path, &eve, &[]).await;
        assert_eq!(refused.status, 404, "{path}");
        assert_eq!(
            refused.json(),
            serde_json::json!({"error": {"code": "not_found", "message": "no such file"}}),
            "{path}"
        );
        assert_safe_headers(&refused);
    }
    let anonymous = answer(
        http()
            .get(format!("{}/files/{id}", server.base))
            .send()
            .await,
    )
    .await;
    assert_eq!(anonymous.status, 401);
}
on_both_backends!(others_get_the_same_404_as_for_a_made_up_id);

async fn a_restart_keeps_files(backend: Backend) {
    let db = Database::new(backend).await;
    let mut server = Server::start(&db).await;
    let (_, amy) = server.user("amy").await;
    let photo = png(640, 480);
    let id = upload(&server, &amy, "kept.png", &photo).await.file()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Acked means kept: kill -9 right after the 201.
    server.crash_and_restart();
    let got = get(&server, &format!("/files/{id}"), &amy, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(sha256(&got.body), sha256(&photo));
    assert_eq!(
        get(&server, &format!("/files/{id}/thumbnail"), &amy, &[])
            .await
            .status,
        200
    );
}
on_both_backends!(a_restart_keeps_files);

/// Moves every upload's creation time back by `ms` in the database itself.
async fn age_uploads(db: &Database, ms: i64) {
    db.exec(&format!("UPDATE files SET created_ms = created_ms - {ms}"))
        .await;
}

async fn unreferenced_uploads_go_after_a_day(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--file-sweep-secs", "1"]).await;
    let (_, amy) = server.user("amy").await;
    let old = upload(&server, &amy, "old.txt", b"old").await.file()["id"]
        .as_str()
        .unwrap()
        .to_string();
    age_uploads(&db, 24 * 3600 * 1000 + 1000).await;
    let fresh = upload(&server, &amy, "fresh.txt", b"fresh").await.file()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while get(&server, &format!("/files/{old}"), &amy, &[])
        .await
        .status
        != 404
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the day-old upload was not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(metric(&server, "palaver_files_deleted_total").await >= 1.0);
    assert_eq!(
        get(&server, &format!("/files/{fresh}"), &amy, &[])
            .await
            .status,
        200
    );
}
on_both_backends!(unreferenced_uploads_go_after_a_day);

// ---- Files in messages: `send` with `files`, Message.files, access through rooms. ----

fn file_id(answer: &Answer) -> String {
    answer.file()["id"].as_str().expect("file id").to_string()
}

async fn messages_carry_files_to_members_only(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (amy_id, amy) = server.user("amy").await;
    let (bob_id, bob) = server.user("bob").await;
    let (_, eve) = server.user("eve").await;
    let photo = png(800, 600);
    let picture = file_id(&upload(&server, &amy, "problem.png", &photo).await);
    let pdf = file_id(&upload(&server, &amy, "worksheet.pdf", PDF).await);

    let mut amy_ws = server.connect(&amy).await;
    let mut bob_ws = server.connect(&bob).await;
    let room = common::room_id(&amy_ws.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy_ws.ok(json!({"type":"join","room":room})).await;
    bob_ws.ok(json!({"type":"join","room":room})).await;

    // Before a message carries them, bob cannot see amy's uploads.
    assert_eq!(
        get(&server, &format!("/files/{picture}"), &bob, &[])
            .await
            .status,
        404
    );

    let sent = amy_ws
        .ok(json!({"type":"send","room":room,"body":"","files":[picture, pdf]}))
        .await;
    let files = &sent["message"]["files"];
    assert_eq!(files.as_array().map(Vec::len), Some(2), "{sent}");
    assert_eq!(files[0]["id"], picture.as_str());
    assert_eq!(files[0]["mime"], "image/png");
    assert_eq!(
        (files[0]["width"].as_i64(), files[0]["thumbnail"].as_bool()),
        (Some(800), Some(true))
    );
    assert_eq!(files[1]["name"], "worksheet.pdf");
    assert_eq!(sent["message"]["body"], "");

    let event = bob_ws.event("message").await;
    assert_eq!(
        event["message"]["files"], *files,
        "the event carries the same files"
    );
    let got = get(&server, &format!("/files/{picture}"), &bob, &[]).await;
    assert_eq!((got.status, sha256(&got.body)), (200, sha256(&photo)));
    assert_eq!(
        get(&server, &format!("/files/{picture}/thumbnail"), &bob, &[])
            .await
            .status,
        200
    );
    assert_eq!(
        get(&server, &format!("/files/{pdf}"), &bob, &[])
            .await
            .body
            .as_ref(),
        PDF
    );
    for path in [
        format!("/files/{picture}"),
        format!("/files/{pdf}/thumbnail"),
    ] {
        let refused = get(&server, &path, &eve, &[]).await;
        assert_eq!(refused.status, 404, "{path}");
        assert_eq!(refused.json()["error"]["message"], "no such file");
    }

    // Text alone still carries `files: []`; history, join and the admin API show the files.
    let text = amy_ws
        .ok(json!({"type":"send","room":room,"body":"see above"}))
        .await;
    assert_eq!(text["message"]["files"], json!([]));
    let history = bob_ws.ok(json!({"type":"history","room":room})).await;
    assert_eq!(history["messages"][0]["files"], *files);
    assert_eq!(history["messages"][1]["files"], json!([]));
    let mut late = server.connect(&bob).await;
    let joined = late.ok(json!({"type":"join","room":room})).await;
    assert_eq!(joined["messages"][0]["files"], *files, "{joined}");
    let stored = server.stored_messages(&room).await;
    assert_eq!(stored[0]["files"], *files);
    assert_eq!(stored[1]["files"], json!([]));

    // A repeated send (same client_msg_id) answers with the first message and its files.
    let first = amy_ws
        .ok(json!({"type":"send","room":room,"body":"again","client_msg_id":"c-9","files":[pdf]}))
        .await;
    let again = amy_ws
        .ok(json!({"type":"send","room":room,"body":"again","client_msg_id":"c-9","files":[pdf]}))
        .await;
    assert_eq!(again["message"], first["message"]);
    assert_eq!(again["message"]["files"][0]["id"], pdf.as_str());
    let _ = amy_id;
}
on_both_backends!(messages_carry_files_to_members_only);

async fn send_takes_only_the_senders_uploads(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, amy) = server.user("amy").await;
    let (bob_id, bob) = server.user("bob").await;
    let bobs = file_id(&upload(&server, &bob, "bob.txt", b"bob's notes").await);
    let amys = file_id(&upload(&server, &amy, "amy.txt", b"amy's notes").await);
    let mut amy_ws = server.connect(&amy).await;
    let room = common::room_id(&amy_ws.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy_ws.ok(json!({"type":"join","room":room})).await;
    let before = server.snapshot().await;

    let made_up = format!("f_{}", "ab".repeat(16));
    for files in [
        json!([bobs]),
        json!([amys, bobs]),
        json!([made_up]),
        json!(["f_x"]),
    ] {
        let reply = amy_ws
            .error_reply(json!({"type":"send","room":room,"body":"look","files":files}))
            .await;
        assert_eq!(reply["code"], "not_found", "{files} -> {reply}");
        assert_eq!(reply["message"], "no such file");
    }
    let eleven: Vec<String> = (0..11).map(|_| amys.clone()).collect();
    for (body, files) in [
        ("", json!([])),
        ("x", json!([amys, amys])),
        ("x", json!(eleven)),
        ("x", json!("f_1")),
    ] {
        let code = amy_ws
            .error(json!({"type":"send","room":room,"body":body,"files":files}))
            .await;
        assert_eq!(code, "bad_request", "{body:?} {files}");
    }
    assert_eq!(server.snapshot().await, before, "nothing was stored");
    // Bob's file is still his alone.
    assert_eq!(
        get(&server, &format!("/files/{bobs}"), &amy, &[])
            .await
            .status,
        404
    );
}
on_both_backends!(send_takes_only_the_senders_uploads);

async fn a_kicked_member_loses_access(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, amy) = server.user("amy").await;
    let (bob_id, _) = server.user("bob").await;
    let (carol_id, carol) = server.user("carol").await;
    let photo = file_id(&upload(&server, &amy, "p.png", &png(50, 50)).await);
    let mut amy_ws = server.connect(&amy).await;
    let room = common::room_id(
        &amy_ws
            .ok(json!({"type":"create_group","name":"g","members":[bob_id, carol_id]}))
            .await,
    );
    amy_ws.ok(json!({"type":"join","room":room})).await;
    amy_ws
        .ok(json!({"type":"send","room":room,"body":"the problem","files":[photo]}))
        .await;
    assert_eq!(
        get(&server, &format!("/files/{photo}"), &carol, &[])
            .await
            .status,
        200
    );

    amy_ws
        .ok(json!({"type":"kick","room":room,"user":carol_id}))
        .await;
    let made_up = get(
        &server,
        &format!("/files/f_{}", "0".repeat(32)),
        &carol,
        &[],
    )
    .await;
    for path in [
        format!("/files/{photo}"),
        format!("/files/{photo}/thumbnail"),
    ] {
        let refused = get(&server, &path, &carol, &[]).await;
        assert_eq!(
            (refused.status, refused.json()),
            (404, made_up.json()),
            "{path}"
        );
    }
    assert_eq!(
        get(&server, &format!("/files/{photo}"), &amy, &[])
            .await
            .status,
        200
    );
}
on_both_backends!(a_kicked_member_loses_access);

async fn deleting_a_room_deletes_the_files_only_it_carries(backend: Backend) {
    let db = Database::new(backend).await;
    let mut server = Server::start_with(&db, &["--file-sweep-secs", "1"]).await;
    let (_, amy) = server.user("amy").await;
    let (bob_id, bob) = server.user("bob").await;
    let shared = file_id(&upload(&server, &amy, "shared.txt", b"in both rooms").await);
    let only = file_id(&upload(&server, &amy, "only.txt", b"in one room").await);
    let mut amy_ws = server.connect(&amy).await;
    let mut rooms = Vec::new();
    for name in ["one", "two"] {
        let room = common::room_id(
            &amy_ws
                .ok(json!({"type":"create_group","name":name,"members":[bob_id]}))
                .await,
        );
        amy_ws.ok(json!({"type":"join","room":room})).await;
        rooms.push(room);
    }
    amy_ws
        .ok(json!({"type":"send","room":rooms[0],"body":"a","files":[shared, only]}))
        .await;
    amy_ws
        .ok(json!({"type":"send","room":rooms[1],"body":"b","files":[shared]}))
        .await;

    // Files messages carry outlive the day unreferenced uploads get, and a restart.
    age_uploads(&db, 24 * 3600 * 1000 + 1000).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.crash_and_restart();
    assert_eq!(
        get(&server, &format!("/files/{only}"), &bob, &[])
            .await
            .status,
        200
    );
    let history = server.stored_messages(&rooms[0]).await;
    assert_eq!(history[0]["files"][1]["id"], only.as_str());

    let (status, body) = server
        .admin("DELETE", &format!("/admin/rooms/{}", rooms[0]), None)
        .await;
    assert!(status == 200 || status == 204, "{status} {body}");
    assert_eq!(
        get(&server, &format!("/files/{only}"), &amy, &[])
            .await
            .status,
        404,
        "only room one carried it"
    );
    assert_eq!(
        get(&server, &format!("/files/{shared}"), &amy, &[])
            .await
            .status,
        200
    );
    assert_eq!(
        get(&server, &format!("/files/{shared}"), &bob, &[])
            .await
            .status,
        200,
        "room two still carries it"
    );
}
on_both_backends!(deleting_a_room_deletes_the_files_only_it_carries);

/// Two nodes on one PostgreSQL database (and one Redis): a file uploaded through one node is
/// sent, delivered and downloaded through the other, with the same access rule.
#[actix_rt::test]
async fn files_are_shared_by_every_node() {
    let Some(cluster) = common::cluster::Cluster::start(2, &[]).await else {
        return;
    };
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let (_, amy) = one.user("amy").await;
    let (bob_id, bob) = one.user("bob").await;
    let (_, eve) = one.user("eve").await;
    let photo = png(900, 600);
    let picture = file_id(&upload(one, &amy, "node-one.png", &photo).await);

    let mut amy_ws = one.connect(&amy).await;
    let mut bob_ws = two.connect(&bob).await;
    let room = common::room_id(&amy_ws.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy_ws.ok(json!({"type":"join","room":room})).await;
    bob_ws.ok(json!({"type":"join","room":room})).await;
    amy_ws
        .ok(json!({"type":"send","room":room,"body":"","files":[picture]}))
        .await;

    let event = bob_ws.event("message").await;
    assert_eq!(
        event["message"]["files"][0]["id"],
        picture.as_str(),
        "{event}"
    );
    assert_eq!(event["message"]["files"][0]["width"], 900);
    let got = get(two, &format!("/files/{picture}"), &bob, &[]).await;
    assert_eq!((got.status, sha256(&got.body)), (200, sha256(&photo)));
    assert_eq!(
        get(two, &format!("/files/{picture}/thumbnail"), &bob, &[])
            .await
            .status,
        200
    );
    assert_eq!(
        get(two, &format!("/files/{picture}"), &eve, &[])
            .await
            .status,
        404
    );

    // And the other way: uploaded through node two, sent by bob on node two, fetched on one.
    let reply = file_id(&upload(two, &bob, "answer.pdf", PDF).await);
    bob_ws
        .ok(json!({"type":"send","room":room,"body":"here","files":[reply]}))
        .await;
    let mut event = amy_ws.event("message").await;
    while event["message"]["body"] != "here" {
        // amy's own first message comes back to her too.
        event = amy_ws.event("message").await;
    }
    assert_eq!(event["message"]["files"][0]["name"], "answer.pdf");
    assert_eq!(
        get(one, &format!("/files/{reply}"), &amy, &[])
            .await
            .body
            .as_ref(),
        PDF
    );
}

/// Issue 20, item 8: one user added ~420 MB a minute of uploads no message refers to. Per
/// user, uploads that no message carries are limited in number and bytes (413, naming the
/// quota; sending them in a message frees the quota) and so are bytes a day (429 with
/// Retry-After). Another user is not affected.
async fn uploads_are_held_to_per_user_quotas(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(
        &db,
        &[
            "--max-unattached-uploads",
            "2",
            "--max-unattached-upload-bytes",
            "1000",
            "--max-upload-bytes-per-day",
            "1500",
            "--upload-burst",
            "100",
        ],
    )
    .await;
    let (_, amy) = server.user("amy").await;
    let (bob_id, bob) = server.user("bob").await;
    let first = upload(&server, &amy, "1.bin", &[1; 400]).await;
    assert_eq!(first.status, 201);
    let second = upload(&server, &amy, "2.bin", &[2; 400]).await;
    assert_eq!(second.status, 201);
    // A third upload no message carries: over the count.
    let refused = upload(&server, &amy, "3.bin", &[3; 10]).await;
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (413, "too_large")
    );
    let message = refused.json()["error"]["message"].to_string();
    assert!(message.contains("--max-unattached-uploads"), "{message}");
    // Sent in a message, they no longer count as unattached.
    let mut ws = server.connect(&amy).await;
    let room = common::room_id(&ws.ok(json!({"type":"open_direct","user":bob_id})).await);
    let ids = [first.file()["id"].clone(), second.file()["id"].clone()];
    ws.ok(json!({"type":"send","room":room,"body":"","files":ids}))
        .await;
    // Over the unattached bytes (400 + 700 > 1,000).
    assert_eq!(upload(&server, &amy, "4.bin", &[4; 400]).await.status, 201);
    let refused = upload(&server, &amy, "5.bin", &[5; 700]).await;
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (413, "too_large")
    );
    let message = refused.json()["error"]["message"].to_string();
    assert!(
        message.contains("--max-unattached-upload-bytes"),
        "{message}"
    );
    // Over the bytes a day (1,200 uploaded + 400 > 1,500), whatever is attached.
    let refused = upload(&server, &amy, "6.bin", &[6; 400]).await;
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (429, "rate_limited")
    );
    let message = refused.json()["error"]["message"].to_string();
    assert!(message.contains("--max-upload-bytes-per-day"), "{message}");
    let retry: u64 = refused.header("retry-after").parse().expect("Retry-After");
    assert!((1..=86_400).contains(&retry), "{retry}");
    // bob has quotas of his own.
    assert_eq!(upload(&server, &bob, "b.bin", &[7; 400]).await.status, 201);
}
on_both_backends!(uploads_are_held_to_per_user_quotas);
