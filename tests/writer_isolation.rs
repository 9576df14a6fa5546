//! End-to-end on the store: a post the database refuses fails alone. The other posts of
//! its group-commit batch (its own job's and other rooms') commit, in order, with no gap in
//! `seq`.

mod common;

use common::{Backend, Database};
use palaver::db::models::{UserKind, UserRow};
use palaver::db::{Appended, DatabaseUrl, NewPost, Store, StoreConfig};
use palaver::model::RoomId;

fn post(room_id: RoomId, sender: &UserRow, body: &str) -> NewPost {
    NewPost::text(room_id, sender.clone(), body)
}

async fn a_refused_post_fails_alone(backend: Backend) {
    let db = Database::new(backend).await;
    let url = DatabaseUrl::parse(&db.url).expect("url");
    let store = Store::open(&url, StoreConfig::default()).expect("store opens");
    let amy = store
        .create_user("amy", UserKind::User, None)
        .await
        .expect("amy");
    let first = store
        .create_group("one", false, Some(amy.id), vec![])
        .await
        .expect("group")
        .id;
    let second = store
        .create_group("two", false, Some(amy.id), vec![])
        .await
        .expect("group")
        .id;
    // No such room: both backends refuse the row (a foreign key), whatever batch it is in.
    let missing = RoomId(1_000_000);

    // One job: good, refused, good, good, refused.
    let outcomes = store
        .append(vec![
            post(first, &amy, "a"),
            post(missing, &amy, "lost"),
            post(second, &amy, "b"),
            post(first, &amy, "c"),
            post(missing, &amy, "lost too"),
        ])
        .await
        .expect("the writer answers");
    let seqs: Vec<Option<(RoomId, i64)>> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Ok(Appended::New(message)) => Some((message.row.room_id, message.row.seq)),
            Ok(Appended::Duplicate(_)) => panic!("nothing was sent twice"),
            Err(_) => None,
        })
        .collect();
    assert_eq!(
        seqs,
        vec![
            Some((first, 1)),
            None,
            Some((second, 1)),
            Some((first, 2)),
            None
        ]
    );

    // Concurrent jobs that the writer may fold into one batch with a refused post.
    let jobs = (0..20).map(|n| {
        let store = store.clone();
        let amy = amy.clone();
        async move {
            let room = if n % 5 == 3 { missing } else { first };
            store
                .append(vec![post(room, &amy, &format!("job {n}"))])
                .await
        }
    });
    let answers = futures_util::future::join_all(jobs).await;
    for (n, answer) in answers.iter().enumerate() {
        let outcome = &answer.as_ref().expect("the writer answers")[0];
        assert_eq!(outcome.is_ok(), n % 5 != 3, "job {n}: {outcome:?}");
    }
    let page = store.messages_after(first, 0, 200).await.expect("history");
    let stored: Vec<(i64, String)> = page
        .messages
        .iter()
        .map(|message| (message.row.seq, message.row.body.clone()))
        .collect();
    assert_eq!(stored.len(), 2 + 16);
    for (index, (seq, _)) in stored.iter().enumerate() {
        assert_eq!(*seq, index as i64 + 1, "seq runs 1, 2, 3, … with no gap");
    }
    assert!(stored.iter().all(|(_, body)| !body.starts_with("lost")));
}

on_both_backends!(a_refused_post_fails_alone);
