//! Group moderation end to end (docs/safety.md, "Roles, mutes and bans"), on SQLite,
//! PostgreSQL and two nodes (the members alternate between the nodes): roles in `join` and
//! the admin API, `set_role` by the owner, `kick`, `mute`, `ban` and `delete` of others'
//! messages by the owner and moderators, `member_updated` to every joined connection and to
//! the member's own, the store refusing a muted sender on the other node at once, a ban
//! keeping its user out of `invite` and `join`, one audit entry for each act, and every
//! refusal answered clearly with nothing changed.

mod common;

use common::{room_id, Backend, Client, Database, Server};
use serde_json::{json, Value};

struct Setup {
    _db: Database,
    server: Server,
    /// amy (the owner), bob, carl, dave: their ids and tokens.
    ids: Vec<String>,
    tokens: Vec<String>,
    /// Their connections, each joined to the room (in a cluster amy and carl on the first
    /// node, bob and dave on the second).
    ws: Vec<Client>,
    room: String,
}

const AMY: usize = 0;
const BOB: usize = 1;
const CARL: usize = 2;
const DAVE: usize = 3;

/// A group of amy (the owner), bob, carl and dave, every one of them joined.
async fn setup(backend: Backend, public: bool) -> Setup {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    let mut ws = Vec::new();
    for name in ["amy", "bob", "carl", "dave"] {
        let (id, token) = server.user(name).await;
        ids.push(id);
        ws.push(server.connect(&token).await);
        tokens.push(token);
    }
    let room = room_id(
        &ws[AMY]
            .ok(json!({"type":"create_group","name":"club","public":public,"members":[ids[BOB], ids[CARL], ids[DAVE]]}))
            .await,
    );
    for client in ws.iter_mut() {
        client.ok(json!({"type":"join","room":room})).await;
    }
    for client in ws.iter_mut() {
        client.drain_events().await;
    }
    Setup {
        _db: db,
        server,
        ids,
        tokens,
        ws,
        room,
    }
}

/// [`setup`] with bob and dave made moderators.
async fn with_moderators(backend: Backend, public: bool) -> Setup {
    let mut setup = setup(backend, public).await;
    make_moderators(&mut setup, &[BOB, DAVE]).await;
    setup
}

/// amy makes each of `who` a moderator, and waits until every connection has heard it (in
/// a cluster the other node's connections hear it through Redis).
async fn make_moderators(setup: &mut Setup, who: &[usize]) {
    for &index in who {
        let user = setup.ids[index].clone();
        setup.ws[AMY]
            .ok(json!({"type":"set_role","room":setup.room,"user":user,"role":"moderator"}))
            .await;
    }
    let mut expected: Vec<&str> = who.iter().map(|&index| setup.ids[index].as_str()).collect();
    expected.sort_unstable();
    for client in setup.ws.iter_mut() {
        // The member's own connection and the others may hear them in either order.
        let mut heard = Vec::new();
        for _ in who {
            let updated = client.event("member_updated").await;
            assert_eq!(updated["role"], "moderator", "{updated}");
            heard.push(
                updated["user"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        heard.sort_unstable();
        assert_eq!(heard, expected);
        client.assert_no_event(&[]).await;
    }
}

async fn audit(server: &Server) -> Vec<Value> {
    let (status, body) = server.admin("GET", "/admin/audit?limit=200", None).await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().cloned().unwrap_or_default()
}

/// The members of the room as the admin API lists them.
async fn members(server: &Server, room: &str) -> Vec<Value> {
    let (status, body) = server
        .admin("GET", &format!("/admin/rooms/{room}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["members"].as_array().cloned().unwrap_or_default()
}

/// The member entry of `user` in a list of members.
fn entry<'a>(members: &'a [Value], user: &str) -> &'a Value {
    members
        .iter()
        .find(|member| member["id"] == user)
        .unwrap_or_else(|| panic!("{user} is not in {members:?}"))
}

/// What a refusal must leave as it was: the audit log and the members with their roles
/// and mutes.
async fn state(server: &Server, room: &str) -> (Vec<Value>, Vec<Value>) {
    let mut members = members(server, room).await;
    for member in &mut members {
        member["online"] = Value::Null;
    }
    (audit(server).await, members)
}

async fn roles_are_shown_and_set_by_the_owner(backend: Backend) {
    let Setup {
        _db,
        server,
        ids,
        tokens,
        mut ws,
        room,
    } = setup(backend, false).await;

    // The owner is `owner`, everyone else `member`, none muted: in `join` and the admin API.
    let joined = ws[CARL].ok(json!({"type":"join","room":room})).await;
    let listed = joined["members"].as_array().cloned().expect("members");
    for (index, role) in [(AMY, "owner"), (BOB, "member"), (CARL, "member")] {
        assert_eq!(entry(&listed, &ids[index])["role"], role, "{listed:?}");
        assert_eq!(entry(&listed, &ids[index])["muted_until"], Value::Null);
        assert!(entry(&listed, &ids[index])["name"].is_string());
    }
    let admin = members(&server, &room).await;
    assert_eq!(entry(&admin, &ids[AMY])["role"], "owner");
    assert_eq!(entry(&admin, &ids[DAVE])["role"], "member");

    let set_role =
        |user: &str, role: Value| json!({"type":"set_role","room":room,"user":user,"role":role});
    let before = state(&server, &room).await;
    for (who, command, code) in [
        // Only the owner sets roles.
        (BOB, set_role(&ids[CARL], json!("moderator")), "forbidden"),
        (CARL, set_role(&ids[CARL], json!("moderator")), "forbidden"),
        // There is one owner.
        (AMY, set_role(&ids[BOB], json!("owner")), "bad_request"),
        (AMY, set_role(&ids[BOB], json!("admin")), "bad_request"),
        (AMY, set_role(&ids[BOB], json!(1)), "bad_request"),
        (
            AMY,
            json!({"type":"set_role","room":room,"user":ids[BOB]}),
            "bad_request",
        ),
        (
            AMY,
            json!({"type":"set_role","room":room,"role":"member"}),
            "bad_request",
        ),
        (AMY, set_role(&ids[AMY], json!("member")), "bad_request"),
        (AMY, set_role("u_999999", json!("moderator")), "not_found"),
        (AMY, set_role("nobody", json!("moderator")), "not_found"),
        (
            AMY,
            json!({"type":"set_role","room":"r_999999","user":ids[BOB],"role":"moderator"}),
            "not_found",
        ),
    ] {
        assert_eq!(ws[who].error(command.clone()).await, code, "{command}");
    }
    // Someone who is no member.
    let (eve, eve_token) = server.user("eve").await;
    assert_eq!(
        ws[AMY].error(set_role(&eve, json!("moderator"))).await,
        "not_found"
    );
    let mut eve_ws = server.connect(&eve_token).await;
    assert_eq!(
        eve_ws.error(set_role(&ids[BOB], json!("moderator"))).await,
        "not_found",
        "a private group is not eve's to see"
    );
    assert_eq!(
        state(&server, &room).await,
        before,
        "refusals changed nothing"
    );
    for client in ws.iter_mut() {
        client.assert_no_event(&[]).await;
    }

    // bob becomes a moderator: every joined connection hears it once, and bob's other
    // connection (not joined; on the other node in a cluster) too.
    let mut bob_phone = server.connect(&tokens[BOB]).await;
    let mut bob_tablet = server.connect(&tokens[BOB]).await;
    ws[AMY].ok(set_role(&ids[BOB], json!("moderator"))).await;
    for client in ws.iter_mut().chain([&mut bob_phone, &mut bob_tablet]) {
        let updated = client.event("member_updated").await;
        assert_eq!(updated["room"], room.as_str());
        assert_eq!(updated["user"]["id"], ids[BOB].as_str());
        assert_eq!(updated["role"], "moderator");
        assert_eq!(updated["muted_until"], Value::Null);
        client.assert_no_event(&[]).await;
    }
    let admin = members(&server, &room).await;
    assert_eq!(entry(&admin, &ids[BOB])["role"], "moderator");
    let joined = ws[DAVE].ok(json!({"type":"join","room":room})).await;
    let listed = joined["members"].as_array().cloned().expect("members");
    assert_eq!(entry(&listed, &ids[BOB])["role"], "moderator");

    // A moderator sets no roles; the owner takes the role back.
    assert_eq!(
        ws[BOB]
            .error(set_role(&ids[CARL], json!("moderator")))
            .await,
        "forbidden"
    );
    ws[AMY].ok(set_role(&ids[BOB], json!("member"))).await;
    let updated = ws[CARL].event("member_updated").await;
    assert_eq!(updated["role"], "member");

    let entries = audit(&server).await;
    let roles: Vec<&Value> = entries
        .iter()
        .filter(|entry| entry["action"] == "set_role")
        .collect();
    assert_eq!(roles.len(), 2, "{entries:?}");
    // Newest first.
    assert_eq!(roles[0]["detail"]["role"], "member");
    assert_eq!(roles[1]["detail"]["role"], "moderator");
    for entry in roles {
        assert_eq!(entry["actor"], ids[AMY].as_str());
        assert_eq!(entry["target"], ids[BOB].as_str());
        assert_eq!(entry["room"], room.as_str());
    }
}
on_every_deployment!(roles_are_shown_and_set_by_the_owner);

async fn a_muted_member_cannot_speak_until_the_mute_is_lifted(backend: Backend) {
    let Setup {
        _db,
        server,
        ids,
        mut ws,
        room,
        ..
    } = with_moderators(backend, false).await;
    let sent = ws[CARL]
        .ok(json!({"type":"send","room":room,"body":"hello"}))
        .await;
    let carls = sent["message"]["id"].as_str().expect("id").to_string();
    for client in ws.iter_mut() {
        client.drain_events().await;
    }

    let mute = |user: &str, minutes: Value| json!({"type":"mute","room":room,"user":user,"minutes":minutes});
    let before = state(&server, &room).await;
    for (who, command, code) in [
        // A member mutes no one; a moderator mutes neither the owner nor a moderator.
        (CARL, mute(&ids[BOB], json!(10)), "forbidden"),
        (BOB, mute(&ids[AMY], json!(10)), "forbidden"),
        (BOB, mute(&ids[DAVE], json!(10)), "forbidden"),
        (BOB, mute(&ids[BOB], json!(10)), "bad_request"),
        (BOB, mute(&ids[CARL], json!(-1)), "bad_request"),
        (BOB, mute(&ids[CARL], json!(43_201)), "bad_request"),
        (BOB, mute(&ids[CARL], json!(1.5)), "bad_request"),
        (BOB, mute(&ids[CARL], json!("10")), "bad_request"),
        (BOB, mute(&ids[CARL], json!(u64::MAX)), "bad_request"),
        (
            BOB,
            json!({"type":"mute","room":room,"user":ids[CARL]}),
            "bad_request",
        ),
        (BOB, mute("u_999999", json!(10)), "not_found"),
    ] {
        assert_eq!(ws[who].error(command.clone()).await, code, "{command}");
    }
    assert_eq!(
        state(&server, &room).await,
        before,
        "refusals changed nothing"
    );

    // bob (a moderator, on the other node in a cluster) mutes carl: carl's send is refused
    // at once, whichever node the room's copy is on.
    ws[BOB].ok(mute(&ids[CARL], json!(10))).await;
    let send = json!({"type":"send","room":room,"body":"can I?"});
    let refused = ws[CARL].error_reply(send.clone()).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    let message = refused["message"].as_str().expect("message");
    assert!(
        message.contains("muted") && message.contains("until 20"),
        "{message}"
    );
    for command in [
        json!({"type":"edit","room":room,"message":carls,"body":"changed"}),
        json!({"type":"react","room":room,"message":carls,"emoji":"👍"}),
        json!({"type":"typing","room":room}),
    ] {
        assert_eq!(
            ws[CARL].error(command.clone()).await,
            "forbidden",
            "{command}"
        );
    }
    // Reading, leaving a read mark and deleting their own message are not speaking.
    ws[CARL]
        .ok(json!({"type":"read","room":room,"seq":1}))
        .await;
    ws[CARL].ok(json!({"type":"history","room":room})).await;

    // Everyone joined heard it once, carl too; carl's entry says until when.
    for client in ws.iter_mut() {
        let updated = client.event("member_updated").await;
        assert_eq!(updated["user"]["id"], ids[CARL].as_str());
        assert_eq!(updated["role"], "member");
        let until = updated["muted_until"].as_str().expect("muted_until");
        assert!(message.contains(until), "{message} / {until}");
        client.assert_no_event(&["read"]).await;
    }
    let listed = ws[AMY].ok(json!({"type":"join","room":room})).await["members"]
        .as_array()
        .cloned()
        .expect("members");
    assert!(entry(&listed, &ids[CARL])["muted_until"].is_string());
    assert_eq!(
        server.stored_messages(&room).await.len(),
        1,
        "nothing of carl's was stored"
    );

    // Lifting it: carl speaks again (once the room on carl's node knows: amy, joined
    // there, has heard it).
    ws[DAVE].ok(mute(&ids[CARL], json!(0))).await;
    for who in [CARL, AMY] {
        let updated = ws[who].event("member_updated").await;
        assert_eq!(updated["user"]["id"], ids[CARL].as_str());
        assert_eq!(updated["muted_until"], Value::Null);
    }
    ws[CARL].ok(send).await;
    ws[CARL]
        .ok(json!({"type":"react","room":room,"message":carls,"emoji":"👍"}))
        .await;
    ws[CARL].ok(json!({"type":"typing","room":room})).await;
    let listed = members(&server, &room).await;
    assert_eq!(entry(&listed, &ids[CARL])["muted_until"], Value::Null);

    let entries = audit(&server).await;
    let mutes: Vec<&Value> = entries
        .iter()
        .filter(|entry| entry["action"] == "mute")
        .collect();
    assert_eq!(mutes.len(), 2, "{entries:?}");
    assert_eq!(mutes[0]["detail"]["minutes"], 0);
    assert_eq!(mutes[0]["actor"], ids[DAVE].as_str());
    assert_eq!(mutes[1]["detail"]["minutes"], 10);
    assert_eq!(mutes[1]["actor"], ids[BOB].as_str());
    for entry in mutes {
        assert_eq!(entry["target"], ids[CARL].as_str());
        assert_eq!(entry["room"], room.as_str());
    }
}
on_every_deployment!(a_muted_member_cannot_speak_until_the_mute_is_lifted);

async fn a_ban_removes_and_keeps_out(backend: Backend) {
    let Setup {
        _db,
        server,
        ids,
        mut ws,
        room,
        ..
    } = with_moderators(backend, true).await;
    let ban = |user: &str, on: Value| json!({"type":"ban","room":room,"user":user,"on":on});
    let before = state(&server, &room).await;
    for (who, command, code) in [
        (CARL, ban(&ids[BOB], json!(true)), "forbidden"),
        (BOB, ban(&ids[AMY], json!(true)), "forbidden"),
        (BOB, ban(&ids[DAVE], json!(true)), "forbidden"),
        (BOB, ban(&ids[BOB], json!(true)), "bad_request"),
        (AMY, ban(&ids[AMY], json!(true)), "bad_request"),
        (BOB, ban(&ids[CARL], json!("yes")), "bad_request"),
        (BOB, ban("u_999999", json!(true)), "not_found"),
    ] {
        assert_eq!(ws[who].error(command.clone()).await, code, "{command}");
    }
    assert_eq!(
        state(&server, &room).await,
        before,
        "refusals changed nothing"
    );

    // `on` defaults to true. carl is removed as by a kick.
    ws[BOB]
        .ok(json!({"type":"ban","room":room,"user":ids[CARL]}))
        .await;
    let removed = ws[CARL].event("room_removed").await;
    assert_eq!(removed["room"], room.as_str());
    for who in [AMY, BOB, DAVE] {
        let left = ws[who].event("member_left").await;
        assert_eq!(left["user"]["id"], ids[CARL].as_str());
        ws[who].assert_no_event(&[]).await;
    }
    // Kept out: join of the public group, invite by anyone.
    let refused = ws[CARL]
        .error_reply(json!({"type":"join","room":room}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("banned")),
        "{refused}"
    );
    for who in [AMY, BOB] {
        assert_eq!(
            ws[who]
                .error(json!({"type":"invite","room":room,"user":ids[CARL]}))
                .await,
            "forbidden"
        );
    }
    let (status, body) = server
        .admin(
            "POST",
            &format!("/admin/rooms/{room}/members"),
            Some(json!({"user": ids[CARL]})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(members(&server, &room)
        .await
        .iter()
        .all(|member| member["id"] != ids[CARL].as_str()));

    // Someone who is no member can be banned before they come.
    let (eve, eve_token) = server.user("eve").await;
    ws[AMY].ok(ban(&eve, json!(true))).await;
    let mut eve_ws = server.connect(&eve_token).await;
    assert_eq!(
        eve_ws.error(json!({"type":"join","room":room})).await,
        "forbidden"
    );

    // Lifting the ban does not make carl a member again; he may join once more.
    ws[DAVE].ok(ban(&ids[CARL], json!(false))).await;
    let rooms = ws[CARL].ok(json!({"type":"rooms"})).await;
    assert_eq!(rooms["rooms"], json!([]));
    ws[CARL].ok(json!({"type":"join","room":room})).await;
    let joined = ws[AMY].event("member_joined").await;
    assert_eq!(joined["user"]["id"], ids[CARL].as_str());

    let entries = audit(&server).await;
    let bans: Vec<(Value, Value, Value)> = entries
        .iter()
        .filter(|entry| entry["action"] == "ban")
        .map(|entry| {
            assert_eq!(entry["room"], room.as_str());
            (
                entry["actor"].clone(),
                entry["target"].clone(),
                entry["detail"]["on"].clone(),
            )
        })
        .collect();
    assert_eq!(
        bans,
        vec![
            (json!(ids[DAVE]), json!(ids[CARL]), json!(false)),
            (json!(ids[AMY]), json!(eve), json!(true)),
            (json!(ids[BOB]), json!(ids[CARL]), json!(true)),
        ],
        "{entries:?}"
    );
}
on_every_deployment!(a_ban_removes_and_keeps_out);

async fn moderators_kick_and_delete_members_messages(backend: Backend) {
    let Setup {
        _db,
        server,
        ids,
        mut ws,
        room,
        ..
    } = with_moderators(backend, false).await;
    let mut sent = Vec::new();
    for who in [AMY, BOB, CARL, DAVE] {
        let data = ws[who]
            .ok(json!({"type":"send","room":room,"body":format!("from {who}")}))
            .await;
        sent.push(data["message"]["id"].as_str().expect("id").to_string());
    }
    for client in ws.iter_mut() {
        client.drain_events().await;
    }
    let delete = |message: &str| json!({"type":"delete","room":room,"message":message});
    let kick = |user: &str| json!({"type":"kick","room":room,"user":user});
    let before = state(&server, &room).await;
    for (who, command, code) in [
        (CARL, delete(&sent[BOB]), "forbidden"),
        (BOB, delete(&sent[AMY]), "forbidden"),
        (BOB, delete(&sent[DAVE]), "forbidden"),
        (CARL, kick(&ids[DAVE]), "forbidden"),
        (BOB, kick(&ids[AMY]), "forbidden"),
        (BOB, kick(&ids[DAVE]), "forbidden"),
        (BOB, kick(&ids[BOB]), "bad_request"),
    ] {
        assert_eq!(ws[who].error(command.clone()).await, code, "{command}");
    }
    assert_eq!(
        state(&server, &room).await,
        before,
        "refusals changed nothing"
    );
    let stored = server.stored_messages(&room).await;
    assert!(stored.iter().all(|message| message["deleted"] == false));

    // A moderator deletes a member's message, the owner a moderator's; one's own is no
    // moderation and has no audit entry.
    ws[BOB].ok(delete(&sent[CARL])).await;
    ws[AMY].ok(delete(&sent[DAVE])).await;
    ws[BOB].ok(delete(&sent[BOB])).await;
    let updated = ws[CARL].event("message_updated").await;
    assert_eq!(updated["message"]["deleted"], true);

    // A moderator kicks a member.
    ws[BOB].ok(kick(&ids[CARL])).await;
    ws[CARL].event("room_removed").await;
    let left = ws[AMY].event("member_left").await;
    assert_eq!(left["user"]["id"], ids[CARL].as_str());
    assert_eq!(ws[BOB].error(kick(&ids[CARL])).await, "not_found");

    let entries = audit(&server).await;
    let acts: Vec<(Value, Value, Value)> = entries
        .iter()
        .filter(|entry| matches!(entry["action"].as_str(), Some("delete" | "kick")))
        .map(|entry| {
            assert_eq!(entry["room"], room.as_str());
            (
                entry["action"].clone(),
                entry["actor"].clone(),
                entry["target"].clone(),
            )
        })
        .collect();
    assert_eq!(
        acts,
        vec![
            (json!("kick"), json!(ids[BOB]), json!(ids[CARL])),
            (json!("delete"), json!(ids[AMY]), json!(sent[DAVE])),
            (json!("delete"), json!(ids[BOB]), json!(sent[CARL])),
        ],
        "{entries:?}"
    );
}
on_every_deployment!(moderators_kick_and_delete_members_messages);

async fn direct_rooms_have_no_roles(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, amy_token) = server.user("amy").await;
    let (bob, _) = server.user("bob").await;
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(&amy.ok(json!({"type":"open_direct","user":bob})).await);
    let joined = amy.ok(json!({"type":"join","room":room})).await;
    for member in joined["members"].as_array().expect("members") {
        assert!(member.get("role").is_none(), "{member}");
        assert!(member.get("muted_until").is_none(), "{member}");
    }
    let before = audit(&server).await;
    for command in [
        json!({"type":"set_role","room":room,"user":bob,"role":"moderator"}),
        json!({"type":"mute","room":room,"user":bob,"minutes":5}),
        json!({"type":"ban","room":room,"user":bob}),
        json!({"type":"kick","room":room,"user":bob}),
    ] {
        assert_eq!(amy.error(command.clone()).await, "bad_request", "{command}");
    }
    assert_eq!(audit(&server).await, before);
    amy.ok(json!({"type":"send","room":room,"body":"still fine"}))
        .await;
}
on_every_deployment!(direct_rooms_have_no_roles);

/// The store decides by itself, whatever a node's copy says or whichever Redis event is
/// lost: `Store::sanction` applies the rule, the group commit refuses a muted sender, an
/// edit or reaction of one is refused in its own transaction, a ban refuses `add_member`.
async fn the_store_is_the_record_of_roles_mutes_and_bans(backend: Backend) {
    use palaver::db::conversation::ConversationError;
    use palaver::db::models::UserKind;
    use palaver::db::safety::{Sanction, SanctionError};
    use palaver::db::{Appended, DatabaseUrl, NewPost, Store, StoreConfig, StoreError};
    use palaver::safety::{Act, Denied, MuteMinutes, Role};

    let db = Database::new(backend).await;
    let url = DatabaseUrl::parse(&db.url).expect("url");
    let store = Store::open(&url, StoreConfig::default()).expect("store opens");
    let mut users = Vec::new();
    for name in ["amy", "bob", "carl"] {
        users.push(
            store
                .create_user(name, UserKind::User, None)
                .await
                .expect("user"),
        );
    }
    let (amy, bob, carl) = (users[0].id, users[1].id, users[2].id);
    let room = store
        .create_group("club", false, Some(amy), vec![bob, carl])
        .await
        .expect("group")
        .id;
    let post = |sender: usize, body: &str| NewPost::text(room, users[sender].clone(), body);
    let minutes = |n| Sanction::Mute(MuteMinutes::new(n).expect("minutes"));

    assert_eq!(
        store.sanction(room, bob, carl, minutes(10)).await,
        Err(SanctionError::Denied(Denied::NotModerator(Act::Mute)))
    );
    let made = store
        .sanction(room, amy, bob, Sanction::SetRole(Role::Moderator))
        .await
        .expect("set_role");
    assert_eq!(made.standing.map(|s| s.role), Some(Role::Moderator));
    let seq = match store
        .append(vec![post(2, "hi")])
        .await
        .expect("append")
        .pop()
    {
        Some(Ok(Appended::New(message))) => message.row.seq,
        other => panic!("not stored: {other:?}"),
    };

    let muted = store
        .sanction(room, bob, carl, minutes(10))
        .await
        .expect("mute");
    let until = muted.standing.and_then(|s| s.muted_until).expect("until");
    assert_eq!(
        store
            .append(vec![post(2, "can I?")])
            .await
            .expect("append")
            .pop(),
        Some(Err(StoreError::Muted(until)))
    );
    assert_eq!(
        store
            .edit_message(room, seq, carl, "changed".into(), None)
            .await
            .err(),
        Some(ConversationError::Muted(until))
    );
    let thumbs = palaver::conversation::Emoji::parse("👍").expect("emoji");
    assert_eq!(
        store
            .react(room, seq, carl, thumbs.clone(), true)
            .await
            .err(),
        Some(ConversationError::Muted(until))
    );
    store
        .sanction(room, bob, carl, minutes(0))
        .await
        .expect("lift");
    assert!(matches!(
        store
            .append(vec![post(2, "thanks")])
            .await
            .expect("append")
            .pop(),
        Some(Ok(Appended::New(_)))
    ));
    store
        .react(room, seq, carl, thumbs, true)
        .await
        .expect("react");

    // A moderator acts on members only; no one on the owner.
    assert_eq!(
        store.sanction(room, bob, amy, Sanction::Ban(true)).await,
        Err(SanctionError::Denied(Denied::OnOwner(Act::Ban)))
    );
    let banned = store
        .sanction(room, bob, carl, Sanction::Ban(true))
        .await
        .expect("ban");
    assert!(banned.removed);
    assert_eq!(
        store.add_member(room, carl).await,
        Err(StoreError::Banned(carl))
    );
    assert_eq!(
        store.sanction(room, bob, carl, minutes(5)).await,
        Err(SanctionError::NoSuchMember)
    );
    let lifted = store
        .sanction(room, bob, carl, Sanction::Ban(false))
        .await
        .expect("lift");
    assert!(!lifted.removed);
    assert!(!store.is_member(room, carl).await.expect("read"));
    assert_eq!(store.add_member(room, carl).await, Ok(true));

    let actions: Vec<String> = store
        .audit_entries(0, 50)
        .await
        .expect("audit")
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(actions, ["ban", "ban", "mute", "mute", "set_role"]);
}
on_both_backends!(the_store_is_the_record_of_roles_mutes_and_bans);
