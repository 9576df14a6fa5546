//! End-to-end: the admin HTTP API of docs/protocol.md section 7 (users, tokens, connections,
//! rooms, members, messages, broadcast, stats; not /metrics nor bots): status codes, bodies,
//! pagination, the 401 of every route and the events each change sends. On both backends.

mod common;

use common::{room_id, Backend, Client, Database, Server};
use serde_json::{json, Value};

async fn start(backend: Backend) -> (Server, Database) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    (server, db)
}

/// Asserts an error answer: the status and `{"error":{"code","message"}}`.
fn assert_error(answer: &(u16, Value), status: u16, code: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

async fn get_all_pages(server: &Server, list: &str, key: &str, limit: Option<u32>) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(after) = &after {
            query.push(format!("after={after}"));
        }
        let (status, body) = server
            .admin("GET", &format!("{list}?{}", query.join("&")), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let page = body[key].as_array().cloned().expect("a list");
        if let Some(limit) = limit {
            assert!(page.len() <= limit as usize, "{body}");
        }
        assert!(
            body.as_object().is_some_and(|o| o.contains_key("next")),
            "{body}"
        );
        for item in &page {
            assert!(
                !items.iter().any(|seen: &Value| seen["id"] == item["id"]),
                "listed twice: {item}"
            );
        }
        items.extend(page.iter().cloned());
        pages += 1;
        assert!(pages < 100, "pagination does not end");
        match body["next"].as_str() {
            Some(next) => {
                // The cursor is the last item's id (a bot's row is named by its `u_N` there).
                let last = page.last().expect("a page with a next cursor is not empty");
                if last["kind"] != "bot" {
                    assert_eq!(last["id"], next, "{body}");
                }
                after = Some(next.to_string());
            }
            None => {
                assert!(body["next"].is_null(), "{body}");
                return items;
            }
        }
    }
}

async fn every_admin_route_needs_the_admin_token(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (amy, amy_token) = server.user("amy").await;
    let (bob, _) = server.user("bob").await;
    let (_, created) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"name":"g","members":[amy, bob]})),
        )
        .await;
    let room = room_id(&created);
    let before = server.snapshot().await;
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        (
            "POST",
            "/admin/users".into(),
            Some(json!({"name":"mallory"})),
        ),
        ("GET", "/admin/users".into(), None),
        ("GET", format!("/admin/users/{amy}"), None),
        ("POST", format!("/admin/users/{amy}/tokens"), None),
        ("DELETE", format!("/admin/users/{amy}/tokens"), None),
        ("DELETE", format!("/admin/users/{amy}/connections"), None),
        (
            "POST",
            "/admin/rooms".into(),
            Some(json!({"name":"x","members":[amy]})),
        ),
        ("GET", "/admin/rooms".into(), None),
        ("GET", format!("/admin/rooms/{room}"), None),
        ("DELETE", format!("/admin/rooms/{room}"), None),
        (
            "POST",
            format!("/admin/rooms/{room}/members"),
            Some(json!({"user":amy})),
        ),
        ("DELETE", format!("/admin/rooms/{room}/members/{bob}"), None),
        ("GET", format!("/admin/rooms/{room}/messages"), None),
        (
            "POST",
            format!("/admin/rooms/{room}/messages"),
            Some(json!({"body":"hi"})),
        ),
        (
            "POST",
            "/admin/broadcast".into(),
            Some(json!({"body":"hi"})),
        ),
        ("GET", "/admin/stats".into(), None),
        ("GET", "/admin/no-such-route".into(), None),
    ];
    let mut amy_client = server.connect(&amy_token).await;
    for (method, path, body) in &routes {
        for token in [None, Some("wrong"), Some(amy_token.as_str()), Some("")] {
            let answer = server.call(method, path, body.clone(), token).await;
            assert_eq!(
                answer.0, 401,
                "{method} {path} with {token:?}: {}",
                answer.1
            );
            assert_error(&answer, 401, "unauthorized");
        }
    }
    assert_eq!(
        server.snapshot().await,
        before,
        "an unauthorized call changed the store"
    );
    // Nothing reached amy: no notice, no room change, no close.
    amy_client.assert_no_event(&[]).await;
    let (status, health) = server.call("GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(health, json!({"status":"ok"}));
}
on_both_backends!(every_admin_route_needs_the_admin_token);

async fn creating_users_returns_201_with_a_token_and_duplicate_names_are_409(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (status, body) = server
        .admin("POST", "/admin/users", Some(json!({"name":"amy"})))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["user"]["id"].as_str().expect("id");
    assert!(id.starts_with("u_"), "{body}");
    assert_eq!(body["user"]["name"], "amy");
    assert_eq!(body["user"]["kind"], "user");
    assert_eq!(body["user"]["online"], false);
    let token = body["token"].as_str().expect("token");
    let amy = server.connect(token).await;
    assert_eq!(amy.hello["user"]["id"], id);

    for name in ["amy", " amy ", "system"] {
        let answer = server
            .admin("POST", "/admin/users", Some(json!({ "name": name })))
            .await;
        assert_error(&answer, 409, "conflict");
    }
    for body in [
        json!({}),
        json!({"name":""}),
        json!({"name":"   "}),
        json!({"name":5}),
        json!({"name":"x".repeat(65)}),
    ] {
        let answer = server
            .admin("POST", "/admin/users", Some(body.clone()))
            .await;
        assert_error(&answer, 400, "bad_request");
    }
    let answer = server
        .call("POST", "/admin/users", None, Some(common::ADMIN))
        .await;
    assert!(
        answer.0 == 400 || answer.0 == 415,
        "a POST without a JSON body: {answer:?}"
    );
    // Bots are listed too (kind `bot`); exactly one person was created.
    let users = get_all_pages(&server, "/admin/users", "users", None).await;
    let people: Vec<&Value> = users.iter().filter(|u| u["kind"] == "user").collect();
    assert_eq!(people.len(), 1, "{users:?}");
}
on_both_backends!(creating_users_returns_201_with_a_token_and_duplicate_names_are_409);

async fn listing_users_pages_with_limit_and_after(backend: Backend) {
    let (server, _db) = start(backend).await;
    let mut ids = Vec::new();
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        ids.push(server.user(name).await.0);
    }
    let mut total = 0;
    for limit in [1, 2, 5, 200] {
        let users = get_all_pages(&server, "/admin/users", "users", Some(limit)).await;
        total = users.len();
        // Bots (kind `bot`) may be listed too; the people come in id order.
        let people: Vec<&Value> = users.iter().filter(|u| u["kind"] == "user").collect();
        let listed: Vec<&str> = people.iter().filter_map(|u| u["id"].as_str()).collect();
        assert_eq!(listed, ids, "limit {limit}");
        assert!(people.iter().all(|u| u["online"] == false));
    }
    let (status, body) = server
        .admin("GET", &format!("/admin/users?limit={total}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["users"].as_array().map(Vec::len), Some(total));
    assert!(
        body["next"].is_null(),
        "a full last page has next null: {body}"
    );
    let (_, body) = server
        .admin("GET", &format!("/admin/users?after={}", ids[4]), None)
        .await;
    let later: Vec<&Value> = body["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["kind"] == "user")
        .collect();
    assert!(later.is_empty(), "{body}");
    assert!(body["next"].is_null());
    for query in [
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=abc",
        "after=r_1",
        "after=zz",
    ] {
        let answer = server
            .admin("GET", &format!("/admin/users?{query}"), None)
            .await;
        assert_error(&answer, 400, "bad_request");
    }
}
on_both_backends!(listing_users_pages_with_limit_and_after);

async fn showing_a_user_gives_connections_and_rooms_as_they_see_them(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (amy, amy_token) = server.user("amy").await;
    let (bob, _) = server.user("bob").await;
    let (status, body) = server
        .admin("GET", &format!("/admin/users/{amy}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], amy.as_str());
    assert_eq!(body["user"]["online"], false);
    assert_eq!(body["connections"], 0);
    assert_eq!(body["rooms"], json!([]));

    let mut phone = server.connect(&amy_token).await;
    let _laptop = server.connect(&amy_token).await;
    let direct = room_id(&phone.ok(json!({"type":"open_direct","user":bob})).await);
    phone
        .ok(json!({"type":"send","room":direct,"body":"hi"}))
        .await;
    let (_, body) = server
        .admin("GET", &format!("/admin/users/{amy}"), None)
        .await;
    assert_eq!(body["user"]["online"], true, "{body}");
    assert_eq!(body["connections"], 2, "{body}");
    assert_eq!(body["rooms"][0]["id"], direct.as_str());
    assert_eq!(body["rooms"][0]["name"], "bob", "as amy sees it: {body}");
    assert_eq!(body["rooms"][0]["read_seq"], 1, "{body}");
    let (_, body) = server
        .admin("GET", &format!("/admin/users/{bob}"), None)
        .await;
    assert_eq!(body["rooms"][0]["name"], "amy", "as bob sees it: {body}");
    assert_eq!(body["rooms"][0]["unread"], 1, "{body}");

    for missing in ["u_999", "nobody", "system", "r_1"] {
        let answer = server
            .admin("GET", &format!("/admin/users/{missing}"), None)
            .await;
        assert_error(&answer, 404, "not_found");
        for (method, path) in [
            ("POST", format!("/admin/users/{missing}/tokens")),
            ("DELETE", format!("/admin/users/{missing}/tokens")),
            ("DELETE", format!("/admin/users/{missing}/connections")),
        ] {
            let answer = server.admin(method, &path, None).await;
            assert_error(&answer, 404, "not_found");
        }
    }
}
on_both_backends!(showing_a_user_gives_connections_and_rooms_as_they_see_them);

async fn tokens_can_be_issued_and_connections_closed_with_4001(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (amy, amy_token) = server.user("amy").await;
    let (status, body) = server
        .admin("POST", &format!("/admin/users/{amy}/tokens"), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let second = body["token"].as_str().expect("token").to_string();
    assert_ne!(second, amy_token);
    let mut one = server.connect(&amy_token).await;
    let mut two = server.connect(&second).await;
    one.ok(json!({"type":"ping"})).await;
    two.ok(json!({"type":"ping"})).await;

    let (status, body) = server
        .admin("DELETE", &format!("/admin/users/{amy}/connections"), None)
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(body, Value::Null, "a 204 has no body");
    assert_eq!(one.closed().await, Some(4001));
    assert_eq!(two.closed().await, Some(4001));
    // Closing connections revokes nothing: both tokens still work.
    let mut again = server.connect(&amy_token).await;
    again.ok(json!({"type":"ping"})).await;
    server
        .connect(&second)
        .await
        .ok(json!({"type":"ping"}))
        .await;

    let (status, _) = server
        .admin("DELETE", &format!("/admin/users/{amy}/tokens"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(again.closed().await, Some(4001));
    for token in [&amy_token, &second] {
        let refused = Client::try_connect(&server.base, Some(token), None).await;
        assert!(
            matches!(refused, Err(common::ConnectError::Status(401))),
            "a revoked token: {:?}",
            refused.err()
        );
    }
    let (_, body) = server
        .admin("GET", &format!("/admin/users/{amy}"), None)
        .await;
    assert_eq!(body["connections"], 0, "{body}");
}
on_both_backends!(tokens_can_be_issued_and_connections_closed_with_4001);

async fn creating_rooms_announces_them_to_members(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (amy, amy_token) = server.user("amy").await;
    let (bob, bob_token) = server.user("bob").await;
    let mut amy_client = server.connect(&amy_token).await;
    let mut bob_client = server.connect(&bob_token).await;

    let (status, body) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"name":"staff","members":[amy, bob]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let room = &body["room"];
    assert_eq!(room["kind"], "group");
    assert_eq!(room["name"], "staff");
    assert_eq!(room["owner"], Value::Null, "no owner unless named");
    assert_eq!(room["public"], false);
    assert_eq!(room["members_count"], 2);
    assert_eq!(room["last_seq"], 0);
    assert_eq!(room["read_seq"], 0);
    for client in [&mut amy_client, &mut bob_client] {
        let added = client.event("room_added").await;
        assert_eq!(added["room"]["id"], room["id"]);
        assert_eq!(added["room"]["name"], "staff");
    }

    let (status, body) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"kind":"group","name":"owned","members":[bob],"public":true,"owner":amy})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["room"]["owner"], amy.as_str());
    assert_eq!(body["room"]["public"], true);
    assert_eq!(
        body["room"]["members_count"], 2,
        "the owner is a member: {body}"
    );

    let (status, body) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"kind":"direct","members":[bob, amy]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["room"]["kind"], "direct");
    assert_eq!(body["room"]["name"], "amy, bob");
    assert_eq!(body["room"]["owner"], Value::Null);
    let direct = room_id(&body);
    let added = amy_client.event("room_added").await;
    let added = if added["room"]["id"] == direct.as_str() {
        added
    } else {
        amy_client.event("room_added").await
    };
    assert_eq!(added["room"]["name"], "bob", "as amy sees it: {added}");

    let before = server.snapshot().await;
    for (body, status, code) in [
        (json!({"name":"x","members":["u_999"]}), 404, "not_found"),
        (
            json!({"name":"x","members":[amy, "u_999"]}),
            404,
            "not_found",
        ),
        (
            json!({"name":"x","members":[amy],"owner":"u_999"}),
            404,
            "not_found",
        ),
        (json!({"members":[amy]}), 400, "bad_request"),
        (json!({"name":""}), 400, "bad_request"),
        (json!({"name":"x","kind":"bot"}), 400, "bad_request"),
        (json!({"name":"x","members":"u_1"}), 400, "bad_request"),
        (json!({"name":"x","public":"yes"}), 400, "bad_request"),
        (json!({"kind":"direct","members":[amy]}), 400, "bad_request"),
        (
            json!({"kind":"direct","members":[amy, amy]}),
            400,
            "bad_request",
        ),
        (json!("staff"), 400, "bad_request"),
    ] {
        let answer = server
            .admin("POST", "/admin/rooms", Some(body.clone()))
            .await;
        assert_error(&answer, status, code);
    }
    assert_eq!(
        server.snapshot().await,
        before,
        "a refused create changed the store"
    );
}
on_both_backends!(creating_rooms_announces_them_to_members);

async fn listing_and_showing_rooms(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (amy, amy_token) = server.user("amy").await;
    let (bob, _) = server.user("bob").await;
    let mut groups = Vec::new();
    for name in ["a", "b", "c"] {
        let (_, body) = server
            .admin(
                "POST",
                "/admin/rooms",
                Some(json!({"name":name,"members":[amy]})),
            )
            .await;
        groups.push(room_id(&body));
    }
    let (_, body) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"kind":"direct","members":[amy, bob]})),
        )
        .await;
    let direct = room_id(&body);

    let all = get_all_pages(&server, "/admin/rooms", "rooms", None).await;
    let listed: Vec<&str> = all.iter().filter_map(|r| r["id"].as_str()).collect();
    let mut expected: Vec<&str> = groups.iter().map(String::as_str).collect();
    expected.push(&direct);
    assert_eq!(listed, expected);
    let (_, body) = server.admin("GET", "/admin/rooms?kind=direct", None).await;
    assert_eq!(body["rooms"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["rooms"][0]["id"], direct.as_str());
    let (_, body) = server.admin("GET", "/admin/rooms?kind=group", None).await;
    assert_eq!(body["rooms"].as_array().map(Vec::len), Some(3), "{body}");
    let (_, body) = server
        .admin("GET", &format!("/admin/rooms?after={}", groups[1]), None)
        .await;
    let rest: Vec<&str> = body["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(rest, vec![groups[2].as_str(), direct.as_str()]);
    assert!(body["next"].is_null());
    for query in ["kind=channel", "after=u_1", "after=zz"] {
        let answer = server
            .admin("GET", &format!("/admin/rooms?{query}"), None)
            .await;
        assert_error(&answer, 400, "bad_request");
    }

    let _amy_online = server.connect(&amy_token).await;
    let (status, body) = server
        .admin("GET", &format!("/admin/rooms/{direct}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room"]["id"], direct.as_str());
    assert_eq!(body["room"]["name"], "amy, bob");
    let members = body["members"].as_array().expect("members");
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["id"], amy.as_str());
    assert_eq!(members[0]["online"], true);
    assert_eq!(members[1]["id"], bob.as_str());
    assert_eq!(members[1]["online"], false);
    for missing in ["r_999", "r_x", "u_1"] {
        for path in [
            format!("/admin/rooms/{missing}"),
            format!("/admin/rooms/{missing}/messages"),
        ] {
            let answer = server.admin("GET", &path, None).await;
            assert_error(&answer, 404, "not_found");
        }
        let answer = server
            .admin("DELETE", &format!("/admin/rooms/{missing}"), None)
            .await;
        assert_error(&answer, 404, "not_found");
    }
}
on_both_backends!(listing_and_showing_rooms);

async fn deleting_a_room_sends_room_removed_to_every_members_connection(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (amy, amy_token) = server.user("amy").await;
    let (bob, bob_token) = server.user("bob").await;
    let (_, carol_token) = server.user("carol").await;
    let (_, body) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"name":"doomed","members":[amy, bob]})),
        )
        .await;
    let room = room_id(&body);
    let mut amy_joined = server.connect(&amy_token).await;
    let mut amy_idle = server.connect(&amy_token).await;
    let mut bob_client = server.connect(&bob_token).await;
    let mut carol = server.connect(&carol_token).await;
    amy_joined.ok(json!({"type":"join","room":room})).await;
    amy_joined
        .ok(json!({"type":"send","room":room,"body":"bye"}))
        .await;

    let (status, body) = server
        .admin("DELETE", &format!("/admin/rooms/{room}"), None)
        .await;
    assert_eq!(status, 204, "{body}");
    for client in [&mut amy_joined, &mut amy_idle, &mut bob_client] {
        let removed = client.event("room_removed").await;
        assert_eq!(removed["room"], room.as_str());
    }
    carol.assert_no_event(&[]).await;
    let answer = server
        .admin("GET", &format!("/admin/rooms/{room}"), None)
        .await;
    assert_error(&answer, 404, "not_found");
    let answer = server
        .admin("GET", &format!("/admin/rooms/{room}/messages"), None)
        .await;
    assert_error(&answer, 404, "not_found");
    let answer = server
        .admin("DELETE", &format!("/admin/rooms/{room}"), None)
        .await;
    assert_error(&answer, 404, "not_found");
    let code = amy_joined
        .error(json!({"type":"send","room":room,"body":"anyone?"}))
        .await;
    assert_eq!(code, "not_found");
    let rooms = bob_client.ok(json!({"type":"rooms"})).await;
    assert_eq!(rooms["rooms"], json!([]));
}
on_both_backends!(deleting_a_room_sends_room_removed_to_every_members_connection);

async fn adding_and_removing_members_sends_the_events(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (amy, amy_token) = server.user("amy").await;
    let (bob, bob_token) = server.user("bob").await;
    let (_, body) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"name":"g","members":[amy]})),
        )
        .await;
    let room = room_id(&body);
    let mut amy_client = server.connect(&amy_token).await;
    let mut bob_client = server.connect(&bob_token).await;
    amy_client.ok(json!({"type":"join","room":room})).await;

    let (status, body) = server
        .admin(
            "POST",
            &format!("/admin/rooms/{room}/members"),
            Some(json!({"user":bob})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({}));
    let added = bob_client.event("room_added").await;
    assert_eq!(added["room"]["id"], room.as_str());
    assert_eq!(added["room"]["members_count"], 2);
    let joined = amy_client.event("member_joined").await;
    assert_eq!(joined["user"]["id"], bob.as_str());
    bob_client.ok(json!({"type":"join","room":room})).await;

    // Only admins can kick from a group without an owner.
    let code = amy_client
        .error(json!({"type":"kick","room":room,"user":bob}))
        .await;
    assert_eq!(code, "forbidden");

    let (status, body) = server
        .admin(
            "DELETE",
            &format!("/admin/rooms/{room}/members/{bob}"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let removed = bob_client.event("room_removed").await;
    assert_eq!(removed["room"], room.as_str());
    let left = amy_client.event("member_left").await;
    assert_eq!(left["user"]["id"], bob.as_str());
    amy_client
        .ok(json!({"type":"send","room":room,"body":"after bob"}))
        .await;
    bob_client.assert_no_event(&[]).await;

    let before = server.snapshot().await;
    for (method, path, body, status, code) in [
        (
            "DELETE",
            format!("/admin/rooms/{room}/members/{bob}"),
            None,
            404,
            "not_found",
        ),
        (
            "DELETE",
            format!("/admin/rooms/{room}/members/u_999"),
            None,
            404,
            "not_found",
        ),
        (
            "DELETE",
            format!("/admin/rooms/r_999/members/{amy}"),
            None,
            404,
            "not_found",
        ),
        (
            "POST",
            format!("/admin/rooms/{room}/members"),
            Some(json!({"user":"u_999"})),
            404,
            "not_found",
        ),
        (
            "POST",
            "/admin/rooms/r_999/members".to_string(),
            Some(json!({"user":bob})),
            404,
            "not_found",
        ),
        (
            "POST",
            format!("/admin/rooms/{room}/members"),
            Some(json!({})),
            400,
            "bad_request",
        ),
        (
            "POST",
            format!("/admin/rooms/{room}/members"),
            Some(json!({"user":5})),
            400,
            "bad_request",
        ),
    ] {
        let answer = server.admin(method, &path, body).await;
        assert_error(&answer, status, code);
    }
    assert_eq!(
        server.snapshot().await,
        before,
        "a refused change altered the store"
    );

    let (carol, _) = server.user("carol").await;
    let (_, direct) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"kind":"direct","members":[amy, bob]})),
        )
        .await;
    let direct = room_id(&direct);
    let before = server.snapshot().await;
    let answer = server
        .admin(
            "POST",
            &format!("/admin/rooms/{direct}/members"),
            Some(json!({"user":carol})),
        )
        .await;
    assert_error(&answer, 400, "bad_request");
    assert_eq!(
        server.snapshot().await,
        before,
        "a direct room took a third member"
    );
}
on_both_backends!(adding_and_removing_members_sends_the_events);

async fn admin_messages_are_sent_as_system_and_page_like_history(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (amy, amy_token) = server.user("amy").await;
    let (_, body) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"name":"g","members":[amy]})),
        )
        .await;
    let room = room_id(&body);
    let mut amy_client = server.connect(&amy_token).await;
    amy_client.ok(json!({"type":"join","room":room})).await;

    let (status, body) = server
        .admin(
            "POST",
            &format!("/admin/rooms/{room}/messages"),
            Some(json!({"body":"maintenance at five"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let message = &body["message"];
    assert_eq!(message["seq"], 1);
    assert_eq!(message["room"], room.as_str());
    assert_eq!(message["body"], "maintenance at five");
    assert_eq!(message["sender"]["kind"], "system");
    assert_eq!(message["sender"]["id"], "system");
    let event = amy_client.event("message").await;
    assert_eq!(event["message"], *message);

    for n in 2..=5 {
        amy_client
            .ok(json!({"type":"send","room":room,"body":format!("m{n}")}))
            .await;
    }
    let path = format!("/admin/rooms/{room}/messages");
    for (query, expected, has_more) in [
        ("", vec![1, 2, 3, 4, 5], false),
        ("?limit=2", vec![4, 5], true),
        ("?before_seq=4&limit=2", vec![2, 3], true),
        ("?before_seq=3&limit=2", vec![1, 2], false),
        ("?before_seq=1", vec![], false),
    ] {
        let (status, body) = server.admin("GET", &format!("{path}{query}"), None).await;
        assert_eq!(status, 200, "{body}");
        let seqs: Vec<i64> = body["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter_map(|m| m["seq"].as_i64())
            .collect();
        assert_eq!(seqs, expected, "{query}");
        assert_eq!(body["has_more"], has_more, "{query}");
    }
    for query in ["?limit=0", "?limit=201", "?before_seq=-1", "?limit=x"] {
        let answer = server.admin("GET", &format!("{path}{query}"), None).await;
        assert_error(&answer, 400, "bad_request");
    }
    let before = server.snapshot().await;
    for (body, status, code) in [
        (json!({}), 400, "bad_request"),
        (json!({"body":""}), 400, "bad_request"),
        (json!({"body":7}), 400, "bad_request"),
        (json!({"body":"é".repeat(4001)}), 413, "too_large"),
    ] {
        let answer = server.admin("POST", &path, Some(body)).await;
        assert_error(&answer, status, code);
    }
    let answer = server
        .admin(
            "POST",
            "/admin/rooms/r_999/messages",
            Some(json!({"body":"x"})),
        )
        .await;
    assert_error(&answer, 404, "not_found");
    assert_eq!(
        server.snapshot().await,
        before,
        "a refused post changed the store"
    );
}
on_both_backends!(admin_messages_are_sent_as_system_and_page_like_history);

async fn broadcast_sends_a_notice_to_every_connection_and_counts_them(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (_, amy_token) = server.user("amy").await;
    let (_, bob_token) = server.user("bob").await;
    let mut clients = vec![
        server.connect(&amy_token).await,
        server.connect(&amy_token).await,
        server.connect(&bob_token).await,
    ];
    let before = server.snapshot().await;
    let (status, body) = server
        .admin(
            "POST",
            "/admin/broadcast",
            Some(json!({"body":"restart in 5 minutes"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"delivered": 3}));
    for client in &mut clients {
        let notice = client.event("notice").await;
        assert_eq!(
            notice,
            json!({"type":"notice","body":"restart in 5 minutes"})
        );
    }
    assert_eq!(server.snapshot().await, before, "a notice is not stored");
    for body in [json!({}), json!({"body":""}), json!({"body":1})] {
        let answer = server.admin("POST", "/admin/broadcast", Some(body)).await;
        assert_error(&answer, 400, "bad_request");
    }
    for client in clients.drain(..) {
        client.close().await;
    }
    // Wait until the server has seen the closes, then nobody is left to tell.
    for _ in 0..50 {
        let (_, stats) = server.admin("GET", "/admin/stats", None).await;
        if stats["connections"] == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, body) = server
        .admin("POST", "/admin/broadcast", Some(json!({"body":"anyone?"})))
        .await;
    assert_eq!(body, json!({"delivered": 0}));
}
on_both_backends!(broadcast_sends_a_notice_to_every_connection_and_counts_them);

async fn stats_count_connections_users_and_messages(backend: Backend) {
    let (server, _db) = start(backend).await;
    let (status, stats) = server.admin("GET", "/admin/stats", None).await;
    assert_eq!(status, 200, "{stats}");
    for field in [
        "connections",
        "users_online",
        "rooms_active",
        "messages_total",
        "uptime_s",
    ] {
        assert!(stats[field].is_u64(), "{field} must be a count: {stats}");
    }
    assert_eq!(stats["connections"], 0);
    assert_eq!(stats["users_online"], 0);
    assert_eq!(stats["messages_total"], 0);

    let (_, amy_token) = server.user("amy").await;
    let (_, bob_token) = server.user("bob").await;
    let mut amy_client = server.connect(&amy_token).await;
    let _amy_phone = server.connect(&amy_token).await;
    let _bob_client = server.connect(&bob_token).await;
    let room = room_id(
        &amy_client
            .ok(json!({"type":"create_group","name":"g"}))
            .await,
    );
    amy_client.ok(json!({"type":"join","room":room})).await;
    for body in ["one", "two", "three"] {
        amy_client
            .ok(json!({"type":"send","room":room,"body":body}))
            .await;
    }
    server
        .admin(
            "POST",
            &format!("/admin/rooms/{room}/messages"),
            Some(json!({"body":"four"})),
        )
        .await;
    let (_, stats) = server.admin("GET", "/admin/stats", None).await;
    assert_eq!(stats["connections"], 3, "{stats}");
    assert_eq!(stats["users_online"], 2, "{stats}");
    assert_eq!(stats["messages_total"], 4, "{stats}");
    assert!(
        stats["rooms_active"].as_u64().is_some_and(|n| n >= 1),
        "{stats}"
    );
}
on_both_backends!(stats_count_connections_users_and_messages);
