//! End-to-end: the user directory, `users` (docs/protocol.md section 10): a case-insensitive
//! name prefix taken literally, name order, pages that follow `next` to the end, deactivated
//! users and the system never listed, bots only while `open_bot` can open them; bad input
//! is `bad_request` and changes nothing. Also what naming a bot or a name where a person is
//! expected answers (`invite`, `kick`, `open_direct`, `create_group`). On both backends.

mod common;

use common::{room_id, Backend, Client, Database, Server};
use serde_json::{json, Value};

/// The demo bot every server here runs (bots/mathbot.json).
const BOT: &str = "mathbot";

struct World {
    server: Server,
    /// (name, id, token) of every user made, in the order made.
    people: Vec<(String, String, String)>,
    _db: Database,
}

impl World {
    async fn new(backend: Backend, names: &[&str]) -> World {
        let db = Database::new(backend).await;
        let server = Server::start(&db).await;
        let mut people = Vec::new();
        for name in names {
            let (id, token) = server.user(name).await;
            people.push((name.to_string(), id, token));
        }
        World {
            server,
            people,
            _db: db,
        }
    }

    fn id(&self, name: &str) -> &str {
        &self.person(name).1
    }

    fn person(&self, name: &str) -> &(String, String, String) {
        self.people
            .iter()
            .find(|(known, _, _)| known == name)
            .expect("a user of the test")
    }

    async fn connect(&self, name: &str) -> Client {
        self.server.connect(&self.person(name).2).await
    }
}

/// The names of a page's users, in order.
fn names(page: &Value) -> Vec<String> {
    page["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|user| user["name"].as_str().expect("name").to_string())
        .collect()
}

/// Every entry `query` finds, following `next` with pages of `limit`; checks each page's size.
async fn all_pages(client: &mut Client, query: &str, limit: i64) -> Vec<Value> {
    let mut found: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let mut command = json!({"type":"users","query":query,"limit":limit});
        if let Some(after) = &after {
            command["after"] = json!(after);
        }
        let page = client.ok(command).await;
        let users = page["users"].as_array().cloned().unwrap_or_default();
        assert!(users.len() as i64 <= limit, "{page}");
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(
                    users.len() as i64,
                    limit,
                    "only the last page is short: {page}"
                );
                assert_eq!(users.last().map(|user| &user["id"]), Some(&json!(next)));
                after = Some(next.to_string());
                found.extend(users);
            }
            None => {
                assert!(page["next"].is_null(), "{page}");
                found.extend(users);
                return found;
            }
        }
    }
    panic!("more than 100 pages");
}

const NAMES: &[&str] = &[
    "amy", "Amelia", "bob", "Émile", "émilie", "carl_x", "carlax", "dora", "eve",
];

async fn finds_people_by_a_case_insensitive_prefix_in_name_order(backend: Backend) {
    let w = World::new(backend, NAMES).await;
    let mut amy = w.connect("amy").await;

    let page = amy.ok(json!({"type":"users","query":"am"})).await;
    assert_eq!(names(&page), ["Amelia", "amy"], "{page}");
    assert!(page["next"].is_null(), "{page}");
    let shouted = amy.ok(json!({"type":"users","query":"AM"})).await;
    assert_eq!(shouted, page, "the prefix is case-insensitive");
    // The User objects: ids, kinds and presence (amy is connected, Amelia is not).
    assert_eq!(
        page["users"],
        json!([
            {"id": w.id("Amelia"), "name": "Amelia", "kind": "user", "online": false},
            {"id": w.id("amy"), "name": "amy", "kind": "user", "online": true},
        ])
    );

    // Beyond ASCII: É and é are the same letter to the directory.
    for query in ["ém", "ÉM", "Émi"] {
        let page = amy.ok(json!({"type":"users","query":query})).await;
        assert_eq!(names(&page), ["Émile", "émilie"], "{query}: {page}");
    }
    // LIKE's wildcards are taken literally.
    let page = amy.ok(json!({"type":"users","query":"carl_"})).await;
    assert_eq!(names(&page), ["carl_x"], "{page}");
    for query in ["%", "_", "\\", "a%", "zzz"] {
        let page = amy.ok(json!({"type":"users","query":query})).await;
        assert_eq!(page, json!({"users": [], "next": null}), "{query}");
    }
    // The demo bot is listed (open_bot opens it) under its handle; the system never is.
    let page = amy.ok(json!({"type":"users","query":"MATH"})).await;
    assert_eq!(
        page["users"],
        json!([{"id": BOT, "name": "Mathbot", "kind": "bot", "online": false}])
    );
    let page = amy.ok(json!({"type":"users","query":"sys"})).await;
    assert_eq!(names(&page), Vec::<String>::new(), "{page}");

    // Everyone, in name order (case-insensitive), the caller included.
    let everyone = amy.ok(json!({"type":"users","limit":50})).await;
    assert_eq!(
        names(&everyone),
        ["Amelia", "amy", "bob", "carl_x", "carlax", "dora", "eve", "Mathbot", "Émile", "émilie"],
        "{everyone}"
    );
    assert!(everyone["next"].is_null());
    // Without a limit, a page is 20: all ten fit.
    let default_page = amy.ok(json!({"type":"users"})).await;
    assert_eq!(default_page, everyone);

    // Pages of 1, 3 and 10 give the same list, each entry once, `next` null at the end.
    for limit in [1, 3, 10] {
        let paged = all_pages(&mut amy, "", limit).await;
        assert_eq!(Value::Array(paged), everyone["users"], "limit {limit}");
    }
    let paged = all_pages(&mut amy, "É", 1).await;
    let paged_names: Vec<&str> = paged.iter().filter_map(|u| u["name"].as_str()).collect();
    assert_eq!(paged_names, ["Émile", "émilie"]);
}

on_both_backends!(finds_people_by_a_case_insensitive_prefix_in_name_order);

async fn deactivated_users_leave_and_bots_follow_open_bot(backend: Backend) {
    let w = World::new(backend, &["amy", "bob", "bea", "cat"]).await;
    let mut amy = w.connect("amy").await;

    // A page ends at bea; bea is deactivated; her id still continues the listing.
    let first = amy.ok(json!({"type":"users","limit":2})).await;
    assert_eq!(names(&first), ["amy", "bea"], "{first}");
    assert_eq!(first["next"], w.id("bea"));
    let (status, body) = w
        .server
        .admin("DELETE", &format!("/admin/users/{}", w.id("bea")), None)
        .await;
    assert_eq!(status, 204, "{body}");
    let rest = amy
        .ok(json!({"type":"users","limit":2,"after":first["next"]}))
        .await;
    assert_eq!(names(&rest), ["bob", "cat"], "{rest}");
    assert_eq!(rest["next"], w.id("cat"));
    let last = amy
        .ok(json!({"type":"users","limit":2,"after":rest["next"]}))
        .await;
    assert_eq!(
        last,
        json!({"users":[{"id":BOT,"name":"Mathbot","kind":"bot","online":false}],"next":null})
    );
    let b = amy.ok(json!({"type":"users","query":"b"})).await;
    assert_eq!(
        names(&b),
        ["bob"],
        "a deactivated user is never listed: {b}"
    );

    // A listed bot opens; once deleted it is neither listed nor opened (its user stays).
    amy.ok(json!({"type":"open_bot","bot":BOT})).await;
    let (status, body) = w
        .server
        .admin("DELETE", &format!("/admin/bots/{BOT}"), None)
        .await;
    assert_eq!(status, 204, "{body}");
    let gone = amy.ok(json!({"type":"users","query":"math"})).await;
    assert_eq!(gone, json!({"users": [], "next": null}));
    assert_eq!(
        amy.error(json!({"type":"open_bot","bot":BOT})).await,
        "not_found"
    );
    // Its handle still works as a cursor: it names a row that sorts between the others.
    let after_bot = amy.ok(json!({"type":"users","after":BOT})).await;
    assert_eq!(after_bot, json!({"users": [], "next": null}));

    // A bot installed through the admin API is listed at once, and opens.
    let definition = json!({
        "name": "Greeter", "sort": "scripted", "fallback": "Say hi.",
        "script": {"start": "hello", "states": {"hello": {"say": [{"kind":"text","text":"Hi!"}]}}}
    });
    let (status, body) = w
        .server
        .admin("PUT", "/admin/bots/greeter", Some(definition))
        .await;
    assert_eq!(status, 201, "{body}");
    let greeter = amy.ok(json!({"type":"users","query":"gr"})).await;
    assert_eq!(
        greeter,
        json!({"users":[{"id":"greeter","name":"Greeter","kind":"bot","online":false}],"next":null})
    );
    amy.ok(json!({"type":"open_bot","bot":"greeter"})).await;

    // Presence follows connections.
    let mut bob = w.connect("bob").await;
    let page = bob.ok(json!({"type":"users","query":"bob"})).await;
    assert_eq!(page["users"][0]["online"], true, "{page}");
    bob.close().await;
}

on_both_backends!(deactivated_users_leave_and_bots_follow_open_bot);

async fn bad_directory_input_is_bad_request_and_changes_nothing(backend: Backend) {
    let w = World::new(backend, &["amy", "bob"]).await;
    let mut amy = w.connect("amy").await;
    let before = w.server.snapshot().await;
    let long = "x".repeat(65);
    let bad = [
        // query: not a string, too long
        json!({"type":"users","id":"q1","query":5}),
        json!({"type":"users","id":"q2","query":true}),
        json!({"type":"users","id":"q3","query":["a"]}),
        json!({"type":"users","id":"q4","query":{"prefix":"a"}}),
        json!({"type":"users","id":"q5","query":long}),
        // after: not an id, or no `next` this server gave
        json!({"type":"users","id":"a1","after":7}),
        json!({"type":"users","id":"a2","after":""}),
        json!({"type":"users","id":"a3","after":"u_x"}),
        json!({"type":"users","id":"a4","after":"u_999"}),
        json!({"type":"users","id":"a5","after":"nobody"}),
        json!({"type":"users","id":"a6","after":"system"}),
        json!({"type":"users","id":"a7","after":long}),
        json!({"type":"users","id":"a8","after":["u_2"]}),
        // limit: outside 1 to 50, not an integer
        json!({"type":"users","id":"l1","limit":0}),
        json!({"type":"users","id":"l2","limit":51}),
        json!({"type":"users","id":"l3","limit":-1}),
        json!({"type":"users","id":"l4","limit":"5"}),
        json!({"type":"users","id":"l5","limit":2.5}),
        json!({"type":"users","id":"l6","limit":18446744073709551616u128 as f64}),
    ];
    for frame in bad {
        amy.send(frame.clone()).await;
        let reply = amy.reply_to(frame["id"].clone()).await;
        assert_eq!(reply["type"], "error", "{frame} -> {reply}");
        assert_eq!(reply["code"], "bad_request", "{frame} -> {reply}");
        assert!(
            reply["message"].as_str().is_some_and(|m| m.contains('`')),
            "the message names the field: {reply}"
        );
    }
    // The connection still works, and nothing changed.
    let page = amy.ok(json!({"type":"users","query":"b"})).await;
    assert_eq!(names(&page), ["bob"]);
    assert_eq!(w.server.snapshot().await, before);
}

on_both_backends!(bad_directory_input_is_bad_request_and_changes_nothing);

async fn naming_a_bot_or_a_name_where_a_person_goes_says_what_is_wrong(backend: Backend) {
    let w = World::new(backend, &["amy", "bob"]).await;
    let mut amy = w.connect("amy").await;
    let group = room_id(
        &amy.ok(json!({"type":"create_group","name":"study","members":[w.id("bob")]}))
            .await,
    );
    let before = w.server.snapshot().await;

    for command in [
        json!({"type":"invite","room":group,"user":BOT}),
        json!({"type":"kick","room":group,"user":BOT}),
        json!({"type":"open_direct","user":BOT}),
        json!({"type":"create_group","name":"with a bot","members":[w.id("bob"), BOT]}),
    ] {
        let reply = amy.error_reply(command.clone()).await;
        assert_eq!(reply["code"], "bad_request", "{command} -> {reply}");
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("mathbot is a bot") && message.contains("open_bot"),
            "{command} -> {reply}"
        );
    }
    // A name instead of an id, an id nobody has, the system: not_found, naming it.
    for (user, words) in [
        ("bob", "no such user \"bob\""),
        ("u_999", "no such user u_999"),
        ("system", "no such user \"system\""),
    ] {
        let reply = amy
            .error_reply(json!({"type":"invite","room":group,"user":user}))
            .await;
        assert_eq!(reply["code"], "not_found", "{user}: {reply}");
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(words), "{user}: {reply}");
    }
    // A group with members nobody is names exactly those (and is not created).
    let reply = amy
        .error_reply(json!({"type":"create_group","name":"ghosts","members":[w.id("bob"), "u_998", "u_999"]}))
        .await;
    assert_eq!(reply["code"], "not_found", "{reply}");
    assert_eq!(reply["message"], "no such user u_998, u_999", "{reply}");
    let reply = amy
        .error_reply(json!({"type":"open_direct","user":"bob"}))
        .await;
    assert!(
        reply["message"]
            .as_str()
            .is_some_and(|m| m.contains("`users`")),
        "the answer points at the directory: {reply}"
    );
    assert_eq!(w.server.snapshot().await, before, "nothing changed");

    // The ids the directory gives are the ones these commands take.
    let found = amy.ok(json!({"type":"users","query":"bo"})).await;
    let bob_id = found["users"][0]["id"].clone();
    assert_eq!(bob_id, w.id("bob"));
    amy.ok(json!({"type":"open_direct","user":bob_id})).await;
}

on_both_backends!(naming_a_bot_or_a_name_where_a_person_goes_says_what_is_wrong);

/// `--directory shared` (section 13): `users` lists the caller, the people who share a room
/// with them, and bots; a person one cannot find is `not_found` in `open_direct`,
/// `create_group` and `invite`, exactly as an id nobody has; once they share a room, they
/// are found. `--directory none`: bots only.
async fn a_shared_directory_finds_only_people_one_shares_a_room_with(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--directory", "shared"]).await;
    let mut people = Vec::new();
    for name in ["amy", "bob", "cal"] {
        people.push(server.user(name).await);
    }
    let [(amy_id, amy_token), (bob_id, bob_token), (cal_id, _)] =
        [people[0].clone(), people[1].clone(), people[2].clone()];
    let mut amy = server.connect(&amy_token).await;
    let mut bob = server.connect(&bob_token).await;
    // Nobody shares a room yet: amy finds herself and the bot.
    let page = amy.ok(json!({"type":"users"})).await;
    assert_eq!(names(&page), ["amy", "Mathbot"], "{page}");
    let reply = amy
        .error_reply(json!({"type":"open_direct","user":bob_id}))
        .await;
    let unknown = amy
        .error_reply(json!({"type":"open_direct","user":"u_999999"}))
        .await;
    assert_eq!(reply["code"], "not_found", "{reply}");
    assert_eq!(
        reply["message"]
            .as_str()
            .map(|m| m.replace(&bob_id, "u_999999")),
        unknown["message"].as_str().map(str::to_string),
        "answered exactly as an id nobody has"
    );
    assert_eq!(
        amy.error(json!({"type":"create_group","name":"g","members":[bob_id]}))
            .await,
        "not_found"
    );
    let group = room_id(&amy.ok(json!({"type":"create_group","name":"mine"})).await);
    assert_eq!(
        amy.error(json!({"type":"invite","room":group,"user":bob_id}))
            .await,
        "not_found"
    );
    assert_eq!(
        amy.ok(json!({"type":"rooms"})).await["rooms"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "nothing was made by the refusals"
    );
    // The admin puts amy and bob in one group: now they find each other, not cal.
    let (status, body) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"name":"class","members":[amy_id, bob_id]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let page = amy.ok(json!({"type":"users"})).await;
    assert_eq!(names(&page), ["amy", "bob", "Mathbot"], "{page}");
    let page = bob.ok(json!({"type":"users","query":"c"})).await;
    assert_eq!(
        names(&page),
        Vec::<String>::new(),
        "cal shares no room: {page}"
    );
    amy.ok(json!({"type":"open_direct","user":bob_id})).await;
    amy.ok(json!({"type":"invite","room":group,"user":bob_id}))
        .await;
    assert_eq!(
        bob.error(json!({"type":"open_direct","user":cal_id})).await,
        "not_found"
    );
    drop((amy, bob));
    drop(server);

    let server = Server::start_with(&db, &["--directory", "none"]).await;
    let mut amy = server.connect(&amy_token).await;
    let page = amy.ok(json!({"type":"users"})).await;
    assert_eq!(names(&page), ["Mathbot"], "{page}");
    assert_eq!(
        amy.error(json!({"type":"open_direct","user":bob_id})).await,
        "not_found",
        "even someone she shares a room with"
    );
    amy.ok(json!({"type":"open_bot","bot":"mathbot"})).await;
}
on_both_backends!(a_shared_directory_finds_only_people_one_shares_a_room_with);
