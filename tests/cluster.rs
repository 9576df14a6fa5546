//! Multi-node mode end to end: PostgreSQL-backed nodes sharing one Redis, nginx in front,
//! every process real and killed by its pid. Members of one room on different nodes see
//! one gapless order; a node killed mid-run loses no acked message; a Redis restart loses
//! and duplicates nothing; revocation closes a user's connections on every node.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::cluster::Cluster;
use common::{room_id, Client, Received};
use serde_json::{json, Value};

const FAST: &[&str] = &["--rate", "100000", "--burst", "100000"];

fn seqs(messages: &[Value]) -> Vec<i64> {
    messages
        .iter()
        .map(|message| message["seq"].as_i64().expect("seq"))
        .collect()
}

/// `message` events until one with seq `last` arrived; their seqs in arrival order.
async fn seqs_until(client: &mut Client, last: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    while seen.last() != Some(&last) {
        let event = client.event("message").await;
        seen.push(event["message"]["seq"].as_i64().expect("seq"));
        assert!(
            seen.len() as i64 <= last,
            "more messages than sent: {seen:?}"
        );
    }
    seen
}

#[actix_rt::test]
async fn members_on_different_nodes_chat_as_on_one() {
    let Some(cluster) = Cluster::start(2, &[]).await else {
        return;
    };
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let (amy_id, amy_token) = one.user("amy").await;
    let (bob_id, bob_token) = one.user("bob").await;
    let mut amy = one.connect(&amy_token).await;
    let mut bob = two.connect(&bob_token).await;

    // room_added reaches bob on the other node.
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"across","members":[bob_id]}))
            .await,
    );
    let added = bob.event("room_added").await;
    assert_eq!(added["room"]["id"], room.as_str());
    amy.ok(json!({"type":"join","room":room})).await;
    bob.ok(json!({"type":"join","room":room})).await;

    // Messages both ways, in one order; typing crosses too.
    let sent = amy
        .ok(json!({"type":"send","room":room,"body":"hi bob"}))
        .await;
    assert_eq!(sent["message"]["seq"], 1);
    let got = bob.event("message").await;
    assert_eq!(got["message"]["body"], "hi bob");
    assert_eq!(got["message"]["sender"]["id"], amy_id.as_str());
    bob.ok(json!({"type":"send","room":room,"body":"hi amy"}))
        .await;
    assert_eq!(amy.event("message").await["message"]["seq"], 1, "her own");
    let got = amy.event("message").await;
    assert_eq!(got["message"]["seq"], 2);
    assert_eq!(got["message"]["body"], "hi amy");
    bob.ok(json!({"type":"typing","room":room})).await;
    assert_eq!(amy.event("typing").await["user"]["id"], bob_id.as_str());

    // Presence is "online on any node": bob, connected to node two only, is online as
    // node one sees him, and offline once his last connection anywhere closed.
    let (status, shown) = one
        .admin("GET", &format!("/admin/users/{bob_id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["user"]["online"], true, "{shown}");
    bob.close().await;
    loop {
        let presence = amy.event("presence").await;
        if presence["user"]["id"] == bob_id.as_str() && presence["online"] == false {
            break;
        }
    }

    // A member added through node two's admin API can send through node one at once.
    let (carl_id, carl_token) = two.user("carl").await;
    let (status, body) = two
        .admin(
            "POST",
            &format!("/admin/rooms/{room}/members"),
            Some(json!({"user": carl_id})),
        )
        .await;
    assert!(status < 300, "{status} {body}");
    let mut carl = one.connect(&carl_token).await;
    carl.ok(json!({"type":"join","room":room})).await;
    carl.ok(json!({"type":"send","room":room,"body":"carl here"}))
        .await;
    assert_eq!(amy.event("message").await["message"]["seq"], 3);

    // Stats count both nodes (the other node's figures come with its heartbeat).
    let mut connections = 0;
    for _ in 0..50 {
        let (_, stats) = two.admin("GET", "/admin/stats", None).await;
        connections = stats["connections"].as_i64().unwrap_or_default();
        if connections == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        connections, 2,
        "amy and carl, both on node one, seen from node two"
    );
}

#[actix_rt::test]
async fn concurrent_senders_on_three_nodes_see_one_gapless_order() {
    let Some(cluster) = Cluster::start(3, FAST).await else {
        return;
    };
    const EACH: i64 = 60;
    let nodes = &cluster.nodes;
    let mut users = Vec::new();
    for name in ["amy", "bob", "cat"] {
        users.push(nodes[0].user(name).await);
    }
    let ids: Vec<&String> = users.iter().map(|(id, _)| id).collect();
    let mut owner = nodes[0].connect(&users[0].1).await;
    let room = room_id(
        &owner
            .ok(json!({"type":"create_group","name":"race","members":ids}))
            .await,
    );
    // One watcher and one sender per node.
    let mut watchers = Vec::new();
    for (node, (_, token)) in nodes.iter().zip(&users) {
        let mut watcher = node.connect(token).await;
        watcher.ok(json!({"type":"join","room":room})).await;
        watchers.push(watcher);
    }
    let mut senders = Vec::new();
    for (n, (node, (_, token))) in nodes.iter().zip(&users).enumerate() {
        let mut sender = node.connect(token).await;
        let room = room.clone();
        senders.push(actix_rt::spawn(async move {
            for i in 0..EACH {
                sender
                    .ok(json!({"type":"send","room":room,"body":format!("{n}:{i}"),"client_msg_id":format!("{n}-{i}")}))
                    .await;
            }
        }));
    }
    for sender in senders {
        sender.await.expect("sender");
    }
    let total = EACH * 3;
    let expected: Vec<i64> = (1..=total).collect();
    for (n, watcher) in watchers.iter_mut().enumerate() {
        assert_eq!(
            seqs_until(watcher, total).await,
            expected,
            "the watcher on node {} sees every message once, in seq order",
            n + 1
        );
        watcher
            .assert_no_event(&["presence", "typing", "read"])
            .await;
    }
    assert_eq!(seqs(&nodes[2].all_messages(&room).await), expected);
}

#[actix_rt::test]
async fn a_node_killed_mid_run_loses_no_acked_message() {
    let Some(mut cluster) = Cluster::start(3, FAST).await else {
        return;
    };
    let mut users = Vec::new();
    for name in ["s1", "s2", "s3", "s4", "s5", "s6", "watch"] {
        users.push(cluster.nodes[0].user(name).await);
    }
    let ids: Vec<&String> = users.iter().map(|(id, _)| id).collect();
    let mut setup = cluster.connect(&users[6].1).await;
    let room = room_id(
        &setup
            .ok(json!({"type":"create_group","name":"crash","members":ids}))
            .await,
    );
    setup.close().await;

    // Six senders through nginx: round robin spreads them over the three nodes. Those on
    // the surviving nodes stop when told, a little after the kill.
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (n, (_, token)) in users.iter().take(6).enumerate() {
        let url = cluster.ws_url(token);
        let room = room.clone();
        let stop = stop.clone();
        tasks.push(actix_rt::spawn(async move {
            let name = format!("s{}", n + 1);
            let mut client = Client::connect(&url).await;
            let (mut acked, cut) = client
                .send_until_gone(&room, &name, 0..100_000, &stop)
                .await;
            let Some(cut) = cut else {
                return acked;
            };
            // Cut off by the kill: reconnect through nginx (to a live node), send the
            // unanswered one again (stored at most once), then a few more.
            let mut client = Client::connect(&url).await;
            let n: usize = cut
                .rsplit('-')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(acked.len());
            let (again, cut) = client
                .send_until_gone(&room, &name, n..n + 20, &AtomicBool::new(false))
                .await;
            assert!(cut.is_none(), "the other nodes stay up");
            acked.extend(again);
            acked
        }));
    }
    // A watcher on each node; the one on the killed node resumes with after_seq.
    let mut watchers = Vec::new();
    for node in &cluster.nodes {
        let mut watcher = node.connect(&users[6].1).await;
        watcher.ok(json!({"type":"join","room":room})).await;
        watchers.push(watcher);
    }
    while watchers[1].event("message").await["message"]["seq"].as_i64() < Some(300) {}
    let mut seen_by_victim = Vec::new();
    loop {
        match watchers[0].receive().await {
            Received::Frame(frame) if frame["type"] == "message" => {
                seen_by_victim.push(frame["message"]["seq"].as_i64().expect("seq"));
                if seen_by_victim.len() >= 50 {
                    break;
                }
            }
            Received::Frame(_) => {}
            Received::Closed(code) => panic!("watcher closed early: {code:?}"),
        }
    }
    // kill -9 node one by its pid; stop nginx from sending anyone there.
    let victim = cluster.nodes[0].pid();
    std::process::Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .expect("kill -9");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked: Vec<(String, i64)> = Vec::new();
    for task in tasks {
        acked.extend(task.await.expect("sender task"));
    }
    let survivor = &cluster.nodes[1];
    let stored = survivor.all_messages(&room).await;
    let total = stored.len() as i64;
    assert_eq!(seqs(&stored), (1..=total).collect::<Vec<_>>(), "gapless");
    let stored_ids: BTreeMap<String, i64> = stored
        .iter()
        .map(|message| {
            (
                message["client_msg_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                message["seq"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        stored_ids.len() as i64,
        total,
        "each client_msg_id stored once"
    );
    for (client_msg_id, seq) in &acked {
        assert_eq!(
            stored_ids.get(client_msg_id),
            Some(seq),
            "acked {client_msg_id} is stored with its seq"
        );
    }
    // The victim's watcher was cut off: it reconnects through nginx and resumes.
    let mut last_seen = *seen_by_victim.last().unwrap_or(&0);
    loop {
        match watchers[0].receive().await {
            Received::Frame(frame) if frame["type"] == "message" => {
                last_seen = frame["message"]["seq"].as_i64().expect("seq");
            }
            Received::Frame(_) => {}
            Received::Closed(_) => break,
        }
    }
    let mut resumed = cluster.connect(&users[6].1).await;
    let mut missed: Vec<i64> = Vec::new();
    loop {
        let after = missed.last().copied().unwrap_or(last_seen);
        let joined = resumed
            .ok(json!({"type":"join","room":room,"after_seq":after,"limit":200}))
            .await;
        missed.extend(seqs(joined["messages"].as_array().expect("messages")));
        if joined["has_more"] != true {
            break;
        }
    }
    assert_eq!(
        missed,
        ((last_seen + 1)..=total).collect::<Vec<_>>(),
        "exactly what the watcher missed, in order"
    );
    // The other watchers saw everything once, in order.
    for watcher in &mut watchers[1..] {
        let mut seen = seqs_until(watcher, total).await;
        seen.retain(|seq| *seq > 300);
        assert_eq!(seen, (301..=total).collect::<Vec<_>>());
    }
    eprintln!(
        "kill -9 of a node: {} acked, {} stored, {} delivered to the resumed watcher, 0 lost",
        acked.len(),
        total,
        missed.len() as i64 + last_seen
    );
    drop(cluster.nodes.remove(0));
}

#[actix_rt::test]
async fn a_redis_restart_loses_and_repeats_nothing() {
    let Some(mut cluster) = Cluster::start(2, FAST).await else {
        return;
    };
    let (amy_id, amy_token) = cluster.nodes[0].user("amy").await;
    let (bob_id, bob_token) = cluster.nodes[0].user("bob").await;
    let mut amy = cluster.nodes[0].connect(&amy_token).await;
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"redis","members":[bob_id]}))
            .await,
    );
    amy.ok(json!({"type":"join","room":room})).await;
    let mut bob = cluster.nodes[1].connect(&bob_token).await;
    bob.ok(json!({"type":"join","room":room})).await;
    let _ = amy_id;
    let mut seq = 0;
    for round in 0..3 {
        for _ in 0..30 {
            let sent = bob
                .ok(json!({"type":"send","room":room,"body":format!("round {round}")}))
                .await;
            seq = sent["message"]["seq"].as_i64().expect("seq");
        }
        if round == 0 {
            cluster.redis.kill();
        }
        if round == 1 {
            cluster.redis.restart();
        }
    }
    // Sent before, during and after the outage: amy (node one) gets every one, once, in
    // order, by herself (the room checks the store while Redis is away and after).
    assert_eq!(
        seqs_until(&mut amy, seq).await,
        (1..=seq).collect::<Vec<_>>()
    );
    // And delivery over Redis resumed: a new message arrives.
    bob.ok(json!({"type":"send","room":room,"body":"after"}))
        .await;
    assert_eq!(amy.event("message").await["message"]["seq"], seq + 1);
    amy.assert_no_event(&["presence", "typing", "read"]).await;
}

#[actix_rt::test]
async fn revocation_on_one_node_closes_the_user_everywhere_with_4001() {
    let Some(cluster) = Cluster::start(3, &[]).await else {
        return;
    };
    let (amy_id, amy_token) = cluster.nodes[0].user("amy").await;
    let mut connections = Vec::new();
    for node in &cluster.nodes {
        connections.push(node.connect(&amy_token).await);
    }
    // Let the subscriptions to amy's channel settle on every node.
    for connection in &mut connections {
        connection.ok(json!({"type":"ping"})).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = cluster.nodes[1]
        .admin("DELETE", &format!("/admin/users/{amy_id}/tokens"), None)
        .await;
    assert!(status < 300, "{status} {body}");
    let mut codes = HashSet::new();
    for connection in &mut connections {
        codes.insert(connection.closed().await);
    }
    assert_eq!(
        codes,
        HashSet::from([Some(4001)]),
        "every node closed amy with 4001"
    );
}

#[test]
fn redis_with_sqlite_is_refused_in_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args(["--bind", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite://{}", dir.path().join("p.db").display()))
        .args(["--redis-url", "redis://127.0.0.1:1"])
        .output()
        .expect("run palaver");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|line| !line.is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("needs a postgres://"), "{stderr}");
    assert!(
        !dir.path().join("p.db").exists(),
        "refused before anything was created"
    );
}

#[actix_rt::test]
async fn a_bot_answers_each_message_once_whichever_node_stored_it() {
    let Some(cluster) = Cluster::start(2, &[]).await else {
        return;
    };
    let (_, token) = cluster.nodes[0].user("amy").await;
    // amy opens the demo bot's room on node two, and follows it from node one too.
    let mut on_two = cluster.nodes[1].connect(&token).await;
    let opened = on_two.ok(json!({"type":"open_bot","bot":"mathbot"})).await;
    let room = room_id(&opened);
    on_two.ok(json!({"type":"join","room":room})).await;
    let mut on_one = cluster.nodes[0].connect(&token).await;
    on_one.ok(json!({"type":"join","room":room})).await;
    // The greeting (two messages) first, so that it is not taken for an answer.
    for _ in 0..100 {
        if cluster.nodes[0].all_messages(&room).await.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A message through each node: each is answered once, by the node that stored it.
    on_one
        .ok(json!({"type":"send","room":room,"body":"hello from one"}))
        .await;
    on_two
        .ok(json!({"type":"send","room":room,"body":"hello from two"}))
        .await;
    let mut kinds = Vec::new();
    for _ in 0..100 {
        let stored = cluster.nodes[0].all_messages(&room).await;
        kinds = stored
            .iter()
            .map(|message| message["sender"]["kind"].as_str().unwrap_or("").to_string())
            .collect();
        let users = kinds.iter().filter(|kind| *kind == "user").count();
        let answers = kinds
            .iter()
            .skip_while(|kind| *kind != "user")
            .filter(|kind| *kind == "bot")
            .count();
        if users == 2 && answers >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Settle, then check nothing more came.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let stored = cluster.nodes[1].all_messages(&room).await;
    let after: Vec<String> = stored
        .iter()
        .map(|message| message["sender"]["kind"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(after, kinds, "no second answer later");
    let tail: Vec<&str> = after
        .iter()
        .skip_while(|kind| *kind != "user")
        .map(String::as_str)
        .collect();
    assert_eq!(tail.iter().filter(|kind| **kind == "user").count(), 2);
    assert_eq!(
        tail.iter().filter(|kind| **kind == "bot").count(),
        2,
        "one answer per user message: {after:?}"
    );
}

/// A bot put, replaced or deleted through one node's admin API is the same on every node at
/// once: a user on the other node opens it, is greeted by the new definition, and after the
/// delete cannot open it there either. No restart.
#[actix_rt::test]
async fn a_bot_changed_through_one_node_changes_on_every_node() {
    let Some(cluster) = Cluster::start(2, &[]).await else {
        return;
    };
    let (_, token) = cluster.nodes[0].user("amy").await;
    let greeter = |text: &str| {
        json!({
            "name": "Greeter", "sort": "scripted", "fallback": "Say hi.",
            "script": {"start": "a", "states": {
                "a": {"say": [{"kind":"text","text":text}], "on": [{"goto":"a"}]}
            }}
        })
    };
    let mut on_two = cluster.nodes[1].connect(&token).await;
    // Until a node hears of the bot, open_bot there is not_found; it must hear within moments.
    async fn opens(client: &mut Client) -> Option<String> {
        for _ in 0..50 {
            let reply = client
                .request(json!({"type":"open_bot","bot":"greeter"}))
                .await;
            if reply["type"] == "ok" {
                return Some(room_id(&reply["data"]));
            }
            assert_eq!(reply["code"], "not_found", "{reply}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
    async fn greeting(cluster: &Cluster, room: &str) -> String {
        for _ in 0..50 {
            let stored = cluster.nodes[0].all_messages(room).await;
            if let Some(first) = stored.iter().find(|m| m["sender"]["kind"] == "bot") {
                return first["body"].as_str().unwrap_or_default().to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no greeting in {room}")
    }
    let (status, body) = cluster.nodes[0]
        .admin("PUT", "/admin/bots/greeter", Some(greeter("first words")))
        .await;
    assert_eq!(status, 201, "{body}");
    let room = opens(&mut on_two).await.expect("node two runs the new bot");
    assert_eq!(greeting(&cluster, &room).await, "first words");

    let (status, body) = cluster.nodes[0]
        .admin("PUT", "/admin/bots/greeter", Some(greeter("second words")))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, listed) = cluster.nodes[1].admin("GET", "/admin/bots", None).await;
    assert_eq!(status, 200);
    let mut replaced = false;
    for _ in 0..50 {
        let (_, listed) = cluster.nodes[1].admin("GET", "/admin/bots", None).await;
        let greeter = listed["bots"]
            .as_array()
            .and_then(|bots| bots.iter().find(|bot| bot["id"] == "greeter").cloned());
        if greeter.is_some_and(|bot| bot.to_string().contains("second words")) {
            replaced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(replaced, "node two lists the replaced definition: {listed}");
    // The list is the store's (issue 20 item 2): node two answers with the new definition
    // once it has heard of it. Each turn says the state's text; a turn it took with the old
    // definition says the old one, and the next is tried.
    let bot_bodies = |messages: Vec<Value>| -> Vec<String> {
        messages
            .iter()
            .filter(|message| message["sender"]["kind"] == "bot")
            .filter_map(|message| message["body"].as_str().map(str::to_string))
            .collect()
    };
    let mut said = bot_bodies(cluster.nodes[0].all_messages(&room).await);
    for turn in 0..20 {
        if said.last().is_some_and(|body| body == "second words") {
            break;
        }
        on_two
            .ok(json!({"type":"send","room":room,"body":format!("turn {turn}")}))
            .await;
        let before = said.len();
        for _ in 0..50 {
            said = bot_bodies(cluster.nodes[0].all_messages(&room).await);
            if said.len() > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(
        said.last().map(String::as_str),
        Some("second words"),
        "node two runs the replaced definition: {said:?}"
    );

    let (status, _) = cluster.nodes[0]
        .admin("DELETE", "/admin/bots/greeter", None)
        .await;
    assert_eq!(status, 204);
    let mut gone = false;
    for _ in 0..50 {
        let (_, listed) = cluster.nodes[1].admin("GET", "/admin/bots", None).await;
        if !listed.to_string().contains("\"greeter\"") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "node two lists the bot no more");
    // The list is the store's (issue 20 item 2); node two stops the bot when it hears of
    // the change, within moments.
    let mut stopped = false;
    for _ in 0..50 {
        let reply = on_two
            .request(json!({"type":"open_bot","bot":"greeter"}))
            .await;
        if reply["code"] == "not_found" {
            stopped = true;
            break;
        }
        assert_eq!(reply["type"], "ok", "{reply}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stopped, "node two stopped the deleted bot");
}

/// A read on one node moves the reader's position in the room on the other node too: the
/// room as joined there shows it (no unread left), and the other node's connections get the
/// `read` event once.
#[actix_rt::test]
async fn a_read_on_one_node_moves_the_position_on_every_node() {
    let Some(cluster) = Cluster::start(2, &[]).await else {
        return;
    };
    let (_, amy_token) = cluster.nodes[0].user("amy").await;
    let (bob_id, bob_token) = cluster.nodes[0].user("bob").await;
    let mut amy_one = cluster.nodes[0].connect(&amy_token).await;
    let room = room_id(
        &amy_one
            .ok(json!({"type":"create_group","name":"reads","members":[bob_id]}))
            .await,
    );
    amy_one.ok(json!({"type":"join","room":room})).await;
    let mut bob_one = cluster.nodes[0].connect(&bob_token).await;
    bob_one.ok(json!({"type":"join","room":room})).await;
    for n in 0..3 {
        amy_one
            .ok(json!({"type":"send","room":room,"body":format!("m{n}")}))
            .await;
    }
    // bob reads on node two, where the room is another actor.
    let mut bob_two = cluster.nodes[1].connect(&bob_token).await;
    let joined = bob_two.ok(json!({"type":"join","room":room})).await;
    assert_eq!(joined["room"]["last_seq"], 3, "{joined}");
    bob_two.ok(json!({"type":"read","room":room,"seq":3})).await;
    let read = amy_one.event("read").await;
    assert_eq!(read["seq"], 3, "{read}");
    // Node one's room knows: joining again there shows nothing unread.
    let mut shown = Value::Null;
    for _ in 0..50 {
        shown = bob_one.ok(json!({"type":"join","room":room})).await;
        if shown["room"]["read_seq"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown["room"]["read_seq"], 3, "{shown}");
    assert_eq!(shown["room"]["unread"], 0, "{shown}");
}

/// A counter of a node's `/metrics` (summed over its labels).
async fn counter(node: &common::Server, name: &str) -> f64 {
    let (status, text) = node.admin("GET", "/metrics", None).await;
    assert_eq!(status, 200, "{text}");
    text.as_str()
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with(name))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Frames `client` gets until one of type `kind`, while `nudge` is repeated (a `typing`
/// from another connection, say) every 300 ms; at most 20 s. Returns the frames before it.
async fn until_event(
    client: &mut Client,
    kind: &str,
    nudge: &mut Client,
    command: &Value,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut before = Vec::new();
    loop {
        nudge.ok(command.clone()).await;
        let round = std::time::Instant::now() + Duration::from_millis(300);
        loop {
            let left = round.saturating_duration_since(std::time::Instant::now());
            match tokio::time::timeout(left, client.receive()).await {
                Ok(Received::Frame(frame)) if frame["type"] == kind => return before,
                Ok(Received::Frame(frame)) => before.push(frame),
                Ok(Received::Closed(code)) => panic!("closed ({code:?}) waiting for {kind}"),
                Err(_) => break,
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {kind} in 20 s: {before:?}"
        );
    }
}

/// The next event of type `kind` (others before it are dropped), within 15 s whatever else
/// keeps coming.
async fn event_within(client: &mut Client, kind: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(15), client.event(kind))
        .await
        .unwrap_or_else(|_| panic!("no {kind} event within 15 s"))
}

/// Asks `client`'s node to open the `greeter` bot every 100 ms until it does (`runs`) or
/// answers `not_found` (not `runs`); at most 15 s.
async fn opens_greeter_within_15_s(client: &mut Client, runs: bool, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let reply = client
            .request(json!({"type":"open_bot","bot":"greeter"}))
            .await;
        let opened = reply["type"] == "ok";
        assert!(opened || reply["code"] == "not_found", "{reply}");
        if opened == runs {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A healthy bus stays subscribed (pinged every 20 ms here), and after a real Redis restart
/// every kind of event crosses again, while what changed during the outage is caught up from
/// the store (membership, read positions, bots) and from Redis (presence, written again).
#[actix_rt::test]
async fn every_kind_of_event_survives_a_redis_restart() {
    let flags = ["--redis-ping-ms", "20", "--authz-sweep-ms", "500"];
    let Some(mut cluster) = Cluster::start(2, &flags).await else {
        return;
    };
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let (_, amy_token) = one.user("amy").await;
    let (bob_id, bob_token) = one.user("bob").await;
    let (carl_id, carl_token) = one.user("carl").await;
    let (dave_id, dave_token) = one.user("dave").await;
    // Node two's running bots, as its users find them (GET /admin/bots is the store's).
    let (_, eve_token) = one.user("eve").await;
    let mut amy = one.connect(&amy_token).await;
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"restart","members":[bob_id, dave_id]}))
            .await,
    );
    let mut bob = two.connect(&bob_token).await;
    let mut bob_laptop = one.connect(&bob_token).await;
    let mut dave = two.connect(&dave_token).await;
    let mut eve = two.connect(&eve_token).await;
    for client in [&mut amy, &mut bob, &mut bob_laptop, &mut dave] {
        client.ok(json!({"type":"join","room":room})).await;
    }
    amy.ok(json!({"type":"send","room":room,"body":"m1"})).await;
    assert_eq!(
        event_within(&mut bob, "message").await["message"]["body"],
        "m1"
    );

    // Healthy: ~100 pings a node, no reconnect.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for node in [one, two] {
        assert_eq!(counter(node, "palaver_bus_reconnects_total").await, 0.0);
    }

    // Redis goes away; meanwhile, on node one: bob reads on his laptop, amy invites carl,
    // carl comes online there, and a bot is installed.
    cluster.redis.kill();
    let one = &cluster.nodes[0];
    bob_laptop
        .ok(json!({"type":"read","room":room,"seq":1}))
        .await;
    amy.ok(json!({"type":"invite","room":room,"user":carl_id}))
        .await;
    let carl = one.connect(&carl_token).await;
    let greeter = json!({
        "name": "Greeter", "sort": "scripted", "fallback": "Say hi.",
        "script": {"start": "a", "states": {"a": {"say": [{"kind":"text","text":"hello"}], "on": []}}}
    });
    let (status, body) = one
        .admin("PUT", "/admin/bots/greeter", Some(greeter.clone()))
        .await;
    assert_eq!(status, 201, "{body}");
    // Long enough for node one to give up publishing all that (a Redis command may take
    // 2 s, and a publish is tried a few times over about as long): it is lost.
    tokio::time::sleep(Duration::from_secs(5)).await;
    cluster.redis.restart();
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);

    // Typing crosses again once node two has subscribed anew.
    let typing = json!({"type":"typing","room":room});
    let mut seen = until_event(&mut bob, "typing", &mut amy, &typing).await;
    assert!(counter(two, "palaver_bus_reconnects_total").await >= 1.0);
    // Membership, caught up from the store: carl joined (node two's reload told bob).
    if !seen
        .iter()
        .any(|frame| frame["type"] == "member_joined" && frame["user"]["id"] == carl_id.as_str())
    {
        let joined = event_within(&mut bob, "member_joined").await;
        assert_eq!(joined["user"]["id"], carl_id.as_str(), "{seen:?}");
    }
    // Presence, written again to Redis by node one and read by node two.
    if !seen.iter().any(|frame| {
        frame["type"] == "presence"
            && frame["user"]["id"] == carl_id.as_str()
            && frame["online"] == true
    }) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let presence = event_within(&mut bob, "presence").await;
            if presence["user"]["id"] == carl_id.as_str() && presence["online"] == true {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "carl not online in 15 s"
            );
        }
    }
    seen.clear();
    // The read position bob moved on node one during the outage, from the store.
    let joined = bob.ok(json!({"type":"join","room":room})).await;
    assert_eq!(joined["room"]["read_seq"], 1, "{joined}");
    // The bot installed during the outage runs on node two too.
    opens_greeter_within_15_s(&mut eve, true, "node two runs the greeter").await;

    // And live, every kind: messages, read, membership, presence, revocation, bot changes.
    amy.ok(json!({"type":"send","room":room,"body":"m2"})).await;
    assert_eq!(
        event_within(&mut bob, "message").await["message"]["body"],
        "m2"
    );
    bob_laptop
        .ok(json!({"type":"read","room":room,"seq":2}))
        .await;
    // (amy heard the read of seq 1 when it was made: she is on node one too.)
    for client in [&mut amy, &mut bob] {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "no read of seq 2 in 15 s"
            );
            let read = event_within(client, "read").await;
            assert_eq!(read["user"]["id"], bob_id.as_str());
            if read["seq"] == 2 {
                break;
            }
        }
    }
    amy.ok(json!({"type":"kick","room":room,"user":carl_id}))
        .await;
    let left = event_within(&mut bob, "member_left").await;
    assert_eq!(left["user"]["id"], carl_id.as_str());
    carl.close().await;
    let (status, body) = one
        .admin("DELETE", &format!("/admin/users/{dave_id}/tokens"), None)
        .await;
    assert_eq!(status, 204, "{body}");
    let closed = tokio::time::timeout(Duration::from_secs(15), dave.closed()).await;
    assert_eq!(closed.ok().flatten(), Some(4001));
    let (status, body) = one.admin("DELETE", "/admin/bots/greeter", None).await;
    assert!(status < 300, "{status} {body}");
    opens_greeter_within_15_s(&mut eve, false, "node two stops the greeter").await;
    // No reconnect since the restart: the bus stayed subscribed.
    let reconnects = counter(two, "palaver_bus_reconnects_total").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        counter(two, "palaver_bus_reconnects_total").await,
        reconnects
    );
}
