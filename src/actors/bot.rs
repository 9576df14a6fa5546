//! A bot as an actor: it holds every conversation of one bot, answers each user message or
//! action from its script or its webhook, and posts the answers into the bot room as the
//! bot. Turns of one conversation run in order; conversations never wait on each other,
//! and a webhook call never holds up anything but its own conversation.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use actix::prelude::*;
use serde_json::{json, Value};

use super::messages::{BotCrashed, BotSupervisor, GetRoom, Post, Turn};
use crate::bots::definition::{Behaviour, Definition, Utterance};
use crate::bots::script::Input;
use crate::bots::webhook::{self, WebhookError};
use crate::db::models::{StoredMessage, UserRow};
use crate::db::Store;
use crate::model::RoomId;
use crate::outbound::Outbound;
use crate::protocol::views::{MessageView, UserView};

/// Inputs waiting in one conversation while its turn runs; past this the bot drops the
/// oldest input with a warning (a user over the rate limit cannot get here).
const MAX_QUEUED_TURNS: usize = 64;

pub struct Bot {
    definition: Arc<Definition>,
    user: UserRow,
    store: Store,
    supervisor: BotSupervisor,
    /// The TLS setup webhook calls are made with; the client is made at the first call.
    outbound: Outbound,
    client: Option<awc::Client>,
    conversations: HashMap<RoomId, Conversation>,
    webhook_calls: usize,
    stopped_cleanly: bool,
}

#[derive(Default)]
struct Conversation {
    /// The script state, once known.
    state: Option<String>,
    busy: bool,
    waiting: VecDeque<Turn>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Converse {
    pub room_id: RoomId,
    pub turn: Turn,
}

/// A new definition for a running bot.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reload {
    pub definition: Arc<Definition>,
    pub user: UserRow,
}

/// The bot was deleted.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;

impl Bot {
    pub fn new(
        definition: Arc<Definition>,
        user: UserRow,
        store: Store,
        supervisor: BotSupervisor,
        outbound: Outbound,
    ) -> Bot {
        Bot {
            definition,
            user,
            store,
            supervisor,
            outbound,
            client: None,
            conversations: HashMap::new(),
            webhook_calls: 0,
            stopped_cleanly: false,
        }
    }

    fn fallback(&self) -> Utterance {
        let text = self.definition.document.fallback.clone();
        Utterance {
            body: text.clone(),
            template: crate::protocol::template::Template::Text { text },
        }
    }

    /// Starts the next waiting turn of a conversation, unless one is running.
    fn next_turn(&mut self, room_id: RoomId, ctx: &mut Context<Self>) {
        let Some(conversation) = self.conversations.get_mut(&room_id) else {
            return;
        };
        if conversation.busy {
            return;
        }
        let Some(turn) = conversation.waiting.pop_front() else {
            self.conversations.remove(&room_id);
            return;
        };
        conversation.busy = true;
        let known_state = conversation.state.clone();
        let answer = self.answer(room_id, known_state, turn, ctx);
        let bot = self.definition.id().to_string();
        ctx.spawn(answer.into_actor(self).map(move |outcome, actor, ctx| {
            let Outcome {
                utterances,
                state,
                called_webhook,
            } = outcome;
            if called_webhook {
                actor.webhook_calls = actor.webhook_calls.saturating_sub(1);
            }
            let (store, supervisor, sender) = (
                actor.store.clone(),
                actor.supervisor.clone(),
                actor.user.clone(),
            );
            ctx.spawn(
                async move {
                    if let Some(state) = &state {
                        if let Err(err) = store.set_bot_state(room_id, state).await {
                            log::warn!(
                                "bot {bot} in {room_id}: cannot store the script state: {err}"
                            );
                        }
                    }
                    say(&store, &supervisor, room_id, sender, utterances, &bot).await;
                    state
                }
                .into_actor(actor)
                .map(move |state, actor, ctx| {
                    if let Some(conversation) = actor.conversations.get_mut(&room_id) {
                        conversation.busy = false;
                        if state.is_some() {
                            conversation.state = state;
                        }
                    }
                    actor.next_turn(room_id, ctx);
                }),
            );
        }));
    }

    /// What to say for one turn, and the script state afterwards (scripted bots).
    fn answer(
        &mut self,
        room_id: RoomId,
        known_state: Option<String>,
        turn: Turn,
        _: &mut Context<Self>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome>>> {
        let definition = self.definition.clone();
        let fallback = self.fallback();
        match &definition.behaviour {
            Behaviour::Scripted(_) => {
                let store = self.store.clone();
                Box::pin(async move {
                    let Behaviour::Scripted(script) = &definition.behaviour else {
                        return Outcome::say(vec![fallback], None);
                    };
                    let step = match turn {
                        Turn::Greet { .. } => Some(script.greet()),
                        Turn::Heard { message, .. } => {
                            let state = match known_state {
                                Some(state) => state,
                                None => match store.bot_state(room_id).await {
                                    Ok(state) => state.unwrap_or_else(|| script.start.clone()),
                                    Err(err) => {
                                        log::warn!("bot {} in {room_id}: {err}", definition.id());
                                        return Outcome::say(vec![fallback], None);
                                    }
                                },
                            };
                            let choice = choice_of(&message);
                            let input = match &choice {
                                Some(id) => Input::Choice(id),
                                None => Input::Text(&message.row.body),
                            };
                            match script.step(&state, input) {
                                Some(step) => Some(step),
                                None => return Outcome::say(vec![fallback], Some(state)),
                            }
                        }
                    };
                    match step {
                        Some(step) => Outcome::say(step.say, Some(step.state)),
                        None => Outcome::say(vec![fallback], None),
                    }
                })
            }
            Behaviour::Webhook(hook) => {
                let hook = hook.clone();
                if self.webhook_calls >= hook.max_in_flight {
                    log::warn!(
                        "bot {} in {room_id}: webhook not called: {}",
                        definition.id(),
                        WebhookError::Busy(self.webhook_calls)
                    );
                    return Box::pin(async move { Outcome::say(vec![fallback], None) });
                }
                self.webhook_calls += 1;
                let outbound = &self.outbound;
                let client = self
                    .client
                    .get_or_insert_with(|| outbound.client(hook.timeout))
                    .clone();
                let (user, message) = match turn {
                    Turn::Greet { user } => (user, Value::Null),
                    Turn::Heard { user, message } => {
                        (user, json!(MessageView::from_stored(&message)))
                    }
                };
                let payload = json!({
                    "bot": definition.id(),
                    "room": room_id.to_string(),
                    // The user just opened the room or wrote in it: online.
                    "user": UserView::with_presence(&user, true),
                    "message": message,
                });
                let bot = definition.id().to_string();
                Box::pin(async move {
                    let started = std::time::Instant::now();
                    let answer = webhook::call(&client, &hook, &payload).await;
                    let outcome = if answer.is_ok() { "ok" } else { "failed" };
                    crate::metrics::METRICS
                        .webhook_latency
                        .with_label_values(&[outcome])
                        .observe(started.elapsed().as_secs_f64());
                    let utterances = match answer {
                        Ok(replies) => replies,
                        Err(err) => {
                            log::warn!("bot {bot} in {room_id}: webhook {}: {err}; answering with the fallback", hook.url);
                            vec![fallback]
                        }
                    };
                    Outcome {
                        utterances,
                        state: None,
                        called_webhook: true,
                    }
                })
            }
        }
    }
}

/// The end of one turn: what to say and the script state afterwards.
struct Outcome {
    utterances: Vec<Utterance>,
    state: Option<String>,
    called_webhook: bool,
}

impl Outcome {
    fn say(utterances: Vec<Utterance>, state: Option<String>) -> Outcome {
        Outcome {
            utterances,
            state,
            called_webhook: false,
        }
    }
}

/// The button or reply id of an `action` message.
fn choice_of(message: &StoredMessage) -> Option<String> {
    let action: Value = serde_json::from_str(message.row.action.as_deref()?).ok()?;
    action.get("id")?.as_str().map(str::to_string)
}

/// Posts the bot's messages into the room, in order; each goes through the content rules
/// for `all` first (`actors/screen.rs`): one a rule rejects is left out, and logged.
async fn say(
    store: &Store,
    supervisor: &BotSupervisor,
    room_id: RoomId,
    sender: UserRow,
    utterances: Vec<Utterance>,
    bot: &str,
) {
    let room = match supervisor.get_room.send(GetRoom { id: room_id }).await {
        Ok(room) => room,
        Err(err) => {
            log::warn!("bot {bot} in {room_id}: the hub did not answer: {err}");
            return;
        }
    };
    for utterance in utterances {
        let rules = store.content_rules();
        let screened = match super::screen::screen(&rules, sender.kind, utterance.body) {
            Ok(screened) => screened,
            Err(err) => {
                log::warn!("bot {bot} in {room_id}: not posted: {err}");
                continue;
            }
        };
        let posted = room
            .post
            .send(Post {
                sender: sender.clone(),
                body: screened.body,
                template: Some(utterance.template.to_value()),
                action: None,
            })
            .await;
        match posted {
            Ok(Ok(message)) if !screened.flagged.is_empty() => {
                super::screen::report_flagged(store.clone(), message, screened.flagged).await
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => log::warn!("bot {bot} in {room_id}: could not post: {err}"),
            Err(err) => log::warn!("bot {bot} in {room_id}: room did not answer: {err}"),
        }
    }
}

impl Actor for Bot {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
    }
}

impl Handler<Converse> for Bot {
    type Result = ();

    fn handle(&mut self, converse: Converse, ctx: &mut Context<Self>) {
        let conversation = self.conversations.entry(converse.room_id).or_default();
        if conversation.waiting.len() >= MAX_QUEUED_TURNS {
            log::warn!(
                "bot {} in {}: {MAX_QUEUED_TURNS} turns waiting; dropping the oldest",
                self.definition.id(),
                converse.room_id
            );
            conversation.waiting.pop_front();
        }
        conversation.waiting.push_back(converse.turn);
        self.next_turn(converse.room_id, ctx);
    }
}

impl Handler<Reload> for Bot {
    type Result = ();

    fn handle(&mut self, reload: Reload, _: &mut Context<Self>) {
        self.definition = reload.definition;
        self.user = reload.user;
        // Script states are checked against the new definition at the next turn.
        for conversation in self.conversations.values_mut() {
            conversation.state = None;
        }
    }
}

impl Handler<Retire> for Bot {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Context<Self>) {
        self.stopped_cleanly = true;
        ctx.stop();
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if !self.stopped_cleanly {
            log::error!("bot {}: actor crashed", self.definition.id());
            self.supervisor.crashed.do_send(BotCrashed {
                id: self.definition.id().to_string(),
            });
        }
    }
}

/// Makes the bot panic, to test that a crash is contained (tests only).
#[cfg(test)]
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;

#[cfg(test)]
impl Handler<Crash> for Bot {
    type Result = ();

    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("bot {} crashing on purpose", self.definition.id());
    }
}

#[cfg(test)]
mod tests;
