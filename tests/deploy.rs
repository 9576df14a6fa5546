//! The deployment files in deploy/, used as shipped: nginx with deploy/nginx.conf
//! terminating TLS (a certificate the test makes) in front of a node, with `https://` and
//! `wss://` clients through it; the systemd unit checked by `systemd-analyze`. nginx and
//! systemd-analyze are Debian packages: in CI a missing one fails the test, elsewhere it is
//! reported as SKIPPED.

mod common;

use std::process::Command;
use std::time::Duration;

use common::services::{available, Nginx};
use common::tls::TestCa;
use common::{room_id, Backend, Client, ConnectError, Database, Server};
use palaver::outbound::Outbound;
use serde_json::json;

/// A client that trusts the test's CA, through the server's own outbound TLS setup.
fn trusting(ca: &TestCa) -> awc::Client {
    Outbound::new(Some(&ca.ca_pem))
        .expect("the test CA")
        .client(Duration::from_secs(10))
}

#[actix_rt::test]
async fn nginx_terminates_tls_and_proxies_websockets_as_shipped() {
    if !available("nginx") {
        return;
    }
    let ca = TestCa::new();
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let nginx = Nginx::start_tls(
        &[server.base.trim_start_matches("http://").to_string()],
        &ca,
    );
    let https = format!("https://127.0.0.1:{}", nginx.port);
    let client = trusting(&ca);

    let health = client
        .get(format!("{https}/healthz"))
        .send()
        .await
        .expect("https through nginx");
    assert_eq!(health.status().as_u16(), 200);
    assert!(
        health.headers().contains_key("strict-transport-security"),
        "{:?}",
        health.headers()
    );

    // Plain http only redirects to https.
    let redirect = awc::Client::builder()
        .disable_redirects()
        .finish()
        .get(format!("http://127.0.0.1:{}/ws", nginx.redirect_port))
        .send()
        .await
        .expect("the plain server");
    assert_eq!(redirect.status().as_u16(), 301);

    // Two users over wss://, a message from one to the other through nginx.
    let (amy_id, amy_token) = server.user("amy").await;
    let (_, bob_token) = server.user("bob").await;
    let wss = |token: &str| format!("wss://127.0.0.1:{}/ws?token={token}", nginx.port);
    let mut bob = Client::try_connect_with(&client, &wss(&bob_token))
        .await
        .expect("bob over wss://");
    let mut amy = Client::try_connect_with(&client, &wss(&amy_token))
        .await
        .expect("amy over wss://");
    assert_eq!(amy.hello["user"]["id"], amy_id.as_str());
    let bob_id = bob.hello["user"]["id"]
        .as_str()
        .expect("bob's id")
        .to_string();
    let room = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy.ok(json!({"type":"join","room":room})).await;
    bob.ok(json!({"type":"join","room":room})).await;
    amy.ok(json!({"type":"send","room":room,"body":"over wss"}))
        .await;
    let event = bob.event("message").await;
    assert_eq!(event["message"]["body"], "over wss", "{event}");

    // A client that does not trust the certificate gets no connection.
    match Client::try_connect_with(
        &Outbound::default().client(Duration::from_secs(10)),
        &wss(&bob_token),
    )
    .await
    {
        Err(ConnectError::Other(err)) => assert!(!err.is_empty()),
        Err(ConnectError::Status(status)) => panic!("an untrusted certificate answered {status}"),
        Ok(_) => panic!("an untrusted certificate was accepted"),
    }
    let log = nginx.error_log();
    assert!(!log.contains("[emerg]"), "{log}");
    eprintln!("nginx error.log:\n{log}");
}

/// deploy/systemd/palaver.service, with ExecStart pointing at the binary just built:
/// `systemd-analyze verify` finds nothing wrong, and `systemd-analyze security` rates its
/// exposure at most 2.0 of 10 (it is 1.5 as shipped; an unhardened unit is about 9).
#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    if !available("systemd-analyze") {
        return;
    }
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/systemd/palaver.service"
    ))
    .expect("deploy/systemd/palaver.service");
    for line in [
        "User=palaver",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/palaver",
        "ExecStart=/usr/local/bin/palaver",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("palaver.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/palaver", env!("CARGO_BIN_EXE_palaver")),
    )
    .expect("write the unit");
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze verify");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(verify.status.success(), "systemd-analyze verify: {said}");
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify warned: {said}"
    );
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=20"])
        .arg(&path)
        .output()
        .expect("systemd-analyze security");
    let rating = String::from_utf8_lossy(&security.stdout);
    assert!(
        security.status.success(),
        "exposure above 2.0: {}",
        rating.lines().last().unwrap_or_default()
    );
}
