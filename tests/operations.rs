//! End-to-end: what operators rely on. Prometheus metrics behind the metrics token or the
//! admin token (the metrics token opens nothing else), and a
//! graceful shutdown that closes connections with 1001, keeps every acked message and
//! exits 0.

mod common;

use common::{room_id, Backend, Database, Received, Server};
use serde_json::json;

async fn metrics_count_what_happens(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (status, _) = server.call("GET", "/metrics", None, None).await;
    assert_eq!(status, 401, "metrics need the admin token");
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"metered"}))
            .await,
    );
    amy.ok(json!({"type":"join","room":room})).await;
    amy.ok(json!({"type":"send","room":room,"body":"count me"}))
        .await;
    amy.error(json!({"type":"join","room":"r_424242"})).await;
    let (status, text) = server.admin("GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let text = text.as_str().expect("metrics are text").to_string();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
    };
    assert_eq!(value("palaver_connections_open"), 1.0);
    assert_eq!(value("palaver_users_online"), 1.0);
    assert!(value("palaver_rooms_active") >= 1.0);
    assert_eq!(value("palaver_messages_stored_total"), 1.0);
    assert_eq!(value("palaver_messages_delivered_total"), 1.0);
    assert_eq!(value("palaver_errors_total{code=\"not_found\"}"), 1.0);
    assert_eq!(value("palaver_ack_latency_seconds_count"), 1.0);
    assert!(value("palaver_store_commit_seconds_count") >= 1.0);
    assert!(value("palaver_frames_in_total") >= 4.0);
}
on_both_backends!(metrics_count_what_happens);

/// `--metrics-token`: reads `/metrics` and nothing else; the admin token still reads it;
/// a user's token, a wrong one or none get 401.
#[actix_rt::test]
async fn the_metrics_token_reads_metrics_and_nothing_else() {
    const METRICS_TOKEN: &str = "prometheus-reads-this-0123";
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(&db, &["--metrics-token", METRICS_TOKEN]).await;
    let (status, text) = server
        .call("GET", "/metrics", None, Some(METRICS_TOKEN))
        .await;
    assert_eq!(status, 200);
    assert!(text
        .as_str()
        .is_some_and(|text| text.contains("palaver_connections_open")));
    let (status, _) = server.admin("GET", "/metrics", None).await;
    assert_eq!(status, 200, "the admin token reads /metrics too");
    let (_, user_token) = server.user("amy").await;
    for token in [
        None,
        Some("prometheus-reads-this-0124"),
        Some(user_token.as_str()),
    ] {
        let (status, _) = server.call("GET", "/metrics", None, token).await;
        assert_eq!(status, 401, "{token:?}");
    }
    for (method, path) in [
        ("GET", "/admin/users"),
        ("GET", "/admin/stats"),
        ("GET", "/admin/rooms"),
        ("GET", "/admin/bots"),
        ("GET", "/admin/openapi.json"),
        ("POST", "/admin/users"),
    ] {
        let body = (method == "POST").then(|| json!({"name":"mallory"}));
        let (status, _) = server.call(method, path, body, Some(METRICS_TOKEN)).await;
        assert_eq!(status, 401, "{method} {path} with the metrics token");
    }
    let (status, users) = server.admin("GET", "/admin/users", None).await;
    assert_eq!(status, 200);
    assert!(!users.to_string().contains("mallory"), "{users}");
    // The metrics token is no user token either.
    assert!(
        common::Client::try_connect(&server.base, Some(METRICS_TOKEN), None)
            .await
            .is_err()
    );
}

async fn graceful_shutdown_keeps_every_acked_message(backend: Backend) {
    let db = Database::new(backend).await;
    let mut server = Server::start_with(&db, &["--rate", "100000", "--burst", "100000"]).await;
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"last orders"}))
            .await,
    );
    let mut acked = Vec::new();
    let mut stopping = false;
    let mut close_code = None;
    for n in 0..100_000 {
        if n == 200 {
            let pid = server.pid().to_string();
            let status = std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill -TERM");
            assert!(status.success());
            stopping = true;
        }
        amy.send(json!({"type":"send","id":n,"room":room,"body":format!("n{n}"),"client_msg_id":format!("c{n}")}))
            .await;
        let reply = loop {
            match amy.receive().await {
                Received::Frame(frame) if frame["id"] == n => break Some(frame),
                Received::Frame(_) => {}
                Received::Closed(code) => {
                    close_code = code;
                    break None;
                }
            }
        };
        match reply {
            Some(frame) if frame["type"] == "ok" => {
                acked.push(frame["data"]["message"]["seq"].clone())
            }
            Some(frame) => panic!("send failed: {frame}"),
            None => break,
        }
    }
    assert!(stopping && acked.len() >= 200);
    assert_eq!(
        close_code,
        Some(1001),
        "connections are closed with 1001 on shutdown"
    );
    let status = server.terminate();
    assert!(status.success(), "the server exits 0: {status:?}");
    server.respawn();
    let (status, page) = server
        .admin(
            "GET",
            &format!("/admin/rooms/{room}/messages?limit=200"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let last = page["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .cloned()
        .unwrap_or_default();
    // Every acked message is stored; the one in flight when the connection closed may be too.
    let stored = last["seq"].as_u64().unwrap_or_default() as usize;
    assert!(
        stored == acked.len() || stored == acked.len() + 1,
        "{stored} stored for {} acked",
        acked.len()
    );
    let expected: Vec<serde_json::Value> = (1..=acked.len()).map(|seq| json!(seq)).collect();
    assert_eq!(acked, expected, "acked seqs run 1, 2, 3, … with no gap");
}
on_both_backends!(graceful_shutdown_keeps_every_acked_message);

/// Every metric registered in src/metrics.rs is in docs/operations.md's table and on the
/// Grafana dashboard; every palaver_ metric the dashboard and the alert rules query exists.
#[test]
fn every_metric_is_documented_on_the_dashboard_and_real() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |path: &str| {
        std::fs::read_to_string(format!("{root}/{path}"))
            .unwrap_or_else(|err| panic!("{path}: {err}"))
    };
    let names = |text: &str| -> std::collections::BTreeSet<String> {
        regex::Regex::new(r"palaver_[a-z_]+[a-z]")
            .expect("regex")
            .find_iter(text)
            .map(|found| {
                let name = found.as_str();
                ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(name)
                    .to_string()
            })
            .collect()
    };
    let registered: std::collections::BTreeSet<String> =
        regex::Regex::new(r#""(palaver_[a-z_]+)""#)
            .expect("regex")
            .captures_iter(
                read("src/metrics.rs")
                    .split("#[cfg(test)]")
                    .next()
                    .unwrap_or_default(),
            )
            .map(|found| found[1].to_string())
            .collect();
    assert!(registered.len() >= 25, "{registered:?}");
    let docs = read("docs/operations.md");
    let dashboard = read("deploy/monitoring/grafana-dashboard.json");
    serde_json::from_str::<serde_json::Value>(&dashboard).expect("the dashboard is JSON");
    for name in &registered {
        assert!(
            docs.contains(&format!("| `{name}")),
            "{name} is not in docs/operations.md's table"
        );
        assert!(
            names(&dashboard).contains(name),
            "{name} is not on the dashboard"
        );
    }
    for (file, text) in [
        ("dashboard", dashboard.as_str()),
        ("alerts", &read("deploy/monitoring/alerts.yml")),
        ("docs", &docs),
    ] {
        for name in names(text) {
            assert!(
                registered.contains(&name),
                "{file} names {name}, which src/metrics.rs does not register"
            );
        }
    }
}
