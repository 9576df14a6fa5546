//! The wire protocol of docs/protocol.md: parsing client frames, building server frames, and
//! the objects both carry.

pub mod close;
pub mod command;
pub mod conversation;
pub mod fields;
pub mod frames;
pub mod ids;
pub mod json;
pub mod post_fields;
pub mod room_command;
pub mod template;
pub mod views;

pub use close::CloseCode;
pub use command::{ClientFrame, Command};
pub use frames::{Event, Frame, ReplyId};
pub use room_command::RoomCommand;
