//! The planning of a compose chunk, apart from the store.

use super::*;
use crate::model::RoomId;
use crate::notify::payload::Preview;

const W: i64 = 2000;

fn rules(now_ms: i64) -> ComposeRules {
    ComposeRules {
        now_ms,
        window_ms: W,
        preview: Preview::Full,
        ttl_ms: 60_000,
    }
}

fn user(id: i64, name: &str) -> UserRow {
    UserRow {
        id: UserId(id),
        name: name.into(),
        kind: UserKind::User,
        handle: None,
        created_ms: 0,
    }
}

fn room(id: i64, kind: RoomKind, name: Option<&str>) -> RoomRow {
    RoomRow {
        id: RoomId(id),
        kind,
        name: name.map(str::to_string),
        public: false,
        owner_id: None,
        pair_key: None,
        created_ms: 0,
    }
}

#[test]
fn each_pair_takes_what_is_due_in_the_order_given() {
    // u1 in r10: two pending, never sent: due at once. u2 in r10: pending, but its window
    // (sent at 9,000) ends at 11,000. u3 in r10: everything read. u4 in r11: nothing pending.
    // u5 in r10: not a member any more.
    let found = Found {
        pending: vec![
            (1, 10, 7, 9_500),
            (1, 10, 5, 9_000),
            (2, 10, 7, 9_500),
            (3, 10, 7, 9_500),
            (5, 10, 7, 9_500),
            // Not one of the chunk's pairs (u1 in r11): ignored.
            (1, 11, 3, 1),
        ],
        windows: vec![(2, 10, 9_000)],
        reads: vec![(1, 10, 0), (2, 10, 0), (3, 10, 7), (4, 11, 0)],
    };
    let pairs = [(3, 10), (1, 10), (2, 10), (4, 11), (5, 10)];
    let steps = plan(&pairs, found, &rules(10_000));
    assert_eq!(
        steps,
        vec![
            (
                (3, 10),
                Step::Read {
                    upto: 7,
                    dropped: 1
                }
            ),
            (
                (1, 10),
                Step::Send {
                    fold: Fold {
                        newest: 7,
                        count: 2
                    },
                    upto: 7,
                    taken: 2
                }
            ),
            (
                (5, 10),
                Step::Read {
                    upto: 7,
                    dropped: 1
                }
            ),
        ]
    );
}

#[test]
fn a_send_makes_one_delivery_per_device_and_starts_the_window() {
    let steps = vec![
        (
            (1, 10),
            Step::Send {
                fold: Fold {
                    newest: 7,
                    count: 2,
                },
                upto: 8,
                taken: 3,
            },
        ),
        (
            (3, 10),
            Step::Read {
                upto: 7,
                dropped: 2,
            },
        ),
        (
            (2, 20),
            Step::Send {
                fold: Fold {
                    newest: 4,
                    count: 1,
                },
                upto: 4,
                taken: 1,
            },
        ),
    ];
    let sources = Sources {
        rooms: vec![
            room(10, RoomKind::Group, Some("algebra")),
            room(20, RoomKind::Direct, None),
        ],
        messages: vec![
            (10, 7, "x = 3".into(), user(9, "tutor")),
            (20, 4, "hi".into(), user(8, "bob")),
            // Another pair's message: not one taken here.
            (20, 7, "unrelated".into(), user(8, "bob")),
        ],
        names: vec![(20, 2, "amy".into()), (20, 8, "bob".into())],
        unread: vec![(1, 5)],
        devices: vec![(1, 100), (1, 101), (2, 102), (4, 103)],
    };
    let out = writes(steps, sources, &rules(10_000));
    assert_eq!(
        out.done,
        Composed {
            notifications: 2,
            folded: 1,
            read: 2 + 1,
            deliveries: 3,
        }
    );
    let devices: Vec<(i64, i64, i64)> = out
        .deliveries
        .iter()
        .map(|d| (d.device_id, d.room_id, d.seq))
        .collect();
    assert_eq!(devices, vec![(100, 10, 7), (101, 10, 7), (102, 20, 4)]);
    assert!(out
        .deliveries
        .iter()
        .all(|d| d.expires_ms == 70_000 && d.next_ms == 10_000 && d.lease_ms == 0));
    let group: serde_json::Value = serde_json::from_str(&out.deliveries[0].payload).expect("JSON");
    assert_eq!(group["room"]["name"], "algebra");
    assert_eq!(group["count"], 2);
    assert_eq!(group["unread"], 5);
    // A direct room is named by the other member; a user with nothing unread has 0.
    let direct: serde_json::Value = serde_json::from_str(&out.deliveries[2].payload).expect("JSON");
    assert_eq!(direct["room"]["name"], "bob");
    assert_eq!(direct["unread"], 0);
    assert_eq!(out.forget, vec![(1, 10, 8), (3, 10, 7), (2, 20, 4)]);
    assert_eq!(out.windows, vec![(1, 10), (2, 20)]);
    assert!(out.missing.is_empty());
}

#[test]
fn a_pair_whose_message_or_room_is_gone_is_left_as_it_was() {
    let send = |seq| Step::Send {
        fold: Fold {
            newest: seq,
            count: 1,
        },
        upto: seq,
        taken: 1,
    };
    let steps = vec![((1, 10), send(7)), ((2, 30), send(1))];
    let sources = Sources {
        rooms: vec![room(10, RoomKind::Group, Some("g"))],
        messages: vec![(30, 1, "in a room that is gone".into(), user(9, "t"))],
        devices: vec![(1, 100), (2, 101)],
        ..Sources::default()
    };
    let out = writes(steps, sources, &rules(1));
    assert_eq!(out.missing, vec![(1, 10), (2, 30)]);
    assert!(out.deliveries.is_empty() && out.forget.is_empty() && out.windows.is_empty());
    assert_eq!(out.done, Composed::default());
}

#[test]
fn the_statements_name_every_pair() {
    assert_eq!(
        forget_sql(&[(1, 10, 7), (2, 10, 9)]).as_deref(),
        Some(
            "DELETE FROM notifications WHERE (user_id = 1 AND room_id = 10 AND seq <= 7) \
             OR (user_id = 2 AND room_id = 10 AND seq <= 9)"
        )
    );
    assert_eq!(forget_sql(&[]), None);
    let windows = windows_sql(&[(1, 10), (2, 10)], 5).expect("a statement");
    assert!(
        windows.contains("VALUES (1, 10, 5), (2, 10, 5) ON CONFLICT"),
        "{windows}"
    );
    assert_eq!(windows_sql(&[], 5), None);
    assert!(messages_sql(&[(10, 7), (20, 4)]).ends_with("IN (VALUES (10, 7), (20, 4))"));
    assert!(lock_sql(&[-3, 4]).contains("ARRAY[-3,4]::bigint[]"));
    assert!(unread_sql(&[1, 2]).contains("IN (1,2)"));
    assert_eq!(
        users_and_rooms(&[(2, 10), (1, 10), (2, 11)]),
        (vec![1, 2], vec![10, 11])
    );
}
