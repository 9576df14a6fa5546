//! End-to-end on two nodes behind nginx: the admin API answers for the cluster, whichever
//! node takes the request (docs/scale-out.md, "The admin API in a cluster"). A user's
//! connection count, the stats and a broadcast's `delivered` add up every node's live
//! connections; the bot list is the store's. Each answer is asked of both nodes directly
//! and of nginx (round-robin) until they agree, bounded in time: the live counts travel
//! through Redis and land within milliseconds, and the test waits for them as documented.
//! With Redis stopped, an answer that needs the other nodes' counts is 503, never one
//! node's figure passed off as the cluster's; the counts are back once Redis is.

mod common;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::Client;
use serde_json::{json, Value};

const FAST: &[&str] = &["--rate", "100000", "--burst", "100000"];
/// How long the nodes may take to agree (Redis writes land in milliseconds; the machine may
/// be busy).
const AGREE_WITHIN: Duration = Duration::from_secs(15);

/// `GET path` on every node directly and twice through nginx (so on both nodes again).
async fn ask_everywhere(cluster: &Cluster, path: &str) -> Vec<(String, u16, Value)> {
    let mut answers = Vec::new();
    for (n, node) in cluster.nodes.iter().enumerate() {
        let (status, body) = node.admin("GET", path, None).await;
        answers.push((format!("node {}", n + 1), status, body));
    }
    for _ in 0..2 {
        let (status, body) = cluster.admin("GET", path, None).await;
        answers.push(("nginx".to_string(), status, body));
    }
    answers
}

/// Waits until every node and nginx answer `GET path` with 200 and a body `agreed` accepts.
async fn until_all_agree(cluster: &Cluster, path: &str, agreed: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + AGREE_WITHIN;
    loop {
        let answers = ask_everywhere(cluster, path).await;
        if answers
            .iter()
            .all(|(_, status, body)| *status == 200 && agreed(body))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "GET {path}: the nodes do not agree on the expected answer: {answers:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connected(node: &common::Server, token: &str) -> Client {
    let mut client = Client::connect(&node.ws_url(token)).await;
    client.ok(json!({"type":"ping"})).await;
    client
}

#[actix_rt::test]
async fn a_users_connections_and_the_stats_are_counted_on_every_node() {
    let Some(cluster) = Cluster::start(2, FAST).await else {
        return;
    };
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let (amy, amy_token) = one.user("amy").await;
    let (bob, bob_token) = one.user("bob").await;
    let amy_path = format!("/admin/users/{amy}");
    let bob_path = format!("/admin/users/{bob}");
    until_all_agree(&cluster, &amy_path, |shown| {
        shown["connections"] == 0 && shown["user"]["online"] == false
    })
    .await;

    let amy_one = connected(one, &amy_token).await;
    let amy_two = connected(two, &amy_token).await;
    let amy_three = connected(two, &amy_token).await;
    let bob_two = connected(two, &bob_token).await;
    until_all_agree(&cluster, &amy_path, |shown| {
        shown["connections"] == 3 && shown["user"]["online"] == true
    })
    .await;
    until_all_agree(&cluster, &bob_path, |shown| shown["connections"] == 1).await;
    until_all_agree(&cluster, "/admin/stats", |stats| {
        stats["connections"] == 4 && stats["users_online"] == 2
    })
    .await;

    // Closing on one node is seen from the other.
    amy_two.close().await;
    amy_three.close().await;
    until_all_agree(&cluster, &amy_path, |shown| shown["connections"] == 1).await;
    until_all_agree(&cluster, "/admin/stats", |stats| {
        stats["connections"] == 2 && stats["users_online"] == 2
    })
    .await;
    amy_one.close().await;
    bob_two.close().await;
    until_all_agree(&cluster, &amy_path, |shown| {
        shown["connections"] == 0 && shown["user"]["online"] == false
    })
    .await;
    until_all_agree(&cluster, "/admin/stats", |stats| {
        stats["connections"] == 0 && stats["users_online"] == 0
    })
    .await;
}

#[actix_rt::test]
async fn a_broadcast_reaches_and_counts_every_nodes_connections() {
    let Some(cluster) = Cluster::start(2, FAST).await else {
        return;
    };
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let (amy, amy_token) = one.user("amy").await;
    let (bob, bob_token) = one.user("bob").await;
    let mut clients = vec![
        connected(one, &amy_token).await,
        connected(two, &bob_token).await,
        connected(two, &bob_token).await,
    ];
    // The counts have landed everywhere (as documented: within moments).
    until_all_agree(&cluster, &format!("/admin/users/{amy}"), |shown| {
        shown["connections"] == 1
    })
    .await;
    until_all_agree(&cluster, &format!("/admin/users/{bob}"), |shown| {
        shown["connections"] == 2
    })
    .await;

    for (n, via) in ["node 1", "node 2", "nginx", "nginx"].iter().enumerate() {
        let notice = json!({ "body": format!("notice {n}") });
        let (status, answer) = match *via {
            "node 1" => one.admin("POST", "/admin/broadcast", Some(notice)).await,
            "node 2" => two.admin("POST", "/admin/broadcast", Some(notice)).await,
            _ => {
                cluster
                    .admin("POST", "/admin/broadcast", Some(notice))
                    .await
            }
        };
        assert_eq!(status, 200, "{via}: {answer}");
        assert_eq!(
            answer,
            json!({"delivered": 3}),
            "through {via}: every node's connections"
        );
        for client in &mut clients {
            let got = client.event("notice").await;
            assert_eq!(got["body"], format!("notice {n}"), "through {via}");
        }
    }
}

#[actix_rt::test]
async fn the_bot_list_is_the_stores_on_every_node_even_without_redis() {
    let Some(mut cluster) = Cluster::start(2, FAST).await else {
        return;
    };
    let greeter = |id: &str| {
        json!({
            "id": id, "name": format!("Greeter {id}"), "sort": "scripted", "fallback": "Say hi.",
            "script": {"start": "a", "states": {
                "a": {"say": [{"kind":"text","text":"hello"}], "on": [{"goto":"a"}]}
            }}
        })
    };
    let ids = |listed: &Value| -> Vec<String> {
        listed["bots"]
            .as_array()
            .expect("bots")
            .iter()
            .filter_map(|bot| bot["id"].as_str().map(str::to_string))
            .collect()
    };
    let (status, body) = cluster.nodes[0]
        .admin("PUT", "/admin/bots/greeter", Some(greeter("greeter")))
        .await;
    assert_eq!(status, 201, "{body}");
    until_all_agree(&cluster, "/admin/bots", |listed| {
        ids(listed).contains(&"greeter".to_string())
    })
    .await;

    // Without Redis no node hears of another's change; the list is still the store's.
    cluster.redis.kill();
    let (status, _) = cluster.nodes[0]
        .admin("DELETE", "/admin/bots/greeter", None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = cluster.nodes[1]
        .admin("PUT", "/admin/bots/welcomer", Some(greeter("welcomer")))
        .await;
    assert_eq!(status, 201, "{body}");
    for (who, status, listed) in ask_everywhere(&cluster, "/admin/bots").await {
        assert_eq!(status, 200, "{who}: {listed}");
        let listed = ids(&listed);
        assert!(
            !listed.contains(&"greeter".to_string()),
            "{who} lists the deleted bot: {listed:?}"
        );
        assert!(
            listed.contains(&"welcomer".to_string()),
            "{who} misses the new bot: {listed:?}"
        );
    }
    cluster.redis.restart();
}

#[actix_rt::test]
async fn live_counts_are_unavailable_without_redis_and_come_back_with_it() {
    let Some(mut cluster) = Cluster::start(2, FAST).await else {
        return;
    };
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let (amy, amy_token) = one.user("amy").await;
    let mut amy_one = connected(one, &amy_token).await;
    let mut amy_two = connected(two, &amy_token).await;
    let amy_path = format!("/admin/users/{amy}");
    until_all_agree(&cluster, &amy_path, |shown| shown["connections"] == 2).await;

    // No node can know the others' counts: 503, not a count of its own passed off as the
    // cluster's. Nothing is broadcast either.
    cluster.redis.kill();
    for path in [amy_path.as_str(), "/admin/stats"] {
        for (who, status, body) in ask_everywhere(&cluster, path).await {
            assert_eq!(status, 503, "{who} GET {path}: {body}");
            assert_eq!(body["error"]["code"], "unavailable", "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|message| message.contains("Redis")),
                "{body}"
            );
        }
    }
    let (status, body) = cluster.nodes[0]
        .admin("POST", "/admin/broadcast", Some(json!({"body":"anyone?"})))
        .await;
    assert_eq!(status, 503, "{body}");
    for client in [&mut amy_one, &mut amy_two] {
        client.assert_no_event(&["presence"]).await;
    }

    // A new, empty Redis: each node writes its counts again.
    cluster.redis.restart();
    until_all_agree(&cluster, &amy_path, |shown| {
        shown["connections"] == 2 && shown["user"]["online"] == true
    })
    .await;
    until_all_agree(&cluster, "/admin/stats", |stats| {
        stats["connections"] == 2 && stats["users_online"] == 1
    })
    .await;
}
