//! The hub's bots: one actor per bot definition, installed at start and by the admin API,
//! handed the turns of bot rooms, started again with its definition when it crashed.

use std::sync::Arc;

use actix::prelude::*;

use super::Hub;
use crate::actors::bot::{Bot, Converse, Reload, Retire};
use crate::actors::messages::{BotCrashed, DirectoryScope, FindBot, GetDirectoryScope, ToBot};
use crate::bots::Definition;
use crate::db::models::UserRow;

pub(super) struct BotEntry {
    definition: Arc<Definition>,
    user: UserRow,
    addr: Addr<Bot>,
}

impl Hub {
    fn start_bot(&mut self, definition: Arc<Definition>, user: UserRow, hub: Addr<Hub>) {
        let arbiter = self.next_arbiter();
        let (store, started_definition, started_user) =
            (self.store.clone(), definition.clone(), user.clone());
        let supervisor = Hub::bot_supervisor(hub);
        let outbound = self.settings.outbound.clone();
        let addr = Bot::start_in_arbiter(&arbiter, move |_| {
            Bot::new(
                started_definition,
                started_user,
                store,
                supervisor,
                outbound,
            )
        });
        self.bots.insert(
            definition.id().to_string(),
            BotEntry {
                definition,
                user,
                addr,
            },
        );
    }
}

impl Hub {
    /// Starts a bot, or hands the running one its new definition.
    pub(super) fn install_bot(
        &mut self,
        definition: Arc<Definition>,
        user: UserRow,
        ctx: &mut Context<Self>,
    ) {
        match self.bots.get_mut(definition.id()) {
            Some(entry) if entry.addr.connected() => {
                entry.addr.do_send(Reload {
                    definition: definition.clone(),
                    user: user.clone(),
                });
                entry.definition = definition;
                entry.user = user;
            }
            _ => self.start_bot(definition, user, ctx.address()),
        }
    }

    /// Whether `definition` (posting as `user`) is not what bot `id` runs here now.
    pub(super) fn bot_differs(&self, id: &str, definition: &Definition, user: &UserRow) -> bool {
        self.bots.get(id).is_none_or(|entry| {
            !entry.addr.connected()
                || entry.definition.document != definition.document
                || entry.user != *user
        })
    }

    /// The ids of the bots running here.
    pub(super) fn bot_ids(&self) -> Vec<String> {
        self.bots.keys().cloned().collect()
    }

    /// Stops every bot on purpose (at shutdown), so that none reports a crash.
    pub(super) fn retire_bots(&mut self) {
        for entry in self.bots.values() {
            entry.addr.do_send(Retire);
        }
    }

    /// Stops a bot; answers whether there was one.
    pub(super) fn remove_bot(&mut self, id: &str) -> bool {
        match self.bots.remove(id) {
            Some(entry) => {
                entry.addr.do_send(Retire);
                true
            }
            None => false,
        }
    }
}

/// Starts a bot, or hands a running one its new definition. `share`: the admin API
/// changed it, so the other nodes of a cluster read it from the store too.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InstallBot {
    pub definition: Arc<Definition>,
    pub user: UserRow,
    pub share: bool,
}

impl Handler<InstallBot> for Hub {
    type Result = ();

    fn handle(&mut self, install: InstallBot, ctx: &mut Context<Self>) {
        if install.share {
            self.share_bot_change(install.definition.id());
        }
        self.install_bot(install.definition, install.user, ctx);
    }
}

/// Stops a bot (on every node of a cluster); answers whether one ran here.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct RemoveBot {
    pub id: String,
}

impl Handler<RemoveBot> for Hub {
    type Result = bool;

    fn handle(&mut self, remove: RemoveBot, _: &mut Context<Self>) -> bool {
        self.share_bot_change(&remove.id);
        self.remove_bot(&remove.id)
    }
}

impl Handler<FindBot> for Hub {
    type Result = MessageResult<FindBot>;

    fn handle(&mut self, find: FindBot, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.bots.get(&find.id).map(|entry| entry.user.clone()))
    }
}

impl Handler<GetDirectoryScope> for Hub {
    type Result = MessageResult<GetDirectoryScope>;

    fn handle(&mut self, _: GetDirectoryScope, _: &mut Context<Self>) -> Self::Result {
        MessageResult(DirectoryScope {
            bot_ids: self.bots.values().map(|entry| entry.user.id).collect(),
            presence: self.presence.clone(),
        })
    }
}

impl Handler<ToBot> for Hub {
    type Result = ();

    fn handle(&mut self, to_bot: ToBot, _: &mut Context<Self>) {
        match self.bots.get(&to_bot.bot) {
            Some(entry) => entry.addr.do_send(Converse {
                room_id: to_bot.room_id,
                turn: to_bot.turn,
            }),
            None => log::info!(
                "{}: bot {} is gone; nobody answers",
                to_bot.room_id,
                to_bot.bot
            ),
        }
    }
}

/// The running actor of a bot (tests only).
#[cfg(test)]
#[derive(Message)]
#[rtype(result = "Option<Addr<Bot>>")]
pub struct BotAddr {
    pub id: String,
}

#[cfg(test)]
impl Handler<BotAddr> for Hub {
    type Result = Option<Addr<Bot>>;

    fn handle(&mut self, find: BotAddr, _: &mut Context<Self>) -> Option<Addr<Bot>> {
        self.bots.get(&find.id).map(|entry| entry.addr.clone())
    }
}

impl Handler<BotCrashed> for Hub {
    type Result = ();

    fn handle(&mut self, crashed: BotCrashed, ctx: &mut Context<Self>) {
        if self.shutting_down {
            log::info!("bot {} went down during shutdown", crashed.id);
            return;
        }
        if let Some(entry) = self.bots.remove(&crashed.id) {
            log::warn!("restarting bot {}", crashed.id);
            self.start_bot(entry.definition, entry.user, ctx.address());
        }
    }
}
