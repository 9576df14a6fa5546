//! Actor-level test of the bot (`actors/bot.rs`): it greets, answers, and survives a crash.

use std::time::Duration;

use super::*;
use crate::actors::hub::{BotAddr, InstallBot};
use crate::actors::testing::Fixture;
use crate::bots::loader;
use crate::db::models::RoomKind;
use crate::db::models::UserKind;

async fn install_demo(fixture: &Fixture) -> UserRow {
    let definition = loader::parse(crate::bots::DEMO_BOT).expect("the demo bot is valid");
    let document = serde_json::to_string(&definition.document).expect("serializable");
    let (user, _) = fixture
        .store
        .put_bot(definition.id(), &definition.document.name, document)
        .await
        .expect("stored");
    fixture
        .hub
        .send(InstallBot {
            definition: Arc::new(definition),
            user: user.clone(),
            share: false,
        })
        .await
        .expect("hub");
    user
}

/// Bot messages stored in the room, waiting for `count` of them.
async fn bot_messages(fixture: &Fixture, room: RoomId, count: usize) -> Vec<StoredMessage> {
    for _ in 0..200 {
        let page = fixture
            .store
            .messages_after(room, 0, 100)
            .await
            .expect("store");
        let said: Vec<StoredMessage> = page
            .messages
            .into_iter()
            .filter(|message| message.sender.kind == UserKind::Bot)
            .collect();
        if said.len() >= count {
            return said;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the bot did not say {count} messages");
}

#[actix_rt::test]
async fn greets_answers_and_survives_a_crash() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let bot = install_demo(&fixture).await;
    let (room, _) = fixture
        .store
        .open_pair(RoomKind::Bot, amy.id, bot.id)
        .await
        .expect("room");
    let first = fixture
        .hub
        .send(BotAddr {
            id: "mathbot".into(),
        })
        .await
        .expect("hub")
        .expect("running");
    first.do_send(Converse {
        room_id: room.id,
        turn: Turn::Greet { user: amy.clone() },
    });
    let greeting = bot_messages(&fixture, room.id, 2).await;
    assert_eq!(greeting[1].row.body, "What would you like to do?");
    assert_eq!(
        fixture
            .store
            .bot_state(room.id)
            .await
            .expect("store")
            .as_deref(),
        Some("welcome")
    );

    first.do_send(Crash);
    let mut restarted = None;
    for _ in 0..250 {
        let addr = fixture
            .hub
            .send(BotAddr {
                id: "mathbot".into(),
            })
            .await
            .expect("hub");
        if let Some(addr) = addr.filter(|addr| *addr != first && addr.connected()) {
            restarted = Some(addr);
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    let restarted = restarted.expect("the hub restarted the bot");
    // The crashed actor's mailbox goes a moment after its Drop reported the crash (on
    // its arbiter's thread), so under load it can still look connected here.
    for _ in 0..250 {
        if !first.connected() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!first.connected(), "the crashed bot's mailbox is gone");

    // The restarted bot picks the conversation up where the store says it is.
    let typed = fixture
        .store
        .append(vec![crate::db::NewPost::text(room.id, amy.clone(), "quiz")])
        .await
        .expect("stored");
    restarted.do_send(Converse {
        room_id: room.id,
        turn: Turn::Heard {
            user: amy,
            message: Box::new(typed[0].as_ref().expect("stored").message().clone()),
        },
    });
    let said = bot_messages(&fixture, room.id, 3).await;
    assert_eq!(said[2].row.body, "Question 1: what is 7 × 8?");
}
