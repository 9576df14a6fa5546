//! Palaver: a real-time chat server on the actor model.
//!
//! # Layout
//!
//! - [`model`]: the domain's ids, positions and kinds, and the rules of names; a leaf every
//!   other part uses.
//! - [`protocol`]: the wire (docs/protocol.md): client frames parsed once into a
//!   [`protocol::Command`] (a room's commands are one [`protocol::RoomCommand`]), server
//!   frames and the objects both carry.
//! - [`actors`]: the hub (supervisor), one session per connection, one room per active room,
//!   one bot actor per bot; they talk only through [`actors::messages`].
//! - [`posting`]: a room's posting pipeline as a pure state machine.
//! - [`db`]: the store: schema, rows, queries and the group-commit writer.
//! - [`cluster`]: several nodes (PostgreSQL and the Redis bus).
//! - [`http`], [`websocket`]: the HTTP face (upgrade, admin API, files, health) and the
//!   WebSocket read side; [`cli`] and [`server`] start it all.
//! - [`bots`], [`notify`], [`push`], [`files`], [`limits`], [`safety`]: bots as data, who is notified,
//!   push delivery, uploads, per-user limits, content rules.
//!
//! The path of a `send`: `websocket` reads the frame; `protocol::command::parse` makes it
//! `Command::Room { room, op: RoomCommand::Send {…} }`; the session
//! (`actors/session/dispatch.rs`) gives it an [`actors::origin::Origin`] and hands it to
//! the room as a [`actors::messages::ToRoom`]; the room (`actors/room/requests.rs`, then
//! `posting.rs`) pushes it into its [`posting::Pipeline`]; the store's writer
//! (`db/writer.rs`) commits the batch and gives it its `seq`; the room answers through the
//! origin and delivers the `message` event to every joined connection's outbox.

pub mod actors;
pub mod bots;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod conversation;
pub mod db;
pub mod error;
pub mod files;
pub mod http;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod outbound;
pub mod posting;
pub mod protocol;
pub mod push;
pub mod safety;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod websocket;
