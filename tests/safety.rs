//! Content rules, reports and the audit log end to end (docs/safety.md), on SQLite,
//! PostgreSQL and two nodes: `PUT /admin/rules` through the first node applies on both
//! (the second within its sweep); a `reject` rule refuses a `send` naming the rule and
//! stores nothing, a `mask` rule stores each match as ● per code point, a `flag` rule stores
//! the message as sent and reports it; rules for `users` leave the system's posts alone,
//! rules for `all` do not. Reports are resolved by dismissing them, deleting the message or
//! deactivating its sender; every moderation action (rules, resolve, delete, deactivate,
//! kick) has its audit entry. Every refusal changes nothing.

mod common;

use std::time::{Duration, Instant};

use common::{room_id, Backend, Client, Database, Server};
use serde_json::{json, Value};

/// The sweep these nodes run: a change of the rules reaches the other node within it.
const SWEEP: &[&str] = &["--authz-sweep-ms", "200"];
const BOUND: Duration = Duration::from_secs(10);

struct Setup {
    _db: Database,
    server: Server,
    amy: (String, String),
    bob: (String, String),
    room: String,
    /// amy on the first node, bob on the second (in a cluster).
    amy_ws: Client,
    bob_ws: Client,
}

async fn setup(backend: Backend) -> Setup {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, SWEEP).await;
    let amy = server.user("amy").await;
    let bob = server.user("bob").await;
    let mut amy_ws = server.connect(&amy.1).await;
    let room = room_id(
        &amy_ws
            .ok(json!({"type":"create_group","name":"club","members":[bob.0]}))
            .await,
    );
    amy_ws.ok(json!({"type":"join","room":room})).await;
    let mut bob_ws = server.connect(&bob.1).await;
    bob_ws.ok(json!({"type":"join","room":room})).await;
    Setup {
        _db: db,
        server,
        amy,
        bob,
        room,
        amy_ws,
        bob_ws,
    }
}

async fn put_rules(server: &Server, rules: Value) -> Value {
    let (status, body) = server
        .admin("PUT", "/admin/rules", Some(json!({ "rules": rules })))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Sends `body` as `client` until the reply is an error (the rules reached its node),
/// bounded; answers the error reply.
async fn until_refused(client: &mut Client, room: &str, body: &str) -> Value {
    let deadline = Instant::now() + BOUND;
    loop {
        let reply = client
            .request(json!({"type":"send","room":room,"body":body}))
            .await;
        if reply["type"] == "error" {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "the rules never applied: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn open_reports(server: &Server) -> Vec<Value> {
    let (status, body) = server
        .admin("GET", "/admin/reports?status=open", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["reports"].as_array().cloned().unwrap_or_default()
}

/// Waits for `count` open reports (a flag's report is written right after the ack).
async fn until_reports(server: &Server, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + BOUND;
    loop {
        let reports = open_reports(server).await;
        if reports.len() >= count {
            return reports;
        }
        assert!(Instant::now() < deadline, "reports: {reports:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn audit(server: &Server) -> Vec<Value> {
    let (status, body) = server.admin("GET", "/admin/audit?limit=200", None).await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().cloned().unwrap_or_default()
}

async fn content_rules(backend: Backend) {
    let Setup {
        _db,
        server,
        room,
        mut amy_ws,
        mut bob_ws,
        ..
    } = setup(backend).await;

    let (status, none) = server.admin("GET", "/admin/rules", None).await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none["rules"], json!([]));
    let builtins: Vec<&str> = none["builtins"]
        .as_array()
        .expect("builtins")
        .iter()
        .map(|builtin| {
            assert!(builtin["description"]
                .as_str()
                .is_some_and(|d| d.len() > 20));
            builtin["id"].as_str().expect("id")
        })
        .collect();
    assert_eq!(builtins, ["contact_phone", "contact_email", "link"]);

    let set = put_rules(
        &server,
        json!([
            {"id":"contact_phone","action":"reject","applies_to":"users"},
            {"id":"contact_email","action":"mask","applies_to":"users"},
            {"id":"link","action":"flag"},
            {"pattern":"(?i)badword","action":"reject","applies_to":"all"},
        ]),
    )
    .await;
    let rules = set["rules"].as_array().expect("rules").clone();
    assert_eq!(rules.len(), 4, "{set}");
    assert_eq!(rules[0]["pattern"], Value::Null);
    assert_eq!(rules[2]["applies_to"], "users", "the default");
    let custom = rules[3]["id"].as_str().expect("id").to_string();
    assert!(custom.starts_with("cr_"), "{custom}");
    assert_eq!(rules[3]["pattern"], "(?i)badword");
    assert_eq!(set["builtins"].as_array().map(Vec::len), Some(3));
    for node in server.nodes() {
        let (_, shown) = node.admin("GET", "/admin/rules", None).await;
        assert_eq!(
            shown["rules"], set["rules"],
            "every node answers the store's set"
        );
    }

    // reject: forbidden naming the rule, on both nodes; nothing stored.
    let before = server.all_messages(&room).await.len();
    let refused = until_refused(&mut bob_ws, &room, "내 번호 010-1234-5678 이야").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("contact_phone")),
        "{refused}"
    );
    let refused = amy_ws
        .error_reply(json!({"type":"send","room":room,"body":"+82 10 1234 5678"}))
        .await;
    assert_eq!(refused["code"], "forbidden");
    let refused = amy_ws
        .error_reply(json!({"type":"send","room":room,"body":"so BADWORD"}))
        .await;
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains(&custom)),
        "{refused}"
    );
    // Whatever bob's node stored before the rules reached it, nothing since.
    let stored = server.all_messages(&room).await;
    assert!(stored
        .iter()
        .all(|m| m["body"] != "+82 10 1234 5678" && m["body"] != "so BADWORD"));
    let before = stored.len().max(before);

    // mask: stored and delivered masked, one ● per code point.
    let sent = amy_ws
        .ok(json!({"type":"send","room":room,"body":"메일은 amy@school.kr 로 줘"}))
        .await;
    assert_eq!(sent["message"]["body"], "메일은 ●●●●●●●●●●●●● 로 줘");
    let delivered = bob_ws.event("message").await;
    assert_eq!(delivered["message"]["body"], "메일은 ●●●●●●●●●●●●● 로 줘");

    // An edit meets the same rules: a phone number is refused and changes nothing, an
    // address is masked.
    let masked = sent["message"]["id"].clone();
    let refused = amy_ws
        .error_reply(json!({"type":"edit","room":room,"message":masked,"body":"010-1234-5678"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("contact_phone")),
        "{refused}"
    );
    let edited = amy_ws
        .ok(json!({"type":"edit","room":room,"message":masked,"body":"now bob@school.kr"}))
        .await;
    assert_eq!(edited["message"]["body"], "now ●●●●●●●●●●●●●", "{edited}");
    let updated = bob_ws.event("message_updated").await;
    assert_eq!(updated["message"]["body"], "now ●●●●●●●●●●●●●");

    // flag: stored as sent, and reported with reason `rule` and no reporter.
    let sent = amy_ws
        .ok(json!({"type":"send","room":room,"body":"see example.com"}))
        .await;
    assert_eq!(sent["message"]["body"], "see example.com");
    // The e-mail address's host name is a link too: both messages are reported, the first
    // as it was stored (masked).
    let reports = until_reports(&server, 2).await;
    assert_eq!(reports.len(), 2, "{reports:?}");
    // Each made once its message is acked: in either order.
    let by_body = |body: &str| {
        reports
            .iter()
            .find(|report| report["message"]["body"] == body)
    };
    assert!(
        by_body("메일은 ●●●●●●●●●●●●● 로 줘").is_some(),
        "{reports:?}"
    );
    let report = by_body("see example.com").expect("the flagged message's report");
    assert!(
        report["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("rp_")),
        "{report}"
    );
    assert_eq!(report["reason"], "rule");
    assert_eq!(report["reporter"], Value::Null);
    assert_eq!(report["status"], "open");
    assert_eq!(report["room"], room.as_str());
    assert_eq!(report["message"]["body"], "see example.com");
    assert_eq!(report["message"]["id"], sent["message"]["id"]);
    assert!(
        report["note"].as_str().is_some_and(|n| n.contains("link")),
        "{report}"
    );
    let stored = server.all_messages(&room).await;
    assert_eq!(stored.len(), before + 2, "{stored:?}");

    // The system: rules for `users` leave it alone, rules for `all` do not.
    let path = format!("/admin/rooms/{room}/messages");
    let (status, posted) = server
        .admin("POST", &path, Some(json!({"body":"call 010-1234-5678"})))
        .await;
    assert_eq!(status, 201, "{posted}");
    assert_eq!(posted["message"]["body"], "call 010-1234-5678");
    let (status, refused) = server
        .admin("POST", &path, Some(json!({"body":"badword"})))
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "forbidden");

    // Refusals of PUT change nothing, and name the rule.
    for (rules, names) in [
        (
            json!([{"pattern":"(unclosed","action":"reject"}]),
            "rules[0]",
        ),
        (
            json!([{"id":"link","action":"mask"},{"pattern":"a*","action":"mask"}]),
            "rules[1]",
        ),
        (json!([{"id":"nope","action":"reject"}]), "nope"),
        (
            json!([{"id":"cr_000000000000","pattern":"x","action":"reject"}]),
            "cr_000000000000",
        ),
        (
            json!([{"id":"link","pattern":"x","action":"reject"}]),
            "link",
        ),
        (json!([{"action":"reject"}]), "rules[0]"),
        (
            json!([{"id":"link","action":"reject"},{"id":"link","action":"mask"}]),
            "link",
        ),
        (
            json!([{"pattern":"x".repeat(1001),"action":"flag"}]),
            "rules[0]",
        ),
        (
            json!([{"pattern":"\\w{500}\\w{500}","action":"flag"}]),
            "limit",
        ),
    ] {
        let (status, body) = server
            .admin("PUT", "/admin/rules", Some(json!({ "rules": rules })))
            .await;
        assert_eq!(status, 400, "{rules} -> {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(names)),
            "{rules} -> {body}"
        );
    }
    for bad in [
        json!({"rules":[{"id":"link","action":"delete"}]}),
        json!({"rules":[{"id":"link","action":"reject","applies_to":"bots"}]}),
        json!({"rules":[{"id":"link","action":"reject","extra":1}]}),
        json!({"rules":"link"}),
    ] {
        let (status, body) = server.admin("PUT", "/admin/rules", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} -> {body}");
    }
    let (_, shown) = server.admin("GET", "/admin/rules", None).await;
    assert_eq!(
        shown["rules"], set["rules"],
        "a refused set changes nothing"
    );

    // Sending back a custom rule's id keeps it; the set shrinks on every node.
    let kept = put_rules(
        &server,
        json!([{"id":custom,"pattern":"(?i)badword","action":"mask","applies_to":"all"}]),
    )
    .await;
    assert_eq!(kept["rules"][0]["id"], custom.as_str());
    let deadline = Instant::now() + BOUND;
    loop {
        let reply = bob_ws
            .request(json!({"type":"send","room":room,"body":"bad badword 010-1234-5678"}))
            .await;
        if reply["type"] == "ok" && reply["data"]["message"]["body"] == "bad ●●●●●●● 010-1234-5678"
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new set never applied: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each change of the rules is audited, newest first, by the admin.
    let entries = audit(&server).await;
    let rules_entries: Vec<&Value> = entries.iter().filter(|e| e["action"] == "rules").collect();
    assert_eq!(rules_entries.len(), 2, "{entries:?}");
    assert_eq!(rules_entries[0]["actor"], "admin");
    assert_eq!(
        rules_entries[0]["detail"]["rules"][0]["id"],
        custom.as_str()
    );
    assert_eq!(
        rules_entries[1]["detail"]["rules"].as_array().map(Vec::len),
        Some(4)
    );
}
on_every_deployment!(content_rules);

async fn reports_and_audit(backend: Backend) {
    let Setup {
        _db,
        server,
        amy,
        bob,
        room,
        mut amy_ws,
        mut bob_ws,
    } = setup(backend).await;
    put_rules(&server, json!([{"pattern":"(?i)flagme","action":"flag"}])).await;
    // Both nodes have the rule once bob's flagged message is reported.
    let deadline = Instant::now() + BOUND;
    let mut n = 0;
    while open_reports(&server).await.is_empty() {
        n += 1;
        bob_ws
            .ok(json!({"type":"send","room":room,"body":format!("flagme probe {n}")}))
            .await;
        assert!(Instant::now() < deadline, "the rule never applied");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let probes = until_reports(&server, 1).await;
    for probe in &probes {
        let path = format!(
            "/admin/reports/{}/resolve",
            probe["id"].as_str().expect("id")
        );
        let (status, body) = server
            .admin("POST", &path, Some(json!({"action":"dismiss"})))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for body in ["flagme one", "flagme two", "flagme three"] {
        amy_ws
            .ok(json!({"type":"send","room":room,"body":body}))
            .await;
    }
    let reports = until_reports(&server, 3).await;
    let id_of = |body: &str| {
        reports
            .iter()
            .find(|report| report["message"]["body"] == body)
            .and_then(|report| report["id"].as_str())
            .expect("report")
            .to_string()
    };
    let (one, two, three) = (
        id_of("flagme one"),
        id_of("flagme two"),
        id_of("flagme three"),
    );
    let resolve = |id: &str| format!("/admin/reports/{id}/resolve");

    // Refusals change nothing.
    for (path, body, want) in [
        (resolve(&one), json!({"action":"ban"}), 400),
        (
            resolve(&one),
            json!({"action":"dismiss","note":"x".repeat(1001)}),
            400,
        ),
        (resolve("rp_999999"), json!({"action":"dismiss"}), 404),
        (resolve("rp_x"), json!({"action":"dismiss"}), 404),
    ] {
        let (status, answer) = server.admin("POST", &path, Some(body)).await;
        assert_eq!(status, want, "{path} -> {answer}");
    }
    for query in ["?status=closed", "?limit=0", "?limit=201", "?after=u_1"] {
        let (status, answer) = server
            .admin("GET", &format!("/admin/reports{query}"), None)
            .await;
        assert_eq!(status, 400, "{query} -> {answer}");
    }
    assert_eq!(open_reports(&server).await.len(), 3);

    // dismiss, once.
    let (status, dismissed) = server
        .admin(
            "POST",
            &resolve(&one),
            Some(json!({"action":"dismiss","note":"a joke"})),
        )
        .await;
    assert_eq!(status, 200, "{dismissed}");
    assert_eq!(dismissed["report"]["status"], "resolved");
    assert_eq!(dismissed["report"]["resolution"]["action"], "dismiss");
    assert_eq!(dismissed["report"]["resolution"]["note"], "a joke");
    let (status, again) = server
        .admin("POST", &resolve(&one), Some(json!({"action":"dismiss"})))
        .await;
    assert_eq!(status, 409, "{again}");

    // delete_message: the message is a tombstone; the report keeps it as reported.
    let (status, deleted) = server
        .admin(
            "POST",
            &resolve(&two),
            Some(json!({"action":"delete_message"})),
        )
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["report"]["message"]["body"], "flagme two");
    let stored = server.all_messages(&room).await;
    assert!(
        stored.iter().all(|m| m["body"] != "flagme two"),
        "{stored:?}"
    );
    assert!(stored.iter().any(|m| m["body"] == "flagme three"));

    // deactivate_sender: amy's tokens stop working, her connection closes with 4001.
    let (status, deactivated) = server
        .admin(
            "POST",
            &resolve(&three),
            Some(json!({"action":"deactivate_sender"})),
        )
        .await;
    assert_eq!(status, 200, "{deactivated}");
    assert_eq!(amy_ws.closed().await, Some(4001));
    assert!(Client::try_connect(&server.base, Some(&amy.1), None)
        .await
        .is_err());
    assert!(open_reports(&server).await.is_empty());
    let (status, resolved) = server
        .admin("GET", "/admin/reports?status=resolved", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        resolved["reports"].as_array().map(Vec::len),
        Some(3 + probes.len())
    );

    // DELETE /admin/users/{id} and a kick by the admin are audited too.
    let carl = server.user("carl").await;
    let (status, _) = server
        .admin(
            "POST",
            &format!("/admin/rooms/{room}/members"),
            Some(json!({"user":carl.0})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .admin(
            "DELETE",
            &format!("/admin/rooms/{room}/members/{}", carl.0),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{}", bob.0), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(bob_ws.closed().await, Some(4001));

    let entries = audit(&server).await;
    let summary: Vec<(String, String)> = entries
        .iter()
        .take(7)
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_string(),
                e["target"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let message_two = deleted["report"]["message"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut expected = vec![
        ("deactivate".to_string(), bob.0.clone()),
        ("kick".to_string(), carl.0.clone()),
    ];
    // resolve and its change share a transaction: their order within it is the insert's.
    let mut pair = |a: (&str, String), b: (&str, String)| {
        let mut two = [(a.0.to_string(), a.1), (b.0.to_string(), b.1)];
        two.sort();
        expected.extend(two);
    };
    pair(("resolve", three.clone()), ("deactivate", amy.0.clone()));
    pair(("resolve", two.clone()), ("delete", message_two));
    expected.push(("resolve".to_string(), one.clone()));
    let mut got = summary.clone();
    got[2..4].sort();
    got[4..6].sort();
    assert_eq!(got, expected, "{entries:#?}");
    assert!(entries.iter().take(7).all(|e| e["actor"] == "admin"));
    assert_eq!(entries[1]["room"], room.as_str());
    assert!(entries
        .iter()
        .all(|e| e["id"].as_str().is_some_and(|id| id.starts_with("au_"))));

    // Paging, newest first.
    let (status, first) = server.admin("GET", "/admin/audit?limit=2", None).await;
    assert_eq!(status, 200);
    assert_eq!(first["entries"].as_array().map(Vec::len), Some(2));
    let next = first["next"].as_str().expect("next").to_string();
    let (_, second) = server
        .admin("GET", &format!("/admin/audit?limit=2&after={next}"), None)
        .await;
    assert_eq!(second["entries"][0]["id"], entries[2]["id"]);
    for query in ["?limit=0", "?limit=201", "?after=rp_1", "?after=au_0"] {
        let (status, answer) = server
            .admin("GET", &format!("/admin/audit{query}"), None)
            .await;
        assert_eq!(status, 400, "{query} -> {answer}");
    }
}
on_every_deployment!(reports_and_audit);

/// A kick by a group's owner is audited with the owner as the actor.
async fn a_kick_by_the_owner_is_audited(backend: Backend) {
    let Setup {
        _db,
        server,
        amy,
        bob,
        room,
        mut amy_ws,
        ..
    } = setup(backend).await;
    amy_ws
        .ok(json!({"type":"kick","room":room,"user":bob.0}))
        .await;
    let entries = audit(&server).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["action"], "kick");
    assert_eq!(entries[0]["actor"], amy.0.as_str());
    assert_eq!(entries[0]["room"], room.as_str());
    assert_eq!(entries[0]["target"], bob.0.as_str());
}
on_both_backends!(a_kick_by_the_owner_is_audited);

/// A bot's messages pass rules for `users` as they are, and go through rules for `all`.
async fn bots_are_checked_only_by_rules_for_all(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let definition = json!({
        "name": "Caller", "sort": "scripted", "fallback": "Say hi.",
        "script": {"start": "a", "states": {
            "a": {"say": [{"kind":"text","text":"a: 010-1234-5678"}], "on": [{"text":"(?i)hi","goto":"b"}]},
            "b": {"say": [{"kind":"text","text":"b: 010-1234-5678"}], "on": [{"goto":"a"}]}
        }}
    });
    let (status, created) = server
        .admin("PUT", "/admin/bots/caller", Some(definition))
        .await;
    assert_eq!(status, 201, "{created}");
    put_rules(
        &server,
        json!([{"id":"contact_phone","action":"mask","applies_to":"users"}]),
    )
    .await;
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let room = room_id(&amy.ok(json!({"type":"open_bot","bot":"caller"})).await);
    amy.ok(json!({"type":"join","room":room})).await;
    let bot_said = |messages: Vec<Value>, start: &str| {
        messages
            .into_iter()
            .filter(|m| m["sender"]["kind"] == "bot")
            .filter_map(|m| m["body"].as_str().map(str::to_string))
            .find(|body| body.starts_with(start))
    };
    let deadline = Instant::now() + BOUND;
    while bot_said(server.all_messages(&room).await, "a:").is_none() {
        assert!(Instant::now() < deadline, "no greeting");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        bot_said(server.all_messages(&room).await, "a:").as_deref(),
        Some("a: 010-1234-5678")
    );
    put_rules(
        &server,
        json!([{"id":"contact_phone","action":"mask","applies_to":"all"}]),
    )
    .await;
    amy.ok(json!({"type":"send","room":room,"body":"hi"})).await;
    loop {
        if let Some(body) = bot_said(server.all_messages(&room).await, "b:") {
            assert_eq!(body, "b: ●●●●●●●●●●●●●");
            break;
        }
        assert!(Instant::now() < deadline, "no answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
on_both_backends!(bots_are_checked_only_by_rules_for_all);

/// `report`: any member reports a message they can see, with a reason a person may give;
/// the report keeps the message as it was; every refusal stores nothing.
async fn a_member_reports_a_message(backend: Backend) {
    let Setup {
        _db,
        server,
        amy,
        bob,
        room,
        mut amy_ws,
        mut bob_ws,
    } = setup(backend).await;
    let sent = amy_ws
        .ok(json!({"type":"send","room":room,"body":"you are stupid"}))
        .await;
    let message = sent["message"]["id"].as_str().expect("id").to_string();
    let carl = server.user("carl").await;
    let mut carl_ws = server.connect(&carl.1).await;

    let report = |reason: &str, note: Value| json!({"type":"report","room":room,"message":message,"reason":reason,"note":note});
    for (command, code) in [
        (report("rule", Value::Null), "bad_request"),
        (report("mean", Value::Null), "bad_request"),
        (report("abuse", json!("x".repeat(1001))), "bad_request"),
        (report("abuse", json!(7)), "bad_request"),
        (
            json!({"type":"report","room":room,"message":message}),
            "bad_request",
        ),
        (
            json!({"type":"report","room":room,"message":"m_999999_1","reason":"spam"}),
            "not_found",
        ),
        (
            json!({"type":"report","room":room,"message":format!("{room}_1"),"reason":"spam"}),
            "not_found",
        ),
        (
            json!({"type":"report","room":room,"message":message.replace("_1", "_99"),"reason":"spam"}),
            "not_found",
        ),
        (
            json!({"type":"report","room":"r_999999","message":"m_999999_1","reason":"spam"}),
            "not_found",
        ),
    ] {
        assert_eq!(bob_ws.error(command.clone()).await, code, "{command}");
    }
    // carl is no member: the room is not his to see.
    assert_eq!(
        carl_ws.error(report("spam", Value::Null)).await,
        "not_found"
    );
    assert!(open_reports(&server).await.is_empty());

    let made = bob_ws
        .ok(report("abuse", json!("she said this to me ".repeat(50))))
        .await;
    let id = made["report"]["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("rp_"), "{made}");
    let reports = open_reports(&server).await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0]["id"], id.as_str());
    assert_eq!(reports[0]["reason"], "abuse");
    assert_eq!(reports[0]["reporter"]["id"], bob.0.as_str());
    assert_eq!(reports[0]["message"]["body"], "you are stupid");
    assert_eq!(reports[0]["message"]["sender"]["id"], amy.0.as_str());
    assert_eq!(
        reports[0]["note"].as_str().map(|n| n.chars().count()),
        Some(1000)
    );
    // The sender may report too; the report holds the message even once it is deleted.
    amy_ws.ok(report("other", Value::Null)).await;
    let (status, _) = server
        .admin(
            "POST",
            &format!("/admin/reports/{id}/resolve"),
            Some(json!({"action":"delete_message"})),
        )
        .await;
    assert_eq!(status, 200);
    let reports = open_reports(&server).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["message"]["body"], "you are stupid");
    assert_eq!(reports[0]["reporter"]["id"], amy.0.as_str());
}
on_every_deployment!(a_member_reports_a_message);
