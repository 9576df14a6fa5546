//! End-to-end: conversations (docs/protocol.md section 11) on SQLite, PostgreSQL and a
//! two-node cluster (where the members of a room sit on different nodes): `send` with
//! `reply_to` and `mentions`, `edit`, `delete`, `react` and their `message_updated` events,
//! the Room fields, `changes` after a reconnect, `search`, the admin API's delete, every
//! refusal (which stores nothing), and a restart.

mod common;

use common::world::{World, AMY, BOB, CAROL};
use common::{room_id, Backend, Client};
use serde_json::{json, Value};

impl World {
    /// amy's private group with bob (carol is not in it), joined by both.
    async fn group(&self, amy: &mut Client, bob: &mut Client) -> String {
        let room = room_id(
            &amy.ok(json!({"type":"create_group","name":"algebra","members":[self.ids[BOB]]}))
                .await,
        );
        amy.ok(json!({"type":"join","room":room})).await;
        bob.ok(json!({"type":"join","room":room})).await;
        room
    }
}

async fn send(client: &mut Client, room: &str, body: &str) -> Value {
    client
        .ok(json!({"type":"send","room":room,"body":body}))
        .await["message"]
        .clone()
}

/// The next `message_updated` event.
async fn updated(client: &mut Client) -> Value {
    client.event("message_updated").await
}

fn id(message: &Value) -> String {
    message["id"].as_str().expect("message id").to_string()
}

async fn replies_and_mentions_are_stored_with_the_message_and_shown_everywhere(backend: Backend) {
    let w = World::three(backend).await;
    let (mut amy, mut bob) = (w.connect(AMY).await, w.connect(BOB).await);
    let room = w.group(&mut amy, &mut bob).await;
    let question = send(&mut amy, &room, "삼각형의 넓이는 어떻게 구하나요?").await;
    assert_eq!(question["reply_to"], Value::Null);
    assert_eq!(question["mentions"], json!([]));
    assert_eq!(
        (&question["edited"], &question["deleted"], &question["rev"]),
        (&Value::Null, &json!(false), &json!(0))
    );
    assert_eq!(question["reactions"], json!([]));

    let answer = bob
        .ok(json!({"type":"send","room":room,"body":"밑변 × 높이 ÷ 2",
            "reply_to":id(&question),"mentions":[w.ids[AMY], w.ids[AMY]]}))
        .await["message"]
        .clone();
    assert_eq!(answer["reply_to"]["id"], question["id"]);
    assert_eq!(answer["reply_to"]["seq"], question["seq"]);
    assert_eq!(answer["reply_to"]["sender"]["id"], w.ids[AMY].as_str());
    assert_eq!(answer["reply_to"]["excerpt"], question["body"]);
    assert_eq!(answer["mentions"], json!([w.ids[AMY]]), "each user once");
    // The event carries the same, on every node.
    let mut event = amy.event("message").await["message"].clone();
    while event["id"] != answer["id"] {
        event = amy.event("message").await["message"].clone();
    }
    assert_eq!(event["reply_to"], answer["reply_to"]);
    assert_eq!(event["mentions"], answer["mentions"]);

    // Refusals store nothing.
    let before = w.server.all_messages(&room).await.len();
    let created = amy.ok(json!({"type":"create_group","name":"other"})).await;
    assert_eq!(
        (
            &created["room"]["last_rev"],
            &created["room"]["mentions_unread"],
            &created["room"]["last_message"]
        ),
        (&json!(0), &json!(0), &Value::Null),
        "an empty room: {created}"
    );
    let other = room_id(&created);
    let elsewhere = send(&mut amy, &other, "elsewhere").await;
    let refused = [
        (json!({"reply_to": id(&elsewhere)}), "not_found"),
        (
            json!({"reply_to": format!("{room}_999").replace("r_", "m_")}),
            "not_found",
        ),
        (json!({"reply_to": "m_nope"}), "not_found"),
        (json!({"mentions": [w.ids[CAROL]]}), "bad_request"),
        (json!({"mentions": ["u_999999"]}), "bad_request"),
        (json!({"mentions": ["mathbot"]}), "bad_request"),
        (
            json!({"mentions": (0..21).map(|n| format!("u_{}", n + 1000)).collect::<Vec<_>>()}),
            "bad_request",
        ),
        (json!({"mentions": "u_1"}), "bad_request"),
    ];
    for (extra, code) in refused {
        let mut command = json!({"type":"send","room":room,"body":"refused"});
        for (key, value) in extra.as_object().expect("fields") {
            command[key] = value.clone();
        }
        assert_eq!(bob.error(command.clone()).await, code, "{command}");
    }
    assert_eq!(w.server.all_messages(&room).await.len(), before);

    // history, join and the admin API show the reply and the mentions.
    let history = amy.ok(json!({"type":"history","room":room})).await;
    let last = history["messages"]
        .as_array()
        .expect("messages")
        .last()
        .cloned();
    assert_eq!(
        last.as_ref().map(|m| &m["reply_to"]),
        Some(&answer["reply_to"])
    );
    let joined = bob
        .ok(json!({"type":"join","room":room,"after_seq":0}))
        .await;
    assert_eq!(joined["messages"][1]["mentions"], json!([w.ids[AMY]]));
    let stored = w.server.all_messages(&room).await;
    assert_eq!(stored[1]["reply_to"]["id"], question["id"]);

    // The room list: amy has one unread mention; the last message is bob's answer.
    let rooms = amy.ok(json!({"type":"rooms"})).await;
    let listed = rooms["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|listed| listed["id"] == room.as_str())
        .cloned()
        .expect("the room is listed");
    assert_eq!(listed["mentions_unread"], 1);
    assert_eq!(listed["last_message"]["id"], answer["id"]);
    assert_eq!(listed["last_rev"], 0);
    let empty = rooms["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|listed| listed["id"] == other.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(empty["last_message"]["id"], elsewhere["id"]);
    // Reading up to the mention clears it; bob's own send does not count for him.
    amy.ok(json!({"type":"read","room":room,"seq":answer["seq"]}))
        .await;
    let rooms = amy.ok(json!({"type":"rooms"})).await;
    let listed = rooms["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|listed| listed["id"] == room.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(listed["mentions_unread"], 0);

    // The admin API's room, and the Room a new member is told of, show the last message.
    let (status, shown) = w
        .server
        .admin("GET", &format!("/admin/rooms/{room}"), None)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["room"]["last_message"]["id"], answer["id"]);
    let mut carol = w.connect(CAROL).await;
    amy.ok(json!({"type":"invite","room":room,"user":w.ids[CAROL]}))
        .await;
    let added = carol.event("room_added").await;
    assert_eq!(added["room"]["id"], room.as_str());
    assert_eq!(added["room"]["last_message"]["id"], answer["id"]);
    assert_eq!(
        added["room"]["last_message"]["reply_to"],
        answer["reply_to"]
    );
}
on_every_deployment!(replies_and_mentions_are_stored_with_the_message_and_shown_everywhere);

async fn edits_deletes_and_reactions_take_the_next_rev_and_reach_every_joined_connection(
    backend: Backend,
) {
    let w = World::three(backend).await;
    let (mut amy, mut bob) = (w.connect(AMY).await, w.connect(BOB).await);
    let room = w.group(&mut amy, &mut bob).await;
    let first = send(&mut amy, &room, "is x=3 right?").await;
    let second = send(&mut bob, &room, "yes").await;
    bob.event("message").await;
    bob.event("message").await;
    amy.event("message").await;
    amy.event("message").await;

    // edit: the sender only; rev 1; amy's own connection gets the event after its ok.
    let edited = amy
        .ok(
            json!({"type":"edit","room":room,"message":id(&first),"body":"is x=4 right?",
            "mentions":[w.ids[BOB]]}),
        )
        .await["message"]
        .clone();
    assert_eq!(edited["body"], "is x=4 right?");
    assert_eq!(edited["rev"], 1);
    assert_eq!(edited["mentions"], json!([w.ids[BOB]]));
    assert!(edited["edited"].is_string(), "{edited}");
    for client in [&mut amy, &mut bob] {
        let event = updated(client).await;
        assert_eq!((&event["room"], &event["rev"]), (&json!(room), &json!(1)));
        assert_eq!(event["message"], edited);
    }
    // Absent mentions keep them; [] clears them.
    let kept = amy
        .ok(json!({"type":"edit","room":room,"message":id(&first),"body":"x=4?"}))
        .await["message"]
        .clone();
    assert_eq!(
        (&kept["rev"], &kept["mentions"]),
        (&json!(2), &json!([w.ids[BOB]]))
    );
    let cleared = amy
        .ok(json!({"type":"edit","room":room,"message":id(&first),"body":"x=4?","mentions":[]}))
        .await["message"]
        .clone();
    assert_eq!(
        (&cleared["rev"], &cleared["mentions"]),
        (&json!(3), &json!([]))
    );
    for rev in [2, 3] {
        assert_eq!(updated(&mut bob).await["rev"], rev, "in rev order");
        assert_eq!(updated(&mut amy).await["rev"], rev, "in rev order");
    }

    let snapshot = w.server.all_messages(&room).await;
    let refusals = [
        // Another member's message.
        (
            json!({"type":"edit","room":room,"message":id(&second),"body":"no"}),
            "forbidden",
        ),
        (
            json!({"type":"edit","room":room,"message":id(&first),"body":""}),
            "bad_request",
        ),
        (
            json!({"type":"edit","room":room,"message":id(&first),"body":"x".repeat(4001)}),
            "too_large",
        ),
        (
            json!({"type":"edit","room":room,"message":id(&first),"body":"x","mentions":[w.ids[CAROL]]}),
            "bad_request",
        ),
        (
            json!({"type":"edit","room":room,"message":"m_nope","body":"x"}),
            "not_found",
        ),
        (
            json!({"type":"edit","room":room,"message":format!("{}_99", room.replace("r_", "m_")),"body":"x"}),
            "not_found",
        ),
        (
            json!({"type":"react","room":room,"message":id(&first),"emoji":""}),
            "bad_request",
        ),
        (
            json!({"type":"react","room":room,"message":id(&first),"emoji":"   "}),
            "bad_request",
        ),
        (
            json!({"type":"react","room":room,"message":id(&first),"emoji":"x".repeat(17)}),
            "bad_request",
        ),
        (
            json!({"type":"react","room":room,"message":id(&first),"emoji":"👍","on":"yes"}),
            "bad_request",
        ),
        (
            json!({"type":"changes","room":room,"after_rev":-1}),
            "bad_request",
        ),
        (
            json!({"type":"changes","room":room,"after_rev":0,"limit":201}),
            "bad_request",
        ),
        (
            json!({"type":"changes","room":room,"after_rev":0,"limit":0}),
            "bad_request",
        ),
        (json!({"type":"changes","room":room}), "bad_request"),
    ];
    for (command, code) in refusals {
        assert_eq!(amy.error(command.clone()).await, code, "{command}");
    }
    // bob may not edit or delete amy's message (he does not own the group).
    let bob_edit = json!({"type":"edit","room":room,"message":id(&first),"body":"mine"});
    assert_eq!(bob.error(bob_edit).await, "forbidden");
    let bob_delete = json!({"type":"delete","room":room,"message":id(&first)});
    assert_eq!(bob.error(bob_delete).await, "forbidden");
    // carol, outside the private group, learns nothing.
    let mut carol = w.connect(CAROL).await;
    for command in [
        json!({"type":"edit","room":room,"message":id(&first),"body":"x"}),
        json!({"type":"delete","room":room,"message":id(&first)}),
        json!({"type":"react","room":room,"message":id(&first),"emoji":"👍"}),
        json!({"type":"changes","room":room,"after_rev":0}),
    ] {
        assert_eq!(carol.error(command.clone()).await, "not_found", "{command}");
    }
    assert_eq!(
        w.server.all_messages(&room).await,
        snapshot,
        "refusals change nothing"
    );

    // react: once per user and emoji; `me` is each receiver's own.
    let thumbs = json!({"type":"react","room":room,"message":id(&second),"emoji":"👍"});
    let reacted = bob.ok(thumbs.clone()).await["message"].clone();
    assert_eq!(reacted["rev"], 4);
    assert_eq!(
        reacted["reactions"],
        json!([{"emoji":"👍","count":1,"me":true}])
    );
    let seen_by_amy = updated(&mut amy).await;
    assert_eq!(
        seen_by_amy["message"]["reactions"],
        json!([{"emoji":"👍","count":1,"me":false}])
    );
    assert_eq!(
        updated(&mut bob).await["message"]["reactions"][0]["me"],
        true
    );
    let again = bob.ok(thumbs.clone()).await["message"].clone();
    assert_eq!(again["rev"], 4, "the same reaction twice takes no rev");
    let off_missing =
        json!({"type":"react","room":room,"message":id(&second),"emoji":"🎉","on":false});
    assert_eq!(amy.ok(off_missing).await["message"]["rev"], 4);
    let both = amy.ok(thumbs.clone()).await["message"].clone();
    assert_eq!(
        both["reactions"],
        json!([{"emoji":"👍","count":2,"me":true}])
    );
    updated(&mut amy).await;
    updated(&mut bob).await;
    // 20 distinct emojis, then the 21st is refused.
    for n in 0..19 {
        let emoji = char::from_u32(0x1F600 + n).expect("emoji").to_string();
        amy.ok(json!({"type":"react","room":room,"message":id(&second),"emoji":emoji}))
            .await;
    }
    let full = amy
        .ok(json!({"type":"react","room":room,"message":id(&second),"emoji":"😀"}))
        .await["message"]
        .clone();
    assert_eq!(full["reactions"].as_array().map(Vec::len), Some(20));
    let rev_before = full["rev"].clone();
    let twenty_first = json!({"type":"react","room":room,"message":id(&second),"emoji":"🦊"});
    assert_eq!(amy.error(twenty_first).await, "bad_request");

    // delete: the group's owner may delete bob's message; again answers the tombstone.
    let tombstone = amy
        .ok(json!({"type":"delete","room":room,"message":id(&second)}))
        .await["message"]
        .clone();
    assert_eq!(tombstone["deleted"], true);
    assert_eq!(
        (
            &tombstone["body"],
            &tombstone["reactions"],
            &tombstone["mentions"]
        ),
        (&json!(""), &json!([]), &json!([]))
    );
    assert_eq!(tombstone["seq"], second["seq"]);
    assert_eq!(tombstone["sender"], second["sender"]);
    let rev = tombstone["rev"].as_i64().expect("rev");
    assert_eq!(rev, rev_before.as_i64().expect("rev") + 1);
    let deleted_event = updated(&mut bob).await;
    // bob's connection may first see the reactions; the tombstone is the last change.
    let mut deleted_event = deleted_event;
    while deleted_event["rev"] != rev {
        deleted_event = updated(&mut bob).await;
    }
    assert_eq!(deleted_event["message"]["deleted"], true);
    let again = amy
        .ok(json!({"type":"delete","room":room,"message":id(&second)}))
        .await["message"]
        .clone();
    assert_eq!(again["rev"], rev, "deleting a tombstone takes no rev");
    let edit_deleted = json!({"type":"edit","room":room,"message":id(&second),"body":"back"});
    assert_eq!(bob.error(edit_deleted).await, "bad_request");
    assert_eq!(
        amy.error(thumbs).await,
        "bad_request",
        "no reaction on a tombstone"
    );

    // A system message (the admin API's) cannot be edited by anyone.
    let (status, posted) = w
        .server
        .admin(
            "POST",
            &format!("/admin/rooms/{room}/messages"),
            Some(json!({"body":"notice"})),
        )
        .await;
    assert_eq!(status, 201, "{posted}");
    let system_edit =
        json!({"type":"edit","room":room,"message":posted["message"]["id"],"body":"mine"});
    assert_eq!(amy.error(system_edit).await, "forbidden");

    // The admin API deletes any message: 204, and the joined connections hear of it.
    let (status, _) = w
        .server
        .admin(
            "DELETE",
            &format!("/admin/rooms/{room}/messages/{}", id(&first)),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let mut event = updated(&mut bob).await;
    while event["rev"] != rev + 1 {
        event = updated(&mut bob).await;
    }
    assert_eq!(
        (&event["message"]["id"], &event["message"]["deleted"]),
        (&first["id"], &json!(true))
    );
    let (status, _) = w
        .server
        .admin(
            "DELETE",
            &format!("/admin/rooms/{room}/messages/{}", id(&first)),
            None,
        )
        .await;
    assert_eq!(
        status, 204,
        "deleting a deleted message again changes nothing"
    );
    let (status, body) = w
        .server
        .admin(
            "DELETE",
            &format!("/admin/rooms/{room}/messages/m_1_999999"),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = w
        .server
        .admin(
            "DELETE",
            &format!("/admin/rooms/{room}/messages/nope"),
            None,
        )
        .await;
    assert_eq!(status, 404, "an id that names no message: {body}");

    // The room shows its last rev.
    let joined = amy.ok(json!({"type":"join","room":room})).await;
    assert_eq!(joined["room"]["last_rev"], rev + 1);
}
on_every_deployment!(
    edits_deletes_and_reactions_take_the_next_rev_and_reach_every_joined_connection
);

async fn a_client_that_was_away_catches_up_with_changes(backend: Backend) {
    let w = World::three(backend).await;
    let (mut amy, mut bob) = (w.connect(AMY).await, w.connect(BOB).await);
    let room = w.group(&mut amy, &mut bob).await;
    let one = send(&mut amy, &room, "one").await;
    let two = send(&mut amy, &room, "two").await;
    let three = send(&mut amy, &room, "three").await;
    let kept_rev = bob.ok(json!({"type":"join","room":room})).await["room"]["last_rev"]
        .as_i64()
        .expect("last_rev");
    assert_eq!(kept_rev, 0);
    bob.close().await;

    // While bob is away: an edit, a delete, two reactions, a second edit of the same message.
    amy.ok(json!({"type":"edit","room":room,"message":id(&one),"body":"one!"}))
        .await;
    amy.ok(json!({"type":"delete","room":room,"message":id(&two)}))
        .await;
    amy.ok(json!({"type":"react","room":room,"message":id(&three),"emoji":"👍"}))
        .await;
    amy.ok(json!({"type":"react","room":room,"message":id(&three),"emoji":"❤️"}))
        .await;
    amy.ok(json!({"type":"edit","room":room,"message":id(&one),"body":"one!!"}))
        .await;

    let mut bob = w.connect(BOB).await;
    let caught = bob
        .ok(json!({"type":"changes","room":room,"after_rev":kept_rev}))
        .await;
    assert_eq!(caught["last_rev"], 5);
    assert_eq!(caught["has_more"], false);
    let messages = caught["messages"].as_array().expect("messages");
    let order: Vec<(Value, Value)> = messages
        .iter()
        .map(|message| (message["id"].clone(), message["rev"].clone()))
        .collect();
    assert_eq!(
        order,
        vec![
            (two["id"].clone(), json!(2)),
            (three["id"].clone(), json!(4)),
            (one["id"].clone(), json!(5)),
        ],
        "each message once, at its latest state, by rev"
    );
    assert_eq!(messages[0]["deleted"], true);
    assert_eq!(
        messages[1]["reactions"],
        json!([{"emoji":"👍","count":1,"me":false},{"emoji":"❤️","count":1,"me":false}])
    );
    assert_eq!(messages[2]["body"], "one!!");

    // Paged: one at a time, asking again after the last rev of each page.
    let mut after = kept_rev;
    let mut seen = Vec::new();
    loop {
        let page = bob
            .ok(json!({"type":"changes","room":room,"after_rev":after,"limit":1}))
            .await;
        let messages = page["messages"].as_array().expect("messages");
        if let Some(last) = messages.last() {
            after = last["rev"].as_i64().expect("rev");
            seen.push(after);
        }
        if page["has_more"] != true {
            break;
        }
    }
    assert_eq!(seen, vec![2, 4, 5]);
    let none = bob
        .ok(json!({"type":"changes","room":room,"after_rev":5}))
        .await;
    assert_eq!(
        (none["messages"].as_array().map(Vec::len), &none["last_rev"]),
        (Some(0), &json!(5))
    );
}
on_every_deployment!(a_client_that_was_away_catches_up_with_changes);

async fn search_finds_substrings_in_any_script_in_the_callers_rooms_only(backend: Backend) {
    let w = World::three(backend).await;
    let (mut amy, mut bob) = (w.connect(AMY).await, w.connect(BOB).await);
    let room = w.group(&mut amy, &mut bob).await;
    let korean = send(&mut amy, &room, "삼각형의 넓이는 밑변 곱하기 높이 나누기 2").await;
    let latin = send(&mut bob, &room, "The AREA of a Triangle").await;
    let gone = send(&mut bob, &room, "triangle to delete").await;
    let mut carol = w.connect(CAROL).await;
    let public = room_id(
        &carol
            .ok(json!({"type":"create_group","name":"open","public":true}))
            .await,
    );
    send(&mut carol, &public, "triangle in public").await;
    let private = room_id(&carol.ok(json!({"type":"create_group","name":"mine"})).await);
    send(&mut carol, &private, "triangle in private").await;

    let found = |page: &Value| -> Vec<Value> {
        page["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|message| message["id"].clone())
            .collect()
    };
    let korean_page = amy.ok(json!({"type":"search","query":"넓이"})).await;
    assert_eq!(found(&korean_page), vec![korean["id"].clone()]);
    assert_eq!(korean_page["next"], Value::Null);
    let triangles = amy.ok(json!({"type":"search","query":"TRIANGLE"})).await;
    assert_eq!(
        found(&triangles),
        vec![gone["id"].clone(), latin["id"].clone()],
        "newest first; carol's rooms are not amy's"
    );
    // Every word must be in the body.
    let both = amy.ok(json!({"type":"search","query":"area tri"})).await;
    assert_eq!(found(&both), vec![latin["id"].clone()]);
    // Deleted and edited: at once.
    amy.ok(json!({"type":"delete","room":room,"message":id(&gone)}))
        .await;
    bob.ok(json!({"type":"edit","room":room,"message":id(&latin),"body":"the base of a square"}))
        .await;
    let after = amy.ok(json!({"type":"search","query":"triangle"})).await;
    assert!(found(&after).is_empty(), "{after}");
    let square = amy
        .ok(json!({"type":"search","query":"square","room":room}))
        .await;
    assert_eq!(found(&square), vec![latin["id"].clone()]);
    // Paging with `next`.
    for n in 0..3 {
        send(&mut amy, &room, &format!("page item {n}")).await;
    }
    let first = amy
        .ok(json!({"type":"search","query":"page item","limit":2}))
        .await;
    assert_eq!(found(&first).len(), 2);
    let next = first["next"].as_str().expect("next").to_string();
    let rest = amy
        .ok(json!({"type":"search","query":"page item","limit":2,"after":next}))
        .await;
    assert_eq!(found(&rest).len(), 1);
    assert_eq!(rest["next"], Value::Null);
    let before = amy
        .ok(json!({"type":"search","query":"page item","room":room,"before_seq":first["messages"][1]["seq"]}))
        .await;
    assert_eq!(found(&before).len(), 1);

    // carol's public group, not joined: forbidden; her private one: not_found.
    let refusals = [
        (
            json!({"type":"search","query":"triangle","room":public}),
            "forbidden",
        ),
        (
            json!({"type":"search","query":"triangle","room":private}),
            "not_found",
        ),
        (
            json!({"type":"search","query":"triangle","room":"r_999999"}),
            "not_found",
        ),
        (json!({"type":"search","query":"t"}), "bad_request"),
        (json!({"type":"search","query":"  "}), "bad_request"),
        (
            json!({"type":"search","query":"x".repeat(201)}),
            "bad_request",
        ),
        (
            json!({"type":"search","query":"triangle","limit":51}),
            "bad_request",
        ),
        (
            json!({"type":"search","query":"triangle","limit":0}),
            "bad_request",
        ),
        (
            json!({"type":"search","query":"triangle","before_seq":3}),
            "bad_request",
        ),
        (
            json!({"type":"search","query":"triangle","after":"nope"}),
            "bad_request",
        ),
        (json!({"type":"search"}), "bad_request"),
    ];
    for (command, code) in refusals {
        assert_eq!(amy.error(command.clone()).await, code, "{command}");
    }
}
on_every_deployment!(search_finds_substrings_in_any_script_in_the_callers_rooms_only);

async fn changes_survive_a_restart_and_rev_goes_on(backend: Backend) {
    let mut w = World::three(backend).await;
    let room;
    let message;
    {
        let (mut amy, mut bob) = (w.connect(AMY).await, w.connect(BOB).await);
        room = w.group(&mut amy, &mut bob).await;
        message = send(&mut amy, &room, "before").await;
        amy.ok(json!({"type":"edit","room":room,"message":id(&message),"body":"after"}))
            .await;
        bob.ok(json!({"type":"react","room":room,"message":id(&message),"emoji":"👍"}))
            .await;
    }
    w.server.crash_and_restart();
    let mut bob = w.connect(BOB).await;
    let joined = bob.ok(json!({"type":"join","room":room})).await;
    assert_eq!(joined["room"]["last_rev"], 2);
    let stored = &joined["messages"][0];
    assert_eq!(stored["body"], "after");
    assert_eq!(stored["rev"], 2);
    assert_eq!(
        stored["reactions"],
        json!([{"emoji":"👍","count":1,"me":true}])
    );
    let next = bob
        .ok(json!({"type":"react","room":room,"message":id(&message),"emoji":"👍","on":false}))
        .await["message"]
        .clone();
    assert_eq!(next["rev"], 3, "rev goes on after a restart");
    assert_eq!(next["reactions"], json!([]));
    assert_eq!(updated(&mut bob).await["rev"], 3);
}
on_every_deployment!(changes_survive_a_restart_and_rev_goes_on);

async fn concurrent_changes_from_two_nodes_reach_every_connection_in_rev_order(backend: Backend) {
    let w = World::three(backend).await;
    // In a cluster, amy and bob are on different nodes, and so are amy's two connections.
    let (mut amy, mut bob) = (w.connect(AMY).await, w.connect(BOB).await);
    let room = w.group(&mut amy, &mut bob).await;
    let mut watcher = w.connect(AMY).await;
    watcher.ok(json!({"type":"join","room":room})).await;
    let target = send(&mut amy, &room, "react to me").await;
    const EACH: usize = 12;
    let react = |client: &'static str, n: usize| {
        let emoji = char::from_u32(if client == "amy" { 0x1F600 } else { 0x1F400 } + n as u32)
            .expect("emoji")
            .to_string();
        json!({"type":"react","room":room,"message":id(&target),"emoji":emoji})
    };
    let amy_side = async {
        for n in 0..EACH / 2 {
            amy.ok(react("amy", n)).await;
        }
        for n in 0..EACH / 2 {
            let mut off = react("amy", n);
            off["on"] = json!(false);
            amy.ok(off).await;
        }
    };
    let bob_side = async {
        for n in 0..EACH {
            bob.ok(react("bob", n % 10)).await;
        }
    };
    tokio::join!(amy_side, bob_side);
    // amy added and took back 6, bob added 10 distinct (the last two repeat: no rev).
    let last_rev = 6 + 6 + 10;
    for client in [&mut watcher, &mut amy, &mut bob] {
        let mut revs = Vec::new();
        let mut last = Value::Null;
        while revs.last() != Some(&last_rev) {
            let event = updated(client).await;
            let rev = event["rev"].as_i64().expect("rev");
            assert!(
                revs.last().is_none_or(|before| rev > *before),
                "{revs:?} then {rev}"
            );
            revs.push(rev);
            last = event["message"].clone();
        }
        if backend != Backend::Cluster {
            assert_eq!(revs.len(), 22, "every change once, none lost: {revs:?}");
        }
        // Across nodes, a change whose publish is late is read from the store with its
        // message's later state: its own rev may then not be seen, never out of order.
        assert_eq!(last["reactions"].as_array().map(Vec::len), Some(10));
    }
    let changes = watcher
        .ok(json!({"type":"changes","room":room,"after_rev":0}))
        .await;
    assert_eq!(changes["last_rev"], last_rev);
}
on_every_deployment!(concurrent_changes_from_two_nodes_reach_every_connection_in_rev_order);

/// Changes published while Redis is away are caught up from the store (`changes`) by the
/// other node: every message reaches its latest state there, in rev order, nothing twice.
#[actix_rt::test]
async fn a_redis_restart_loses_no_change() {
    let Some(mut cluster) =
        common::cluster::Cluster::start(2, &["--rate", "100000", "--burst", "100000"]).await
    else {
        return;
    };
    let (_, amy_token) = cluster.nodes[0].user("amy").await;
    let (bob_id, bob_token) = cluster.nodes[0].user("bob").await;
    let mut amy = cluster.nodes[0].connect(&amy_token).await;
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"redis","members":[bob_id]}))
            .await,
    );
    amy.ok(json!({"type":"join","room":room})).await;
    let mut bob = cluster.nodes[1].connect(&bob_token).await;
    bob.ok(json!({"type":"join","room":room})).await;
    let mut messages = Vec::new();
    for n in 0..3 {
        messages.push(send(&mut bob, &room, &format!("message {n}")).await);
    }
    let mut rev = 0;
    for round in 0..3 {
        for (n, message) in messages.iter().enumerate() {
            let body = format!("round {round} edit {n}");
            let edited = bob
                .ok(json!({"type":"edit","room":room,"message":id(message),"body":body}))
                .await;
            rev = edited["message"]["rev"].as_i64().expect("rev");
        }
        if round == 0 {
            cluster.redis.kill();
        }
        if round == 1 {
            cluster.redis.restart();
        }
    }
    assert_eq!(rev, 9);
    // amy (node one) sees every message at its latest state, revs going up, by herself.
    let mut revs = Vec::new();
    let mut latest: std::collections::HashMap<String, Value> = Default::default();
    while revs.last() != Some(&rev) {
        let event = updated(&mut amy).await;
        let at = event["rev"].as_i64().expect("rev");
        assert!(
            revs.last().is_none_or(|before| at > *before),
            "{revs:?} then {at}"
        );
        revs.push(at);
        latest.insert(id(&event["message"]), event["message"]["body"].clone());
    }
    for (n, message) in messages.iter().enumerate() {
        assert_eq!(latest[&id(message)], format!("round 2 edit {n}"));
    }
    // Delivery over Redis resumed: the next change arrives, and nothing comes twice.
    bob.ok(json!({"type":"react","room":room,"message":id(&messages[0]),"emoji":"👍"}))
        .await;
    assert_eq!(updated(&mut amy).await["rev"], rev + 1);
    amy.assert_no_event(&["presence", "typing", "read", "message"])
        .await;
}
