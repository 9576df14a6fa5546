//! End-to-end: user–bot chats. The demo script driven by buttons, quick replies, free text
//! and fallback; strict `action` checks; a restart in the middle of a script; webhook bots
//! against a small HTTP server on loopback, including time-out, 500 and garbage answers; and
//! the bot definitions of the admin API.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use common::{room_id, Backend, Client, Database, Server};
use serde_json::{json, Value};

/// Collects bot messages (from the join page or as events) until `count` have come.
async fn bot_messages(client: &mut Client, count: usize) -> Vec<Value> {
    let mut found = Vec::new();
    while found.len() < count {
        let event = client.event("message").await;
        if event["message"]["sender"]["kind"] == "bot" {
            found.push(event["message"].clone());
        }
    }
    found
}

async fn open_and_join(client: &mut Client, bot: &str) -> (String, Vec<Value>) {
    let opened = client.ok(json!({"type":"open_bot","bot":bot})).await;
    assert_eq!(opened["room"]["kind"], "bot");
    let room = room_id(&opened);
    let joined = client.ok(json!({"type":"join","room":room})).await;
    let earlier = joined["messages"].as_array().cloned().unwrap_or_default();
    (room, earlier)
}

/// The greeting may already be in the join page or still on its way.
async fn greeting(client: &mut Client, earlier: Vec<Value>, count: usize) -> Vec<Value> {
    let mut messages: Vec<Value> = earlier
        .into_iter()
        .filter(|m| m["sender"]["kind"] == "bot")
        .collect();
    let missing = count.saturating_sub(messages.len());
    messages.extend(bot_messages(client, missing).await);
    messages
}

fn button_of(message: &Value, label: &str) -> String {
    let template = &message["template"];
    let mut choices: Vec<&Value> = Vec::new();
    for key in ["buttons", "replies"] {
        choices.extend(template[key].as_array().into_iter().flatten());
    }
    for card in template["cards"].as_array().into_iter().flatten() {
        choices.extend(card["buttons"].as_array().into_iter().flatten());
    }
    choices
        .into_iter()
        .find(|choice| choice["label"] == label)
        .and_then(|choice| choice["id"].as_str())
        .unwrap_or_else(|| panic!("no choice {label:?} in {message}"))
        .to_string()
}

async fn press(client: &mut Client, room: &str, message: &Value, label: &str) -> Value {
    let id = button_of(message, label);
    let data = client
        .ok(json!({"type":"action","room":room,"message":message["id"],"action":id}))
        .await;
    let sent = &data["message"];
    assert_eq!(
        sent["body"], label,
        "the stored message has the button's label as body"
    );
    assert_eq!(sent["action"], json!({"message": message["id"], "id": id}));
    sent.clone()
}

async fn scripted_conversation_through_the_demo_bot(backend: Backend) {
    let db = Database::new(backend).await;
    let mut server = Server::start(&db).await;
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let (room, earlier) = open_and_join(&mut amy, "mathbot").await;
    let hello = greeting(&mut amy, earlier, 2).await;
    assert_eq!(hello[0]["sender"]["id"], "mathbot");
    assert_eq!(hello[1]["template"]["kind"], "buttons");
    let members = amy.ok(json!({"type":"join","room":room})).await["members"].clone();
    assert!(
        members
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["id"] == "mathbot"),
        "the bot is a member"
    );

    press(&mut amy, &room, &hello[1], "Browse topics").await;
    let topics = bot_messages(&mut amy, 1).await.remove(0);
    assert_eq!(topics["template"]["kind"], "carousel");
    press(&mut amy, &room, &topics, "Learn algebra").await;
    let card = bot_messages(&mut amy, 1).await.remove(0);
    assert_eq!(card["template"]["kind"], "card");
    press(&mut amy, &room, &card, "Quiz me").await;
    let question = bot_messages(&mut amy, 1).await.remove(0);
    assert_eq!(question["template"]["kind"], "quick_replies");

    // Strict action checks: each is bad_request and stores nothing.
    let last_seq = |data: &Value| data["room"]["last_seq"].clone();
    let before = last_seq(&amy.ok(json!({"type":"join","room":room})).await);
    let own = amy
        .ok(json!({"type":"send","room":room,"body":"hmm"}))
        .await["message"]
        .clone();
    let _fallback = bot_messages(&mut amy, 1).await;
    let before_bad = amy.ok(json!({"type":"join","room":room})).await;
    for (message, action) in [
        (question["id"].clone(), json!("nope")),
        (own["id"].clone(), json!("q1_56")),
        (hello[1]["id"].clone(), json!("q1_56")),
        (json!("m_999_1"), json!("q1_56")),
        (json!("m_bogus"), json!("q1_56")),
    ] {
        let code = amy
            .error(json!({"type":"action","room":room,"message":message,"action":action}))
            .await;
        assert_eq!(code, "bad_request", "action {action} on {message}");
    }
    let after_bad = amy.ok(json!({"type":"join","room":room})).await;
    assert_eq!(
        last_seq(&after_bad),
        last_seq(&before_bad),
        "bad actions store nothing"
    );
    assert_ne!(before, last_seq(&after_bad));

    // The script state survives a restart in the middle of the quiz.
    drop(amy);
    assert!(server.terminate().success());
    server.respawn();
    let mut amy = server.connect(&token).await;
    amy.ok(json!({"type":"join","room":room})).await;
    amy.ok(json!({"type":"send","room":room,"body":" 56 "}))
        .await;
    let right = bot_messages(&mut amy, 2).await;
    assert_eq!(right[0]["body"], "Correct! 7 × 8 = 56.");
    amy.ok(json!({"type":"send","room":room,"body":"banana"}))
        .await;
    let fallback = bot_messages(&mut amy, 1).await.remove(0);
    assert!(
        fallback["body"]
            .as_str()
            .is_some_and(|body| body.starts_with("I did not catch that")),
        "{fallback}"
    );
    amy.ok(json!({"type":"send","room":room,"body":"x = 4"}))
        .await;
    let done = bot_messages(&mut amy, 2).await;
    assert_eq!(done[0]["body"], "Yes! x = 4. Well done.");
    // The same user and bot always get the same room.
    let again = amy.ok(json!({"type":"open_bot","bot":"mathbot"})).await;
    assert_eq!(room_id(&again), room);
    assert_eq!(
        amy.error(json!({"type":"open_bot","bot":"nobot"})).await,
        "not_found"
    );
}
on_every_deployment!(scripted_conversation_through_the_demo_bot);

/// A webhook on loopback whose behaviour the test switches by path.
struct Hook {
    base: String,
    calls: Arc<Mutex<Vec<Value>>>,
}

fn start_hook() -> Hook {
    let calls: Arc<Mutex<Vec<Value>>> = Arc::default();
    let recorded = calls.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let recorded = recorded.clone();
                App::new()
                    .app_data(web::Data::new(recorded))
                    .route(
                        "/echo",
                        web::post().to(|calls: web::Data<Arc<Mutex<Vec<Value>>>>, body: web::Json<Value>| async move {
                            let text = match body["message"]["body"].as_str() {
                                Some(text) => format!("you said: {text}"),
                                None => "hello from the hook".to_string(),
                            };
                            calls.lock().expect("lock").push(body.into_inner());
                            HttpResponse::Ok().json(json!({"replies":[
                                {"kind":"text","text":text},
                                {"kind":"buttons","text":"more?","buttons":[{"id":"y","label":"Yes"}]}
                            ]}))
                        }),
                    )
                    .route("/fail", web::post().to(|| async { HttpResponse::InternalServerError().body("boom") }))
                    .route("/garbage", web::post().to(|| async { HttpResponse::Ok().body("{\"replies\": nope") }))
                    .route(
                        "/slow",
                        web::post().to(|| async {
                            actix_rt::time::sleep(Duration::from_secs(3)).await;
                            HttpResponse::Ok().json(json!({"replies":[{"kind":"text","text":"too late"}]}))
                        }),
                    )
            })
            .workers(1)
            .bind("127.0.0.1:0")
            .expect("bind the hook");
            tx.send(server.addrs()[0]).expect("report the address");
            server.run().await.expect("hook runs");
        });
    });
    let addr = rx.recv().expect("hook address");
    Hook {
        base: format!("http://{addr}"),
        calls,
    }
}

async fn put_hook_bot(server: &Server, id: &str, url: &str, timeout_ms: u64) -> u16 {
    let definition = json!({
        "name": format!("Hook {id}"), "sort": "webhook", "fallback": "The hook is not answering.",
        "webhook": {"url": url, "timeout_ms": timeout_ms}
    });
    let (status, body) = server
        .admin("PUT", &format!("/admin/bots/{id}"), Some(definition))
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    status
}

async fn webhook_bots_answer_or_fall_back(backend: Backend) {
    let hook = start_hook();
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (amy_id, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    assert_eq!(
        put_hook_bot(&server, "echo", &format!("{}/echo", hook.base), 2000).await,
        201
    );
    let (room, earlier) = open_and_join(&mut amy, "echo").await;
    let hello = greeting(&mut amy, earlier, 2).await;
    assert_eq!(hello[0]["body"], "hello from the hook");
    amy.ok(json!({"type":"send","room":room,"body":"ping?"}))
        .await;
    let replies = bot_messages(&mut amy, 2).await;
    assert_eq!(replies[0]["body"], "you said: ping?");
    press(&mut amy, &room, &replies[1], "Yes").await;
    assert_eq!(bot_messages(&mut amy, 2).await[0]["body"], "you said: Yes");
    // A message with a file: the call carries the file's description.
    let mut uploaded = awc::Client::default()
        .post(format!("{}/files?name=notes.txt", server.base))
        .bearer_auth(&token)
        .send_body("my working")
        .await
        .expect("upload");
    assert_eq!(uploaded.status().as_u16(), 201);
    let file: Value = uploaded.json().await.expect("a File");
    let file_id = file["file"]["id"].clone();
    amy.ok(json!({"type":"send","room":room,"body":"","files":[file_id]}))
        .await;
    assert_eq!(bot_messages(&mut amy, 2).await[0]["body"], "you said: ");
    // Section 11: the call carries what the message answers and whom it mentions; the
    // bot's own messages are not the user's to edit.
    let answered = replies[0]["id"].clone();
    amy.ok(json!({"type":"send","room":room,"body":"about that",
        "reply_to":answered,"mentions":[amy_id]}))
        .await;
    bot_messages(&mut amy, 2).await;
    let edit_bots = json!({"type":"edit","room":room,"message":answered,"body":"mine"});
    assert_eq!(amy.error(edit_bots).await, "forbidden");
    {
        let calls = hook.calls.lock().expect("lock");
        assert_eq!(calls[4]["message"]["reply_to"]["id"], answered);
        assert_eq!(calls[4]["message"]["reply_to"]["sender"]["kind"], "bot");
        assert_eq!(calls[4]["message"]["mentions"], json!([amy_id]));
        assert_eq!(calls[4]["message"]["rev"], 0);
        assert_eq!(
            calls[0]["message"],
            Value::Null,
            "the greeting call has no message"
        );
        assert_eq!(calls[0]["bot"], "echo");
        assert_eq!(calls[0]["room"], room.as_str());
        assert_eq!(calls[1]["user"]["name"], "amy");
        assert_eq!(calls[1]["message"]["files"], json!([]));
        assert_eq!(calls[2]["message"]["action"]["id"], "y");
        assert_eq!(calls[3]["message"]["files"][0]["id"], file_id);
        assert_eq!(calls[3]["message"]["files"][0]["mime"], "text/plain");
    }

    for path in ["/fail", "/garbage", "/slow"] {
        assert_eq!(
            put_hook_bot(&server, "echo", &format!("{}{path}", hook.base), 500).await,
            200
        );
        amy.ok(json!({"type":"send","room":room,"body":"anyone?"}))
            .await;
        let answer = bot_messages(&mut amy, 1).await.remove(0);
        assert_eq!(answer["body"], "The hook is not answering.", "{path}");
    }

    // A slow webhook holds up nothing else: the demo bot answers while it is still waiting.
    assert_eq!(
        put_hook_bot(&server, "echo", &format!("{}/slow", hook.base), 2500).await,
        200
    );
    let (math, earlier) = open_and_join(&mut amy, "mathbot").await;
    greeting(&mut amy, earlier, 2).await;
    amy.ok(json!({"type":"send","room":room,"body":"slow one"}))
        .await;
    amy.ok(json!({"type":"send","room":math,"body":"quiz"}))
        .await;
    let first = bot_messages(&mut amy, 1).await.remove(0);
    assert_eq!(
        first["room"],
        math.as_str(),
        "the demo bot answered first: {first}"
    );
    let mut late = bot_messages(&mut amy, 1).await.remove(0);
    while late["room"] != room.as_str() {
        late = bot_messages(&mut amy, 1).await.remove(0);
    }
    assert_eq!(late["body"], "The hook is not answering.");
}
on_every_deployment!(webhook_bots_answer_or_fall_back);

/// A webhook bot over https://: the server trusts the hook's certificate through
/// `--extra-ca`, POSTs the real payload over TLS and posts the hook's replies.
#[actix_rt::test]
async fn a_webhook_bot_over_https() {
    let ca = common::tls::TestCa::new();
    let hook = common::tls::HttpsStandIn::start(ca.server_config(), |request| {
        let payload: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let text = match payload["message"]["body"].as_str() {
            Some(text) => format!("over TLS: {text}"),
            None => "hello over TLS".to_string(),
        };
        (
            200,
            json!({"replies":[{"kind":"text","text":text}]}).to_string(),
        )
    });
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start_with(&db, &["--extra-ca", &ca.ca_pem_arg()]).await;
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    put_hook_bot(&server, "tls", &hook.url("/hook"), 3000).await;
    let (room, earlier) = open_and_join(&mut amy, "tls").await;
    assert_eq!(
        greeting(&mut amy, earlier, 1).await[0]["body"],
        "hello over TLS"
    );
    amy.ok(json!({"type":"send","room":room,"body":"secret"}))
        .await;
    assert_eq!(
        bot_messages(&mut amy, 1).await[0]["body"],
        "over TLS: secret"
    );
    let requests = hook.requests.lock().expect("lock");
    assert_eq!(requests.len(), 2);
    assert!(requests
        .iter()
        .all(|r| r.method == "POST" && r.path == "/hook"));
    let payload: Value = serde_json::from_slice(&requests[1].body).expect("JSON payload");
    assert_eq!(payload["bot"], "tls");
    assert_eq!(payload["room"], room.as_str());
    assert_eq!(payload["message"]["body"], "secret");
}

async fn bot_definitions_through_the_admin_api(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (status, listed) = server.admin("GET", "/admin/bots", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["bots"][0]["id"], "mathbot");

    let mut definition = json!({
        "name": "Greeter", "sort": "scripted", "fallback": "Say hi.",
        "script": {"start": "a", "states": {
            "a": {"say": [{"kind":"text","text":"state a"}], "on": [{"text":"(?i)hi","goto":"b"}]},
            "b": {"say": [{"kind":"text","text":"state b"}], "on": [{"goto":"a"}]}
        }}
    });
    let mut broken = definition.clone();
    broken["script"]["states"]["a"]["on"][0]["goto"] = json!("c");
    let (status, error) = server
        .admin("PUT", "/admin/bots/greeter", Some(broken))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "states.a.on[0].goto: no state \"c\""
    );
    let (status, _) = server
        .admin("PUT", "/admin/bots/greeter", Some(json!({"id":"other"})))
        .await;
    assert_eq!(status, 400);
    let (status, _) = server
        .call("PUT", "/admin/bots/greeter", Some(definition.clone()), None)
        .await;
    assert_eq!(status, 401);
    let (status, created) = server
        .admin("PUT", "/admin/bots/greeter", Some(definition.clone()))
        .await;
    assert_eq!(status, 201, "{created}");

    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let (room, earlier) = open_and_join(&mut amy, "greeter").await;
    assert_eq!(greeting(&mut amy, earlier, 1).await[0]["body"], "state a");
    amy.ok(json!({"type":"send","room":room,"body":"hi"})).await;
    assert_eq!(bot_messages(&mut amy, 1).await[0]["body"], "state b");

    // A new definition without state b: the conversation restarts at the start state.
    definition["script"] = json!({"start": "z", "states": {
        "z": {"say": [{"kind":"text","text":"state z"}], "on": [{"goto":"z"}]}
    }});
    let (status, _) = server
        .admin("PUT", "/admin/bots/greeter", Some(definition))
        .await;
    assert_eq!(status, 200);
    amy.ok(json!({"type":"send","room":room,"body":"hello?"}))
        .await;
    assert_eq!(bot_messages(&mut amy, 1).await[0]["body"], "state z");

    let (status, _) = server.admin("DELETE", "/admin/bots/greeter", None).await;
    assert_eq!(status, 204);
    assert_eq!(
        amy.error(json!({"type":"open_bot","bot":"greeter"})).await,
        "not_found"
    );
    let (status, _) = server.admin("DELETE", "/admin/bots/greeter", None).await;
    assert_eq!(status, 404);
}
on_every_deployment!(bot_definitions_through_the_admin_api);

/// A button of a state the conversation has left (docs/protocol.md section 6) is accepted and
/// stored like any button its message offers, and the bot answers it with its fallback and
/// stays where it is: the current state's buttons still work afterwards.
async fn an_older_states_button_gets_the_fallback(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let (room, earlier) = open_and_join(&mut amy, "mathbot").await;
    let hello = greeting(&mut amy, earlier, 2).await;
    press(&mut amy, &room, &hello[1], "Browse topics").await;
    let topics = bot_messages(&mut amy, 1).await.remove(0);
    assert_eq!(topics["template"]["kind"], "carousel");

    // The greeting's "Take a quiz" belongs to the state the conversation left.
    press(&mut amy, &room, &hello[1], "Take a quiz").await;
    let answer = bot_messages(&mut amy, 1).await.remove(0);
    assert_eq!(
        answer["body"],
        "I did not catch that. Use the buttons, or type your answer as a number."
    );
    assert_eq!(answer["template"]["kind"], "text", "{answer}");

    // Still on the topics: the carousel's buttons work.
    press(&mut amy, &room, &topics, "Learn algebra").await;
    let card = bot_messages(&mut amy, 1).await.remove(0);
    assert_eq!(card["template"]["kind"], "card", "{card}");
}

on_every_deployment!(an_older_states_button_gets_the_fallback);
