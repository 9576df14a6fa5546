//! End-to-end: the devices API of docs/protocol.md section 12 (`POST`/`GET`/`DELETE /devices`,
//! `GET /push/vapid`) and every refusal it makes, on both backends; each bad request changes
//! nothing.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{Backend, Database, Server};
use serde_json::{json, Value};

/// The user agent's public key of RFC 8291 appendix A: a point on the curve.
const P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";

fn webpush(endpoint: &str) -> Value {
    json!({
        "kind": "webpush",
        "endpoint": endpoint,
        "keys": {"p256dh": P256DH, "auth": URL_SAFE_NO_PAD.encode([1u8; 16])}
    })
}

async fn devices(server: &Server, token: &str) -> Vec<Value> {
    let (status, body) = server.call("GET", "/devices", None, Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body["devices"].as_array().cloned().expect("devices")
}

async fn devices_are_registered_listed_moved_and_deleted(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (amy_id, amy) = server.user("amy").await;
    let (_, bob) = server.user("bob").await;

    let (status, vapid) = server.call("GET", "/push/vapid", None, None).await;
    assert_eq!(status, 200);
    let key = URL_SAFE_NO_PAD
        .decode(vapid["public_key"].as_str().expect("public_key"))
        .expect("base64url");
    assert_eq!((key.len(), key[0]), (65, 4));

    let endpoint = "https://push.example.com/send/abc";
    let (status, first) = server
        .call("POST", "/devices", Some(webpush(endpoint)), Some(&amy))
        .await;
    assert_eq!(status, 201, "{first}");
    let id = first["device"]["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("d_"));
    assert_eq!(first["device"]["kind"], "webpush");
    assert!(first["device"]["created"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    // The same endpoint again: the same device, 200.
    let (status, again) = server
        .call("POST", "/devices", Some(webpush(endpoint)), Some(&amy))
        .await;
    assert_eq!(
        (status, again["device"]["id"].clone()),
        (200, json!(id)),
        "{again}"
    );
    assert_eq!(devices(&server, &amy).await.len(), 1);
    assert_eq!(
        devices(&server, &amy).await[0],
        first["device"],
        "never the endpoint or keys"
    );
    // The admin sees the same devices with the user (issue 23), never a secret.
    let (status, detail) = server
        .admin("GET", &format!("/admin/users/{amy_id}"), None)
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["devices"], json!([first["device"]]), "{detail}");
    assert!(!detail.to_string().contains("push.example.com"), "{detail}");

    // Another user's device is not there for bob.
    let (status, body) = server
        .call("DELETE", &format!("/devices/{id}"), None, Some(&bob))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    for made_up in ["d_999999", "d_0", "x_1", "d_abc", "d_01"] {
        let (status, _) = server
            .call("DELETE", &format!("/devices/{made_up}"), None, Some(&amy))
            .await;
        assert_eq!(status, 404, "{made_up}");
    }
    // Registered by bob (the browser now signed in as him): it moves to bob, same id.
    let (status, moved) = server
        .call("POST", "/devices", Some(webpush(endpoint)), Some(&bob))
        .await;
    assert_eq!((status, moved["device"]["id"].clone()), (200, json!(id)));
    assert!(devices(&server, &amy).await.is_empty());
    assert_eq!(devices(&server, &bob).await.len(), 1);
    let (status, _) = server
        .call("DELETE", &format!("/devices/{id}"), None, Some(&bob))
        .await;
    assert_eq!(status, 204);
    assert!(devices(&server, &bob).await.is_empty());

    // Revoking every token, and deactivating, remove the user's devices.
    let (status, _) = server
        .call("POST", "/devices", Some(webpush(endpoint)), Some(&amy))
        .await;
    assert_eq!(status, 201);
    let (status, issued) = server
        .admin("POST", &format!("/admin/users/{amy_id}/tokens"), None)
        .await;
    assert_eq!(status, 201, "{issued}");
    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{amy_id}/tokens"), None)
        .await;
    assert!(status == 200 || status == 204, "{status}");
    let (_, carl) = server.user("carl").await;
    let (status, _) = server
        .call("POST", "/devices", Some(webpush(endpoint)), Some(&carl))
        .await;
    assert_eq!(
        status, 201,
        "amy's device went with her tokens: carl's is new"
    );
    let (carl_id, _) = {
        let (status, body) = server.admin("GET", "/admin/users?limit=200", None).await;
        assert_eq!(status, 200);
        let carl = body["users"]
            .as_array()
            .expect("users")
            .iter()
            .find(|user| user["name"] == "carl")
            .cloned()
            .expect("carl");
        (carl["id"].as_str().expect("id").to_string(), ())
    };
    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{carl_id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = server
        .call("POST", "/devices", Some(webpush(endpoint)), Some(&bob))
        .await;
    assert_eq!(status, 201, "carl's device went when he was deactivated");
}
on_both_backends!(devices_are_registered_listed_moved_and_deleted);

async fn every_refusal_of_section_12(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, amy) = server.user("amy").await;
    let good = webpush("https://push.example.com/x");
    let mut bad_key = good.clone();
    bad_key["keys"]["p256dh"] = json!("AAAA");
    // The right length and form, but not a point on the curve.
    let mut off_curve = good.clone();
    off_curve["keys"]["p256dh"] = json!(URL_SAFE_NO_PAD.encode([4u8; 65]));
    let mut bad_auth = good.clone();
    bad_auth["keys"]["auth"] = json!(URL_SAFE_NO_PAD.encode([1u8; 8]));
    let mut no_keys = good.clone();
    no_keys["keys"] = json!(null);
    let cases = [
        (webpush("http://127.0.0.1:9/x"), "https"),
        (webpush("ftp://push.example.com/x"), "https"),
        (webpush("nonsense"), "URL"),
        (bad_key, "p256dh"),
        (off_curve, "on the curve"),
        (bad_auth, "auth"),
        (no_keys, "keys"),
        (json!({"kind": "fcm", "token": "abc"}), "fcm"),
        (json!({"kind": "apns", "token": "abc"}), "apns"),
        (json!({"kind": "pager", "token": "abc"}), "kind"),
        (json!({"endpoint": "https://push.example.com/x"}), "kind"),
        (json!(["webpush"]), "object"),
    ];
    for (body, named) in cases {
        let (status, answer) = server
            .call("POST", "/devices", Some(body.clone()), Some(&amy))
            .await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], "bad_request");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(named),
            "{body}: {message:?} should name {named}"
        );
    }
    assert!(
        devices(&server, &amy).await.is_empty(),
        "nothing was stored"
    );
    for (method, path) in [
        ("GET", "/devices"),
        ("POST", "/devices"),
        ("DELETE", "/devices/d_1"),
    ] {
        let body = (method == "POST").then(|| good.clone());
        let (status, _) = server.call(method, path, body.clone(), None).await;
        assert_eq!(status, 401, "{method} {path} without a token");
        let (status, _) = server
            .call(method, path, body, Some("pv_not_a_token"))
            .await;
        assert_eq!(status, 401, "{method} {path} with an unknown token");
    }
}
on_both_backends!(every_refusal_of_section_12);

/// `--push-insecure-endpoints` lets a local push service (http://) in.
#[actix_rt::test]
async fn insecure_endpoints_are_taken_only_when_allowed() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(&db, &["--push-insecure-endpoints"]).await;
    let (_, amy) = server.user("amy").await;
    let (status, body) = server
        .call(
            "POST",
            "/devices",
            Some(webpush("http://127.0.0.1:9/x")),
            Some(&amy),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}
