//! The actor hierarchy: a [`hub::Hub`] supervises rooms and bots and knows every user's
//! connections; a [`room::Room`] owns one room's members and message order; a
//! [`session::Session`] is one WebSocket connection; a [`bot::Bot`] answers in bot rooms.
//! They talk through the messages of [`messages`], a leaf: the hub imports its children,
//! no child imports the hub or another child. A connection's post carries its
//! [`origin::Origin`] down to the room, which answers it through it (another leaf).

pub mod bot;
pub mod hub;
pub mod messages;
pub mod origin;
pub mod outbox;
pub mod people;
pub mod presence;
pub mod room;
pub mod room_list;
pub mod screen;
pub mod session;
#[cfg(test)]
pub mod testing;
