//! End-to-end: every client command and server event of docs/protocol.md sections 4 and 5, over
//! real WebSockets against the real server, on both backends.

mod common;

use common::{room_id, Backend, Database, Server};
use serde_json::json;

async fn direct_chat(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let mut amy = server.connect(&amy_token).await;
    let mut bob = server.connect(&bob_token).await;
    assert_eq!(amy.hello["protocol"], 1);
    assert_eq!(amy.hello["user"]["id"], amy_id.as_str());
    assert_eq!(amy.hello["heartbeat_s"], 10);

    let opened = amy.ok(json!({"type":"open_direct","user":bob_id})).await;
    let room = room_id(&opened);
    assert_eq!(opened["room"]["kind"], "direct");
    assert_eq!(opened["room"]["name"], "bob");
    assert_eq!(opened["room"]["owner"], json!(null));
    assert_eq!(opened["room"]["public"], false);
    assert_eq!(opened["room"]["members_count"], 2);
    assert_eq!(opened["room"]["last_seq"], 0);
    let added = bob.event("room_added").await;
    assert_eq!(added["room"]["id"], room.as_str());
    assert_eq!(added["room"]["name"], "amy");
    let again = bob.ok(json!({"type":"open_direct","user":amy_id})).await;
    assert_eq!(
        room_id(&again),
        room,
        "the same pair always gets the same room"
    );

    let joined = amy.ok(json!({"type":"join","room":room})).await;
    assert_eq!(joined["messages"], json!([]));
    assert_eq!(joined["has_more"], false);
    assert_eq!(joined["members"].as_array().map(Vec::len), Some(2));
    bob.ok(json!({"type":"join","room":room})).await;

    let reply = amy
        .request(json!({"type":"send","room":room,"body":"hi bob","client_msg_id":"c-1"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let message = &reply["data"]["message"];
    assert_eq!(message["seq"], 1);
    assert_eq!(message["body"], "hi bob");
    assert_eq!(message["sender"]["id"], amy_id.as_str());
    assert_eq!(message["client_msg_id"], "c-1");
    assert!(
        message["ts"]
            .as_str()
            .is_some_and(|ts| ts.ends_with('Z') && ts.len() == 24),
        "{message}"
    );
    let own = amy.event("message").await;
    assert_eq!(
        own["message"], *message,
        "the sender's connection gets its own message after the ok"
    );
    let got = bob.event("message").await;
    assert_eq!(got["message"], *message);

    let read = bob.ok(json!({"type":"read","room":room,"seq":1})).await;
    assert_eq!(read["read_seq"], 1);
    let event = amy.event("read").await;
    assert_eq!(event["seq"], 1);
    assert_eq!(event["user"]["id"], bob_id.as_str());

    bob.ok(json!({"type":"typing","room":room})).await;
    let typing = amy.event("typing").await;
    assert_eq!(typing["user"]["id"], bob_id.as_str());
    assert_eq!(typing["room"], room.as_str());

    let own = amy.ok(json!({"type":"rooms"})).await;
    assert_eq!(
        own["rooms"][0]["read_seq"], 1,
        "sending moves the sender's read position"
    );
    assert_eq!(own["rooms"][0]["unread"], 0);
    let rooms = bob.ok(json!({"type":"rooms"})).await;
    assert_eq!(rooms["rooms"][0]["last_seq"], 1);
    assert_eq!(rooms["rooms"][0]["read_seq"], 1);
    assert_eq!(rooms["rooms"][0]["unread"], 0);
}
on_every_deployment!(direct_chat);

async fn pipelined_sends_are_answered_in_order(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--rate", "10000", "--burst", "10000"]).await;
    let (_, amy_token) = server.user("amy").await;
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(&amy.ok(json!({"type":"create_group","name":"pipes"})).await);
    let other = room_id(&amy.ok(json!({"type":"create_group","name":"other"})).await);
    amy.ok(json!({"type":"join","room":room})).await;
    // Sends go out back to back without waiting; a history and a send to another room are
    // mixed in, and one send is bad.
    for n in 0..60 {
        let frame = match n {
            20 => json!({"type":"history","id":n,"room":room,"limit":5}),
            30 => json!({"type":"send","id":n,"room":other,"body":"elsewhere"}),
            40 => json!({"type":"send","id":n,"room":"r_999999","body":"nowhere"}),
            _ => json!({"type":"send","id":n,"room":room,"body":format!("m{n}")}),
        };
        amy.send(frame).await;
    }
    let mut seqs = Vec::new();
    for n in 0..60 {
        let reply = amy.reply_to(json!(n)).await;
        match n {
            20 => assert_eq!(
                reply["data"]["messages"].as_array().map(Vec::len),
                Some(5),
                "{reply}"
            ),
            40 => assert_eq!(reply["code"], "not_found", "{reply}"),
            30 => assert_eq!(reply["data"]["message"]["seq"], 1),
            _ => seqs.push(reply["data"]["message"]["seq"].as_i64().expect("seq")),
        }
    }
    assert_eq!(
        seqs,
        (1..=57).collect::<Vec<i64>>(),
        "seq follows the order of the sends"
    );
    let mut events = Vec::new();
    while events.len() < 57 {
        let event = amy.event("message").await;
        if event["message"]["room"] == room.as_str() {
            events.push(event["message"]["seq"].as_i64().expect("seq"));
        }
    }
    assert_eq!(events, seqs, "every message event, in seq order");
}
on_every_deployment!(pipelined_sends_are_answered_in_order);
