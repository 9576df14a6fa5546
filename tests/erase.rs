//! End-to-end: erasing a person (`DELETE /admin/users/{id}?erase=true`; docs/operations.md,
//! "Erase"): their messages become tombstones (body `""`, no files, no `client_msg_id`; id,
//! seq, time and sender kept), their files are deleted, their name becomes
//! `deleted user (u_N)`, their tokens go and their connections close; everyone else's
//! messages stay as they were. Both backends.

mod common;

use common::{room_id, Backend, Database, Server};
use serde_json::{json, Value};

async fn an_erased_person_leaves_tombstones_and_others_messages_stay(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--rate", "5000", "--burst", "5000"]).await;
    let (amy_id, amy) = server.user("amy").await;
    let (bob_id, bob) = server.user("bob").await;
    let mut a = server.connect(&amy).await;
    let mut b = server.connect(&bob).await;
    let group = room_id(
        &a.ok(json!({"type":"create_group","name":"algebra","members":[bob_id]}))
            .await,
    );
    let direct = room_id(&a.ok(json!({"type":"open_direct","user":bob_id})).await);
    let amys_file = server.upload(&amy, "amy.txt", b"amy's homework").await;
    let loose = server.upload(&amy, "loose.txt", b"never sent").await;
    let bobs_file = server.upload(&bob, "bob.txt", b"bob's notes").await;
    for n in 0..600 {
        let room = if n % 2 == 0 { &group } else { &direct };
        let mut send = json!({"type":"send","room":room,"body":format!("amy {n}"),"client_msg_id":format!("c-{n}")});
        if n == 1 {
            send["files"] = json!([amys_file]);
        }
        a.ok(send).await;
        if n % 100 == 0 {
            let mut send = json!({"type":"send","room":room,"body":format!("bob {n}")});
            if n == 0 {
                send["files"] = json!([bobs_file]);
            }
            b.ok(send).await;
        }
    }
    let before_group = server.all_messages(&group).await;

    let (status, answer) = server
        .admin("DELETE", &format!("/admin/users/{amy_id}?erase=true"), None)
        .await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(a.closed().await, Some(4001), "her connection closes");
    assert_eq!(
        common::Client::try_connect(&server.base, Some(&amy), None)
            .await
            .err()
            .map(|err| matches!(err, common::ConnectError::Status(401))),
        Some(true),
        "her token is refused"
    );

    let erased = format!("deleted user ({amy_id})");
    let after_group = server.all_messages(&group).await;
    assert_eq!(after_group.len(), before_group.len());
    for (before, after) in before_group.iter().zip(&after_group) {
        for key in ["id", "seq", "ts", "room"] {
            assert_eq!(before[key], after[key], "{key} is kept");
        }
        if before["sender"]["id"] == amy_id.as_str() {
            assert_eq!(after["body"], "", "{after}");
            assert_eq!(after["files"], json!([]));
            assert_eq!(after["client_msg_id"], Value::Null);
            assert_eq!(after["sender"]["name"], erased.as_str());
        } else {
            assert_eq!(before, after, "another member's message is untouched");
        }
    }
    assert!(after_group
        .iter()
        .any(|m| m["body"] == "bob 0" && m["files"][0]["id"] == bobs_file.as_str()));

    // Her files are gone, Bob's stays; her export is empty but for the tombstones.
    for id in [&amys_file, &loose] {
        let (status, _) = server
            .file_call("GET", &format!("/files/{id}"), &bob, b"")
            .await;
        assert_eq!(status, 404, "{id}");
    }
    let (status, _) = server
        .file_call("GET", &format!("/files/{bobs_file}"), &bob, b"")
        .await;
    assert_eq!(status, 200);
    let (status, export) = server
        .admin("GET", &format!("/admin/users/{amy_id}/export"), None)
        .await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["user"]["name"], erased.as_str());
    assert!(export["user"]["deactivated"].is_string());
    assert_eq!(export["tokens"], json!([]));
    assert_eq!(export["files"], json!([]));
    let tombstones = export["messages"].as_array().expect("messages");
    assert_eq!(tombstones.len(), 600);
    assert!(tombstones
        .iter()
        .all(|m| m["body"] == "" && m["files"] == json!([])));

    // Bob still chats in both rooms; the room goes on from its last seq.
    let last = after_group.last().expect("messages")["seq"]
        .as_i64()
        .expect("seq");
    let sent = b
        .ok(json!({"type":"send","room":group,"body":"still here"}))
        .await;
    assert_eq!(sent["message"]["seq"], last + 1);

    // Again: the same answer, nothing more changes.
    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{amy_id}?erase=true"), None)
        .await;
    assert_eq!(status, 204);
    // A plain DELETE of an erased (deactivated) user is 404, as for any deactivated user.
    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{amy_id}"), None)
        .await;
    assert_eq!(status, 404);

    // Each erase is in the audit log, as a deactivation with `erase` in its detail.
    let (status, audit) = server.admin("GET", "/admin/audit", None).await;
    assert_eq!(status, 200, "{audit}");
    let erasures: Vec<&Value> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["action"] == "deactivate" && entry["target"] == amy_id.as_str())
        .collect();
    assert_eq!(erasures.len(), 2, "{audit}");
    // The export made above is there too.
    assert!(
        audit["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|entry| { entry["action"] == "export" && entry["target"] == amy_id.as_str() }),
        "{audit}"
    );
    assert!(erasures
        .iter()
        .all(|entry| entry["actor"] == "admin" && entry["detail"] == json!({"erase": true})));
}
on_both_backends!(an_erased_person_leaves_tombstones_and_others_messages_stay);

/// Bad input changes nothing; a user made for an external id is unlinked from it.
async fn refusals_and_external_ids(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (bob_id, bob) = server.user("bob").await;
    for (path, status) in [
        ("/admin/users/u_999?erase=true", 404),
        ("/admin/users/system?erase=true", 404),
        ("/admin/users/mathbot?erase=true", 404),
        ("/admin/users/u_007?erase=true", 404),
    ] {
        let (got, answer) = server.admin("DELETE", path, None).await;
        assert_eq!(got, status, "{path}: {answer}");
    }
    let (status, answer) = server
        .admin(
            "DELETE",
            &format!("/admin/users/{bob_id}?erase=maybe"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let (status, _) = server
        .call(
            "DELETE",
            &format!("/admin/users/{bob_id}?erase=true"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 401);
    assert!(
        common::Client::try_connect(&server.base, Some(&bob), None)
            .await
            .is_ok(),
        "bob is untouched"
    );
    let (status, _) = server
        .admin(
            "DELETE",
            &format!("/admin/users/{bob_id}?erase=false"),
            None,
        )
        .await;
    assert_eq!(status, 204, "erase=false deactivates only");
    let (status, shown) = server
        .admin("GET", &format!("/admin/users/{bob_id}/export"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["user"]["name"], "bob", "deactivated, not erased");

    let (status, made) = server
        .admin(
            "PUT",
            "/admin/users/external/student-1",
            Some(json!({"name":"Sam"})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let sam = made["user"]["id"].as_str().expect("id");
    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{sam}?erase=true"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = server
        .admin("GET", "/admin/users?external_id=student-1", None)
        .await;
    assert_eq!(status, 404, "the external id no longer names them");
    let (status, again) = server
        .admin(
            "PUT",
            "/admin/users/external/student-1",
            Some(json!({"name":"Sam"})),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    assert_ne!(again["user"]["id"], sam, "a new, empty user");
    assert_eq!(again["user"]["name"], "Sam");
}
on_both_backends!(refusals_and_external_ids);
